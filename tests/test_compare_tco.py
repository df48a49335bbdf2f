"""Prices, TCO per useful unit, the verdict and break-even of ``rackplan compare`` (issue 10)."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from planner.inputs.facility import load_facility
from planner.inputs.specs import Figure, load_catalogue
from planner.studies.compare import run_compare, tdp_search_range
from planner.studies.tco import (PriceInput, annual_cost_usd, capital_recovery_factor, choose_prices,
                                 merge_inputs, priced_catalogue, unit_costs)

ROOT = Path(__file__).resolve().parents[1]
AI_HALL = str(ROOT / "facilities" / "ai-hall.yaml")
COLO = str(ROOT / "facilities" / "colo-brownfield-208v.yaml")
SVG = "{http://www.w3.org/2000/svg}"


def rackplan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


# --- money, by hand ---------------------------------------------------------------------------------

def test_capital_recovery_factor_by_hand():
    assert capital_recovery_factor(0.0, 4) == pytest.approx(0.25)  # straight line
    # r (1+r)^n / ((1+r)^n - 1) at 8 % over 4 years: 0.08 x 1.36048896 / 0.36048896 = 0.30192080
    assert capital_recovery_factor(0.08, 4) == pytest.approx(0.3019208, rel=1e-6)
    assert annual_cost_usd(515_000, "buy", 4, 0.0) == pytest.approx(128_750)
    assert annual_cost_usd(515_000, "buy", 4, 0.08) == pytest.approx(515_000 * 0.3019208, rel=1e-6)
    assert annual_cost_usd(25_000, "rent") == 300_000
    with pytest.raises(ValueError):
        capital_recovery_factor(0.05, 0)


def test_unit_costs_by_hand():
    u = unit_costs(8_760_000.0, gpus=1000, fp8_pflops=4500.0, hbm_tb=180.0)
    assert u["usd_per_gpu_hour"] == pytest.approx(1.0)  # 8,760,000 / (1,000 x 8,760 h)
    assert u["usd_per_pflops_year"] == pytest.approx(8_760_000 / 4500)
    assert u["usd_per_tb_hbm_year"] == pytest.approx(8_760_000 / 180)
    assert unit_costs(1.0, 0, 0, 0)["usd_per_gpu_hour"] is None


def test_rent_or_buy_is_chosen_per_candidate_and_shown(cat):
    both = {"b200-8x-dlc": PriceInput(price_usd=Figure(nominal=515_000), rent_usd_month=Figure(nominal=40_000),
                                      origin="demand file x")}
    ch = choose_prices(cat, ["b200-8x-dlc", "mi400-8x"], both, years=4, rate=0.0)
    b = ch["b200-8x-dlc"]
    # buying: 128,750 a year; renting: 480,000 a year -> buy, the rent shown beside it
    assert b.basis == "buy" and b.annual() == pytest.approx(128_750) and "cheaper" in b.why
    assert b.other == {"basis": "rent", "price": 40_000, "annual_usd": 480_000}
    # no price given: the library's, where it has one; else none (nodes cost 0, and the verdict says so)
    assert ch["mi400-8x"] is None or ch["mi400-8x"].origin == "spec library"
    # a user who gives only a rent rents, even where the library knows a purchase price
    only_rent = {"b200-8x-dlc": PriceInput(rent_usd_month=Figure(nominal=40_000))}
    assert choose_prices(cat, ["b200-8x-dlc"], only_rent)["b200-8x-dlc"].basis == "rent"
    named = merge_inputs(both, {"b200-8x-dlc": PriceInput(basis="rent", origin="--price")})
    assert choose_prices(cat, ["b200-8x-dlc"], named)["b200-8x-dlc"].basis == "rent"
    from planner.errors import InputError

    with pytest.raises(InputError, match="no purchase price"):
        choose_prices(cat, ["mi400-8x"], {"mi400-8x": PriceInput(basis="buy")})


def test_price_reaches_the_plan_through_the_catalogue(cat):
    ch = choose_prices(cat, ["b200-8x-dlc"], {"b200-8x-dlc": PriceInput(rent_usd_month=Figure(nominal=40_000))})
    priced = priced_catalogue(cat, ch)
    from planner.inputs.specs import resolve

    assert resolve(priced, "b200-8x-dlc").annual_cost_usd == 480_000
    assert resolve(cat, "b200-8x-dlc").annual_cost_usd == 0.0  # the original is untouched
    src = priced.nodes["b200-8x-dlc"].annual_cost_usd.sources
    assert src and "rent at $40,000 per node-month" in priced.sources[src[0]].title


# --- compare -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def priced_compare(tmp_path_factory):
    out = tmp_path_factory.mktemp("c") / "c"
    res = rackplan("compare", AI_HALL, "--candidates", "mi400-8x,b200-8x-dlc", "--gpus", "1024",
                   "--price", "mi400-8x=25000/month", "--price", "b200-8x-dlc=515000", "--years", "4",
                   "--discount-rate", "0.08", "-o", str(out))
    assert res.returncode == 0, res.stderr
    return out, res


def test_compare_prints_the_verdict_first_and_prices_the_nodes(priced_compare):
    out, res = priced_compare
    first = res.stdout.splitlines()[0]
    assert re.match(r"At nominal figures (mi400-8x|b200-8x-dlc) is cheaper per GPU-hour than", first), first
    doc = json.loads((out / "compare.json").read_text())
    rows = {(r["candidate"], r["point"]): r for r in doc["rows"]}
    b = rows[("b200-8x-dlc", "nominal")]
    annual = 515_000 * capital_recovery_factor(0.08, 4)
    assert b["annual_usd"]["nodes"] == pytest.approx(128 * annual, rel=1e-6)
    assert b["tco"]["usd_per_gpu_hour"] == pytest.approx(b["annual_usd"]["total"] / (1024 * 8760), rel=1e-6)
    assert b["tco"]["usd_per_pflops_year"] == pytest.approx(b["annual_usd"]["total"] / b["fp8_pflops"], rel=1e-6)
    assert b["tco"]["racks"] == b["racks_used"] and b["tco"]["floor_m2"] == pytest.approx(0.72 * b["racks_used"])
    m = rows[("mi400-8x", "nominal")]
    assert m["annual_usd"]["nodes"] == pytest.approx(128 * 25_000 * 12)
    assert doc["prices"]["mi400-8x"]["basis"] == "rent" and doc["prices"]["b200-8x-dlc"]["basis"] == "buy"
    assert doc["cooling_note"] is None  # liquid against liquid
    assert doc["ranking"].startswith("annual cost per GPU-hour")
    # the terminal says what each node was priced at, after the verdict
    said = " ".join(line.strip() for line in res.stdout.splitlines())
    for nid in ("mi400-8x", "b200-8x-dlc"):
        assert f"price {nid}: {doc['prices'][nid]['text']}" in said


def test_priced_plans_recheck_against_the_library_alone(priced_compare):
    out, _ = priced_compare
    assert not (out / "priced-specs.yaml").exists()
    doc = json.loads((out / "compare.json").read_text())
    for row in doc["rows"]:
        ok = rackplan("check", str(out / row["plan_file"]), AI_HALL)
        assert ok.returncode == 0, ok.stdout
        plan = json.loads((out / row["plan_file"]).read_text())
        # the same placement; the row adds the price of its nodes
        assert plan["totals"]["racks_used"] == row["racks_used"]
        assert row["annual_usd"]["total"] == pytest.approx(
            plan["totals"]["annual_usd"]["total"] - plan["totals"]["annual_usd"]["nodes"] + row["annual_usd"]["nodes"],
            abs=0.02)
    prices = [a for a in doc["assumptions"] if a["figure"] in ("price_usd", "rent_usd_month")]
    assert {a["node"] for a in prices} == {"mi400-8x", "b200-8x-dlc"}


def test_compare_html_leads_with_the_verdict_and_draws_the_costs(priced_compare):
    out, _ = priced_compare
    html = (out / "compare.html").read_text()
    assert html.index('class="verdict"') < html.index('id="side-by-side"')
    assert "Cost of ownership" in html and "per GPU-hour" in html
    cost = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="rp-chart rp-cost".*?</svg>', html, re.S)
    svg = ET.fromstring(cost[0])
    groups = [g for g in svg.iter(f"{SVG}g") if "cand" in (g.get("class") or "").split()]
    assert [g.get("data-candidate") for g in groups] == ["mi400-8x", "b200-8x-dlc"]
    parts = [r for r in groups[1].iter(f"{SVG}rect") if r.get("data-part")]
    assert [r.get("data-part") for r in parts] == ["Energy", "Cooling", "Racks", "Nodes"]
    assert "<script" not in html.lower()


def test_compare_csv_gives_the_reason_for_every_no_plan(tmp_path):
    res = rackplan("compare", COLO, "--candidates", "mi400-8x,b200-8x-air", "--gpus", "64", "-q",
                   "-o", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "c" / "compare.csv").read_text())))
    no_plan = [r for r in rows if r["status"] == "no_plan"]
    assert no_plan and all("liquid" in r["reason"] for r in no_plan)
    # a comparison mixing air and liquid says so, in the terminal and the page
    assert "mixes cooling types" in res.stdout
    assert "mixes cooling types" in (tmp_path / "c" / "compare.html").read_text()
    doc = json.loads((tmp_path / "c" / "compare.json").read_text())
    (f,) = doc["break_even"]
    # no break-even, for its real reason: this colo has no rack with a liquid loop
    assert not f["found"] and f["range_w"] == [900.0, 2500.0] and "liquid" in f["note"]


def test_break_even_spans_the_whole_disputed_range(cat):
    lo, hi, note = tdp_search_range(cat, "mi400")
    assert (lo, hi) == (900.0, 2500.0) and "mi455x" in note  # the MI455X estimates top out at 2.5 kW
    loaded = load_facility(AI_HALL)
    prices = {"mi400-8x": PriceInput(rent_usd_month=Figure(nominal=25_000)),
              "b200-8x-dlc": PriceInput(rent_usd_month=Figure(nominal=40_000))}
    said: list[str] = []
    res = run_compare(loaded, cat, ["mi400-8x", "b200-8x-dlc"], {"gpus": 1024}, False, prices=prices,
                      time_limit=60, progress=said.append)
    (f,) = res.doc["break_even"]
    # each TDP tried is solved once and named apart: probes 0.7 W apart show a decimal
    tries = [line for line in said if "trying" in line]
    assert len(tries) >= 5 and len(set(tries)) == len(tries)
    # the rent gap keeps MI400 cheaper until the hall cannot take 128 nodes at all (about 1.6 kW a GPU)
    assert f["found"] and 1500 < f["tdp_w"] < 1750 and f["no_plan_above_w"] is not None
    assert "cooling" in f["reason"] and "never cross" in f["note"]


def test_ranges_print_in_the_unit_of_the_value(priced_compare):
    out, _ = priced_compare
    doc = json.loads((out / "compare.json").read_text())
    max_kw = [a for a in doc["assumptions"] if a["node"] == "mi400-8x" and a["figure"] == "max_kw"]
    for a in max_kw:
        # node power 8 x TDP + overhead at low / nominal / high, not the overhead's 2.4 - 3 - 3.6 kW
        assert (a["low"], a["nominal"], a["high"]) == pytest.approx((9.6, 11.0, 12.4))
        assert a["low"] <= a["value"] <= a["high"]
    fp8 = [a for a in doc["assumptions"] if a["node"] == "mi400-8x" and a["figure"] == "fp8_pflops"]
    assert fp8 and all(a["low"] <= a["value"] <= a["high"] < 100 for a in fp8)  # PFLOPS per node, not TFLOPS


def test_demand_file_prices_and_flags_override_in_order(tmp_path):
    demand = tmp_path / "d.yaml"
    demand.write_text("target: {gpus: 1024}\ncandidates: [mi400-8x, b200-8x-dlc]\n"
                      "prices:\n  mi400-8x: {rent_usd_month: 25000, source: a quote}\n"
                      "  b200-8x-dlc: {price_usd: 515000}\nyears: 5\n")
    res = rackplan("compare", AI_HALL, "--demand", str(demand), "--price", "mi400-8x=20000/month", "-q",
                   "--no-break-even", "-o", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert doc["prices"]["mi400-8x"]["nominal"] == 20_000 and doc["prices"]["mi400-8x"]["origin"] == "--price"
    assert doc["prices"]["b200-8x-dlc"]["annual_usd"] == pytest.approx(103_000)  # 515,000 / 5 years
    bad = rackplan("compare", AI_HALL, "--demand", str(demand), "--price", "nosuch=1", "-o", str(tmp_path / "x"))
    assert bad.returncode == 2 and "unknown node id 'nosuch'" in bad.stderr
    bad = rackplan("compare", AI_HALL, "--demand", str(demand), "--price", "mi400-8x=cheap", "-o", str(tmp_path / "x"))
    assert bad.returncode == 2 and "--price" in bad.stderr


def test_old_imports_of_the_compare_report_still_work(compare_doc):
    from planner.report import compare_views, views

    assert views.render_compare is compare_views.render_compare
    html = views.render_compare(compare_doc)  # a document from before prices renders too
    assert "b200-8x-air" in html and 'class="verdict"' in html


def test_placement_controls_of_the_demand_file_hold_in_compare_and_sweep(tmp_path):
    demand = tmp_path / "d.yaml"
    demand.write_text("target: {gpus: 512}\ncandidates: [mi400-8x, b200-8x-dlc]\nexclude: [hall-1/A]\n"
                      "prices:\n  mi400-8x: {rent_usd_month: 25000}\n  b200-8x-dlc: {rent_usd_month: 40000}\n")
    res = rackplan("compare", AI_HALL, "--demand", str(demand), "--no-break-even", "-q", "-o", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    for plan in (tmp_path / "c" / "plans").iterdir():
        doc = json.loads(plan.read_text())
        assert doc["demand"]["exclude"] == ["hall-1/A"] and all(r["row"] != "A" for r in doc["racks"])
    res = rackplan("sweep", AI_HALL, "--demand", str(demand), "--samples", "3", "--engine", "serial", "-q",
                   "--no-tornado", "-o", str(tmp_path / "s"))
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "s" / "sweep-meta.json").read_text())["setup"]["controls"]["exclude"] == ["hall-1/A"]


def test_a_bought_against_a_rented_candidate_is_said_and_no_plan_above_an_edge_is_named(cat):
    """The README's example: MI400 rented against B200 bought. The verdict says the bases differ, as
    ``plan`` does, and the break-even, where MI400 ranks worse at every TDP it has a plan for, names the
    TDP above which it has none rather than calling the whole range worse."""
    prices = {"mi400-8x": PriceInput(rent_usd_month=Figure(nominal=25_000)),
              "b200-8x-dlc": PriceInput(price_usd=Figure(nominal=515_000))}
    res = run_compare(load_facility(AI_HALL), cat, ["mi400-8x", "b200-8x-dlc"], {"gpus": 1024}, False,
                      prices=prices, years=4, discount_rate=0.08, time_limit=60)
    notes = res.doc["verdict"]["notes"]
    assert any(n.startswith("the candidates are priced on different bases (mi400-8x rent, b200-8x-dlc buy)")
               for n in notes), notes
    (f,) = res.doc["break_even"]
    assert not f["found"] and 1500 < f["no_plan_above_w"] < 1750 and "cooling" in f["reason"]
    assert re.fullmatch(r"no break-even: mi400-8x ranks worse than b200-8x-dlc over the whole range 900-2,500 W "
                        r"where it has a plan; above about 1,6\d\d W it has none \(hall .*cooling.*\)", f["note"]), f["note"]
