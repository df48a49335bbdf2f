"""Buy now or wait: a deployment in waves, planned ahead and compared as strategies (``rackplan phases``,
issue #13).

The waves as given are planned together (:func:`planner.optimize.waves.plan_waves`: one integer
program over every wave, least discounted cost to the horizon, nodes never move) beside the
wave-by-wave baseline (each wave planned when it comes), which measures the value of planning ahead.
Then the same demand is planned as other **strategies**:

* ``now``: every wave at the first wave's date, with the candidates available then (e.g. all B200 now);
* ``schedule``: every wave at its own date, with the candidates available at the first wave (B200 only);
* ``wait``: no wave before the nodes that ship later are available (e.g. MI400's date), then each wave
  at its own date or that one, whichever is later, with those nodes (e.g. all MI400);
* ``hybrid``: the waves as given; ``wave_by_wave``: the same, each wave planned alone.

Each strategy's **discounted TCO** is the optimizer's (energy, cooling, node rent or price, newly
occupied racks, month by month to the horizon, discounted to ``today``). Its **cost of delay** is the
GPU-hours of the demand as scheduled by the waves that it does not deliver on time, month by month,
times ``value_per_gpu_hour_usd``, discounted the same way; delivering early earns nothing. The best
strategy has the least TCO plus cost of delay.

Each strategy's every wave is checked: its installed state (everything in the racks then) is made into a
plan document and re-verified by the independent checker (a failure is a bug: :class:`PlanCheckError`).

The **sensitivity** study re-plans the strategies across the projected range of the
nodes that ship after the first wave: their low and high spec points (everything at once, and
availability, power and price one at a time), and a grid of availability months x accelerator power,
and says in words where waiting pays off. Those re-plans give costs only; they are not written as plans
(and so not checked).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import NoPlanError, PlanCheckError
from planner.inputs.demand import Demand
from planner.inputs.facility import LoadedFacility
from planner.inputs.specs import Catalogue, NodeType, resolve
from planner.inputs.waves import Wave, WavesSpec, add_months, month_index
from planner.optimize.solvers import Progress
from planner.optimize.waves import WaveResult, annual_price, plan_waves, with_annual_prices
from planner.vocabulary import DEFAULT_GAP, DEFAULT_SOLVER, DEFAULT_TIME_LIMIT_S

SCHEMA_PHASES = "rackplan.phases/1"
HOURS_PER_MONTH = 730.0
"""Hours in a month (8,760 / 12), as rents and GPU-hours count them."""
STRATEGY_ORDER = ("now", "schedule", "wait", "hybrid", "wave_by_wave")
COMPARED = ("now", "schedule", "wait", "hybrid")
"""The strategies the best one is chosen among (wave by wave is the baseline of the hybrid)."""


# --- strategies ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Strategy:
    """A way to deploy the same demand: the waves as this strategy would place them."""

    key: str
    """``now``, ``wait``, ``hybrid`` or ``wave_by_wave``."""
    label: str
    waves: tuple[Wave, ...]
    notes: tuple[str, ...] = ()


def available_by(t: NodeType, date: str) -> bool:
    return t.available_from is None or month_index(t.available_from) <= month_index(date)


def accelerators(ids: list[str], types: dict[str, NodeType]) -> str:
    """``B200``, ``B200/MI355X``: the accelerators of some node types, as people name them."""
    return "/".join(dict.fromkeys(types[i].accelerator.upper() for i in ids)) or "nothing"


def wave_gpus(w: Wave, types: dict[str, NodeType]) -> float | None:
    """GPUs a wave asks for (exact nodes, or a GPU target); None for another metric."""
    if w.demand.kind == "nodes":
        return float(sum(n * types[nid].gpus for nid, n in w.demand.nodes.items()))
    return float(w.demand.amount) if w.demand.metric == "gpus" else None


def _as_target(w: Wave, date: str, candidates: list[str], types: dict[str, NodeType]) -> Wave:
    """The wave's demand at ``date`` as a target among ``candidates`` (exact nodes become their GPUs)."""
    if w.demand.kind == "nodes":
        metric, amount = "gpus", float(sum(n * types[nid].gpus for nid, n in w.demand.nodes.items()))
    else:
        metric, amount = w.demand.metric, w.demand.amount
    return Wave(w.name, date, Demand("target", metric=metric, amount=amount, candidates=tuple(candidates),  # type: ignore[arg-type]
                                     origin=w.demand.origin), w.retire)


def later_nodes(spec: WavesSpec, types: dict[str, NodeType]) -> list[str]:
    """Node ids the waves name that are not available at the first wave (the ones worth waiting for)."""
    return [nid for nid in spec.node_ids if not available_by(types[nid], spec.waves[0].date)]


def hybrid_waves(waves: list[Wave], types: dict[str, NodeType]) -> tuple[list[Wave], list[str]]:
    """The waves as given, where each node is available by its wave's date; else (in a what-if where a
    node ships later) a target keeps the candidates available then, and a wave with none (or exact nodes
    not yet shipping) waits for them. Returns the waves and a note per change."""
    out, notes = [], []
    for w in waves:
        ids = w.demand.node_ids
        if all(available_by(types[i], w.date) for i in ids):
            out.append(w)
            continue
        if w.demand.kind == "target" and any(available_by(types[i], w.date) for i in ids):
            keep = tuple(i for i in ids if available_by(types[i], w.date))
            out.append(dataclasses.replace(w, demand=dataclasses.replace(w.demand, candidates=keep)))
            notes.append(f"{w.name}: {', '.join(i for i in ids if i not in keep)} not yet available; "
                         f"{', '.join(keep)} only")
            continue
        ships = [types[i].available_from or w.date for i in ids]
        date = max(ships) if w.demand.kind == "nodes" else min(ships)
        if w.retire is not None and month_index(w.retire) <= month_index(date):
            notes.append(f"{w.name}: its nodes ship {date}, not before it retires ({w.retire}); left out")
            continue
        out.append(Wave(w.name, date, w.demand if w.demand.kind == "nodes" else dataclasses.replace(
            w.demand, candidates=tuple(i for i in ids if available_by(types[i], date))), w.retire))
        notes.append(f"{w.name}: waits for its nodes to {date}")
    return sorted(out, key=lambda w: month_index(w.date)), notes


def derive_strategies(spec: WavesSpec, types: dict[str, NodeType]) -> list[Strategy]:
    """The strategies for this demand, with these node figures (availability above all)."""
    waves, first = spec.waves, spec.waves[0].date
    ids = spec.node_ids
    later = later_nodes(spec, types)
    now_ids = [i for i in ids if available_by(types[i], first)]
    out = []
    if now_ids:
        out.append(Strategy("now", f"All {accelerators(now_ids, types)} now",
                            tuple(_as_target(w, first, now_ids, types) for w in waves),
                            (f"every wave at {first}, from {', '.join(now_ids)}",)))
    if now_ids and later:
        out.append(Strategy("schedule", f"{accelerators(now_ids, types)} only, on schedule",
                            tuple(_as_target(w, w.date, now_ids, types) for w in waves),
                            (f"every wave at its date, from {', '.join(now_ids)} (what ships now)",)))
    if later:
        ships = max(types[i].available_from for i in later)  # type: ignore[type-var]
        moved, notes = [], [f"nothing before {accelerators(later, types)} ships ({ships}); then every wave at its "
                            f"date or {ships}, whichever is later, from {', '.join(later)}"]
        for w in waves:
            date = max(w.date, ships, key=month_index)
            if w.retire is not None and month_index(w.retire) <= month_index(date):
                notes.append(f"{w.name} retires ({w.retire}) before then: left out")
                continue
            moved.append(_as_target(w, date, later, types))
        out.append(Strategy("wait", f"Wait for {accelerators(later, types)}", tuple(moved), tuple(notes)))
    given, notes = hybrid_waves(waves, types)
    out.append(Strategy("hybrid", "Hybrid: the waves as given", tuple(given), tuple(notes) or
                        (f"{len(waves)} wave{'s' if len(waves) != 1 else ''} planned together",)))
    out.append(Strategy("wave_by_wave", "Wave by wave: as given, each planned alone", tuple(given),
                        ("each wave planned when it comes, at its least cost, the earlier ones fixed",)))
    return out


# --- the schedule, GPU-hours and the cost of delay -------------------------------------------------------

def discount(month: int, today: str, rate: float) -> float:
    """Discount factor of a month (an index from :func:`month_index`) seen from ``today``."""
    return (1.0 + rate) ** (-(month - month_index(today)) / 12.0)


def needed_gpus(spec: WavesSpec, types: dict[str, NodeType]) -> np.ndarray | None:
    """GPUs the waves as given ask to have installed, month by month from the first wave to the horizon;
    None when a wave asks for another metric."""
    first, end = month_index(spec.waves[0].date), month_index(spec.horizon)
    out = np.zeros(end - first)
    for w in spec.waves:
        g = wave_gpus(w, types)
        if g is None:
            return None
        stop = month_index(w.retire) if w.retire else end
        out[max(0, month_index(w.date) - first):max(0, min(stop, end) - first)] += g
    return out


def delivered_gpus(result: WaveResult, gpus: np.ndarray, first: str, horizon: str) -> np.ndarray:
    """GPUs a plan has installed, month by month from ``first`` to the horizon."""
    f, end = month_index(first), month_index(horizon)
    out = np.zeros(end - f)
    for w, added in zip(result.waves, result.added):
        g = float((added.sum(axis=0) * gpus).sum())
        stop = month_index(w.retire) if w.retire else end
        out[max(0, month_index(w.date) - f):max(0, min(stop, end) - f)] += g
    return out


@dataclass
class Outcome:
    """A strategy planned: its result (None: no plan), cost, cost of delay and GPU-hours."""

    strategy: Strategy
    result: WaveResult | None = None
    message: str | None = None
    """Why there is no plan."""
    error: NoPlanError | None = None
    """The failure behind ``message``, with its diagnosis when one was asked for (the hybrid's)."""
    pv_usd: float | None = None
    delay_usd: float | None = None
    """Cost of delay [USD, discounted]; None when not priced (no value of a GPU-hour, or not GPUs)."""
    short_gpu_hours: float | None = None
    delivered: np.ndarray | None = None
    """GPUs installed month by month from the first wave to the horizon."""

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def total_usd(self) -> float | None:
        if self.pv_usd is None:
            return None
        return self.pv_usd + (self.delay_usd or 0.0)


class Planner:
    """Plans strategies for one facility and waves file, with caching: the same waves and node figures
    are solved once."""

    def __init__(self, loaded: LoadedFacility, spec: WavesSpec, *, solver: str = DEFAULT_SOLVER,
                 time_limit: float | None = DEFAULT_TIME_LIMIT_S, gap: float = DEFAULT_GAP):
        self.loaded, self.spec = loaded, spec
        self.solver, self.time_limit, self.gap = solver, time_limit, gap
        self.solves = 0
        self.seconds = 0.0
        self._cache: dict[str, Outcome] = {}
        self._data_cache: dict[str, Any] = {}

    def priced(self, types: dict[str, NodeType], ids: list[str]) -> list[NodeType]:
        s = self.spec
        return with_annual_prices([types[i] for i in ids], s.years, s.discount_rate, s.basis)

    def plan(self, strategy: Strategy, types: dict[str, NodeType], needed: np.ndarray | None,
             baseline: bool = False) -> tuple[Outcome, Outcome | None]:
        """Plan a strategy (with ``baseline``, also its wave-by-wave baseline, and when the waves do not
        fit, why: :func:`~planner.optimize.waves.why_not`, in :attr:`Outcome.error`)."""
        s = self.spec
        ids = list(dict.fromkeys(i for w in strategy.waves for i in w.demand.node_ids))
        key = repr((strategy.waves, [dataclasses.astuple(types[i]) for i in ids]))
        if key in self._cache and not baseline:
            return dataclasses.replace(self._cache[key], strategy=strategy), None
        out = Outcome(strategy)
        base = None
        if not strategy.waves:
            out.message = "no wave left to plan"
            return out, None
        late = [w for w in strategy.waves if month_index(w.date) >= month_index(s.horizon)]
        if late:
            out.message = f"no plan: {late[0].name} would go in at {late[0].date}, not before the horizon {s.horizon}"
            self._cache[key] = out
            return out, None
        priced = self.priced(types, ids)
        try:
            joint, myopic = plan_waves(self.loaded.facility, priced, list(strategy.waves),
                                       today=s.today, horizon=s.horizon, discount_rate=s.discount_rate,
                                       solver=self.solver, time_limit=self.time_limit, gap=self.gap, myopic=baseline,
                                       data=self._data(priced), diagnose=baseline)
        except NoPlanError as exc:
            out.message = str(exc).split("\n")[0]
            out.error = exc
            self._cache[key] = out
            return out, None
        self.solves += 1 + (len(strategy.waves) if baseline else 0)
        self.seconds += joint.seconds + (myopic.seconds if myopic is not None else 0.0)
        self._fill(out, joint, needed)
        if myopic is not None:
            base = Outcome(dataclasses.replace(strategy, key="wave_by_wave", label=strategy.label))
            self._fill(base, myopic, needed)
        self._cache[key] = out
        return out, base

    def _data(self, types: list[NodeType]):
        """The problem data for these node types: built once for the same figures (a node's availability
        does not change it, so a sweep over availability months builds it once)."""
        from planner.optimize.classes import build_problem_data

        key = repr([dataclasses.replace(t, available_from=None, status="") for t in types])
        if key not in self._data_cache:
            if len(self._data_cache) > 16:
                self._data_cache.clear()
            self._data_cache[key] = build_problem_data(self.loaded.facility, types, mix_varies=True)
        return self._data_cache[key]

    def _fill(self, out: Outcome, result: WaveResult, needed: np.ndarray | None) -> None:
        s = self.spec
        out.result = result
        out.pv_usd = result.pv_usd
        gpus = np.array([t.gpus for t in result.data.types], dtype=float)
        first = s.waves[0].date
        out.delivered = delivered_gpus(result, gpus, first, s.horizon)
        if result.stopped is not None:
            out.message = result.stopped
        if needed is not None:
            short = np.maximum(0.0, needed - out.delivered)
            f = month_index(first)
            factors = np.array([discount(f + m, s.today, s.discount_rate) for m in range(len(short))])
            out.short_gpu_hours = float(short.sum() * HOURS_PER_MONTH)
            if s.value_per_gpu_hour_usd is not None:
                out.delay_usd = float((short * factors).sum() * HOURS_PER_MONTH * s.value_per_gpu_hour_usd)


def best_of(outcomes: dict[str, Outcome]) -> str | None:
    """The strategy with the least TCO plus cost of delay (the first in order on a tie)."""
    ranked = [(o.total_usd, STRATEGY_ORDER.index(k), k) for k, o in outcomes.items()
              if k in COMPARED and o.ok and o.total_usd is not None and o.result is not None and o.result.stopped is None]
    return min(ranked)[2] if ranked else None


# --- the installed state of each wave, checked ------------------------------------------------------------

def installed_state(loaded: LoadedFacility, cat: Catalogue, lib: dict[str, NodeType], outcome: Outcome, v: int,
                    options: dict[str, Any], solver: str) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """The plan document of everything installed at the outcome's wave ``v`` (library node figures: the
    prices are the study's, not the plan's), checked by the independent checker; and the wave's figures.
    Raises :class:`PlanCheckError` if the check fails (a bug)."""
    from planner.optimize.placement import Placement
    from planner.optimize.solvers import SolveOutcome
    from planner.results.checker import check_plan
    from planner.results.plan_json import build_plan, rack_figures

    res = outcome.result
    assert res is not None
    fac = loaded.facility
    counts_all = res.installed(v)
    keep = [t for t in range(res.data.T) if counts_all[:, t].sum() > 0] or [0]
    types = [lib[res.data.types[t].id] for t in keep]
    counts = counts_all[:, keep]
    added = res.added[v][:, keep]
    df = rack_figures(fac, types, counts)
    used = df["nodes_planned"] > 0
    data = dataclasses.replace(res.data, types=types)
    operating = float(np.column_stack([df[c] for c in ("energy_usd", "cooling_usd", "rack_usd", "nodes_usd")])[used].sum())
    placement = Placement(data, counts, counts, SolveOutcome(solver, res.status, operating, None, res.seconds),
                          operating, None, res.gap, {"solve": res.seconds}, status=res.status)
    installed = {t.id: int(counts[:, i].sum()) for i, t in enumerate(types) if counts[:, i].sum()}
    demand = Demand("nodes", nodes=installed)
    plan = build_plan(loaded, cat, types, demand, placement, options | {"wave": res.waves[v].name}, df)
    # the installed state has no first-fit baseline of its own: the wave-by-wave plan is in phases.json
    del plan["baseline"]
    plan["phase"] = {"strategy": options.get("strategy"), "wave": res.waves[v].name, "date": res.waves[v].date,
                     "waves_installed": [res.waves[u].name for u in range(v + 1) if _installed(res, u, v)]}
    report = check_plan(fac, plan, cat)
    if not report.passed:
        raise PlanCheckError(report.violations)
    plan["checks"] = report.to_json()
    w = res.waves[v]
    u = df.rows(used)
    halls_used = {h["name"] for h in plan["halls"] if h["racks_used"]}
    new_racks = (added.sum(axis=1) > 0)
    figures = {
        "name": w.name, "date": w.date, "retire": w.retire, "demand": w.demand.to_json(),
        "nodes_added": {t.id: int(added[:, i].sum()) for i, t in enumerate(types) if added[:, i].sum()},
        "nodes_installed": installed,
        "gpus_added": int((added.sum(axis=0) * np.array([t.gpus for t in types])).sum()),
        "gpus_installed": int(plan["totals"]["gpus"]),
        "racks_added": int(new_racks.sum()), "racks_used": int(plan["totals"]["racks_used"]),
        "it_kw": plan["totals"]["it_kw"],
        "annual_usd": round(res.annual_usd[v], 2),
        "operating_annual_usd": plan["totals"]["annual_usd"],
        "stranded": {
            "rack_power_kw": round(float((u["power_kw"] - u["it_kw"]).sum()), 3),
            "rack_cooling_kw": round(float((u["air_kw"] - u["air_heat_kw"]).sum()
                                           + (u["liquid_kw"] - u["liquid_heat_kw"]).sum()), 3),
            "hall_cooling_kw": round(sum(h["usable_kw"] - h["cooled_kw"] for h in plan["halls"]
                                         if h["name"] in halls_used), 3),
            "halls_in_use": sorted(halls_used),
        },
        "binding": plan["binding"]["label"],
        "racks_filled": df["id"][new_racks].tolist(),
        "check": {k: plan["checks"][k] for k in ("passed", "summary", "racks_checked", "failures_simulated")},
    }
    return plan, figures, df


def _installed(res: WaveResult, u: int, v: int) -> bool:
    """Whether wave ``u``'s nodes are still in at wave ``v``."""
    retire = res.waves[u].retire
    return retire is None or month_index(retire) > month_index(res.waves[v].date)


# --- sensitivity -----------------------------------------------------------------------------------------

def _sweep_axes(spec: WavesSpec, cat: Catalogue, later: list[str], point: str,
                tdp: dict[str, float]) -> tuple[list[str], str | None, list[float]]:
    """(availability months, accelerator, TDPs [W]) the grid sweeps for the later nodes."""
    profs = [cat.nodes[i] for i in later]
    lows = [p.available.at("low") for p in profs if p.available is not None]
    highs = [p.available.at("high") for p in profs if p.available is not None]
    if spec.sweep_dates:
        dates = list(spec.sweep_dates)
    else:
        start = min(lows, key=month_index) if lows else spec.waves[0].date
        end = add_months(max(highs, key=month_index) if highs else start, 6)
        end = min(end, add_months(spec.horizon, -1), key=month_index)
        span = max(0, month_index(end) - month_index(start))
        step = max(1, math.ceil(span / 7))
        dates = [add_months(start, k) for k in range(0, span + 1, step)]
        nominal = [resolve(cat, i, point).available_from for i in later]
        dates = sorted(set(dates) | {d for d in nominal if d}, key=month_index)
    accs = list(dict.fromkeys(p.accelerator for p in profs))
    if len(accs) != 1:
        return dates, None, []
    acc = accs[0]
    if spec.sweep_tdp_w:
        return dates, acc, list(spec.sweep_tdp_w)
    fig = cat.accelerators[acc].tdp_w
    base = tdp.get(acc, fig.nominal)
    values = {fig.low or base, base, fig.high or base, 1.5 * fig.nominal, 2.0 * fig.nominal}
    return dates, acc, sorted({round(v / 10) * 10 for v in values})


def _with(types: dict[str, NodeType], ids: list[str], make) -> dict[str, NodeType]:
    out = dict(types)
    for i in ids:
        out[i] = make(i, types[i])
    return out


def _scenario(planner: Planner, spec: WavesSpec, types: dict[str, NodeType],
              needed: np.ndarray | None) -> dict[str, Outcome]:
    return {s.key: planner.plan(s, types, needed)[0] for s in derive_strategies(spec, types) if s.key in COMPARED}


def _cell(outcomes: dict[str, Outcome]) -> dict[str, Any]:
    win = best_of(outcomes)
    return {"totals": {k: (None if not o.ok or o.total_usd is None else round(o.total_usd, 2)) for k, o in outcomes.items()},
            "delay_usd": {k: (None if o.delay_usd is None else round(o.delay_usd, 2)) for k, o in outcomes.items()},
            "labels": {k: o.strategy.label for k, o in outcomes.items()},
            "notes": {k: o.message for k, o in outcomes.items() if o.message},
            "winner": win, "winner_label": outcomes[win].strategy.label if win else None}


def sensitivity(planner: Planner, spec: WavesSpec, cat: Catalogue, types: dict[str, NodeType], point: str,
                tdp: dict[str, float], needed: np.ndarray | None, progress: Progress | None = None) -> dict[str, Any] | None:
    """How the best strategy moves across the projected range of the nodes that ship later."""
    later = later_nodes(spec, types)
    if not later:
        return None
    name = accelerators(later, types)
    say = progress or (lambda _line: None)
    points = []
    for p in ("low", "high"):
        varied = {
            "all figures": _with(types, later, lambda i, t: resolve(cat, i, p, tdp)),  # noqa: B023
            "availability": _with(types, later, lambda i, t: dataclasses.replace(  # noqa: B023
                t, available_from=resolve(cat, i, p, tdp).available_from)),
            "power": _with(types, later, lambda i, t: dataclasses.replace(  # noqa: B023
                t, max_kw=resolve(cat, i, p, tdp).max_kw, tdp_w=resolve(cat, i, p, tdp).tdp_w)),
            "price": _with(types, later, lambda i, t: dataclasses.replace(  # noqa: B023
                t, price_usd=resolve(cat, i, p, tdp).price_usd, rent_usd_month=resolve(cat, i, p, tdp).rent_usd_month,
                annual_cost_usd=resolve(cat, i, p, tdp).annual_cost_usd)),
        }
        for figure, scen in varied.items():
            say(f"sensitivity: {name} {figure} at {p}")
            points.append({"point": p, "figure": figure, "available_from": {i: scen[i].available_from for i in later},
                           "max_kw": {i: round(scen[i].max_kw, 3) for i in later},
                           "tdp_w": {i: scen[i].tdp_w for i in later},
                           "annual_price_usd": {i: round(annual_price(scen[i], spec.years, spec.discount_rate, spec.basis)[0], 2)
                                                for i in later},
                           }
                          | _cell(_scenario(planner, spec, scen, needed)))
    dates, acc, tdps = _sweep_axes(spec, cat, later, point, tdp)
    grid = []
    for w in (tdps or [None]):
        row = []
        for d in dates:
            say(f"sensitivity: {name} ships {d}" + (f", {w:,.0f} W" if w is not None else ""))
            scen = _with(types, later, lambda i, t: dataclasses.replace(  # noqa: B023
                resolve(cat, i, point, (tdp | {acc: w}) if w is not None else tdp), available_from=d))
            row.append({"available": d, "tdp_w": w, "max_kw": {i: round(scen[i].max_kw, 3) for i in later}}
                       | _cell(_scenario(planner, spec, scen, needed)))
        grid.append(row)
    base = _scenario(planner, spec, types, needed)
    nominal = {k: (None if not o.ok or o.total_usd is None else round(o.total_usd, 2)) for k, o in base.items()}
    doc = {"nodes": later, "label": name, "accelerator": acc, "dates": dates, "tdp_w": tdps,
           "points": points, "grid": grid, "nominal": nominal, "labels": {k: o.strategy.label for k, o in base.items()},
           "range": {i: {"available": [cat.nodes[i].available.at(p) if cat.nodes[i].available else None
                                       for p in ("low", "nominal", "high")],
                         "max_kw": [round(resolve(cat, i, p, tdp).max_kw, 3) for p in ("low", "nominal", "high")]}
                     for i in later}}
    doc["findings"] = findings(doc, spec)
    return doc


def _span(dates: list[str]) -> str:
    return dates[0] if len(dates) == 1 else f"{dates[0]}..{dates[-1]}"


def _watts(tdps: list[float]) -> str:
    return f"{tdps[0]:,.0f} W" if len(tdps) == 1 else f"{tdps[0]:,.0f}-{tdps[-1]:,.0f} W"


def _runs(all_dates: list[str], wins: list[str]) -> list[list[str]]:
    """Consecutive runs (in the swept order) of the winning dates."""
    runs: list[list[str]] = []
    for d in all_dates:
        if d in wins:
            if runs and all_dates.index(runs[-1][-1]) == all_dates.index(d) - 1:
                runs[-1].append(d)
            else:
                runs.append([d])
    return runs


def wait_finding(doc: dict[str, Any]) -> str:
    """Where waiting pays off across the grid (availability x power), in one sentence: e.g. "Waiting
    for MI400 pays off only if it ships by 2027-05 and draws at most 1,100 W per GPU"."""
    name, dates = doc["label"], doc["dates"]
    rows = doc["grid"]
    # months in which there is something to wait for (it ships after the first wave)
    later = [c["available"] for c in rows[0] if "wait" in c["labels"]]
    early = [d for d in dates if d not in later]
    tail = ""
    if early:
        winners = sorted({c["winner_label"] for row in rows for c in row if c["available"] in early and c["winner_label"]})
        tail = (f" (if it ships by {early[-1]}, with the first wave, there is nothing to wait for"
                + (f": {' or '.join(winners)}" if winners else "") + ")")
    if not later:
        return f"{name} ships by the first wave in every case swept: there is nothing to wait for."
    kinds = []  # per TDP row: ("all" | "never" | "by" | "odd", detail)
    for row in rows:
        wins = [c["available"] for c in row if c["winner"] == "wait"]
        if wins == later:
            kinds.append(("all", None))
        elif not wins:
            kinds.append(("never", None))
        elif wins == later[: len(wins)]:
            kinds.append(("by", wins[-1]))
        else:
            kinds.append(("odd", ", ".join(_span(r) for r in _runs(later, wins))))
    tdps = [row[0]["tdp_w"] for row in rows]
    if all(k == "all" for k, _ in kinds):
        where = f"ships in {_span(later)}" + (f" and draws {_watts(tdps)} per GPU" if tdps[0] is not None else "")
        return f"Waiting for {name} pays off in every case swept (it {where}){tail}."
    if all(k == "never" for k, _ in kinds):
        where = f"ships in {_span(later)}" + (f" and draws {_watts(tdps)} per GPU" if tdps[0] is not None else "")
        return f"Waiting for {name} never pays off in the cases swept (it {where}){tail}."
    if tdps[0] is None:
        k, d = kinds[0]
        return f"Waiting for {name} pays off only if it ships " + (f"by {d}" if k == "by" else f"in {d}") + tail + "."
    # a rectangle: the same latest month up to some power, never above it
    paying = [(t, k, d) for t, (k, d) in zip(tdps, kinds) if k != "never"]
    top = paying[-1][0]
    if all(k == "never" for t, (k, _) in zip(tdps, kinds) if t > top) and len({(k, d) for _, k, d in paying}) == 1 \
            and paying[0][1] in ("all", "by") and [t for t, _, _ in paying] == [t for t in tdps if t <= top]:
        k, d = paying[0][1], paying[0][2]
        if k == "by":
            return f"Waiting for {name} pays off only if it ships by {d} and draws at most {top:,.0f} W per GPU{tail}."
        return (f"Waiting for {name} pays off in every month swept ({_span(later)}) as long as it draws at most "
                f"{top:,.0f} W per GPU, and never above that{tail}.")
    parts, i = [], 0
    while i < len(kinds):
        j = i
        while j + 1 < len(kinds) and kinds[j + 1] == kinds[i]:
            j += 1
        k, d = kinds[i]
        watts = _watts(tdps[i:j + 1])
        parts.append({"all": f"at {watts} whenever it ships in the months swept ({_span(later)})",
                      "never": f"at {watts} never",
                      "by": f"at {watts} only if it ships by {d}",
                      "odd": f"at {watts} if it ships in {d}"}[k])
        i = j + 1
    return f"Waiting for {name} pays off " + "; ".join(parts) + tail + "."


def findings(doc: dict[str, Any], spec: WavesSpec) -> list[str]:
    """What the sensitivity study says, in sentences: where waiting pays off across the grid, and what
    each figure at the ends of its range does to the answer."""
    labels, name = doc["labels"], doc["label"]
    out = []
    if spec.value_per_gpu_hour_usd is None:
        out.append("No value of a GPU-hour was given, so delay costs nothing here and waiting looks better than "
                   "it is; give value_per_gpu_hour_usd (--value-per-gpu-hour) to price it.")
    out.append(wait_finding(doc))
    nominal_best = min(((v, STRATEGY_ORDER.index(k), k) for k, v in doc["nominal"].items() if v is not None), default=None)
    best_key = nominal_best[2] if nominal_best else None
    node = doc["nodes"][0]

    def what(p: dict[str, Any]) -> str:
        return {"availability": f"ships {p['available_from'][node]}",
                "power": f"{p['max_kw'][node]:,.1f} kW a node",
                "price": f"${p['annual_price_usd'][node]:,.0f} a node-year",
                "all figures": f"ships {p['available_from'][node]}, {p['max_kw'][node]:,.1f} kW, "
                               f"${p['annual_price_usd'][node]:,.0f} a node-year"}[p["figure"]]

    for figure in ("availability", "power", "price", "all figures"):
        rows = [p for p in doc["points"] if p["figure"] == figure]
        moved = [p for p in rows if p["winner"] != best_key]
        if moved:
            head = f"{name}'s {figure} moves the answer: " if figure != "all figures" else \
                f"With all of {name}'s figures at one end: "
            out.append(head + "; ".join(f"at the {p['point']} end ({what(p)}) {p['winner_label'] or 'no strategy'} is best"
                                        for p in moved)
                       + (f" (at nominal: {labels.get(best_key, best_key)})." if best_key else "."))
    if best_key is not None and not any(p["winner"] != best_key for p in doc["points"]):
        out.append(f"No figure at either end of its projected range changes the best strategy "
                   f"({labels.get(best_key, best_key)}).")
    return out


# --- the study ---------------------------------------------------------------------------------------------

@dataclass
class PhasesResult:
    doc: dict[str, Any]
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``NN-NAME`` -> the checked plan of the hybrid's installed state at that wave."""
    csvs: dict[str, str] = field(default_factory=dict)
    """``NN-NAME`` -> the wave's racks CSV."""


def run_phases(loaded: LoadedFacility, cat: Catalogue, spec: WavesSpec, *, point: str = "nominal",
               tdp: dict[str, float] | None = None, solver: str = DEFAULT_SOLVER,
               time_limit: float | None = DEFAULT_TIME_LIMIT_S, gap: float = DEFAULT_GAP,
               progress: Progress | None = None, sweep: bool = True, spec_files: list[str] | None = None) -> PhasesResult:
    """Plan the strategies, check every wave of each, and (``sweep``) the sensitivity study."""
    from planner.results.plan_json import made_at, tool_record

    tdp = dict(tdp or {})
    say = progress or (lambda _line: None)
    lib = {i: resolve(cat, i, point, tdp) for i in spec.node_ids}  # type: ignore[arg-type]
    spec.check(lib)
    needed = needed_gpus(spec, lib)
    planner = Planner(loaded, spec, solver=solver, time_limit=time_limit, gap=gap)
    outcomes: dict[str, Outcome] = {}
    for s in derive_strategies(spec, lib):
        if s.key == "wave_by_wave":
            continue
        say(f"planning: {s.label}")
        out, base = planner.plan(s, lib, needed, baseline=s.key == "hybrid")
        outcomes[s.key] = out
        if base is not None:
            outcomes["wave_by_wave"] = dataclasses.replace(base, strategy=next(
                x for x in derive_strategies(spec, lib) if x.key == "wave_by_wave"))
    if not outcomes["hybrid"].ok:
        hybrid = outcomes["hybrid"]
        raise hybrid.error or NoPlanError(hybrid.message or "no plan: the waves do not fit together")
    options = {"time_limit_s": time_limit, "gap_tolerance": gap, "point": point, "tdp_overrides_w": tdp,
               "spec_files": list(spec_files or [])}
    result = PhasesResult({})
    strategies = []
    for key in STRATEGY_ORDER:
        if key not in outcomes:
            continue
        o = outcomes[key]
        waves_doc = []
        if o.ok:
            assert o.result is not None
            for v, w in enumerate(o.result.waves):
                say(f"checking: {o.strategy.label}, wave {w.name}")
                plan, figures, df = installed_state(loaded, cat, lib, o, v, options | {"strategy": key}, solver)
                waves_doc.append(figures)
                if key == "hybrid":
                    tag = f"{v + 1:02d}-{w.name}"
                    result.plans[tag] = plan
                    result.csvs[tag] = wave_csv(o.result, v, df)
                    figures["plan_file"], figures["csv_file"] = f"plans/{tag}.json", f"waves/{tag}.csv"
        strategies.append(strategy_doc(o, waves_doc, spec, checkpoints(spec, outcomes)))
    sens = None
    if sweep:
        sens = sensitivity(planner, spec, cat, lib, point, tdp, needed, progress)
    best = best_of(outcomes)
    hybrid, base = outcomes["hybrid"], outcomes.get("wave_by_wave")
    ahead: dict[str, Any] = {"joint_pv_usd": round(hybrid.pv_usd or 0.0, 2)}
    if base is not None and base.ok:
        assert base.result is not None
        ahead["wave_by_wave_pv_usd"] = round(base.pv_usd or 0.0, 2)
        ahead["stopped"] = base.result.stopped
        ahead["saves_usd"] = None if base.result.stopped else round((base.pv_usd or 0.0) - (hybrid.pv_usd or 0.0), 2)
    ranked = sorted((o.total_usd, k) for k, o in outcomes.items()
                    if k in COMPARED and o.ok and o.total_usd is not None)
    doc: dict[str, Any] = {
        "schema": SCHEMA_PHASES, "tool": tool_record(cat), "made_at": made_at(),
        "facility": {"name": loaded.facility.name, "file": loaded.path, "sha256": loaded.sha256,
                     "racks": len(loaded.facility.racks)},
        "inputs": spec.to_json() | {"point": point, "tdp_overrides_w": tdp, "solver": solver,
                                    "gap_tolerance": gap, "time_limit_s": time_limit,
                                    "spec_files": list(spec_files or [])},
        "prices": prices_doc(spec, lib),
        "checkpoints": checkpoints(spec, outcomes),
        "strategies": strategies,
        "best": {"key": best, "label": outcomes[best].strategy.label if best else None,
                 "total_usd": round(outcomes[best].total_usd, 2) if best and outcomes[best].total_usd is not None else None,
                 "runner_up": ranked[1][1] if len(ranked) > 1 else None,
                 "margin_usd": round(ranked[1][0] - ranked[0][0], 2) if len(ranked) > 1 else None},
        "planning_ahead": ahead,
        "sensitivity": sens,
        "solves": {"count": planner.solves, "seconds": round(planner.seconds, 3)},
    }
    result.doc = doc
    return result


def checkpoints(spec: WavesSpec, outcomes: dict[str, Outcome]) -> list[str]:
    """Dates the GPU-hours are reported at: every strategy's wave dates and the horizon."""
    dates = {w.date for w in spec.waves} | {spec.horizon}
    for o in outcomes.values():
        dates |= {w.date for w in o.strategy.waves}
    first = month_index(spec.waves[0].date)
    return sorted((d for d in dates if month_index(d) > first), key=month_index)


def strategy_doc(o: Outcome, waves_doc: list[dict[str, Any]], spec: WavesSpec, checkpoints: list[str]) -> dict[str, Any]:
    s = o.strategy
    out: dict[str, Any] = {"key": s.key, "label": s.label, "notes": list(s.notes),
                           "status": "ok" if o.ok else "no_plan", "message": o.message,
                           "deploys": [{"name": w.name, "date": w.date, "retire": w.retire, "demand": w.demand.to_json()}
                                       for w in s.waves]}
    if not o.ok:
        return out
    res = o.result
    assert res is not None and o.delivered is not None
    first = month_index(spec.waves[0].date)
    cum = np.concatenate([[0.0], np.cumsum(o.delivered * HOURS_PER_MONTH)])
    dates = checkpoints
    out |= {
        "pv_usd": round(o.pv_usd or 0.0, 2),
        "delay_usd": None if o.delay_usd is None else round(o.delay_usd, 2),
        "short_gpu_hours": None if o.short_gpu_hours is None else round(o.short_gpu_hours, 1),
        "total_usd": None if o.total_usd is None else round(o.total_usd, 2),
        "gpu_hours_by": {d: round(float(cum[min(len(cum) - 1, max(0, month_index(d) - first))]), 1) for d in dates},
        "gpus_by": {d: int(o.delivered[min(len(o.delivered) - 1, max(0, month_index(d) - first))]) if month_index(d) < month_index(spec.horizon) else None
                    for d in dates},
        "solver": {"status": res.status, "gap": round(res.gap, 8), "seconds": round(res.seconds, 3),
                   "bound_usd": None if res.bound_usd is None else round(res.bound_usd, 2)},
        "stopped": res.stopped,
        "waves": waves_doc,
        "annual_usd": [round(a, 2) for a in res.annual_usd],
        "timeline": timeline(res, spec.horizon),
    }
    return out


def timeline(res: WaveResult, horizon: str) -> list[dict[str, Any]]:
    """What is installed from each wave's date and each retirement on: racks in use, IT kW (nodes and
    the overhead of newly occupied racks), GPUs."""
    months = sorted({w.date for w in res.waves} | {w.retire for w in res.waves if w.retire and
                                                    month_index(w.retire) < month_index(horizon)}, key=month_index)
    max_kw = np.array([t.max_kw for t in res.data.types])
    gpus = np.array([t.gpus for t in res.data.types])
    overhead = np.where(res.data.racks["has_existing"].astype(bool), 0.0, res.data.racks["overhead_kw"].astype(float))
    out = []
    for m in months:
        counts = np.zeros_like(res.added[0])
        for w, a in zip(res.waves, res.added):
            if month_index(w.date) <= month_index(m) and (w.retire is None or month_index(w.retire) > month_index(m)):
                counts += a
        used = counts.sum(axis=1) > 0
        out.append({"date": m, "racks": int(used.sum()), "gpus": int((counts.sum(axis=0) * gpus).sum()),
                    "it_kw": round(float((counts @ max_kw).sum() + overhead[used].sum()), 3)})
    return out


def prices_doc(spec: WavesSpec, lib: dict[str, NodeType]) -> list[dict[str, Any]]:
    out = []
    for nid, t in lib.items():
        value, basis = annual_price(t, spec.years, spec.discount_rate, spec.basis)
        out.append({"node": nid, "accelerator": t.accelerator, "gpus": t.gpus, "max_kw": round(t.max_kw, 3),
                    "tdp_w": t.tdp_w, "status": t.status, "available_from": t.available_from, "basis": basis,
                    "rent_usd_month": t.rent_usd_month, "price_usd": t.price_usd,
                    "annual_price_usd": round(value, 2),
                    "usd_per_gpu_hour": round(value / (t.gpus * 8760.0), 4) if t.gpus else None})
    return out


CSV_COLUMNS = ["id", "hall", "row", "rack_type", "filled_by", "nodes_added", "nodes_installed", "gpus", "it_kw",
               "power_kw", "power_headroom_kw", "air_heat_kw", "air_kw", "liquid_heat_kw", "liquid_kw",
               "cooling_headroom_kw"]


def wave_csv(res: WaveResult, v: int, df) -> str:
    """One line per rack holding nodes at wave ``v``: which wave filled it, what this wave added, what is
    installed, and the rack's load and headroom (``df``: :func:`rack_figures` of the installed state,
    over the nodes installed then, in ``res``'s type order restricted to them)."""
    installed = res.installed(v)
    keep = [t for t in range(res.data.T) if installed[:, t].sum() > 0] or [0]
    ids = [res.data.types[t].id for t in keep]
    filled = np.full(len(installed), -1)
    for u in range(v + 1):
        filled[(res.added[u].sum(axis=1) > 0) & (installed.sum(axis=1) > 0)] = u
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    used = np.flatnonzero(installed.sum(axis=1) > 0)

    def text(row: np.ndarray) -> str:
        return ";".join(f"{ids[j]}={int(row[t])}" for j, t in enumerate(keep) if row[t])

    for r in used:
        x = {name: df[name][r] for name in ("id", "hall", "row", "rack_type", "gpus", "it_kw", "power_kw", "air_heat_kw",
                                             "air_kw", "liquid_heat_kw", "liquid_kw")}
        w.writerow([x["id"], x["hall"], x["row"], x["rack_type"], res.waves[filled[r]].name if filled[r] >= 0 else "",
                    text(res.added[v][r]), text(installed[r]), int(x["gpus"]), round(float(x["it_kw"]), 4),
                    round(float(x["power_kw"]), 4), round(float(x["power_kw"] - x["it_kw"]), 4),
                    round(float(x["air_heat_kw"]), 4), round(float(x["air_kw"]), 4), round(float(x["liquid_heat_kw"]), 4),
                    round(float(x["liquid_kw"]), 4),
                    round(float(x["air_kw"] - x["air_heat_kw"] + x["liquid_kw"] - x["liquid_heat_kw"]), 4)])
    return buf.getvalue()


def write_phases(result: PhasesResult, out_dir: str | Path, loaded: LoadedFacility) -> list[Path]:
    """Write phases.json, phases.html, waves/NN-NAME.csv and plans/NN-NAME.json, all or nothing."""
    from planner.report.phases_view import render_phases
    from planner.results.outputs import atomic_outputs

    html = render_phases(result.doc, loaded.facility)
    with atomic_outputs(out_dir) as out:
        paths = [out.write_json("phases.json", result.doc)]
        out.replace_dir("waves")
        out.replace_dir("plans")
        for tag, text in result.csvs.items():
            paths.append(out.write_text(f"waves/{tag}.csv", text))
        for tag, plan in result.plans.items():
            paths.append(out.write_json(f"plans/{tag}.json", plan))
        paths.append(out.write_text("phases.html", html))
    return paths
