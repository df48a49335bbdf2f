"""First-fit-decreasing: the plan a careful spreadsheet would give, as a baseline and a warm start.

Nodes are taken largest design power first; each goes into the first rack, in facility order, where it
fits every limit (the rack's power, air and liquid heat, U, weight and form factor, and every limit
above it: row and hall cooling, hall IT capacity, CDU groups, the plant, each panel and source
normally and after each single failure, with the rack's overhead counted when first fit opens it).
For a target, the candidate with the lowest energy-plus-price per unit of the target goes first. It
ignores cost when choosing racks, which is exactly why the optimizer beats it; ``benchmarks/`` prints
both.
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


def _limits_by_rack(data: ProblemData) -> list[list[tuple[int, float]]]:
    """For each rack, the group limits it is in: its class's (:attr:`ProblemData.limits_of_class`)."""
    by_class = data.limits_of_class
    return [by_class[c] if c >= 0 else [] for c in data.racks["cls"].tolist()]


def first_fit(data: ProblemData, demand: Demand, start: np.ndarray | None = None,
              cheapest_first: bool = False, allowed: np.ndarray | None = None) -> np.ndarray:
    """An (R x T) count matrix; it may fall short of the demand when first fit runs out of room.
    With ``start`` (an (R x T) plan that keeps every limit), first fit adds to it what the demand still
    needs: the repair step of the LP-rounding start (:mod:`planner.optimize.placement`). With
    ``cheapest_first``, racks are tried in order of what one more node costs there (racks already
    open first, then by rack and node cost) instead of in facility order. ``allowed`` (a rack mask)
    keeps it to some racks (one hall, for a demand kept together)."""
    R, T = len(data.racks), data.T
    counts = np.zeros((R, T), dtype=np.int64) if start is None else start.astype(np.int64).copy()
    rem = data.cap - counts @ data.use
    quantity = [data.quantity(lim.quantity).tolist() for lim in data.limits]
    carries_overhead = [lim.quantity != "liquid" for lim in data.limits]
    by_class = data.limits_of_class
    in_limits = _limits_by_rack(data)
    overhead = data.racks["overhead_kw"].astype(float).tolist()
    opened = (counts.sum(axis=1) > 0).tolist()
    left = [lim.budget for lim in data.limits]
    for i, lim in enumerate(data.limits):  # striped rows' existing load, on their default lineups
        for (hall, row), c, share in lim.aux:
            s = next(s for s in data.stripes if (s.hall, s.row) == (hall, row))
            if c == s.default:
                left[i] -= share * s.existing_kw
    cls = data.racks["cls"]
    if start is not None and data.limits:  # what the start puts on each limit, class by class
        used = counts.sum(axis=1) > 0
        member = (cls >= 0) & used
        cached: dict[tuple[str, bool], np.ndarray] = {}
        for i, lim in enumerate(data.limits):
            key = (lim.quantity, carries_overhead[i])
            if key not in cached:  # each class's load on this quantity (its racks' nodes, and overhead)
                load = counts @ np.asarray(quantity[i], dtype=float)
                if carries_overhead[i]:
                    load = load + np.where(used, np.asarray(overhead, dtype=float), 0.0)
                cached[key] = np.bincount(cls[member], weights=load[member], minlength=data.K)
        for k, limits in enumerate(by_class):
            for i, wgt in limits:
                left[i] -= wgt * float(cached[(data.limits[i].quantity, carries_overhead[i])][k])
    # the racks of each limit and its least weight: once a limit has less room left than one node at
    # that weight takes, no rack in it can take that node (n would come out 0), so they are skipped
    members: list[list[int]] = [[] for _ in data.limits]
    least = [math.inf] * len(data.limits)
    for k, limits in enumerate(by_class):
        for i, wgt in limits:
            members[i].append(k)
            least[i] = min(least[i], wgt)
    limit_racks = [np.concatenate([np.asarray(data.class_racks[k], dtype=np.int64) for k in ks])
                   if ks else np.zeros(0, dtype=np.int64) for ks in members]

    rack_cost = data.racks["rack_cost_usd"].astype(float)
    # racks whose free units are split by positioned existing equipment: what they take is what their
    # class's patterns allow (the units' sum alone would overstate it)
    split = (data.racks["existing_position"] > 0) & (cls >= 0)

    def pattern_room(r: int, t: int, n: int) -> int:
        pats = data.patterns(int(cls[r]))
        others = np.delete(np.arange(T), t)
        covers = np.all(pats[:, others] >= counts[r, others], axis=1)
        return min(n, int((pats[covers, t].max() if covers.any() else 0) - counts[r, t]))

    def racks_to_try(t: int, fit: np.ndarray) -> list[int]:
        racks = np.flatnonzero(fit)
        if not cheapest_first or len(racks) == 0:
            return racks.tolist()
        node = np.nan_to_num(data.node_cost[t, cls[racks]], nan=np.inf)
        new = np.where(np.asarray(opened)[racks], 0.0, rack_cost[racks] / fit[racks])
        return racks[np.lexsort((racks, node + new))].tolist()

    def full(i: int, t: int) -> bool:
        """No rack under limit ``i`` can take one more node of type ``t`` (overhead only adds to it)."""
        return left[i] < -EPS or left[i] + EPS < least[i] * quantity[i][t]

    def runs(racks: list[int], fit: np.ndarray) -> list[int]:
        """For each position in ``racks``, where its run ends: the racks after it of the same class, fit,
        and opened state (none split), which first fit treats alike until a limit fills."""
        if not racks:
            return []
        at = np.asarray(racks, dtype=np.int64)
        key = np.stack([cls[at], fit[at], np.asarray(opened)[at], np.where(split[at], at, -1)])
        new = np.ones(len(at), dtype=bool)
        new[1:] = (key[:, 1:] != key[:, :-1]).any(axis=0) | split[at][1:]
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(at))
        return np.repeat(ends, np.diff(np.append(starts, len(at)))).tolist()

    def whole_racks(r: int, t: int, n: int, want_nodes: float) -> int:
        """How many racks of ``r``'s run in a row take ``n`` nodes of type ``t`` each: one after another,
        rack ``j`` (from 0) takes all ``n`` while every limit keeps ``(j + 1)(overhead + n x per node)``
        within its room, and the demand still wants ``n`` more (``ceil(left - EPS) >= n``)."""
        opening = not opened[r]
        k = math.inf
        for i, wgt in in_limits[r]:
            each = (wgt * overhead[r] if opening and carries_overhead[i] else 0.0) + n * wgt * quantity[i][t]
            if each > 0:
                k = min(k, math.floor((left[i] + EPS) / each))
        if math.isfinite(want_nodes):
            extra = want_nodes - EPS - (n - 1)
            k = min(k, math.ceil(extra / n) if extra > 0 else 0)
        return max(0, k)

    def room(r: int, t: int, n: int, want_nodes: float) -> int:
        """Nodes of type ``t`` rack ``r`` takes, at most ``n``: what every limit above it leaves."""
        opening = not opened[r]
        for i, wgt in in_limits[r]:
            ov = wgt * overhead[r] if opening and carries_overhead[i] else 0.0
            per = wgt * quantity[i][t]
            rest = left[i] - ov
            if rest < -EPS:
                return 0
            if per > 0:
                n = min(n, int(math.floor((rest + EPS) / per)))
        if math.isfinite(want_nodes):
            n = min(n, int(math.ceil(want_nodes - EPS)))
        return n

    def put(racks: list[int], t: int, n: int) -> None:
        """``n`` nodes of type ``t`` into each of ``racks`` (all of one run: one class, alike)."""
        r = racks[0]
        opening = not opened[r]
        for i, wgt in in_limits[r]:
            ov = wgt * overhead[r] if opening and carries_overhead[i] else 0.0
            left[i] -= len(racks) * (ov + n * wgt * quantity[i][t])
            if full(i, t):
                skip[limit_racks[i]] = True
        counts[racks, t] += n
        rem[racks] -= n * data.use[t]
        for x in racks:
            opened[x] = True

    def place(t: int, want: float, value: float) -> float:
        """Place nodes of type t until ``want`` units of ``value`` per node are met; return units placed.
        A run of alike racks is filled in one step as far as every limit has room for whole racks; the
        next rack then takes what is left, and if it takes nothing, neither does the rest of its run."""
        nonlocal skip
        fit = max_count(rem, data.use[t:t + 1])[:, 0]
        if allowed is not None:
            fit = np.where(allowed, fit, 0)
        for i in range(len(data.limits)):
            if full(i, t):
                fit[limit_racks[i]] = 0
        skip = np.zeros(R, dtype=bool)
        placed = 0.0
        order = racks_to_try(t, fit)
        run_end = runs(order, fit)
        p = 0
        while p < len(order) and placed < want - EPS:
            r = order[p]
            if skip[r]:  # a full limit skips whole classes, so the rest of its run too
                p = run_end[p]
                continue
            n = int(fit[r])
            if split[r]:
                n = pattern_room(r, t, n)
            want_nodes = (want - placed) / value
            k = 0 if split[r] or n <= 0 else min(run_end[p] - p, whole_racks(r, t, n, want_nodes))
            if k >= 1:
                put(order[p:p + k], t, n)
                placed += k * n * value
                p += k
                continue
            n = room(r, t, n, want_nodes)
            if n <= 0:  # the rest of its run is alike: none of it takes a node either
                p = run_end[p]
                continue
            put([r], t, n)
            placed += n * value
            p += 1
        return placed

    skip = np.zeros(R, dtype=bool)
    max_kw = data.quantity("power")
    have = counts.sum(axis=0)
    if demand.kind == "nodes":
        for t in sorted(range(T), key=lambda t: -max_kw[t]):
            place(t, demand.nodes[data.types[t].id] - int(have[t]), 1.0)
    elif demand.kind == "fill":
        place(0, math.inf, 1.0)
    else:
        metric = metric_per_node(data, demand.metric)  # type: ignore[arg-type]
        price = data.energy_usd + np.array([t.annual_cost_usd for t in data.types])
        order = sorted(range(T), key=lambda t: (price[t] / metric[t], -metric[t]))
        need = demand.amount - float(have @ metric)
        for t in order:
            if need <= EPS:
                break
            need -= place(t, need, metric[t])
    return counts


def meets(data: ProblemData, demand: Demand, counts: np.ndarray) -> bool:
    """True when ``counts`` satisfies the demand (fill is always satisfied)."""
    totals = counts.sum(axis=0)
    if demand.kind == "nodes":
        return all(totals[t] >= demand.nodes[ty.id] for t, ty in enumerate(data.types))
    if demand.kind == "target":
        return float(totals @ metric_per_node(data, demand.metric)) >= demand.amount - EPS  # type: ignore[arg-type]
    return True
