"""Solver selection, progress while solving, and an honest status and gap. The one place that knows
which solvers exist.

* ``highs`` (default): HiGHS through ``highspy``. It proved every case of the benchmark grid
  (``docs/benchmarks.md``). It first solves the LP relaxation and rounds it into a whole plan
  (:func:`planner.optimize.placement.lp_rounding_start`); on large facilities that plan is often within
  the gap tolerance of the LP bound, and then no branch and bound runs at all. Otherwise the MIP starts
  from it. HiGHS 1.16 was seen to report the optimum's value while handing back the starting solution
  (``tests/test_properties.py::test_highs_warm_start_case``): the solution's cost is recomputed, and on a
  mismatch the MIP runs again without the start. Its own time limit is soft, so a callback interrupts
  it at the limit; its banner is kept off standard output so ``--json`` output stays clean.
* ``cbc``: the CBC binary bundled with PuLP, run as a subprocess; its log is tailed for progress and
  for the best bound (CBC reports the bound only in its log).

Progress is reported only when the best plan or the bound changes (as a person reads it: the cost
to the dollar, the gap to 0.001 %), at most every half second.

The gap is computed here from the objective and the best bound, on the solver's objective: the
part of the annual cost that the placement controls (the constant energy of a fixed set of nodes is
outside it).
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import threading
import time
import warnings
from typing import Any
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pulp

from planner.optimize.milp import Model
from planner.vocabulary import DEFAULT_GAP, DEFAULT_SOLVER, SOLVERS

Progress = Callable[[str], None]


class _Reporter:
    """Says a progress line only when what it shows has changed, and not more than twice a second."""

    def __init__(self, progress: Progress, solver: str, maximize: bool, started: float):
        self.progress, self.solver, self.maximize, self.started = progress, solver, maximize, started
        self.shown: tuple | None = None
        self.last = -1.0

    def __call__(self, best: float | None, bound: float | None) -> None:
        now = time.monotonic() - self.started
        if now < 0.5 or now - self.last < 0.5:
            return
        line, key = _progress_line(self.solver, now, best, bound, self.maximize)
        if key != self.shown:
            self.shown, self.last = key, now
            self.progress(line)


@dataclass
class SolveOutcome:
    """What a solver run gave."""

    solver: str
    status: str
    """``optimal`` (finished within the gap tolerance), ``feasible`` (stopped by the time limit with a
    solution), ``infeasible``, or ``no_solution`` (stopped before finding one)."""
    objective: float | None
    bound: float | None
    seconds: float
    method: str = "branch and bound"
    """How the plan was found: ``LP rounded and repaired`` or ``MIP on the LP's support`` (either proven
    within the gap tolerance of the LP bound, so no branch and bound ran), ``branch and bound``, or
    (set by the optimizer) first fit, when the solver found no plan in time."""

    @property
    def has_solution(self) -> bool:
        return self.status in ("optimal", "feasible")


def relative_gap(objective: float | None, bound: float | None, maximize: bool = False) -> float | None:
    """``|objective - bound| / max(|objective|, 1)``, 0 when the bound meets the objective."""
    if objective is None or bound is None:
        return None
    diff = (bound - objective) if maximize else (objective - bound)
    return max(0.0, diff) / max(abs(objective), 1.0)


def available(solver: str) -> bool:
    if solver == "cbc":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return pulp.PULP_CBC_CMD(msg=False).available()
    if solver == "highs":
        try:
            import highspy  # noqa: F401
        except ImportError:
            return False
        return True
    return False


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null (HiGHS prints a banner there even when told not to log)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


# --- CBC ------------------------------------------------------------------------------------------

_CBC_PROGRESS = re.compile(
    r"Cbc0010I After (\d+) nodes, \d+ on tree, ([-\d.e+]+) best solution, best possible ([-\d.e+]+) \(([\d.]+) seconds\)")
_CBC_FOUND = re.compile(r"Cbc00(?:04|12)I Integer solution of ([-\d.e+]+) found.*\(([\d.]+) seconds\)")


def _tail(path: str, stop: threading.Event, report: _Reporter) -> None:
    """Follow CBC's log for its best solution and bound."""
    best = bound = None
    pos = 0
    while not stop.wait(0.25):
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                fh.seek(pos)
                chunk = fh.read()
                pos = fh.tell()
        except OSError:
            continue
        for line in chunk.splitlines():
            if m := _CBC_PROGRESS.search(line):
                best, bound = float(m.group(2)), float(m.group(3))
            elif m := _CBC_FOUND.search(line):
                best = float(m.group(1))
        report(best, bound)


def _progress_line(solver: str, seconds: float, best: float | None, bound: float | None,
                   maximize: bool) -> tuple[str, tuple]:
    """The line to show, and what it shows (to tell whether anything changed)."""
    if maximize:
        best, bound = (None if best is None else abs(best)), (None if bound is None else abs(bound))
    best = best if best is not None and abs(best) < 1e29 else None
    bound = bound if bound is not None and abs(bound) < 1e29 else None
    parts = [f"{solver}: {seconds:5.1f} s"]
    if best is not None:
        parts.append(f"best {best:,.0f}" + (" nodes" if maximize else " USD/yr"))
    else:
        parts.append("no plan yet")
    if bound is not None:
        parts.append(f"bound {bound:,.0f}")
    gap = relative_gap(best, bound, maximize)
    if gap is not None:
        parts.append(f"gap {gap:.3%}")
    key = (None if best is None else round(best), None if bound is None else round(bound),
           None if gap is None else round(gap, 5))
    return ", ".join(parts), key


def _parse_cbc_log(text: str) -> tuple[str | None, float | None, float | None]:
    result = re.search(r"^Result - (.*)$", text, re.M)
    obj = re.search(r"^Objective value:\s+([-\d.e+]+)", text, re.M)
    low = re.search(r"^Lower bound:\s+([-\d.e+]+)", text, re.M)
    return (result.group(1).strip() if result else None,
            float(obj.group(1)) if obj else None,
            float(low.group(1)) if low else None)


def _solve_cbc(m: Model, time_limit: float | None, gap_rel: float, progress: Progress | None,
               warm: bool) -> SolveOutcome:
    fd, log = tempfile.mkstemp(prefix="rackplan-cbc-", suffix=".log")
    os.close(fd)
    started = time.monotonic()
    stop = threading.Event()
    watcher = None
    if progress is not None:
        report = _Reporter(progress, "cbc", m.maximize_count, started)
        watcher = threading.Thread(target=_tail, args=(log, stop, report), daemon=True)
        watcher.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the bundled CBC is deliberate (pulp < 4)
            cmd = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=gap_rel, warmStart=warm,
                                    logPath=log, threads=1)
            m.prob.solve(cmd)
        text = open(log, encoding="utf-8", errors="replace").read()
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
        os.unlink(log)
    seconds = time.monotonic() - started
    result, _obj, lower = _parse_cbc_log(text)
    status_pulp = pulp.LpStatus[m.prob.status]
    sol = m.prob.sol_status
    if status_pulp == "Infeasible" or (result and "infeasible" in result.lower()):
        return SolveOutcome("cbc", "infeasible", None, None, seconds)
    if sol not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return SolveOutcome("cbc", "no_solution", None, None, seconds)
    objective = float(pulp.value(m.prob.objective) or 0.0)
    finished = bool(result and result.startswith("Optimal"))
    if lower is not None:
        bound = -lower if m.maximize_count and lower < 0 < objective else lower
    elif finished:
        bound = objective
    else:
        bound = None
    return SolveOutcome("cbc", "optimal" if finished else "feasible", objective, bound, seconds)


# --- HiGHS ----------------------------------------------------------------------------------------

StartMaker = Callable[[], "tuple[dict[tuple[int, int], int], Any] | None"]
"""Called with the LP relaxation's values in the model's variables; returns a whole plan as model
values (``z``, ``w``) to start from, or None."""


def _objective(prob: pulp.LpProblem) -> float:
    return float(sum(c * (v.varValue or 0.0) for v, c in prob.objective.items()) + (prob.objective.constant or 0.0))


def support_mip(h: Any, m: Any, lp_values: Any, seconds: float,
                gap_rel: float) -> tuple[float, list[float]] | None:
    """The MIP restricted to the LP's support, in a copy of the HiGHS model ``h``: every rack-pattern and
    node variable (``m.z``, ``m.w``) the LP relaxation (``lp_values``, by column) left at 0 held at 0.
    With the rest of the model fixed that way, HiGHS's presolve leaves a small problem, which it
    solves in a fraction of the time of the whole MIP, here for at most ``seconds``. The single-plan
    solve gives it a tenth of the time left (:func:`_solve_highs`); the waves model, whose start maker
    calls it itself (``support_in_start``), a quarter of its limit. Returns (objective, column values) or
    None when it finds no plan."""
    import highspy

    if lp_values is None:
        return None
    sub = highspy.Highs()
    sub.setOptionValue("output_flag", False)
    sub.passModel(h.getModel())
    for var in list(m.z.values()) + list(m.w.values()):
        if lp_values[var.index] < 1e-6 and not (var.lowBound or 0.0) > 0:
            sub.changeColBounds(var.index, 0.0, 0.0)
    sub.setOptionValue("threads", 1)
    sub.setOptionValue("mip_rel_gap", float(gap_rel))
    sub.setOptionValue("time_limit", float(seconds))
    with quiet_stdout():
        sub.run()
    if sub.getInfo().primal_solution_status != 2:
        return None
    col = [float(round(x)) if abs(x - round(x)) < 1e-6 else float(x) for x in sub.getSolution().col_value]
    cost = sum(c * col[v.index] for v, c in m.prob.objective.items()) + (m.prob.objective.constant or 0.0)
    return float(cost), col


PRESOLVED_FIRST_MIN_COLUMNS = 200
"""A model with counts and fewer columns than this goes straight to branch and bound without presolve.
Presolve has little to remove from a model that small, and on ``ai-building.yaml`` (70-132 columns for
most pairs) the presolved root node alone took longer than the whole search without presolve; the
campus's models (216-506 columns) are proven fastest presolved (docs/formulation.md, section 7a)."""
PRESOLVED_FIRST_NODES = 2
"""With counts per node type (``Model.n``), HiGHS's branch and bound first runs presolved for at most
this many nodes (in effect its root node, where presolved branch and bound proves most plans), then,
if it has not proven the plan, starts again without presolve from its best plan: presolve substitutes
the counts out, and branching on them proves the plans where the mix decides the last few nodes
(docs/formulation.md, "Counts per node type"). A count of nodes, not seconds, so that the plan does not
depend on the machine's speed."""
MAX_NODES = 2_147_483_647
"""HiGHS's default ``mip_max_nodes`` (no limit)."""


def _solve_highs(m: Model, time_limit: float | None, gap_rel: float, progress: Progress | None,
                 start_from_lp: StartMaker | None = None) -> SolveOutcome:
    """HiGHS, in up to four steps on one model: (1) with ``start_from_lp``, the LP relaxation, a whole
    plan rounded from it (see :func:`planner.optimize.placement.lp_rounding_start`), and, when that plan
    is already within ``gap_rel`` of the LP bound, nothing more; (2) else the MIP restricted to the LP's
    support (:func:`support_mip`), and, when its plan is within ``gap_rel`` of the LP bound, nothing
    more; (3) the MIP, warm-started from the better of those plans; (4) if HiGHS hands back a solution
    whose cost is not the objective it reports (seen with HiGHS 1.16 and a warm start), the MIP again
    without the start."""
    import highspy

    # HiGHS keeps one thread scheduler per process: if another solve here started it with more threads
    # (a plain pulp.HiGHS, say), every run with threads=1 fails at once ("the scheduler has already
    # been initialized"). Starting it again costs nothing with one thread.
    highspy.Highs.resetGlobalScheduler(True)
    started = time.monotonic()
    maximize = m.maximize_count
    report = _Reporter(progress, "highs", maximize, started) if progress is not None else None
    state: dict[str, Any] = {"lp_bound": None, "rounded": False, "retried": False, "support": False}

    def interrupt(event):
        now = time.monotonic() - started
        stop = time_limit is not None and now > time_limit
        event.interrupt(stop)  # said every time: HiGHS keeps the flag from one run to the next
        if report is not None:
            out = event.data_out
            sign = -1.0 if maximize else 1.0
            report(sign * out.mip_primal_bound, sign * out.mip_dual_bound)

    class _HiGHS(pulp.HiGHS):  # type: ignore[misc,valid-type]
        def createAndConfigureSolver(self, lp):  # noqa: N802 (PuLP's name)
            with quiet_stdout():
                super().createAndConfigureSolver(lp)

        def callSolver(self, lp):  # noqa: N802
            h = lp.solverModel
            h.cbMipInterrupt += interrupt
            variables = lp.variables()
            start = None
            if start_from_lp is not None:
                h.setOptionValue("solve_relaxation", True)
                with quiet_stdout():
                    h.run()
                h.setOptionValue("solve_relaxation", False)
                lp_values = None
                if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                    values = lp_values = h.getSolution().col_value
                    for v in variables:
                        v.varValue = values[v.index]
                    state["lp_bound"] = h.getInfo().objective_function_value
                    start = start_from_lp()
                if start is not None:
                    m.set_start(*start)  # sets every z, r and w (varValue) to the plan's
                    cost = _objective(lp)
                    if relative_gap(cost, state["lp_bound"]) is not None and \
                            relative_gap(cost, state["lp_bound"]) <= gap_rel:
                        state["rounded"] = True  # within the tolerance already: no branch and bound
                        return
                    left = 100.0 if time_limit is None else max(1.0, time_limit - (time.monotonic() - started))
                    support = None if getattr(m, "support_in_start", False) else \
                        support_mip(h, m, lp_values, left / 10, gap_rel)
                    if support is not None and support[0] < cost:
                        for v in variables:
                            v.varValue = support[1][v.index]
                        found = relative_gap(support[0], state["lp_bound"])
                        if found is not None and found <= gap_rel:
                            state["rounded"] = state["support"] = True
                            return
                    sol = highspy.HighsSolution()
                    sol.col_value = [float(v.varValue or 0.0) for v in variables]
                    sol.value_valid = True
                    h.setSolution(sol)
            counts = bool(getattr(m, "n", None))  # (the waves model has none)
            presolved_first = counts and len(variables) >= PRESOLVED_FIRST_MIN_COLUMNS
            if presolved_first:  # presolved first, for a few nodes: most plans are proven there
                h.setOptionValue("mip_max_nodes", PRESOLVED_FIRST_NODES)
            elif counts:  # small: straight to the counts (see the constant)
                h.setOptionValue("presolve", "off")
            with quiet_stdout():
                h.run()
            if presolved_first:
                h.setOptionValue("mip_max_nodes", MAX_NODES)
            if presolved_first and h.getModelStatus() == highspy.HighsModelStatus.kSolutionLimit:
                # HiGHS's presolve substitutes each count n[t] out (a column in one equation), and with it
                # the branching on whole counts per type that proves the plans presolved branch and bound
                # does not (docs/formulation.md, "Counts per node type"): on, from its best plan, with the
                # model as built
                best = h.getSolution() if h.getInfo().primal_solution_status == 2 else None
                h.setOptionValue("presolve", "off")
                if best is not None:
                    h.setSolution(best)
                with quiet_stdout():
                    h.run()
            if start is not None and h.getInfo().primal_solution_status == 2:
                got = h.getSolution().col_value
                actual = sum(c * got[v.index] for v, c in lp.objective.items()) + (lp.objective.constant or 0.0)
                said = h.getInfo().objective_function_value
                if abs(actual - said) > 1e-6 * max(1.0, abs(said)):
                    state["retried"] = True  # HiGHS 1.16 returned the start with the optimum's value
                    h.clearSolver()
                    with quiet_stdout():
                        h.run()

        def findSolutionValues(self, lp):  # noqa: N802
            if state["rounded"]:  # the variables already hold the rounded plan
                return pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible
            return super().findSolutionValues(lp)

    solver = _HiGHS(msg=False, timeLimit=time_limit, gapRel=gap_rel, threads=1)
    with quiet_stdout():
        m.prob.solve(solver)
    seconds = time.monotonic() - started
    if state["rounded"]:
        return SolveOutcome("highs", "optimal", _objective(m.prob), float(state["lp_bound"]), seconds,
                            "MIP on the LP's support" if state["support"] else "LP rounded and repaired")
    h = m.prob.solverModel
    ms = h.getModelStatus()
    if ms in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return SolveOutcome("highs", "infeasible", None, None, seconds)
    info = h.getInfo()
    if m.prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible) or info.primal_solution_status != 2:
        return SolveOutcome("highs", "no_solution", None, None, seconds)
    objective = float(pulp.value(m.prob.objective) or 0.0)
    bound = info.mip_dual_bound
    bound = -bound if maximize else bound
    if state["lp_bound"] is not None and not maximize:  # stopped before the MIP's own root bound
        bound = max(bound, float(state["lp_bound"])) if math.isfinite(bound) else float(state["lp_bound"])
    finished = ms == highspy.HighsModelStatus.kOptimal
    return SolveOutcome("highs", "optimal" if finished else "feasible", objective, float(bound), seconds)


def solve(m: Model, solver: str = DEFAULT_SOLVER, time_limit: float | None = None, gap_rel: float = DEFAULT_GAP,
          progress: Progress | None = None, warm: bool = True, start_from_lp: StartMaker | None = None) -> SolveOutcome:
    """Solve a built model; ``time_limit`` [s] bounds the solver's wall time."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(SOLVERS)}")
    if not m.prob.variables():
        objective = 0.0
        return SolveOutcome(solver, "optimal", objective, objective, 0.0)
    if solver == "cbc":
        return _solve_cbc(m, time_limit, gap_rel, progress, warm)
    return _solve_highs(m, time_limit, gap_rel, progress, start_from_lp)
