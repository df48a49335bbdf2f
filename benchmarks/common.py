"""Shared bits of the benchmark scripts: timing, memory, machine description."""

from __future__ import annotations

import os
import platform
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def peak_mb() -> tuple[float, float]:
    """Peak resident memory [MB] of this process and of its largest child (the CBC solver)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def speed() -> float:
    """Seconds this machine takes now for a fixed piece of plain Python (10 million additions, the best
    of three). This virtual machine's speed drifts with what its host runs (by 1.5x within a day), so
    every benchmark prints it: figures taken at different times compare through it."""
    import time

    best = float("inf")
    for _ in range(3):
        t0, total = time.perf_counter(), 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return best


def header(title: str) -> None:
    print(f"== {title}")
    print(f"   machine: {machine()}; 10 M Python additions take {speed():.2f} s now (its speed drifts)")
