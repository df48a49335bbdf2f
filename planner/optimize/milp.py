"""The integer program, in PuLP. It reads like a table of contents: :func:`build_problem` calls one
function per family of variables and constraints, each documented with the rule it enforces and
where the rule comes from (``docs/formulation.md`` has the mathematics).

Variables (``docs/formulation.md`` section 2):

* ``z[k, p]`` - integer: racks of class ``k`` filled to maximal pattern ``p``;
* ``r[k]`` - integer: racks of class ``k`` used (the sum of its ``z``), which the solver branches on;
* ``w[t, k]`` - integer: nodes of type ``t`` placed in class ``k``.

Single-rack limits (power under 2N or N, air heat, liquid heat, U, weight, liquid only where a loop
exists) are inside the patterns (:mod:`planner.optimize.classes`); row and hall cooling and the demand are
sums over ``w``; rack costs sit on ``z`` and per-node costs on ``w``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pulp

from planner.inputs.demand import Demand
from planner.optimize.first_fit import metric_per_node
from planner.optimize.classes import ProblemData


def sanitize(text: str) -> str:
    """A name fragment PuLP will not rewrite (it silently maps ``-+[] ->/`` to ``_``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


@dataclass
class Model:
    """A built problem and its variables, indexed for reading the solution back."""

    prob: pulp.LpProblem
    data: ProblemData
    z: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    r: dict[int, pulp.LpVariable] = field(default_factory=dict)
    w: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    maximize_count: bool = False
    elastic: bool = False
    """Diagnosis mode: row and hall heat may exceed their limits (``slack``, kW) and the demand may
    fall short (``short``), both at a price, so an infeasible demand still yields a solution that says
    what runs out and by how much."""
    slack: dict[str, pulp.LpVariable] = field(default_factory=dict)
    short: dict[str, pulp.LpVariable] = field(default_factory=dict)
    heat: dict[str, pulp.LpConstraint] = field(default_factory=dict)
    """Row and hall heat constraints by name (diagnosis reads their values)."""

    def set_start(self, z0: dict[tuple[int, int], int], w0: np.ndarray) -> None:
        """Give the solver a starting solution (a warm start)."""
        for key, var in self.z.items():
            var.setInitialValue(z0.get(key, 0))
        for k, var in self.r.items():
            var.setInitialValue(sum(n for (kk, _p), n in z0.items() if kk == k))
        for (t, k), var in self.w.items():
            var.setInitialValue(int(w0[t, k]))

    def values(self) -> tuple[dict[tuple[int, int], int], np.ndarray]:
        """The solution as integer ``z`` counts and a (T x K) ``w`` matrix."""
        z = {key: int(round(var.value() or 0.0)) for key, var in self.z.items()}
        w = np.zeros((self.data.T, self.data.K), dtype=np.int64)
        for (t, k), var in self.w.items():
            w[t, k] = int(round(var.value() or 0.0))
        return {k: v for k, v in z.items() if v}, w


def add_pattern_vars(m: Model) -> None:
    """``z[k, p]`` in 0..count[k]: racks of class k that take maximal pattern p."""
    d = m.data
    for k in range(d.K):
        n = d.count(k)
        for p in range(len(d.patterns(k))):
            m.z[k, p] = m.prob.add_variable(f"z_{k}_{p}", lowBound=0, upBound=n, cat=pulp.LpInteger)


def add_rack_count_vars(m: Model) -> None:
    """``r[k] = sum_p z[k, p]`` in 0..count[k]: racks of class k in use; its upper bound is the rule
    that a class cannot use more racks than it has. Stated
    explicitly because branching on rack counts, and the rounding cuts below, close gaps that
    branching on individual patterns (many of them symmetric) does not."""
    d = m.data
    for k in range(d.K):
        n = d.count(k)
        m.r[k] = m.prob.add_variable(f"r_{k}", lowBound=0, upBound=n, cat=pulp.LpInteger)
        terms = [(m.z[k, p], 1) for p in range(len(d.patterns(k)))] + [(m.r[k], -1)]
        m.prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintEQ,
                                               f"class_racks_used__{k}", 0))


def node_upper_bounds(m: Model) -> dict[tuple[int, int], int]:
    """Most nodes of type t that class k can take: its slots, and (unless the model is elastic) the
    heat its row and hall could still absorb from nodes of that type alone."""
    d = m.data
    slots = d.slots_max()
    bound = {(t, k): int(slots[t, k]) for k in range(d.K) for t in range(d.T) if slots[t, k] > 0}
    if m.elastic:
        return bound
    max_kw = d.use[:, 0]
    for limits in ([(budget, ks) for _h, _r, budget, ks in d.row_limits],
                   [(budget, ks) for _h, budget, ks in d.hall_limits]):
        for budget, ks in limits:
            for k in ks:
                for t in range(d.T):
                    if (t, k) in bound:
                        bound[t, k] = min(bound[t, k], int(math.floor((budget + 1e-6) / max_kw[t])))
    return bound


def add_node_vars(m: Model) -> None:
    """``w[t, k]`` in 0..:func:`node_upper_bounds`: nodes of type t in class k (only where type t
    fits class k)."""
    for (t, k), ub in node_upper_bounds(m).items():
        m.w[t, k] = m.prob.add_variable(f"w_{t}_{k}", lowBound=0, upBound=max(ub, 0), cat=pulp.LpInteger)


def add_class_slot_limits(m: Model) -> None:
    """Nodes of a type in a class fit the slots its chosen patterns offer:
    ``w[t, k] <= sum_p a_p[t] z[k, p]``. Any sub-fill of a maximal pattern fits one rack, because every
    single-rack limit is monotone (fewer nodes always still fit)."""
    d = m.data
    for (t, k), wv in m.w.items():
        pats = d.patterns(k)
        terms = [(wv, 1)] + [(m.z[k, p], -int(pats[p, t])) for p in range(len(pats)) if pats[p, t] > 0]
        m.prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE,
                                               f"class_slots_max__{t}_{k}", 0))


def _heat_terms(m: Model, classes: list[int], name: str) -> list[tuple[pulp.LpVariable, float]]:
    max_kw = m.data.use[:, 0]
    terms = [(m.w[t, k], float(max_kw[t])) for k in classes for t in range(m.data.T) if (t, k) in m.w]
    if m.elastic and terms:
        m.slack[name] = m.prob.add_variable(f"slack_{name}", lowBound=0)
        terms.append((m.slack[name], -1.0))
    return terms


def add_row_heat_limits(m: Model) -> None:
    """A row with ``cooling_kw`` rejects at most that much heat, existing load included (CONTRACT.md:
    all electrical power becomes heat; in-row coolers / a row CDU)."""
    for i, (hall, row, budget, classes) in enumerate(m.data.row_limits):
        name = f"row_heat_max__{i}_{sanitize(hall)}_{sanitize(row)}"
        terms = _heat_terms(m, classes, name)
        if terms:
            m.heat[name] = pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE, name, budget)
            m.prob.addConstraint(m.heat[name])


def add_hall_heat_limits(m: Model) -> None:
    """A hall rejects at most ``(count - redundant) x unit_kw``, existing load included (N+k cooling:
    the hall must stay cool with its redundant units lost; Uptime Institute Tier II-IV N+1 practice)."""
    for i, (hall, budget, classes) in enumerate(m.data.hall_limits):
        name = f"hall_heat_max__{i}_{sanitize(hall)}"
        terms = _heat_terms(m, classes, name)
        if terms:
            m.heat[name] = pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE, name, budget)
            m.prob.addConstraint(m.heat[name])


def _demand_row(m: Model, name: str, terms: list, rhs: float) -> None:
    if m.elastic:
        m.short[name] = m.prob.add_variable(f"short_{name}", lowBound=0)
        terms = terms + [(m.short[name], 1.0)]
    m.prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintGE, name, rhs))


def add_demand(m: Model, demand: Demand, fill_count: int | None) -> None:
    """The demand, written as ``>=`` (exact at the optimum because every node costs something; a
    surplus is trimmed when the plan is read back): node counts per type; or a target summed over
    the candidates; or, for fill's second phase, at least the most nodes phase one found."""
    d = m.data
    if demand.kind == "nodes":
        for t, ty in enumerate(d.types):
            terms = [(v, 1) for (tt, _k), v in m.w.items() if tt == t]
            _demand_row(m, f"demand_nodes_min__{t}_{sanitize(ty.id)}", terms, demand.nodes[ty.id])
    elif demand.kind == "target":
        per = metric_per_node(d, demand.metric)  # type: ignore[arg-type]
        _demand_row(m, f"demand_{demand.metric}_min", [(v, float(per[t])) for (t, _k), v in m.w.items()],
                    demand.amount)
    elif fill_count is not None:
        _demand_row(m, "fill_count_min", [(v, 1) for v in m.w.values()], fill_count)


@dataclass(frozen=True)
class Cut:
    """A valid inequality ``sum(coef x var) <= rhs``."""

    name: str
    terms: tuple[tuple[pulp.LpVariable, float], ...]
    rhs: float


def _rounding_cut(name: str, w_terms: list, r_terms: list, per_rack: int, most: int) -> Cut | None:
    """``W <= rem x R + (a - rem)(q - 1)`` for integers W <= a R and W <= U, where q = ceil(U / a) and
    rem = U - a(q - 1) (a mixed-integer rounding cut). If R >= q the right side is at least U; if
    R <= q - 1 it is at least a R. So it cuts off no integer point, only fractional racks."""
    a, U = per_rack, most
    if a <= 0 or U <= 0:
        return None
    q = math.ceil(U / a)
    rem = U - a * (q - 1)
    if not 0 < rem < a:
        return None
    return Cut(name, tuple([(v, 1.0) for v in w_terms] + [(v, -float(rem)) for v in r_terms]),
               float((a - rem) * (q - 1)))


def rounding_cuts(m: Model) -> list[Cut]:
    """Valid inequalities that make whole racks count in the LP bound (docs/formulation.md, "Rounding
    cuts"). For one class, and for every row and hall holding several classes, and each node type t:
    the nodes W of type t there are at most ``a`` per rack in use (``a`` the most any of its
    patterns holds) and at most ``U`` (slots, row and hall heat); :func:`_rounding_cut` then says a
    fractional last rack is not enough. Without them CBC proved some hundred-rack plans only after
    minutes; with them, in well under a second."""
    d = m.data
    ub = {key: int(v.upBound) for key, v in m.w.items()}
    cuts = []
    for k in range(d.K):
        pats = d.patterns(k)
        for t in range(d.T):
            if (t, k) in m.w:
                cuts.append(_rounding_cut(f"class_round__{t}_{k}", [m.w[t, k]], [m.r[k]],
                                          int(pats[:, t].max()), ub[t, k]))
    if not m.elastic:
        max_kw = d.use[:, 0]
        groups = [(f"row_round__{i}", budget, ks) for i, (_h, _r, budget, ks) in enumerate(d.row_limits)]
        groups += [(f"hall_round__{i}", budget, ks) for i, (_h, budget, ks) in enumerate(d.hall_limits)]
        for name, budget, ks in groups:
            if len(ks) < 2:
                continue
            for t in range(d.T):
                kk = [k for k in ks if (t, k) in m.w]
                if not kk:
                    continue
                a = max(int(d.patterns(k)[:, t].max()) for k in kk)
                most = min(sum(ub[t, k] for k in kk), int(math.floor((budget + 1e-6) / max_kw[t])))
                cuts.append(_rounding_cut(f"{name}_{t}", [m.w[t, k] for k in kk], [m.r[k] for k in kk], a, most))
    return [c for c in cuts if c is not None]


def add_cuts(m: Model, cuts: list[Cut]) -> None:
    for c in cuts:
        m.prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(list(c.terms)), pulp.LpConstraintLE,
                                               c.name, c.rhs))


SHORT_PENALTY = 1e7
"""Diagnosis: price of one unit of demand left unmet, far above a kW of extra cooling (price 1)."""


def set_objective(m: Model) -> None:
    """Least annual cost that the placement controls: each node's cooling (by heat path and pPUE) and
    price, plus energy when the mix is chosen (a target); each newly occupied rack's annual cost. The
    constant energy of a fixed set of nodes is added back outside the solver, so the gap is honest
    on the part the placement controls. For fill's first phase: the most nodes."""
    d = m.data
    if m.maximize_count:
        m.prob.setObjective(pulp.LpAffineExpression([(v, 1) for v in m.w.values()]))
        return
    if m.elastic:
        m.prob.setObjective(pulp.LpAffineExpression(
            [(v, SHORT_PENALTY) for v in m.short.values()] + [(v, 1.0) for v in m.slack.values()]))
        return
    terms = [(v, float(d.node_cost[t, k])) for (t, k), v in m.w.items()]
    cost = d.classes["rack_cost_usd"].to_numpy(float)
    terms += [(v, float(cost[k])) for (k, _p), v in m.z.items() if cost[k] != 0]
    m.prob.setObjective(pulp.LpAffineExpression(terms))


def build_problem(data: ProblemData, demand: Demand, maximize_count: bool = False,
                  fill_count: int | None = None, elastic: bool = False, cuts: bool = True) -> Model:
    """The whole program: variables, then constraints, then the objective. ``cuts=False`` leaves out
    the rounding cuts (for measuring what they do)."""
    sense = pulp.LpMaximize if maximize_count else pulp.LpMinimize
    m = Model(pulp.LpProblem("rackplan", sense), data, maximize_count=maximize_count, elastic=elastic)
    add_pattern_vars(m)
    add_rack_count_vars(m)
    add_node_vars(m)
    add_class_slot_limits(m)
    add_row_heat_limits(m)
    add_hall_heat_limits(m)
    add_demand(m, demand, fill_count)
    if cuts:
        add_cuts(m, rounding_cuts(m))
    set_objective(m)
    return m


def start_from_counts(data: ProblemData, counts: np.ndarray) -> tuple[dict[tuple[int, int], int], np.ndarray]:
    """Express an (R x T) plan (e.g. the greedy one) as model values: each used rack on a maximal
    pattern that covers its fill."""
    z: dict[tuple[int, int], int] = {}
    w = np.zeros((data.T, data.K), dtype=np.int64)
    used = np.flatnonzero(counts.sum(axis=1))
    if len(used) == 0:
        return z, w
    cls = data.racks["cls"].to_numpy()[used]
    # identical (class, fill) racks are looked up once
    keys, inverse, times = np.unique(np.column_stack([cls, counts[used]]), axis=0, return_inverse=True,
                                     return_counts=True)
    for key, n in zip(keys, times):
        k, fill = int(key[0]), key[1:]
        p = int(np.flatnonzero(np.all(data.patterns(k) >= fill, axis=1))[0])
        z[k, p] = z.get((k, p), 0) + int(n)
        w[:, k] += fill * int(n)
    return z, w
