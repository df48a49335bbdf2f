"""Problem data: racks grouped into classes, and the fill patterns each class allows.

Identical racks make a per-rack model symmetric and slow (``docs/formulation.md``). Racks are grouped
into **classes**: racks in the same hall, the same cooling-limited row (rows without a ``cooling_kw``
limit in one hall merge), the same rack type, the same rack cost (occupied already or not) and the same
set of feasible fills. A **pattern** is a vector ``a`` (nodes of each type in one rack) that fits one
rack of a class: power, air heat, liquid heat, U and weight all within the rack's remaining capacity.
Every single-rack limit is monotone, so every sub-vector of a feasible pattern is feasible and only
**maximal** patterns (to which no further node fits) are kept; two racks with the same maximal
patterns admit exactly the same fills, which is what lets brownfield racks with different existing
loads share a class.

Everything here is plain numpy/pandas; PuLP lives in :mod:`planner.optimize.milp`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner import physics
from planner.inputs.facility import Facility
from planner.inputs.specs import NodeType

RESOURCES = ("power_kw", "air_kw", "liquid_kw", "u", "weight_kg")
"""The single-rack limits, in the column order of every capacity and usage array."""

MAX_CANDIDATES = 4_000_000
"""Most partial fills examined when enumerating one class's patterns before giving up."""


class TooManyPatterns(Exception):
    """Enumerating a class's patterns would examine more than :data:`MAX_CANDIDATES` fills."""


def node_usage(types: list[NodeType]) -> np.ndarray:
    """(T x 5) resource use of one node of each type, in :data:`RESOURCES` order."""
    return np.array(
        [[t.max_kw, physics.air_heat_kw(t.max_kw, t.liquid_fraction),
          physics.liquid_heat_kw(t.max_kw, t.liquid_fraction), t.u, t.weight_kg] for t in types],
        dtype=float,
    ).reshape(len(types), len(RESOURCES))


def rack_capacity(frame: pd.DataFrame) -> np.ndarray:
    """(R x 5) capacity left in each rack once its existing load is counted."""
    return np.column_stack([
        frame["power_kw"].to_numpy(float) - frame["existing_kw"].to_numpy(float),
        frame["air_kw"].to_numpy(float) - frame["existing_kw"].to_numpy(float),
        frame["liquid_kw"].to_numpy(float),
        frame["u"].to_numpy(float) - frame["existing_u"].to_numpy(float),
        frame["max_weight_kg"].to_numpy(float) - frame["existing_weight_kg"].to_numpy(float),
    ])


def max_count(cap: np.ndarray, use: np.ndarray) -> np.ndarray:
    """How many nodes of each type fit alone in capacity ``cap`` ((..., 5) and (T, 5) -> (..., T))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(use > 0, (cap[..., None, :] + physics.EPS) / np.where(use > 0, use, 1.0), np.inf)
    return np.floor(ratio.min(axis=-1)).clip(min=0).astype(np.int64)


def maximal_patterns(cap: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Every maximal fill of one rack with capacity ``cap`` (5,) by node types using ``use`` (T, 5).

    Returns an (P x T) integer array, sorted; a rack where nothing fits has no patterns (P = 0).
    The first T-1 counts are enumerated; the last is set to the most that still fits, then fills to
    which some node could still be added are dropped.
    """
    T = use.shape[0]
    if T == 0:
        return np.zeros((0, 0), dtype=np.int64)
    # the type that fits most often goes last: its count is computed, not enumerated
    order = np.argsort(max_count(cap, use), kind="stable")
    if not np.array_equal(order, np.arange(T)):
        pats = maximal_patterns_ordered(cap, use[order])
        out = np.empty_like(pats)
        out[:, order] = pats
        return out[np.lexsort(out.T[::-1])] if len(out) else out
    return maximal_patterns_ordered(cap, use)


def maximal_patterns_ordered(cap: np.ndarray, use: np.ndarray) -> np.ndarray:
    """:func:`maximal_patterns` with the types in the given order (the last one is not enumerated)."""
    T = use.shape[0]
    prefix = np.zeros((1, 0), dtype=np.int64)
    rem = cap[None, :].astype(float)
    for t in range(T - 1):
        m = max_count(rem, use[t:t + 1])[:, 0]
        total = int(m.sum() + len(m))
        if total > MAX_CANDIDATES:
            raise TooManyPatterns(f"{total:,} partial fills")
        reps = m + 1
        idx = np.repeat(np.arange(len(m)), reps)
        k = np.arange(total) - np.repeat(np.cumsum(reps) - reps, reps)
        prefix = np.column_stack([prefix[idx], k])
        rem = rem[idx] - k[:, None] * use[t]
    last = max_count(rem, use[T - 1:T])[:, 0]
    pats = np.column_stack([prefix, last])
    rem = rem - last[:, None] * use[T - 1]
    can_add = np.zeros(len(pats), dtype=bool)
    for t in range(T):
        can_add |= np.all(rem + physics.EPS >= use[t], axis=1)
    pats = pats[~can_add]
    pats = pats[pats.sum(axis=1) > 0]
    if len(pats) == 0:
        return np.zeros((0, T), dtype=np.int64)
    order = np.lexsort(pats.T[::-1])
    return pats[order]


@dataclass
class ProblemData:
    """Everything the model, the greedy baseline and the plan expansion need, as arrays."""

    facility: Facility
    types: list[NodeType]
    racks: pd.DataFrame
    """The facility's rack table plus ``cls`` (class index, -1 where no node fits)."""
    cap: np.ndarray
    """(R x 5) remaining capacity per rack."""
    use: np.ndarray
    """(T x 5) use per node of each type."""
    classes: pd.DataFrame
    """One row per class: ``hall, row_group, rack_type, cooling, count, rack_cost_usd, pattern_set``."""
    class_racks: list[np.ndarray]
    """Rack indices (into ``racks``) of each class, in facility order."""
    pattern_sets: list[np.ndarray]
    """Maximal patterns (P x T) of each distinct pattern set."""
    node_cost: np.ndarray
    """(T x K) annual cost of one node of type t in class k that the solver sees [USD]: cooling, plus
    energy and node price when ``mix_varies``."""
    energy_usd: np.ndarray
    """(T,) annual energy cost of one node [USD]."""
    mix_varies: bool
    """True for a target, where the solver chooses the node mix and so energy and price vary."""
    row_limits: list[tuple[str, str, float, list[int]]] = field(default_factory=list)
    """(hall, row, heat budget left [kW], classes in the row) for rows with ``cooling_kw``."""
    hall_limits: list[tuple[str, float, list[int]]] = field(default_factory=list)
    """(hall, heat budget left [kW], classes in the hall)."""

    @property
    def T(self) -> int:
        return len(self.types)

    @property
    def K(self) -> int:
        return len(self.classes)

    def __post_init__(self) -> None:
        self._set_of = self.classes["pattern_set"].to_numpy(dtype=np.int64) if len(self.classes) else np.zeros(0, int)
        self._count = self.classes["count"].to_numpy(dtype=np.int64) if len(self.classes) else np.zeros(0, int)

    def patterns(self, k: int) -> np.ndarray:
        """Maximal patterns (P x T) of class k."""
        return self.pattern_sets[int(self._set_of[k])]

    def count(self, k: int) -> int:
        """Racks in class k."""
        return int(self._count[k])

    def slots_max(self) -> np.ndarray:
        """(T x K) most nodes of type t a class could hold (every rack on its best pattern for t)."""
        out = np.zeros((self.T, self.K), dtype=np.int64)
        for k in range(self.K):
            pats = self.patterns(k)
            out[:, k] = pats.max(axis=0) * self.count(k)
        return out


def node_class_cost(fac: Facility, t: NodeType, cooling: str, mix_varies: bool) -> float:
    """Annual cost of one node of type ``t`` in a rack of cooling type ``cooling`` that the solver
    sees [USD]: its cooling, plus its energy and price when the node mix is chosen (a target). For a
    fixed set of nodes energy and price are constants, kept out so the gap measures what placement
    controls."""
    kwh = physics.annual_kwh(t.max_kw, fac.site.load_factor)
    air, liquid = physics.path_ppues(cooling, fac.ppues)
    if t.liquid_fraction > 0 and liquid is None:
        return float("nan")  # cannot be placed there; patterns never put it there
    cost = physics.cooling_usd(kwh, t.liquid_fraction, air, liquid, fac.site.electricity_usd_per_kwh)
    if mix_varies:
        cost += physics.energy_usd(kwh, fac.site.electricity_usd_per_kwh) + t.annual_cost_usd
    return cost


RELAXED = 1e6
"""Capacity given to a single-rack limit that diagnosis switches off."""


def build_problem_data(fac: Facility, types: list[NodeType], mix_varies: bool,
                       relax: tuple[str, ...] = (), naive: bool = False) -> ProblemData:
    """Group the facility's racks into classes and enumerate each class's maximal patterns.

    ``relax`` names single-rack limits (of :data:`RESOURCES`) to switch off: diagnosis uses it to find
    which limit keeps a demand from fitting. ``naive`` makes one class per hall, row, rack type and
    distinct existing load (no merging of rows, no sharing of pattern sets): the straightforward
    model that ``benchmarks/`` measures against.
    """
    frame = fac.racks.frame.copy()
    cap = rack_capacity(frame)
    for name in relax:
        cap[:, RESOURCES.index(name)] = RELAXED
    use = node_usage(types)

    # distinct capacity vectors -> maximal patterns -> distinct pattern sets
    cap_key = np.round(cap, 9)
    uniq, inverse = np.unique(cap_key, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    set_index: dict[bytes, int] = {}
    pattern_sets: list[np.ndarray] = []
    cap_to_set = np.empty(len(uniq), dtype=np.int64)
    for i, c in enumerate(uniq):
        pats = maximal_patterns(c, use)
        if len(pats) == 0:
            cap_to_set[i] = -1
            continue
        key = pats.tobytes() + bytes(str(pats.shape), "ascii")
        if key not in set_index:
            set_index[key] = len(pattern_sets)
            pattern_sets.append(pats)
        cap_to_set[i] = set_index[key]
    frame["pattern_set"] = cap_to_set[inverse]

    row_limit = {(h.name, r.name): r.cooling_kw for h in fac.halls for r in h.rows}
    frame["row_group"] = [row if naive or row_limit[(hall, row)] is not None else "" for hall, row in
                          zip(frame["hall"], frame["row"])]
    frame["cap_id"] = inverse if naive else 0
    frame["rack_cost_usd"] = np.where(frame["has_existing"].to_numpy(bool), 0.0,
                                      frame["annual_cost_usd"].to_numpy(float))

    usable = frame["pattern_set"].to_numpy() >= 0
    keys = ["hall", "row_group", "rack_type", "rack_cost_usd", "pattern_set", "cap_id"]
    frame["cls"] = -1
    if usable.any():
        sub = frame.loc[usable, keys]
        codes = sub.groupby(keys, sort=False).ngroup().to_numpy()
        frame.loc[usable, "cls"] = codes
    cls = frame["cls"].to_numpy()
    K = int(cls.max()) + 1 if usable.any() else 0
    order = np.argsort(cls, kind="stable")
    bounds = np.searchsorted(cls[order], np.arange(K + 1))
    class_racks = [order[bounds[k]:bounds[k + 1]] for k in range(K)]
    first = [int(r[0]) for r in class_racks]
    classes = pd.DataFrame({
        "hall": frame["hall"].to_numpy()[first] if K else [],
        "row_group": frame["row_group"].to_numpy()[first] if K else [],
        "rack_type": frame["rack_type"].to_numpy()[first] if K else [],
        "cooling": frame["cooling"].to_numpy()[first] if K else [],
        "count": np.array([len(r) for r in class_racks], dtype=np.int64),
        "rack_cost_usd": frame["rack_cost_usd"].to_numpy(float)[first] if K else [],
        "pattern_set": frame["pattern_set"].to_numpy()[first] if K else [],
    })

    node_cost = np.array([[node_class_cost(fac, t, c, mix_varies) for c in classes["cooling"]] for t in types],
                         dtype=float).reshape(len(types), K)
    kwh = np.array([physics.annual_kwh(t.max_kw, fac.site.load_factor) for t in types])
    energy = kwh * fac.site.electricity_usd_per_kwh

    # heat budgets left once existing load is counted (existing load is air heat)
    ex_row = frame.groupby(["hall", "row"], sort=False)["existing_kw"].sum().to_dict()
    ex_hall = frame.groupby("hall", sort=False)["existing_kw"].sum().to_dict()
    by_row: dict[tuple[str, str], list[int]] = {}
    by_hall: dict[str, list[int]] = {}
    for k, (hall, group) in enumerate(zip(classes["hall"], classes["row_group"])):
        by_hall.setdefault(hall, []).append(k)
        if group and row_limit[(hall, group)] is not None:
            by_row.setdefault((hall, group), []).append(k)
    row_limits = [
        (hall.name, row.name, row.cooling_kw - ex_row.get((hall.name, row.name), 0.0), by_row.get((hall.name, row.name), []))
        for hall in fac.halls for row in hall.rows if row.cooling_kw is not None
    ]
    hall_limits = [(hall.name, fac.hall_usable_kw(hall) - ex_hall.get(hall.name, 0.0), by_hall.get(hall.name, []))
                   for hall in fac.halls]

    return ProblemData(fac, list(types), frame, cap, use, classes, class_racks, pattern_sets, node_cost,
                       energy, mix_varies, row_limits, hall_limits)
