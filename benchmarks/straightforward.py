"""The straightforward pattern model, for comparison only: a variable for every feasible fill (not
just the maximal ones) of every class, costs on the fills, no node variables, no rack-count variables,
no rounding cuts, no warm start. It states the same limits above the racks (rows, halls, CDU groups,
the plant, every panel and source under every single failure), with rows whose lineups rackplan
chooses (``panels: auto``) held on their default lineups."""

from __future__ import annotations

import itertools
import time
import warnings

import numpy as np
import pulp

from planner.inputs.demand import Demand
from planner.optimize.first_fit import metric_per_node
from planner.optimize.classes import ProblemData

warnings.simplefilter("ignore", DeprecationWarning)


def all_patterns(maximal: np.ndarray) -> np.ndarray:
    """Every non-empty fill dominated by some maximal pattern (the downward closure)."""
    out = set()
    for a in maximal:
        for v in itertools.product(*(range(int(x) + 1) for x in a)):
            if any(v):
                out.add(v)
    return np.array(sorted(out), dtype=np.int64)


def solve_straightforward(data: ProblemData, demand: Demand, time_limit: float, gap: float
                          ) -> tuple[int, float, float, str, float | None]:
    """(fill variables, build seconds, solve seconds, status, objective) for a nodes or target demand."""
    t0 = time.monotonic()
    prob = pulp.LpProblem("straightforward", pulp.LpMinimize)
    cost = data.classes["rack_cost_usd"].astype(float)
    closure = {i: all_patterns(p) for i, p in enumerate(data.pattern_sets)}
    z = {}
    for k in range(data.K):
        for p, a in enumerate(closure[int(data.classes["pattern_set"][k])]):
            z[k, p] = (prob.add_variable(f"z_{k}_{p}", 0, data.count(k), pulp.LpInteger), a)
    by_class: dict[int, list] = {}
    for (k, _p), (v, a) in z.items():
        by_class.setdefault(k, []).append((v, a))
    for k, items in by_class.items():
        prob += pulp.LpAffineExpression([(v, 1) for v, _a in items]) <= data.count(k)
    if demand.kind == "nodes":
        for t, ty in enumerate(data.types):
            prob += pulp.LpAffineExpression([(v, float(a[t])) for v, a in z.values() if a[t]]) >= demand.nodes[ty.id]
    else:
        per = metric_per_node(data, demand.metric)  # type: ignore[arg-type]
        prob += pulp.LpAffineExpression([(v, float(a @ per)) for v, a in z.values()]) >= demand.amount
    overhead = data.classes["overhead_kw"].astype(float)
    for lim in data.limits:  # every element above the racks (rows with panels: auto on their default lineups)
        q = data.quantity(lim.quantity)
        members = list(zip(lim.classes.tolist(), lim.weight.tolist())) + list(lim.default.items())
        terms = [(v, float(wgt * (a @ q + (overhead[k] if lim.quantity != "liquid" else 0.0))))
                 for k, wgt in members for v, a in by_class.get(int(k), [])]
        if terms:
            prob += pulp.LpAffineExpression(terms) <= lim.budget
    prob += pulp.LpAffineExpression([(v, float(cost[k] + a @ np.nan_to_num(data.node_cost[:, k])))
                                     for (k, _p), (v, a) in z.items()])
    t_build = time.monotonic() - t0
    t0 = time.monotonic()
    prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=gap))
    t_solve = time.monotonic() - t0
    status = "optimal" if t_solve < time_limit * 0.95 and pulp.LpStatus[prob.status] == "Optimal" else "stopped"
    return len(z), t_build, t_solve, status, pulp.value(prob.objective)
