"""The integer program, in PuLP. It reads like a table of contents: :func:`build_problem` calls one
function per family of variables and constraints, each documented with the rule it enforces and
where the rule comes from (``docs/formulation.md`` has the mathematics, one section per family).

Variables (``docs/formulation.md`` section 2):

* ``z[k, p]`` - integer: racks of class ``k`` filled to maximal pattern ``p``;
* ``r[k]`` - integer: racks of class ``k`` used (the sum of its ``z``), which the solver branches on;
* ``w[t, k]`` - integer: nodes of type ``t`` placed in class ``k``.

Single-rack limits (power under the rack's redundancy and the power tree's single failures, air
heat, liquid heat, U, weight, form factor, liquid only where a loop exists) are inside the patterns
(:mod:`planner.optimize.classes`); every limit above the rack is a :class:`GroupLimit`, a sum over
``w`` and ``r``; rack costs sit on ``r`` and per-node costs on ``w``. Every constraint is registered
under ``(family, key)`` so diagnosis reads it back by what it is, not by its name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pulp

from planner.inputs.demand import Demand
from planner.optimize.classes import GroupLimit, ProblemData
from planner.optimize.first_fit import metric_per_node


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
    """Diagnosis mode: every group limit may be exceeded (``slack``, kW) and the demand may fall short
    (``short``), both at a price, so an infeasible demand still yields a solution that says what runs
    out and by how much."""
    slack: dict[int, pulp.LpVariable] = field(default_factory=dict)
    """Index into ``data.limits`` -> kW over the limit (elastic only)."""
    short: dict[tuple, pulp.LpVariable] = field(default_factory=dict)
    """``('nodes', t)`` / ``('target',)`` / ``('fill',)`` -> demand not met (elastic only)."""
    rows: dict[tuple, pulp.LpConstraint] = field(default_factory=dict)
    """``(family, key)`` -> constraint, for every group limit and demand row."""
    y: dict[tuple, pulp.LpVariable] = field(default_factory=dict)
    """``together``: binary, 1 for the one hall (or row) the demand goes into."""
    together: str | None = None
    """The demand's ``together`` (``hall``, ``row``) when it has one."""
    x: dict[tuple, pulp.LpVariable] = field(default_factory=dict)
    """``panels: auto`` rows: binary, 1 for the choice of lineups ((hall, row), choice) the row takes."""
    ys: dict[tuple, pulp.LpVariable] = field(default_factory=dict)
    """The row's load [kW] under that choice (0 for the choices it does not take)."""
    n: dict[int, pulp.LpVariable] = field(default_factory=dict)
    """A target among several candidates: integer, the nodes of type t placed in all (``sum_k w[t, k]``)."""
    n_hall: dict[tuple[int, str], pulp.LpVariable] = field(default_factory=dict)
    """With ``n``, in a facility of several halls: integer, the nodes of type t in a hall."""
    r_hall: dict[str, pulp.LpVariable] = field(default_factory=dict)
    """With ``n``, in a facility of several halls: integer, the racks in use in a hall."""
    _overhead: list[float] | None = field(default=None, repr=False)

    def overhead_kw(self) -> list[float]:
        """(K,) kW of overhead each newly occupied rack of a class adds (read once from the classes)."""
        if self._overhead is None:
            self._overhead = self.data.classes["overhead_kw"].astype(float).tolist() if self.data.K else []
        return self._overhead

    def striping(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """The lineups each ``panels: auto`` row takes in the solution."""
        out = {}
        for s in self.data.stripes:
            values = [self.x[(s.hall, s.row), i].value() or 0.0 for i in range(len(s.choices))]
            out[(s.hall, s.row)] = s.choices[int(np.argmax(values))]
        return out

    def set_start(self, z0: dict[tuple[int, int], int], w0: np.ndarray) -> None:
        """Give the solver a starting solution (a warm start)."""
        r0 = dict.fromkeys(range(self.data.K), 0)  # racks of each class in use
        for (k, _p), n in z0.items():
            r0[k] += n
        for key, var in self.z.items():
            var.setInitialValue(z0.get(key, 0))
        for k, var in self.r.items():
            var.setInitialValue(r0[k])
        for (t, k), var in self.w.items():
            var.setInitialValue(int(w0[t, k]))
        for t, var in self.n.items():
            var.setInitialValue(int(w0[t].sum()))
        if self.n_hall or self.r_hall:
            in_hall = hall_classes(self.data)
            for (t, hall), var in self.n_hall.items():
                var.setInitialValue(int(w0[t, in_hall[hall]].sum()))
            for hall, var in self.r_hall.items():
                var.setInitialValue(sum(r0[k] for k in in_hall[hall]))
        if self.data.stripes:
            max_kw = self.data.quantity("power")
            overhead = self.overhead_kw()
            for s in self.data.stripes:
                load = s.existing_kw + sum(float(w0[:, k] @ max_kw) + overhead[k] * r0[k] for k in s.classes)
                for i in range(len(s.choices)):
                    self.x[(s.hall, s.row), i].setInitialValue(1 if i == s.default else 0)
                    self.ys[(s.hall, s.row), i].setInitialValue(load if i == s.default else 0.0)
        if self.together:
            groups = together_groups(self.data, self.together)
            used = {groups[k] for k in range(self.data.K) if w0[:, k].sum() > 0}
            for g, var in self.y.items():
                var.setInitialValue(1 if g in used else 0)

    def values(self) -> tuple[dict[tuple[int, int], int], np.ndarray]:
        """The solution as integer ``z`` counts and a (T x K) ``w`` matrix."""
        z = {key: int(round(var.value() or 0.0)) for key, var in self.z.items()}
        w = np.zeros((self.data.T, self.data.K), dtype=np.int64)
        for (t, k), var in self.w.items():
            w[t, k] = int(round(var.value() or 0.0))
        return {k: v for k, v in z.items() if v}, w

    def load(self, i: int) -> float:
        """kW the solution puts on group limit ``i`` (existing load excluded, slack included)."""
        lim = self.data.limits[i]
        return float(sum(c * (v.value() or 0.0) for v, c in limit_terms(self, lim)))

    def _add(self, family: str, key: tuple, constraint: pulp.LpConstraint) -> None:
        self.rows[(family, key)] = constraint
        self.prob.addConstraint(constraint)


# --- variables --------------------------------------------------------------------------------------

def add_pattern_vars(m: Model) -> None:
    """``z[k, p]`` in 0..count[k]: racks of class k that take maximal pattern p."""
    d = m.data
    for k in range(d.K):
        n = d.count(k)
        for p in range(len(d.patterns(k))):
            m.z[k, p] = m.prob.add_variable(f"z_{k}_{p}", lowBound=0, upBound=n, cat=pulp.LpInteger)


def add_rack_count_vars(m: Model) -> None:
    """``r[k] = sum_p z[k, p]`` in 0..count[k]: racks of class k in use; its upper bound is the rule
    that a class cannot use more racks than it has. Stated explicitly because branching on rack
    counts, and the rounding cuts below, close gaps that branching on individual patterns (many of
    them symmetric) does not; overhead and rack costs sit on it."""
    d = m.data
    for k in range(d.K):
        n = d.count(k)
        m.r[k] = m.prob.add_variable(f"r_{k}", lowBound=0, upBound=n, cat=pulp.LpInteger)
        terms = [(m.z[k, p], 1) for p in range(len(d.patterns(k)))] + [(m.r[k], -1)]
        m._add("class_racks", (k,), pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintEQ,
                                                      f"class_racks_used__{k}", 0))


def node_upper_bounds(m: Model) -> dict[tuple[int, int], int]:
    """Most nodes of type t that class k can take: its slots, and (unless the model is elastic) what
    each group limit it is in could still take of nodes of that type alone."""
    d = m.data
    slots = d.slots_max()
    most = slots.T.astype(float)  # (K, T)
    if not m.elastic:
        for lim in d.limits:
            if not len(lim.classes):
                continue
            per = np.outer(np.asarray(lim.weight, dtype=float), d.quantity(lim.quantity))  # kW a node takes there
            fits = np.where(per > 0, np.maximum(0.0, np.floor((lim.budget + 1e-6) / np.where(per > 0, per, 1.0))),
                            np.inf)
            np.minimum.at(most, np.asarray(lim.classes, dtype=np.int64), fits)
    return {(t, k): int(most[k, t]) for k in range(d.K) for t in range(d.T) if slots[t, k] > 0}


def add_node_vars(m: Model) -> None:
    """``w[t, k]`` in 0..:func:`node_upper_bounds`: nodes of type t in class k (only where type t
    fits class k)."""
    for (t, k), ub in node_upper_bounds(m).items():
        m.w[t, k] = m.prob.add_variable(f"w_{t}_{k}", lowBound=0, upBound=ub, cat=pulp.LpInteger)


def _sum_var(m: Model, name: str, family: str, key: tuple, row: str,
             parts: list[pulp.LpVariable]) -> pulp.LpVariable:
    """An integer variable ``name`` equal to the sum of ``parts`` (integer variables, so it is whole at
    every integer point), bounded by theirs; the equation is row ``row`` of ``family``."""
    v = m.prob.add_variable(name, lowBound=0, upBound=sum(int(x.upBound) for x in parts), cat=pulp.LpInteger)
    m._add(family, key, pulp.LpConstraint(pulp.LpAffineExpression([(x, 1) for x in parts] + [(v, -1)]),
                                          pulp.LpConstraintEQ, row, 0))
    return v


def add_type_count_vars(m: Model) -> None:
    """``n[t] = sum_k w[t, k]``, integer: the nodes of type t in the whole plan, for a target among
    several candidates, where the mix is what the solver chooses. Every ``w`` is whole, so ``n`` is whole
    at every integer point and declaring it integer removes none. It gives branch and bound the
    disjunction ``n[t] <= v`` or ``n[t] >= v + 1`` over all classes at once (docs/formulation.md, "Counts
    per node type")."""
    for t in range(m.data.T):
        ws = [v for (tt, _k), v in m.w.items() if tt == t]
        if ws:
            m.n[t] = _sum_var(m, f"n_{t}", "type_count", (t,), f"type_count__{t}", ws)


def hall_classes(data: ProblemData) -> dict[str, list[int]]:
    """Hall -> the classes in it, in class order."""
    out: dict[str, list[int]] = {}
    for k, hall in enumerate(data.classes["hall"].tolist() if data.K else []):
        out.setdefault(str(hall), []).append(k)
    return out


def add_hall_count_vars(m: Model) -> None:
    """With the counts per node type, and the same way, per hall: ``n_hall[t, h] = sum_{k in h} w[t, k]``
    and ``r_hall[h] = sum_{k in h} r[k]``, integer, where a hall has several classes and the facility
    several halls. Exact like ``n`` (whole at every integer point, the LP unchanged); they give branch
    and bound the disjunctions "at most v nodes of this type (racks) in this hall, or at least v + 1",
    which split plans by where the mix goes: near capacity, the limits of one hall and of the lineups
    shared between halls trade a node here against a node there (docs/formulation.md, "Counts per
    node type")."""
    in_hall = hall_classes(m.data)
    if len(in_hall) < 2:
        return
    for j, (hall, ks) in enumerate(in_hall.items()):
        if len(ks) < 2:
            continue
        tag = f"{j}_{sanitize(hall)}"  # the index keeps names apart that sanitize alike
        for t in range(m.data.T):
            ws = [m.w[t, k] for k in ks if (t, k) in m.w]
            if len(ws) >= 2:
                m.n_hall[t, hall] = _sum_var(m, f"nh_{t}_{tag}", "hall_type_count", (t, hall),
                                             f"hall_type_count__{t}_{tag}", ws)
        m.r_hall[hall] = _sum_var(m, f"rh_{tag}", "hall_racks", (hall,), f"hall_racks__{tag}", [m.r[k] for k in ks])


# --- constraints ------------------------------------------------------------------------------------

def add_class_slot_limits(m: Model) -> None:
    """Nodes of a type in a class fit the slots its chosen patterns offer:
    ``w[t, k] <= sum_p a_p[t] z[k, p]``. Any sub-fill of a maximal pattern fits one rack, because every
    single-rack limit is monotone (fewer nodes always still fit)."""
    d = m.data
    for (t, k), wv in m.w.items():
        pats = d.patterns(k)
        terms = [(wv, 1)] + [(m.z[k, p], -int(pats[p, t])) for p in range(len(pats)) if pats[p, t] > 0]
        m._add("class_slots", (t, k), pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE,
                                                        f"class_slots_max__{t}_{k}", 0))


def limit_terms(m: Model, lim: GroupLimit) -> list[tuple[pulp.LpVariable, float]]:
    """``sum_k weight_k (sum_t q_t w[t, k] + overhead_k r[k])`` as (variable, coefficient) pairs."""
    d = m.data
    q = d.quantity(lim.quantity)
    overhead = m.overhead_kw()
    positive = [t for t in range(d.T) if q[t] > 0]
    terms = []
    for k, wgt in zip(np.asarray(lim.classes).tolist(), np.asarray(lim.weight, dtype=float).tolist()):
        k = int(k)
        terms += [(m.w[t, k], float(wgt * q[t])) for t in positive if (t, k) in m.w]
        if lim.quantity != "liquid" and overhead[k] > 0:
            terms.append((m.r[k], float(wgt * overhead[k])))
    terms += [(m.ys[key, i], float(share)) for key, i, share in lim.aux]
    return terms


def _add_limits(m: Model, family: str) -> None:
    for i, lim in enumerate(m.data.limits):
        if lim.family != family:
            continue
        name = f"{family}_max__{i}_" + "_".join(sanitize(str(x)) for x in lim.key)
        terms = limit_terms(m, lim)
        if not terms:
            continue
        if m.elastic:
            m.slack[i] = m.prob.add_variable(f"slack_{i}", lowBound=0)
            terms.append((m.slack[i], -1.0))
        m._add(family, lim.key, pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE, name,
                                                  lim.budget))


def add_row_heat_limits(m: Model) -> None:
    """A row with ``cooling_kw`` rejects at most that much heat, existing load and rack overhead
    included (CONTRACT.md: all electrical power becomes heat; in-row coolers, a row CDU)."""
    _add_limits(m, "row")


def add_hall_heat_limits(m: Model) -> None:
    """A hall rejects at most ``(count - redundant) x unit_kw``: all its heat, or only its air heat
    when it has CDU groups (N+k cooling: the hall stays cool with its redundant units lost; Uptime
    Institute Tier II-IV practice)."""
    _add_limits(m, "hall")


def add_hall_it_limits(m: Model) -> None:
    """A hall with ``it_kw`` draws at most that: planned nodes, existing load and overhead together."""
    _add_limits(m, "hall_it")


def add_cdu_limits(m: Model) -> None:
    """A CDU group takes the liquid heat of its rows (planned liquid shares and existing ``liquid_kw``)
    within ``(count - redundant) x unit_kw``."""
    _add_limits(m, "cdu")


def add_plant_limits(m: Model) -> None:
    """The plant rejects all heat of all halls, air and liquid, within its non-redundant units."""
    _add_limits(m, "plant")


def add_striping(m: Model) -> None:
    """Rows with ``panels: auto``: a binary ``x[row, c]`` per choice ``c`` of lineups (one per feed path),
    exactly one taken; the row's load ``L = sum_c y[row, c]`` (planned, existing and overhead), with
    ``y[row, c] <= L_max x[row, c]``. The sources then carry ``share_c(source, failure) y[row, c]``:
    linear, so the striping is chosen together with the placement (docs/formulation.md)."""
    d = m.data
    max_kw = d.quantity("power")
    overhead = m.overhead_kw()
    for j, s in enumerate(d.stripes):
        key = (s.hall, s.row)
        tag = f"{j}_{sanitize(s.hall)}_{sanitize(s.row)}"  # the index keeps names apart that sanitize alike
        for i in range(len(s.choices)):
            m.x[key, i] = m.prob.add_variable(f"x_{tag}_{i}", cat=pulp.LpBinary)
            m.ys[key, i] = m.prob.add_variable(f"ys_{tag}_{i}", lowBound=0)
            m._add("stripe", (key, i), pulp.LpConstraint(
                pulp.LpAffineExpression([(m.ys[key, i], 1), (m.x[key, i], -(s.most_kw + s.existing_kw))]),
                pulp.LpConstraintLE, f"stripe_load_max__{tag}_{i}", 0))
        m._add("stripe", (key, "one"), pulp.LpConstraint(
            pulp.LpAffineExpression([(m.x[key, i], 1) for i in range(len(s.choices))]), pulp.LpConstraintEQ,
            f"stripe_one__{tag}", 1))
        load = [(m.ys[key, i], 1.0) for i in range(len(s.choices))]
        load += [(m.w[t, k], -float(max_kw[t])) for k in s.classes for t in range(d.T) if (t, k) in m.w]
        load += [(m.r[k], -float(overhead[k])) for k in s.classes if overhead[k] > 0]
        m._add("stripe", (key, "load"), pulp.LpConstraint(pulp.LpAffineExpression(load), pulp.LpConstraintEQ,
                                                          f"stripe_load__{tag}", s.existing_kw))


def add_power_source_limits(m: Model) -> None:
    """Each source (UPS lineup) carries at most its ``kw``: the sum of its panels' shares in normal
    operation, and after every single failure of another source or a panel that moves load onto it
    (each rack's load divides equally among its surviving paths; CONTRACT.md "Single failures")."""
    _add_limits(m, "source")


def add_power_panel_limits(m: Model) -> None:
    """Each panel (PDU, RPP, busway) carries at most its ``kw``: normally the equal shares of the rows'
    paths on it, and after every single failure that moves load onto it."""
    _add_limits(m, "panel")


def together_groups(data: ProblemData, together: str) -> dict[int, tuple]:
    """Class -> the hall (``(hall,)``) or row (``(hall, row)``) it lies in, for ``together``."""
    out = {}
    for k, idx in enumerate(data.class_racks):
        r = int(idx[0])
        hall = data.racks["hall"][r]
        out[k] = (hall,) if together == "hall" else (hall, data.racks["row"][r])
    return out


def add_together(m: Model, demand: Demand) -> None:
    """Every node of the demand in one hall (or one row): a binary ``y[g]`` per hall or row, at most one
    of them 1, and a class's nodes and racks only where its ``y`` is 1 (``w[t, k] <= ub x y[g(k)]``,
    ``r[k] <= count[k] y[g(k)]``). A training cluster's network fabric spans a pod, not a campus."""
    if not demand.together:
        return
    d = m.data
    m.together = demand.together
    group_of = together_groups(d, demand.together)
    for j, g in enumerate(dict.fromkeys(group_of.values())):  # the index keeps names apart that sanitize alike
        m.y[g] = m.prob.add_variable(f"y_{j}_" + "_".join(sanitize(x) for x in g), cat=pulp.LpBinary)
    m._add("together", ("one",), pulp.LpConstraint(pulp.LpAffineExpression([(v, 1) for v in m.y.values()]),
                                                   pulp.LpConstraintLE, "together_one", 1))
    for (t, k), wv in m.w.items():
        m._add("together", ("w", t, k), pulp.LpConstraint(
            pulp.LpAffineExpression([(wv, 1), (m.y[group_of[k]], -float(wv.upBound))]), pulp.LpConstraintLE,
            f"together_w__{t}_{k}", 0))
    for k, rv in m.r.items():
        m._add("together", ("r", k), pulp.LpConstraint(
            pulp.LpAffineExpression([(rv, 1), (m.y[group_of[k]], -float(d.count(k)))]), pulp.LpConstraintLE,
            f"together_r__{k}", 0))


def _demand_row(m: Model, key: tuple, name: str, terms: list, rhs: float) -> None:
    if m.elastic:
        m.short[key] = m.prob.add_variable(f"short_{name}", lowBound=0)
        terms = terms + [(m.short[key], 1.0)]
    m._add("demand", key, pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintGE, name, rhs))


def add_demand(m: Model, demand: Demand, fill_count: int | None) -> None:
    """The demand, written as ``>=`` (exact at the optimum because every node costs something; a
    surplus is trimmed when the plan is read back): node counts per type; or a target summed over
    the candidates; or, for fill's second phase, at least the most nodes phase one found."""
    d = m.data
    if demand.kind == "nodes":
        for t, ty in enumerate(d.types):
            terms = [(v, 1) for (tt, _k), v in m.w.items() if tt == t]
            _demand_row(m, ("nodes", t), f"demand_nodes_min__{t}_{sanitize(ty.id)}", terms, demand.nodes[ty.id])
    elif demand.kind == "target":
        per = metric_per_node(d, demand.metric)  # type: ignore[arg-type]
        _demand_row(m, ("target",), f"demand_{demand.metric}_min",
                    [(v, float(per[t])) for (t, _k), v in m.w.items()], demand.amount)
    elif fill_count is not None:
        _demand_row(m, ("fill",), "fill_count_min", [(v, 1) for v in m.w.values()], fill_count)


# --- rounding cuts ----------------------------------------------------------------------------------

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
    cuts"). For one class, and for every group limit with uniform weights over several classes, and
    each node type t: the nodes W of type t there are at most ``a`` per rack in use (``a`` the most
    any of its patterns holds) and at most ``U`` (slots, and the limit's budget over the node's share);
    :func:`_rounding_cut` then says a fractional last rack is not enough. Without them CBC proved
    some hundred-rack plans only after minutes; with them, in well under a second."""
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
        for i, lim in enumerate(d.limits):
            if len(lim.classes) < 2 or not lim.uniform:
                continue
            q = d.quantity(lim.quantity)
            for t in range(d.T):
                kk = [int(k) for k in lim.classes if (t, int(k)) in m.w]
                if not kk or q[t] <= 0:
                    continue
                a = max(int(d.patterns(k)[:, t].max()) for k in kk)
                most = min(sum(ub[t, k] for k in kk), int(math.floor((lim.budget + 1e-6) / q[t])))
                cuts.append(_rounding_cut(f"{lim.family}_round__{i}_{t}", [m.w[t, k] for k in kk],
                                          [m.r[k] for k in kk], a, most))
    return [c for c in cuts if c is not None]


def demand_rack_cuts(m: Model, demand: Demand, fill_count: int | None) -> list[Cut]:
    """Racks the demand needs at least, in whole racks (docs/formulation.md, "Rounding cuts"). A rack of
    class k holds at most ``A_k`` units of the demand (GPUs, PFLOPS, TB or nodes: the most any of its
    patterns holds), so ``sum_k A_k r[k] >= D``; dividing by the largest ``A`` and rounding up (a
    Chvatal-Gomory cut, valid because every ``A_k / A`` is at most 1 and the ``r`` are whole) gives
    ``sum_k r[k] >= ceil(D / A)``. The LP otherwise meets the demand with a fraction of the last rack
    and underestimates the cost by up to a rack's; this closes that on large, loosely constrained
    facilities, where branching alone took seconds to prove a plan found in a fraction of one."""
    d = m.data
    if d.K == 0:
        return []
    wants: list[tuple[str, np.ndarray, float]] = []
    if demand.kind == "nodes":
        for t, ty in enumerate(d.types):
            unit = np.zeros(d.T)
            unit[t] = 1.0
            wants.append((f"nodes_{t}", unit, float(demand.nodes[ty.id])))
        wants.append(("nodes_all", np.ones(d.T), float(sum(demand.nodes.values()))))
    elif demand.kind == "target":
        wants.append((str(demand.metric), metric_per_node(d, demand.metric), demand.amount))  # type: ignore[arg-type]
    elif fill_count is not None:
        wants.append(("fill", np.ones(d.T), float(fill_count)))
    cuts = []
    for name, per, amount in wants:
        most = max(float((d.patterns(k) @ per).max()) for k in range(d.K))
        if most <= 0 or amount <= 0:
            continue
        need = math.ceil(amount / most - 1e-9)
        if need >= 1:
            cuts.append(Cut(f"demand_racks_min__{name}", tuple((v, -1.0) for v in m.r.values()), -float(need)))
    return cuts


def add_cuts(m: Model, cuts: list[Cut]) -> None:
    for c in cuts:
        m._add("cut", (c.name,), pulp.LpConstraint(pulp.LpAffineExpression(list(c.terms)), pulp.LpConstraintLE,
                                                   c.name, c.rhs))


# --- objective --------------------------------------------------------------------------------------

SHORT_PENALTY = 1e7
"""Diagnosis: price of one unit of demand left unmet, far above a kW over a limit (price 1)."""


def set_objective(m: Model) -> None:
    """Least annual cost that the placement controls: each node's cooling (by heat path and pPUE) and
    price, plus energy when the mix is chosen (a target); each newly occupied rack's annual cost and
    its overhead's energy and cooling. The constant energy of a fixed set of nodes is added back
    outside the solver, so the gap is honest on the part the placement controls. For fill's first
    phase: the most nodes."""
    d = m.data
    if m.maximize_count:
        m.prob.setObjective(pulp.LpAffineExpression([(v, 1) for v in m.w.values()]))
        return
    if m.elastic:
        m.prob.setObjective(pulp.LpAffineExpression(
            [(v, SHORT_PENALTY) for v in m.short.values()] + [(v, 1.0) for v in m.slack.values()]))
        return
    terms = [(v, float(d.node_cost[t, k])) for (t, k), v in m.w.items()]
    cost = d.rack_cost()
    terms += [(v, float(cost[k])) for k, v in m.r.items() if cost[k] != 0]
    m.prob.setObjective(pulp.LpAffineExpression(terms))


def build_problem(data: ProblemData, demand: Demand, maximize_count: bool = False,
                  fill_count: int | None = None, elastic: bool = False, cuts: bool = True,
                  type_counts: bool = True) -> Model:
    """The whole program: variables, then constraints family by family, then the objective.
    ``cuts=False`` leaves out the rounding cuts and ``type_counts=False`` the counts per node type (for
    measuring what they do)."""
    sense = pulp.LpMaximize if maximize_count else pulp.LpMinimize
    m = Model(pulp.LpProblem("rackplan", sense), data, maximize_count=maximize_count, elastic=elastic)
    add_pattern_vars(m)
    add_rack_count_vars(m)
    add_node_vars(m)
    if type_counts and demand.kind == "target" and data.mix_varies and data.T > 1 and not (maximize_count or elastic):
        add_type_count_vars(m)
        add_hall_count_vars(m)
    add_class_slot_limits(m)
    add_row_heat_limits(m)
    add_hall_heat_limits(m)
    add_hall_it_limits(m)
    add_cdu_limits(m)
    add_plant_limits(m)
    add_striping(m)
    add_power_source_limits(m)
    add_power_panel_limits(m)
    add_demand(m, demand, fill_count)
    add_together(m, demand)
    if cuts and not maximize_count:
        add_cuts(m, rounding_cuts(m) + ([] if elastic else demand_rack_cuts(m, demand, fill_count)))
    elif cuts:
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
    cls = data.racks["cls"][used]
    # identical (class, fill) racks are looked up once
    keys, times = np.unique(np.column_stack([cls, counts[used]]), axis=0, return_counts=True)
    for key, n in zip(keys, times):
        k, fill = int(key[0]), key[1:]
        p = int(np.flatnonzero(np.all(data.patterns(k) >= fill, axis=1))[0])
        z[k, p] = z.get((k, p), 0) + int(n)
        w[:, k] += fill * int(n)
    return z, w
