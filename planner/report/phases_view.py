"""The self-contained HTML report of a phased deployment (``phases.html``, from ``phases.json``).

Like the other reports: view data made of formatted strings and inline SVG drawings (the floor layout
of :mod:`planner.report.drawing`, and a timeline drawn here on its :class:`Canvas`), rendered by the
autoescaping Jinja2 templates, no JavaScript, nothing fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from planner.inputs.facility import Facility
from planner.inputs.waves import add_months, month_index, month_name
from planner.report.drawing import Bar, BarChart, Canvas, FloorLayout, FloorRow, nice_step, num, swatch
from planner.report.format import fint, fnum, nodes_text, rack_number, usd, usd_short
from planner.report.views import _render, demand_text

STRATEGY_COLOURS = {"now": "c2", "schedule": "c5", "wait": "c4", "hybrid": "c0", "wave_by_wave": "c3"}
"""Okabe-Ito colour per strategy (the same in every chart and table)."""
WAVE_CLASSES = ("w0", "w1", "w2", "w3", "w4", "w5")
"""Floor tile classes by the wave that filled the rack (cycled past six waves)."""
MAX_FLOOR_TILES = 40_000
"""Most rack tiles drawn over all the waves' floor layouts; past that only the last wave is drawn."""


# --- the timeline ----------------------------------------------------------------------------------------

@dataclass
class Series:
    label: str
    cls: str
    points: Sequence[tuple[str, float]]
    """(month ``YYYY-MM``, value) where the value changes; it holds until the next point."""


@dataclass
class TimelineChart:
    """Values that step up (and down, at retirements) over months: one line per strategy, the months
    of the waves marked. Layers: background, axes, markers, series, labels."""

    title: str
    start: str
    end: str
    series: Sequence[Series]
    markers: Sequence[tuple[str, str]] = ()
    """(month, label) drawn as dashed verticals."""
    unit: str = ""
    tick_format: Any = "{:,.0f}"
    holds: str | None = None
    """The horizon, when the chart stops before it (the last values hold to it)."""

    WIDTH = 640
    HEIGHT = 240
    LEFT = 58
    RIGHT = 16
    TOP = 50
    BOTTOM = 34

    @property
    def months(self) -> int:
        return max(1, month_index(self.end) - month_index(self.start))

    @property
    def top_value(self) -> float:
        top = max((v for s in self.series for _, v in s.points), default=0.0)
        if top <= 0:
            return 1.0
        step = nice_step(top)
        return step * -(-top // step)

    def x(self, month: str) -> float:
        m = min(max(month_index(month), month_index(self.start)), month_index(self.end))
        return self.LEFT + (self.WIDTH - self.LEFT - self.RIGHT) * (m - month_index(self.start)) / self.months

    def y(self, value: float) -> float:
        return self.TOP + (self.HEIGHT - self.TOP - self.BOTTOM) * (1 - max(0.0, value) / self.top_value)

    def background(self, c: Canvas) -> None:
        c.rect(0, 0, self.WIDTH, self.HEIGHT, cls="bg")

    def axes(self, c: Canvas) -> None:
        top = self.top_value
        step = nice_step(top)
        k = 0
        while k * step <= top + 1e-9:
            y = self.y(k * step)
            c.add("line", x1=float(self.LEFT), y1=float(y), x2=float(self.WIDTH - self.RIGHT), y2=float(y), cls="grid")
            fmt = self.tick_format
            c.text(self.LEFT - 6, y + 3.5, fmt(k * step) if callable(fmt) else fmt.format(k * step), cls="ytick")
            k += 1
        first, last = month_index(self.start), month_index(self.end)
        every = 3 if last - first <= 30 else (6 if last - first <= 60 else 12)
        for m in range(first, last + 1):
            if m % every == 0 and m != first and m != last:
                month = month_name(m)
                c.text(self.x(month), self.HEIGHT - self.BOTTOM + 14, month if every < 12 else month[:4], cls="tick")
        c.text(self.LEFT, self.HEIGHT - 6, self.start, cls="tick-left")
        c.text(self.WIDTH - self.RIGHT, self.HEIGHT - 6, self.end + (f" (held to {self.holds})" if self.holds else ""),
               cls="tick-right")

    def markers_layer(self, c: Canvas) -> None:
        c.open("g", cls="markers")
        for month, label in self.markers:
            x = self.x(month)
            c.add("line", x1=float(x), y1=float(self.TOP - 4), x2=float(x), y2=float(self.HEIGHT - self.BOTTOM), cls="marker")
            c.text(x + 3, self.TOP - 6, label, cls="marker-label")
        c.close()

    def path(self, s: Series) -> str:
        pts = sorted(s.points, key=lambda p: month_index(p[0]))
        d = [f"M{num(self.x(self.start))} {num(self.y(0))}"]
        for month, v in pts:
            d.append(f"H{num(self.x(month))}V{num(self.y(v))}")
        d.append(f"H{num(self.x(self.end))}")
        return "".join(d)

    def series_layer(self, c: Canvas) -> None:
        c.open("g", cls="series")
        for i, s in enumerate(self.series):
            c.add("path", d=self.path(s), cls=f"line s{s.cls}", data_series=s.label,
                  transform=f"translate(0 {num(-1.2 * i)})" if i else None)
        c.close()

    def labels(self, c: Canvas) -> None:
        c.text(0, 14, self.title, cls="chart-title")
        c.open("g", cls="key")
        x, y = 0.0, 30.0
        for s in self.series:
            width = 30 + 5.6 * len(s.label)
            if x + width > self.WIDTH and x > 0:
                x, y = 0.0, y + 13
            c.add("line", x1=float(x), y1=float(y - 4), x2=float(x + 16), y2=float(y - 4), cls=f"line s{s.cls}")
            c.text(x + 20, y, s.label, cls="key-label")
            x += width
        c.close()

    def render(self) -> Markup:
        c = Canvas(self.WIDTH, self.HEIGHT, "rp-chart rp-timeline", self.title)
        self.background(c)
        self.axes(c)
        self.markers_layer(c)
        self.series_layer(c)
        self.labels(c)
        return c.markup()


# --- floors ------------------------------------------------------------------------------------------------

def _filled_by(hybrid: dict[str, Any], v: int) -> dict[str, int]:
    """Rack id -> index of the wave whose nodes are in it at wave ``v`` of the hybrid."""
    waves = hybrid["waves"]
    date = month_index(waves[v]["date"])
    out: dict[str, int] = {}
    for u in range(v + 1):
        w = waves[u]
        if w.get("retire") and month_index(w["retire"]) <= date:
            continue
        for rid in w.get("racks_filled") or []:
            out[rid] = u
    return out


def floor_layouts(fac: Facility, hybrid: dict[str, Any], v: int) -> list[dict[str, Any]]:
    """Per hall, the floor at wave ``v``: each rack's tile coloured by the wave that filled it."""
    filled = _filled_by(hybrid, v)
    names = [w["name"] for w in hybrid["waves"]]
    existing = {e.rack for e in fac.existing}
    out = []
    for hall in fac.halls:
        rows, used = [], 0
        frame = fac.racks.frame
        ids = frame.rows(frame["hall"] == hall.name)
        by_row: dict[str, list[str]] = {}
        for row, rid in zip(ids["row"].tolist(), ids["id"].tolist()):
            by_row.setdefault(row, []).append(rid)
        for row in hall.rows:
            tiles, titles = [], {}
            count = 0
            for i, rid in enumerate(by_row.get(row.name, [])):
                if rid in filled:
                    tiles.append(WAVE_CLASSES[filled[rid] % len(WAVE_CLASSES)])
                    titles[i] = f"{rid}: filled at {names[filled[rid]]}"
                    count += 1
                else:
                    tiles.append("x" if rid in existing else "e")
            used += count
            rows.append(FloorRow(row.name, tiles, titles, f"{count}/{row.racks} in use"))
        if used:
            layout = FloorLayout(hall.name, rows)
            out.append({"hall": hall.name, "used": used, "svg": Markup("").join(layout.render_parts())})
    return out


# --- the view ----------------------------------------------------------------------------------------------

def _kw(x: Any) -> str:
    return "–" if x is None else f"{fnum(x, 0)} kW"


def _gpu_hours(x: Any) -> str:
    if x is None:
        return "–"
    x = float(x)
    return f"{x / 1e6:,.2f} M" if x >= 1e6 else f"{x:,.0f}"


def _deploys(s: dict[str, Any]) -> str:
    parts = []
    for d in s["deploys"]:
        parts.append(f"{d['date']}: {demand_text(d['demand']).replace(', least annual cost', '')}"
                     + (f" (retires {d['retire']})" if d.get("retire") else ""))
    return "; ".join(parts) or "–"


def strategies_view(doc: dict[str, Any]) -> dict[str, Any]:
    cols = doc["strategies"]
    best = doc["best"]["key"]
    rows: list[dict[str, Any]] = []

    def row(label: str, cells: list[str], bold: int | None = None, cls: str = "") -> None:
        rows.append({"label": label, "cells": [{"text": t, "best": i == bold} for i, t in enumerate(cells)], "cls": cls})

    ok = [s.get("status") == "ok" for s in cols]
    best_i = next((i for i, s in enumerate(cols) if s["key"] == best), None)
    row("Deploys", [_deploys(s) for s in cols], cls="small")
    row("Discounted TCO", [usd(s.get("pv_usd")) if o else "no plan" for s, o in zip(cols, ok)])
    row("Cost of delay", [usd(s.get("delay_usd")) if o and s.get("delay_usd") is not None
                          else ("not priced" if o else "–") for s, o in zip(cols, ok)])
    row("TCO + cost of delay", [usd(s.get("total_usd")) if o else "–" for s, o in zip(cols, ok)], bold=best_i)
    row("GPU-hours short of the schedule", [_gpu_hours(s.get("short_gpu_hours")) if o else "–" for s, o in zip(cols, ok)])
    for d in doc["checkpoints"]:
        row(f"GPU-hours delivered by {d}", [_gpu_hours((s.get("gpu_hours_by") or {}).get(d)) if o else "–"
                                             for s, o in zip(cols, ok)])
    last = [s["waves"][-1] if o and s.get("waves") else None for s, o in zip(cols, ok)]
    row("Nodes at the last wave", [nodes_text(w["nodes_installed"]) if w else "–" for w in last], cls="small")
    row("Racks in use at the last wave", [fint(w["racks_used"]) if w else "–" for w in last])
    row("IT load at the last wave", [f"{fnum(w['it_kw'] / 1000, 2)} MW" if w else "–" for w in last])
    for key, label in (("rack_power_kw", "Stranded rack power, by wave"),
                       ("rack_cooling_kw", "Stranded rack cooling, by wave"),
                       ("hall_cooling_kw", "Hall cooling left in halls in use, by wave")):
        row(label, [" · ".join(f"{w['name']} {_kw(w['stranded'][key])}" for w in s.get("waves") or []) or "–"
                    if o else "–" for s, o in zip(cols, ok)], cls="small")
    row("Solver", [f"{s['solver']['status']}, gap {s['solver']['gap']:.3%}, {s['solver']['seconds']:.1f} s" if o else
                   (s.get("message") or "–") for s, o in zip(cols, ok)], cls="small")
    row("Independent check", [("passed at every wave (" + str(len(s["waves"])) + ")" if all(w["check"]["passed"] for w in s["waves"])
                               else "FAILED") if o else "–" for s, o in zip(cols, ok)], cls="small")
    return {"columns": [{"key": s["key"], "label": s["label"], "ok": o, "cls": STRATEGY_COLOURS.get(s["key"], "c1"),
                         "notes": s.get("notes") or [], "message": s.get("message")} for s, o in zip(cols, ok)],
            "rows": rows}


def totals_chart(doc: dict[str, Any]) -> Markup:
    """Each strategy's discounted TCO plus cost of delay, as bars."""
    bars = []
    for s in doc["strategies"]:
        ok = s.get("status") == "ok" and s.get("total_usd") is not None
        text = usd(s.get("total_usd")) if ok else "no plan"
        if ok and s.get("delay_usd"):
            text += f" ({usd(s['delay_usd'])} of it delay)"
        bars.append(Bar(s["label"], float(s["total_usd"]) if ok else None, text, STRATEGY_COLOURS.get(s["key"], "c1")))
    chart = BarChart("TCO + cost of delay, discounted", bars, tick_format=usd_short)
    chart.LABEL_W, chart.VALUE_W = 260, 200
    return chart.render()


def timeline_view(doc: dict[str, Any]) -> list[Markup]:
    inputs = doc["inputs"]
    start, horizon = inputs["waves"][0]["date"], inputs["horizon"]
    events = [p["date"] for s in doc["strategies"] for p in s.get("timeline") or []] + [start]
    end = min(add_months(max(events, key=month_index), 6), horizon, key=month_index)
    holds = horizon if end != horizon else None
    racks, mw = [], []
    for s in doc["strategies"]:
        if s.get("status") != "ok":
            continue
        pts = [(p["date"], p) for p in s.get("timeline") or []]
        cls = STRATEGY_COLOURS.get(s["key"], "c1")
        racks.append(Series(s["label"], cls, [(d, float(p["racks"])) for d, p in pts]))
        mw.append(Series(s["label"], cls, [(d, float(p["it_kw"]) / 1000.0) for d, p in pts]))
    markers = [(w["date"], w["name"]) for w in inputs["waves"]]
    return [TimelineChart("Racks in use", start, end, racks, markers, holds=holds).render(),
            TimelineChart("IT load (MW)", start, end, mw, markers, tick_format="{:,.1f}", holds=holds).render()]


def sensitivity_view(sens: dict[str, Any] | None, doc: dict[str, Any]) -> dict[str, Any] | None:
    if not sens:
        return None
    keys = [k for k in ("now", "schedule", "wait", "hybrid") if any(k in (p.get("totals") or {}) for p in sens["points"])]
    labels = {s["key"]: s["label"] for s in doc["strategies"]}
    points = []
    for p in sens["points"]:
        node = sens["nodes"][0]
        what = {"availability": f"ships {p['available_from'][node]}",
                "power": f"{fnum(p['max_kw'][node], 1)} kW a node ({fnum(p['tdp_w'][node], 0)} W a GPU)",
                "price": f"{usd(p['annual_price_usd'][node])} a node-year",
                "all figures": f"ships {p['available_from'][node]}, {fnum(p['max_kw'][node], 1)} kW, "
                               f"{usd(p['annual_price_usd'][node])} a year"}[p["figure"]]
        points.append({"figure": p["figure"], "point": p["point"], "what": what,
                       "totals": [usd(p["totals"][k]) if p["totals"].get(k) is not None else
                                  ("no plan" if k in p["totals"] else "–") for k in keys],
                       "winner": p.get("winner_label") or "–", "cls": STRATEGY_COLOURS.get(p.get("winner") or "", "")})
    grid = []
    for row in sens["grid"]:
        w = row[0]["tdp_w"]
        grid.append({"label": f"{w:,.0f} W" if w is not None else "nominal power",
                     "kw": fnum(next(iter(row[0]["max_kw"].values())), 1),
                     "cells": [{"text": c.get("winner_label") or "no plan", "cls": STRATEGY_COLOURS.get(c.get("winner") or "", ""),
                                "title": "; ".join(f"{labels.get(k, k)} {usd(v)}" for k, v in c["totals"].items())}
                               for c in row]})
    rng = []
    for node, r in sens["range"].items():
        rng.append(f"{node}: available {' / '.join(x or 'now' for x in r['available'])}, "
                   f"{' / '.join(fnum(x, 1) for x in r['max_kw'])} kW (low / nominal / high)")
    headline = next((f for f in sens["findings"] if f.startswith("Waiting")), sens["findings"][0] if sens["findings"] else "")
    return {"label": sens["label"], "findings": sens["findings"], "headline": headline, "strategy_labels": [labels.get(k, k) for k in keys],
            "points": points, "dates": sens["dates"], "grid": grid, "range": rng,
            "legend": [{"label": labels[k], "swatch": swatch(STRATEGY_COLOURS[k])} for k in keys if k in labels]}


def waves_view(doc: dict[str, Any], fac: Facility) -> dict[str, Any]:
    hybrid = next(s for s in doc["strategies"] if s["key"] == "hybrid")
    waves = hybrid.get("waves") or []
    positions = len(fac.racks)
    drawn = range(len(waves)) if positions * max(1, len(waves)) <= MAX_FLOOR_TILES else \
        ([len(waves) - 1] if positions <= MAX_FLOOR_TILES else [])
    out = []
    for v, w in enumerate(waves):
        out.append({"name": w["name"], "date": w["date"], "retire": w.get("retire"),
                    "added": nodes_text(w["nodes_added"]) or "–", "installed": nodes_text(w["nodes_installed"]),
                    "gpus_added": fint(w["gpus_added"]), "gpus": fint(w["gpus_installed"]),
                    "racks_added": fint(w["racks_added"]), "racks": fint(w["racks_used"]),
                    "mw": fnum(w["it_kw"] / 1000.0, 2), "annual": usd(w["annual_usd"]),
                    "stranded_power": _kw(w["stranded"]["rack_power_kw"]),
                    "stranded_cooling": _kw(w["stranded"]["rack_cooling_kw"]),
                    "hall_cooling": _kw(w["stranded"]["hall_cooling_kw"]),
                    "binding": w.get("binding") or "–", "check": w["check"]["summary"],
                    "csv": w.get("csv_file"), "plan": w.get("plan_file"),
                    "floors": floor_layouts(fac, hybrid, v) if v in drawn else None})
    legend = [{"label": f"filled at {w['name']} ({w['date']})", "swatch": swatch(WAVE_CLASSES[v % len(WAVE_CLASSES)])}
              for v, w in enumerate(waves)]
    legend += [{"label": "existing load only", "swatch": swatch("x")}, {"label": "empty", "swatch": swatch("e")}]
    return {"waves": out, "legend": legend, "floors_left_out": len(drawn) < len(waves)}


def lead(doc: dict[str, Any]) -> str:
    best = doc["best"]
    if not best.get("key"):
        return "No strategy meets every wave."
    by = {s["key"]: s for s in doc["strategies"]}
    b = by[best["key"]]
    text = f"Best: {best['label']}, {usd(b['total_usd'])} discounted to {doc['inputs']['today']}"
    if b.get("delay_usd"):
        text += f" (TCO {usd(b['pv_usd'])} + cost of delay {usd(b['delay_usd'])})"
    if best.get("runner_up"):
        text += f", {usd(best['margin_usd'])} less than {by[best['runner_up']]['label']}"
    return text + "."


def ahead_text(doc: dict[str, Any]) -> str:
    a = doc["planning_ahead"]
    if "wave_by_wave_pv_usd" not in a:
        return ""
    if a.get("stopped"):
        return (f"Wave by wave, {a['stopped']}: planning the waves together is what makes them fit "
                f"(together: {usd(a['joint_pv_usd'])}).")
    saves = a.get("saves_usd") or 0.0
    if saves > 0.5:
        return (f"Planned together the waves cost {usd(a['joint_pv_usd'])}; planned wave by wave, each at its least "
                f"cost when it comes, {usd(a['wave_by_wave_pv_usd'])}: planning ahead saves {usd(saves)}.")
    return (f"Planned together or wave by wave, the waves cost the same ({usd(a['joint_pv_usd'])}): here the "
            "cheapest racks for each wave do not stand in a later wave's way.")


def render_phases(doc: dict[str, Any], fac: Facility) -> str:
    inputs = doc["inputs"]
    waves_text = "; ".join(f"{w['name']} {w['date']}: {demand_text(w['demand']).replace(', least annual cost', '')}"
                           for w in inputs["waves"])
    money = [("Today (costs discounted to)", inputs["today"]), ("Horizon", inputs["horizon"]),
             ("Discount rate", f"{inputs['discount_rate']:.1%} a year, month by month"),
             ("Value of a GPU-hour not delivered", usd(inputs["value_per_gpu_hour_usd"]) if inputs.get("value_per_gpu_hour_usd") is not None
              else "not given: delay is not priced"),
             ("Node prices", f"basis {inputs['basis']}; purchases recovered over {fnum(inputs['years'], 0)} years"),
             ("Spec point", inputs["point"]), ("Solver", f"{inputs['solver']}, gap tolerance {inputs['gap_tolerance']:g}")]
    prices = [{"node": p["node"], "status": p["status"], "available": p["available_from"] or "now",
               "kw": fnum(p["max_kw"], 1), "basis": p["basis"], "rent": usd(p["rent_usd_month"]),
               "price": usd(p["price_usd"]), "annual": usd(p["annual_price_usd"]),
               "per_gpu_hour": f"${p['usd_per_gpu_hour']:,.2f}" if p.get("usd_per_gpu_hour") is not None else "–"}
              for p in doc["prices"]]
    return _render("phases.html.j2", kind="phases", kicker="phased deployment",
                   title=f"Buy now or wait: {doc['facility']['name']}", tool=doc["tool"], facility=doc["facility"],
                   demand=waves_text, schema=doc["schema"], made_at=doc.get("made_at"), lead=lead(doc),
                   ahead=ahead_text(doc), strategies=strategies_view(doc), timeline=timeline_view(doc),
                   totals=totals_chart(doc),
                   sensitivity=sensitivity_view(doc.get("sensitivity"), doc), waves=waves_view(doc, fac),
                   money=money, prices=prices, solves=doc.get("solves") or {}, usd_short=usd_short,
                   rack_number=rack_number)
