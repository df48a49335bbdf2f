"""``racks.xlsx``: the plan as a workbook for people who work in spreadsheets.

Built from the ``plan.json`` document alone (so it always agrees with it), one sheet per view:

* ``Summary``: what was planned, for which demand, at what cost, and what binds;
* ``Racks``: one line per used rack, with one column per node type, load against each limit and the
  annual cost;
* ``Rows`` and ``Halls``: heat against cooling, racks used;
* ``Power`` and ``Failures`` (with a power tree): each source and panel normally and after the single
  failure that loads it most, and each single failure's impact;
* ``CDU groups`` (with CDUs): liquid heat against usable capacity;
* ``Bill of materials``: nodes, and racks by rack type (newly occupied or with existing load);
* ``Rack types``: what each rack type offers.

Every column header carries its unit (``IT load (kW)``); the cells hold the plan's numbers and a
number format rounds them for reading (kW to 0.1, USD to the dollar, shares as percentages), so a
sum in Excel adds the plan's own figures. Header rows are frozen and filterable. Written by
XlsxWriter; the workbook's dates are the plan's ``made_at``, so the same plan gives the same file.
"""

from __future__ import annotations

import datetime as _dt
import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Callable

from planner.vocabulary import LIMIT_LABEL

KW = "#,##0.0"
"""kW and kWh-like quantities, to 0.1."""
INT = "#,##0"
USD = "$#,##0"
PCT = "0.0%"
KG = "#,##0"


@dataclass(frozen=True)
class Col:
    """One column: its header (with the unit), how a cell is read from a record, and its format."""

    header: str
    get: Callable[[Any], Any]
    fmt: str | None = None
    width: float | None = None


def _limit(name: str | None) -> str:
    return LIMIT_LABEL.get(name, name) if name else ""


def _nodes_text(nodes: dict[str, int]) -> str:
    return ", ".join(f"{n} x {nid}" for nid, n in nodes.items())


def _f(x: Any) -> float | None:
    """A number, or None for a blank cell."""
    if x is None or isinstance(x, bool):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _r(x: float | None, nd: int = 6) -> float | None:
    """A derived figure without float noise (``686.4``, not ``686.4000000000001``), as plan.json writes them."""
    return None if x is None else round(float(x), nd)


def _made_at(plan: dict[str, Any]) -> _dt.datetime:
    text = str(plan.get("made_at") or "")
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return _dt.datetime(2000, 1, 1)


class _Book:
    """An XlsxWriter workbook with one cached format per number format."""

    def __init__(self, buf: io.BytesIO, plan: dict[str, Any]):
        import xlsxwriter

        self.wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False,
                                            "nan_inf_to_errors": True})
        when = _made_at(plan)
        self.wb.set_properties({"title": f"Rack plan: {(plan.get('facility') or {}).get('name', '')}",
                                "subject": "rackplan plan", "author": "rackplan", "created": when,
                                "comments": "Written by rackplan from plan.json"})
        self.wb.set_calc_mode("auto")
        self.head = self.wb.add_format({"bold": True, "text_wrap": True, "valign": "bottom", "bottom": 1,
                                        "bg_color": "#E9EEF4"})
        self.title = self.wb.add_format({"bold": True, "font_size": 13})
        self.note = self.wb.add_format({"italic": True, "font_color": "#5D6776"})
        self.bold = self.wb.add_format({"bold": True})
        self._formats: dict[str, Any] = {}

    def fmt(self, num_format: str | None) -> Any:
        if num_format is None:
            return None
        if num_format not in self._formats:
            self._formats[num_format] = self.wb.add_format({"num_format": num_format})
        return self._formats[num_format]

    def table(self, name: str, cols: list[Col], records: list[Any], note: str = "",
              freeze_cols: int = 0) -> None:
        """A sheet holding one table: a frozen, filterable header row with units, then one line per record."""
        ws = self.wb.add_worksheet(name)
        ws.set_row(0, 30)
        for c, col in enumerate(cols):
            ws.write_string(0, c, col.header, self.head)
        formats = [self.fmt(col.fmt) for col in cols]
        widths = [max(8.0, min(40.0, len(col.header) * 0.9 + 2)) for col in cols]
        for r, rec in enumerate(records, start=1):
            for c, col in enumerate(cols):
                value = col.get(rec)
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    ws.write_string(r, c, value)
                    widths[c] = max(widths[c], min(60.0, len(value) + 2))
                else:
                    ws.write_number(r, c, float(value), formats[c])
        for c, col in enumerate(cols):
            ws.set_column(c, c, col.width or widths[c])
        ws.freeze_panes(1, freeze_cols)
        if cols:
            ws.autofilter(0, 0, max(len(records), 1), len(cols) - 1)
        if note:
            ws.write_string(len(records) + 2, 0, note, self.note)

    def close(self) -> None:
        self.wb.close()


def racks_xlsx(plan: dict[str, Any]) -> bytes:
    """The workbook of a ``rackplan.plan/1`` document, as the bytes of an ``.xlsx`` file."""
    buf = io.BytesIO()
    book = _Book(buf, plan)
    _summary(book, plan)
    _racks(book, plan)
    _rows(book, plan)
    _halls(book, plan)
    if plan.get("power"):
        _power(book, plan)
        _failures(book, plan)
    if plan.get("cdus"):
        _cdus(book, plan)
    _bill_of_materials(book, plan)
    _rack_types(book, plan)
    book.close()
    return buf.getvalue()


# --- sheets ---------------------------------------------------------------------------------------


def _demand_text(demand: dict[str, Any]) -> str:
    kind = demand.get("kind")
    if kind == "nodes":
        return "place exactly " + _nodes_text(demand.get("nodes") or {})
    if kind == "target":
        target = ", ".join(f"{v:,g} {k}" for k, v in (demand.get("target") or {}).items())
        return f"at least {target} from {', '.join(demand.get('candidates') or [])}, least annual cost"
    if kind == "fill":
        return f"as many {demand.get('fill')} as fit"
    return ""


def _summary(book: _Book, plan: dict[str, Any]) -> None:
    fac = plan.get("facility") or {}
    totals = plan.get("totals") or {}
    usd = totals.get("annual_usd") or {}
    solver = plan.get("solver") or {}
    checks = plan.get("checks") or {}
    binding = plan.get("binding") or {}
    tool = plan.get("tool") or {}
    lines: list[tuple[str, Any, str, str | None]] = [
        ("Facility", fac.get("name", ""), "", None),
        ("Facility file", fac.get("file") or "", "", None),
        ("Facility file SHA-256", fac.get("sha256") or "", "", None),
        ("Demand", _demand_text(plan.get("demand") or {}), "", None),
        ("Made", plan.get("made_at") or "", "UTC", None),
        ("Made by", f"rackplan {tool.get('version', '?')}"
         + (f", spec library {tool['spec_library']}" if tool.get("spec_library") else ""), "", None),
        ("Solver", f"{solver.get('name', '?')}: {solver.get('status', '?')}", "", None),
        ("Solver gap", _f(solver.get("gap")), "of the cost it controls", "0.000%"),
        ("Independent check", checks.get("summary") or "not run", "", None),
        ("Binding limit", binding.get("label") or "", "", None),
    ]
    for nid, n in (totals.get("nodes") or {}).items():
        lines.append((f"Nodes: {nid}", n, "nodes", INT))
    lines += [
        ("GPUs", totals.get("gpus"), "GPUs", INT),
        ("Racks used", totals.get("racks_used"), "racks", INT),
        ("Racks newly occupied", totals.get("racks_new"), "racks", INT),
        ("IT load of planned nodes (design, maximum draw)", totals.get("it_kw"), "kW", KW),
        ("Rack overhead", totals.get("overhead_kw"), "kW", KW),
        ("Facility load (IT plus cooling overhead)", totals.get("facility_kw"), "kW", KW),
        ("Power provisioned to used racks", totals.get("provisioned_kw"), "kW", KW),
        ("Stranded power in used racks", totals.get("stranded_kw"), "kW", KW),
        ("FP8 compute (dense)", totals.get("fp8_pflops"), "PFLOPS", "#,##0.0"),
        ("HBM", totals.get("hbm_tb"), "TB", "#,##0.0"),
        ("Energy a year", totals.get("annual_kwh"), "kWh", INT),
        ("Cooling energy a year", totals.get("cooling_kwh"), "kWh", INT),
        ("Carbon a year", totals.get("carbon_t"), "t CO2", "#,##0.0"),
        ("Annual cost: energy", usd.get("energy"), "USD a year", USD),
        ("Annual cost: cooling", usd.get("cooling"), "USD a year", USD),
        ("Annual cost: racks", usd.get("racks"), "USD a year", USD),
        ("Annual cost: nodes", usd.get("nodes"), "USD a year", USD),
        ("Annual cost: total", usd.get("total"), "USD a year", USD),
        ("Annual cost per FP8 PFLOPS", totals.get("usd_per_pflops_year"), "USD a year", "$#,##0.00"),
    ]
    plant = plan.get("plant")
    if plant:
        lines += [("Heat rejection plant: all heat", plant.get("heat_kw"), "kW", KW),
                  ("Heat rejection plant: usable", plant.get("usable_kw"), "kW", KW),
                  ("Heat rejection plant: utilization", plant.get("utilization"), "share", PCT)]
    ws = book.wb.add_worksheet("Summary")
    for c, head in enumerate(("Figure", "Value", "Unit")):
        ws.write_string(0, c, head, book.head)
    r = 1
    for label, value, unit, fmt in lines:
        if value is None or value == "":
            continue
        ws.write_string(r, 0, label)
        if isinstance(value, str):
            ws.write_string(r, 1, value)
        else:
            ws.write_number(r, 1, float(value), book.fmt(fmt))
        if unit:
            ws.write_string(r, 2, unit)
        r += 1
    ws.write_string(r + 1, 0, "Figures are the plan's (plan.json); the cells hold them unrounded and "
                              "show them rounded. Other sheets: each used rack, row, hall and the bill "
                              "of materials.", book.note)
    ws.set_column(0, 0, 46)
    ws.set_column(1, 1, 30)
    ws.set_column(2, 2, 22)
    ws.freeze_panes(1, 0)


def _rows_by_key(plan: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["hall"], r["row"]): r for r in plan.get("rows") or []}


def rack_records(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat record per used rack: the plan's figures plus the capacities of its rack type and row
    (what the ``Racks`` sheet shows)."""
    rtypes = plan.get("rack_types") or {}
    ntypes = plan.get("node_types") or {}
    rows = _rows_by_key(plan)
    out = []
    for rack in plan.get("racks") or []:
        rt = rtypes.get(rack["rack_type"]) or {}
        row = rows.get((rack["hall"], rack["row"])) or {}
        paths = int(rt.get("paths") or 1)
        alive = int(row.get("surviving_paths") or paths)
        it = float(rack.get("it_kw") or 0.0)
        path_kw = _f(rt.get("path_kw"))
        util = rack.get("utilization") or {}
        cost = rack.get("annual_usd") or {}
        nodes = rack.get("nodes") or {}
        b = rack.get("binding")
        out.append({
            "id": rack["id"], "hall": rack["hall"], "row": rack["row"], "rack_type": rack["rack_type"],
            "cooling": rt.get("cooling") or "", "nodes": nodes,
            "gpus": sum(int(n) * int((ntypes.get(nid) or {}).get("gpus") or 0) for nid, n in nodes.items()),
            "existing_kw": _f((rack.get("existing") or {}).get("kw")),
            "overhead_kw": _f((rack.get("overhead") or {}).get("kw")),
            "it_kw": it,
            "power_cap_kw": _r(path_kw * alive) if path_kw is not None else _f(rt.get("power_kw")),
            "power_util": _f(util.get("power")),
            "paths": paths,
            "path_normal_kw": _r(it / paths),
            "path_worst_kw": _r(it / alive) if alive < paths else None,
            "path_kw": path_kw,
            "air_heat_kw": _f(rack.get("air_heat_kw")), "air_kw": _f(rt.get("air_kw")),
            "liquid_heat_kw": _f(rack.get("liquid_heat_kw")), "liquid_kw": _f(rt.get("liquid_kw")),
            "u_used": _f(rack.get("u_used")), "u": _f(rt.get("u")),
            "weight_kg": _f(rack.get("weight_kg")), "max_weight_kg": _f(rt.get("max_weight_kg")),
            "binding": _limit(b), "binding_util": _f(util.get(b)) if b else None,
            "energy_usd": _f(cost.get("energy")), "cooling_usd": _f(cost.get("cooling")),
            "rack_usd": _f(cost.get("rack")), "nodes_usd": _f(cost.get("nodes")),
            "total_usd": _r(sum(float(cost.get(k) or 0.0) for k in ("energy", "cooling", "rack", "nodes")), 2),
        })
    return out


def _racks(book: _Book, plan: dict[str, Any]) -> None:
    records = rack_records(plan)
    node_ids = list((plan.get("node_types") or {}).keys())
    cols = [Col("Rack", lambda r: r["id"]), Col("Hall", lambda r: r["hall"]), Col("Row", lambda r: r["row"]),
            Col("Rack type", lambda r: r["rack_type"]), Col("Cooling", lambda r: r["cooling"])]
    cols += [Col(f"{nid} (nodes)", (lambda r, nid=nid: r["nodes"].get(nid) or None), INT) for nid in node_ids]
    cols += [
        Col("GPUs", lambda r: r["gpus"], INT),
        Col("Existing load (kW)", lambda r: r["existing_kw"], KW),
        Col("Rack overhead (kW)", lambda r: r["overhead_kw"], KW),
        Col("IT load (kW)", lambda r: r["it_kw"], KW),
        Col("Power it may carry after its worst loss (kW)", lambda r: r["power_cap_kw"], KW),
        Col("Power use (share)", lambda r: r["power_util"], PCT),
        Col("Feed paths", lambda r: r["paths"], INT),
        Col("Per path, normal (kW)", lambda r: r["path_normal_kw"], KW),
        Col("Per path, after worst loss (kW)", lambda r: r["path_worst_kw"], KW),
        Col("Path capacity (kW)", lambda r: r["path_kw"], KW),
        Col("Air heat (kW)", lambda r: r["air_heat_kw"], KW),
        Col("Air capacity (kW)", lambda r: r["air_kw"], KW),
        Col("Liquid heat (kW)", lambda r: r["liquid_heat_kw"], KW),
        Col("Liquid capacity (kW)", lambda r: r["liquid_kw"], KW),
        Col("Space used (U)", lambda r: r["u_used"], INT),
        Col("Space (U)", lambda r: r["u"], INT),
        Col("Weight (kg)", lambda r: r["weight_kg"], KG),
        Col("Max weight (kg)", lambda r: r["max_weight_kg"], KG),
        Col("Binding limit", lambda r: r["binding"]),
        Col("Binding limit use (share)", lambda r: r["binding_util"], PCT),
        Col("Energy (USD a year)", lambda r: r["energy_usd"], USD),
        Col("Cooling (USD a year)", lambda r: r["cooling_usd"], USD),
        Col("Rack (USD a year)", lambda r: r["rack_usd"], USD),
        Col("Nodes (USD a year)", lambda r: r["nodes_usd"], USD),
        Col("Total (USD a year)", lambda r: r["total_usd"], USD),
    ]
    book.table("Racks", cols, records, freeze_cols=1,
               note="One line per rack holding a planned node. IT load includes existing load and rack "
                    "overhead. After the worst loss it must survive (a feed side, k of its N+k paths, or a "
                    "panel or source upstream) a rack's surviving paths share its load.")


def _rows(book: _Book, plan: dict[str, Any]) -> None:
    cols = [
        Col("Hall", lambda r: r["hall"]), Col("Row", lambda r: r["row"]), Col("Rack type", lambda r: r["rack_type"]),
        Col("Racks", lambda r: r.get("racks"), INT), Col("Racks used", lambda r: r.get("racks_used"), INT),
        Col("Planned load (kW)", lambda r: r.get("planned_kw"), KW),
        Col("Existing load (kW)", lambda r: r.get("existing_kw"), KW),
        Col("Heat (kW)", lambda r: r.get("heat_kw"), KW),
        Col("Row cooling (kW)", lambda r: r.get("cooling_kw"), KW),
        Col("Row cooling use (share)", lambda r: r.get("utilization"), PCT),
        Col("CDU group", lambda r: r.get("cdu") or ""),
        Col("Panels (one per feed path)", lambda r: ", ".join(r.get("panels") or [])),
    ]
    book.table("Rows", cols, list(plan.get("rows") or []), freeze_cols=2,
               note="Row cooling is blank where the hall's cooling units cool the row.")


def _halls(book: _Book, plan: dict[str, Any]) -> None:
    cols = [
        Col("Hall", lambda h: h["name"]), Col("Racks", lambda h: h.get("racks"), INT),
        Col("Racks used", lambda h: h.get("racks_used"), INT),
        Col("Heat, air and liquid (kW)", lambda h: h.get("heat_kw"), KW),
        Col("Air heat (kW)", lambda h: h.get("air_heat_kw"), KW),
        Col("Room cooling takes (kW)", lambda h: h.get("cooled_kw", h.get("heat_kw")), KW),
        Col("Existing load (kW)", lambda h: h.get("existing_kw"), KW),
        Col("Usable cooling (kW)", lambda h: h.get("usable_kw"), KW),
        Col("Installed cooling (kW)", lambda h: h.get("installed_kw"), KW),
        Col("Cooling units", lambda h: h.get("units"), INT),
        Col("Unit capacity (kW)", lambda h: h.get("unit_kw"), KW),
        Col("Redundant units", lambda h: h.get("redundant"), INT),
        Col("Cooling use (share)", lambda h: h.get("utilization"), PCT),
        Col("IT capacity (kW)", lambda h: h.get("it_kw_limit"), KW),
        Col("IT capacity use (share)", lambda h: h.get("it_utilization"), PCT),
    ]
    book.table("Halls", cols, list(plan.get("halls") or []), freeze_cols=1,
               note="Usable cooling holds the redundant units back. In a hall with CDU groups the room "
                    "cooling takes only the air heat.")


def _power(book: _Book, plan: dict[str, Any]) -> None:
    cols = [
        Col("Element", lambda e: e["name"]), Col("Kind", lambda e: e.get("kind") or ""),
        Col("On source", lambda e: e.get("source") or ""),
        Col("Rating (kW)", lambda e: e.get("kw"), KW),
        Col("Normal load (kW)", lambda e: e.get("normal_kw"), KW),
        Col("Worst load (kW)", lambda e: e.get("worst_kw"), KW),
        Col("Worst after losing", lambda e: e.get("worst_failure") or "none"),
        Col("Worst / rating (share)", lambda e: e.get("utilization"), PCT),
        Col("Headroom (kW)", lambda e: _r(float(e["kw"]) - float(e["worst_kw"])), KW),
    ]
    book.table("Power", cols, list((plan.get("power") or {}).get("elements") or []), freeze_cols=1,
               note="Each UPS source and panel: its load in normal operation and after the single failure "
                    "(of another source or panel) that loads it most.")


def _failures(book: _Book, plan: dict[str, Any]) -> None:
    power = plan.get("power") or {}
    rows_lost = {d["failure"]: ", ".join(d.get("rows") or []) for d in power.get("dropped") or []}
    records = list(power.get("failures") or [])
    if not records:  # a contract-shaped plan: only elements and dropped
        records = [{"failure": d["failure"], "dropped_kw": d.get("kw")} for d in power.get("dropped") or []]
    cols = [
        Col("Lost", lambda f: f["failure"]), Col("Kind", lambda f: f.get("kind") or ""),
        Col("Most loaded element left", lambda f: f.get("most_loaded") or ""),
        Col("Its load (kW)", lambda f: f.get("load_kw"), KW),
        Col("Its rating (kW)", lambda f: f.get("rating_kw"), KW),
        Col("Load / rating (share)",
            lambda f: float(f["load_kw"]) / float(f["rating_kw"]) if f.get("rating_kw") else None, PCT),
        Col("Load dropped (kW)", lambda f: f.get("dropped_kw"), KW),
        Col("Racks without power", lambda f: f.get("dropped_racks"), INT),
        Col("Rows without power", lambda f: rows_lost.get(f["failure"], "")),
    ]
    book.table("Failures", cols, records, freeze_cols=1,
               note="Every single failure of a source or panel. Load is dropped only in single-path (N) "
                    "rows whose one panel or source is lost.")


def _cdus(book: _Book, plan: dict[str, Any]) -> None:
    cols = [
        Col("Hall", lambda g: g["hall"]), Col("CDU group", lambda g: g["name"]),
        Col("Rows", lambda g: ", ".join(g.get("rows") or [])),
        Col("Liquid heat (kW)", lambda g: g.get("liquid_kw"), KW),
        Col("Usable (kW)", lambda g: g.get("usable_kw"), KW),
        Col("Units", lambda g: g.get("units"), INT), Col("Unit capacity (kW)", lambda g: g.get("unit_kw"), KW),
        Col("Redundant units", lambda g: g.get("redundant"), INT),
        Col("Use (share)", lambda g: float(g["liquid_kw"]) / float(g["usable_kw"]) if g.get("usable_kw") else None,
            PCT),
    ]
    book.table("CDU groups", cols, list(plan.get("cdus") or []), freeze_cols=2,
               note="Usable holds the redundant units back.")


def bill_of_materials(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Lines of the bill of materials: each node type placed, then the racks used by rack type
    (newly occupied, and with existing load)."""
    totals = plan.get("totals") or {}
    ntypes = plan.get("node_types") or {}
    rtypes = plan.get("rack_types") or {}
    out = []
    for nid, n in (totals.get("nodes") or {}).items():
        t = ntypes.get(nid) or {}
        out.append({"kind": "node", "item": nid, "description": t.get("name") or "", "quantity": int(n),
                    "gpus": int(n) * int(t.get("gpus") or 0), "u_each": _f(t.get("u")),
                    "kw_each": _f(t.get("max_kw")), "kw": _r(int(n) * float(t.get("max_kw") or 0.0)),
                    "kg_each": _f(t.get("weight_kg")), "kg": _r(int(n) * float(t.get("weight_kg") or 0.0)),
                    "usd_each": _f(t.get("annual_cost_usd")) or None,
                    "usd": _r(int(n) * float(t.get("annual_cost_usd") or 0.0), 2) or None,
                    "status": t.get("status") or ""})
    new: Counter[str] = Counter()
    existing: Counter[str] = Counter()
    for rack in plan.get("racks") or []:
        (existing if rack.get("existing") else new)[rack["rack_type"]] += 1
    for name in rtypes:
        rt = rtypes[name]
        if new[name]:
            each = _f(rt.get("annual_cost_usd"))
            out.append({"kind": "rack, newly occupied", "item": name,
                        "description": f"{rt.get('u')}U {rt.get('cooling')} rack, {rt.get('power_redundancy')}",
                        "quantity": new[name], "usd_each": each, "usd": (each or 0.0) * new[name] or None})
        if existing[name]:
            out.append({"kind": "rack with existing load", "item": name,
                        "description": "already occupied: no rack cost, no overhead",
                        "quantity": existing[name]})
    return out


def _bill_of_materials(book: _Book, plan: dict[str, Any]) -> None:
    cols = [
        Col("Kind", lambda x: x["kind"]), Col("Item", lambda x: x["item"]),
        Col("Description", lambda x: x["description"]), Col("Quantity", lambda x: x["quantity"], INT),
        Col("GPUs", lambda x: x.get("gpus"), INT),
        Col("Space each (U)", lambda x: x.get("u_each"), INT),
        Col("Max draw each (kW)", lambda x: x.get("kw_each"), "#,##0.00"),
        Col("Max draw (kW)", lambda x: x.get("kw"), KW),
        Col("Weight each (kg)", lambda x: x.get("kg_each"), "#,##0.0"),
        Col("Weight (kg)", lambda x: x.get("kg"), KG),
        Col("Annual cost each (USD a year)", lambda x: x.get("usd_each"), USD),
        Col("Annual cost (USD a year)", lambda x: x.get("usd"), USD),
        Col("Spec status", lambda x: x.get("status") or ""),
    ]
    book.table("Bill of materials", cols, bill_of_materials(plan), freeze_cols=2,
               note="Nodes as placed; racks the plan uses, by rack type. Rack types are on their own sheet.")


def _rack_types(book: _Book, plan: dict[str, Any]) -> None:
    rtypes = plan.get("rack_types") or {}
    in_facility: dict[str, int] = defaultdict(int)
    for row in plan.get("rows") or []:
        in_facility[row["rack_type"]] += int(row.get("racks") or 0)
    used = Counter(r["rack_type"] for r in plan.get("racks") or [])
    records = [{"name": n, **t} for n, t in rtypes.items()]
    cols = [
        Col("Rack type", lambda t: t["name"]), Col("Cooling", lambda t: t.get("cooling") or ""),
        Col("Form factor", lambda t: t.get("form_factor") or ""),
        Col("Racks in facility", lambda t: in_facility.get(t["name"], 0), INT),
        Col("Racks used", lambda t: used.get(t["name"], 0), INT),
        Col("Space (U)", lambda t: t.get("u"), INT),
        Col("Air capacity (kW)", lambda t: t.get("air_kw"), KW),
        Col("Liquid capacity (kW)", lambda t: t.get("liquid_kw"), KW),
        Col("Power redundancy", lambda t: t.get("power_redundancy") or ""),
        Col("Feeds per path", lambda t: t.get("feeds"), INT),
        Col("Feed paths", lambda t: t.get("paths"), INT),
        Col("One feed (kW)", lambda t: t.get("feed_kw"), KW),
        Col("One path (kW)", lambda t: t.get("path_kw"), KW),
        Col("Carries after the loss it is built for (kW)", lambda t: t.get("power_kw"), KW),
        Col("Max weight (kg)", lambda t: t.get("max_weight_kg"), KG),
        Col("Annual cost (USD a year)", lambda t: t.get("annual_cost_usd"), USD),
        Col("Overhead (U)", lambda t: (t.get("overhead") or {}).get("u"), INT),
        Col("Overhead (kW)", lambda t: (t.get("overhead") or {}).get("kw"), KW),
        Col("Overhead (kg)", lambda t: (t.get("overhead") or {}).get("weight_kg"), KG),
    ]
    book.table("Rack types", cols, records, freeze_cols=1,
               note="Overhead is what every rack the plan newly occupies carries besides its nodes.")
