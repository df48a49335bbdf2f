"""Why no plan fits: which limit runs out first, and by how much, found from the model.

Two stages. :func:`screen` catches, before any solve, node types that fit no rack at all (and says
which single-rack limit stops them). :func:`diagnose` solves an *elastic* copy of the model in which
every limit above the rack (row and hall cooling, hall IT capacity, CDU groups, the plant, each power
panel and source normally and after each single failure) may be exceeded at a price per kW and the
demand may fall short at a much higher price: the shortfall left says how much of the demand no rack
can take; each limit's slack says how many kW it would need. The elastic model's limits are read back
by ``(family, key)``, the same :class:`~planner.optimize.classes.GroupLimit` records the model was
built from. Re-solving with one single-rack limit switched off at a time names the rack limit that
binds.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from planner.errors import NoPlanError
from planner.inputs.demand import METRIC_LABEL, Demand
from planner.optimize.classes import ProblemData, build_problem_data
from planner.vocabulary import LIMIT_LABEL, LIMIT_UNIT, RACK_LIMITS


def _fits_nowhere(data: ProblemData, t: int) -> str:
    """Why node type t fits no rack: the single-rack limits that every rack fails."""
    ty = data.types[t]
    need = data.use[t]
    reasons = []
    ff = getattr(ty, "form_factor", "eia-19")
    same = data.racks["form_factor"] == ff
    if not same.any():
        kinds = ", ".join(sorted(set(data.racks["form_factor"])))
        return f"form factor: {ty.id} is a {ff} system; the facility has only {kinds} racks"
    kind = f"{ff} " if len(set(data.racks["form_factor"])) > 1 else ""
    for j, res in enumerate(RACK_LIMITS):
        best = float(data.cap[same, j].max())
        if need[j] > best + 1e-6:
            if res == "liquid" and best <= 0:
                reasons.append(f"liquid cooling: {ty.id} puts {need[j]:.1f} kW into a liquid loop; "
                               f"no {kind}rack has liquid_kw > 0")
            else:
                reasons.append(f"{LIMIT_LABEL[res]}: {ty.id} needs {need[j]:g} {LIMIT_UNIT[res]}, "
                               f"the most any {kind}rack has left is {best:g} {LIMIT_UNIT[res]}")
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
    short = {key: float(v.value() or 0.0) for key, v in m.short.items()}
    slack = {i: float(v.value() or 0.0) for i, v in m.slack.items()}
    load = {i: m.load(i) for i in m.slack}  # planned kW on each limit in that solution
    return short, slack, load


def _short_text(demand: Demand, data: ProblemData, short: dict[tuple, float], of: bool = True) -> list[str]:
    out = []
    if demand.kind == "nodes":
        for t, ty in enumerate(data.types):
            n = short.get(("nodes", t), 0.0)
            if n > 0.5:
                total = f" of {demand.nodes[ty.id]}" if of else ""
                kw = n * ty.max_kw
                digits = 0 if abs(kw - round(kw)) < 0.05 else 1  # one 10.2 kW node: not "10 kW"
                out.append(f"{round(n)}{total} {ty.id} ({kw:,.{digits}f} kW)")
    elif demand.kind == "target":
        n = sum(short.values())
        if n > 1e-6:
            fmt = ",.0f" if demand.metric == "gpus" else ",.1f"
            total = f" of {demand.amount:{fmt}}" if of else ""
            label = METRIC_LABEL[demand.metric]  # type: ignore[index]
            one = f"{n:{fmt}}" == "1" and not of  # "fits 1 GPU more", but "1 of 49 GPUs"
            out.append(f"{n:{fmt}}{total} {label[:-1] if one and label == 'GPUs' else label}")
    else:
        n = sum(short.values())
        if n > 0.5:
            out.append(f"{round(n)} {demand.fill}")
    return out


COOLING_FAMILIES = ("row", "hall", "cdu", "plant")
"""Limits whose capacity is usable heat rejection; the others carry electrical load."""


def _limit_lines(data: ProblemData, slack: dict[int, float], load: dict[int, float]) -> list[str]:
    """One line per family of limits the elastic solution had to exceed: the element exceeded most,
    what it would need and what it carries, and how many more of the family are over too (the excess
    may be spread among them in many equally good ways, so their sum is said as well)."""
    lines = []
    order = ("hall", "row", "cdu", "plant", "hall_it", "source", "panel")
    for family in order:
        over = sorted(((kw, i) for i, kw in slack.items() if data.limits[i].family == family and kw > 1e-3),
                      reverse=True)
        if not over:
            continue
        kw, i = over[0]
        lim = data.limits[i]
        needs = lim.existing_kw + load[i]
        cooling = family in COOLING_FAMILIES
        line = (f"{lim.label}: {'demand needs' if cooling else 'needs'} {needs:,.0f} kW, "
                f"{'usable' if cooling else 'carries'} {lim.limit_kw:,.0f} kW ({kw:,.0f} kW short)")
        if len(over) > 1:
            total = sum(k for k, _ in over)
            others = ", ".join(data.limits[j].label for _, j in over[1:4]) + (" ..." if len(over) > 4 else "")
            line += (f"; {len(over) - 1} more {LIMIT_LABEL.get(family, family)} limit"
                     f"{'s are' if len(over) > 2 else ' is'} over too ({others}; {total:,.0f} kW over in all)")
        lines.append(line)
    return lines


def diagnose(data: ProblemData, demand: Demand, solver: str, seconds: float | None = None) -> NoPlanError:
    """A :class:`NoPlanError` naming what runs out (rack limits, cooling, power elements under a
    failure) and by how much, spending at most ``seconds`` (the run's time limit left) on it."""
    if demand.kind == "fill":
        # nothing fits at all: ask where a single node would go
        one = replace(demand, kind="nodes", nodes={demand.fill: 1}, fill=None)  # type: ignore[dict-item]
        return diagnose(data, one, solver, seconds)
    clock = _Budget(seconds)
    result = _elastic(data, demand, solver, clock)
    if result is None:
        return NoPlanError("no plan: the demand does not fit; the time limit ran out before the diagnosis "
                           "could say what runs out (raise --time-limit)")
    short, slack, load = result
    lines = _limit_lines(data, slack, load)
    unplaced = _short_text(demand, data, short)
    if unplaced:
        binding = []
        base = sum(short.values())
        for res in RACK_LIMITS:
            relaxed = build_problem_data(data.facility, data.types, data.mix_varies, relax=(res,), demand=demand)
            again = _elastic(relaxed, demand, solver, clock)
            if again is not None and sum(again[0].values()) < base - 1e-6:
                freed = _short_text(demand, data, {k: v - again[0].get(k, 0.0) for k, v in short.items()}, of=False)
                binding.append(f"{LIMIT_LABEL[res]} (lifting it alone fits {', '.join(freed) or 'more'} more)")
        what = "; ".join(binding) if binding else "rack power, heat, space, weight and form factor together"
        lines.insert(0, f"racks: {', '.join(unplaced)} cannot be placed in any rack even with every limit above "
                        f"the racks lifted; binding: {what}")
    if not lines:
        lines.append("the demand does not fit, but no single limit explains it")
    if not clock.proven:
        lines.append("(the time limit stopped part of this diagnosis: the amounts are what it found, "
                     "not proven minimal; raise --time-limit for exact figures)")
    return NoPlanError("no plan: " + lines[0], lines)
