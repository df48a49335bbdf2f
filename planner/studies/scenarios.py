"""Uncertain inputs as distributions, scenarios drawn from them, and one scenario solved and checked.

A **factor** is one uncertain input: a projected figure of the spec library (an accelerator's TDP,
dense FP8 or HBM; a node's platform overhead, vendor maximum or weight), a node's price where it has
a range, or a site figure the user gives a range for (electricity price, load factor). Each is drawn
from a triangular distribution on its low, nominal and high values.

Figures that move together move together: an accelerator's TDP is one factor, and every node built
on that accelerator is re-derived from the drawn TDP (``resolve(cat, id, "nominal", {acc: tdp})``:
``gpus x TDP + platform overhead``, a ``vendor_max`` node keeping its stated overhead above the GPUs).
A factor shared by two candidates (the same accelerator, the site) takes one draw per scenario for
both, so candidates are compared under the same conditions. The liquid fraction stays at its nominal
value, as at the spec points (neither end of its range goes naturally with high power).

A scenario's draws depend only on the seed, the scenario's number and the factor's key (one random
stream each), so scenario 17 is the same whether 100 or 1,000 are drawn, in whatever order they are
solved, and a resumed sweep continues exactly where the interrupted one stopped.

:func:`evaluate` solves one candidate in one scenario with the optimizer, re-checks the plan with the
independent checker against the scenario's figures, and returns one flat row of results.
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from planner.errors import InputError, NoPlanError
from planner.inputs.demand import Demand
from planner.inputs.facility import LoadedFacility
from planner.inputs.specs import Catalogue, Figure, resolve
from planner.studies.tco import PriceChoice, unit_costs, value_key
from planner.vocabulary import LIMIT_LABEL


@dataclass(frozen=True)
class Factor:
    """One uncertain input and its triangular distribution."""

    key: str
    """``tdp:ACC``, ``fp8:ACC``, ``hbm:ACC``, ``overhead:NODE``, ``maxkw:NODE``, ``weight:NODE``,
    ``price:NODE`` or ``site:FIELD``."""
    label: str
    """What it is, for people: ``mi400 TDP``."""
    unit: str
    """Unit of low, mode and high: ``W``, ``kW``, ``kg``, ``TFLOPS``, ``GB``, ``USD per node-month``..."""
    low: float
    mode: float
    high: float
    candidates: tuple[str, ...]
    """The candidates whose results it can change."""
    origin: str = ""
    """Where the range comes from: the spec library (with the figure's status), a demand file, a flag."""

    def at(self, u: float) -> float:
        """The value at cumulative probability ``u`` (the inverse of :func:`triangular_cdf`)."""
        return triangular_ppf(u, self.low, self.mode, self.high)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "unit": self.unit, "low": self.low, "mode": self.mode,
                "high": self.high, "candidates": list(self.candidates), "origin": self.origin}


def triangular_ppf(u: float, low: float, mode: float, high: float) -> float:
    """Inverse CDF of the triangular distribution on ``low <= mode <= high`` at ``u`` in [0, 1]."""
    if high <= low:
        return low
    c = (mode - low) / (high - low)
    if u < c:
        return low + math.sqrt(u * (high - low) * (mode - low))
    return high - math.sqrt((1.0 - u) * (high - low) * (high - mode))


def triangular_cdf(x: float, low: float, mode: float, high: float) -> float:
    """P(X <= x) for the triangular distribution on ``low <= mode <= high``."""
    if x <= low:
        return 0.0
    if x >= high:
        return 1.0
    if x <= mode:
        return (x - low) ** 2 / ((high - low) * (mode - low))
    return 1.0 - (high - x) ** 2 / ((high - low) * (high - mode))


def _ranged(fig: Figure | None, projected_only: bool = True) -> bool:
    if fig is None or fig.low is None or fig.high is None or not fig.high > fig.low:
        return False
    return fig.status == "projected" or not projected_only


def factors_for(cat: Catalogue, candidates: list[str], prices: dict[str, PriceChoice | None],
                site: dict[str, tuple[float, float, float]] | None = None,
                site_origin: str = "") -> list[Factor]:
    """Every uncertain input of a comparison, in a fixed order (accelerators, nodes, prices, site)."""
    out: dict[str, Factor] = {}

    def add(key: str, label: str, unit: str, fig: Figure, cand: str, scale: float = 1.0, origin: str = "") -> None:
        if key in out:
            f = out[key]
            out[key] = Factor(f.key, f.label, f.unit, f.low, f.mode, f.high, f.candidates + (cand,), f.origin)
            return
        out[key] = Factor(key, label, unit, float(fig.low) * scale, float(fig.nominal) * scale,  # type: ignore[arg-type]
                          float(fig.high) * scale, (cand,),  # type: ignore[arg-type]
                          origin or f"spec library ({fig.status or 'range'}, confidence {fig.confidence or '?'})")

    for c in candidates:
        acc_id = cat.nodes[c].accelerator
        acc = cat.accelerators[acc_id]
        if _ranged(acc.tdp_w):
            add(f"tdp:{acc_id}", f"{acc_id} TDP", "W", acc.tdp_w, c)
        if _ranged(acc.fp8_tflops_dense):
            add(f"fp8:{acc_id}", f"{acc_id} dense FP8", "TFLOPS", acc.fp8_tflops_dense, c)  # type: ignore[arg-type]
        if _ranged(acc.hbm_gb):
            add(f"hbm:{acc_id}", f"{acc_id} HBM", "GB", acc.hbm_gb, c)
    for c in candidates:
        prof = cat.nodes[c]
        acc = cat.accelerators[prof.accelerator]
        if prof.power.basis == "derived" and _ranged(prof.power.overhead_kw):
            add(f"overhead:{c}", f"{c} platform overhead", "kW", prof.power.overhead_kw, c)  # type: ignore[arg-type]
        if prof.power.basis == "vendor_max" and _ranged(prof.power.max_kw) and not _ranged(acc.tdp_w):
            add(f"maxkw:{c}", f"{c} system maximum", "kW", prof.power.max_kw, c)  # type: ignore[arg-type]
        if _ranged(prof.weight_kg):
            add(f"weight:{c}", f"{c} weight", "kg", prof.weight_kg, c)
    for c in candidates:
        ch = prices.get(c)
        if ch is not None and ch.ranged:
            add(f"price:{c}", f"{c} {'purchase price' if ch.basis == 'buy' else 'rent' if ch.basis == 'rent' else 'annual cost'}",
                ch.unit, ch.figure, c, origin=f"{ch.origin} ({ch.figure.status or 'price range'})")
    units = {"electricity_usd_per_kwh": ("electricity price", "USD/kWh"), "load_factor": ("load factor", "")}
    for name, (lo, mode, hi) in (site or {}).items():
        if hi > lo:
            label, unit = units.get(name, (name, ""))
            out[f"site:{name}"] = Factor(f"site:{name}", label, unit, lo, mode, hi, tuple(candidates), site_origin)
    return list(out.values())


def uniform(seed: int, scenario: int, key: str) -> float:
    """The scenario's uniform draw for one factor: its own random stream of (seed, scenario, key)."""
    return float(np.random.default_rng([seed, scenario, zlib.crc32(key.encode())]).random())


def draw(factors: list[Factor], seed: int, scenario: int) -> dict[str, float]:
    """One scenario: a value for every factor."""
    return {f.key: f.at(uniform(seed, scenario, f.key)) for f in factors}


def nominal_values(factors: list[Factor]) -> dict[str, float]:
    return {f.key: f.mode for f in factors}


# ---------------------------------------------------------------------------------------------------
# one scenario, one candidate


@dataclass
class Context:
    """What every task of a sweep shares: sent to each worker once."""

    loaded: LoadedFacility
    cat: Catalogue
    """The priced catalogue (node profiles carry the chosen annual cost)."""
    prices: dict[str, PriceChoice | None]
    metric: str | None
    """``gpus`` | ``fp8_pflops`` | ``hbm_tb``; None for fill."""
    amount: float
    factors: list[Factor]
    solver: str = "highs"
    time_limit: float = 120.0
    gap: float = 1e-4
    task_timeout: float = 60.0
    """Seconds one candidate's solve may take before it is stopped (reported as ``timeout``)."""
    tdp: dict[str, float] = field(default_factory=dict)
    """Fixed TDP what-ifs (``--tdp``); a drawn TDP replaces them for its accelerator."""
    controls: dict[str, Any] = field(default_factory=dict)
    """Placement controls of the demand file (``only``, ``exclude``, ``reserved``, ``together``)."""

    def __post_init__(self) -> None:
        fac = self.loaded.facility  # computed once here, so every scenario's copy of the facility shares them
        fac.racks, fac.ppues, fac.panel_source  # noqa: B018

    def rack_columns(self) -> dict[str, Any]:
        """The facility's rack table as plain arrays (built once per worker)."""
        cols = self.__dict__.get("_rack_columns")
        if cols is None:
            df = self.loaded.facility.racks.frame
            cols = {k: df[k] for k in ("id", "hall", "row", "rack_type", "has_existing", "existing_kw",
                                                  "existing_u", "existing_weight_kg", "power_kw")}
            self.__dict__["_rack_columns"] = cols
        return cols

    def demand(self, candidate: str) -> Demand:
        if self.metric is None:
            d = Demand("fill", fill=candidate)
        else:
            d = Demand("target", metric=self.metric, amount=float(self.amount), candidates=(candidate,))  # type: ignore[arg-type]
        return d.with_controls(**self.controls)


def _fixed(fig: Figure | None, value: float) -> Figure | None:
    if fig is None:
        return None
    return fig.model_copy(update={"nominal": float(value), "low": None, "high": None, "status": None})


def scenario_inputs(ctx: Context, candidate: str, values: dict[str, float]) -> tuple[Catalogue, LoadedFacility, dict[str, float]]:
    """The catalogue, facility and TDP what-ifs of one candidate in one scenario."""
    import dataclasses

    cat = ctx.cat
    prof = cat.nodes[candidate]
    acc_id = prof.accelerator
    acc = cat.accelerators[acc_id]
    tdp = dict(ctx.tdp)
    if f"tdp:{acc_id}" in values:
        tdp[acc_id] = values[f"tdp:{acc_id}"]
    acc_up = {}
    if f"fp8:{acc_id}" in values:
        acc_up["fp8_tflops_dense"] = _fixed(acc.fp8_tflops_dense, values[f"fp8:{acc_id}"])
    if f"hbm:{acc_id}" in values:
        acc_up["hbm_gb"] = _fixed(acc.hbm_gb, values[f"hbm:{acc_id}"])
    node_up: dict[str, Any] = {}
    power_up = {}
    if f"overhead:{candidate}" in values:
        power_up["overhead_kw"] = _fixed(prof.power.overhead_kw, values[f"overhead:{candidate}"])
    if f"maxkw:{candidate}" in values:
        power_up["max_kw"] = _fixed(prof.power.max_kw, values[f"maxkw:{candidate}"])
    if power_up:
        node_up["power"] = prof.power.model_copy(update=power_up)
    if f"weight:{candidate}" in values:
        node_up["weight_kg"] = _fixed(prof.weight_kg, values[f"weight:{candidate}"])
    ch = ctx.prices.get(candidate)
    if ch is not None and f"price:{candidate}" in values:
        node_up["annual_cost_usd"] = _fixed(prof.annual_cost_usd, ch.annual(values[f"price:{candidate}"]))
    if acc_up or node_up:
        cat = dataclasses.replace(cat, nodes=dict(cat.nodes), accelerators=dict(cat.accelerators))
        if acc_up:
            cat.accelerators[acc_id] = acc.model_copy(update=acc_up)
        if node_up:
            cat.nodes[candidate] = prof.model_copy(update=node_up)
    loaded = ctx.loaded
    site_up = {k[5:]: v for k, v in values.items() if k.startswith("site:")}
    if site_up:
        fac = loaded.facility
        fac = fac.model_copy(update={"site": fac.site.model_copy(update=site_up)})
        loaded = dataclasses.replace(loaded, facility=fac)
    return cat, loaded, tdp


def reason_kind(message: str) -> str:
    """The limit a "no plan" message names first (``hall cooling``), for counting reasons."""
    text = message.lower()
    if "liquid loop" in text or "liquid_kw > 0" in text or "no rack with a liquid" in text:
        return "no rack with a liquid loop"
    found = [(text.find(label), label) for label in set(LIMIT_LABEL.values()) if label in text]
    if found:
        return min(found)[1]
    if "time limit" in text:
        return "time limit"
    return message[:60]


class TaskTimeout(Exception):
    """A task ran past its time limit (raised inside the worker by an alarm)."""


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`TaskTimeout` after ``seconds`` in the main thread (a worker's soft limit; the
    engine kills a worker that does not come back at all)."""
    if seconds <= 0 or not _ALARMS["on"] or not hasattr(signal, "setitimer"):
        yield
        return

    def ring(signum: int, frame: Any) -> None:
        raise TaskTimeout()

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


_ALARMS = {"on": False}
"""Alarms are used only in worker processes that ask for them (:func:`enable_alarms`), never in the
process of the command itself."""


def enable_alarms() -> None:
    """Let :func:`evaluate` stop a task with an alarm in this process (engine workers call it)."""
    _ALARMS["on"] = True


@contextmanager
def task_tempdir(solver: str) -> Iterator[str | None]:
    """A temporary directory of the task's own for every temporary file while it runs (CBC's model,
    solution and log files), removed afterwards. HiGHS solves in memory and writes no file, so a
    HiGHS task makes none (a directory per task would cost more than the solve on a busy disk)."""
    if solver != "cbc":
        yield None
        return
    old_env, old_mod = os.environ.get("TMPDIR"), tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="rackplan-task-") as d:
        os.environ["TMPDIR"], tempfile.tempdir = d, d
        try:
            yield d
        finally:
            tempfile.tempdir = old_mod
            if old_env is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = old_env


RESULT_FIELDS = ("status", "reason", "reason_kind", "solver_status", "gap", "nodes", "gpus", "racks", "it_kw",
                 "facility_kw", "fp8_pflops", "hbm_tb", "energy_usd", "cooling_usd", "racks_usd", "nodes_usd",
                 "total_usd", "usd_per_gpu_hour", "usd_per_pflops_year", "usd_per_tb_hbm_year", "value", "binding",
                 "max_kw", "seconds", "cpu_seconds")
"""The result columns of one task, after ``scenario`` and ``candidate`` and before the inputs."""


def evaluate(ctx: Context, candidate: str, values: dict[str, float]) -> dict[str, Any]:
    """Solve one candidate in one scenario and check the plan; one flat row (see :data:`RESULT_FIELDS`).

    The plan is the optimizer's (:func:`planner.optimize.placement.optimize`, as ``rackplan plan``
    makes it); its racks, node counts and costs are re-checked by the independent checker against the
    scenario's own figures before the row is returned. A plan that fails the check is an internal
    error (``status`` ``error``), never a result."""
    started, cpu = time.monotonic(), time.process_time()
    row: dict[str, Any] = {k: None for k in RESULT_FIELDS}
    try:
        with task_tempdir(ctx.solver), _alarm(ctx.task_timeout):
            row.update(_solve_and_check(ctx, candidate, values))
    except NoPlanError as exc:
        msg = (exc.shortfalls[0] if exc.shortfalls else str(exc)).removeprefix("no plan: ")
        row.update(status="no_plan", reason=msg, reason_kind=reason_kind(str(exc)))
    except TaskTimeout:
        row.update(status="timeout", reason=f"stopped after {ctx.task_timeout:g} s", reason_kind="task timeout")
    except InputError as exc:
        row.update(status="error", reason=str(exc).splitlines()[0], reason_kind="bad input")
    except Exception as exc:  # noqa: BLE001 - reported per task; the sweep goes on and says so
        row.update(status="error", reason=f"{type(exc).__name__}: {exc}"[:300], reason_kind="internal error")
    row["seconds"] = round(time.monotonic() - started, 4)
    row["cpu_seconds"] = round(time.process_time() - cpu, 4)
    return row


def _solve_and_check(ctx: Context, candidate: str, values: dict[str, float]) -> dict[str, Any]:
    from planner import physics
    from planner.optimize.placement import optimize
    from planner.results.checker import check_plan

    cat, loaded, tdp = scenario_inputs(ctx, candidate, values)
    t = resolve(cat, candidate, "nominal", tdp or None)
    demand = ctx.demand(candidate)
    fac = loaded.facility
    site = fac.site
    limit = min(ctx.time_limit, ctx.task_timeout) if ctx.task_timeout > 0 else ctx.time_limit
    placement = optimize(fac, [t], demand, solver=ctx.solver, time_limit=limit, gap_rel=ctx.gap)
    counts = placement.counts[:, 0]
    # The plan's figures, from its used racks with the physics functions the plan builder uses (a
    # sweep needs its totals, not a whole plan.json); the checker then recomputes all of them its own way.
    racks = ctx.rack_columns()
    usd = {"energy": 0.0, "cooling": 0.0, "racks": 0.0, "nodes": 0.0}
    it_kw = kwh = 0.0
    entries = []
    for i in np.flatnonzero(counts):
        n = int(counts[i])
        rt = fac.rack_types[racks["rack_type"][i]]
        air_p, liq_p = physics.path_ppues(rt.cooling, fac.ppues)
        e, c = physics.node_energy_cooling_usd(t.max_kw, t.liquid_fraction, site.load_factor,
                                               site.electricity_usd_per_kwh, air_p, liq_p)
        usd["energy"] += n * e
        usd["cooling"] += n * c
        usd["nodes"] += n * t.annual_cost_usd
        it_kw += n * t.max_kw
        kwh += n * physics.annual_kwh(t.max_kw, site.load_factor)
        if not racks["has_existing"][i]:
            ov = rt.overhead.kw
            e, c = physics.overhead_energy_cooling_usd(ov, site.electricity_usd_per_kwh, air_p)
            usd["energy"] += e
            usd["cooling"] += c
            usd["racks"] += rt.annual_cost_usd
            it_kw += ov
            kwh += physics.overhead_kwh(ov)
        entries.append({"id": racks["id"][i], "hall": racks["hall"][i], "row": racks["row"][i],
                        "rack_type": racks["rack_type"][i], "nodes": {candidate: n}})
    usd["total"] = sum(usd.values())
    n = int(counts.sum())
    plan = {"schema": "rackplan.plan/1", "demand": demand.to_json(), "node_types": {t.id: t.contract_dict()},
            "racks": entries,
            "totals": {"nodes": {candidate: n} if n else {}, "gpus": n * t.gpus, "racks_used": len(entries),
                       "it_kw": it_kw, "fp8_pflops": n * t.fp8_pflops, "hbm_tb": n * t.hbm_tb,
                       "annual_usd": usd}}
    if getattr(placement, "striping", None):  # rows with panels: auto are checked with the lineups chosen
        fac = fac.with_striping(placement.striping)
    report = check_plan(fac, plan, cat)
    if not report.passed:
        from planner.errors import PlanCheckError

        raise PlanCheckError(report.violations)
    cooling_kwh = usd["cooling"] / site.electricity_usd_per_kwh if site.electricity_usd_per_kwh else 0.0
    units = unit_costs(usd["total"], n * t.gpus, n * t.fp8_pflops, n * t.hbm_tb)
    return {"status": "ok", "solver_status": placement.status, "gap": round(placement.gap, 8), "nodes": n,
            "gpus": n * t.gpus, "racks": len(entries), "it_kw": round(it_kw, 6),
            "facility_kw": round(it_kw * (1 + (cooling_kwh / kwh if kwh else 0.0)), 6),
            "fp8_pflops": round(n * t.fp8_pflops, 6), "hbm_tb": round(n * t.hbm_tb, 6),
            "energy_usd": round(usd["energy"], 2), "cooling_usd": round(usd["cooling"], 2),
            "racks_usd": round(usd["racks"], 2), "nodes_usd": round(usd["nodes"], 2),
            "total_usd": round(usd["total"], 2), **units, "value": units[value_key(ctx.metric)],
            "binding": _binding(fac, racks, counts, t), "max_kw": round(t.max_kw, 6)}


def _binding(fac: Any, racks: dict[str, Any], counts: np.ndarray, t: Any) -> str | None:
    """The limit closest to full on most used racks (rack power, air or liquid heat, U, weight)."""
    from planner import physics

    tally: dict[str, int] = {}
    for i in np.flatnonzero(counts):
        n = int(counts[i])
        rt = fac.rack_types[racks["rack_type"][i]]
        ov = 0.0 if racks["has_existing"][i] else rt.overhead.kw
        load = {"power": (n * t.max_kw + racks["existing_kw"][i] + ov) / racks["power_kw"][i],
                "air": (n * physics.air_heat_kw(t.max_kw, t.liquid_fraction) + ov) / rt.air_kw if rt.air_kw else 0.0,
                "liquid": n * physics.liquid_heat_kw(t.max_kw, t.liquid_fraction) / rt.liquid_kw if rt.liquid_kw else 0.0,
                "u": (n * t.u + racks["existing_u"][i]) / rt.u,
                "weight": (n * t.weight_kg + racks["existing_weight_kg"][i]) / rt.max_weight_kg}
        top = max(load, key=load.get)  # type: ignore[arg-type]
        tally[top] = tally.get(top, 0) + 1
    if not tally:
        return None
    return LIMIT_LABEL.get(max(tally, key=tally.get), None)  # type: ignore[arg-type]
