"""Where a sweep's tasks run: a local process pool (default), a Ray cluster, or this process.

Every engine runs the same task function (:func:`run_task`: one scenario, every candidate) on the same
context (the facility, the priced catalogue, the factors), sent to each worker once, and yields each
task's rows as soon as the task is done, in whatever order tasks finish; the sweep writes them to its
results file at once and sorts them only when it summarizes.

* ``local``: :class:`concurrent.futures.ProcessPoolExecutor` with ``--workers`` processes (default: the
  machine's cores), started by the ``forkserver`` method so no worker inherits a solver's threads.
  Scenarios go to a worker in chunks (a round trip costs about a solve on a busy machine), one chunk
  per worker at a time. Each solve uses one solver thread, and a temporary directory of its own where
  the solver writes files (CBC). A solve gets ``--task-timeout`` seconds: the worker stops one that
  runs over with an alarm and reports it as ``timeout``; a worker that does not come back within a
  grace period after its chunk's time is killed, the pool restarted, the chunk's scenarios sent again
  one by one, and the one that hangs again reported as ``timeout``.
* ``ray``: the same on Ray (``pip install 'rackplan[ray]'``): a local Ray with ``--workers`` CPUs, or
  an existing cluster at ``--address``. A task past its deadline is cancelled with ``force=True``,
  which kills its worker process.
* ``serial``: every task in this process, one after the other (for debugging; no hard timeout).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections import deque
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError
from planner.studies.scenarios import Context, enable_alarms, evaluate

ENGINES = ("local", "ray", "serial")
GRACE_S = 10.0
"""Seconds a worker gets past a task's own time limit before it is killed."""


@dataclass(frozen=True)
class Task:
    """One scenario: its values, solved for each candidate."""

    key: str
    """``S17`` for scenario 17 of a sweep, ``T:site:load_factor:low`` for a tornado point."""
    values: dict[str, float]
    candidates: tuple[str, ...]


def run_task(ctx: Context, task: Task) -> list[dict[str, Any]]:
    """Solve every candidate of one scenario; one row per candidate."""
    return [{"task": task.key, "candidate": c, **evaluate(ctx, c, task.values)} for c in task.candidates]


def timeout_rows(task: Task, seconds: float, why: str) -> list[dict[str, Any]]:
    return [{"task": task.key, "candidate": c, "status": "timeout", "reason": why, "reason_kind": "task timeout",
             "seconds": round(seconds, 3)} for c in task.candidates]


def error_rows(task: Task, why: str) -> list[dict[str, Any]]:
    return [{"task": task.key, "candidate": c, "status": "error", "reason": why[:300], "reason_kind": "internal error"}
            for c in task.candidates]


class Engine:
    name = "?"
    workers = 1

    def run(self, ctx: Context, tasks: Iterable[Task], fingerprint: str = "") -> Iterator[tuple[Task, list[dict[str, Any]]]]:
        """Run every task; yield each with its rows as it finishes. ``fingerprint`` names the context
        (workers that already hold it do not fetch it again)."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name}, {self.workers} worker{'s' if self.workers != 1 else ''}"


class SerialEngine(Engine):
    name = "serial"

    def run(self, ctx: Context, tasks: Iterable[Task], fingerprint: str = "") -> Iterator[tuple[Task, list[dict[str, Any]]]]:
        for task in tasks:
            yield task, run_task(ctx, task)


# --- local process pool ------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}
MAX_CHUNK = 16
"""Most scenarios sent to a worker at once: a round trip to a worker costs about as much as a solve on a
busy machine, so scenarios go in chunks (about a quarter of each worker's share, at most this many)."""


def _init_worker(ctx: Context) -> None:
    _WORKER["ctx"] = ctx
    enable_alarms()


def _pool_chunk(chunk: list[Task]) -> list[list[dict[str, Any]]]:
    return [run_task(_WORKER["ctx"], task) for task in chunk]


class _Chunks:
    """Tasks handed out in chunks; a chunk that hung is split so the one task that hangs is found."""

    def __init__(self, tasks: Iterable[Task], workers: int):
        self.todo = deque(tasks)
        self.alone: deque[Task] = deque()
        self.workers = workers

    def __bool__(self) -> bool:
        return bool(self.todo or self.alone)

    def take(self) -> list[Task]:
        if self.alone:
            return [self.alone.popleft()]
        size = max(1, min(MAX_CHUNK, len(self.todo) // (self.workers * 4)))
        return [self.todo.popleft() for _ in range(min(size, len(self.todo)))]

    def back(self, chunk: list[Task], alone: bool = False) -> None:
        (self.alone if alone else self.todo).extendleft(reversed(chunk))


def _limit(ctx: Context, chunk: list[Task]) -> float:
    return sum(ctx.task_timeout * len(t.candidates) for t in chunk) + GRACE_S


class LocalPool(Engine):
    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)

    def _executor(self, ctx: Context) -> cf.ProcessPoolExecutor:
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        mp = multiprocessing.get_context(method)
        if method == "forkserver":
            mp.set_forkserver_preload(["planner.studies.engines"])
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=mp, initializer=_init_worker,
                                      initargs=(ctx,))

    def run(self, ctx: Context, tasks: Iterable[Task], fingerprint: str = "") -> Iterator[tuple[Task, list[dict[str, Any]]]]:
        chunks = _Chunks(tasks, self.workers)
        pool = self._executor(ctx)
        running: dict[cf.Future, tuple[list[Task], float]] = {}
        died: set[str] = set()
        try:
            while chunks or running:
                while chunks and len(running) < self.workers:  # one chunk per worker: it starts at once
                    chunk = chunks.take()
                    fut = pool.submit(_pool_chunk, chunk)  # may start a worker: the clock starts after
                    running[fut] = (chunk, time.monotonic() + _limit(ctx, chunk))
                nearest = min(deadline for _, deadline in running.values())
                done, _ = cf.wait(list(running), timeout=max(0.0, nearest - time.monotonic()),
                                  return_when=cf.FIRST_COMPLETED)
                broken = False
                for fut in done:
                    chunk, _ = running.pop(fut)
                    try:
                        for task, rows in zip(chunk, fut.result()):
                            yield task, rows
                    except cf.process.BrokenProcessPool:
                        broken = True
                        if len(chunk) == 1 and chunk[0].key in died:
                            yield chunk[0], error_rows(chunk[0], "its worker process died twice")
                        else:
                            died.update(t.key for t in chunk)
                            chunks.back(chunk, alone=True)
                    except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be sent back
                        for task in chunk:
                            yield task, error_rows(task, f"{type(exc).__name__}: {exc}")
                now = time.monotonic()
                late = [f for f, (_, deadline) in running.items() if deadline <= now and not f.done()]
                if late or broken:
                    for fut in late:
                        chunk, _ = running.pop(fut)
                        if len(chunk) > 1:  # which of them hangs? each goes again on its own
                            chunks.back(chunk, alone=True)
                        else:
                            yield chunk[0], timeout_rows(chunk[0], _limit(ctx, chunk),
                                                         "its worker did not come back and was killed")
                    # the pool cannot stop one task: kill its workers, take back the others' tasks, start anew
                    for fut, (chunk, _) in list(running.items()):
                        if not fut.done():
                            chunks.back(chunk)
                            running.pop(fut)
                    _kill(pool)
                    pool = self._executor(ctx)
        finally:
            if running:
                _kill(pool)
            else:
                pool.shutdown(wait=True, cancel_futures=True)


def _kill(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool whose tasks will not be waited for (a hung solve, an interrupted sweep)."""
    procs = list(getattr(pool, "_processes", {}).values())  # the executor has no public way to kill
    for p in procs:
        p.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.join(timeout=5)


# --- Ray ---------------------------------------------------------------------------------------------

_RAY_CTX: dict[str, Context] = {}


def _ray_chunk(fingerprint: str, boxed: list[Any], chunk: list[Task]) -> list[list[dict[str, Any]]]:
    """A Ray task: a chunk of scenarios. The context is fetched once per worker process (``boxed``
    keeps Ray from fetching it for every task)."""
    import ray

    ctx = _RAY_CTX.get(fingerprint)
    if ctx is None:
        _RAY_CTX.clear()
        ctx = _RAY_CTX[fingerprint] = ray.get(boxed[0])
    enable_alarms()
    return [run_task(ctx, task) for task in chunk]


class RayEngine(Engine):
    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InputError.one("<command line>", "--engine", "Ray is not installed: pip install 'rackplan[ray]'") from None
        self.address = address
        self.requested = workers
        self.workers = workers or os.cpu_count() or 1

    def describe(self) -> str:
        where = f"cluster at {self.address}" if self.address else "local"
        return f"ray ({where}), {self.workers} worker{'s' if self.workers != 1 else ''}"

    def run(self, ctx: Context, tasks: Iterable[Task], fingerprint: str = "") -> Iterator[tuple[Task, list[dict[str, Any]]]]:
        import ray

        started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR",
                                      "configure_logging": False}
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                ray.init(num_cpus=self.workers, **kwargs)
            started = True
        try:
            if self.address and not self.requested:
                self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
            remote = ray.remote(num_cpus=1, max_retries=0)(_ray_chunk)
            boxed = [ray.put(ctx)]
            fp = fingerprint or str(id(ctx))
            chunks = _Chunks(tasks, self.workers)
            running: dict[Any, tuple[list[Task], float]] = {}
            while chunks or running:
                while chunks and len(running) < self.workers:
                    chunk = chunks.take()
                    ref = remote.remote(fp, boxed, chunk)
                    running[ref] = (chunk, time.monotonic() + _limit(ctx, chunk) + 30.0)  # + a worker's start
                nearest = min(deadline for _, deadline in running.values())
                done, _ = ray.wait(list(running), num_returns=1, timeout=max(0.0, nearest - time.monotonic()))
                for ref in done:
                    chunk, _ = running.pop(ref)
                    try:
                        for task, rows in zip(chunk, ray.get(ref)):
                            yield task, rows
                    except Exception as exc:  # noqa: BLE001 - a worker that died, a task that failed
                        for task in chunk:
                            yield task, error_rows(task, f"{type(exc).__name__}: {exc}")
                now = time.monotonic()
                for ref, (chunk, deadline) in list(running.items()):
                    if deadline <= now:
                        ray.cancel(ref, force=True)
                        running.pop(ref)
                        if len(chunk) > 1:
                            chunks.back(chunk, alone=True)
                        else:
                            yield chunk[0], timeout_rows(chunk[0], _limit(ctx, chunk),
                                                         "its Ray worker did not come back and was cancelled")
        finally:
            if started:
                ray.shutdown()


def make_engine(name: str, workers: int | None = None, address: str | None = None) -> Engine:
    if name == "local":
        if address:
            raise InputError.one("<command line>", "--address", "--address goes with --engine ray")
        return LocalPool(workers)
    if name == "ray":
        return RayEngine(workers, address)
    if name == "serial":
        return SerialEngine()
    raise InputError.one("<command line>", "--engine", f"unknown engine '{name}'; one of {', '.join(ENGINES)}")
