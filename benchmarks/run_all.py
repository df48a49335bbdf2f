"""Run every benchmark and print its figures (``make bench``). Figures recorded in docs/benchmarks.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ["bench_grid.py"],
    ["bench_grid.py", "--unpriced"],
    ["bench_e2e.py"],
    ["bench_campus.py", "--naive"],
    ["bench_campus.py", "--solver", "cbc"],
    ["bench_facilities.py", "--straightforward"],
    ["bench_small.py", "--seeds", "3"],
    ["bench_report.py"],
    ["bench_sweep.py"],
    ["bench_waves.py"],
]

if __name__ == "__main__":
    failed = 0
    for script in SCRIPTS:
        print(flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / script[0]), *script[1:]], cwd=HERE)
    sys.exit(failed)
