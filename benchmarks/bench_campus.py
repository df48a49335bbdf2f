"""The 1M-GPU-scale campus: 28,800 racks, >= 800,000 GPUs from three node types.

Targets (issue #3): a plan within 0.1 % of the optimum in under 10 s wall on 2 cores, peak memory
under 2 GB; the straightforward pattern model (one class per row and distinct existing load, every
maximal pattern, no warm start) takes about 90 s. Run: ``.venv/bin/python benchmarks/bench_campus.py
[--naive]``.
"""

from __future__ import annotations

import argparse
import time

from common import header, peak_mb  # noqa: I001 (sets sys.path)

from benchmarks.campus import CANDIDATES, TARGET_GPUS, campus
from benchmarks.straightforward import solve_straightforward
from planner.api import resolve_types
from planner.inputs.demand import Demand
from planner.optimize.first_fit import first_fit, meets
from planner.optimize.milp import build_problem
from planner.optimize.placement import optimize, variable_cost
from planner.results.plan_json import rack_figures
from planner.optimize.classes import build_problem_data
from planner.optimize.solvers import solve
from planner.inputs.specs import load_library
from planner.vocabulary import DEFAULT_GAP, DEFAULT_SOLVER


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--naive", action="store_true", help="also time the straightforward pattern model")
    ap.add_argument("--solver", default=DEFAULT_SOLVER, choices=("cbc", "highs"))
    ap.add_argument("--gap", type=float, default=DEFAULT_GAP, help=f"default {DEFAULT_GAP:g}, rackplan's")
    args = ap.parse_args()
    header(f"campus benchmark: 24 halls x 12 rows x 100 racks, >= {TARGET_GPUS:,} GPUs from {', '.join(CANDIDATES)}; "
           f"solver {args.solver}, gap {args.gap:g}")
    wall = time.monotonic()
    lf = campus()
    t_fac = time.monotonic() - wall
    cat = load_library()
    demand = Demand("target", metric="gpus", amount=TARGET_GPUS, candidates=CANDIDATES)
    types = resolve_types(cat, demand)
    p = optimize(lf.facility, types, demand, solver=args.solver, time_limit=60, gap_rel=args.gap)
    wall = time.monotonic() - wall
    df = rack_figures(lf.facility, types, p.counts).to_pandas()
    energy = float(df["energy_usd"].sum())
    total = float(df[["energy_usd", "cooling_usd", "rack_usd", "nodes_usd"]].sum().sum())
    fac = lf.facility
    hall_heat = df.groupby("hall")["it_kw"].sum()
    usable = {h.name: fac.hall_usable_kw(h) for h in fac.halls}
    binding = sum(1 for h, heat in hall_heat.items() if heat >= usable[h] - 14.3)
    own, child = peak_mb()
    print(f"   racks {len(fac.racks):,} (existing load in {int(fac.racks.frame['has_existing'].sum())}); "
          f"classes {p.data.K}, pattern sets {len(p.data.pattern_sets)}, "
          f"patterns {sum(len(p.data.patterns(k)) for k in range(p.data.K)):,}")
    print(f"   nodes placed: {dict(zip([t.id for t in types], p.counts.sum(axis=0).tolist()))}, "
          f"GPUs {int(p.counts.sum(axis=0) @ [t.gpus for t in types]):,}")
    print(f"   halls with cooling binding (within one node): {binding} of {len(fac.halls)}")
    print(f"   time: facility {t_fac:.2f} s, data {p.seconds['data']:.2f} s, greedy {p.seconds['greedy']:.2f} s, "
          f"build {p.seconds['build']:.2f} s, solve {p.seconds['solve']:.2f} s; wall {wall:.2f} s (target < 10 s)")
    print(f"   status {p.status}; gap on the placement-controlled cost {p.gap:.4%}; "
          f"on the total annual cost {(p.variable_usd - (p.bound_usd or 0)) / total:.4%} (target < 0.1%)")
    print(f"   peak memory: planner {own:.0f} MB, solver {child:.0f} MB (target < 2,048 MB)")
    print(f"   annual cost: total USD {total:,.0f} (energy {energy:,.0f}, placement-controlled {p.variable_usd:,.0f})")
    g = p.greedy
    if meets(p.data, demand, g):
        gv = variable_cost(p.data, g)
        gdf = rack_figures(lf.facility, types, g).to_pandas()
        gtotal = float(gdf[["energy_usd", "cooling_usd", "rack_usd", "nodes_usd"]].sum().sum())
        print(f"   first-fit baseline: total USD {gtotal:,.0f} ({gtotal / total - 1:+.2%}); placement-controlled "
              f"{gv:,.0f} ({gv / p.variable_usd - 1:+.2%})")
    else:
        print(f"   first-fit baseline: falls short of the demand ({int(g.sum()):,} nodes placed)")

    if args.naive:
        naive(fac, types, demand, args)


def naive(fac, types, demand, args) -> None:
    """One class per hall, row, rack type and distinct existing load: the straightforward pattern
    model (benchmarks/straightforward.py), then rackplan's model on those classes with and without
    its rounding cuts."""
    data = build_problem_data(fac, types, mix_varies=True, naive=True)
    n, t_build, t_solve, status, objective = solve_straightforward(data, demand, 300, args.gap)
    print(f"   straightforward pattern model: {data.K} classes, {n:,} fill variables; build {t_build:.1f} s, "
          f"solve {t_solve:.1f} s, {status}, objective {objective:,.0f}")
    for cuts in (False, True):
        m = build_problem(data, demand, cuts=cuts)
        out = solve(m, args.solver, time_limit=300, gap_rel=args.gap, warm=False)
        print(f"   rackplan's model on those {data.K} classes, {'with' if cuts else 'without'} rounding cuts: "
              f"solve {out.seconds:.1f} s, {out.status}, objective {out.objective or float('nan'):,.0f}")


if __name__ == "__main__":
    main()
