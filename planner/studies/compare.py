"""Compare node candidates on one facility and one demand: ``rackplan compare``.

Each candidate is planned on its own (as the only node type) against the same facility and demand,
and where its figures are projected at each spec point (low, nominal, high). Every plan is the
optimizer's and passes the independent checker. Where a projected candidate's range straddles another
candidate, the TDP at which the ranking flips is found by solving plans at what-if TDPs (bisection),
not by formula.

Ranking: the lower annual cost per unit of the demand wins: per GPU-hour for a GPU target, per FP8
PFLOPS-year for an FP8 target or fill, per TB of HBM-year for an HBM target. The annual cost includes
the nodes (rent, or the purchase price recovered over the years; :mod:`planner.studies.tco`).

The break-even search for a projected accelerator spans the whole disputed range: from its own low
end to the highest estimate that any related entry of the library gives (``see_also``: the MI400
projection's 900-1,100 W up to the 2.5 kW third parties give the MI455X). Where no break-even exists
the finding says why: the candidate has no plan anywhere in the range (and what runs out, e.g. no rack
has a liquid loop), it ranks better or worse over all of it, or it stops fitting the demand above
some TDP before the costs cross.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.api import run_plan
from planner.results.plan_json import spec_disputes
from planner.inputs.demand import Demand
from planner.errors import InputError, NoPlanError
from planner.inputs.facility import LoadedFacility
from planner.optimize.solvers import Progress
from planner.inputs.specs import Catalogue, Point, resolve, suggest
from planner.results.plan_json import made_at, tool_record
from planner.studies.scenarios import reason_kind
from planner.studies.tco import (DEFAULT_DISCOUNT_RATE, DEFAULT_YEARS, VALUE_LABEL, PriceChoice, PriceInput,
                                 choose_prices, mixed_bases_note, money, priced_catalogue, tco, value_key)
from planner.vocabulary import DEFAULT_GAP, DEFAULT_SOLVER, DEFAULT_TIME_LIMIT_S, SCHEMA_COMPARE

BISECTION_TOL_W = 2.0
"""Break-even TDPs are found to within this many watts."""


@dataclass
class CompareResult:
    doc: dict[str, Any]
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``ID@POINT`` -> plan.json document."""
    cat: Catalogue | None = None
    """The priced catalogue (node profiles carrying the chosen annual cost), for a sweep."""
    prices: dict[str, PriceChoice | None] = field(default_factory=dict)


def _demand(candidate: str, targets: dict[str, float], fill: bool, controls: dict[str, Any] | None = None) -> Demand:
    if fill:
        d = Demand("fill", fill=candidate)
    else:
        (metric, amount), = targets.items()
        d = Demand("target", metric=metric, amount=float(amount), candidates=(candidate,))  # type: ignore[arg-type]
    return d.with_controls(**(controls or {}))


def ranking_value(row: dict[str, Any], fill: bool, metric: str | None = None) -> float:
    """What the ranking compares (lower is better): the annual cost per unit of the demand's metric
    (:func:`planner.studies.tco.value_key`); infinite when the candidate has no plan."""
    if row.get("status") == "no_plan":
        return math.inf
    key = value_key(None if fill else metric)
    value = (row.get("tco") or {}).get(key)
    if value is None and key == "usd_per_pflops_year":
        value = row.get("usd_per_pflops_year")
    return math.inf if value is None else float(value)


def compare_row(candidate: str, point: str, plan: dict[str, Any]) -> dict[str, Any]:
    """One row of ``compare.json`` from a single-candidate plan."""
    t = plan["totals"]
    racks = max(t["racks_used"], 1)
    return {"tco": tco(plan), 
        "candidate": candidate, "point": point, "status": plan["solver"]["status"], "gap": plan["solver"]["gap"],
        "plan_file": f"plans/{candidate}@{point}.json",
        "node": plan["node_types"][candidate],
        "nodes": sum(t["nodes"].values()), "gpus": t["gpus"], "racks_used": t["racks_used"],
        "gpus_per_rack": round(t["gpus"] / racks, 3), "kw_per_rack": round(t["it_kw"] / racks, 3),
        "fp8_pflops": t["fp8_pflops"], "fp8_pflops_per_rack": round(t["fp8_pflops"] / racks, 4),
        "hbm_tb": t["hbm_tb"], "hbm_tb_per_rack": round(t["hbm_tb"] / racks, 4),
        "it_kw": t["it_kw"], "facility_kw": t["facility_kw"], "annual_usd": t["annual_usd"],
        "usd_per_pflops_year": t["usd_per_pflops_year"], "stranded_kw": t["stranded_kw"],
        "provisioned_kw": t["provisioned_kw"],
        "binding": {"limit": plan["binding"]["limit"], "label": plan["binding"]["label"]},
    }


def run_compare(loaded: LoadedFacility, cat: Catalogue, candidates: list[str], targets: dict[str, float],
                fill: bool, *, tdp: dict[str, float] | None = None, solver: str = DEFAULT_SOLVER,
                time_limit: float | None = DEFAULT_TIME_LIMIT_S, gap: float = DEFAULT_GAP,
                progress: Progress | None = None,
                break_even: bool = True, prices: dict[str, PriceInput] | None = None,
                years: float = DEFAULT_YEARS, discount_rate: float = DEFAULT_DISCOUNT_RATE,
                controls: dict[str, Any] | None = None) -> CompareResult:
    """Plan every candidate at every spec point, priced; find break-even TDPs where rankings straddle."""
    unknown = [c for c in candidates if c not in cat.nodes]
    if unknown:
        raise InputError.one("<command line>", "--candidates",
                             f"unknown node id '{unknown[0]}'; {suggest(unknown[0], sorted(cat.nodes))}")
    if len(candidates) < 2 or len(set(candidates)) != len(candidates):
        raise InputError.one("<command line>", "--candidates", "give at least two different node ids")
    choices = choose_prices(cat, candidates, prices, years, discount_rate)
    base_cat = cat
    cat = priced_catalogue(cat, choices)
    result = CompareResult(doc={}, cat=cat, prices=choices)
    rows: list[dict[str, Any]] = []
    assumptions: dict[tuple, dict[str, Any]] = {}
    metric = None if fill else next(iter(targets))

    def plan_one(candidate: str, point: Point, tdp_w: dict[str, float] | None) -> dict[str, Any]:
        # the plan is made and checked with the library's own figures, so `rackplan check` re-checks it
        # against the library alone; the node price is added to its row (see priced_row)
        run = run_plan(loaded, base_cat, _demand(candidate, targets, fill, controls), point=point, tdp_w=tdp_w,
                       solver=solver, time_limit=time_limit, gap=gap, progress=None)
        return run.plan

    def row_of(candidate: str, point: Point, plan: dict[str, Any]) -> dict[str, Any]:
        return priced_row(compare_row(candidate, point, plan), choices.get(candidate), point)

    for candidate in candidates:
        for point in cat.points(candidate):
            if progress:
                progress(f"planning {candidate}@{point}")
            try:
                plan = plan_one(candidate, point, tdp)
            except NoPlanError as exc:
                node = resolve(cat, candidate, point, tdp).contract_dict() | {"name": cat.nodes[candidate].name}
                rows.append({"candidate": candidate, "point": point, "status": "no_plan", "message": str(exc),
                             "reason": (exc.shortfalls[0] if exc.shortfalls else str(exc)).removeprefix("no plan: "),
                             "reason_kind": reason_kind(str(exc)), "plan_file": None, "shortfalls": exc.shortfalls,
                             "node": node, "cooling": cat.nodes[candidate].cooling})
                continue
            result.plans[f"{candidate}@{point}"] = plan
            rows.append(row_of(candidate, point, plan) | {"cooling": cat.nodes[candidate].cooling})
            for a in plan["assumptions"]:
                assumptions.setdefault((a["node"], a["figure"], a["value"]), a | {"point": point})
            if (price := price_assumption(cat, choices.get(candidate), point)) is not None:
                assumptions.setdefault((candidate, price["figure"], price["value"]), price)

    if not result.plans:
        lines = [f"{r['candidate']}@{r['point']}: {r['message']}" for r in rows]
        raise NoPlanError("no candidate can meet the demand: " + lines[0], lines)
    findings = []
    if break_even:
        findings = _break_even(cat, candidates, rows, fill, tdp or {}, plan_one, progress, metric, row_of)

    cooling = {c: cat.nodes[c].cooling for c in candidates}
    from planner.report.compare_views import cooling_note

    (metric_name, amount), = targets.items() if targets else (("fill", 0),)
    key = value_key(metric)
    result.doc = {
        "schema": SCHEMA_COMPARE,
        "tool": tool_record(cat),
        "made_at": made_at(),
        "facility": {"name": loaded.facility.name, "file": loaded.path, "sha256": loaded.sha256,
                     "site": loaded.facility.site.model_dump(), "ppue": dict(loaded.facility.ppues)},
        "demand": {"kind": "fill"} if fill else {"kind": "target", "target": {metric_name: amount}},
        "ranking": f"annual cost {VALUE_LABEL[key][0]}, nodes included (lower wins)",
        "value_key": key,
        "candidates": list(candidates),
        "cooling": cooling, "cooling_note": cooling_note(cooling) or None,
        "prices": {c: (ch.to_json() if ch else None) for c, ch in choices.items()},
        "pricing": {"years": years, "discount_rate": discount_rate},
        "tdp_overrides_w": dict(tdp or {}),
        "rows": rows,
        "break_even": findings,
        "assumptions": node_unit_ranges(cat, list(assumptions.values())),
        "spec_disputes": spec_disputes(cat, [resolve(cat, c) for c in candidates]),
    }
    result.doc["verdict"] = nominal_verdict(result.doc)
    return result


def priced_row(row: dict[str, Any], choice: PriceChoice | None, point: str) -> dict[str, Any]:
    """A row with its nodes priced: ``nodes`` = node count x the chosen annual cost at the spec point
    (rent x 12, or the price x the capital recovery factor), in the annual cost, its total and every
    cost per unit. A single candidate's node count does not depend on its price (a target takes the
    fewest nodes that reach it, a fill the most that fit), so this is the cost of the same plan with
    the price in the optimizer's objective. A library annual cost is already in the plan."""
    if choice is None or choice.basis == "annual" or row.get("status") == "no_plan":
        return row
    from planner.studies.tco import unit_costs

    annual = choice.annual(choice.figure.at(point))  # type: ignore[arg-type]
    usd = dict(row["annual_usd"])
    old = float(usd.get("nodes") or 0.0)
    usd["nodes"] = round(row["nodes"] * annual, 2)
    usd["total"] = round(float(usd["total"]) - old + usd["nodes"], 2)
    out = dict(row)
    out["annual_usd"] = usd
    out["node_annual_usd"] = round(annual, 2)
    out["usd_per_pflops_year"] = round(usd["total"] / row["fp8_pflops"], 2) if row.get("fp8_pflops") else None
    t = dict(row.get("tco") or {})
    t["annual_usd"] = usd
    t.update(unit_costs(usd["total"], row["gpus"], row.get("fp8_pflops") or 0.0, row.get("hbm_tb") or 0.0))
    out["tco"] = t
    return out


def price_assumption(cat: Catalogue, choice: PriceChoice | None, point: str) -> dict[str, Any] | None:
    """The price a comparison used, as an entry of its assumptions (value, range, sources)."""
    if choice is None or choice.basis == "annual":
        return None
    f = choice.figure
    sources = []
    for sid in cat.nodes[choice.node].annual_cost_usd.sources if cat.nodes[choice.node].annual_cost_usd else []:
        if sid in cat.sources:
            src = cat.sources[sid]
            sources.append({"id": sid, "title": src.title, "url": src.url, "kind": src.kind})
    unit = {"buy": "price_usd", "rent": "rent_usd_month"}[choice.basis]
    return {"node": choice.node, "figure": unit, "value": f.at(point), "status": f.status, "confidence": f.confidence,  # type: ignore[arg-type]
            "low": f.low, "nominal": f.nominal, "high": f.high, "basis": choice.describe(), "note": f.note,
            "sources": sources, "point": point}


def node_unit_ranges(cat: Catalogue, assumptions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give node figures derived from per-GPU or platform figures (``max_kw`` from the overhead,
    ``fp8_pflops`` from per-GPU TFLOPS, ``hbm_tb`` from per-GPU GB) their range in the node's own unit,
    so a range always prints in the unit of the value beside it."""
    out = []
    for a in assumptions:
        a = dict(a)
        node = a.get("node")
        if a.get("figure") in ("max_kw", "fp8_pflops", "hbm_tb") and node in cat.nodes and \
                (a.get("low") is not None or a.get("high") is not None) and a.get("status") != "what-if":
            ends = {p: getattr(resolve(cat, node, p), a["figure"]) for p in ("low", "nominal", "high")}
            a["range_of"] = {"low": a.get("low"), "nominal": a.get("nominal"), "high": a.get("high")}
            a.update({"low": round(ends["low"], 6), "nominal": round(ends["nominal"], 6), "high": round(ends["high"], 6)})
        out.append(a)
    return out


def nominal_verdict(doc: dict[str, Any]) -> dict[str, Any]:
    """The verdict at nominal figures: who is cheaper per unit of demand, by how much."""
    key = doc.get("value_key") or "usd_per_gpu_hour"
    label = VALUE_LABEL[key][0]
    rows = [r for r in doc["rows"] if r.get("point") == "nominal"]
    ok = sorted((r for r in rows if r.get("status") != "no_plan" and (r.get("tco") or {}).get(key) is not None),
                key=lambda r: r["tco"][key])
    notes = []
    for r in rows:
        if r.get("status") == "no_plan":
            notes.append(f"{r['candidate']} has no plan: {r.get('reason') or r.get('message')}")
    unpriced = [c for c, p in (doc.get("prices") or {}).items() if p is None]
    if unpriced:
        notes.append(f"no price is known for {', '.join(unpriced)}: {'its' if len(unpriced) == 1 else 'their'} "
                     "nodes cost nothing here (give one with --price ID=USD or ID=USD/month)")
    mixed = mixed_bases_note({c: (p or {}).get("basis") for c, p in (doc.get("prices") or {}).items()})
    if mixed:
        notes.append(mixed)
    if doc.get("cooling_note"):
        notes.append(doc["cooling_note"])
    if not ok:
        return {"text": "No candidate has a plan that meets the demand at nominal figures.", "basis": "nominal",
                "notes": notes}
    best = ok[0]
    if len(ok) == 1:
        text = f"At nominal figures only {best['candidate']} meets the demand: {money(best['tco'][key], key)} {label}."
    else:
        nxt = ok[1]
        a, b = best["tco"][key], nxt["tco"][key]
        text = (f"At nominal figures {best['candidate']} is cheaper {label} than {nxt['candidate']}: "
                f"{money(a, key)} vs {money(b, key)} ({(b - a) / b:.0%} less)").replace("%", " %")
        if len(ok) > 2:
            text += "; then " + ", ".join(f"{r['candidate']} {money(r['tco'][key], key)}" for r in ok[2:])
        text += "."
    return {"text": text, "basis": "nominal", "notes": notes}


def add_sweep(result: CompareResult, sweep: dict[str, Any]) -> None:
    """Put a sweep's summary into the comparison; its verdict, with its odds, leads."""
    result.doc["sweep"] = sweep
    nominal = result.doc["verdict"]
    result.doc["verdict"] = {"text": sweep["summary"]["verdict"], "basis": "sampled",
                             "notes": [nominal["text"]] + list(nominal.get("notes") or [])}


def tdp_search_range(cat: Catalogue, acc_id: str) -> tuple[float, float, str]:
    """The TDP range a break-even search spans [W]: from the accelerator's own low end to the highest
    estimate any related entry (``see_also``, either way round) gives, with where the top comes from."""
    acc = cat.accelerators[acc_id]
    lo = float(acc.tdp_w.low if acc.tdp_w.low is not None else acc.tdp_w.nominal)
    hi = float(acc.tdp_w.high if acc.tdp_w.high is not None else acc.tdp_w.nominal)
    related = set(acc.see_also) | {a for a, x in cat.accelerators.items() if acc_id in x.see_also}
    top, source = hi, "its own projected range"
    for other in sorted(related):
        if other not in cat.accelerators:
            continue
        f = cat.accelerators[other].tdp_w
        h = float(f.high if f.high is not None else f.nominal)
        if h > top:
            top, source = h, f"up to the highest estimate in the library ({other}: {f.nominal:,.0f} W, " \
                             f"range {f.low if f.low is not None else f.nominal:,.0f}-{h:,.0f} W)"
    note = f"{lo:,.0f}-{top:,.0f} W: " + (f"{acc_id}'s own range {lo:,.0f}-{hi:,.0f} W, " + source
                                           if top > hi else source)
    return lo, top, note


def _break_even(cat: Catalogue, candidates: list[str], rows: list[dict[str, Any]], fill: bool,
                tdp: dict[str, float], plan_one: Any, progress: Progress | None,
                metric: str | None = None, row_of: Any = None) -> list[dict[str, Any]]:
    """For each candidate on a projected accelerator, against each other candidate's nominal result:
    the TDP at which the two rank equal, searched by solving plans at what-if TDPs over the whole
    disputed range (:func:`tdp_search_range`); where there is none, why not."""
    by = {(r["candidate"], r["point"]): r for r in rows}
    out = []
    for a in candidates:
        acc_id = cat.nodes[a].accelerator
        acc = cat.accelerators[acc_id]
        if acc.tdp_w.status != "projected" or acc_id in tdp:
            continue
        lo_w, hi_w, range_note = tdp_search_range(cat, acc_id)
        cache: dict[float, tuple[float, str | None]] = {}

        def value_at(watts: float) -> tuple[float, str | None]:
            """(ranking value, why there is no plan) of ``a`` at ``watts``."""
            watts = round(watts, 1)
            if watts not in cache:
                if progress:
                    shown = f"{watts:,.0f}" if watts == round(watts) else f"{watts:,.1f}"  # 1,613.7 and 1,614.4 apart
                    progress(f"break-even {a}: trying {acc_id} at {shown} W")
                try:
                    plan = plan_one(a, "nominal", {acc_id: watts})
                    row = (row_of or compare_row)(a, "nominal", plan)
                    cache[watts] = (ranking_value(row, fill, metric), None)
                except NoPlanError as exc:
                    cache[watts] = (math.inf, (exc.shortfalls[0] if exc.shortfalls else str(exc)).removeprefix("no plan: "))
            return cache[watts]

        def edge(left: float, right: float) -> float:
            """The highest TDP in left..right with a plan (a plan at ``left``, none at ``right``)."""
            while right - left > BISECTION_TOL_W:
                mid = (left + right) / 2
                if math.isfinite(value_at(mid)[0]):
                    left = mid
                else:
                    right = mid
            return left

        for b in candidates:
            if b == a or (b, "nominal") not in by:
                continue
            target = ranking_value(by[(b, "nominal")], fill, metric)
            finding: dict[str, Any] = {"candidate": a, "versus": f"{b}@nominal", "metric": "ranking",
                                       "range_w": [lo_w, hi_w], "range_note": range_note, "tdp_w": None,
                                       "found": False, "no_plan_above_w": None, "reason": None}
            if not math.isfinite(target):
                finding["note"] = f"{b} has no plan at nominal figures: nothing to break even with"
                out.append(finding)
                continue
            (v_lo, why_lo), (v_hi, why_hi) = value_at(lo_w), value_at(hi_w)
            if math.isinf(v_lo) and math.isinf(v_hi):
                finding.update(reason=why_lo, note=f"no break-even: {a} has no plan at any TDP in {lo_w:,.0f}-"
                                                   f"{hi_w:,.0f} W ({why_lo})")
                out.append(finding)
                continue
            if math.isinf(v_hi):
                limit = edge(lo_w, hi_w)
                finding.update(no_plan_above_w=round(limit, 1), reason=value_at(limit + BISECTION_TOL_W)[1] or why_hi)
            better_low = v_lo < target
            if better_low == (v_hi < target):
                word = "better" if better_low else "worse"
                finding["note"] = (f"no break-even: {a} ranks {word} than {b} over the whole range {lo_w:,.0f}-"
                                   f"{hi_w:,.0f} W" + (f" where it has a plan; above about {finding['no_plan_above_w']:,.0f} W "
                                                       f"it has none ({finding['reason']})"
                                                       if finding["no_plan_above_w"] else ""))
                out.append(finding)
                continue
            left, right = lo_w, hi_w
            while right - left > BISECTION_TOL_W:
                mid = (left + right) / 2
                if (value_at(mid)[0] < target) == better_low:
                    left = mid
                else:
                    right = mid
            watts = round((left + right) / 2, 1)
            after, why = value_at(right)
            if math.isinf(after):
                limit = finding["no_plan_above_w"] or round(left, 1)
                finding.update(tdp_w=limit, found=True, reason=why, no_plan_above_w=limit,
                               note=f"{a} ranks better than {b} up to about {limit:,.0f} W per {acc_id}; above it "
                                    f"{a} has no plan at all ({why}), so the costs never cross: the flip is the "
                                    f"facility running out, not the price")
            else:
                finding.update(tdp_w=watts, found=True,
                               note=f"below about {watts:,.0f} W per {acc_id} {a} ranks "
                                    f"{'better' if better_low else 'worse'} than {b}; above it, "
                                    f"{'worse' if better_low else 'better'} (solved to within "
                                    f"{BISECTION_TOL_W:g} W at nominal platform overhead)"
                                    + (f"; above about {finding['no_plan_above_w']:,.0f} W it has no plan "
                                       f"({finding['reason']})" if finding["no_plan_above_w"] else ""))
            out.append(finding)
    return out


CSV_FIELDS = ["candidate", "point", "status", "reason", "cooling", "price_basis", "price", "price_unit", "nodes",
              "gpus", "racks_used", "gpus_per_rack", "kw_per_rack", "fp8_pflops", "fp8_pflops_per_rack", "hbm_tb",
              "hbm_tb_per_rack", "it_kw", "facility_kw", "energy_usd", "cooling_usd", "racks_usd", "nodes_usd",
              "total_usd", "usd_per_gpu_hour", "usd_per_pflops_year", "usd_per_tb_hbm_year", "floor_m2",
              "stranded_kw", "binding", "gap", "plan_file"]


def compare_csv(doc: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in doc["rows"]:
        flat = dict(row)
        for k, v in (row.get("annual_usd") or {}).items():
            flat[f"{k}_usd"] = v
        flat["binding"] = (row.get("binding") or {}).get("limit")
        t = row.get("tco") or {}
        for k in ("usd_per_gpu_hour", "usd_per_tb_hbm_year", "floor_m2"):
            flat[k] = t.get(k)
        if row.get("status") == "no_plan":
            flat["reason"] = row.get("reason") or row.get("message")
        price = (doc.get("prices") or {}).get(row.get("candidate")) or {}
        flat["price_basis"] = price.get("basis") or "none"
        flat["price"] = price.get("nominal")
        flat["price_unit"] = price.get("unit")
        w.writerow(flat)
    return buf.getvalue()


def write_compare(result: CompareResult, out_dir: str | Path) -> list[Path]:
    """Write compare.json, compare.csv, compare.html and plans/ID@POINT.json, all or nothing."""
    from planner.report.compare_views import render_compare
    from planner.results.outputs import atomic_outputs

    html = render_compare(result.doc)
    from planner.studies.sweep import _clean

    with atomic_outputs(out_dir) as out:
        paths = [out.write_json("compare.json", _clean(result.doc)),
                 out.write_text("compare.csv", compare_csv(result.doc)), out.write_text("compare.html", html)]
        out.replace_dir("plans")  # no plan from an earlier comparison lingers beside these
        for name, plan in result.plans.items():
            paths.append(out.write_json(f"plans/{name}.json", plan))
    return paths
