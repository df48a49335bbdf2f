"""Deployment over time: one integer program over every wave (issue #13), and the wave-by-wave baseline.

A **wave** adds a demand (exact nodes, or a target among candidates) at a date; its nodes may retire at
a later date, freeing their racks. The model plans all waves at once, at the least total cost over the
horizon discounted to today, with every limit (rack, row, hall, CDU, plant, every UPS and panel under
every single failure) holding at every wave for everything installed then.

Variables, per wave ``v`` and on the same rack classes and patterns as a single plan
(:mod:`planner.optimize.classes`): ``z[k, p, v]`` racks of class ``k`` newly filled to pattern ``p`` at
wave ``v``; ``r[k, v]`` their count; ``w[t, k, v]`` nodes of type ``t`` added there. **A rack is filled in
one wave** (racks are deployed as units), so nodes never move: the racks of an earlier wave keep their
nodes until those retire. At each wave, the racks in use by the waves still installed fit each class,
and every group limit carries the sum of their loads.

The objective is each wave's annual cost (energy, cooling, node rent or price, newly occupied racks and
their overhead) times the discounted years it is in service: monthly discounting from the wave's date
to its retirement or the horizon, at ``discount_rate`` a year.

The **wave-by-wave baseline** solves the waves one after the other, each at its least cost with the
earlier ones fixed: what a team that plans each purchase when it comes would get. The difference is
the value of planning ahead.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pulp

from planner.errors import InputError, NoPlanError
from planner.inputs.demand import Demand
from planner.inputs.facility import Facility
from planner.inputs.specs import NodeType
from planner.optimize.classes import ProblemData, build_problem_data
from planner.optimize.first_fit import metric_per_node
from planner.optimize.milp import _rounding_cut, sanitize
from planner.optimize.solvers import relative_gap
from planner.vocabulary import CLI_FILE, DEFAULT_GAP, DEFAULT_SOLVER, DEFAULT_TIME_LIMIT_S


def month_index(date: str) -> int:
    """``YYYY-MM`` -> months since year 0 (for differences)."""
    year, month = date.split("-")
    return int(year) * 12 + int(month) - 1


def month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def service_years(start: str, end: str, today: str, rate: float) -> float:
    """Discounted years of service from ``start`` to ``end`` (``YYYY-MM``), seen from ``today``: each
    month counts 1/12 of a year, discounted by ``(1 + rate)`` per year from ``today``."""
    m0, m1, now = month_index(start), month_index(end), month_index(today)
    return sum((1.0 / 12.0) * (1.0 + rate) ** (-(m - now) / 12.0) for m in range(m0, m1))


@dataclass(frozen=True)
class Wave:
    """A demand added at a date; optionally retired (its racks freed) at a later date."""

    name: str
    date: str
    """``YYYY-MM``."""
    demand: Demand
    """``nodes`` or ``target`` with candidates."""
    retire: str | None = None
    """``YYYY-MM`` when the wave's nodes leave, or None (they stay to the horizon)."""


@dataclass
class WaveResult:
    """One solved plan over the waves: the nodes each wave adds, rack by rack, and what it costs."""

    waves: list[Wave]
    data: ProblemData
    added: list[np.ndarray]
    """Per wave, an (R x T) count of the nodes it adds."""
    pv_usd: float
    """Total discounted cost over the horizon [USD]."""
    bound_usd: float | None
    status: str
    gap: float
    seconds: float
    annual_usd: list[float] = field(default_factory=list)
    """Per wave, the annual cost of what it adds [USD a year]."""

    def installed(self, v: int) -> np.ndarray:
        """(R x T) nodes in the racks at wave ``v``: every earlier or equal wave not yet retired."""
        out = np.zeros_like(self.added[0])
        for u in active(self.waves, v):
            out += self.added[u]
        return out


def active(waves: list[Wave], v: int) -> list[int]:
    """The waves whose nodes are installed at wave ``v``'s date."""
    date = month_index(waves[v].date)
    return [u for u in range(v + 1) if waves[u].retire is None or month_index(waves[u].retire) > date]


def check_waves(waves: list[Wave], types: dict[str, NodeType], origin: str = CLI_FILE) -> None:
    """Waves in date order; every node a wave names is available by its date; retirements after the
    wave. One problem per mistake."""
    problems = []
    for i, w in enumerate(waves):
        if i and month_index(w.date) < month_index(waves[i - 1].date):
            problems.append(f"waves[{i}].date: {w.date} is before the wave before it ({waves[i - 1].date})")
        if w.retire is not None and month_index(w.retire) <= month_index(w.date):
            problems.append(f"waves[{i}].retire: {w.retire} is not after the wave's date {w.date}")
        for nid in w.demand.node_ids:
            t = types[nid]
            if t.available_from is not None and month_index(t.available_from) > month_index(w.date):
                problems.append(f"waves[{i}]: {nid} is not available until {t.available_from} "
                                f"({t.status}), after the wave's date {w.date}")
        if w.demand.kind == "fill":
            problems.append(f"waves[{i}].demand: a wave adds nodes or a target, not fill")
    if problems:
        raise InputError([_problem(origin, p) for p in problems])


def _problem(origin: str, text: str):
    from planner.errors import Problem

    path, _, msg = text.partition(": ")
    return Problem(origin, path, msg)


class _Model:
    """The PuLP model over the waves (:func:`plan_waves` builds it)."""

    def __init__(self, data: ProblemData, waves: list[Wave], allowed: list[set[int]], weights: list[float],
                 fixed: dict[int, np.ndarray] | None = None, until: int | None = None):
        self.data, self.waves, self.allowed = data, waves, allowed
        self.prob = pulp.LpProblem("rackplan_waves", pulp.LpMinimize)
        d = data
        V = len(waves) if until is None else until + 1
        self.V = V
        self.z: dict[tuple[int, int, int], pulp.LpVariable] = {}
        self.r: dict[tuple[int, int], pulp.LpVariable] = {}
        self.w: dict[tuple[int, int, int], pulp.LpVariable] = {}
        slots = d.slots_max()
        for v in range(V):
            for k in range(d.K):
                n = d.count(k)
                self.r[k, v] = self.prob.add_variable(f"r_{k}_{v}", lowBound=0, upBound=n, cat=pulp.LpInteger)
                for p in range(len(d.patterns(k))):
                    self.z[k, p, v] = self.prob.add_variable(f"z_{k}_{p}_{v}", lowBound=0, upBound=n,
                                                             cat=pulp.LpInteger)
                for t in allowed[v]:
                    if slots[t, k] > 0:
                        self.w[t, k, v] = self.prob.add_variable(f"w_{t}_{k}_{v}", lowBound=0,
                                                                 upBound=int(slots[t, k]), cat=pulp.LpInteger)
        self._rack_counts()
        self._slots()
        self._limits()
        self._demand()
        self._cuts()
        self._objective(weights)
        for v, counts in (fixed or {}).items():
            self._fix(v, counts)

    def _add(self, terms, sense, rhs, name):
        self.prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), sense, name, rhs))

    def _rack_counts(self) -> None:
        """``r[k, v] = sum_p z[k, p, v]``; and at each wave the racks of the waves still installed fit
        the class: ``sum_{u active at v} r[k, u] <= count[k]``."""
        d = self.data
        for v in range(self.V):
            for k in range(d.K):
                self._add([(self.z[k, p, v], 1) for p in range(len(d.patterns(k)))] + [(self.r[k, v], -1)],
                          pulp.LpConstraintEQ, 0, f"racks_used__{k}_{v}")
                self._add([(self.r[k, u], 1) for u in active(self.waves, v)], pulp.LpConstraintLE, d.count(k),
                          f"racks_free__{k}_{v}")

    def _slots(self) -> None:
        """A wave's nodes fit the slots of the racks it fills (``w[t, k, v] <= sum_p a_p[t] z[k, p, v]``)."""
        d = self.data
        for (t, k, v), wv in self.w.items():
            pats = d.patterns(k)
            self._add([(wv, 1)] + [(self.z[k, p, v], -int(pats[p, t])) for p in range(len(pats)) if pats[p, t]],
                      pulp.LpConstraintLE, 0, f"slots__{t}_{k}_{v}")

    def _limits(self) -> None:
        """Every group limit at every wave, over everything installed then."""
        d = self.data
        overhead = d.classes["overhead_kw"].to_numpy(float)
        for v in range(self.V):
            live = active(self.waves, v)
            for i, lim in enumerate(d.limits):
                q = d.quantity(lim.quantity)
                terms = []
                for k, wgt in zip(lim.classes, lim.weight):
                    k = int(k)
                    for u in live:
                        terms += [(self.w[t, k, u], float(wgt * q[t])) for t in range(d.T)
                                  if (t, k, u) in self.w and q[t] > 0]
                        if lim.quantity != "liquid" and overhead[k] > 0:
                            terms.append((self.r[k, u], float(wgt * overhead[k])))
                if terms:
                    self._add(terms, pulp.LpConstraintLE, lim.budget, f"{lim.family}_max__{i}_{v}")

    def _demand(self) -> None:
        d = self.data
        for v in range(self.V):
            dem = self.waves[v].demand
            ids = [t.id for t in d.types]
            if dem.kind == "nodes":
                for nid, n in dem.nodes.items():
                    t = ids.index(nid)
                    self._add([(wv, 1) for (tt, _k, vv), wv in self.w.items() if tt == t and vv == v],
                              pulp.LpConstraintGE, n, f"demand__{v}_{sanitize(nid)}")
            else:
                per = metric_per_node(d, dem.metric)  # type: ignore[arg-type]
                self._add([(wv, float(per[t])) for (t, _k, vv), wv in self.w.items() if vv == v],
                          pulp.LpConstraintGE, dem.amount, f"demand__{v}")

    def _cuts(self) -> None:
        """Per wave: the class rounding cuts and the demand in whole racks (as for one plan)."""
        d = self.data
        for (t, k, v), wv in self.w.items():
            c = _rounding_cut(f"round__{t}_{k}_{v}", [wv], [self.r[k, v]], int(d.patterns(k)[:, t].max()),
                              int(wv.upBound))
            if c is not None:
                self._add(list(c.terms), pulp.LpConstraintLE, c.rhs, c.name)
        for v in range(self.V):
            dem = self.waves[v].demand
            per = (metric_per_node(d, dem.metric) if dem.kind == "target"  # type: ignore[arg-type]
                   else np.array([1.0 if t in self.allowed[v] else 0.0 for t in range(d.T)]))
            amount = dem.amount if dem.kind == "target" else float(sum(dem.nodes.values()))
            mask = np.array([t in self.allowed[v] for t in range(d.T)], dtype=float)
            most = max(float((d.patterns(k) @ (per * mask)).max()) for k in range(d.K)) if d.K else 0.0
            if most > 0 and amount > 0:
                self._add([(self.r[k, v], 1) for k in range(d.K)], pulp.LpConstraintGE,
                          math.ceil(amount / most - 1e-9), f"demand_racks__{v}")

    def _objective(self, weights: list[float]) -> None:
        d = self.data
        cost = d.rack_cost()
        terms = [(wv, float(weights[v] * d.node_cost[t, k])) for (t, k, v), wv in self.w.items()]
        terms += [(rv, float(weights[v] * cost[k])) for (k, v), rv in self.r.items() if cost[k]]
        self.prob.setObjective(pulp.LpAffineExpression(terms))

    def _fix(self, v: int, counts: np.ndarray) -> None:
        """Hold wave ``v`` to a given (R x T) plan (the wave-by-wave baseline's earlier waves)."""
        d = self.data
        cls = d.racks["cls"].to_numpy()
        used = np.flatnonzero(counts.sum(axis=1))
        z: dict[tuple[int, int], int] = {}
        w = np.zeros((d.T, d.K), dtype=np.int64)
        for r in used:
            k = int(cls[r])
            p = int(np.flatnonzero(np.all(d.patterns(k) >= counts[r], axis=1))[0])
            z[k, p] = z.get((k, p), 0) + 1
            w[:, k] += counts[r]
        for (k, p, vv), var in self.z.items():
            if vv == v:
                var.lowBound = var.upBound = z.get((k, p), 0)
        for (k, vv), var in self.r.items():
            if vv == v:
                var.lowBound = var.upBound = sum(n for (kk, _p), n in z.items() if kk == k)
        for (t, k, vv), var in self.w.items():
            if vv == v:
                var.lowBound = var.upBound = int(w[t, k])

    def solve(self, solver: str, time_limit: float | None, gap: float) -> tuple[str, float | None, float | None]:
        """Solve; returns (status, objective, bound)."""
        from planner.optimize.solvers import quiet_stdout

        if solver == "highs":
            cmd = pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=gap, threads=1)
        else:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                cmd = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=gap, threads=1)
        with quiet_stdout():
            self.prob.solve(cmd)
        if self.prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
            return ("infeasible" if self.prob.status == pulp.LpStatusInfeasible else "no_solution"), None, None
        objective = float(pulp.value(self.prob.objective) or 0.0)
        bound = None
        if solver == "highs":
            info = self.prob.solverModel.getInfo()
            bound = float(info.mip_dual_bound)
            finished = self.prob.solverModel.getModelStatus().name == "kOptimal"
        else:
            finished = self.prob.status == pulp.LpStatusOptimal and time_limit is None
            bound = objective if finished else None
        return ("optimal" if finished else "feasible"), objective, bound

    def added(self) -> list[np.ndarray]:
        """Per wave, the (R x T) nodes it adds, in the racks free at its date (facility order)."""
        d = self.data
        busy_until: dict[int, int | None] = {}  # rack -> index of the month it is freed, None: never
        out = []
        for v in range(self.V):
            now = month_index(self.waves[v].date)
            counts = np.zeros((len(d.racks), d.T), dtype=np.int64)
            for k in range(d.K):
                need = np.array([int(round(self.w[t, k, v].value() or 0)) if (t, k, v) in self.w else 0
                                 for t in range(d.T)])
                if need.sum() == 0:
                    continue
                free = iter([r for r in d.class_racks[k]
                             if r not in busy_until or (busy_until[r] is not None and busy_until[r] <= now)])
                pats = d.patterns(k)
                for p in range(len(pats)):
                    for _ in range(int(round(self.z[k, p, v].value() or 0))):
                        if need.sum() == 0:
                            break
                        take = np.minimum(pats[p], need)
                        if take.sum() == 0:
                            continue
                        r = next(free)
                        counts[r] = take
                        need -= take
                        retire = self.waves[v].retire
                        busy_until[r] = month_index(retire) if retire else None
                if need.sum() > 0:
                    raise AssertionError(f"wave {v}, class {k}: {need.tolist()} nodes left without a slot")
            out.append(counts)
        return out


def plan_waves(fac: Facility, types: list[NodeType], waves: list[Wave], *, today: str, horizon: str,
               discount_rate: float = 0.08, solver: str = DEFAULT_SOLVER, time_limit: float | None = DEFAULT_TIME_LIMIT_S,
               gap: float = DEFAULT_GAP, myopic: bool = True) -> tuple[WaveResult, WaveResult | None]:
    """Plan every wave at once at the least discounted cost; with ``myopic``, also the wave-by-wave
    baseline. ``types`` holds every node type any wave names. Raises :class:`NoPlanError` when the
    waves do not fit together."""
    if fac.striped_rows():
        raise InputError.one(CLI_FILE, "", "waves do not choose striping: plan the facility once and use its "
                                           "facility.striped.yaml")
    for w in waves:
        if w.demand.only or w.demand.exclude or w.demand.reserved or w.demand.together:
            raise InputError.one(CLI_FILE, "", f"wave '{w.name}': placement controls are not supported in waves yet "
                                               "(the facility's reserved racks are)")
    by_id = {t.id: t for t in types}
    check_waves(waves, by_id)
    horizon_i = month_index(horizon)
    if any(month_index(w.date) >= horizon_i for w in waves):
        raise InputError.one(CLI_FILE, "horizon", f"the horizon {horizon} must come after every wave")
    data = build_problem_data(fac, types, mix_varies=True)
    ids = [t.id for t in types]
    allowed = [{ids.index(nid) for nid in w.demand.node_ids} for w in waves]
    weights = [service_years(w.date, w.retire or horizon, today, discount_rate) for w in waves]

    def one(model: _Model, label: str) -> WaveResult:
        started = time.monotonic()
        status, objective, bound = model.solve(solver, time_limit, gap)
        seconds = time.monotonic() - started
        if objective is None:
            raise NoPlanError(f"no plan: the waves do not fit together ({label}: {status})")
        added = model.added()
        annual = [_annual_cost(data, a) for a in added]
        pv = sum(a * wt for a, wt in zip(annual, weights[: model.V]))
        g = relative_gap(pv, bound)
        g = 1.0 if g is None else g
        return WaveResult(waves[: model.V], data, added, pv, bound, "optimal" if g <= gap + 1e-12 else "feasible",
                          g, seconds, annual)

    joint = one(_Model(data, waves, allowed, weights), "all waves")
    base = None
    if myopic:
        fixed: dict[int, np.ndarray] = {}
        step = None
        total_seconds = 0.0
        for v in range(len(waves)):
            step = one(_Model(data, waves, allowed, weights, fixed=fixed, until=v), f"wave {waves[v].name} alone")
            total_seconds += step.seconds
            fixed[v] = step.added[v]
        assert step is not None
        step.seconds = total_seconds
        base = step
    return joint, base


def _annual_cost(data: ProblemData, counts: np.ndarray) -> float:
    """Annual cost of an (R x T) set of added nodes [USD a year]: their energy, cooling and price, and the
    racks they newly occupy (with overhead)."""
    cls = data.racks["cls"].to_numpy()
    used = counts.sum(axis=1) > 0
    if not used.any():
        return 0.0
    nodes = float((counts[used] * np.nan_to_num(data.node_cost[:, cls[used]].T)).sum())
    return nodes + float(data.racks["rack_cost_usd"].to_numpy(float)[used].sum())


def with_annual_prices(types: list[NodeType], years: float = 4.0, rate: float = 0.08) -> list[NodeType]:
    """Node types whose ``annual_cost_usd`` is their rent (12 x a month) or, without one, their purchase
    price spread over ``years`` at ``rate`` (capital recovery); unchanged when the library gives neither or
    an annual cost is set already."""
    out = []
    for t in types:
        if t.annual_cost_usd or (t.rent_usd_month is None and t.price_usd is None):
            out.append(t)
        elif t.rent_usd_month is not None:
            out.append(dataclasses.replace(t, annual_cost_usd=12.0 * t.rent_usd_month))
        else:
            crf = 1.0 / years if rate == 0 else rate * (1 + rate) ** years / ((1 + rate) ** years - 1)
            out.append(dataclasses.replace(t, annual_cost_usd=float(t.price_usd) * crf))  # type: ignore[arg-type]
    return out
