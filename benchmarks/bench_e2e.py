"""End to end, as a user runs it: the whole `rackplan` process from its start to plan.json, racks.csv,
racks.xlsx, (power.csv) and report.html written, timed from outside over several runs (median, min and
max), plus `rackplan validate` of a bundled facility.

Instances (issue #8 and #9 targets):

* the 28,800-rack campus (`benchmarks/campus.py`), >= 800,000 GPUs from three node types: <= 2 s;
* the same campus with a power tree (per hall four striped UPS lineups, a busway per row side, a CDU
  group; a plant), proven within 0.1 % (`--gap 0.001`): <= 3 s;
* `rackplan validate facilities/ai-hall.yaml`: <= 0.3 s.

Each campus runs twice: with ``--no-xlsx`` (the three files the targets name: plan.json, racks.csv,
report.html) and as the default, which also writes racks.xlsx (several seconds for 14,000+ used racks).

Run: ``.venv/bin/python benchmarks/bench_e2e.py [--runs N]``. The facility files are written to
``benchmarks/out/``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, header, speed  # noqa: I001 (sets sys.path)

import yaml

from benchmarks.campus import CANDIDATES, TARGET_GPUS, campus_dict

OUT = ROOT / "benchmarks" / "out"
RACKPLAN = str(Path(sys.executable).parent / "rackplan")


def timed(cmd: list[str], runs: int) -> tuple[list[float], subprocess.CompletedProcess]:
    """Wall seconds of each run of ``cmd`` (one warm-up run first, not counted), and the last run."""
    subprocess.run(cmd, capture_output=True, text=True)
    walls, last = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        last = subprocess.run(cmd, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
    return walls, last


def show(label: str, walls: list[float], target: str, extra: str = "") -> None:
    print(f"   {label:<52} median {statistics.median(walls):5.2f} s  (min {min(walls):.2f}, max {max(walls):.2f}, "
          f"{len(walls)} runs; target {target}){extra}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    header("end to end: the whole rackplan process, start to files written")
    print(f"   load average before: {os.getloadavg()[0]:.2f}")
    OUT.mkdir(parents=True, exist_ok=True)
    walls, _ = timed([RACKPLAN, "validate", str(ROOT / "facilities" / "ai-hall.yaml")], args.runs)
    show("rackplan validate facilities/ai-hall.yaml", walls, "<= 0.3 s")
    for name, tree, gap, xlsx in (("campus", False, None, False), ("campus", False, None, True),
                                  ("campus-tree", True, "0.001", False), ("campus-tree", True, "0.001", True)):
        path = OUT / f"{name}.yaml"
        path.write_text(yaml.safe_dump(campus_dict(tree=tree), sort_keys=False))
        cmd = [RACKPLAN, "plan", str(path), "--gpus", str(TARGET_GPUS), "--candidates", ",".join(CANDIDATES),
               "-q", "-o", str(OUT / f"{name}-plan")] + (["--gap", gap] if gap else []) + ([] if xlsx else ["--no-xlsx"])
        walls, last = timed(cmd, args.runs)
        if last.returncode != 0:
            print(f"   {name}: exit {last.returncode}: {last.stderr.strip()[:300]}")
            continue
        plan = json.loads((OUT / f"{name}-plan" / "plan.json").read_text())
        s, t = plan["solver"], plan["totals"]
        show(f"rackplan plan {name}.yaml{'' if xlsx else ' --no-xlsx'}", walls,
             "<= 3 s, within 0.1 %" if tree else "<= 2 s",
             f"\n      {s['status']}, gap {s['gap']:.4%} (tolerance {s['gap_tolerance']:g}), solver stages "
             f"{s['seconds']:.2f} s, {t['racks_used']:,} racks, {t['gpus']:,} GPUs, check "
             f"{plan['checks']['summary']}")
    print(f"   load average after: {os.getloadavg()[0]:.2f}; 10 M Python additions take {speed():.2f} s now")


if __name__ == "__main__":
    main()
