"""The self-contained HTML report of a plan (``plan.json``) or a comparison (``compare.json``).

The report renders from the JSON document alone: no facility file, no spec library. This module
turns the document into view data (plain dicts and lists of already formatted strings, plus the SVG
drawings from :mod:`planner.report.drawing`) and renders the Jinja2 templates of ``planner.templates``
with autoescaping on, so any name in a facility or spec file shows as text. The stylesheet is
inlined; the output uses no JavaScript and loads nothing (links to sources are plain text links).

Scale: a campus plan may hold tens of thousands of used racks. The floor layout draws every rack
position (one bare tile each); rack elevations are drawn for at most :data:`MAX_ELEVATIONS` racks
(one per distinct fill in each row, the most loaded first) and the per-rack table lists at most
:data:`MAX_TABLE_ROWS` racks (the most loaded), each with a note saying what was left out.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from planner.report.format import (binding_util, fig, fint, fnum, limit_label, nodes_text, pct,
                                    rack_number, usd)
from planner.report.drawing import (UTIL_BINS, Block, FloorLayout, FloorRow, PowerTreeDrawing, RackElevation,
                                     StackedBar, TreeElement, TreeRow, swatch, util_class)

MAX_ELEVATIONS = 200
"""Most rack elevations drawn in one report."""
MAX_TABLE_ROWS = 500
"""Most racks listed in the per-rack tables of one report (all halls together)."""
MAX_EXISTING_ROWS = 200
"""Most existing-only racks listed (all halls together)."""
MAX_TILE_TITLES = 4000
"""Floor tiles get a hover title (rack id, load) only when the plan has at most this many racks
with load; past that the titles would dominate the file size."""

COST_PARTS = (("energy", "Energy"), ("cooling", "Cooling overhead"), ("racks", "Racks"), ("nodes", "Nodes"))
CANDIDATE_COLOURS = ("c0", "c2", "c4", "c3", "c5", "c1")
"""Okabe-Ito colours per candidate, the most distinct first."""


# ------------------------------------------------------------------------------------------------
# templates


def _load_template(name: str) -> str:
    return resources.files("planner.templates").joinpath(name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """Templates from the ``planner.templates`` package, autoescaped."""
    env = jinja2.Environment(loader=jinja2.FunctionLoader(_load_template), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(fnum=fnum, fint=fint, usd=usd, pct=pct, fig=fig, plural=plural)
    return env


def plural(n: Any, word: str, many: str | None = None) -> str:
    """``1 rack``, ``24 racks``, ``1,024 racks``: a count (a number or an already formatted one) with its
    noun in the right number."""
    try:
        k = int(round(float(str(n).replace(",", ""))))
    except ValueError:
        return f"{n} {many or word + 's'}"
    return f"{k:,} {word if k == 1 else (many or word + 's')}"


@functools.lru_cache(maxsize=1)
def stylesheet() -> str:
    return _load_template("report.css")


def prepare_template(template: str) -> None:
    """Load and compile ``template`` (and the stylesheet) now, so that rendering it later costs only the
    rendering (``plan_and_write`` does this while the check runs in its second process)."""
    environment().get_template(template)
    stylesheet()


def _render(template: str, **view: Any) -> str:
    return environment().get_template(template).render(css=stylesheet(), **view)


# ------------------------------------------------------------------------------------------------
# shared pieces


def assumptions_view(assumptions: list[dict[str, Any]]) -> dict[str, Any]:
    """Spec figures grouped by node, with their sources numbered once for the whole report."""
    sources: dict[str, dict[str, Any]] = {}
    by_node: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in assumptions:
        refs = []
        for s in a.get("sources") or []:
            sid = s.get("id") or s.get("url") or s.get("title") or "?"
            if sid not in sources:
                url = str(s.get("url") or "")
                sources[sid] = {"n": len(sources) + 1, "id": sid, "title": s.get("title") or sid,
                                "url": url, "href": url if url.startswith(("https://", "http://")) else None,
                                "kind": s.get("kind") or ""}
            refs.append(sources[sid]["n"])
        has_range = a.get("low") is not None or a.get("high") is not None
        by_node[a.get("node", "?")].append({
            "figure": a.get("figure", ""), "value": fig(a.get("value")), "status": a.get("status") or "",
            "confidence": a.get("confidence") or "", "point": a.get("point") or "",
            "range": f"{fig(a.get('low'))} – {fig(a.get('nominal'))} – {fig(a.get('high'))}" if has_range else "",
            "basis": a.get("basis") or "", "note": a.get("note") or "", "refs": refs,
        })
    return {"nodes": [{"node": k, "figures": v} for k, v in by_node.items()], "sources": list(sources.values())}


def site_view(site: dict[str, Any], ppue: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    def redundancy(v: Any) -> str:
        what = {"2N": "A and B feed paths, each alone carries the rack", "N": "the rack's feeds share its load"}
        return f"{v} (" + what.get(str(v), "any all but k of the rack's feed paths carry it") + "; rack types may differ)"

    labels = {"electricity_usd_per_kwh": ("Electricity", lambda v: f"${float(v):.4f} per kWh"),
              "carbon_kg_per_kwh": ("Grid carbon", lambda v: f"{fig(v)} kg CO₂ per kWh"),
              "power_redundancy": ("Power redundancy", redundancy),
              "derate": ("Breaker derate", lambda v: f"{fig(v)} (continuous load)"),
              "power_factor": ("Power factor", fig),
              "load_factor": ("Load factor", lambda v: f"{fig(v)} (average draw / maximum, energy only)")}
    for key, value in site.items():
        if value is None:
            continue
        label, f = labels.get(key, (key.replace("_", " ").capitalize(), fig))
        out.append((label, f(value)))
    if ppue:
        out.append(("pPUE by cooling path", ", ".join(f"{k} {fig(v)}" for k, v in ppue.items())))
    return out


def demand_text(demand: dict[str, Any]) -> str:
    kind = demand.get("kind")
    if kind == "nodes":
        return "place exactly " + nodes_text(demand.get("nodes", {}))
    if kind == "target":
        units = {"gpus": "GPUs", "fp8_pflops": "FP8 PFLOPS", "hbm_tb": "TB of HBM"}
        target = ", ".join(f"{fnum(v, 0 if float(v).is_integer() else 1)} {units.get(k, k.replace('_', ' '))}"
                           for k, v in (demand.get("target") or {}).items())
        cands = demand.get("candidates")
        return f"at least {target}" + (f" from {', '.join(cands)}" if cands else "") + ", least annual cost"
    if kind == "fill":
        return f"as many {demand.get('fill')} as fit" if demand.get("fill") else "as many as fit"
    return str(demand) if demand else "–"


# ------------------------------------------------------------------------------------------------
# plan


def _floor_rows(plan: dict[str, Any], hall: str, used: dict[tuple[str, str], list[dict]],
                existing: dict[tuple[str, str], list[dict]], titles: bool,
                util: Callable[[dict], float] = binding_util) -> list[FloorRow]:
    rows = []
    for row in plan.get("rows", []):
        if row["hall"] != hall:
            continue
        key = (hall, row["row"])
        tiles = ["e"] * int(row["racks"])
        tip: dict[int, str] = {}
        for r in existing.get(key, []):
            i = rack_number(r["id"]) - 1
            if 0 <= i < len(tiles):
                tiles[i] = "x"
                if titles:
                    tip[i] = f"{r['id']}: existing load only, {fnum(r.get('kw'))} kW, {r.get('u', 0)}U"
        for r in used.get(key, []):
            i = rack_number(r["id"]) - 1
            if 0 <= i < len(tiles):
                b = util(r)
                tiles[i] = util_class(b)
                if titles:
                    tip[i] = (f"{r['id']}: {nodes_text(r.get('nodes', {}))}; {fnum(r.get('it_kw'))} kW; "
                              f"{limit_label(r.get('binding'))} {pct(b)}")
        cooling = f" / {fnum(row['cooling_kw'], 0)} kW" if row.get("cooling_kw") else " kW"
        note = f"{row.get('racks_used', 0)}/{row['racks']} used · {fnum(row.get('heat_kw'), 0)}{cooling}"
        rows.append(FloorRow(row["row"], tiles, tip, note))
    return rows


def _fill(rack: dict[str, Any]) -> tuple:
    """What a rack holds: its node counts and existing units."""
    return tuple(sorted(rack.get("nodes", {}).items())), int((rack.get("existing") or {}).get("u", 0))


def _pick_elevations(racks: list[dict[str, Any]], cap: int,
                     util: Callable[[dict], float] = binding_util) -> tuple[list[tuple[dict, int]], bool]:
    """Racks to draw: all when they fit under ``cap``. Otherwise the racks are grouped by fill
    within each row and the most loaded rack of a group stands for it; the ``cap`` drawings are
    shared among the halls, and within a hall taken in turn from each distinct fill (so every kind
    of rack is seen before a second row's copy of it), the most loaded first.
    Returns ([(rack, racks in its row with the same fill)], summarised?) in plan order."""
    if len(racks) <= cap:
        return [(r, 1) for r in racks], False
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in racks:
        groups[(r["hall"], r["row"], _fill(r))].append(r)
    by_hall: dict[str, dict[tuple, list[tuple[dict, int]]]] = defaultdict(lambda: defaultdict(list))
    for (hall, _, fill), members in groups.items():
        by_hall[hall][fill].append((max(members, key=util), len(members)))
    share = _share(cap, {h: sum(len(v) for v in fills.values()) for h, fills in by_hall.items()})
    keep: dict[int, int] = {}
    for hall, fills in by_hall.items():
        queues = [sorted(v, key=lambda p: -util(p[0])) for v in fills.values()]
        queues.sort(key=lambda q: -util(q[0][0]))
        taken, depth = 0, 0
        while taken < share.get(hall, 0):
            for q in queues:
                if depth < len(q) and taken < share[hall]:
                    keep[id(q[depth][0])] = q[depth][1]
                    taken += 1
            depth += 1
    return [(r, keep[id(r)]) for r in racks if id(r) in keep], True


def _elevation(rack: dict[str, Any], plan: dict[str, Any], uid: str) -> Any:
    node_types = plan.get("node_types", {})
    rt = plan.get("rack_types", {}).get(rack["rack_type"], {})
    order = sorted(rack.get("nodes", {}).items(),
                   key=lambda kv: (-float(node_types.get(kv[0], {}).get("weight_kg", 0)), kv[0]))
    nodes = [(nid, int(n), int(node_types.get(nid, {}).get("u", 1)),
              f"{fnum(node_types.get(nid, {}).get('max_kw'))} kW") for nid, n in order]
    ex = rack.get("existing") or {}
    ex_u = int(ex.get("u", 0))
    ex_label = f"existing {fnum(ex.get('kw'))} kW · {ex_u}U" if ex_u else ""
    u_total = int(rt.get("u", 0)) or max(int(rack.get("u_used", 0)), 1)
    caption = f"{rack['rack_type']} · {fnum(rack.get('it_kw'))} kW · {rack.get('u_used', 0)}/{u_total}U"
    palette = {nid: f"n{i % 4}" for i, nid in enumerate(node_types)}
    placed = None
    if rack.get("positions"):
        from planner import physics

        ov_u = int((rack.get("overhead") or {}).get("u", 0))
        placed = [Block("node", int(p["u"]), int(node_types.get(p["node"], {}).get("u", 1)), p["node"], p["node"],
                        f"{fnum(node_types.get(p['node'], {}).get('max_kw'))} kW") for p in rack["positions"]]
        parts = [(int(x["u"]), x.get("position")) for x in ex.get("parts") or []] or \
            ([(ex_u, ex.get("position"))] if ex_u else [])
        taken = physics.rack_taken_units(u_total, ov_u, parts)
        if ov_u:
            placed.append(Block("overhead", u_total - ov_u + 1, ov_u, f"overhead {ov_u}U"))
        for low, high in taken[1 if ov_u else 0:]:
            placed.append(Block("existing", low, high - low + 1, ex_label))
    return RackElevation(rack["id"], u_total, nodes, ex_u, ex_label, caption, uid, palette, placed).render()


def _rack_row(rack: dict[str, Any], plan: dict[str, Any], alive: dict[tuple[str, str], int],
              show_nodes_usd: bool) -> dict[str, Any]:
    rt = plan.get("rack_types", {}).get(rack["rack_type"], {})
    it = float(rack.get("it_kw", 0.0))
    paths = int(rt.get("paths") or 1)
    left = alive.get((rack["hall"], rack["row"]), paths)
    util = rack.get("utilization") or {}
    cost = rack.get("annual_usd") or {}
    total = sum(float(cost.get(k, 0.0)) for k in ("energy", "cooling", "rack", "nodes"))
    b = rack.get("binding")
    liquid_cap = float(rt.get("liquid_kw") or 0.0)

    def hot(limit: str) -> bool:
        return float(util.get(limit) or 0.0) >= 0.95

    return {
        "id": rack["id"], "type": rack["rack_type"], "nodes": nodes_text(rack.get("nodes", {})),
        "existing": fnum((rack.get("existing") or {}).get("kw")) if rack.get("existing") else "",
        "overhead": fnum((rack.get("overhead") or {}).get("kw")) if rack.get("overhead") else "",
        "it_kw": fnum(it),
        "side_normal": fnum(it / paths),
        "side_failover": fnum(it / left) if left < paths else "–",
        "side_cap": fnum(rt.get("path_kw", rt.get("power_kw"))), "power_pct": pct(util.get("power")),
        "power_hot": hot("power"),
        "air": f"{fnum(rack.get('air_heat_kw'))} / {fnum(rt.get('air_kw'), 0)}", "air_hot": hot("air"),
        "liquid": f"{fnum(rack.get('liquid_heat_kw'))} / {fnum(liquid_cap, 0)}" if liquid_cap else "–",
        "liquid_hot": hot("liquid"),
        "u": f"{rack.get('u_used', 0)} / {rt.get('u', '?')}", "u_hot": hot("u"),
        "weight": f"{fnum(rack.get('weight_kg'), 0)} / {fnum(rt.get('max_weight_kg'), 0)}", "weight_hot": hot("weight"),
        "binding": f"{limit_label(b)} {pct(util.get(b)) if b in util else ''}".strip(),
        "energy": usd(cost.get("energy")), "cooling": usd(cost.get("cooling")), "rack": usd(cost.get("rack")),
        "nodes_usd": usd(cost.get("nodes")) if show_nodes_usd else None, "total": usd(total),
    }


MAX_TREE_PANELS = 80
"""Most panels drawn in the power-tree picture; beyond that the tables carry it."""


def power_view(plan: dict[str, Any]) -> dict[str, Any] | None:
    """The power tree: its picture, each element's loads, and each single failure's impact."""
    power = plan.get("power")
    if not power:
        return None
    elements = power.get("elements") or []
    sources = [TreeElement(e["name"], float(e["kw"]), float(e["normal_kw"]), float(e["worst_kw"]),
                           e.get("worst_failure")) for e in elements if e.get("kind") == "source"]
    panels = [TreeElement(e["name"], float(e["kw"]), float(e["normal_kw"]), float(e["worst_kw"]),
                          e.get("worst_failure"), e.get("source")) for e in elements if e.get("kind") == "panel"]
    rows = [TreeRow(f"{r['hall']}/{r['row']}", tuple(r.get("panels") or []), float(r.get("heat_kw") or 0.0))
            for r in plan.get("rows") or [] if r.get("panels")]
    drawn = len(panels) <= MAX_TREE_PANELS
    table = [{"name": e["name"], "kind": e["kind"], "source": e.get("source") or "", "kw": fnum(e["kw"], 0),
              "normal": fnum(e["normal_kw"]), "worst": fnum(e["worst_kw"]), "failure": e.get("worst_failure") or "–",
              "util": pct(e.get("utilization"), 1), "hot": float(e.get("utilization") or 0) >= 0.95,
              "headroom": fnum(float(e["kw"]) - float(e["worst_kw"]))} for e in elements]
    failures = [{"failure": f["failure"], "kind": f.get("kind", ""), "top": f.get("most_loaded") or "–",
                 "load": fnum(f.get("load_kw")), "rating": fnum(f.get("rating_kw"), 0),
                 "util": pct(float(f["load_kw"]) / float(f["rating_kw"]), 1) if f.get("rating_kw") else "–",
                 "hot": bool(f.get("rating_kw")) and float(f["load_kw"]) >= 0.95 * float(f["rating_kw"]),
                 "dropped": fnum(f.get("dropped_kw")) if f.get("dropped_kw") else "",
                 "dropped_racks": fint(f.get("dropped_racks")) if f.get("dropped_kw") else ""}
                for f in power.get("failures") or []]
    return {"svg": PowerTreeDrawing(sources, panels, rows).render() if drawn else None,
            "panels": len(panels), "max_panels": MAX_TREE_PANELS, "table": table, "failures": failures,
            "dropped": power.get("dropped") or []}


def _share(budget: int, sizes: dict[str, int]) -> dict[str, int]:
    """Split ``budget`` rows among halls of the given sizes, evenly, passing on what a hall can't use."""
    out = {k: 0 for k in sizes}
    left = dict(sizes)
    remaining = budget
    while remaining > 0 and any(left.values()):
        open_ = [k for k, v in left.items() if v > 0]
        each = max(1, remaining // len(open_))
        for k in open_:
            take = min(each, left[k], remaining)
            out[k] += take
            left[k] -= take
            remaining -= take
            if remaining <= 0:
                break
    return out


def _summary_view(plan: dict[str, Any]) -> dict[str, Any]:
    """The summary: cards, the solver's line, what binds, the baseline, the nodes placed."""
    totals, solver = plan.get("totals", {}), plan.get("solver", {})
    cost, binding = totals.get("annual_usd", {}), plan.get("binding") or {}
    n_nodes = sum(int(v) for v in (totals.get("nodes") or {}).values())
    cards = [
        ("Nodes", fint(n_nodes), nodes_text(totals.get("nodes") or {})),
        ("GPUs", fint(totals.get("gpus")), ""),
        ("Racks used", fint(totals.get("racks_used")), f"{fint(totals.get('racks_new'))} newly occupied"),
        ("IT load", f"{fnum(totals.get('it_kw'), 0)} kW", "design (maximum) draw of planned nodes"),
        ("Facility load", f"{fnum(totals.get('facility_kw'), 0)} kW", "IT plus cooling overhead"),
        ("FP8 compute", f"{fnum(totals.get('fp8_pflops'), 0)} PFLOPS", "dense"),
        ("HBM", f"{fnum(totals.get('hbm_tb'), 1)} TB", ""),
        ("Annual cost", usd(cost.get("total")), f"{usd(totals.get('usd_per_pflops_year'))} per PFLOPS-year"),
    ]
    gap = solver.get("gap")
    solver_line = (f"{solver.get('name', '?')}: {solver.get('status', '?')}"
                   + (f", gap {pct(gap, 4)}" if gap is not None else "")
                   + (f", {fnum(solver.get('seconds'), 1)} s" if solver.get("seconds") is not None else "")
                   + (f" ({METHOD_WORDS.get(solver['method'], solver['method'])})"
                      if solver.get("method") not in (None, "branch and bound") else ""))
    by_limit = binding.get("racks_by_limit") or {}
    details = ["the most used limit of each rack: "
               + ", ".join(f"{limit_label(k)} in {plural(v, 'rack')}" for k, v in by_limit.items())] if by_limit else []
    for key, what in (("halls_full", "hall cooling full in"), ("rows_full", "row cooling full in"),
                      ("sources_full", "power sources full after their worst single failure:"),
                      ("panels_full", "panels full after their worst single failure:"),
                      ("cdus_full", "CDU groups full:"), ("halls_it_full", "hall IT capacity full in")):
        if binding.get(key):
            details.append(f"{what} " + ", ".join(binding[key]))
    if binding.get("plant_full"):
        details.append("the heat rejection plant is full")
    node_rows = []
    for nid, t in plan.get("node_types", {}).items():
        count = int((totals.get("nodes") or {}).get(nid, 0))
        node_rows.append({"id": nid, "name": t.get("name", ""), "count": fint(count),
                          "gpus": fint(count * int(t.get("gpus", 0))), "per": t.get("gpus"),
                          "u": t.get("u"), "max_kw": fnum(t.get("max_kw"), 2),
                          "liquid": pct(t.get("liquid_fraction")), "weight": fnum(t.get("weight_kg")),
                          "tdp": fint(t.get("tdp_w")), "status": t.get("status", ""), "point": t.get("point", "")})
    return {"cards": cards, "solver_line": solver_line, "solver": solver,
            "binding": limit_label(binding.get("limit")), "binding_detail": "; ".join(d for d in details if d),
            "baseline": _baseline_text(plan.get("baseline") or {}, cost), "node_rows": node_rows}


def _price_text(entry: dict[str, Any]) -> str:
    """A recorded node price in words, from its figures (which the checker verifies), not from the
    plan's own ``text``."""
    from planner.studies.tco import PriceChoice

    try:
        return PriceChoice.from_json(entry).describe()
    except (KeyError, TypeError, ValueError):
        return "recorded in the plan but not readable"


def _cost_view(plan: dict[str, Any]) -> dict[str, Any]:
    """Annual cost by kind, its bar, and the energy, carbon and power figures beside it."""
    totals = plan.get("totals", {})
    cost = totals.get("annual_usd", {})
    total_usd = float(cost.get("total") or 0.0)
    cost_rows = [{"label": label, "usd": usd(cost.get(key) or 0.0),
                  "share": pct(float(cost.get(key) or 0.0) / total_usd if total_usd else 0.0, 1)}
                 for key, label in COST_PARTS]
    cost_bar = StackedBar("Annual cost by kind", [(label, float(cost.get(k) or 0.0), usd(cost.get(k)))
                                                  for k, label in COST_PARTS]).render()
    energy_rows = [("Energy a year", f"{fint(totals.get('annual_kwh'))} kWh"),
                   ("Cooling energy a year", f"{fint(totals.get('cooling_kwh'))} kWh")
                   if totals.get("cooling_kwh") is not None else None,
                   ("Carbon a year", f"{fnum(totals.get('carbon_t'), 0)} t CO₂")
                   if totals.get("carbon_t") is not None else None,
                   ("Rack overhead (switches, PDUs, in-rack CDUs)", f"{fnum(totals.get('overhead_kw'), 1)} kW")
                   if totals.get("overhead_kw") else None,
                   ("Power provisioned to used racks", f"{fnum(totals.get('provisioned_kw'), 0)} kW"),
                   ("Stranded power in used racks", f"{fnum(totals.get('stranded_kw'), 0)} kW"
                    " (what the racks could still carry after the losses they must survive)")]
    prices = plan.get("prices") or {}
    price_lines = [f"Node price, {nid}: {_price_text(p)}." for nid, p in (prices.get("nodes") or {}).items()
                   if isinstance(p, dict)]
    if prices.get("note"):
        price_lines.append(prices["note"][0].upper() + prices["note"][1:] + ".")
    return {"cost_rows": cost_rows, "cost_total": usd(cost.get("total")), "cost_bar": cost_bar,
            "usd_per_pflops": usd(totals.get("usd_per_pflops_year")), "energy_rows": [r for r in energy_rows if r],
            "price_lines": price_lines}


def _failure_view(f: dict[str, Any] | None) -> dict[str, Any] | None:
    """A hall's cooling with units lost one by one."""
    if not f:
        return None
    return {"heat": fnum(f.get("heat_kw")), "redundant": f.get("redundant"), "survives": f.get("survives_units_lost"),
            "steps": [{"lost": s.get("units_lost"), "capacity": fnum(s.get("capacity_kw")), "ok": bool(s.get("ok")),
                       "margin": fnum(float(s.get("capacity_kw", 0)) - float(f.get("heat_kw", 0)))}
                      for s in f.get("steps", [])]}


def _hall_views(plan: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per hall: floor layout, row cooling, cooling with units lost, elevations and rack tables (capped
    for campuses); and what the caps left out."""
    racks, existing_racks = plan.get("racks", []), plan.get("existing_racks", [])
    halls = plan.get("halls", [])
    used_by_row: dict[tuple[str, str], list[dict]] = defaultdict(list)
    used_by_hall: dict[str, list[dict]] = defaultdict(list)
    for r in racks:
        used_by_row[(r["hall"], r["row"])].append(r)
        used_by_hall[r["hall"]].append(r)
    ex_by_row: dict[tuple[str, str], list[dict]] = defaultdict(list)
    ex_by_hall: dict[str, list[dict]] = defaultdict(list)
    for r in existing_racks:
        ex_by_row[(r["hall"], r["row"])].append(r)
        ex_by_hall[r["hall"]].append(r)
    titles = len(racks) + len(existing_racks) <= MAX_TILE_TITLES
    show_nodes_usd = any(float((r.get("annual_usd") or {}).get("nodes") or 0) for r in racks)
    most = {id(r): binding_util(r) for r in racks}  # each rack's binding utilization, worked out once

    def util(rack: dict[str, Any]) -> float:
        return most[id(rack)]

    picked, summarised = _pick_elevations(racks, MAX_ELEVATIONS, util)
    elev_by_hall: dict[str, list[tuple[dict, int]]] = defaultdict(list)
    for r, n in picked:
        elev_by_hall[r["hall"]].append((r, n))
    table_share = _share(MAX_TABLE_ROWS, {h["name"]: len(used_by_hall.get(h["name"], [])) for h in halls})
    ex_share = _share(MAX_EXISTING_ROWS, {h["name"]: len(ex_by_hall.get(h["name"], [])) for h in halls})
    alive = {(r["hall"], r["row"]): int(r.get("surviving_paths") or 1) for r in plan.get("rows", [])}
    views, uid = [], 0
    for h in halls:
        name = h["name"]
        hall_racks = used_by_hall.get(name, [])
        layout = FloorLayout(name, _floor_rows(plan, name, used_by_row, ex_by_row, titles, util))
        row_table = [{"row": row["row"], "type": row["rack_type"], "racks": fint(row["racks"]),
                      "used": fint(row.get("racks_used")), "planned": fnum(row.get("planned_kw")),
                      "existing": fnum(row.get("existing_kw")), "heat": fnum(row.get("heat_kw")),
                      "cooling": fnum(row.get("cooling_kw")) if row.get("cooling_kw") else "hall",
                      "util": pct(row.get("utilization"), 1) if row.get("utilization") is not None else "–",
                      "hot": (row.get("utilization") or 0) > 0.98}
                     for row in plan.get("rows", []) if row["hall"] == name]
        elevations = []
        for r, n in elev_by_hall.get(name, []):
            uid += 1
            elevations.append({"id": r["id"], "svg": _elevation(r, plan, f"e{uid}"), "same": n,
                               "nodes": nodes_text(r.get("nodes", {})), "binding": limit_label(r.get("binding")),
                               "util": pct(util(r))})
        k = table_share.get(name, 0)
        table_racks = hall_racks
        if k < len(hall_racks):
            chosen = {id(r) for r in sorted(hall_racks, key=lambda r: -util(r))[:k]}
            table_racks = [r for r in hall_racks if id(r) in chosen]
        ex_list = ex_by_hall.get(name, [])
        ex_rows = [{"id": r["id"], "type": r["rack_type"], "kw": fnum(r.get("kw")), "u": r.get("u"),
                    "weight": fnum(r.get("weight_kg"), 0)} for r in ex_list[: ex_share.get(name, 0)]]
        views.append({
            "name": name, "racks": fint(h.get("racks")), "racks_used": fint(h.get("racks_used")),
            "heat": fnum(h.get("cooled_kw", h.get("heat_kw"))), "cools": h.get("cools", "all"),
            "all_heat": fnum(h.get("heat_kw")), "existing": fnum(h.get("existing_kw")),
            "it_limit": fnum(h.get("it_kw_limit"), 0) if h.get("it_kw_limit") else "",
            "it_util": pct(h.get("it_utilization"), 1) if h.get("it_utilization") is not None else "",
            "usable": fnum(h.get("usable_kw")), "installed": fnum(h.get("installed_kw")),
            "units": h.get("units"), "unit_kw": fnum(h.get("unit_kw"), 0), "redundant": h.get("redundant"),
            "util": pct(h.get("utilization"), 1), "hot": (h.get("utilization") or 0) > 0.98,
            "floor": Markup("").join(layout.render_parts()),
            "floor_numbers": "every" if layout.number_every == 1 else ("used" if layout.number_used else "fifth"),
            "collapsed": not hall_racks, "existing_count": len(ex_list),
            "rows": row_table, "failure": None,
            "elevations": elevations, "elev_total": len(hall_racks),
            "table": [_rack_row(r, plan, alive, show_nodes_usd) for r in table_racks],
            "table_total": len(hall_racks), "existing_rows": ex_rows, "existing_total": len(ex_list),
        })
    caps = {"titles": titles, "summarised": summarised, "elev_drawn": len(picked), "racks_used": len(racks),
            "max_elevations": MAX_ELEVATIONS, "table_shown": sum(len(h["table"]) for h in views),
            "existing_shown": sum(len(h["existing_rows"]) for h in views)}
    return views, caps


def _distribution_view(plan: dict[str, Any]) -> dict[str, Any]:
    """The power tree, CDU groups and the plant."""
    cdus = [{"hall": g["hall"], "name": g["name"], "rows": ", ".join(g.get("rows") or []),
             "liquid": fnum(g.get("liquid_kw")), "usable": fnum(g.get("usable_kw")),
             "units": f"{g.get('units')} × {fnum(g.get('unit_kw'), 0)} kW, N+{g.get('redundant')}",
             "util": pct(float(g["liquid_kw"]) / float(g["usable_kw"]), 1) if g.get("usable_kw") else "–",
             "hot": bool(g.get("usable_kw")) and float(g["liquid_kw"]) >= 0.98 * float(g["usable_kw"])}
            for g in plan.get("cdus") or []]
    plant, plant_view = plan.get("plant"), None
    if plant:
        plant_view = {"heat": fnum(plant.get("heat_kw")), "usable": fnum(plant.get("usable_kw")),
                      "units": f"{plant.get('units')} × {fnum(plant.get('unit_kw'), 0)} kW, N+{plant.get('redundant')}",
                      "util": pct(plant.get("utilization"), 1), "hot": float(plant.get("utilization") or 0) >= 0.98}
    return {"power": power_view(plan), "cdus": cdus, "plant": plant_view}


def plan_view(plan: dict[str, Any]) -> dict[str, Any]:
    """Everything the plan template shows, formatted, from the plan document alone."""
    return with_checks(unchecked_plan_view(plan), plan.get("checks") or {})


def unchecked_plan_view(plan: dict[str, Any]) -> dict[str, Any]:
    """Everything the plan template shows except what the independent check found (:func:`with_checks`
    adds that): the report can be prepared while the check runs."""
    fac = plan.get("facility", {})
    halls, caps = _hall_views(plan)
    legend = [(swatch(cls), text) for _, cls, text in UTIL_BINS]
    legend += [(swatch("x"), "existing load only"), (swatch("e"), "empty")]
    return {
        "kind": "plan",
        "title": f"Rack capacity plan: {fac.get('name', 'facility')}",
        "facility": fac, "tool": plan.get("tool") or {}, "schema": plan.get("schema", ""),
        "made_at": plan.get("made_at") or "",
        "demand": demand_text(plan.get("demand") or {}),
        **_summary_view(plan), **_cost_view(plan), **caps, **_distribution_view(plan),
        "halls": halls, "legend": legend,
        "site": site_view(fac.get("site") or {}, fac.get("ppue") or {}),
        "assumptions": assumptions_view(plan.get("assumptions") or []),
        "disputes": plan.get("spec_disputes") or [],
        "solver_rows": _solver_rows(plan.get("solver", {})),
    }


def with_checks(view: dict[str, Any], checks: dict[str, Any]) -> dict[str, Any]:
    """``view`` (from :func:`unchecked_plan_view`) with what the check found: its verdict, each hall's
    cooling with units lost, and the worst feed failover. An empty ``checks`` renders as not run."""
    failures = {f["hall"]: f for f in checks.get("cooling_failures") or []}
    halls = [{**hv, "failure": _failure_view(failures.get(hv["name"]))} for hv in view["halls"]]
    wf, worst = checks.get("worst_failover"), None
    if wf:
        worst = {"rack": wf.get("rack"), "failover": fnum(wf.get("failover_kw")), "side": fnum(wf.get("side_kw")),
                 "share": pct(wf.get("share"), 1), "lost": wf.get("lost") or "one feed side"}
    return {**view, "halls": halls, "worst": worst, "checks": checks_view(checks),
            "failures": [dict(hall=hv["name"], **hv["failure"]) for hv in halls if hv["failure"]]}


def checks_view(checks: dict[str, Any]) -> dict[str, Any]:
    """What the report says of the independent check: passed, failed (with the violations), or not run."""
    return {"passed": checks.get("passed"), "racks": fint(checks.get("racks_checked")),
            "failures": fint(checks.get("failures_simulated", checks.get("feed_sides_simulated"))),
            "summary": checks.get("summary") or "",
            "violations": checks.get("violations") or [], "violation_count": checks.get("violation_count", 0),
            "checked_by": checks.get("checked_by") or ""}


def _baseline_text(baseline: dict[str, Any], cost: dict[str, Any]) -> str:
    """One sentence comparing the plan with the first-fit baseline."""
    if not baseline:
        return ""
    method = baseline.get("method", "baseline")
    b_cost = (baseline.get("annual_usd") or {}).get("total")
    racks = fint(baseline.get("racks_used"))
    if not baseline.get("meets_demand", True):
        placed = nodes_text(baseline.get("nodes") or {}) or "no nodes"
        return (f"The {method} baseline does not meet the demand ({placed} in {plural(racks, 'rack')}, "
                f"{usd(b_cost)} a year).")
    text = f"The {method} baseline uses {plural(racks, 'rack')} at {usd(b_cost)} a year"
    excess = baseline.get("excess_over_plan")
    if excess is None or b_cost is None:
        return text + "."
    saved = float(b_cost) - float(cost.get("total") or 0.0)
    return text + f": this plan saves {usd(saved)} a year ({pct(excess, 1)} of the plan's cost)."


METHOD_WORDS = {"LP rounded and repaired": "proven by the LP relaxation, from a plan rounded from it",
                "MIP on the LP's support": "proven by the LP relaxation, from the best plan in the racks it uses"}
"""How ``plan.json``'s ``solver.method`` reads in a report (its other values read as they are)."""


def _solver_rows(solver: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("Solver", str(solver.get("name", "–"))), ("Status", str(solver.get("status", "–"))),
            ("Gap", pct(solver.get("gap"), 4) + (f" (on the {solver['gap_on']})" if solver.get("gap_on") else "")),
            ("Solve time", f"{fnum(solver.get('seconds'), 2)} s")]
    if solver.get("objective_usd") is not None:
        rows.append(("Objective", usd(solver.get("objective_usd"))
                     + (f" (bound {usd(solver.get('bound_usd'))})" if solver.get("bound_usd") is not None else "")
                     + (f": the {solver['gap_on']}, part of the annual cost above" if solver.get("gap_on") else "")))
    if solver.get("time_limit_s") is not None:
        rows.append(("Time limit", f"{fnum(solver.get('time_limit_s'), 0)} s"))
    if solver.get("gap_tolerance") is not None:
        rows.append(("Gap tolerance", pct(solver.get("gap_tolerance"), 3)))
    if solver.get("point"):
        rows.append(("Spec point", str(solver["point"])))
    if solver.get("tdp_overrides_w"):
        rows.append(("TDP what-ifs", ", ".join(f"{k} {fig(v)} W" for k, v in solver["tdp_overrides_w"].items())))
    return rows


def render_plan(plan: dict[str, Any], view: dict[str, Any] | None = None) -> str:
    """The HTML report of a ``rackplan.plan/1`` document (self-contained, no JavaScript). ``view``: its
    :func:`plan_view`, when the caller has it already."""
    return _render("plan.html.j2", **(view if view is not None else plan_view(plan)))


# ------------------------------------------------------------------------------------------------
# compare: planner.report.compare_views (imported on first use, so that module may import this one)


def __getattr__(name: str):  # noqa: ANN201 - the old names, re-exported lazily
    if name in ("render_compare", "compare_view", "METRICS"):
        from planner.report.compare_views import METRICS, compare_view, render_compare  # noqa: F401

        return {"render_compare": render_compare, "compare_view": compare_view, "METRICS": METRICS}[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
