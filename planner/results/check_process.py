"""The independent check of a large plan, run in a second process while this one writes the report.

The checker (:func:`planner.results.checker.check_plan`) is plain Python over every used rack and every
single failure: on a 28,800-rack campus it takes about as long as building the report and the CSV, and
neither needs its result until the very end. :class:`CheckInBackground` forks a child that runs the
checker on the same plan (the child's copy of memory is the parent's at the moment of the fork, so
nothing the parent does afterwards can change what is checked) and sends its report back through a
pipe; :meth:`CheckInBackground.result` waits for it. Nothing is shown as checked before ``result``
returns, and the caller writes no file before it (``planner.api.plan_and_write``).

Where ``os.fork`` is missing (Windows), the plan is small (forking costs more than it saves), or the
child sends nothing back (it was killed, or the checker raised), the check runs here instead, so a
checker error surfaces in this process with its own traceback, exactly as without the child.
"""

from __future__ import annotations

import os
import pickle
import signal
from typing import Any

from planner.results.checker import CheckReport, check_plan

FORK_MIN_RACKS = 2000
"""Plans with fewer used racks are checked in this process: the check takes well under 0.1 s there."""


class CheckInBackground:
    """``check_plan(facility, plan, catalogue)``, started now, its :class:`CheckReport` from ``result()``."""

    def __init__(self, facility: Any, plan: dict[str, Any], catalogue: Any, *, min_racks: int | None = None):
        self._args = (facility, plan, catalogue)
        self._report: CheckReport | None = None
        self._pid: int | None = None
        self._fd: int | None = None
        least = FORK_MIN_RACKS if min_racks is None else min_racks
        self.forked = hasattr(os, "fork") and len(plan.get("racks") or []) >= least
        if self.forked:
            self._start()

    def _start(self) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: check, send the pickled report, and leave without running any cleanup
            try:
                os.close(read)
                data = pickle.dumps(check_plan(*self._args), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
            finally:
                os._exit(0)
        os.close(write)
        self._pid, self._fd = pid, read

    def close(self) -> None:
        """Stop a child whose report is no longer wanted (the caller failed before asking for it)."""
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
                os.waitpid(self._pid, 0)
            except OSError:  # already gone
                pass
            if self._fd is not None:
                os.close(self._fd)
            self._pid = self._fd = None

    def result(self) -> CheckReport:
        """The checker's report (waits for the child; checks here if the child sent nothing)."""
        if self._report is not None:
            return self._report
        if self._pid is not None and self._fd is not None:
            with os.fdopen(self._fd, "rb") as pipe:
                data = pipe.read()
            os.waitpid(self._pid, 0)
            self._pid = self._fd = None
            try:
                report = pickle.loads(data) if data else None
            except Exception:  # noqa: BLE001 - a truncated message: check here instead
                report = None
            self._report = report if isinstance(report, CheckReport) else None
        if self._report is None:
            self._report = check_plan(*self._args)
        return self._report
