"""First-fit-decreasing: the plan a careful spreadsheet would give, as a baseline and a warm start.

Nodes are taken largest design power first; each goes into the first rack, in facility order, where it
fits every limit (rack power, air and liquid heat, U, weight, row and hall cooling). For a target, the
candidate with the lowest energy-plus-price per unit of the target goes first. It ignores cost when
choosing racks, which is exactly why the optimizer beats it; ``benchmarks/`` prints both.
"""

from __future__ import annotations

import math

import numpy as np

from planner.inputs.demand import Demand
from planner.physics import EPS
from planner.optimize.classes import ProblemData, max_count


def metric_per_node(data: ProblemData, metric: str) -> np.ndarray:
    """(T,) contribution of one node of each type to a target metric."""
    return np.array([float(t.gpus) if metric == "gpus" else getattr(t, metric) for t in data.types])


def first_fit(data: ProblemData, demand: Demand) -> np.ndarray:
    """An (R x T) count matrix; it may fall short of the demand when first fit runs out of room."""
    R, T = len(data.racks), data.T
    counts = np.zeros((R, T), dtype=np.int64)
    rem = data.cap.copy()
    hall_of = data.racks["hall"].to_numpy()
    row_key = list(zip(hall_of, data.racks["row"].to_numpy()))
    hall_left = {h: budget for h, budget, _ in data.hall_limits}
    row_left = {(h, r): budget for h, r, budget, _ in data.row_limits}
    max_kw = data.use[:, 0]

    def place(t: int, want: float, value: float) -> float:
        """Place nodes of type t until ``want`` units of ``value`` per node are met; return units placed."""
        fit = max_count(rem, data.use[t:t + 1])[:, 0]
        placed = 0.0
        for r in np.flatnonzero(fit):
            if placed >= want - EPS:
                break
            n = int(fit[r])
            heat_room = hall_left[hall_of[r]]
            if row_key[r] in row_left:
                heat_room = min(heat_room, row_left[row_key[r]])
            n = min(n, int(math.floor((heat_room + EPS) / max_kw[t])))
            if math.isfinite(want):
                n = min(n, int(math.ceil((want - placed) / value - EPS)))
            if n <= 0:
                continue
            counts[r, t] += n
            rem[r] -= n * data.use[t]
            hall_left[hall_of[r]] -= n * max_kw[t]
            if row_key[r] in row_left:
                row_left[row_key[r]] -= n * max_kw[t]
            placed += n * value
        return placed

    if demand.kind == "nodes":
        order = sorted(range(T), key=lambda t: -max_kw[t])
        for t in order:
            place(t, demand.nodes[data.types[t].id], 1.0)
    elif demand.kind == "fill":
        place(0, math.inf, 1.0)
    else:
        metric = metric_per_node(data, demand.metric)  # type: ignore[arg-type]
        price = data.energy_usd + np.array([t.annual_cost_usd for t in data.types])
        order = sorted(range(T), key=lambda t: (price[t] / metric[t], -metric[t]))
        left = demand.amount
        for t in order:
            if left <= EPS:
                break
            left -= place(t, left, metric[t])
    return counts


def meets(data: ProblemData, demand: Demand, counts: np.ndarray) -> bool:
    """True when ``counts`` satisfies the demand (fill is always satisfied)."""
    totals = counts.sum(axis=0)
    if demand.kind == "nodes":
        return all(totals[t] >= demand.nodes[ty.id] for t, ty in enumerate(data.types))
    if demand.kind == "target":
        return float(totals @ metric_per_node(data, demand.metric)) >= demand.amount - EPS  # type: ignore[arg-type]
    return True
