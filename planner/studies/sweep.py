"""Sweeps: every uncertain input as a distribution, many scenarios solved, the verdict with its odds.

``rackplan sweep`` (and ``rackplan compare --samples N``) draws ``N`` scenarios from the factors of
:mod:`planner.studies.scenarios`, solves every candidate in every scenario on an engine
(:mod:`planner.studies.engines`), and reports per candidate the 10th, 50th and 90th percentiles of
racks, IT kW, annual TCO and cost per unit of demand, the probability that each candidate is the
cheapest per unit of demand, and a tornado: each factor set to its low and its high end alone (the
others nominal), ranked by how far it moves the margin between the two leading candidates.

Results stream to ``DIR/scenarios.csv`` as tasks finish, one row per scenario and candidate, with the
drawn inputs beside the results. ``DIR/sweep-meta.json`` records the sweep's fingerprint (facility,
candidates, demand, prices, factors, seed, solver settings): run the same command again after an
interruption and it solves only what is missing; a larger ``--samples`` extends it. The summary is
always computed from the file, sorted, so an interrupted and resumed sweep ends with exactly the
result of an uninterrupted one, and the same seed always gives the same result.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, TextIO

import numpy as np

from planner.errors import InputError
from planner.inputs.facility import LoadedFacility
from planner.inputs.specs import Catalogue, resolve
from planner.studies.engines import Engine, Task
from planner.studies.scenarios import RESULT_FIELDS, Context, draw, factors_for, nominal_values
from planner.studies.tco import VALUE_LABEL, PriceChoice, money, value_key

SCHEMA_SWEEP = "rackplan.sweep/1"
RESULTS_FILE = "scenarios.csv"
META_FILE = "sweep-meta.json"
PERCENTILES = (10, 50, 90)
SUMMARY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("racks", "Racks used", "racks"),
    ("it_kw", "IT kW", "kW"),
    ("facility_kw", "Facility kW", "kW"),
    ("total_usd", "Annual TCO", "USD/year"),
    ("nodes_usd", "Nodes (rent or recovered price)", "USD/year"),
    ("energy_usd", "Energy", "USD/year"),
    ("cooling_usd", "Cooling", "USD/year"),
    ("racks_usd", "Racks", "USD/year"),
    ("usd_per_gpu_hour", "USD per GPU-hour", "USD"),
    ("usd_per_pflops_year", "USD per FP8 PFLOPS-year", "USD"),
    ("usd_per_tb_hbm_year", "USD per TB of HBM-year", "USD"),
)
"""Per-candidate distributions summarized: (column, label, unit)."""


@dataclass
class SweepSetup(Context):
    """Everything that defines a sweep's scenarios (its fingerprint), and how many to run: what every
    task shares (:class:`~planner.studies.scenarios.Context`), the candidates, the seed and the count."""

    candidates: list[str] = field(default_factory=list)
    seed: int = 1
    samples: int = 1000

    def context(self) -> Context:
        """What is sent to the workers: the shared part alone (its own copies of the what-ifs)."""
        shared = {f.name: getattr(self, f.name) for f in fields(Context)}
        return Context(**shared | {"tdp": dict(self.tdp), "controls": dict(self.controls)})

    @property
    def value_key(self) -> str:
        return value_key(self.metric)

    def fingerprint_doc(self) -> dict[str, Any]:
        nodes = {c: resolve(self.cat, c).contract_dict() for c in self.candidates}
        return {"facility_sha256": self.loaded.sha256, "site": self.loaded.facility.site.model_dump(),
                "candidates": list(self.candidates), "metric": self.metric, "amount": self.amount,
                "prices": {c: (p.to_json() if p else None) for c, p in self.prices.items()},
                "factors": [f.to_json() for f in self.factors], "seed": self.seed, "solver": self.solver,
                "time_limit": self.time_limit, "gap": self.gap, "tdp": self.tdp, "nodes": nodes,
                **({"controls": {k: list(v) if isinstance(v, tuple) else v for k, v in self.controls.items()}}
                   if self.controls else {})}

    def fingerprint(self) -> str:
        text = json.dumps(self.fingerprint_doc(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def columns(self) -> list[str]:
        return ["scenario", "candidate", *RESULT_FIELDS, *(f"in:{f.key}" for f in self.factors)]


def site_ranges(fac_site: Any, given: dict[str, Any] | None) -> dict[str, tuple[float, float, float]]:
    """``{field: (low, nominal, high)}`` from the user's ranges; the nominal defaults to the facility's
    own value, or the middle of the range if that lies outside it."""
    out = {}
    for name, rng in (given or {}).items():
        if rng is None:
            continue
        lo, hi = float(rng["low"]), float(rng["high"])
        nominal = rng.get("nominal")
        if nominal is None:
            own = float(getattr(fac_site, name))
            nominal = own if lo <= own <= hi else (lo + hi) / 2
        out[name] = (lo, float(nominal), hi)
    return out


def make_setup(loaded: LoadedFacility, cat: Catalogue, candidates: list[str], metric: str | None, amount: float,
               prices: dict[str, PriceChoice | None], site: dict[str, tuple[float, float, float]] | None = None,
               site_origin: str = "", **kw: Any) -> SweepSetup:
    factors = factors_for(cat, candidates, prices, site, site_origin)
    return SweepSetup(loaded, cat, prices, metric, amount, factors, candidates=candidates, **kw)


# ---------------------------------------------------------------------------------------------------
# the results file


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)  # exact: a resumed sweep reads back the very numbers it wrote
    return str(v)


NUMERIC = {"gap", "nodes", "gpus", "racks", "it_kw", "facility_kw", "fp8_pflops", "hbm_tb", "energy_usd",
           "cooling_usd", "racks_usd", "nodes_usd", "total_usd", "usd_per_gpu_hour", "usd_per_pflops_year",
           "usd_per_tb_hbm_year", "value", "max_kw", "seconds", "cpu_seconds"}


def _parse(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k == "scenario":
            out[k] = int(v)
        elif k in NUMERIC or k.startswith("in:"):
            out[k] = float(v) if v != "" else None
        else:
            out[k] = v if v != "" else None
    return out


class ResultsFile:
    """``scenarios.csv``: opened for appending; what an earlier run of the same sweep left is read back."""

    def __init__(self, out_dir: Path, setup: SweepSetup, fresh: bool = False):
        self.path = out_dir / RESULTS_FILE
        self.meta_path = out_dir / META_FILE
        self.columns = setup.columns()
        self.fingerprint = setup.fingerprint()
        self.done: dict[tuple[int, str], dict[str, Any]] = {}
        out_dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not fresh:
            self._resume(setup)
        else:
            self._start(setup)
        self.fh: TextIO = open(self.path, "a", encoding="utf-8", newline="")
        self.writer = csv.DictWriter(self.fh, fieldnames=self.columns, lineterminator="\n", extrasaction="ignore")

    def _start(self, setup: SweepSetup) -> None:
        from planner.results.outputs import write_atomic

        write_atomic(self.meta_path, json.dumps({"schema": "rackplan.sweep-meta/1", "fingerprint": self.fingerprint,
                                                 "columns": self.columns, "setup": setup.fingerprint_doc()},
                                                indent=2, default=str) + "\n")
        with open(self.path, "w", encoding="utf-8", newline="") as fh:
            fh.write(",".join(self.columns) + "\n")

    def _resume(self, setup: SweepSetup) -> None:
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        if meta.get("fingerprint") != self.fingerprint or meta.get("columns") != self.columns:
            raise InputError.one("<command line>", "-o",
                                 f"'{self.path}' holds results of a different sweep (other facility, candidates, "
                                 "prices, ranges, seed or solver settings); write to another directory or add --fresh "
                                 "to start over")
        data = self.path.read_bytes()
        cut = data.rfind(b"\n") + 1
        if cut < len(data):  # the run was stopped in the middle of a line: drop that line
            with open(self.path, "r+b") as fh:
                fh.truncate(cut)
            data = data[:cut]
        for row in csv.DictReader(io.StringIO(data.decode("utf-8"))):
            r = _parse(row)
            self.done[(r["scenario"], r["candidate"])] = r

    def write(self, scenario: int, rows: list[dict[str, Any]], values: dict[str, float]) -> None:
        for r in rows:
            full = {"scenario": scenario, **{k: r.get(k) for k in RESULT_FIELDS}, "candidate": r["candidate"],
                    **{f"in:{k}": v for k, v in values.items()}}
            self.writer.writerow({k: _fmt(v) for k, v in full.items()})
            self.done[(scenario, r["candidate"])] = _parse({k: _fmt(v) for k, v in full.items()})
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()

    def rows(self, samples: int) -> list[dict[str, Any]]:
        """The rows of scenarios 0..samples-1, read back from the file and sorted."""
        text = self.path.read_text(encoding="utf-8")
        rows = [_parse(r) for r in csv.DictReader(io.StringIO(text))]
        seen: dict[tuple[int, str], dict[str, Any]] = {}
        for r in rows:
            seen[(r["scenario"], r["candidate"])] = r  # a task solved twice (resumed mid-write): the last one
        return [seen[k] for k in sorted(seen) if k[0] < samples]


# ---------------------------------------------------------------------------------------------------
# progress


class ProgressBar:
    """A one-line progress bar on stderr (a line every 10 % when stderr is not a terminal)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True):
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last = 0.0
        self.step = -1

    def update(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        frac = done / self.total
        if self.tty:
            if now - self.last < 0.2 and done < self.total:
                return
            self.last = now
            width = 30
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            el = now - self.started
            eta = el / done * (self.total - done) if done else 0.0
            self.stream.write(f"\r  {self.label} [{bar}] {done:,}/{self.total:,} {frac:4.0%}  {el:5.1f} s"
                              f"{f'  ETA {eta:4.0f} s' if done < self.total else ' ' * 10}{note}")
            self.stream.flush()
        else:
            step = int(frac * 10)
            if step != self.step:
                self.step = step
                self.stream.write(f"  {self.label}: {done:,}/{self.total:,} ({frac:.0%}) after "
                                  f"{now - self.started:.1f} s{note}\n")
                self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------------------------------------------
# running


@dataclass
class SweepRun:
    """A finished sweep: its rows (sorted), its summary and what it took."""

    setup: SweepSetup
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    tornado: dict[str, Any] | None
    solved: int
    """Tasks solved by this run (the rest were read back from the results file)."""
    seconds: float
    engine: str
    results_file: Path


def run_sweep(setup: SweepSetup, engine: Engine, out_dir: str | Path, *, fresh: bool = False,
              tornado: bool = True, progress: bool = True, stop_after: int | None = None,
              log: Callable[[str], None] | None = None) -> SweepRun:
    """Solve every scenario not yet in ``out_dir/scenarios.csv`` and summarize all of them.
    ``stop_after`` stops after that many scenarios (tests of resuming)."""
    out = Path(out_dir)
    started = time.monotonic()
    results = ResultsFile(out, setup, fresh)
    tasks = []
    for i in range(setup.samples):
        missing = tuple(c for c in setup.candidates if (i, c) not in results.done)
        if missing:
            tasks.append(Task(f"S{i}", draw(setup.factors, setup.seed, i), missing))
    if log and results.done and tasks:
        log(f"resuming: {setup.samples - len(tasks):,} of {setup.samples:,} scenarios already solved in {results.path}")
    bar = ProgressBar(len(tasks), "scenarios", enabled=progress)
    solved = 0
    ctx = setup.context()
    try:
        for task, rows in engine.run(ctx, tasks, setup.fingerprint()):
            results.write(int(task.key[1:]), rows, task.values)
            solved += 1
            bar.update(solved)
            if stop_after is not None and solved >= stop_after:
                break
    finally:
        bar.finish()
        results.close()
    rows = results.rows(setup.samples)
    summary = summarize(setup, rows)
    torn = run_tornado(setup, engine) if tornado and setup.factors else None
    if torn:
        summary["tornado_leader"] = torn.get("ranked", [{}])[0].get("label") if torn.get("ranked") else None
    return SweepRun(setup, rows, summary, torn, solved, time.monotonic() - started, engine.describe(), results.path)


# ---------------------------------------------------------------------------------------------------
# summary


def _pcts(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {f"p{p}": None for p in PERCENTILES} | {"mean": None, "min": None, "max": None}
    arr = np.asarray(values, dtype=float)
    out = {f"p{p}": float(np.percentile(arr, p)) for p in PERCENTILES}
    return out | {"mean": float(arr.mean()), "min": float(arr.min()), "max": float(arr.max())}


def _quantiles(values: list[float], n: int = 40) -> list[float]:
    """The values at cumulative shares 0, 1/n, ..., 1 (for drawing the distribution function)."""
    if not values:
        return []
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), np.linspace(0, 100, n + 1))]


def summarize(setup: SweepSetup, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per candidate percentiles, outcome counts and reasons; win probabilities; the verdict."""
    key = setup.value_key
    by_scn: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_scn.setdefault(r["scenario"], {})[r["candidate"]] = r
    cands = list(setup.candidates)
    per: dict[str, Any] = {}
    for c in cands:
        mine = [r for r in rows if r["candidate"] == c]
        ok = [r for r in mine if r["status"] == "ok"]
        reasons: dict[str, int] = {}
        for r in mine:
            if r["status"] != "ok":
                k = r.get("reason_kind") or r["status"]
                reasons[k] = reasons.get(k, 0) + 1
        example = {}
        for r in mine:
            if r["status"] != "ok" and (r.get("reason_kind") or r["status"]) not in example:
                example[r.get("reason_kind") or r["status"]] = r.get("reason") or ""
        per[c] = {
            "scenarios": len(mine), "ok": len(ok),
            "no_plan": sum(r["status"] == "no_plan" for r in mine),
            "timeout": sum(r["status"] == "timeout" for r in mine),
            "error": sum(r["status"] == "error" for r in mine),
            "not_optimal": sum(r.get("solver_status") == "feasible" for r in ok),
            "reasons": [{"kind": k, "count": n, "example": example.get(k, "")}
                        for k, n in sorted(reasons.items(), key=lambda kv: -kv[1])],
            "stats": {m: _pcts([float(r[m]) for r in ok if r.get(m) is not None]) for m, _, _ in SUMMARY_METRICS},
            "value": _pcts([float(r["value"]) for r in ok if r.get("value") is not None]),
            "quantiles": _quantiles([float(r["value"]) for r in ok if r.get("value") is not None]),
        }
    wins = {c: 0.0 for c in cands}
    pair = {a: {b: 0 for b in cands if b != a} for a in cands}
    counted = none_fit = incomplete = 0
    for s in sorted(by_scn):
        got = by_scn[s]
        if any(c not in got or got[c]["status"] not in ("ok", "no_plan") for c in cands):
            incomplete += 1
            continue
        vals = {c: (float(got[c]["value"]) if got[c]["status"] == "ok" and got[c].get("value") is not None
                    else math.inf) for c in cands}
        best = min(vals.values())
        if not math.isfinite(best):
            none_fit += 1
            continue
        counted += 1
        tied = [c for c in cands if vals[c] <= best * (1 + 1e-9)]
        for c in tied:
            wins[c] += 1.0 / len(tied)
        for a in cands:
            for b in cands:
                if a != b and vals[a] < vals[b]:
                    pair[a][b] += 1
    prob = {c: (wins[c] / counted if counted else None) for c in cands}
    doc = {
        "schema": SCHEMA_SWEEP, "samples": setup.samples, "seed": setup.seed, "scenarios_counted": counted,
        "scenarios_none_fit": none_fit, "scenarios_incomplete": incomplete, "value_key": key,
        "value_label": VALUE_LABEL[key][0], "candidates": cands, "per_candidate": per, "win_probability": prob,
        "win_stderr": {c: (math.sqrt(p * (1 - p) / counted) if p is not None and counted else None)
                       for c, p in prob.items()},
        "win_interval95": {c: (wilson(p, counted) if p is not None and counted else None) for c, p in prob.items()},
        "pairwise": {a: {b: (n / counted if counted else None) for b, n in row.items()} for a, row in pair.items()},
        "factors": [f.to_json() for f in setup.factors],
    }
    doc["verdict"] = verdict(doc)
    return doc


def wilson(p: float, n: int, z: float = 1.96) -> list[float]:
    """The Wilson score interval of a share ``p`` of ``n`` scenarios (95 % by default): how far the
    share could be from the one that infinitely many scenarios would give. Unlike p ± z·SE it is not
    empty at 0 % or 100 %."""
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [max(0.0, centre - half), min(1.0, centre + half)]


def verdict(summary: dict[str, Any]) -> str:
    """One sentence: who is cheaper per unit of demand, in what share of scenarios, at what medians."""
    prob = summary["win_probability"]
    counted = summary["scenarios_counted"]
    label = summary["value_label"]
    key = summary["value_key"]
    per = summary["per_candidate"]
    n_all = summary["samples"]
    if not counted:
        if summary["scenarios_none_fit"]:
            return f"No candidate has a plan in any of the {n_all:,} scenarios."
        return "No scenario finished for every candidate; no verdict."
    ranked = sorted(prob, key=lambda c: -(prob[c] or 0.0))
    win = ranked[0]
    med = {c: per[c]["value"]["p50"] for c in ranked}

    def m(c: str) -> str:
        return money(med[c], key) if med[c] is not None else "no plan"

    of = f"{counted:,} scenarios" if counted == n_all else f"{counted:,} of {n_all:,} scenarios"
    if len(ranked) == 2:
        other = ranked[1]
        text = (f"{win} is cheaper {label} than {other} in {prob[win]:.0%} of {of} "
                f"(median {m(win)} vs {m(other)})").replace("%", " %")
    else:
        meds = ", ".join(f"{c} {m(c)}" for c in ranked)
        text = f"{win} is the cheapest {label} in {prob[win]:.0%} of {of} (medians: {meds})".replace("%", " %")
    notes = []
    for c in ranked:
        p = per[c]
        if p["no_plan"]:
            why = p["reasons"][0]["kind"] if p["reasons"] else "no plan"
            notes.append(f"{c} has no plan in {p['no_plan'] / max(p['scenarios'], 1):.0%} of them ({why})".replace("%", " %"))
    if summary["scenarios_none_fit"]:
        notes.append(f"in {summary['scenarios_none_fit']:,} no candidate fits")
    return text + ("; " + "; ".join(notes) if notes else "") + "."


# ---------------------------------------------------------------------------------------------------
# tornado


def run_tornado(setup: SweepSetup, engine: Engine) -> dict[str, Any]:
    """Each factor alone at its low and high end (the others nominal): how far it moves the margin
    between the two leading candidates at nominal, ranked by that swing (an end where a candidate has
    no plan moves it without bound and ranks first)."""
    base_vals = nominal_values(setup.factors)
    tasks = [Task("T:base", base_vals, tuple(setup.candidates))]
    for f in setup.factors:
        for end, v in (("low", f.low), ("high", f.high)):
            tasks.append(Task(f"T:{f.key}:{end}", base_vals | {f.key: v}, tuple(f.candidates)))
    got: dict[str, dict[str, dict[str, Any]]] = {}
    ctx = setup.context()
    for task, rows in engine.run(ctx, tasks, setup.fingerprint()):
        got[task.key] = {r["candidate"]: r for r in rows}

    def val(r: dict[str, Any] | None) -> float:
        if r is None or r.get("status") != "ok" or r.get("value") is None:
            return math.inf
        return float(r["value"])

    base = {c: val(got["T:base"].get(c)) for c in setup.candidates}
    order = sorted(setup.candidates, key=lambda c: base[c])
    leader = order[0]
    runner_up = order[1] if len(order) > 1 else None

    def margin(values: dict[str, float]) -> float:
        if runner_up is None:
            return values[leader]
        a, b = values[leader], values[runner_up]
        if math.isinf(a) and math.isinf(b):
            return math.nan
        return b - a  # > 0: the leader stays cheaper

    base_margin = margin(base)
    bars = []
    for f in setup.factors:
        ends = {}
        for end in ("low", "high"):
            r = got.get(f"T:{f.key}:{end}", {})
            values = {c: (val(r[c]) if c in r else base[c]) for c in setup.candidates}
            ends[end] = {"values": values, "margin": margin(values),
                         "no_plan": [c for c in setup.candidates if math.isinf(values[c]) and not math.isinf(base[c])],
                         "reasons": {c: r[c].get("reason_kind") for c in r if r[c].get("status") != "ok"}}
        lo, hi = ends["low"]["margin"], ends["high"]["margin"]
        swing = abs(hi - lo) if math.isfinite(lo) and math.isfinite(hi) else math.inf
        flips = runner_up is not None and any((m < 0) != (base_margin < 0) for m in (lo, hi) if not math.isnan(m))
        bars.append({"key": f.key, "label": f.label, "unit": f.unit, "low": f.low, "mode": f.mode, "high": f.high,
                     "margin_low": lo, "margin_high": hi, "swing": swing, "flips": bool(flips),
                     "values_low": ends["low"]["values"], "values_high": ends["high"]["values"],
                     "no_plan_low": ends["low"]["no_plan"], "no_plan_high": ends["high"]["no_plan"],
                     "reasons_low": ends["low"]["reasons"], "reasons_high": ends["high"]["reasons"]})
    bars.sort(key=lambda b: (-b["swing"] if math.isfinite(b["swing"]) else -math.inf, b["key"]))
    return {"leader": leader, "runner_up": runner_up, "value_key": setup.value_key,
            "value_label": VALUE_LABEL[setup.value_key][0], "base_values": base, "base_margin": base_margin,
            "ranked": bars}


# ---------------------------------------------------------------------------------------------------
# documents


def _clean(x: Any) -> Any:
    """Infinite and NaN numbers as null (JSON has neither)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def sweep_doc(run: SweepRun, demand: dict[str, Any]) -> dict[str, Any]:
    """``sweep.json``: the setup, the summary, the tornado and how it ran."""
    from planner.results.plan_json import made_at, tool_record

    s = run.setup
    fac = s.loaded.facility
    return _clean({
        "schema": SCHEMA_SWEEP, "tool": tool_record(s.cat), "made_at": made_at(),
        "facility": {"name": fac.name, "file": s.loaded.path, "sha256": s.loaded.sha256, "site": fac.site.model_dump()},
        "demand": demand, "candidates": list(s.candidates),
        "cooling": {c: s.cat.nodes[c].cooling for c in s.candidates},
        "prices": {c: (p.to_json() if p else None) for c, p in s.prices.items()},
        "seed": s.seed, "samples": s.samples, "fingerprint": s.fingerprint(),
        "engine": run.engine, "seconds": round(run.seconds, 2), "solved_this_run": run.solved,
        "results_file": RESULTS_FILE, "summary": run.summary, "tornado": run.tornado, "notes": sweep_notes(s),
        "solver": {"name": s.solver, "time_limit_s": s.time_limit, "gap_tolerance": s.gap,
                   "task_timeout_s": s.task_timeout},
    })


def sweep_notes(s: SweepSetup) -> list[str]:
    """What the reader of a verdict must know: unpriced candidates, mixed cooling types."""
    from planner.report.compare_views import cooling_note

    notes = []
    unpriced = [c for c in s.candidates if s.prices.get(c) is None]
    if unpriced:
        notes.append(f"no price is known for {', '.join(unpriced)}: {'its' if len(unpriced) == 1 else 'their'} nodes "
                     "cost nothing here (give one with --price ID=USD or ID=USD/month)")
    mixed = cooling_note({c: s.cat.nodes[c].cooling for c in s.candidates})
    if mixed:
        notes.append(mixed)
    return notes


SUMMARY_CSV_FIELDS = ["candidate", "metric", "unit", "p10", "p50", "p90", "mean", "min", "max"]


def summary_csv(summary: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SUMMARY_CSV_FIELDS + ["win_probability", "scenarios", "ok", "no_plan", "timeout", "error", "reasons"])
    for c in summary["candidates"]:
        p = summary["per_candidate"][c]
        reasons = "; ".join(f"{r['kind']} ({r['count']})" for r in p["reasons"])
        for m, _label, unit in SUMMARY_METRICS:
            st = p["stats"][m]
            w.writerow([c, m, unit, *(_fmt(st[k]) for k in ("p10", "p50", "p90", "mean", "min", "max")),
                        _fmt(summary["win_probability"][c]), p["scenarios"], p["ok"], p["no_plan"], p["timeout"],
                        p["error"], reasons])
    return buf.getvalue()


def write_sweep(run: SweepRun, doc: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write sweep.json, sweep.html and summary.csv beside the results file, all or nothing."""
    from planner.report.compare_views import render_sweep
    from planner.results.outputs import atomic_outputs

    html = render_sweep(doc)
    with atomic_outputs(out_dir) as out:
        return [out.write_json("sweep.json", doc), out.write_text("summary.csv", summary_csv(doc["summary"])),
                out.write_text("sweep.html", html)]


def terminal_lines(doc: dict[str, Any]) -> list[str]:
    """What the terminal shows, the verdict first."""
    s = doc["summary"]
    key = s["value_key"]
    lines = [s["verdict"]] + [f"  note: {n}" for n in doc.get("notes") or []]
    for c in s["candidates"]:
        p = s["per_candidate"][c]
        v = p["value"]
        st = p["stats"]
        pr = s["win_probability"][c]
        tco = st["total_usd"]
        lines.append(
            f"  {c}: wins {('–' if pr is None else f'{pr:.0%}').replace('%', ' %')}; {s['value_label']} "
            f"P10/P50/P90 {money(v['p10'], key)} / {money(v['p50'], key)} / {money(v['p90'], key)}; "
            f"TCO {_musd(tco['p50'])} a year (P10-P90 {_musd(tco['p10'])}-{_musd(tco['p90'])}); racks "
            f"{_n(st['racks']['p50'])} ({_n(st['racks']['p10'])}-{_n(st['racks']['p90'])}); IT "
            f"{_n(st['it_kw']['p50'])} kW; {p['ok']:,}/{p['scenarios']:,} with a plan")
    t = doc.get("tornado")
    if t and t.get("ranked"):
        top = t["ranked"][0]
        lines.append(f"  moves the verdict most: {top['label']} ({_fig(top['low'])}-{_fig(top['high'])} {top['unit']})"
                     + (" - it can flip it" if top["flips"] else ""))
    return lines


def _musd(x: float | None) -> str:
    if x is None:
        return "–"
    return f"${x / 1e6:,.2f}M" if abs(x) >= 1e6 else f"${x:,.0f}"


def _n(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}"


def _fig(x: float) -> str:
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
