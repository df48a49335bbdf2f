"""The benchmark grid (issue #8): every shipped facility x pairs of candidate node types x targets at
30, 60 and 90 % of the most GPUs the pair can fit, planned as a user would (`run_plan`: data,
first fit, MILP, plan document, independent check). Prints proven/unproven, solve time and wall time
for every instance, then a summary. Nothing is picked: a pair is left out of a facility only when
neither node fits any of its racks, and that is printed too.

"The most that fits" is found by maximizing the pair's GPUs under every limit (the same model with
a GPU-count objective), so 90 % is a hard instance near capacity.

Nodes are priced as ``rackplan plan`` prices them (the spec library's rent or purchase price; a pair with
an unpriced node is planned unpriced and marked so); ``--unpriced`` plans every pair without prices.

Run: ``.venv/bin/python benchmarks/bench_grid.py [--solver highs|cbc] [--time-limit S] [--unpriced] [--csv FILE]``.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time

from common import ROOT, header  # noqa: I001 (sets sys.path)

import pulp

from planner.api import resolve_types, run_plan
from planner.errors import NoPlanError
from planner.inputs.demand import Demand
from planner.inputs.facility import load_facility
from planner.inputs.specs import load_library
from planner.optimize.classes import build_problem_data
from planner.optimize.milp import build_problem
from planner.optimize.solvers import solve
from planner.studies.tco import plan_prices

PAIRS = [
    ("b200-8x-air", "h200-8x"),        # air against air
    ("b200-8x-dlc", "mi355x-8x-dlc"),  # liquid against liquid
    ("mi400-8x", "b200-8x-dlc"),       # projected against shipping, both liquid
    ("b200-8x-air", "b200-8x-dlc"),    # the same GPU, air or liquid
    ("mi300x-8x", "h100-8x"),          # the previous generation, air
    ("gb200-nvl4", "mi400-4x"),        # 4-GPU nodes
    ("h100-8x", "b200-8x-dlc"),        # old air beside new liquid
]
SHARES = (0.3, 0.6, 0.9)


def most_gpus(lf, cat, pair: tuple[str, str], solver: str, time_limit: float) -> int:
    """The most GPUs the pair fits in the facility under every limit (0 when neither fits)."""
    demand = Demand("target", metric="gpus", amount=0.0, candidates=pair)
    types = resolve_types(cat, demand)
    data = build_problem_data(lf.facility, types, mix_varies=True)
    if data.K == 0 or data.slots_max().sum() == 0:
        return 0
    m = build_problem(data, demand, maximize_count=True)
    m.prob.setObjective(pulp.LpAffineExpression([(v, float(data.types[t].gpus)) for (t, _k), v in m.w.items()]))
    out = solve(m, solver, time_limit, 1e-6)
    if not out.has_solution:
        return 0
    return int(round(sum(data.types[t].gpus * (v.value() or 0) for (t, _k), v in m.w.items())))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--solver", default="highs", choices=("highs", "cbc"))
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--csv", help="also write every instance to this CSV file")
    ap.add_argument("--only", help="only facilities whose file name contains this")
    ap.add_argument("--unpriced", action="store_true",
                    help="plan without node prices (energy, cooling and racks only: a smaller objective, so the "
                         "same gap tolerance is harder to prove)")
    args = ap.parse_args()
    header(f"benchmark grid: every facility x {len(PAIRS)} candidate pairs x targets at "
           f"{', '.join(f'{s:.0%}' for s in SHARES)} of the most that fits; solver {args.solver}, "
           f"limit {args.time_limit:g} s; " + ("no node prices" if args.unpriced else
                                               "node prices as `rackplan plan` applies them"))
    library = load_library()
    rows = []
    for path in sorted((ROOT / "facilities").glob("*.yaml")):
        if args.only and args.only not in path.name:
            continue
        lf = load_facility(path)
        for pair in PAIRS:
            demand = Demand("target", metric="gpus", amount=0.0, candidates=pair)
            cat, prices = (library, None) if args.unpriced else plan_prices(library, demand)
            most = most_gpus(lf, cat, pair, args.solver, args.time_limit)
            if most == 0:
                print(f"   {path.name:<30} {'+'.join(pair):<28} neither fits any rack: left out")
                continue
            for share in SHARES:
                target = max(1, math.floor(share * most))
                demand = Demand("target", metric="gpus", amount=float(target), candidates=pair)
                t0 = time.monotonic()
                try:
                    run = run_plan(lf, cat, demand, solver=args.solver, time_limit=args.time_limit, prices=prices)
                    s = run.plan["solver"]
                    status, gap, solve_s = s["status"], s["gap"], run.placement.outcome.seconds
                    racks = run.plan["totals"]["racks_used"]
                    objective = run.placement.variable_usd
                except NoPlanError as exc:
                    status, gap, solve_s, racks, objective = "no plan", None, float("nan"), 0, None
                    print(f"      ! {exc}", file=sys.stderr)
                wall = time.monotonic() - t0
                rows.append({"facility": path.name, "pair": "+".join(pair) + (
                                 " (unpriced)" if prices is not None and not prices["applied"] else ""),
                             "share": share, "target_gpus": target,
                             "most_gpus": most, "status": status, "gap": gap, "solve_s": round(solve_s, 3),
                             "wall_s": round(wall, 3), "racks": racks, "objective_usd": objective})
                gap_text = "-" if gap is None else f"{gap:.4%}"
                print(f"   {path.name:<30} {rows[-1]['pair']:<38} {share:>4.0%} {target:>7,} of {most:>7,} GPUs  "
                      f"{status:<8} gap {gap_text:>8}  solve {solve_s:6.2f} s  wall {wall:6.2f} s  {racks:>5,} racks",
                      flush=True)
    proven = [r for r in rows if r["status"] == "optimal"]
    solves = [r["solve_s"] for r in rows if r["status"] in ("optimal", "feasible")]
    walls = [r["wall_s"] for r in rows]
    slow = max(rows, key=lambda r: r["solve_s"] if r["solve_s"] == r["solve_s"] else -1) if rows else None
    print(f"   instances {len(rows)}; proven optimal {len(proven)}; not proven "
          f"{sum(r['status'] == 'feasible' for r in rows)}; no plan {sum(r['status'] == 'no plan' for r in rows)}")
    if solves:
        print(f"   solve time: median {statistics.median(solves):.2f} s, slowest {max(solves):.2f} s "
              f"({slow['facility']} {slow['pair']} {slow['share']:.0%}); wall: median {statistics.median(walls):.2f} s, "
              f"slowest {max(walls):.2f} s (target: every instance proven, slowest solve <= 1 s)")
    print("   per facility:")
    for name in dict.fromkeys(r["facility"] for r in rows):
        mine = [r for r in rows if r["facility"] == name]
        timed = [r for r in mine if r["solve_s"] == r["solve_s"]]
        worst = max(timed, key=lambda r: r["solve_s"]) if timed else None
        print(f"     {name:<30} {len(mine):>3} instances, {sum(r['status'] == 'optimal' for r in mine):>3} proven; "
              f"solve median {statistics.median([r['solve_s'] for r in timed]) if timed else float('nan'):.2f} s, "
              + (f"slowest {worst['solve_s']:.2f} s ({worst['pair']} {worst['share']:.0%}, {worst['status']}"
                 + (f", gap {worst['gap']:.4%})" if worst["gap"] is not None else ")") if worst else "-"))
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
