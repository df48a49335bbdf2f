"""Why no plan fits: which resource runs out first, and by how much, found from the model.

Two stages. :func:`screen` catches, before any solve, node types that fit no rack at all (and says
which single-rack limit stops them). :func:`diagnose` solves an *elastic* copy of the model in which
row and hall heat may exceed their limits at a price per kW and the demand may fall short at a much
higher price: the shortfall left says how much of the demand no rack can take; the heat slack says
how many kW each row or hall would need. Re-solving with one single-rack limit switched off at a time
names the rack limit that binds.
"""

from __future__ import annotations

import time

import numpy as np

from planner.inputs.demand import METRIC_LABEL, Demand
from planner.errors import NoPlanError
from planner.optimize.classes import RESOURCES, ProblemData, build_problem_data

RESOURCE_LABEL = {
    "power_kw": "rack power (feeds)",
    "air_kw": "rack air heat",
    "liquid_kw": "rack liquid heat",
    "u": "rack space (U)",
    "weight_kg": "rack weight",
}
UNIT = {"power_kw": "kW", "air_kw": "kW", "liquid_kw": "kW", "u": "U", "weight_kg": "kg"}


def _fits_nowhere(data: ProblemData, t: int) -> str:
    """Why node type t fits no rack: the single-rack limits that every rack fails."""
    ty = data.types[t]
    need = data.use[t]
    reasons = []
    for j, res in enumerate(RESOURCES):
        best = float(data.cap[:, j].max()) if len(data.cap) else 0.0
        if need[j] > best + 1e-6:
            if res == "liquid_kw" and best <= 0:
                reasons.append(f"liquid cooling: {ty.id} puts {need[j]:.1f} kW into a liquid loop; "
                               "no rack has liquid_kw > 0")
            else:
                reasons.append(f"{RESOURCE_LABEL[res]}: {ty.id} needs {need[j]:g} {UNIT[res]}, "
                               f"the most any rack has left is {best:g} {UNIT[res]}")
    if not reasons:
        reasons.append(f"{ty.id} fits no rack: no rack meets power, heat, U and weight at once")
    return "; ".join(reasons)


def screen(data: ProblemData, demand: Demand) -> None:
    """Refuse at once a demand whose node types fit no rack at all."""
    slots = data.slots_max().sum(axis=1) if data.K else np.zeros(data.T, dtype=np.int64)
    stuck = [t for t in range(data.T) if slots[t] == 0]
    if demand.kind == "target" and len(stuck) < data.T:
        return  # the other candidates may still meet it
    if not stuck:
        return
    lines = [_fits_nowhere(data, t) for t in stuck]
    raise NoPlanError("no plan: " + lines[0], lines)


ELASTIC_LIMIT_S = 60.0
"""Most seconds one elastic solve may take (less when the run's own time limit has less left)."""


class _Budget:
    """The time diagnosis may still spend, and whether every solve it made was proven."""

    def __init__(self, seconds: float | None):
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.proven = True

    def left(self) -> float | None:
        if self.deadline is None:
            return ELASTIC_LIMIT_S
        return min(ELASTIC_LIMIT_S, self.deadline - time.monotonic())


def _elastic(data: ProblemData, demand: Demand, solver: str, budget: _Budget):
    from planner.optimize.milp import build_problem
    from planner.optimize.solvers import solve

    left = budget.left()
    if left is not None and left < 0.5:
        budget.proven = False
        return None
    m = build_problem(data, demand, elastic=True, cuts=False)
    outcome = solve(m, solver, left, 1e-6, warm=False)
    if not outcome.has_solution:
        budget.proven = False
        return None
    budget.proven &= outcome.status == "optimal"
    short = {name: float(v.value() or 0.0) for name, v in m.short.items()}
    slack = {name: float(v.value() or 0.0) for name, v in m.slack.items()}
    # planned heat each limited row or hall carries in that solution (value() = heat - slack - budget)
    heat = {name: float(c.value() or 0.0) - float(c.constant) + slack.get(name, 0.0) for name, c in m.heat.items()}
    return short, slack, heat


def _short_text(demand: Demand, data: ProblemData, short: dict[str, float], of: bool = True) -> list[str]:
    out = []
    if demand.kind == "nodes":
        for t, ty in enumerate(data.types):
            n = next((v for k, v in short.items() if k.startswith(f"demand_nodes_min__{t}_")), 0.0)
            if n > 0.5:
                total = f" of {demand.nodes[ty.id]}" if of else ""
                out.append(f"{round(n)}{total} {ty.id} ({n * ty.max_kw:,.0f} kW)")
    elif demand.kind == "target":
        n = sum(short.values())
        if n > 1e-6:
            fmt = ",.0f" if demand.metric == "gpus" else ",.1f"
            total = f" of {demand.amount:{fmt}}" if of else ""
            out.append(f"{n:{fmt}}{total} {METRIC_LABEL[demand.metric]}")  # type: ignore[index]
    else:
        n = sum(short.values())
        if n > 0.5:
            out.append(f"{round(n)} {demand.fill}")
    return out


def diagnose(data: ProblemData, demand: Demand, solver: str, seconds: float | None = None) -> NoPlanError:
    """A :class:`NoPlanError` naming what runs out (rack limits, row or hall cooling) and by how much,
    spending at most ``seconds`` (the run's time limit left) on it."""
    if demand.kind == "fill":
        # nothing fits at all: ask where a single node would go
        one = Demand("nodes", nodes={demand.fill: 1})  # type: ignore[dict-item]
        return diagnose(data, one, solver, seconds)
    clock = _Budget(seconds)
    result = _elastic(data, demand, solver, clock)
    if result is None:
        return NoPlanError("no plan: the demand does not fit; the time limit ran out before the diagnosis "
                           "could say what runs out (raise --time-limit)")
    short, slack, heat = result
    lines: list[str] = []
    fac = data.facility
    rows = {}
    for i, (hall, row, _budget, _ks) in enumerate(data.row_limits):
        limit = next(r.cooling_kw for h in fac.halls if h.name == hall for r in h.rows if r.name == row)
        rows[f"row_heat_max__{i}_"] = (f"{hall}/{row}", limit, _budget)
    halls = {}
    for i, (hall, budget, _ks) in enumerate(data.hall_limits):
        h = next(h for h in fac.halls if h.name == hall)
        halls[f"hall_heat_max__{i}_"] = (hall, fac.hall_usable_kw(h), budget)

    def report(groups: dict, kind: str) -> None:
        short_kw = {}
        full = []
        for name in heat:
            key = next((k for k in groups if name.startswith(k)), None)
            if key is None:
                continue
            label, usable, budget = groups[key]
            if slack.get(name, 0.0) > 1e-3:
                short_kw[label] = (slack[name], usable, usable + slack[name])
            if heat[name] >= budget - 1e-3:
                full.append((label, usable, usable - budget + heat[name]))
        if not short_kw:
            return
        if len(short_kw) == 1 and len(full) <= 1:
            (label, (kw, usable, needs)), = short_kw.items()
            lines.append(f"{kind} {label} cooling: demand needs {needs:,.0f} kW, usable {usable:,.0f} kW "
                         f"({kw:,.0f} kW short)")
            return
        # several limits are full: any split of the excess among them is as good, so report the sum
        needs = sum(n for _l, _u, n in full)  # heat in the solution includes the slack
        usable = sum(u for _l, u, _n in full)
        kw = sum(kw for kw, _u, _n in short_kw.values())
        names = [label for label, _u, _n in full]
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        lines.append(f"{kind} cooling: the {len(names)} full {kind}s ({shown}) need {needs:,.0f} kW, "
                     f"usable {usable:,.0f} kW ({kw:,.0f} kW short)")

    report(halls, "hall")
    report(rows, "row")
    unplaced = _short_text(demand, data, short)
    if unplaced:
        binding = []
        base = sum(short.values())
        for res in RESOURCES:
            relaxed = build_problem_data(data.facility, data.types, data.mix_varies, relax=(res,))
            again = _elastic(relaxed, demand, solver, clock)
            if again is not None and sum(again[0].values()) < base - 1e-6:
                freed = _short_text(demand, data, {k: v - again[0].get(k, 0.0) for k, v in short.items()}, of=False)
                binding.append(f"{RESOURCE_LABEL[res]} (lifting it alone fits {', '.join(freed) or 'more'} more)")
        what = "; ".join(binding) if binding else "rack power, heat, space and weight together"
        lines.insert(0, f"racks: {', '.join(unplaced)} cannot be placed in any rack even with unlimited "
                        f"row and hall cooling; binding: {what}")
    if not lines:
        lines.append("the demand does not fit, but no single limit explains it")
    if not clock.proven:
        lines.append("(the time limit stopped part of this diagnosis: the amounts are what it found, "
                     "not proven minimal; raise --time-limit for exact figures)")
    return NoPlanError("no plan: " + lines[0], lines)
