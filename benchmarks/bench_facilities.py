"""Every bundled facility with the demands a user would try first: proven optimal (or gap < 0.1 %)
in under 5 s each (issue #3). Run: ``.venv/bin/python benchmarks/bench_facilities.py``."""

from __future__ import annotations

import argparse
import time

from common import ROOT, header  # noqa: I001

from benchmarks.straightforward import solve_straightforward
from planner.api import resolve_types, run_plan
from planner.optimize.classes import build_problem_data
from planner.inputs.demand import Demand
from planner.errors import NoPlanError
from planner.inputs.facility import load_facility
from planner.inputs.specs import load_library

DEMANDS = [
    Demand("fill", fill="b200-8x-air"),
    Demand("fill", fill="mi400-8x"),
    Demand("fill", fill="gb200-nvl72"),
    Demand("target", metric="gpus", amount=1024, candidates=("mi400-8x", "b200-8x-air", "h200-8x")),
    Demand("target", metric="fp8_pflops", amount=5000, candidates=("b200-8x-dlc", "mi355x-8x-dlc", "b200-8x-air")),
    Demand("nodes", nodes={"b200-8x-air": 16, "h100-8x": 8}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--straightforward", action="store_true",
                    help="also solve nodes and target demands with the straightforward pattern model (60 s limit)")
    args = ap.parse_args()
    header("bundled facilities: each demand proven optimal (or gap < 0.1 %) in under 5 s")
    cat = load_library()
    worst = 0.0
    for path in sorted((ROOT / "facilities").glob("*.yaml")):
        lf = load_facility(path)
        for demand in DEMANDS:
            t0 = time.monotonic()
            objective = None
            try:
                run = run_plan(lf, cat, demand, time_limit=30, gap=1e-4)
                objective = run.plan["solver"]["objective_usd"]
                s = run.plan["solver"]
                t = run.plan["totals"]
                result = (f"{s['status']:<8} gap {s['gap']:.4%}  {sum(t['nodes'].values()):>6,} nodes "
                          f"{t['racks_used']:>5,} racks  USD {t['annual_usd']['total']:>14,.0f}")
            except NoPlanError as exc:
                result = f"no plan   {str(exc)[:70]}"
            dt = time.monotonic() - t0
            worst = max(worst, dt)
            print(f"   {path.name:<28} {demand.describe()[:52]:<52} {dt:6.2f} s  {result}")
            if args.straightforward and demand.kind != "fill" and objective is not None:
                data = build_problem_data(lf.facility, resolve_types(cat, demand), demand.kind == "target")
                n, _b, t_solve, status, other = solve_straightforward(data, demand, 60, 1e-4)
                print(f"   {'':<28} {'  straightforward pattern model':<52} {t_solve:6.2f} s  {status:<8} "
                      f"{n:,} fill variables; objective {other:,.0f} (rackplan {objective:,.0f})")
    print(f"   slowest: {worst:.2f} s (target < 5 s)")


if __name__ == "__main__":
    main()
