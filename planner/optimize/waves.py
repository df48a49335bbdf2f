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
and every group limit carries the sum of their loads; loads never go negative, so these are stated only
at the waves whose installed set is not inside another's (:func:`binding_waves`: without retirements,
the last wave).

The objective is each wave's annual cost (energy, cooling, node rent or price, newly occupied racks and
their overhead) times the discounted years it is in service: monthly discounting from the wave's date
to its retirement or the horizon, at ``discount_rate`` a year.

With HiGHS, the LP relaxation is solved first and made into a whole plan (:meth:`_Model.rounded_start`):
rounded down and repaired greedily, else the MIP restricted to the LP's support. A plan within the gap
tolerance of the LP bound is proven without branch and bound (four waves on the 28,800-rack campus: a
few seconds instead of a minute); otherwise it starts the MIP.

The **wave-by-wave baseline** solves the waves one after the other, each at its least cost with the
earlier ones fixed: what a team that plans each purchase when it comes would get. The difference is
the value of planning ahead; it may stop at a wave that no longer fits (:attr:`WaveResult.stopped`).

When the waves do not fit together, :func:`why_not` finds the first wave that does not fit beside the
ones before it and says what ``plan`` says of it (or of all the nodes installed then).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pulp

from planner.errors import InputError, NoPlanError
from planner.inputs.facility import Facility
from planner.inputs.waves import Wave, check_waves, month_index, month_name  # noqa: F401 (re-exported)
from planner.inputs.specs import NodeType
from planner.optimize.classes import ProblemData, build_problem_data
from planner.optimize.first_fit import metric_per_node
from planner.optimize.milp import _rounding_cut, sanitize
from planner.optimize.solvers import Progress, relative_gap
from planner.vocabulary import CLI_FILE, DEFAULT_GAP, DEFAULT_SOLVER, DEFAULT_TIME_LIMIT_S


def service_years(start: str, end: str, today: str, rate: float) -> float:
    """Discounted years of service from ``start`` to ``end`` (``YYYY-MM``), seen from ``today``: each
    month counts 1/12 of a year, discounted by ``(1 + rate)`` per year from ``today``."""
    m0, m1, now = month_index(start), month_index(end), month_index(today)
    return sum((1.0 / 12.0) * (1.0 + rate) ** (-(m - now) / 12.0) for m in range(m0, m1))


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
    method: str = ""
    """How the solver found the plan (:attr:`_Model.start`)."""
    stopped: str | None = None
    """Wave by wave only: why a wave could not be placed after the ones before it (then ``waves`` and
    ``added`` hold only the waves before it); None when every wave was placed."""

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


def binding_waves(waves: list[Wave], until: int | None = None) -> list[int]:
    """The waves at which the rack counts and group limits need stating: those whose set of installed
    waves is not contained in another's. Loads are never negative, so a limit that holds for a set of
    waves holds for any subset of it: without retirements only the last wave's constraints bind (the
    others are implied), with retirements one per maximal set."""
    V = len(waves) if until is None else until + 1
    sets = [frozenset(active(waves, v)) for v in range(V)]
    out = []
    for v, s in enumerate(sets):
        if any(s < t or (s == t and u > v) for u, t in enumerate(sets) if u != v):
            continue
        out.append(v)
    return out


class _Model:
    """The PuLP model over the waves (:func:`plan_waves` builds it)."""

    maximize_count = False
    """Read by :func:`planner.optimize.solvers.solve`: this model minimizes cost."""

    def __init__(self, data: ProblemData, waves: list[Wave], allowed: list[set[int]], weights: list[float],
                 fixed: dict[int, np.ndarray] | None = None, until: int | None = None):
        self.data, self.waves, self.allowed, self.weights = data, waves, allowed, weights
        self.prob = pulp.LpProblem("rackplan_waves", pulp.LpMinimize)
        d = data
        V = len(waves) if until is None else until + 1
        self.V = V
        self.binding = binding_waves(waves, until)
        """Waves whose installed set is maximal: the rack counts and limits are stated there only."""
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
        """``r[k, v] = sum_p z[k, p, v]``; and the racks of the waves installed together fit the class:
        ``sum_{u active at v} r[k, u] <= count[k]``, at each wave of :func:`binding_waves`."""
        d = self.data
        for v in range(self.V):
            for k in range(d.K):
                self._add([(self.z[k, p, v], 1) for p in range(len(d.patterns(k)))] + [(self.r[k, v], -1)],
                          pulp.LpConstraintEQ, 0, f"racks_used__{k}_{v}")
        for v in self.binding:
            live = active(self.waves, v)
            if len(live) < 2:
                continue  # one wave: r's upper bound says it
            for k in range(d.K):
                self._add([(self.r[k, u], 1) for u in live], pulp.LpConstraintLE, d.count(k), f"racks_free__{k}_{v}")

    def _slots(self) -> None:
        """A wave's nodes fit the slots of the racks it fills (``w[t, k, v] <= sum_p a_p[t] z[k, p, v]``)."""
        d = self.data
        for (t, k, v), wv in self.w.items():
            pats = d.patterns(k)
            self._add([(wv, 1)] + [(self.z[k, p, v], -int(pats[p, t])) for p in range(len(pats)) if pats[p, t]],
                      pulp.LpConstraintLE, 0, f"slots__{t}_{k}_{v}")

    def _limits(self) -> None:
        """Every group limit over everything installed together, at each wave of :func:`binding_waves`."""
        d = self.data
        overhead = d.classes["overhead_kw"].astype(float)
        for v in self.binding:
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
        cls = d.racks["cls"]
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

    # --- solving ------------------------------------------------------------------------------------

    def set_start(self, values: dict[pulp.LpVariable, float]) -> None:
        """Give every variable a starting value (a whole plan; :meth:`rounded_start` makes one)."""
        for var in self.prob.variables():
            var.setInitialValue(values.get(var, 0.0))

    def solve(self, solver: str, time_limit: float | None, gap: float,
              progress: Progress | None = None) -> tuple[str, float | None, float | None]:
        """Solve; returns (status, objective, bound). With HiGHS, the LP relaxation is solved first and
        rounded into a whole plan (:meth:`rounded_start`); when that plan is within ``gap`` of the LP
        bound, no branch and bound runs, else it starts the MIP (as for one plan:
        :func:`planner.optimize.solvers.solve`)."""
        from planner.optimize.solvers import solve

        self.gap, self.time_limit = gap, time_limit
        out = solve(self, solver, time_limit, gap, progress, warm=False,  # type: ignore[arg-type]
                    start_from_lp=self.rounded_start if solver == "highs" else None)
        if not out.has_solution:
            return out.status, None, None
        return out.status, out.objective, out.bound

    def rounded_start(self) -> tuple[dict[pulp.LpVariable, float]] | None:
        """A whole plan from the LP relaxation's values (in the variables when called), in up to two
        steps: (1) every wave's racks and nodes rounded down (every limit still holds: they are
        monotone), then each wave's shortfall placed greedily (:class:`_Repair`); (2) when that fails or
        is not within the gap tolerance of the LP bound, the MIP restricted to the racks and nodes the LP
        uses (every other ``z`` and ``w`` held at 0), which HiGHS solves in a fraction of the time of
        the whole MIP: on a campus whose hall cooling binds, the LP's fractions are spread so thin that
        no greedy finds room for the last nodes, while the restricted MIP changes the mix within the
        halls. None when neither gives a plan."""
        lp = self.lp_bound()
        greedy = self._greedy_start()
        if greedy is not None and (relative_gap(self._cost(greedy), lp) or 0.0) <= self.gap:
            self.start = "LP rounded and repaired"
            return (greedy,)
        support = self._support_start()
        best = min((s for s in (greedy, support) if s is not None), key=self._cost, default=None)
        if best is None:
            return None
        self.start = "LP rounded and repaired" if best is greedy else "MIP on the LP's support"
        if (relative_gap(self._cost(best), lp) or 0.0) > self.gap:
            self.start += ", then branch and bound"
        return (best,)

    support_in_start = True
    """:meth:`rounded_start` already tries the MIP on the LP's support: the solver does not again."""

    start = "branch and bound"
    """How the plan was found: from the LP rounded and repaired, the MIP on its support, or branch and
    bound (then from the better of those as a start, where there is one)."""

    gap = DEFAULT_GAP
    """Relative gap tolerance of the solve under way (set by :meth:`solve`)."""
    time_limit: float | None = None

    def lp_bound(self) -> float:
        """The objective at the variables' current (LP relaxation) values."""
        return float(sum(c * (v.varValue or 0.0) for v, c in self.prob.objective.items()))

    def _cost(self, values: dict[pulp.LpVariable, float]) -> float:
        return float(sum(c * values.get(v, 0.0) for v, c in self.prob.objective.items()))

    def _greedy_start(self) -> dict[pulp.LpVariable, float] | None:
        """Step (1) of :meth:`rounded_start`: round down, then repair first where the LP had put a
        fraction of the wave's nodes (each wave takes back the headroom its own rounding freed), then
        cheapest first anywhere."""
        d = self.data
        z = {key: int(np.floor((var.value() or 0.0) + 1e-6)) for key, var in self.z.items()}
        w = {key: int(np.floor((var.value() or 0.0) + 1e-6)) for key, var in self.w.items()}
        fractional = {key for key, var in self.w.items() if (var.value() or 0.0) - w[key] > 1e-6}
        rep = _Repair(self, z, w)
        for v in range(self.V):
            rep.meet(v, within=fractional)
        for v in range(self.V):
            if not rep.meet(v):
                return None
        values: dict[pulp.LpVariable, float] = {}
        for key, var in self.z.items():
            values[var] = float(rep.z[key])
        for (k, v), var in self.r.items():
            values[var] = float(sum(rep.z[k, p, v] for p in range(len(d.patterns(k)))))
        for key, var in self.w.items():
            values[var] = float(rep.w[key])
        return values

    def _support_start(self) -> dict[pulp.LpVariable, float] | None:
        """Step (2) of :meth:`rounded_start`: the MIP on the LP's support
        (:func:`planner.optimize.solvers.support_mip`), for at most a quarter of the time limit (30 s
        without one)."""
        from planner.optimize.solvers import support_mip

        h = getattr(self.prob, "solverModel", None)
        if h is None:
            return None
        variables = self.prob.variables()
        lp_values = [0.0] * (max((v.index for v in variables), default=-1) + 1)
        for var in variables:
            lp_values[var.index] = float(var.varValue or 0.0)
        found = support_mip(h, self, lp_values, self.time_limit / 4 if self.time_limit else 30.0, self.gap)
        if found is None:
            return None
        return {var: float(round(found[1][var.index])) for var in variables}

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


class _Repair:
    """Completes a rounded-down plan over the waves: the loads it puts on every group limit and every
    class's racks at each binding wave, and a greedy that adds a wave's missing nodes, cheapest per
    unit of its demand first, in bulk."""

    def __init__(self, m: _Model, z: dict[tuple[int, int, int], int], w: dict[tuple[int, int, int], int]):
        d = m.data
        self.m, self.d, self.z, self.w = m, d, dict(z), dict(w)
        T, K, V = d.T, d.K, m.V
        self.slots = np.zeros((V, T, K), dtype=np.int64)
        for (k, p, v), n in self.z.items():
            if n:
                self.slots[v, :, k] += d.patterns(k)[p] * n
        for (t, k, v), n in list(self.w.items()):  # never more nodes than the rounded racks hold
            self.w[t, k, v] = min(n, int(self.slots[v, t, k]))
        overhead = d.classes["overhead_kw"].astype(float) if K else np.zeros(0)
        nl = len(d.limits)
        self.coef = np.zeros((nl, K))
        """(L x K) each limit's weight on each class."""
        self.q = np.zeros((nl, T))
        """(L x T) each limit's quantity per node."""
        self.ovh = np.zeros((nl, K))
        """(L x K) each limit's load per newly occupied rack (overhead)."""
        budget = np.zeros(nl)
        for i, lim in enumerate(d.limits):
            self.coef[i, lim.classes.astype(int)] = lim.weight
            self.q[i] = d.quantity(lim.quantity)
            if lim.quantity != "liquid":
                self.ovh[i] = self.coef[i] * overhead
            budget[i] = lim.budget
        self.groups = {b: active(m.waves, b) for b in m.binding}
        self.head = {}
        """Binding wave -> (L,) headroom left on every limit."""
        self.free = {}
        """Binding wave -> (K,) racks left in every class."""
        counts = np.array([d.count(k) for k in range(K)], dtype=np.int64)
        for b, live in self.groups.items():
            load = np.zeros(nl)
            used = np.zeros(K, dtype=np.int64)
            for u in live:
                wu = self._w(u)
                ru = self._r(u)
                load += ((self.q @ wu) * self.coef).sum(axis=1) + self.ovh @ ru
                used += ru
            self.head[b] = budget - load
            self.free[b] = counts - used

    def _w(self, v: int) -> np.ndarray:
        out = np.zeros((self.d.T, self.d.K))
        for (t, k, vv), n in self.w.items():
            if vv == v:
                out[t, k] = n
        return out

    def _r(self, v: int) -> np.ndarray:
        out = np.zeros(self.d.K, dtype=np.int64)
        for (k, _p, vv), n in self.z.items():
            if vv == v:
                out[k] += n
        return out

    def _room(self, v: int, t: int, k: int, per_rack: int, slack: int, most: int) -> tuple[int, int]:
        """(nodes, new racks): the most nodes of type t (at most ``most``) that class k can still take at
        wave v: ``slack`` free slots in the wave's racks first, then new racks of ``per_rack`` each,
        within every limit and rack count at every binding wave that v is installed in."""
        where = [b for b, live in self.groups.items() if v in live]
        head = np.min([self.head[b] for b in where], axis=0) if where else None
        racks = int(min(self.free[b][k] for b in where)) if where else self.d.count(k)
        node_load = self.coef[:, k] * self.q[:, t]
        rack_load = self.ovh[:, k]

        def fits(n: int) -> bool:
            extra = max(0, n - slack)
            new = -(-extra // per_rack) if per_rack else (0 if extra == 0 else racks + 1)
            if new > racks:
                return False
            return head is None or bool(np.all(node_load * n + rack_load * new <= head + 1e-6))

        hi = min(most, slack + racks * per_rack)
        if fits(hi):
            n = hi
        else:
            lo = 0
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if fits(mid) else (lo, mid)
            n = lo
        extra = max(0, n - slack)
        return n, (-(-extra // per_rack) if per_rack else 0)

    def _add(self, v: int, t: int, k: int, n: int, new: int, p: int) -> None:
        self.w[t, k, v] = self.w.get((t, k, v), 0) + n
        if new:
            self.z[k, p, v] = self.z.get((k, p, v), 0) + new
            self.slots[v, :, k] += self.d.patterns(k)[p] * new
        for b, live in self.groups.items():
            if v in live:
                self.head[b] -= self.coef[:, k] * self.q[:, t] * n + self.ovh[:, k] * new
                self.free[b][k] -= new

    def meet(self, v: int, within: set[tuple[int, int, int]] | None = None) -> bool:
        """Add what wave v still needs (only to the (t, k, v) in ``within``, if given); False if it
        cannot be met this way."""
        d, m = self.d, self.m
        dem = m.waves[v].demand
        wv = self._w(v)
        if dem.kind == "nodes":
            ids = [t.id for t in d.types]
            wants = [(np.eye(d.T)[ids.index(nid)], float(n)) for nid, n in dem.nodes.items()]
        else:
            wants = [(metric_per_node(d, dem.metric), float(dem.amount))]  # type: ignore[arg-type]
        cost = d.rack_cost()
        for per, amount in wants:
            need = amount - float((per @ wv).sum())
            if need <= 1e-9:
                continue
            options = []
            for (t, k, vv) in self.w:
                if vv != v or per[t] <= 0 or not np.isfinite(d.node_cost[t, k]) or \
                        (within is not None and (t, k, v) not in within):
                    continue
                pats = d.patterns(k)
                p = int(np.argmax(pats[:, t]))
                a = int(pats[p, t])
                slack = int(self.slots[v, t, k] - self.w[t, k, v])
                if slack > 0:
                    options.append((d.node_cost[t, k] / per[t], t, k, slack, 0, p))
                if a > 0:
                    options.append(((d.node_cost[t, k] + cost[k] / a) / per[t], t, k, 0, a, p))
            for _, t, k, slack, a, p in sorted(options, key=lambda o: (o[0], o[1], o[2])):
                if need <= 1e-9:
                    break
                slack = int(self.slots[v, t, k] - self.w[t, k, v]) if slack else 0
                most = int(math.ceil(need / per[t] - 1e-9))
                n, new = self._room(v, t, k, a, slack, most)
                if n <= 0:
                    continue
                self._add(v, t, k, n, new, p)
                need -= n * per[t]
            if need > 1e-9:
                return False
        return True


def plan_waves(fac: Facility, types: list[NodeType], waves: list[Wave], *, today: str, horizon: str,
               discount_rate: float = 0.08, solver: str = DEFAULT_SOLVER, time_limit: float | None = DEFAULT_TIME_LIMIT_S,
               gap: float = DEFAULT_GAP, myopic: bool = True, data: ProblemData | None = None,
               diagnose: bool = False) -> tuple[WaveResult, WaveResult | None]:
    """Plan every wave at once at the least discounted cost; with ``myopic``, also the wave-by-wave
    baseline (which may stop at a wave that no longer fits: :attr:`WaveResult.stopped`). ``types`` holds
    every node type any wave names (``data``: their problem data, when already built for the same
    facility and types). Raises :class:`NoPlanError` when the waves do not fit together; with
    ``diagnose``, one that says which wave first does not fit and what runs out (:func:`why_not`)."""
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
    if data is None or [t.id for t in data.types] != [t.id for t in types]:
        data = build_problem_data(fac, types, mix_varies=True)
    ids = [t.id for t in types]
    allowed = [{ids.index(nid) for nid in w.demand.node_ids} for w in waves]
    weights = [service_years(w.date, w.retire or horizon, today, discount_rate) for w in waves]

    def one(model: _Model, label: str, explain: bool = False) -> WaveResult:
        started = time.monotonic()
        status, objective, bound = model.solve(solver, time_limit, gap)
        seconds = time.monotonic() - started
        if objective is None:
            if status == "infeasible":
                if explain:
                    raise why_not(fac, types, waves, data, allowed, weights, solver=solver, time_limit=time_limit,
                                  gap=gap)
                raise NoPlanError(f"no plan: the waves do not fit together ({label}: infeasible)")
            raise NoPlanError(f"no plan: the time limit ran out before any plan was found ({label}); "
                              "raise --time-limit")
        added = model.added()
        annual = [_annual_cost(data, a) for a in added]
        pv = sum(a * wt for a, wt in zip(annual, weights[: model.V]))
        g = relative_gap(pv, bound)
        g = 1.0 if g is None else g
        return WaveResult(waves[: model.V], data, added, pv, bound, "optimal" if g <= gap + 1e-12 else "feasible",
                          g, seconds, annual, method=model.start if solver == "highs" else "branch and bound")

    joint = one(_Model(data, waves, allowed, weights), "all waves", explain=diagnose)
    base = None
    if myopic:
        fixed: dict[int, np.ndarray] = {}
        step = None
        total_seconds = 0.0
        stopped = None
        for v in range(len(waves)):
            try:
                step = one(_Model(data, waves, allowed, weights, fixed=fixed, until=v), f"wave {waves[v].name} alone")
            except NoPlanError:
                stopped = (f"wave {waves[v].name} ({waves[v].date}) does not fit beside the {v} placed "
                           "before it one by one")
                break
            total_seconds += step.seconds
            fixed[v] = step.added[v]
        assert step is not None  # wave 0 alone fits whenever all waves together do
        step.seconds = total_seconds
        step.stopped = stopped
        base = step
        if stopped is None and base.pv_usd < joint.pv_usd:
            # the wave-by-wave plan is a plan for all the waves too: within the gap tolerance it can come
            # out cheaper than the one the solver stopped at, and then it is the better joint plan
            g = relative_gap(base.pv_usd, joint.bound_usd)
            g = 1.0 if g is None else g
            joint = WaveResult(joint.waves, data, [a.copy() for a in base.added], base.pv_usd, joint.bound_usd,
                               "optimal" if g <= gap + 1e-12 else "feasible", g, joint.seconds, list(base.annual_usd))
    return joint, base


def why_not(fac: Facility, types: list[NodeType], waves: list[Wave], data: ProblemData, allowed: list[set[int]],
            weights: list[float], *, solver: str = DEFAULT_SOLVER, time_limit: float | None = DEFAULT_TIME_LIMIT_S,
            gap: float = DEFAULT_GAP) -> NoPlanError:
    """Why waves that do not fit together (:func:`plan_waves`) do not: the first wave that does not fit
    with the ones before it planned together, and what ``plan`` says of it
    (:func:`planner.optimize.placement.optimize`, which diagnoses a demand that does not fit): of the
    wave alone when it does not fit even alone, else of all the nodes installed then (when every wave
    installed then asks for exact nodes). The error carries that demand (:attr:`NoPlanError.demand`)."""
    from planner.inputs.demand import Demand
    from planner.optimize.placement import optimize

    unknown = NoPlanError("no plan: the waves do not fit together; the time limit ran out before the diagnosis "
                          "could say which wave does not fit (raise --time-limit)")
    v, fitted = len(waves) - 1, None
    for u in range(len(waves) - 1):
        model = _Model(data, waves, allowed, weights, until=u)
        status, objective, _bound = model.solve(solver, time_limit, gap)
        if status == "infeasible":
            v = u
            break
        if objective is None:  # stopped before any plan: whether these waves fit is not known
            return unknown
        fitted = model
    wave, live = waves[v], active(waves, v)
    by_id = {t.id: t for t in types}
    # what the waves before v add where they fit together: the nodes a target wave chose
    planned = [{data.types[t].id: int(n) for t, n in enumerate(a.sum(axis=0)) if n > 0}
               for a in fitted.added()] if fitted is not None else []

    def said(demand: Demand) -> NoPlanError | None:
        """``plan``'s diagnosis of ``demand``; None when it fits."""
        try:
            optimize(fac, [by_id[i] for i in demand.node_ids], demand, solver=solver, time_limit=time_limit,
                     gap_rel=gap)
        except NoPlanError as exc:
            if str(exc).startswith("the time limit ran out"):  # no verdict on this demand
                raise _Inconclusive from None
            return exc
        return None

    head = f"wave {wave.name} ({wave.date})"
    demand = wave.demand
    try:
        diag = said(demand)
        if diag is not None:
            head += " does not fit" + (" even alone" if len(live) > 1 else "")
        else:
            before = [waves[u].name for u in live if u != v]
            head += (f" fits alone but not beside the {len(before)} wave{'s' if len(before) > 1 else ''} "
                     f"installed then ({', '.join(before)})")
            chosen = [u for u in live if u != v and waves[u].demand.kind != "nodes"]
            if wave.demand.kind == "nodes" and all(u < len(planned) for u in chosen):
                nodes: dict[str, int] = {}
                for u in live:
                    for nid, n in (planned[u] if u in chosen else waves[u].demand.nodes).items():
                        nodes[nid] = nodes.get(nid, 0) + n
                demand = Demand("nodes", nodes=nodes)
                diag = said(demand)
                if diag is not None:
                    head += (f"; all {demand.describe().removeprefix('place ')} together"
                             + (f" (with what {', '.join(waves[u].name for u in chosen)} chose)" if chosen else ""))
    except _Inconclusive:
        return unknown
    if diag is None:
        return NoPlanError(f"no plan: {head}")
    lines = list(diag.shortfalls) or [str(diag).removeprefix("no plan: ")]
    lines[0] = f"{head}: {lines[0]}"
    return NoPlanError("no plan: " + lines[0], lines, demand=demand)


class _Inconclusive(Exception):
    """A diagnosis solve stopped at its time limit without a verdict."""


def _annual_cost(data: ProblemData, counts: np.ndarray) -> float:
    """Annual cost of an (R x T) set of added nodes [USD a year]: their energy, cooling and price, and the
    racks they newly occupy (with overhead)."""
    cls = data.racks["cls"]
    used = counts.sum(axis=1) > 0
    if not used.any():
        return 0.0
    nodes = float((counts[used] * np.nan_to_num(data.node_cost[:, cls[used]].T)).sum())
    return nodes + float(data.racks["rack_cost_usd"].astype(float)[used].sum())


def capital_recovery_factor(rate: float, years: float) -> float:
    """Share of a purchase price paid each year to recover it over ``years`` at ``rate``:
    ``r (1+r)^n / ((1+r)^n - 1)``; ``1 / n`` when ``r`` is 0."""
    return 1.0 / years if rate == 0 else rate * (1 + rate) ** years / ((1 + rate) ** years - 1)


def annual_price(t: NodeType, years: float = 4.0, rate: float = 0.08, basis: str = "auto") -> tuple[float, str]:
    """A node's annual price [USD a year] and what it is: its rent (12 x a month), or its purchase price
    spread over ``years`` at ``rate`` (capital recovery). ``basis``: ``rent`` or ``buy`` prefer that one
    (the other where it is missing), ``auto`` takes the rent where the library gives one. The library's
    own ``annual_cost_usd`` wins when set; ``(0, "none")`` when nothing is known."""
    if t.annual_cost_usd:
        return float(t.annual_cost_usd), "annual"
    rent = None if t.rent_usd_month is None else 12.0 * t.rent_usd_month
    buy = None if t.price_usd is None else float(t.price_usd) * capital_recovery_factor(rate, years)
    order = [("buy", buy), ("rent", rent)] if basis == "buy" else [("rent", rent), ("buy", buy)]
    for what, value in order:
        if value is not None:
            return value, what
    return 0.0, "none"


def with_annual_prices(types: list[NodeType], years: float = 4.0, rate: float = 0.08,
                       basis: str = "auto") -> list[NodeType]:
    """Node types whose ``annual_cost_usd`` is their annual price (:func:`annual_price`): their rent
    (12 x a month) or their purchase price over ``years`` at ``rate``; unchanged when the library gives
    neither or an annual cost is set already."""
    return [dataclasses.replace(t, annual_cost_usd=annual_price(t, years, rate, basis)[0]) for t in types]
