"""The comparison and sweep reports: ``compare.html`` and ``sweep.html``, from their JSON documents alone.

Moved out of :mod:`planner.report.views` (which still answers ``render_compare`` and ``compare_view``
for old imports). The page opens with the verdict: who is cheaper per unit of demand, and, after a
sweep, in what share of scenarios; then the TCO per useful unit, the cost breakdown, the
distributions and the tornado (inline SVG from :mod:`planner.report.charts`), then the side-by-side
table, break-even and assumptions as before. Older ``compare.json`` documents without prices or a
sweep render too: what they lack is left out.
"""

from __future__ import annotations

import math
from typing import Any

from planner.report.charts import BoxPlot, CdfChart, CostBars, Dist, Tornado, TornadoBar
from planner.report.drawing import Bar, BarChart
from planner.report.format import fig, fint, fnum, pct, usd, usd_short
from planner.report.views import CANDIDATE_COLOURS, _render, assumptions_view, demand_text, plural
from planner.studies.tco import VALUE_LABEL, money
from planner.vocabulary import POINTS

METRICS: tuple[tuple[str, str, Any, str | None], ...] = (
    # (label, key, formatter, better: "min" | "max" | None)
    ("Status", "status", lambda v: str(v).replace("_", " "), None),
    ("Nodes", "nodes", fint, None),
    ("GPUs", "gpus", fint, "max"),
    ("Racks used", "racks_used", fint, "min"),
    ("GPUs per rack", "gpus_per_rack", lambda v: fnum(v, 1), "max"),
    ("IT kW per rack", "kw_per_rack", lambda v: fnum(v, 1), None),
    ("FP8 PFLOPS", "fp8_pflops", lambda v: fnum(v, 0), "max"),
    ("FP8 PFLOPS per rack", "fp8_pflops_per_rack", lambda v: fnum(v, 1), "max"),
    ("HBM TB", "hbm_tb", lambda v: fnum(v, 1), "max"),
    ("HBM TB per rack", "hbm_tb_per_rack", lambda v: fnum(v, 2), "max"),
    ("IT kW", "it_kw", lambda v: fnum(v, 0), "min"),
    ("Facility kW", "facility_kw", lambda v: fnum(v, 0), "min"),
    ("Provisioned kW", "provisioned_kw", lambda v: fnum(v, 0), None),
    ("Stranded kW", "stranded_kw", lambda v: fnum(v, 0), "min"),
    ("Annual cost: energy", "annual_usd.energy", usd, "min"),
    ("Annual cost: cooling", "annual_usd.cooling", usd, "min"),
    ("Annual cost: racks", "annual_usd.racks", usd, "min"),
    ("Annual cost: nodes", "annual_usd.nodes", usd, "min"),
    ("Annual cost: total", "annual_usd.total", usd, "min"),
    ("Cost per GPU-hour", "tco.usd_per_gpu_hour", lambda v: f"${float(v):,.2f}", "min"),
    ("Cost per PFLOPS-year", "usd_per_pflops_year", usd, "min"),
    ("Cost per TB of HBM-year", "tco.usd_per_tb_hbm_year", usd, "min"),
    ("Floor (rack footprints)", "tco.floor_m2", lambda v: f"{fnum(v, 1)} m²", "min"),
    ("Binding limit", "binding.label", str, None),
    ("Solver gap", "gap", lambda v: pct(v, 2), None),
)


def _get(row: dict[str, Any], key: str) -> Any:
    v: Any = row
    for part in key.split("."):
        if not isinstance(v, dict):
            return None
        v = v.get(part)
    return v


def compare_view(doc: dict[str, Any]) -> dict[str, Any]:
    """Everything the compare template shows, from ``compare.json`` alone."""
    fac = doc.get("facility", {})
    rows = list(doc.get("rows") or [])
    order = {c: i for i, c in enumerate(doc.get("candidates") or [])}
    rows.sort(key=lambda r: (order.get(r.get("candidate"), len(order)),
                             POINTS.index(r["point"]) if r.get("point") in POINTS else 9))
    columns = [{"candidate": r.get("candidate", "?"), "point": r.get("point", ""),
                "ok": r.get("status") != "no_plan", "message": r.get("message") or "",
                "shortfalls": [str(x) for x in r.get("shortfalls") or []],
                "name": (r.get("node") or {}).get("name", ""),
                "plan_file": r.get("plan_file") or ""} for r in rows]
    ok_rows = [r for r in rows if r.get("status") != "no_plan"]
    table = []
    for label, key, f, better in METRICS:
        values = [_get(r, key) if r.get("status") != "no_plan" or key == "status" else None for r in rows]
        if key in ("annual_usd.nodes", "provisioned_kw") and not any(values):
            continue
        if key.startswith("tco.") and all(v is None for v in values):
            continue
        best = None
        nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if better and len(nums) > 1 and len(set(nums)) > 1:
            best = min(nums) if better == "min" else max(nums)
        cells = []
        for v in values:
            cells.append({"text": f(v) if v is not None else "–", "best": best is not None and v == best})
        table.append({"label": label, "cells": cells})

    def chart(title: str, key: str, fmt: Any, tick: Any = "{:,.0f}") -> Any:
        bars = []
        for i, r in enumerate(rows):
            v = _get(r, key) if r.get("status") != "no_plan" else None
            label = f"{r.get('candidate')} @ {r.get('point')}"
            bars.append(Bar(label, float(v) if isinstance(v, (int, float)) else None,
                            fmt(v) if v is not None else "no plan",
                            CANDIDATE_COLOURS[order.get(r.get("candidate"), i) % len(CANDIDATE_COLOURS)]))
        return BarChart(title, bars, tick).render()

    charts = [] if not ok_rows else [
        chart("Racks used", "racks_used", fint),
        chart("Annual cost (USD)", "annual_usd.total", usd, usd_short),
        chart("Annual cost per FP8 PFLOPS-year (USD)", "usd_per_pflops_year", usd, usd_short),
        chart("IT kW per rack", "kw_per_rack", lambda v: f"{fnum(v, 1)} kW"),
        chart("GPUs per rack", "gpus_per_rack", lambda v: fnum(v, 1)),
    ]
    findings = []
    for b in doc.get("break_even") or []:
        rng = b.get("range_w") or []
        findings.append({"candidate": b.get("candidate", ""), "versus": b.get("versus", ""),
                         "metric": b.get("metric", ""), "found": bool(b.get("found")),
                         "tdp": f"{fint(b.get('tdp_w'))} W" if b.get("tdp_w") is not None else "–",
                         "range": f"{fint(rng[0])} – {fint(rng[1])} W" if len(rng) == 2 else "–",
                         "range_note": b.get("range_note") or "",
                         "note": b.get("note") or ""})
    nodes = []
    seen = set()
    for r in rows:
        n = r.get("node") or {}
        key = (r.get("candidate"), r.get("point"))
        if n and key not in seen:
            seen.add(key)
            nodes.append({"id": r.get("candidate"), "point": r.get("point"), "name": n.get("name", ""),
                          "gpus": n.get("gpus"), "u": n.get("u"), "max_kw": fnum(n.get("max_kw"), 2),
                          "tdp": fint(n.get("tdp_w")), "liquid": pct(n.get("liquid_fraction")),
                          "weight": fnum(n.get("weight_kg")), "fp8": fnum(n.get("fp8_pflops"), 1),
                          "hbm": fnum(n.get("hbm_tb"), 3), "status": n.get("status", "")})
    winners = _winner(ok_rows, doc)
    verdict = doc.get("verdict") or {}
    sweep = doc.get("sweep")
    return {
        "kind": "compare",
        "title": f"Node comparison: {fac.get('name', 'facility')}",
        "facility": fac, "tool": doc.get("tool") or {}, "schema": doc.get("schema", ""),
        "made_at": doc.get("made_at") or "",
        "demand": demand_text(doc.get("demand") or {}), "ranking": doc.get("ranking") or "",
        "candidates": doc.get("candidates") or [],
        "tdp_overrides": ", ".join(f"{k} {fig(v)} W" for k, v in (doc.get("tdp_overrides_w") or {}).items()),
        "columns": columns, "table": table, "charts": charts, "findings": findings, "nodes": nodes,
        "winner": winners, "no_plan": [c for c in columns if not c["ok"]],
        "assumptions": assumptions_view(doc.get("assumptions") or []),
        "disputes": doc.get("spec_disputes") or [],
        "verdict": verdict.get("text") or winners, "verdict_notes": list(verdict.get("notes") or []),
        "cooling_note": doc.get("cooling_note") or "",
        "tco": tco_view(doc, rows),
        "sweep": sweep_view(sweep, doc) if sweep else None,
        "samples": (sweep or {}).get("samples"),
    }


def tco_view(doc: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Annual TCO per useful unit for each candidate at nominal figures, and the cost breakdown chart."""
    nominal = [r for r in rows if r.get("point") == "nominal"]
    if not nominal:
        return None
    prices = doc.get("prices") or {}
    order = {c: i for i, c in enumerate(doc.get("candidates") or [])}
    out = []
    for r in nominal:
        c = r.get("candidate", "?")
        price = prices.get(c) or {}
        ok = r.get("status") != "no_plan"
        t = r.get("tco") or {}
        usd_ = r.get("annual_usd") or {}
        out.append({
            "candidate": c, "ok": ok, "cooling": (doc.get("cooling") or {}).get(c, ""),
            "basis": price.get("basis") or "", "price": price_short(price) or "no price known: nodes cost 0",
            "origin": price.get("origin") or "",
            "other": _other_basis(price), "reason": r.get("reason") or r.get("message") or "",
            "total": usd(usd_.get("total")) if ok else "no plan", "energy": usd(usd_.get("energy")) if ok else "–",
            "cooling_usd": usd(usd_.get("cooling")) if ok else "–", "racks_usd": usd(usd_.get("racks")) if ok else "–",
            "nodes_usd": usd(usd_.get("nodes")) if ok else "–",
            "gpu_hour": money(t.get("usd_per_gpu_hour"), "usd_per_gpu_hour") if ok else "–",
            "pflops_year": money(t.get("usd_per_pflops_year"), "usd_per_pflops_year") if ok else "–",
            "tb_year": money(t.get("usd_per_tb_hbm_year"), "usd_per_tb_hbm_year") if ok else "–",
            "racks": fint(r.get("racks_used")) if ok else "–",
            "it_mw": fnum(t.get("it_mw"), 2) if ok else "–", "facility_mw": fnum(t.get("facility_mw"), 2) if ok else "–",
            "floor": f"{fnum(t.get('floor_m2'), 1)} m²" if ok and t.get("floor_m2") is not None else "–",
        })
    parts = (("Energy", "energy"), ("Cooling", "cooling"), ("Racks", "racks"), ("Nodes", "nodes"))
    bars = [(r.get("candidate", "?"), [(label, float((r.get("annual_usd") or {}).get(k) or 0.0)) for label, k in parts])
            for r in sorted(nominal, key=lambda r: order.get(r.get("candidate"), 99)) if r.get("status") != "no_plan"]
    chart = CostBars("Annual TCO by part at nominal figures (USD a year)", bars, usd_short).render() if bars else None
    return {"rows": out, "chart": chart,
            "years": (doc.get("pricing") or {}).get("years"), "rate": (doc.get("pricing") or {}).get("discount_rate")}


def price_short(price: dict[str, Any]) -> str:
    """``rent $25,000/month ($20,000–$30,000) = $300,000 a year``."""
    if not price:
        return ""
    unit = {"buy": "", "rent": "/month", "annual": "/year"}.get(price.get("basis") or "", "")
    rng = f" ({usd(price['low'])}–{usd(price['high'])})" if price.get("low") is not None and price.get("high") is not None \
        and price["high"] > price["low"] else ""
    head = {"buy": "buy", "rent": "rent", "annual": "annual cost"}.get(price.get("basis") or "", "")
    years = f" over {fnum(price.get('years'), 0)} years at {pct(price.get('discount_rate'), 1)}" if price.get("basis") == "buy" else ""
    return f"{head} {usd(price.get('nominal'))}{unit}{rng}{years} = {usd(price.get('annual_usd'))} a year"


def _other_basis(price: dict[str, Any]) -> str:
    other = price.get("other")
    if not other:
        return ""
    what = "buying" if other.get("basis") == "buy" else "renting"
    return f"{what} instead: {usd(other.get('annual_usd'))} a year"


# ------------------------------------------------------------------------------------------------
# sweep


UNIT_FORMAT = {
    "W": lambda v: f"{v:,.0f} W", "kW": lambda v: f"{v:,.2f} kW", "kg": lambda v: f"{v:,.0f} kg",
    "TFLOPS": lambda v: f"{v:,.0f} TFLOPS", "GB": lambda v: f"{v:,.0f} GB", "USD/kWh": lambda v: f"${v:,.3f}/kWh",
    "USD per node-month": lambda v: f"${v:,.0f}/month", "USD per node": lambda v: f"${v:,.0f}",
    "USD per node-year": lambda v: f"${v:,.0f}/year", "": lambda v: f"{v:,.2f}",
}


def factor_value(v: float | None, unit: str) -> str:
    """A factor's value in its own unit (ranges print in the unit of the value)."""
    if v is None:
        return "–"
    return UNIT_FORMAT.get(unit, lambda x: f"{x:,.4g} {unit}")(float(v))


def _interval(iv: list[float] | None) -> str:
    if not iv:
        return ""
    return f"{iv[0] * 100:.1f} – {iv[1] * 100:.1f} %"


def _pp(p: float | None) -> str:
    return "–" if p is None else f"{p * 100:.0f} %"


def sweep_view(sweep: dict[str, Any], doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the sweep part of a page shows: verdict, odds, distributions, tornado, factors."""
    s = sweep.get("summary") or {}
    key = s.get("value_key") or "usd_per_gpu_hour"
    label = s.get("value_label") or VALUE_LABEL.get(key, ("", 0))[0]
    cands = list(s.get("candidates") or [])
    per = s.get("per_candidate") or {}
    colour = {c: CANDIDATE_COLOURS[i % len(CANDIDATE_COLOURS)] for i, c in enumerate(cands)}
    prob = s.get("win_probability") or {}
    best = max(cands, key=lambda c: prob.get(c) or 0.0) if cands else None

    def fmt_value(v: float) -> str:
        return money(v, key)

    odds = []
    for c in cands:
        p = per.get(c) or {}
        v = p.get("value") or {}
        n = max(p.get("scenarios") or 0, 1)
        odds.append({"candidate": c, "win": _pp(prob.get(c)), "best": c == best,
                     "err": _interval((s.get("win_interval95") or {}).get(c)),
                     "p50": fmt_value(v.get("p50")) if v.get("p50") is not None else "–",
                     "range": f"{fmt_value(v['p10'])} – {fmt_value(v['p90'])}" if v.get("p10") is not None else "–",
                     "ok": f"{p.get('ok', 0):,} of {p.get('scenarios', 0):,}",
                     "no_plan": _pp((p.get("no_plan") or 0) / n) if p.get("no_plan") else "0 %",
                     "reasons": "; ".join(f"{r['kind']} ({r['count']:,})" for r in p.get("reasons") or []),
                     "example": next((r.get("example") for r in p.get("reasons") or [] if r.get("example")), "")})
    from planner.studies.sweep import SUMMARY_METRICS

    fmts = {"USD/year": usd, "USD": lambda v: f"${v:,.2f}", "kW": lambda v: f"{v:,.0f} kW", "racks": lambda v: f"{v:,.0f}"}
    table = []
    for m, mlabel, unit in SUMMARY_METRICS:
        cells = []
        for c in cands:
            st = ((per.get(c) or {}).get("stats") or {}).get(m) or {}
            f = fmts.get(unit, lambda v: fnum(v, 1))
            if m.startswith("usd_per"):
                f = (lambda k: (lambda v: money(v, k)))(m)
            cells.append(f"{f(st['p50'])} ({f(st['p10'])} – {f(st['p90'])})" if st.get("p50") is not None else "–")
        if any(x != "–" for x in cells):
            table.append({"label": mlabel, "cells": cells})

    def box(title: str, metric: str, f: Any, integer: bool = False) -> Any:
        rows = []
        for c in cands:
            p = per.get(c) or {}
            st = (p.get("value") if metric == "value" else (p.get("stats") or {}).get(metric)) or {}
            no = p.get("no_plan") or 0
            note = f"no plan in {_pp(no / max(p.get('scenarios') or 1, 1))}" if no else ""
            rows.append(Dist(c, st.get("p10"), st.get("p50"), st.get("p90"), st.get("min"), st.get("max"), colour[c], note))
        return BoxPlot(title, rows, f, integer).render()

    charts = [
        box(f"Cost {label} (USD): P10–P90 box, median line, min–max whiskers", "value", fmt_value),
        box("Annual TCO (USD a year)", "total_usd", usd_short),
        box("Racks used", "racks", lambda v: f"{v:,.0f}", integer=True),
        box("IT load (kW)", "it_kw", lambda v: f"{v:,.0f}"),
    ]
    cdf = CdfChart(f"Share of scenarios at or below a cost {label} (USD)",
                   [(c, (per.get(c) or {}).get("quantiles") or [], colour[c]) for c in cands], fmt_value).render()
    torn = tornado_view(sweep.get("tornado"), key)
    factors = [{"label": f["label"], "key": f["key"], "low": factor_value(f["low"], f["unit"]),
                "mode": factor_value(f["mode"], f["unit"]), "high": factor_value(f["high"], f["unit"]),
                "candidates": ", ".join(f.get("candidates") or []), "origin": f.get("origin") or ""}
               for f in s.get("factors") or []]
    return {"verdict": s.get("verdict") or "", "odds": odds, "table": table, "candidates": cands,
            "charts": charts, "cdf": cdf, "tornado": torn, "factors": factors, "value_label": label,
            "samples": sweep.get("samples") or s.get("samples"), "seed": sweep.get("seed") or s.get("seed"),
            "engine": sweep.get("engine") or "", "seconds": sweep.get("seconds"),
            "solved": sweep.get("solved_this_run"),
            "results_file": sweep.get("results_file") or "", "counted": s.get("scenarios_counted"),
            "none_fit": s.get("scenarios_none_fit") or 0, "incomplete": s.get("scenarios_incomplete") or 0}


def tornado_view(t: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if not t or not t.get("ranked"):
        return None
    leader, runner = t.get("leader"), t.get("runner_up")
    label = t.get("value_label") or ""

    def m(v: float | None) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        if math.isinf(v):
            return "no plan"
        return ("+" if v > 0 else "−" if v < 0 else "") + money(abs(v), key)

    def margin(v: Any) -> float:
        return math.nan if v is None else float(v)

    bars, rows = [], []
    for b in t["ranked"]:
        lo, hi = margin(b.get("margin_low")), margin(b.get("margin_high"))
        # JSON has no infinity: a missing margin where a candidate has no plan is an unbounded move
        for end in ("low", "high"):
            if b.get(f"margin_{end}") is None and b.get(f"no_plan_{end}"):
                inf = -math.inf if leader in b[f"no_plan_{end}"] else math.inf
                lo, hi = (inf, hi) if end == "low" else (lo, inf)
        lo_text = f"{factor_value(b['low'], b['unit'])}: " + (_no_plan_text(b, "low") or m(lo))
        hi_text = f"{factor_value(b['high'], b['unit'])}: " + (_no_plan_text(b, "high") or m(hi))
        bars.append(TornadoBar(b["key"], b["label"], lo, hi, lo_text, hi_text, bool(b.get("flips")),
                               f"{_no_plan_short(b, 'low') or m(lo)} / {_no_plan_short(b, 'high') or m(hi)}"))
        rows.append({"label": b["label"], "range": f"{factor_value(b['low'], b['unit'])} – {factor_value(b['high'], b['unit'])}",
                     "low": lo_text, "high": hi_text, "flips": bool(b.get("flips"))})
    base = margin(t.get("base_margin"))
    if runner is None:
        title = f"What moves {leader}'s cost {label} most"
        axis = f"{leader}'s cost {label} (USD)"
    else:
        title = f"What moves the verdict most: {leader} vs {runner}"
        axis = f"how much cheaper {label} {leader} is than {runner} (USD; nominal {m(base)})"
    chart = Tornado(title, base if math.isfinite(base) else 0.0, bars, lambda v: money(v, key), axis).render()
    return {"chart": chart, "rows": rows, "leader": leader, "runner_up": runner, "base": m(base)}


def _no_plan_short(b: dict[str, Any], end: str) -> str:
    return "no plan" if b.get(f"no_plan_{end}") else ""


def _no_plan_text(b: dict[str, Any], end: str) -> str:
    who = b.get(f"no_plan_{end}") or []
    if not who:
        return ""
    reasons = b.get(f"reasons_{end}") or {}
    return "; ".join(f"{c} has no plan ({reasons.get(c) or 'see the plan'})" for c in who)


def sweep_page_view(doc: dict[str, Any]) -> dict[str, Any]:
    """Everything ``sweep.html`` shows, from ``sweep.json`` alone."""
    fac = doc.get("facility") or {}
    prices = doc.get("prices") or {}
    cooling = doc.get("cooling") or {}
    kinds = sorted(set(cooling.values()))
    return {
        "kind": "sweep", "title": f"Node comparison under uncertainty: {fac.get('name', 'facility')}",
        "facility": fac, "tool": doc.get("tool") or {}, "schema": doc.get("schema", ""),
        "made_at": doc.get("made_at") or "", "demand": demand_text(doc.get("demand") or {}),
        "sweep": sweep_view(doc, doc),
        "prices": [{"candidate": c, "text": price_short(p or {}) or "no price known: nodes cost 0",
                    "origin": (p or {}).get("origin") or "", "other": _other_basis(p or {})} for c, p in prices.items()],
        "cooling_note": cooling_note(cooling) if len(kinds) > 1 else "",
        "notes": [n for n in doc.get("notes") or [] if n != cooling_note(cooling)],
        "solver": doc.get("solver") or {},
    }


def cooling_note(cooling: dict[str, str]) -> str:
    """What a comparison mixing air- and liquid-cooled nodes should say about itself."""
    air = [c for c, k in cooling.items() if k == "air"]
    liquid = [c for c, k in cooling.items() if k != "air"]
    if not air or not liquid:
        return ""
    return (f"This comparison mixes cooling types: {', '.join(air)} {'is' if len(air) == 1 else 'are'} air-cooled, "
            f"{', '.join(liquid)} liquid-cooled. They go into different racks of this facility (air into air or "
            f"rear-door racks, liquid only into racks with a liquid loop), so the difference reflects the racks "
            f"the building has as much as the nodes. Compare like with like (e.g. b200-8x-dlc against a liquid "
            f"candidate) for the nodes alone.")


def render_sweep(doc: dict[str, Any]) -> str:
    """The HTML report of a ``rackplan.sweep/1`` document (self-contained, no JavaScript)."""
    return _render("sweep.html.j2", **sweep_page_view(doc))


def _winner(ok_rows: list[dict[str, Any]], doc: dict[str, Any]) -> str:
    nominal = [r for r in ok_rows if r.get("point") == "nominal"] or ok_rows
    if not nominal:
        return "No candidate has a plan that meets the demand."
    fill = (doc.get("demand") or {}).get("kind") == "fill"
    if fill:
        scored = [r for r in nominal if r.get("usd_per_pflops_year") is not None]
        if not scored:
            return ""
        best = min(scored, key=lambda r: r["usd_per_pflops_year"])
        return (f"At nominal figures, {best['candidate']} gives the lowest annual cost per FP8 PFLOPS-year: "
                f"{usd(best['usd_per_pflops_year'])}, in {plural(best.get('racks_used'), 'rack')}.")
    best = min(nominal, key=lambda r: float(_get(r, "annual_usd.total") or math.inf))
    return (f"At nominal figures, {best['candidate']} meets the demand at the lowest annual cost: "
            f"{usd(_get(best, 'annual_usd.total'))} in {plural(best.get('racks_used'), 'rack')}.")


def render_compare(doc: dict[str, Any]) -> str:
    """The HTML report of a ``rackplan.compare/1`` document (self-contained, no JavaScript)."""
    return _render("compare.html.j2", **compare_view(doc))
