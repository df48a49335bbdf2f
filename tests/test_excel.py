"""``racks.xlsx`` opened back with openpyxl: every sheet there, the figures those of plan.json, units in
the headers, header rows frozen, and the file written with the others by ``rackplan plan``."""

from __future__ import annotations

import io
from typing import Any

import pytest

openpyxl = pytest.importorskip("openpyxl")

from helpers import DLC, RDHX, loaded  # noqa: E402
from planner.results.excel import racks_xlsx  # noqa: E402


def _open(plan: dict[str, Any]):
    return openpyxl.load_workbook(io.BytesIO(racks_xlsx(plan)))


def _table(ws) -> list[dict[str, Any]]:
    """A sheet's lines as dicts by header, up to the first empty line (the note follows it)."""
    rows = ws.iter_rows(values_only=True)
    head = next(rows)
    out = []
    for values in rows:
        if all(v is None for v in values):
            break
        out.append(dict(zip(head, values)))
    return out


def _summary(ws) -> dict[str, Any]:
    return {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True) if r[0]}


@pytest.fixture(scope="module")
def power_plan() -> dict[str, Any]:
    """A small hall with a power tree (two UPS sources, four panels) and a CDU group."""
    from planner.api import run_plan
    from planner.inputs.demand import Demand
    from planner.inputs.specs import load_catalogue

    fac = loaded(rack_types={"dlc": DLC, "rdhx": RDHX},
                 power={"sources": {"UPS-1": {"kw": 400}, "UPS-2": {"kw": 400}},
                        "panels": {"P1A": {"source": "UPS-1", "kw": 200}, "P1B": {"source": "UPS-2", "kw": 200},
                                   "P2A": {"source": "UPS-1", "kw": 200}, "P2B": {"source": "UPS-2", "kw": 200}}},
                 halls=[{"name": "h1", "cooling_units": {"count": 4, "unit_kw": 200, "redundant": 1},
                         "cdus": [{"name": "CDU-1", "rows": ["A"], "count": 3, "unit_kw": 150, "redundant": 1}],
                         "rows": [{"name": "A", "rack_type": "dlc", "racks": 4, "panels": ["P1A", "P1B"]},
                                  {"name": "B", "rack_type": "rdhx", "racks": 4, "panels": ["P2A", "P2B"]}]}])
    return run_plan(fac, load_catalogue(), Demand("nodes", nodes={"b200-8x-air": 6, "mi400-8x": 12})).plan


def test_sheets_and_frozen_headers(plans):
    wb = _open(plans["ai-hall"])
    assert wb.sheetnames == ["Summary", "Racks", "Rows", "Halls", "Bill of materials", "Rack types"]
    for ws in wb:
        assert ws.freeze_panes is not None and ws.freeze_panes.endswith("2"), ws.title  # row 1 frozen
        assert all(isinstance(c.value, str) for c in ws[1] if c.value is not None)
    assert wb["Racks"].freeze_panes == "B2"  # the rack id stays in view too
    assert wb["Racks"].auto_filter.ref


def test_headers_carry_units(plans):
    wb = _open(plans["ai-hall"])
    heads = [c.value for c in wb["Racks"][1]]
    for expected in ("IT load (kW)", "Air heat (kW)", "Space used (U)", "Weight (kg)", "Total (USD a year)",
                     "Power use (share)", "b200-8x-air (nodes)"):
        assert expected in heads
    counts = ("GPUs", "Feed paths")  # the unit is the name
    numeric = [h for h in heads if h not in ("Rack", "Hall", "Row", "Rack type", "Cooling", "Binding limit", *counts)]
    assert all("(" in h for h in numeric), [h for h in numeric if "(" not in h]


def test_number_formats_round_for_people(plans):
    ws = _open(plans["ai-hall"])["Racks"]
    heads = [c.value for c in ws[1]]
    row = ws[2]
    fmt = {h: row[i].number_format for i, h in enumerate(heads)}
    assert fmt["IT load (kW)"] == "#,##0.0"
    assert fmt["Total (USD a year)"] == "$#,##0"
    assert fmt["Power use (share)"] == "0.0%"
    assert fmt["GPUs"] == "#,##0"


@pytest.mark.parametrize("name", ["contract", "ai-hall", "colo"])
def test_racks_sheet_is_the_plan(plans, name):
    plan = plans[name]
    wb = _open(plan)
    lines = _table(wb["Racks"])
    assert [r["Rack"] for r in lines] == [r["id"] for r in plan["racks"]]
    rtypes = plan["rack_types"]
    for line, rack in zip(lines, plan["racks"]):
        assert line["IT load (kW)"] == pytest.approx(rack["it_kw"])
        assert line["Air heat (kW)"] == pytest.approx(rack["air_heat_kw"])
        assert line["Liquid heat (kW)"] == pytest.approx(rack["liquid_heat_kw"])
        assert line["Space used (U)"] == rack["u_used"]
        assert line["Weight (kg)"] == pytest.approx(rack["weight_kg"])
        assert line["Space (U)"] == rtypes[rack["rack_type"]]["u"]
        assert line["Power use (share)"] == pytest.approx(rack["utilization"]["power"])
        for nid in plan["node_types"]:
            assert (line[f"{nid} (nodes)"] or 0) == rack["nodes"].get(nid, 0)
        assert line["Total (USD a year)"] == pytest.approx(sum(rack["annual_usd"].values()), abs=0.01)
        paths = rtypes[rack["rack_type"]]["paths"]
        assert line["Per path, normal (kW)"] == pytest.approx(rack["it_kw"] / paths)
        assert line["IT load (kW)"] <= line["Power it may carry after its worst loss (kW)"] + 1e-6
    # the columns add up to the plan's totals
    for nid, n in plan["totals"]["nodes"].items():
        assert sum(r[f"{nid} (nodes)"] or 0 for r in lines) == n
    assert sum(r["GPUs"] for r in lines) == plan["totals"]["gpus"]
    cost = plan["totals"]["annual_usd"]
    cents = 0.01 * len(lines)  # each rack's cost is rounded to the cent in plan.json
    assert sum(r["Energy (USD a year)"] for r in lines) == pytest.approx(cost["energy"], abs=cents)
    assert sum(r["Total (USD a year)"] for r in lines) == pytest.approx(cost["total"], abs=cents)


def test_summary_rows_halls_and_bill_of_materials(plans):
    plan = plans["contract"]
    wb = _open(plan)
    s = _summary(wb["Summary"])
    t = plan["totals"]
    assert s["Facility"] == plan["facility"]["name"]
    assert s["GPUs"] == t["gpus"]
    assert s["Racks used"] == t["racks_used"]
    assert s["IT load of planned nodes (design, maximum draw)"] == pytest.approx(t["it_kw"])
    assert s["Annual cost: total"] == pytest.approx(t["annual_usd"]["total"])
    assert s["Binding limit"] == plan["binding"]["label"]
    assert s["Independent check"] == plan["checks"]["summary"]
    for nid, n in t["nodes"].items():
        assert s[f"Nodes: {nid}"] == n

    rows = _table(wb["Rows"])
    assert [(r["Hall"], r["Row"]) for r in rows] == [(r["hall"], r["row"]) for r in plan["rows"]]
    for line, row in zip(rows, plan["rows"]):
        assert line["Heat (kW)"] == pytest.approx(row["heat_kw"])
        assert line["Racks used"] == row["racks_used"]
    halls = _table(wb["Halls"])
    assert [h["Hall"] for h in halls] == [h["name"] for h in plan["halls"]]
    for line, hall in zip(halls, plan["halls"]):
        assert line["Usable cooling (kW)"] == pytest.approx(hall["usable_kw"])
        assert line["Cooling use (share)"] == pytest.approx(hall["utilization"])
        assert line["Racks used"] == hall["racks_used"]

    bom = _table(wb["Bill of materials"])
    nodes = {b["Item"]: b for b in bom if b["Kind"] == "node"}
    assert {k: v["Quantity"] for k, v in nodes.items()} == t["nodes"]
    assert sum(v["GPUs"] for v in nodes.values()) == t["gpus"]
    racks = [b for b in bom if b["Kind"].startswith("rack")]
    assert sum(b["Quantity"] for b in racks) == t["racks_used"]
    assert sum(b["Quantity"] for b in racks if b["Kind"] == "rack, newly occupied") == t["racks_new"]
    assert sum(b["Annual cost (USD a year)"] or 0 for b in racks) == pytest.approx(t["annual_usd"]["racks"])
    types = _table(wb["Rack types"])
    assert [r["Rack type"] for r in types] == list(plan["rack_types"])
    assert sum(r["Racks in facility"] for r in types) == sum(h["racks"] for h in plan["halls"])


def test_power_tree_failures_and_cdu_sheets(power_plan):
    plan = power_plan
    wb = _open(plan)
    assert {"Power", "Failures", "CDU groups"} <= set(wb.sheetnames)
    elements = _table(wb["Power"])
    assert [e["Element"] for e in elements] == [e["name"] for e in plan["power"]["elements"]]
    for line, e in zip(elements, plan["power"]["elements"]):
        assert line["Rating (kW)"] == pytest.approx(e["kw"])
        assert line["Normal load (kW)"] == pytest.approx(e["normal_kw"])
        assert line["Worst load (kW)"] == pytest.approx(e["worst_kw"])
        assert line["Worst after losing"] == (e["worst_failure"] or "none")
        assert line["Headroom (kW)"] == pytest.approx(e["kw"] - e["worst_kw"])
    failures = _table(wb["Failures"])
    assert [f["Lost"] for f in failures] == [f["failure"] for f in plan["power"]["failures"]]
    for line, f in zip(failures, plan["power"]["failures"]):
        assert line["Most loaded element left"] == f["most_loaded"]
        assert line["Its load (kW)"] == pytest.approx(f["load_kw"])
    cdus = _table(wb["CDU groups"])
    assert [(g["Hall"], g["CDU group"]) for g in cdus] == [(g["hall"], g["name"]) for g in plan["cdus"]]
    for line, g in zip(cdus, plan["cdus"]):
        assert line["Liquid heat (kW)"] == pytest.approx(g["liquid_kw"])
        assert line["Usable (kW)"] == pytest.approx(g["usable_kw"])
    rows = _table(wb["Rows"])
    assert rows[0]["Panels (one per feed path)"] == "P1A, P1B" and rows[0]["CDU group"] == "CDU-1"


def test_same_plan_same_file(plans):
    assert racks_xlsx(plans["contract"]) == racks_xlsx(plans["contract"])


def test_campus_scale(big_plan):
    """About 10,000 used racks: every rack a line (how long writing takes is a benchmark's figure)."""
    data = racks_xlsx(big_plan)
    ws = openpyxl.load_workbook(io.BytesIO(data), read_only=True)["Racks"]
    ids = [r[0] for r in ws.iter_rows(min_row=2, max_col=1, values_only=True) if r[0]]
    assert len(ids) == len(big_plan["racks"]) + 1  # and the note under the table


def test_plan_command_writes_the_workbook(tmp_path, capsys):
    from conftest import ROOT
    from planner.cli import main

    out = tmp_path / "out"
    assert main(["plan", str(ROOT / "facilities" / "contract-example.yaml"), "--nodes", "b200-8x-air=6",
                 "-o", str(out), "-q"]) == 0
    assert "racks.xlsx" in capsys.readouterr().out
    wb = openpyxl.load_workbook(out / "racks.xlsx")
    import json

    plan = json.loads((out / "plan.json").read_text())
    assert [r["Rack"] for r in _table(wb["Racks"])] == [r["id"] for r in plan["racks"]]
    assert not list(out.glob(".rackplan-*")), "no staging directory left behind"


def test_workbook_failure_writes_nothing(tmp_path, monkeypatch):
    """racks.xlsx is part of the all-or-nothing output set: if it cannot be made, no file changes."""
    from conftest import ROOT
    from planner import api
    from planner.inputs.demand import Demand
    from planner.inputs.facility import load_facility
    from planner.inputs.specs import load_catalogue

    out = tmp_path / "out"
    out.mkdir()
    (out / "plan.json").write_text("old")
    run = api.run_plan(load_facility(ROOT / "facilities" / "contract-example.yaml"), load_catalogue(),
                       Demand("nodes", nodes={"b200-8x-air": 2}))

    def broken(*_a, **_k):
        raise RuntimeError("no room")

    monkeypatch.setattr("planner.results.excel.racks_xlsx", broken)
    with pytest.raises(RuntimeError):
        api.write_plan(run, out)
    assert sorted(p.name for p in out.iterdir()) == ["plan.json"]
    assert (out / "plan.json").read_text() == "old"
