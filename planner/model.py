"""The integer program, in PuLP. It reads like a table of contents: :func:`build_problem` calls one
function per family of variables and constraints, each documented with the rule it enforces and
where the rule comes from (``docs/formulation.md`` has the mathematics).

Variables (``docs/formulation.md`` section 1):

* ``z[k, p]`` - integer: racks of class ``k`` filled to maximal pattern ``p``;
* ``w[t, k]`` - integer: nodes of type ``t`` placed in class ``k``.

Single-rack limits (power under 2N or N, air heat, liquid heat, U, weight, liquid only where a loop
exists) are inside the patterns (:mod:`planner.problem`); row and hall cooling and the demand are
sums over ``w``; rack costs sit on ``z`` and per-node costs on ``w``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pulp

from planner.demand import Demand
from planner.greedy import metric_per_node
from planner.problem import ProblemData


def sanitize(text: str) -> str:
    """A name fragment PuLP will not rewrite (it silently maps ``-+[] ->/`` to ``_``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


@dataclass
class Model:
    """A built problem and its variables, indexed for reading the solution back."""

    prob: pulp.LpProblem
    data: ProblemData
    z: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    w: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    maximize_count: bool = False
    elastic: bool = False
    """Diagnosis mode: row and hall heat may exceed their limits (``slack``, kW) and the demand may
    fall short (``short``), both at a price, so an infeasible demand still yields a solution that says
    what runs out and by how much."""
    slack: dict[str, pulp.LpVariable] = field(default_factory=dict)
    short: dict[str, pulp.LpVariable] = field(default_factory=dict)

    def set_start(self, z0: dict[tuple[int, int], int], w0: np.ndarray) -> None:
        """Give the solver a starting solution (a warm start)."""
        for key, var in self.z.items():
            var.setInitialValue(z0.get(key, 0))
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
        n = int(d.classes.at[k, "count"])
        for p in range(len(d.patterns(k))):
            m.z[k, p] = pulp.LpVariable(f"z_{k}_{p}", lowBound=0, upBound=n, cat=pulp.LpInteger)


def add_node_vars(m: Model) -> None:
    """``w[t, k]`` in 0..most slots: nodes of type t in class k (only where type t fits class k)."""
    slots = m.data.slots_max()
    for k in range(m.data.K):
        for t in range(m.data.T):
            if slots[t, k] > 0:
                m.w[t, k] = pulp.LpVariable(f"w_{t}_{k}", lowBound=0, upBound=int(slots[t, k]), cat=pulp.LpInteger)


def add_class_rack_limits(m: Model) -> None:
    """A class cannot use more racks than it has: ``sum_p z[k, p] <= count[k]``."""
    d = m.data
    for k in range(d.K):
        terms = [(m.z[k, p], 1) for p in range(len(d.patterns(k)))]
        if len(terms) > 1:  # with one pattern the variable's upper bound says it
            m.prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE,
                                                   f"class_racks_max__{k}", int(d.classes.at[k, "count"])))


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
        m.slack[name] = pulp.LpVariable(f"slack_{name}", lowBound=0)
        terms.append((m.slack[name], -1.0))
    return terms


def add_row_heat_limits(m: Model) -> None:
    """A row with ``cooling_kw`` rejects at most that much heat, existing load included (CONTRACT.md:
    all electrical power becomes heat; in-row coolers / a row CDU)."""
    for i, (hall, row, budget, classes) in enumerate(m.data.row_limits):
        name = f"row_heat_max__{i}_{sanitize(hall)}_{sanitize(row)}"
        terms = _heat_terms(m, classes, name)
        if terms:
            m.prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE, name, budget))


def add_hall_heat_limits(m: Model) -> None:
    """A hall rejects at most ``(count - redundant) x unit_kw``, existing load included (N+k cooling:
    the hall must stay cool with its redundant units lost; facility_rules.md section 2.5)."""
    for i, (hall, budget, classes) in enumerate(m.data.hall_limits):
        name = f"hall_heat_max__{i}_{sanitize(hall)}"
        terms = _heat_terms(m, classes, name)
        if terms:
            m.prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE, name, budget))


def _demand_row(m: Model, name: str, terms: list, rhs: float) -> None:
    if m.elastic:
        m.short[name] = pulp.LpVariable(f"short_{name}", lowBound=0)
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
                  fill_count: int | None = None, elastic: bool = False) -> Model:
    """The whole program: variables, then constraints, then the objective."""
    sense = pulp.LpMaximize if maximize_count else pulp.LpMinimize
    m = Model(pulp.LpProblem("rackplan", sense), data, maximize_count=maximize_count, elastic=elastic)
    add_pattern_vars(m)
    add_node_vars(m)
    add_class_rack_limits(m)
    add_class_slot_limits(m)
    add_row_heat_limits(m)
    add_hall_heat_limits(m)
    add_demand(m, demand, fill_count)
    set_objective(m)
    return m


def start_from_counts(data: ProblemData, counts: np.ndarray) -> tuple[dict[tuple[int, int], int], np.ndarray]:
    """Express an (R x T) plan (e.g. the greedy one) as model values: each used rack on a maximal
    pattern that covers its fill."""
    z: dict[tuple[int, int], int] = {}
    w = np.zeros((data.T, data.K), dtype=np.int64)
    cls = data.racks["cls"].to_numpy()
    for r in np.flatnonzero(counts.sum(axis=1)):
        k = int(cls[r])
        pats = data.patterns(k)
        covering = np.flatnonzero(np.all(pats >= counts[r], axis=1))
        p = int(covering[0])
        z[k, p] = z.get((k, p), 0) + 1
        w[:, k] += counts[r]
    return z, w
