"""The HTML report, tested by structure: the inline SVG drawings are parsed and their node boxes,
units and floor tiles checked against the plan; the page is checked to load nothing and to escape
every name; a campus-scale plan is summarised and paginated."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from importlib import resources

import pytest
from markupsafe import escape

from planner.report import views as report
from planner.report.drawing import Bar, BarChart, FloorLayout, FloorRow, RackElevation, util_class
from planner.report.views import render_compare, render_plan

SVG = "{http://www.w3.org/2000/svg}"


def svgs(html: str, cls: str) -> list[ET.Element]:
    """Every inline ``<svg class="cls">`` of the page, parsed as XML (so each must be well formed)."""
    return [ET.fromstring(m) for m in re.findall(rf'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}".*?</svg>',
                                                  html, re.S)]


def classes(el: ET.Element) -> set[str]:
    return set((el.get("class") or "").split())


def blocks(svg: ET.Element, cls: str) -> list[ET.Element]:
    return [r for r in svg.iter(f"{SVG}rect") if cls in classes(r)]


# --------------------------------------------------------------------------------------------------
# rack elevations


def check_elevation(svg: ET.Element, rack: dict, plan: dict) -> None:
    u_total = plan["rack_types"][rack["rack_type"]]["u"]
    assert int(svg.get("data-u")) == u_total
    nodes = blocks(svg, "node")
    existing = blocks(svg, "existing")
    free = blocks(svg, "free")
    # one box per node, of the node's height, labelled with its id
    assert len(nodes) == sum(rack["nodes"].values())
    for nid, n in rack["nodes"].items():
        boxes = [b for b in nodes if b.get("data-node") == nid]
        assert len(boxes) == n
        assert all(int(b.get("data-u")) == plan["node_types"][nid]["u"] for b in boxes)
    labels = [t.text for t in svg.iter(f"{SVG}text") if "nlabel" in classes(t)]
    assert sorted(labels) == sorted(nid for nid, n in rack["nodes"].items() for _ in range(n))
    # existing load drawn apart, with its own U
    ex_u = (rack.get("existing") or {}).get("u", 0)
    assert sum(int(b.get("data-u")) for b in existing) == ex_u
    assert len(existing) == (1 if ex_u else 0)
    # units: what is drawn adds up to u_used; the rest is free
    used = nodes + existing
    assert sum(int(b.get("data-u")) for b in used) == rack["u_used"]
    assert sum(int(b.get("data-u")) for b in free) == u_total - rack["u_used"]
    # no two boxes share a unit, all stay inside 1..u, and the drawn rectangles agree
    spans = sorted((int(b.get("data-u0")), int(b.get("data-u"))) for b in used + free)
    at = 1
    for u0, u in spans:
        assert u0 == at, f"{rack['id']}: gap or overlap at U{at}"
        at = u0 + u
    assert at == u_total + 1
    frame = next(r for r in svg.iter(f"{SVG}rect") if "slots" in classes(r))
    top, bottom = float(frame.get("y")), float(frame.get("y")) + float(frame.get("height"))
    boxes = sorted((float(b.get("y")), float(b.get("y")) + float(b.get("height"))) for b in used)
    for (_, y1), (n0, _) in zip(boxes, boxes[1:], strict=False):
        assert y1 <= n0 + 1e-6, f"{rack['id']}: boxes overlap"
    assert all(top - 1e-6 <= y0 and y1 <= bottom + 1e-6 for y0, y1 in boxes)
    assert abs((bottom - top) / u_total * rack["u_used"] - sum(y1 - y0 for y0, y1 in boxes)) <= len(boxes) + 1e-6


@pytest.mark.parametrize("name", ["contract", "ai-hall", "colo"])
def test_every_used_rack_has_a_true_elevation(plans, rendered, name):
    plan, html = plans[name], rendered[name]
    racks = {r["id"]: r for r in plan["racks"]}
    drawn = {svg.get("data-rack"): svg for svg in svgs(html, "rp-elev")}
    assert set(drawn) == set(racks), "small plans draw every used rack"
    for rid, svg in drawn.items():
        check_elevation(svg, racks[rid], plan)


def test_elevation_with_existing_load_and_mixed_nodes():
    el = RackElevation("h/A/01", 42, [("big", 2, 10, "14 kW"), ("small", 3, 2, "")], existing_u=8,
                       existing_label="existing 6 kW", uid="t")
    kinds = [(b.kind, b.u0, b.u) for b in el.layout()]
    assert kinds == [("node", 1, 10), ("node", 11, 10), ("node", 21, 2), ("node", 23, 2), ("node", 25, 2),
                     ("existing", 27, 8), ("free", 35, 8)]
    svg = ET.fromstring(str(el.render()))
    rack = {"id": "h/A/01", "rack_type": "t", "nodes": {"big": 2, "small": 3}, "u_used": 34,
            "existing": {"u": 8}}
    check_elevation(svg, rack, {"rack_types": {"t": {"u": 42}}, "node_types": {"big": {"u": 10}, "small": {"u": 2}}})
    hatch = next(svg.iter(f"{SVG}pattern"))
    assert blocks(svg, "existing")[0].get("fill") == f"url(#{hatch.get('id')})"


def test_full_rack_has_no_free_block():
    svg = ET.fromstring(str(RackElevation("x", 8, [("n", 2, 4, "")]).render()))
    assert blocks(svg, "free") == [] and len(blocks(svg, "node")) == 2


# --------------------------------------------------------------------------------------------------
# floor layout


@pytest.mark.parametrize("name", ["contract", "ai-hall", "colo"])
def test_floor_layout_has_a_tile_per_rack_position(plans, rendered, name):
    plan, html = plans[name], rendered[name]
    floors = {svg.get("data-hall"): svg for svg in svgs(html, "rp-floor")}
    assert list(floors) == [h["name"] for h in plan["halls"]]
    used = {r["id"]: r for r in plan["racks"]}
    existing = {r["id"] for r in plan["existing_racks"]}
    for hall, svg in floors.items():
        rows = [g for g in svg.iter(f"{SVG}g") if "row" in classes(g)]
        plan_rows = [r for r in plan["rows"] if r["hall"] == hall]
        assert [g.get("data-row") for g in rows] == [r["row"] for r in plan_rows]
        for g, row in zip(rows, plan_rows, strict=True):
            tiles = list(g.iter(f"{SVG}rect"))
            assert len(tiles) == row["racks"]
            width = 3 if row["racks"] > 99 else 2
            for i, tile in enumerate(tiles):
                rid = f"{hall}/{row['row']}/{i + 1:0{width}d}"
                cls = tile.get("class")
                if rid in used:
                    assert cls == util_class(max(used[rid]["utilization"].values()))
                elif rid in existing:
                    assert cls == "x"
                else:
                    assert cls == "e"
            xy = {(t.get("x"), t.get("y")) for t in tiles}
            assert len(xy) == len(tiles), "tiles must not sit on each other"


def test_floor_layout_wraps_long_rows_without_losing_tiles():
    row = FloorRow("LONG", ["e"] * 150 + ["u4"] * 10)
    svg = ET.fromstring(str(FloorLayout("h", [row, FloorRow("S", ["x"] * 3)]).render()))
    groups = [g for g in svg.iter(f"{SVG}g") if "row" in classes(g)]
    assert [len(list(g.iter(f"{SVG}rect"))) for g in groups] == [160, 3]
    positions = {(t.get("x"), t.get("y")) for t in groups[0].iter(f"{SVG}rect")}
    assert len(positions) == 160
    assert float(svg.get("width")) < 1200


def test_utilization_bins():
    assert [util_class(x) for x in (0.0, 0.49, 0.5, 0.7, 0.85, 0.95, 1.0, 1.3)] == \
        ["u0", "u0", "u1", "u2", "u3", "u4", "u4", "u4"]


def test_legend_names_every_tile_class(rendered):
    html = rendered["contract"]
    for cls in ("u0", "u1", "u2", "u3", "u4", "x", "e"):
        assert f'class="{cls}"/></svg>' in html  # a legend swatch
    assert "existing load only" in html and "empty" in html


# --------------------------------------------------------------------------------------------------
# content


def _section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}"')
    return html[start:html.index("</section>", start)]


def test_sections_and_key_figures(plans, rendered):
    plan, html = plans["contract"], rendered["contract"]
    for anchor in ("summary", "costs", "resilience", "assumptions", "hall-1", "hall-2"):
        assert f'id="{anchor}"' in html
    t = plan["totals"]
    # each key figure on its own card or line of the summary, not merely somewhere in the page
    summary = _section(html, "summary")
    cards = {label: (value, sub) for label, value, sub in re.findall(
        r'<div class="card"><div class="card-label">([^<]+)</div><div class="card-value">([^<]+)</div>'
        r'(?:<div class="card-sub">([^<]*)</div>)?</div>', summary)}
    assert cards["GPUs"][0] == f"{t['gpus']:,}"
    assert cards["Racks used"][0] == f"{t['racks_used']:,}"
    assert cards["FP8 compute"][0] == f"{report.fnum(t['fp8_pflops'], 0)} PFLOPS"
    assert cards["Annual cost"] == (report.usd(t["annual_usd"]["total"]),
                                    f"{report.usd(t['usd_per_pflops_year'])} per PFLOPS-year")
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", summary, re.S))
    assert facts["Solver"].startswith(f"{plan['solver']['name']}: {plan['solver']['status']}, gap ")
    assert facts["Binding limit"].startswith(f"<strong>{plan['binding']['label']}</strong>")
    assert "first-fit" in facts["Baseline"]
    for text in (plan["facility"]["sha256"], plan["facility"]["file"], plan["tool"]["version"]):
        assert text in html, text
    # the cost table: one line per kind with its figure, and the total
    costs = _section(html, "costs")
    lines = dict(re.findall(r'<tr><td>([^<]+)</td><td class="num">([^<]+)</td>', costs))
    for key, label in (("energy", "Energy"), ("cooling", "Cooling overhead"), ("racks", "Racks"), ("nodes", "Nodes")):
        assert lines[label] == report.usd(t["annual_usd"][key]), label
    assert f'<th>Total</th><th class="num">{report.usd(t["annual_usd"]["total"])}</th>' in costs
    # every spec figure and every source is listed
    for a in plan["assumptions"]:
        assert f"<code>{a['figure']}</code>" in html
        for s in a["sources"]:
            assert str(escape(s["title"])) in html
    # cooling-unit simulation and feed failover
    worst = plan["checks"]["worst_failover"]
    assert worst["rack"] in html and report.fnum(worst["failover_kw"]) in html
    assert "Hall cooling with units lost" in html
    # the solver's objective says what it is: part of the annual cost, not the annual cost
    objective = re.search(r'<th scope="row">Objective</th><td>([^<]+)</td>', html).group(1)
    assert objective.startswith(report.usd(plan["solver"]["objective_usd"]))
    assert objective.endswith(f": the {plan['solver']['gap_on']}, part of the annual cost above")


def test_rack_table_lists_side_loads(plans, rendered):
    plan, html = plans["contract"], rendered["contract"]
    tables = re.findall(r'<table class="data racks">.*?</table>', html, re.S)
    rows = sum(t.count("<tr><td") for t in tables)
    assert rows == len(plan["racks"])
    rack = plan["racks"][0]
    side = plan["rack_types"][rack["rack_type"]]["power_kw"]
    row_html = re.search(rf"<td class=\"nowrap\">{re.escape(rack['id'])}</td>.*?</tr>", html, re.S).group(0)
    for value in (rack["it_kw"] / 2, rack["it_kw"], side):  # 2N: half normally, all of it after failover
        assert report.fnum(value) in row_html
    assert "Existing" not in row_html


def test_existing_only_racks_listed(plans, rendered):
    plan, html = plans["contract"], rendered["contract"]
    assert plan["existing_racks"]
    assert "Racks with existing load only" in html
    for r in plan["existing_racks"]:
        assert r["id"] in html


def test_no_script_nothing_fetched_and_print_styles(rendered):
    for html in rendered.values():
        low = html.lower()
        assert "<script" not in low and "<link" not in low and "<img" not in low and "@import" not in low
        assert "<iframe" not in low and " src=" not in low and "xlink:href" not in low
        assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", html)), "only in-page references"
        assert "default-src 'none'" in html
        assert "@media print" in html and "@page" in html
        assert "break-inside: avoid" in html and "landscape" not in html  # pages flow on, all upright
        assert "table-header-group" in html


def test_names_are_escaped(plans):
    plan = copy.deepcopy(plans["contract"])
    evil = "<script>alert(1)</script>"
    plan["facility"]["name"] = evil
    plan["facility"]["file"] = "x\"><script>alert(2)</script>"
    nid = next(iter(plan["node_types"]))
    plan["node_types"][nid]["name"] = evil
    plan["assumptions"][0]["sources"] = [{"id": "s", "title": evil, "url": "javascript:alert(3)", "kind": "<b>"}]
    # a hall name with markup runs through rack ids, rows and every SVG
    text = json.dumps(plan).replace('"hall-1', '"<i>&h')
    plan = json.loads(text)
    html = render_plan(plan)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html
    assert "<i>" not in html
    floors = svgs(html, "rp-floor")  # still well-formed XML
    assert floors[0].get("data-hall") == "<i>&h"
    assert svgs(html, "rp-elev")


def test_n_redundancy_has_no_failover_column_values(plans):
    plan = copy.deepcopy(plans["ai-hall"])
    rack = plan["racks"][0]
    plan["rack_types"][rack["rack_type"]]["paths"] = 1  # as if the rack type were N: one path
    for row in plan["rows"]:
        row["surviving_paths"] = 1
    plan["checks"]["worst_failover"] = None
    html = render_plan(plan)
    assert "The used racks are single-path (N)" in html
    row_html = re.search(rf"<td class=\"nowrap\">{re.escape(rack['id'])}</td>.*?</tr>", html, re.S).group(0)
    cells = [re.sub("<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.S)]
    assert cells[4:6] == [report.fnum(rack["it_kw"]), "–"]  # one side carries it all; no failover


def test_feasible_solver_status_is_flagged(plans):
    plan = copy.deepcopy(plans["ai-hall"])
    plan["solver"].update(status="feasible", gap=0.0123)
    html = render_plan(plan)
    solver = re.search(r"<dt>Solver</dt><dd>(.*?)</dd>", html, re.S).group(1)
    assert solver.startswith(f"{plan['solver']['name']}: feasible, gap 1.2300 %, ")
    assert '<span class="flag">not proven optimal' in solver


def test_templates_ship_in_the_package():
    names = {p.name for p in resources.files("planner.templates").iterdir()}
    assert {"base.html.j2", "plan.html.j2", "compare.html.j2", "_assumptions.html.j2", "report.css"} <= names
    assert report.environment().autoescape is True


def test_report_command_renders_plan_and_compare(tmp_path, plans, compare_doc):
    from planner.cli import main

    for name, doc in (("plan", plans["contract"]), ("compare", compare_doc)):
        src = tmp_path / f"{name}.json"
        src.write_text(json.dumps(doc), encoding="utf-8")
        assert main(["report", str(src), "-o", str(tmp_path / f"{name}.html")]) == 0
        assert (tmp_path / f"{name}.html").read_text(encoding="utf-8").startswith("<!doctype html>")


# --------------------------------------------------------------------------------------------------
# scale


def test_campus_scale_plan_is_summarised_and_paginated(big_plan, big_html):
    html = big_html  # how long rendering takes is a benchmark's figure (benchmarks/bench_report.py)
    assert len(html) < 8_000_000
    used = len(big_plan["racks"])
    assert used > 5000
    # elevations capped, one per distinct fill in each row
    elevs = svgs(html, "rp-elev")
    assert 0 < len(elevs) <= report.MAX_ELEVATIONS
    racks = {r["id"]: r for r in big_plan["racks"]}
    sigs = [(racks[e.get("data-rack")]["hall"], racks[e.get("data-rack")]["row"],
             tuple(sorted(racks[e.get("data-rack")]["nodes"].items()))) for e in elevs]
    assert len(set(sigs)) == len(sigs)
    for e in elevs[:20]:
        check_elevation(e, racks[e.get("data-rack")], big_plan)
    assert "one for each distinct fill in each row" in html
    # shared among the halls, every distinct fill of a hall before repeats
    halls = {racks[e.get("data-rack")]["hall"] for e in elevs}
    assert halls == {h["name"] for h in big_plan["halls"]}
    for hall in halls:
        fills = {tuple(sorted(r["nodes"].items())) for r in big_plan["racks"] if r["hall"] == hall}
        assert fills <= {s[2] for s in sigs if s[0] == hall}
    # per-rack tables capped, with a note pointing at racks.csv
    table_rows = sum(t.count("<tr><td") for t in re.findall(r'<table class="data racks">.*?</table>', html, re.S))
    assert 0 < table_rows <= report.MAX_TABLE_ROWS
    assert "most loaded of" in html and "racks.csv" in html
    # the floor layout still shows every rack position, compactly
    floors = svgs(html, "rp-floor")
    tiles = sum(len(list(g.iter(f"{SVG}rect"))) for f in floors for g in f.iter(f"{SVG}g") if "row" in classes(g))
    assert tiles == sum(r["racks"] for r in big_plan["rows"])
    assert "<title>" not in "".join(ET.tostring(f, encoding="unicode") for f in floors[:1])


def test_share_splits_a_budget():
    assert report._share(10, {"a": 2, "b": 100, "c": 100}) == {"a": 2, "b": 4, "c": 4}
    assert report._share(500, {"a": 3, "b": 4}) == {"a": 3, "b": 4}
    assert sum(report._share(500, {str(k): 1000 for k in range(7)}).values()) == 500


# --------------------------------------------------------------------------------------------------
# compare


def test_compare_report(compare_doc):
    html = render_compare(compare_doc)
    rows = compare_doc["rows"]
    table = re.search(r'<table class="data compare">.*?</table>', html, re.S).group(0)
    assert table.count('class="num cand') == len(rows)
    for label in ("Racks used", "GPUs per rack", "IT kW per rack", "FP8 PFLOPS per rack", "HBM TB per rack",
                  "Annual cost: total", "Cost per PFLOPS-year", "Binding limit", "Stranded kW", "Facility kW"):
        assert f">{label}<" in table
    charts = svgs(html, "rp-chart")
    assert len(charts) >= 4
    ok = [r for r in rows if r["status"] != "no_plan"]
    for chart in charts:
        bars = [r for r in chart.iter(f"{SVG}rect") if "bar" in classes(r)]
        assert len(bars) == len(ok)
        values = [float(b.get("data-value")) for b in bars]
        widths = [float(b.get("width")) for b in bars]
        top = max(values)
        assert widths[values.index(top)] == max(widths)
    assert "no plan" in html and "gb200-nvl72" in html
    assert "1,270 W" in html  # the break-even finding
    assert "b200-8x-air@nominal" in html
    for a in compare_doc["assumptions"]:
        for s in a["sources"]:
            assert s["id"] and (s["url"] or "") in html
    assert "<script" not in html.lower()


def test_compare_escapes_names(compare_doc):
    doc = copy.deepcopy(compare_doc)
    doc["facility"]["name"] = "<script>alert(1)</script>"
    doc["rows"][0]["candidate"] = "<b>x</b>"
    html = render_compare(doc)
    assert "<script" not in html.lower() and "<b>x</b>" not in html
    svgs(html, "rp-chart")  # charts still parse


def test_bar_chart_handles_missing_and_zero_values():
    chart = BarChart("t", [Bar("a", 0.0, "0"), Bar("b", None, "no plan"), Bar("c", 3.0, "3")])
    svg = ET.fromstring(str(chart.render()))
    bars = [r for r in svg.iter(f"{SVG}rect") if "bar" in classes(r)]
    assert len(bars) == 2


def test_elevation_draws_the_plans_positions():
    """A rack whose plan gives positions is drawn at them: two 10U nodes at units 17 and 27 above
    existing equipment at units 9-16, free runs 1-8 and 37-42."""
    rack = {"id": "h1/A/01", "hall": "h1", "row": "A", "rack_type": "r", "nodes": {"tall": 2}, "it_kw": 22.0,
            "u_used": 28, "existing": {"kw": 2.0, "u": 8, "position": 9},
            "positions": [{"node": "tall", "u": 17}, {"node": "tall", "u": 27}]}
    plan = {"node_types": {"tall": {"u": 10, "max_kw": 10.0, "weight_kg": 20.0}}, "rack_types": {"r": {"u": 42}}}
    svg = str(report._elevation(rack, plan, "t"))
    nodes = sorted((int(a), int(b)) for a, b in re.findall(r'class="node[^"]*" data-node="tall" data-u0="(\d+)" data-u="(\d+)"', svg))
    assert nodes == [(17, 10), (27, 10)]
    assert re.search(r'class="existing"[^>]*data-u0="9" data-u="8"', svg)
    assert sorted((int(a), int(b)) for a, b in re.findall(r'class="free" data-u0="(\d+)" data-u="(\d+)"', svg)) == \
        [(1, 8), (37, 6)]


def test_racks_csv_fields_are_quoted_as_the_csv_module_quotes_them():
    """racks.csv is joined by hand for speed: fields read back whole, as the csv module writes them (and a
    carriage return is quoted too, which the csv module with a newline line ending does not do)."""
    import csv
    import io

    from planner.results.plan_json import _as_csv_fields

    values = ["h1/A/01", 'row "B", east', "a,b", "two\nlines", "", None, "plain", "h1/A/01", 3]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    assert ",".join(_as_csv_fields(values)) + "\n" == buf.getvalue()
    values.append("cr\rhere")
    assert next(csv.reader(io.StringIO(",".join(_as_csv_fields(values)), newline=""))) == \
        ["" if v is None else str(v) for v in values]


def test_a_hall_with_cdu_groups_reads_as_air_heat_and_racks_name_their_most_used_limit(plans, rendered):
    """In a hall whose CDU groups take the liquid, the hall's lead line is its air heat against its room
    cooling, not "heat" beside a larger heat figure; the rack table's column is the most used limit,
    which binds only where no further node fits."""
    from planner.report.views import render_plan
    from tests.conftest import _plan

    plan = _plan("contract-power-example.yaml", nodes="mi400-8x=24")
    hall = next(h for h in plan["halls"] if h["cools"] == "air")
    html = render_plan(plan)
    assert (f"air heat {report.fnum(hall['cooled_kw'])} kW of {report.fnum(hall['usable_kw'])} kW usable room cooling "
            "(the CDU groups take the liquid)") in html
    assert "<th>Most used</th>" in rendered["ai-hall"] and "<th>Binding</th>" not in rendered["ai-hall"]
    summary = _section(rendered["ai-hall"], "summary")
    assert "the most used limit of each rack: rack power (feeds) in " in summary


def test_each_break_even_finding_reads_across_the_whole_table(compare_doc):
    """A break-even finding is a sentence (why the costs cross, or never do): it gets a row of its own
    across the table, under its figures, not a narrow last column that print drops."""
    html = render_compare(compare_doc)
    section = _section(html, "break-even")
    for f in compare_doc["break_even"]:
        assert f'<tr class="finding"><td colspan="5"><strong>Finding:</strong> {escape(f["note"])}' in section
    assert "<th>Finding</th>" not in section
