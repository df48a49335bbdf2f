"""Problem data: racks grouped into classes, the fill patterns each class allows, and every limit
above the rack as a linear group limit.

Identical racks make a per-rack model symmetric and slow (``docs/formulation.md``). Racks are grouped
into **classes**: racks in the same hall, the same row group (rows merge unless they have a
``cooling_kw`` limit, panels or a CDU group of their own), the same rack type, newly occupied or not,
the same rack cost and the same set of feasible fills. A **pattern** is a vector ``a`` (nodes of each
type in one rack) that fits one rack of a class: power (after the failures its scheme and the power
tree allow), air heat, liquid heat, U and weight, all within what existing load and rack overhead
leave, and form factor. Every single-rack limit is monotone, so every sub-vector of a feasible pattern
is feasible and only **maximal** patterns (to which no further node fits) are kept; racks with the
same maximal patterns admit exactly the same fills, which lets brownfield racks share a class.

Every limit above the rack (row and hall cooling, hall IT capacity, CDU groups, the plant, each
panel and source normally and after each single failure) is a :class:`GroupLimit`: a weighted sum
over classes of the nodes' power, air heat or liquid heat plus the overhead of the racks used, at
most a budget. The MILP, the first-fit baseline and diagnosis all read these.

Everything here is plain numpy (racks and classes in :class:`planner.table.Table`); PuLP lives in :mod:`planner.optimize.milp`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from planner import physics
from planner.inputs.facility import Facility
from planner.inputs.specs import NodeType
from planner.table import Table, group_ids, group_sums

if TYPE_CHECKING:
    from planner.inputs.demand import Demand
from planner.vocabulary import LIMIT_LABEL, RACK_LIMITS

COMPAT = 1e9
"""Capacity of a form-factor column for a rack of that form factor (usage is 1 per node)."""

MAX_CANDIDATES = 4_000_000
"""Most partial fills examined when enumerating one class's patterns before giving up."""

QUANTITY_COLUMN = {"power": 0, "air": 1, "liquid": 2}
"""Which column of the usage array a group limit sums."""


class TooManyPatterns(Exception):
    """Enumerating a class's patterns would examine more than :data:`MAX_CANDIDATES` fills."""


def form_factors(types: list[NodeType]) -> list[str]:
    """The form factors of the node types, in first-seen order: one compatibility column each."""
    return list(dict.fromkeys(getattr(t, "form_factor", "eia-19") for t in types))


def node_usage(types: list[NodeType]) -> np.ndarray:
    """(T x (5 + F)) what one node of each type uses: the :data:`RACK_LIMITS` (power, air heat, liquid
    heat, U, weight) and 1 in the column of its form factor."""
    ffs = form_factors(types)
    out = np.zeros((len(types), len(RACK_LIMITS) + len(ffs)))
    for i, t in enumerate(types):
        out[i, :5] = [t.max_kw, physics.air_heat_kw(t.max_kw, t.liquid_fraction),
                      physics.liquid_heat_kw(t.max_kw, t.liquid_fraction), t.u, t.weight_kg]
        out[i, 5 + ffs.index(getattr(t, "form_factor", "eia-19"))] = 1.0
    return out


def rack_capacity(frame: Table, ffs: list[str]) -> np.ndarray:
    """(R x (5 + F)) capacity left in each rack once its existing load and, for a rack the plan would
    newly occupy, its overhead are counted; a form-factor column is open only in racks of that form
    factor."""
    existing_air = frame["existing_kw"].astype(float) - frame["existing_liquid_kw"].astype(float)
    ov_kw = frame["overhead_kw"].astype(float)
    phys = np.column_stack([
        frame["power_kw"].astype(float) - frame["existing_kw"].astype(float) - ov_kw,
        frame["air_kw"].astype(float) - existing_air - ov_kw,
        frame["liquid_kw"].astype(float) - frame["existing_liquid_kw"].astype(float),
        frame["u"].astype(float) - frame["existing_u"].astype(float) - frame["overhead_u"].astype(float),
        frame["max_weight_kg"].astype(float) - frame["existing_weight_kg"].astype(float)
        - frame["overhead_weight_kg"].astype(float),
    ])
    ff = frame["form_factor"]
    compat = np.column_stack([np.where(ff == f, COMPAT, 0.0) for f in ffs]) if ffs else np.zeros((len(frame), 0))
    return np.column_stack([phys, compat])


def max_count(cap: np.ndarray, use: np.ndarray) -> np.ndarray:
    """How many nodes of each type fit alone in capacity ``cap`` ((..., C) and (T, C) -> (..., T))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(use > 0, (cap[..., None, :] + physics.EPS) / np.where(use > 0, use, 1.0), np.inf)
    return np.floor(ratio.min(axis=-1)).clip(min=0).astype(np.int64)


def maximal_patterns(cap: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Every maximal fill of one rack with capacity ``cap`` (C,) by node types using ``use`` (T, C).

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
class GroupLimit:
    """``sum_k weight[k] x (sum_t q[t] w[t, k] + overhead[k] r[k]) <= budget`` for one element above the
    racks, where ``q`` is the nodes' power, air heat or liquid heat (``quantity``) and ``overhead`` the
    kW each newly occupied rack of the class adds (0 for liquid heat)."""

    family: str
    """``row``, ``hall``, ``hall_it``, ``cdu``, ``plant``, ``panel`` or ``source``."""
    key: tuple
    """Which element (and, for panels and sources, which single failure or None), e.g.
    ``('hall-1', 'A')``, ``('UPS-3', 'UPS-4')``."""
    label: str
    """How messages name it: ``row hall-1/A cooling``, ``UPS-3 after losing UPS-4``."""
    limit_kw: float
    """The element's rating [kW]."""
    existing_kw: float
    """What existing load puts on it [kW]."""
    quantity: str
    """``power`` | ``air`` | ``liquid``."""
    classes: np.ndarray
    """Class indices in the sum."""
    weight: np.ndarray
    """Multiplier per class (1, or the share of a row's load a panel carries)."""
    aux: list[tuple[tuple[str, str], int, float]] = field(default_factory=list)
    """For a source, the rows with ``panels: auto``: (row, choice, share): the share of the row's load
    the source carries if the row takes that choice of lineups (the MILP's ``y`` variables)."""
    default: dict[int, float] = field(default_factory=dict)
    """Class -> weight of those rows under their default choice (what first fit plans with)."""

    @property
    def budget(self) -> float:
        """kW left for the plan [kW]."""
        return self.limit_kw - self.existing_kw

    @property
    def uniform(self) -> bool:
        return bool(len(self.weight) == 0 or np.all(np.abs(self.weight - 1.0) < 1e-12))


@dataclass
class Stripe:
    """A row whose lineups rackplan chooses (``panels: auto``)."""

    hall: str
    row: str
    choices: list[tuple[str, ...]]
    """Possible sets of lineups, one per feed path."""
    classes: list[int]
    """Classes of the row's racks."""
    existing_kw: float
    most_kw: float
    """The most the row could draw [kW]: every rack at its design capacity."""
    default: int
    """The choice first fit plans with (the rows take the choices in turn)."""


@dataclass
class ProblemData:
    """Everything the model, the greedy baseline and the plan expansion need, as arrays."""

    facility: Facility
    types: list[NodeType]
    racks: Table
    """The facility's rack table plus ``cls`` (class index, -1 where no node fits)."""
    cap: np.ndarray
    """(R x (5 + F)) remaining capacity per rack (:func:`rack_capacity`)."""
    use: np.ndarray
    """(T x (5 + F)) use per node of each type (:func:`node_usage`)."""
    classes: Table
    """One row per class: ``hall, row_group, rack_type, cooling, new, count, rack_cost_usd,
    overhead_kw, pattern_set``."""
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
    limits: list[GroupLimit] = field(default_factory=list)
    """Every limit above the rack."""
    stripes: list[Stripe] = field(default_factory=list)
    """Rows whose lineups the optimizer chooses."""

    @property
    def T(self) -> int:
        return len(self.types)

    @property
    def K(self) -> int:
        return len(self.classes)

    def __post_init__(self) -> None:
        self._set_of = self.classes["pattern_set"].astype(np.int64) if len(self.classes) else np.zeros(0, int)
        self._count = self.classes["count"].astype(np.int64) if len(self.classes) else np.zeros(0, int)

    @functools.cached_property
    def limits_of_class(self) -> list[list[tuple[int, float]]]:
        """For each class, the group limits its racks are in: (limit index, weight); rows with
        ``panels: auto`` count on their default lineups."""
        by_class: list[list[tuple[int, float]]] = [[] for _ in range(self.K)]
        for i, lim in enumerate(self.limits):
            for k, wgt in zip(np.asarray(lim.classes).tolist(), np.asarray(lim.weight, dtype=float).tolist()):
                by_class[int(k)].append((i, wgt))
            for k, wgt in lim.default.items():
                by_class[int(k)].append((i, float(wgt)))
        return by_class

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
            out[:, k] = self.patterns(k).max(axis=0) * self.count(k)
        return out

    def quantity(self, name: str) -> np.ndarray:
        """(T,) the nodes' power, air heat or liquid heat [kW]."""
        return self.use[:, QUANTITY_COLUMN[name]]

    def rack_cost(self) -> np.ndarray:
        """(K,) annual cost of one more rack of each class in use [USD]: its rack cost and, for a newly
        occupied rack, its overhead's energy and cooling."""
        return self.classes["rack_cost_usd"].astype(float) if self.K else np.zeros(0)


def node_class_cost(fac: Facility, t: NodeType, cooling: str, mix_varies: bool) -> float:
    """Annual cost of one node of type ``t`` in a rack of cooling type ``cooling`` that the solver
    sees [USD]: its cooling, plus its energy and price when the node mix is chosen (a target). For a
    fixed set of nodes energy and price are constants, kept out so the gap measures what placement
    controls. NaN where the node cannot go (a liquid share and no liquid path)."""
    air, liquid = physics.path_ppues(cooling, fac.ppues)
    if t.liquid_fraction > 0 and liquid is None:
        return float("nan")
    energy, cooling_usd = physics.node_energy_cooling_usd(t.max_kw, t.liquid_fraction, fac.site.load_factor,
                                                          fac.site.electricity_usd_per_kwh, air, liquid)
    return cooling_usd + (energy + t.annual_cost_usd if mix_varies else 0.0)


RELAXED = 1e6
"""Capacity given to a single-rack limit that diagnosis switches off."""


def rack_runs(frame: Table) -> list[tuple[int, ...]]:
    """Per rack, the lengths of the free runs its planned nodes may use when existing equipment with a
    position splits the free units (a node needs contiguous units); empty where the free units are one
    run (the usual case: overhead and unpositioned existing load sit at the top)."""
    out: list[tuple[int, ...]] = [()] * len(frame)
    pos = frame["existing_position"]
    parts = frame["existing_parts"]
    for i in np.flatnonzero(pos > 0):
        u = int(frame["u"][i])
        runs = physics.free_runs(u, physics.rack_taken_units(u, 0, list(parts[i])))
        if len(runs) > 1:
            out[i] = tuple(sorted(n for _, n in runs))
    return out


def _fit_runs(pats: np.ndarray, heights: np.ndarray, runs: tuple[int, ...]) -> np.ndarray:
    """The maximal patterns among the sub-fills of ``pats`` whose nodes fit the free ``runs`` as whole
    blocks of units (every sub-fill of a fitting fill fits, so this is still a monotone limit)."""
    runs_list = [(0, n) for n in runs]
    feasible: set[tuple[int, ...]] = set()
    seen: set[tuple[int, ...]] = set()
    frontier = [tuple(int(x) for x in p) for p in pats]
    while frontier:
        p = frontier.pop()
        if p in seen or sum(p) == 0:
            continue
        seen.add(p)
        if physics.fits_runs([int(heights[t]) for t, n in enumerate(p) for _ in range(n)], runs_list):
            feasible.add(p)
            continue
        frontier += [p[:t] + (p[t] - 1,) + p[t + 1:] for t in range(len(p)) if p[t] > 0]
    maximal = [p for p in feasible if not any(q != p and all(a >= b for a, b in zip(q, p)) for q in feasible)]
    if not maximal:
        return np.zeros((0, pats.shape[1]), dtype=np.int64)
    out = np.array(sorted(maximal), dtype=np.int64)
    return out


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, axis=0, return_inverse=True)`` for a 2-D float array: the distinct rows in
    lexicographic order, and the index of each row among them (one lexsort; ``np.unique`` with ``axis``
    sorts a structured view, several times slower on a campus's 28,800 racks)."""
    if len(a) == 0:
        return a.copy(), np.zeros(0, dtype=np.int64)
    order = np.lexsort(a.T[::-1])
    ranked = a[order]
    new = np.ones(len(a), dtype=bool)
    new[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
    inverse = np.empty(len(a), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ranked[new], inverse


SHARED_FILLS = 50_000
"""Most fills of the roomiest rack for :class:`SharedFills` (beyond it, each capacity is enumerated)."""


class SharedFills:
    """Every fill (including partial ones) of the roomiest capacity among many, enumerated once, so that
    the maximal patterns of each capacity are found by filtering instead of by enumerating again. A
    facility with existing load in hundreds of racks has hundreds of distinct capacities, each below
    the roomiest one in every resource; a fill fits a capacity exactly when it fits it here.

    :meth:`maximal` gives the same patterns, in the same (lexicographic) order, as
    :func:`maximal_patterns`: the fills are generated in lexicographic order and only filtered, and a
    fill is kept when it fits (``load <= cap + EPS``) and no single node more would
    (``rem + EPS >= use[t]``), the tests :func:`maximal_patterns_ordered` applies."""

    def __init__(self, fills: np.ndarray, use: np.ndarray):
        self.fills = fills
        self.load = fills @ use
        self.use = use

    @classmethod
    def build(cls, caps: np.ndarray, use: np.ndarray) -> SharedFills | None:
        """For capacities ``caps`` (N, C), or None when there are few of them or too many fills."""
        T = use.shape[0]
        if T == 0 or len(caps) < 8:
            return None
        most = max_count(caps.max(axis=0), use)
        if float(np.prod(most.astype(float) + 1)) > SHARED_FILLS:
            return None
        fills = np.indices(tuple(int(m) + 1 for m in most)).reshape(T, -1).T.astype(np.int64)
        return cls(fills[1:], use)  # without the empty fill (first in lexicographic order)

    def maximal(self, cap: np.ndarray) -> np.ndarray:
        fits = np.all(self.load <= cap + physics.EPS, axis=1)
        rem = cap - self.load[fits]
        can_add = np.zeros(len(rem), dtype=bool)
        for t in range(self.use.shape[0]):
            can_add |= np.all(rem + physics.EPS >= self.use[t], axis=1)
        return self.fills[fits][~can_add]


def _pattern_sets(cap: np.ndarray, use: np.ndarray, runs: list[tuple[int, ...]] | None = None
                  ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct capacity vectors (and free-run shapes) -> maximal patterns -> distinct pattern sets.
    Returns the pattern set of each rack (-1 where nothing fits) and the sets."""
    shapes = {s: i for i, s in enumerate(dict.fromkeys(runs or []))}
    shape_of = np.array([shapes[s] for s in runs], dtype=float) if runs else np.zeros(len(cap))
    keyed = np.column_stack([np.round(cap, 9), shape_of])
    uniq, inverse = unique_rows(keyed)
    by_id = {i: s for s, i in shapes.items()}
    set_index: dict[bytes, int] = {}
    pattern_sets: list[np.ndarray] = []
    cap_to_set = np.empty(len(uniq), dtype=np.int64)
    shared = SharedFills.build(uniq[:, :-1], use)
    for i, c in enumerate(uniq):
        pats = shared.maximal(c[:-1]) if shared is not None else maximal_patterns(c[:-1], use)
        shape = by_id.get(int(c[-1]), ())
        if len(pats) and shape:
            pats = _fit_runs(pats, use[:, 3], shape)
        if len(pats) == 0:
            cap_to_set[i] = -1
            continue
        key = pats.tobytes() + bytes(str(pats.shape), "ascii")
        if key not in set_index:
            set_index[key] = len(pattern_sets)
            pattern_sets.append(pats)
        cap_to_set[i] = set_index[key]
    return cap_to_set[inverse], pattern_sets


def unavailable_racks(fac: Facility, frame: Table, demand: "Demand | None") -> np.ndarray:
    """Racks no node may go into: the facility's ``reserved`` and, from the demand's placement
    controls, its ``reserved``, its ``exclude``, and everything outside its ``only``."""
    from planner.inputs.facility import in_scopes

    off = in_scopes(frame, fac.reserved)
    if demand is not None:
        off |= in_scopes(frame, demand.reserved) | in_scopes(frame, demand.exclude)
        if demand.only:
            off |= ~in_scopes(frame, demand.only)
    return off


def build_problem_data(fac: Facility, types: list[NodeType], mix_varies: bool,
                       relax: tuple[str, ...] = (), naive: bool = False,
                       demand: "Demand | None" = None) -> ProblemData:
    """Group the facility's racks into classes, enumerate each class's maximal patterns and state every
    limit above the rack.

    ``relax`` names single-rack limits (of :data:`RACK_LIMITS`) to switch off: diagnosis uses it to find
    which limit keeps a demand from fitting. ``naive`` makes one class per hall, row, rack type and
    distinct existing load (no merging of rows, no sharing of pattern sets): the straightforward
    model that ``benchmarks/`` measures against. ``demand`` brings its placement controls: racks it
    may not use take nothing, and ``together: row`` keeps every row its own class.
    """
    frame = fac.racks.frame.copy()
    ffs = form_factors(types)
    cap = rack_capacity(frame, ffs)
    cap[unavailable_racks(fac, frame, demand)] = 0.0
    for name in relax:
        cap[:, RACK_LIMITS.index(name)] = RELAXED
    use = node_usage(types)
    rack_set, pattern_sets = _pattern_sets(cap, use, rack_runs(frame))
    frame["pattern_set"] = rack_set

    own_group = {(h.name, r.name) for h in fac.halls for r in h.rows if r.cooling_kw is not None}
    rows_of = frame["row"]
    halls_of = frame["hall"]
    per_row = naive or (demand is not None and demand.together == "row")
    frame["row_group"] = [row if per_row or (hall, row) in own_group else "" for hall, row in zip(halls_of, rows_of)]
    frame["cap_id"] = unique_rows(np.round(cap, 9))[1] if naive else 0
    new = ~frame["has_existing"].astype(bool)
    frame["new"] = new
    usd = fac.site.electricity_usd_per_kwh
    ov_usd = np.zeros(len(frame))
    cooling_of = frame["cooling"]
    for c in np.unique(cooling_of):
        air, _ = physics.path_ppues(c, fac.ppues)
        sel = cooling_of == c
        energy_usd, cooling_usd = physics.overhead_energy_cooling_usd(frame["overhead_kw"].astype(float)[sel], usd, air)
        ov_usd[sel] = energy_usd + cooling_usd
    frame["rack_cost_usd"] = np.where(new, frame["annual_cost_usd"].astype(float) + ov_usd, 0.0)

    usable = frame["pattern_set"] >= 0
    keys = ["hall", "row_group", "panels", "cdu", "rack_type", "new", "rack_cost_usd", "pattern_set", "cap_id"]
    cls = np.full(len(frame), -1, dtype=np.int64)
    if usable.any():  # a class per distinct key, numbered in facility order
        cls[usable] = group_ids(*(frame[k][usable] for k in keys))[0]
    frame["cls"] = cls
    K = int(cls.max()) + 1 if usable.any() else 0
    order = np.argsort(cls, kind="stable")
    bounds = np.searchsorted(cls[order], np.arange(K + 1))
    class_racks = [order[bounds[k]:bounds[k + 1]] for k in range(K)]
    first = np.array([int(r[0]) for r in class_racks], dtype=np.int64)
    pick = frame.rows(first)
    classes = Table({
        "hall": pick["hall"], "row_group": pick["row_group"],
        "rack_type": pick["rack_type"], "cooling": pick["cooling"],
        "new": pick["new"].astype(bool),
        "count": np.array([len(r) for r in class_racks], dtype=np.int64),
        "rack_cost_usd": pick["rack_cost_usd"].astype(float),
        "overhead_kw": pick["overhead_kw"].astype(float),
        "pattern_set": pick["pattern_set"],
    })

    node_cost = np.array([[node_class_cost(fac, t, c, mix_varies) for c in classes["cooling"]] for t in types],
                         dtype=float).reshape(len(types), K)
    energy = np.array([physics.energy_usd(physics.annual_kwh(t.max_kw, fac.site.load_factor), usd) for t in types])
    stripes = stripe_rows(fac, frame, class_racks)
    limits = group_limits(fac, frame, class_racks, stripes)
    return ProblemData(fac, list(types), frame, cap, use, classes, class_racks, pattern_sets, node_cost,
                       energy, mix_varies, limits, stripes)


# --- limits above the rack --------------------------------------------------------------------------

def _rows_of_classes(frame: Table, class_racks: list[np.ndarray]) -> dict[tuple[str, str], list[int]]:
    """(hall, row) -> classes with racks in that row."""
    out: dict[tuple[str, str], list[int]] = {}
    hall, row = frame["hall"], frame["row"]
    for k, idx in enumerate(class_racks):
        for key in dict.fromkeys(zip(hall[idx], row[idx])):
            out.setdefault(key, []).append(k)
    return out


def _limit(family: str, key: tuple, label: str, limit_kw: float, existing_kw: float, quantity: str,
           weights: dict[int, float]) -> GroupLimit:
    ks = sorted(weights)
    return GroupLimit(family, key, label, float(limit_kw), float(existing_kw), quantity,
                      np.array(ks, dtype=np.int64), np.array([weights[k] for k in ks], dtype=float))


def stripe_rows(fac: Facility, frame: Table, class_racks: list[np.ndarray]) -> list[Stripe]:
    """The ``panels: auto`` rows, with the lineup choices each may take."""
    if not fac.striped_rows():
        return []
    by_row = _rows_of_classes(frame, class_racks)
    out = []
    for i, (hall, row) in enumerate(fac.striped_rows()):
        sel = (frame["hall"] == hall) & (frame["row"] == row.name)
        choices = fac.stripe_choices(row)
        out.append(Stripe(hall, row.name, choices, by_row.get((hall, row.name), []),
                          float(frame["existing_kw"].astype(float)[sel].sum()),
                          float(frame["power_kw"].astype(float)[sel].sum()), i % len(choices)))
    return out


def stripe_share(choice: tuple[str, ...], source: str, failed: str | None) -> float:
    """Share of a striped row's load ``source`` carries when the row takes ``choice`` (one lineup per
    path) and ``failed`` is lost: each surviving path ``1 / surviving``."""
    lost = sum(1 for s in choice if s == failed)
    if lost >= len(choice):
        return 0.0
    return sum(1 for s in choice if s == source and s != failed) / (len(choice) - lost)


def group_limits(fac: Facility, frame: Table, class_racks: list[np.ndarray],
                 stripes: list[Stripe] | None = None) -> list[GroupLimit]:
    """Every limit above the rack, in the order the model states them (CONTRACT.md):

    * ``row``: a row with ``cooling_kw`` rejects at most that much heat;
    * ``hall``: the hall's heat (air heat only with CDUs) within its non-redundant cooling units;
    * ``hall_it``: a hall with ``it_kw`` draws at most that;
    * ``cdu``: a CDU group's rows' liquid heat within its non-redundant units;
    * ``plant``: all heat within the plant's non-redundant units;
    * ``panel``/``source``: each element's load in normal operation and after each single failure
      that moves load onto it (:func:`power_limits`).

    A class's racks belong to one hall and, where a limit is per row, to rows that share it, so a
    class is in a limit with weight 1 (or, for power elements, the share of its row's load).
    """
    by_row = _rows_of_classes(frame, class_racks)
    row_of, row_keys = frame.groups("hall", "row")
    kw = group_sums(row_of, len(row_keys), frame["existing_kw"])
    liquid = group_sums(row_of, len(row_keys), frame["existing_liquid_kw"])
    ex_row = {key: (float(a), float(b)) for key, a, b in zip(row_keys, kw.tolist(), liquid.tolist())}
    out: list[GroupLimit] = []

    def ex(hall: str, rows: list[str], what: str) -> float:
        total = 0.0
        for r in rows:
            kw, liquid = ex_row[(hall, r)]
            total += {"power": kw, "air": kw - liquid, "liquid": liquid}[what]
        return total

    for hall in fac.halls:
        names = [r.name for r in hall.rows]
        in_hall = {k: 1.0 for r in names for k in by_row.get((hall.name, r), [])}
        for row in hall.rows:
            if row.cooling_kw is not None:
                out.append(_limit("row", (hall.name, row.name), f"row {hall.name}/{row.name} cooling",
                                  row.cooling_kw, ex(hall.name, [row.name], "power"), "power",
                                  {k: 1.0 for k in by_row.get((hall.name, row.name), [])}))
        what = "air" if hall.cdus else "power"
        out.append(_limit("hall", (hall.name,), f"hall {hall.name} cooling" + (" (air)" if hall.cdus else ""),
                          fac.hall_usable_kw(hall), ex(hall.name, names, what), what, in_hall))
        if hall.it_kw is not None:
            out.append(_limit("hall_it", (hall.name,), f"hall {hall.name} IT capacity", hall.it_kw,
                              ex(hall.name, names, "power"), "power", in_hall))
        for group in hall.cdus or []:
            ks = {k: 1.0 for r in group.rows for k in by_row.get((hall.name, r), [])}
            out.append(_limit("cdu", (hall.name, group.name), f"CDU group {hall.name}/{group.name}",
                              fac.usable_kw(group), ex(hall.name, group.rows, "liquid"), "liquid", ks))
    if fac.plant is not None:
        every = {k: 1.0 for k in range(len(class_racks))}
        out.append(_limit("plant", ("plant",), "heat rejection plant", fac.usable_kw(fac.plant),
                          float(frame["existing_kw"].sum()), "power", every))
    out += power_limits(fac, by_row, ex_row, stripes or [])
    return out


def power_limits(fac: Facility, by_row: dict[tuple[str, str], list[int]],
                 ex_row: dict[tuple[str, str], tuple[float, float]], stripes: list[Stripe]) -> list[GroupLimit]:
    """Each source and panel within its ``kw`` in normal operation, and after each single failure of
    another source or panel that moves load onto it: a failure can only move load onto an element
    through a row with paths on both, so only those failures are looked at, and a pair where no row's
    share on the element grows is implied by the normal-operation limit and left out. Sources first,
    then panels. A source also carries the rows with ``panels: auto``, through the share each choice of
    lineups would give it (the MILP chooses one); their own panels are the row's alone. Limits that
    others imply are left out (:func:`_without_implied`, :func:`_distinct`)."""
    if fac.power is None:
        return []
    out = []
    for name, kind, kw in fac.power_elements():
        mine: list[GroupLimit] = []
        rows = fac.rows_on[name]
        normal = {(h, row.name): fac.path_share(row, name) for h, row in rows}
        failures = dict.fromkeys(f for _, row in rows for p in row.path_panels for f in (p, fac.panel_source[p]))
        striped = [s for s in stripes if any(name in c for c in s.choices)] if kind == "source" else []
        for s in striped:
            failures.update(dict.fromkeys(x for c in s.choices if name in c for x in c))
        for failed in [None] + list(failures):
            if failed is not None:
                if failed == name or fac.panel_source.get(name) == failed:
                    continue  # the element itself is lost
                share = {(h, row.name): fac.path_share(row, name, failed) for h, row in rows}
                grows = any(share[key] > normal[key] + 1e-12 for key in share) or any(
                    stripe_share(c, name, failed) > stripe_share(c, name, None) + 1e-12
                    for s in striped for c in s.choices)
                if not grows:
                    continue
            else:
                share = normal
            weights: dict[int, float] = {}
            existing = 0.0
            for key, sh in share.items():
                if sh <= 0:
                    continue
                existing += sh * ex_row[key][0]
                for k in by_row.get(key, []):
                    weights[k] = sh
            label = f"{name} in normal operation" if failed is None else f"{name} after losing {failed}"
            lim = _limit(kind, (name, failed), label, kw, existing, "power", weights)
            for s in striped:
                for i, c in enumerate(s.choices):
                    sh = stripe_share(c, name, failed)
                    if sh > 0:
                        lim.aux.append(((s.hall, s.row), i, sh))
                        if i == s.default:
                            lim.default.update({k: sh for k in s.classes})
            mine.append(lim)
        out += _without_implied(mine)
    return _distinct(out)


def _distinct(limits: list[GroupLimit]) -> list[GroupLimit]:
    """The limits without repeats: two limits with the same classes, shares, striping shares and
    budget are one row of the model, whichever elements and failures they came from (busway BW-1
    after losing its partner BW-2 and BW-2 after losing BW-1, both 800 kW, on the same row). The first
    is kept and names the limit in messages."""
    kept, seen = [], set()
    for lim in limits:
        key = (lim.classes.tobytes(), lim.weight.tobytes(), lim.budget, tuple(lim.aux))
        if key not in seen:
            seen.add(key)
            kept.append(lim)
    return kept


def _without_implied(limits: list[GroupLimit]) -> list[GroupLimit]:
    """One element's limits without those another of them implies: a limit is implied by another whose
    shares of every class, striping shares and existing load are each at least as large (of two alike,
    such as losing a busway's partner and losing the partner's UPS, the first is kept): every term is a
    count times a share, all counts are at least 0, and the rating is the element's. So the normal-operation
    limit goes whenever a failure moves load onto the element (a surviving element's share of a row
    never falls when something else fails), and a lost busway's limit goes when losing its whole UPS
    loads the element at least as much. The plans that satisfy what is left are exactly those that
    satisfy all; on ``ai-building.yaml`` 165 power limits become 25, which the MILP and first fit check.
    Messages name the limits kept: the normal and worst loads of every element are the checker's,
    which enumerates every failure."""
    if len(limits) < 2:
        return limits
    shares = [(dict(zip(lim.classes.tolist(), lim.weight.tolist())), {(key, i): sh for key, i, sh in lim.aux})
              for lim in limits]

    def implies(a: int, b: int) -> bool:  # limit a implies limit b
        (wa, xa), (wb, xb) = shares[a], shares[b]
        return (limits[a].existing_kw >= limits[b].existing_kw
                and all(wa.get(k, 0.0) >= w for k, w in wb.items())
                and all(xa.get(k, 0.0) >= sh for k, sh in xb.items()))

    return [lim for b, lim in enumerate(limits)
            if not any(a != b and implies(a, b) and (a < b or not implies(b, a)) for a in range(len(limits)))]


def limit_label(family: str) -> str:
    """What a family of limits is called in messages."""
    return LIMIT_LABEL.get(family, family)
