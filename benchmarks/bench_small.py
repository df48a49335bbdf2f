"""Small and medium instances: the pattern model against the per-node MILP and first fit.

Synthetic instances like those measured before rackplan was built: five node types (8x B200 air 14.3 kW 10U, 8x B200
DLC 12 kW 4U, 8x MI400 11.5 kW 5U, 8x H100 10.2 kW 8U, a 4-GPU 5.6 kW 2U node), five rack specs
(air 30 / 45 kW, DLC 80 / 132 kW, immersion 100 kW; 2N feeds), two halls whose cooling binds.
For each size: rackplan's plan (time, status, gap), the first-fit baseline's cost, and the per-node
MILP (a binary x[node, rack] and an open y[rack]) under a time limit, all costed the same way.
Run: ``.venv/bin/python benchmarks/bench_small.py [--per-node-limit SECONDS]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pulp

from common import header  # noqa: I001

from planner.inputs.demand import Demand
from planner.errors import NoPlanError
from planner.inputs.facility import Facility, check_facility
from planner.optimize.first_fit import first_fit, meets
from planner.optimize.placement import optimize, variable_cost
from planner.inputs.specs import NodeType

warnings.simplefilter("ignore")

TYPES = [
    NodeType("b200-air", "B200 air", "b200", 8, 10, 14.3, 0.0, 142.4, 0.0, 1000, 36, 1.44, "shipping"),
    NodeType("b200-dlc", "B200 DLC", "b200", 8, 4, 12.0, 0.8, 85.0, 0.0, 1000, 36, 1.44, "shipping"),
    NodeType("mi400", "MI400 8x", "mi400", 8, 5, 11.5, 0.8, 120.0, 0.0, 1000, 72, 2.7, "projected"),
    NodeType("h100", "H100 8x", "h100", 8, 8, 10.2, 0.0, 130.0, 0.0, 700, 15.8, 0.64, "shipping"),
    NodeType("small", "4-GPU", "x", 4, 2, 5.6, 0.0, 45.0, 0.0, 1000, 18, 0.72, "shipping"),
]
# rack specs: (name, cooling, air_kw, liquid_kw, amps at 415 V 3-ph -> usable kW, u, cost)
RACKS = [
    ("air-30", "air", 30, 0, 60, 42, 8000),     # 32.8 kW per side
    ("air-45", "air", 45, 0, 80, 48, 10000),    # 43.7 kW
    ("dlc-80", "dlc", 20, 70, 150, 48, 12000),  # 81.9 kW
    ("dlc-132", "dlc", 30, 110, 250, 48, 15000),  # 136.6 kW
    ("imm-100", "immersion", 10, 100, 200, 48, 14000),  # 109.3 kW
]


def instance(n_nodes: int, n_racks: int, seed: int) -> tuple[Facility, Demand]:
    rng = np.random.default_rng(seed)
    per_type = n_racks // len(RACKS)
    rows = [{"name": f"R{i}", "rack_type": spec[0], "racks": per_type} for i, spec in enumerate(RACKS)]
    halves = [rows[::2], rows[1::2]]
    shares = rng.dirichlet(np.ones(len(TYPES)))
    counts = np.floor(shares * n_nodes).astype(int)
    counts[0] += n_nodes - counts.sum()
    heat = float(sum(c * t.max_kw for c, t in zip(counts, TYPES)))
    fac = Facility.model_validate({
        "version": 1, "name": f"synthetic {n_nodes}/{n_racks}",
        "site": {"electricity_usd_per_kwh": 0.08, "power_redundancy": "2N"},
        "rack_types": {name: {"u": u, "cooling": cool, "air_kw": air, "liquid_kw": liq,
                              "feed": {"volts": 415, "phases": 3, "amps": amps}, "max_weight_kg": 1500,
                              "annual_cost_usd": cost}
                       for name, cool, air, liq, amps, u, cost in RACKS},
        "halls": [{"name": f"H{i}", "cooling_units": {"count": 11, "unit_kw": heat * 0.6 / 10, "redundant": 1},
                   "rows": rs} for i, rs in enumerate(halves)],
    })
    check_facility(fac, "synthetic")
    return fac, Demand("nodes", nodes={t.id: int(c) for t, c in zip(TYPES, counts) if c > 0})


def per_node_milp(data, demand, limit: float) -> tuple[str, float | None, float]:
    """The assignment model: binary x[node, rack], binary y[rack]; the same costs and limits."""
    prob = pulp.LpProblem("per_node", pulp.LpMinimize)
    cls = data.racks["cls"]
    R = len(data.racks)
    nodes = [t for t, ty in enumerate(data.types) for _ in range(demand.nodes[ty.id])]
    y = [prob.add_variable(f"y_{r}", 0, 1, pulp.LpBinary) for r in range(R)]
    x = {}
    for n, t in enumerate(nodes):
        for r in range(R):
            if cls[r] >= 0 and np.all(data.use[t] <= data.cap[r] + 1e-6):
                x[n, r] = prob.add_variable(f"x_{n}_{r}", 0, 1, pulp.LpBinary)
    for n in range(len(nodes)):
        prob += pulp.lpSum(x[n, r] for r in range(R) if (n, r) in x) == 1
    for r in range(R):
        for j in range(data.use.shape[1]):
            terms = [(x[n, r], data.use[t, j]) for n, t in enumerate(nodes) if (n, r) in x]
            if terms:
                prob += pulp.LpAffineExpression(terms) <= data.cap[r, j] * y[r]
    overhead = data.racks["overhead_kw"].astype(float)
    for lim in data.limits:  # the same limits above the racks as the pattern model (here: hall cooling)
        q = data.quantity(lim.quantity)
        weight = dict(zip(lim.classes.tolist(), lim.weight.tolist())) | lim.default
        terms = [(x[n, r], float(weight[cls[r]] * q[t])) for (n, r), t in ((key, nodes[key[0]]) for key in x)
                 if cls[r] in weight]
        terms += [(y[r], float(weight[cls[r]] * overhead[r])) for r in range(R)
                  if cls[r] in weight and lim.quantity != "liquid" and overhead[r] > 0]
        if terms:
            prob += pulp.LpAffineExpression(terms) <= lim.budget
    cost = data.racks["rack_cost_usd"].astype(float)
    prob += pulp.lpSum(x[n, r] * float(np.nan_to_num(data.node_cost[nodes[n], cls[r]])) for (n, r) in x) + \
        pulp.lpSum(float(cost[r]) * y[r] for r in range(R))
    t0 = time.monotonic()
    prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=limit))
    dt = time.monotonic() - t0
    if prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return "no solution", None, dt
    finished = dt < limit * 0.95 and pulp.LpStatus[prob.status] == "Optimal"
    return ("optimal" if finished else "stopped"), float(pulp.value(prob.objective)), dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-node-limit", type=float, default=30.0)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    header("small/medium instances: pattern model vs per-node MILP vs first fit (placement-controlled USD/yr)")
    print(f"   {'nodes/racks':>12} {'seed':>4} | {'rackplan':>12} {'s':>6} {'status':>8} | {'first fit':>12} {'excess':>7} "
          f"| {'per-node MILP':>14} {'s':>6} {'status':>11}")
    for n_nodes, n_racks, per_node in ((20, 10, True), (50, 25, True), (100, 50, True), (1000, 500, False),
                                       (10000, 4000, False), (100000, 40000, False)):
        for seed in range(args.seeds):
            fac, demand = instance(n_nodes, n_racks, seed)
            types = [t for t in TYPES if t.id in demand.nodes]
            t0 = time.monotonic()
            try:
                p = optimize(fac, types, demand, time_limit=60, gap_rel=1e-4)
            except NoPlanError as exc:
                print(f"   {n_nodes:>6}/{n_racks:<5} {seed:>4} | no plan: {str(exc)[:80]}")
                continue
            dt = time.monotonic() - t0
            g = p.greedy
            gcost = variable_cost(p.data, g) if meets(p.data, demand, g) else None
            excess = f"{gcost / p.variable_usd - 1:+.1%}" if gcost else "short"
            pn = "-"
            if per_node:
                status, cost, pdt = per_node_milp(p.data, demand, args.per_node_limit)
                pn = f"{cost:>14,.0f} {pdt:6.1f} {status:>11}" if cost is not None else f"{'-':>14} {pdt:6.1f} {status:>11}"
            gtxt = f"{gcost:12,.0f}" if gcost else f"{'-':>12}"
            print(f"   {n_nodes:>6}/{n_racks:<5} {seed:>4} | {p.variable_usd:12,.0f} {dt:6.2f} {p.status:>8} | "
                  f"{gtxt} {excess:>7} | {pn}")


if __name__ == "__main__":
    main()
