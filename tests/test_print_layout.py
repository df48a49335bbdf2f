"""Rack numbers on the floor layout's tiles (so a printed floor can be read without hover titles), and
a tall hall drawn in parts that a printed page can break between, all at one scale."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from planner.report.drawing import FloorLayout, FloorRow

SVG = "{http://www.w3.org/2000/svg}"


def _svgs(html: str) -> list[ET.Element]:
    out, at = [], 0
    while (start := html.find('<svg xmlns="http://www.w3.org/2000/svg" class="rp-floor"', at)) >= 0:
        end = html.index("</svg>", start) + len("</svg>")
        out.append(ET.fromstring(html[start:end]))
        at = end
    return out


def _groups(svg: ET.Element, cls: str) -> dict[str, ET.Element]:
    return {g.get("data-row"): g for g in svg.iter(f"{SVG}g") if cls in (g.get("class") or "").split()}


def _numbers(layout: FloorLayout) -> dict[str, list[int]]:
    svg = ET.fromstring(str(layout.render()))
    return {row: [int(t.text) for t in g.iter(f"{SVG}text")] for row, g in _groups(svg, "rn").items()}


def test_small_hall_numbers_every_tile_inside_its_tile():
    rows = [FloorRow("A", ["e"] * 12), FloorRow("B", ["u4", "u1", "x"] + ["e"] * 17)]
    layout = FloorLayout("h", rows)
    assert layout.numbers_fit and layout.number_every == 1
    svg = ET.fromstring(str(layout.render()))
    tiles, numbers = _groups(svg, "row"), _groups(svg, "rn")
    assert list(numbers) == ["A", "B"]
    for name, row in zip("AB", rows):
        rects = list(tiles[name].iter(f"{SVG}rect"))
        texts = list(numbers[name].iter(f"{SVG}text"))
        assert [int(t.text) for t in texts] == list(range(1, len(row.tiles) + 1))
        assert numbers[name].get("transform") == tiles[name].get("transform")
        for rect, text in zip(rects, texts):  # centred on its own tile
            x0, w = float(rect.get("x")), float(rect.get("width"))
            assert float(text.get("x")) == pytest.approx(x0 + w / 2)
            y0 = float(rect.get("y") or 0)
            assert y0 < float(text.get("y")) < y0 + float(rect.get("height"))
    # white digits on the two darkest shades only
    b = list(numbers["B"].iter(f"{SVG}text"))
    assert b[0].get("class") == "d" and b[1].get("class") is None and b[2].get("class") is None


def test_long_rows_number_every_fifth_and_wrapped_lines():
    row = FloorRow("LONG", ["e"] * 150 + ["u2"] * 10)
    layout = FloorLayout("h", [row])
    assert not layout.numbers_fit  # 3-digit numbers do not fit 9 px tiles
    assert layout.number_every == 5 and not layout.number_used
    shown = _numbers(layout)["LONG"]
    assert shown == [1] + list(range(5, 161, 5))


def test_big_hall_numbers_every_fifth_plus_used_racks_when_few():
    tiles = ["e"] * 40
    tiles[6] = "u1"  # rack 7
    rows = [FloorRow(f"R{k:02d}", list(tiles)) for k in range(70)]  # 2,800 positions: too many for all
    layout = FloorLayout("h", rows)
    assert layout.numbers_fit and layout.number_every == 5 and layout.number_used
    assert _numbers(layout)["R00"] == [1, 5, 7, 10, 15, 20, 25, 30, 35, 40]
    many = [FloorRow(f"R{k:02d}", ["u0"] * 40) for k in range(70)]  # 2,800 used: only every fifth
    assert not FloorLayout("h", many).number_used
    assert _numbers(FloorLayout("h", many))["R00"] == [1, 5, 10, 15, 20, 25, 30, 35, 40]


def test_tall_hall_in_parts_at_one_scale():
    rows = [FloorRow(f"R{k:03d}", ["e"] * 50) for k in range(100)]
    layout = FloorLayout("h", rows)
    parts = layout.render_parts()
    assert len(parts) > 1
    svgs = [ET.fromstring(str(p)) for p in parts]
    assert {s.get("width") for s in svgs} == {str(layout.width)}
    assert all(float(s.get("height")) <= layout.PART_H for s in svgs)
    assert [s.get("data-part") for s in svgs] == [str(k) for k in range(1, len(parts) + 1)]
    names = [name for s in svgs for name in _groups(s, "row")]
    assert names == [r.name for r in rows]  # every row once, in order
    assert sum(len(list(g.iter(f"{SVG}rect"))) for s in svgs for g in _groups(s, "row").values()) == 5000
    assert FloorLayout("h", rows[:5]).render_parts() == [FloorLayout("h", rows[:5]).render()]


def test_report_floor_numbers(plans, rendered):
    plan = plans["contract"]
    html = rendered["contract"]
    for svg in _svgs(html):
        hall = svg.get("data-hall")
        numbers = _groups(svg, "rn")
        for row in (r for r in plan["rows"] if r["hall"] == hall):
            assert [int(t.text) for t in numbers[row["row"]].iter(f"{SVG}text")] == list(range(1, row["racks"] + 1))
    assert "each with its rack number in the row" in html


def test_campus_report_numbers_stay_lean(big_plan, big_html):
    html = big_html
    svgs = _svgs(html)
    positions = sum(r["racks"] for r in big_plan["rows"])
    numbers = sum(len(list(g.iter(f"{SVG}text"))) for s in svgs for g in _groups(s, "rn").values())
    assert positions >= 30_000
    assert numbers <= positions // 5 + len(big_plan["rows"]), numbers  # every fifth and each row's first
    assert len(svgs) > len(big_plan["halls"])  # tall halls in parts
    assert "numbered every fifth rack" in html
