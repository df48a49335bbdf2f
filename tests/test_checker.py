"""The independent checker, rule by rule: for every rule in ``checker.RULES`` a real plan that passes,
edited (or checked against an edited facility) so that it breaks that rule and no other, with the
rule's exact message and hand-computed numbers. Then ``rackplan report`` and ``rackplan check`` on
hand-edited plans, and the contract's power example end to end.

The tiny facility of ``tests/helpers.py``: rack type ``air-35`` is 42 U, 35 kW of air, 1,400 kg, one
415 V 3-ph 60 A feed per side under 2N: 415 x 60 x sqrt(3) x 0.95 x 0.8 / 1000 = 32.777 kW per feed.
Most plans here give it an overhead of 2 U, 1.0 kW and 40 kg, and place two B200 (14.3 kW, 10 U,
142.4 kg, 8 GPUs, air) in one rack: 2 x 14.3 + 1.0 = 29.6 kW of power and air heat, 2 x 10 + 2 = 22 U,
2 x 142.4 + 40 = 324.8 kg. Many limits below sit between the figure without the overhead and the
figure with it, so the test also proves the overhead is counted.
"""

from __future__ import annotations

import copy
import html
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.inputs.demand import Demand, from_cli
from planner.inputs.facility import Facility, LoadedFacility, check_facility
from planner.inputs.specs import Catalogue, NodeType, load_catalogue
from planner.optimize.placement import optimize
from planner.results import checker
from planner.results.checker import (
    BOOKKEEPING_RULES,
    LIMIT_RULES,
    RULES,
    check_cdus,
    check_costs,
    check_placement_controls,
    check_demand,
    check_form_factor,
    check_hall_cooling,
    check_hall_it,
    check_liquid_loop,
    check_node_figures,
    check_plan,
    check_plant,
    check_positions,
    check_power_report,
    check_power_tree,
    check_rack_air_heat,
    check_rack_figures,
    check_rack_liquid_heat,
    check_rack_power,
    check_rack_space,
    check_rack_weight,
    check_row_cooling,
    check_structure,
    check_totals,
)
from planner.results.plan_json import build_plan
from tests.helpers import B200, DLC, KWH_B200, KWH_LIQ, LIQ, facility_dict, loaded, merge

ROOT = Path(__file__).resolve().parents[1]
POWER_EXAMPLE = next((p for p in (ROOT / "facilities" / "contract-power-example.yaml",
                                   ROOT.parent / "shared" / "contract" / "facility.power.example.yaml") if p.is_file()),
                     None)
"""The contract's power example: the bundled copy, else the shared one beside the repository."""

PRICE = 0.08
FEED_60A = 415 * 60 * math.sqrt(3) * 0.95 * 0.8 / 1000  # 32.777 kW
FEED_50A = 415 * 50 * math.sqrt(3) * 0.95 * 0.8 / 1000  # 27.314 kW
FEED_40A = 415 * 40 * math.sqrt(3) * 0.95 * 0.8 / 1000  # 21.852 kW

OVERHEAD = {"u": 2, "kw": 1.0, "weight_kg": 40}
AIR = facility_dict(rack_types={"air-35": {"overhead": OVERHEAD}})
"""The tiny facility with an overhead in every newly occupied air-35 rack."""


def hall(rows: list[dict] | None = None, **over: Any) -> dict:
    """Hall h1 of the tiny facility (4 x 1,000 kW cooling units, N+1; row A of 3 air-35 racks)."""
    h = {"name": "h1", "cooling_units": {"count": 4, "unit_kw": 1000, "redundant": 1},
         "rows": rows or [{"name": "A", "rack_type": "air-35", "racks": 3}]}
    return merge(h, over)


def with_rack_type(fdict: dict, name: str, **fields: Any) -> dict:
    """``fdict`` with these fields of a rack type replaced whole (``feed`` is not merged key by key)."""
    out = copy.deepcopy(fdict)
    out["rack_types"][name].update(copy.deepcopy(fields))
    return out


def fac_of(fdict: dict) -> Facility:
    """A facility from a whole descriptor (not merged into the helpers' one), cross-checked like a file."""
    fac = Facility.model_validate(fdict)
    check_facility(fac, "tiny.yaml")
    return fac


def plan_for(fdict: dict, types: list[NodeType], nodes: dict[str, int]) -> tuple[Facility, dict[str, Any], str]:
    """(facility, plan, id of its first rack): a real, optimal plan that passes the checker, so that
    the edit each test makes is what breaks it."""
    lf = LoadedFacility(fac_of(fdict), "tiny.yaml", "0" * 64)
    demand = Demand("nodes", nodes=nodes)
    placement = optimize(lf.facility, types, demand, gap_rel=0.0)
    plan = build_plan(lf, Catalogue(), types, demand, placement, {})
    report = check_plan(lf.facility, plan)
    assert report.passed, report.violations
    for r in plan["racks"]:  # positions are optional; the tests that want them add their own
        r.pop("positions", None)
    return lf.facility, plan, plan["racks"][0]["id"]


def only(report: checker.CheckReport, rule: checker.Rule, messages: list[str]) -> None:
    """The report holds exactly these messages, all from ``rule``: no other rule fired."""
    assert report.by_rule == {rule.__name__: messages}
    assert report.violations == messages
    assert report.limit_violations == (len(messages) if rule in LIMIT_RULES else 0)


# --- base plans -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def _air():
    return plan_for(AIR, [B200], {"b200": 2})


@pytest.fixture
def air(_air):
    """Two B200 in one air-35 rack with overhead: 29.6 kW, 22 U, 324.8 kg (a fresh copy per test)."""
    fac, plan, rid = _air
    return fac, copy.deepcopy(plan), rid


def test_the_air_plan_is_what_the_comments_say(air):
    fac, plan, rid = air
    assert [(r["id"], r["nodes"]) for r in plan["racks"]] == [(rid, {"b200": 2})]
    r = plan["racks"][0]
    assert (r["it_kw"], r["air_heat_kw"], r["liquid_heat_kw"], r["u_used"], r["weight_kg"]) == \
        pytest.approx((29.6, 29.6, 0.0, 22, 324.8))
    assert FEED_60A == pytest.approx(32.7773, abs=1e-4)
    assert fac.path_kw("air-35") == pytest.approx(FEED_60A)
    report = check_plan(fac, plan)
    assert report.passed and report.by_rule == {} and report.racks_checked == 1
    assert [r.__name__ for r in RULES] == [r.__name__ for r in LIMIT_RULES + BOOKKEEPING_RULES]


def test_every_rule_has_a_test_here():
    """Each rule of the checker is made to fire alone by a test named after it."""
    names = {n for n in globals() if n.startswith("test_")}
    missing = [r.__name__ for r in RULES if not any(n.startswith(f"test_{r.__name__}") for n in names)]
    assert not missing


def test_a_plan_of_another_schema_is_refused(air):
    fac, plan, _ = air
    plan["schema"] = "rackplan.plan/0"
    report = check_plan(fac, plan)
    assert report.violations == ["schema is 'rackplan.plan/0', expected 'rackplan.plan/1'"]
    assert report.limit_violations == 1


# --- check_structure --------------------------------------------------------------------------------

def test_check_structure_unknown_rack_id(air):
    fac, plan, _ = air
    plan["racks"].append(dict(copy.deepcopy(plan["racks"][0]), id="h1/Z/01", row="Z"))
    only(check_plan(fac, plan), check_structure, ["rack h1/Z/01: no such rack in facility 'tiny'"])


def test_check_structure_rack_listed_twice(air):
    fac, plan, rid = air
    plan["racks"].append(copy.deepcopy(plan["racks"][0]))
    only(check_plan(fac, plan), check_structure, [f"rack {rid}: listed twice"])


@pytest.mark.parametrize("key,value,shown", [
    ("hall", "h2", "h2/A/air-35"),
    ("row", "B", "h1/B/air-35"),
    ("rack_type", "rdhx-55", "h1/A/rdhx-55"),
])
def test_check_structure_wrong_hall_row_or_type(air, key, value, shown):
    fac, plan, rid = air
    plan["racks"][0][key] = value
    only(check_plan(fac, plan), check_structure,
         [f"rack {rid}: hall/row/rack_type {shown} do not match the facility's h1/A/air-35"])


@pytest.mark.parametrize("count", [0, -1, 1.5, True, "1"])
def test_check_structure_count_not_a_positive_integer(air, count):
    """A second node type with a bad count beside the two B200: nothing is added, so every figure of
    the plan still holds and only the count is wrong."""
    fac, plan, rid = air
    plan["node_types"]["liq"] = LIQ.contract_dict()
    plan["racks"][0]["nodes"]["liq"] = count
    only(check_plan(fac, plan), check_structure,
         [f"rack {rid}: count of liq is {count!r}, not a positive integer"])


def test_check_structure_unknown_node_type(air):
    fac, plan, rid = air
    plan["racks"][0]["nodes"]["b300"] = 1
    only(check_plan(fac, plan), check_structure, [f"rack {rid}: unknown node type b300"])


def test_check_structure_rack_without_nodes(air):
    fac, plan, rid = air
    other = next(f"h1/A/0{i}" for i in (1, 2, 3) if f"h1/A/0{i}" != rid)
    plan["racks"].append({"id": other, "hall": "h1", "row": "A", "rack_type": "air-35", "nodes": {}})
    plan["totals"]["racks_used"] = 2  # the checker counts every listed rack of the facility as used
    only(check_plan(fac, plan), check_structure, [f"rack {other}: listed without planned nodes"])


# --- check_rack_power -------------------------------------------------------------------------------

def test_check_rack_power_2n_side_lost(air):
    """A third B200 in the rack: 3 x 14.3 + 1.0 = 43.9 kW on the one side left > 32.78 kW. The
    bookkeeping is fixed up by hand so that only the power rule can catch it (checked against the
    same facility with air_kw 60, so that 43.9 kW of air heat fits)."""
    fac, plan, rid = air
    fac60 = fac_of(merge(AIR, {"rack_types": {"air-35": {"air_kw": 60}}}))
    broken = copy.deepcopy(plan)
    broken["racks"][0]["nodes"]["b200"] = 3

    # without the fix-up the limit breach comes first, then the bookkeeping it upsets
    report = check_plan(fac60, broken)
    power = f"rack {rid}: with one feed side lost, each surviving feed path carries 43.90 kW > 32.78 kW"
    assert report.violations[0] == power
    assert list(report.by_rule) == ["check_rack_power", "check_demand", "check_rack_figures", "check_totals",
                                    "check_costs"]
    assert report.limit_violations == 2  # the power breach and the demand (2 asked, 3 placed)

    r, t, usd = broken["racks"][0], broken["totals"], broken["totals"]["annual_usd"]
    broken["demand"]["nodes"]["b200"] = 3
    r.update(it_kw=43.9, air_heat_kw=43.9, u_used=32, weight_kg=467.2)        # + 14.3 kW, 10 U, 142.4 kg
    t.update(nodes={"b200": 3}, gpus=24, it_kw=43.9, fp8_pflops=108.0, hbm_tb=4.32)  # + 8 GPUs, 36 PF, 1.44 TB
    usd["energy"] += KWH_B200 * PRICE         # + 100,214.4 kWh x 0.08 = 8,017.15 USD
    usd["cooling"] += KWH_B200 * 0.45 * PRICE  # + air pPUE 1.45: 3,607.72 USD
    usd["total"] += KWH_B200 * 1.45 * PRICE
    only(check_plan(fac60, broken), check_rack_power, [power])


def tree_n1(feed_kw: float) -> dict:
    """N+1 with three paths of one feed: panels P1 and P2 on source S1, P3 on S2. Losing S1 takes two
    paths: the rack's whole load then rides on P3's one feed."""
    d = merge(AIR, {
        "power": {"sources": {"S1": {"kw": 1000}, "S2": {"kw": 1000}},
                  "panels": {"P1": {"source": "S1", "kw": 1000}, "P2": {"source": "S1", "kw": 1000},
                             "P3": {"source": "S2", "kw": 1000}}},
        "halls": [hall([{"name": "A", "rack_type": "air-35", "racks": 3, "panels": ["P1", "P2", "P3"]}])]})
    return with_rack_type(d, "air-35", power_redundancy="N+1", feeds=3, feed={"kw": feed_kw})


def test_check_rack_power_n_plus_1_two_paths_on_one_source():
    """Planned with 30 kW feeds (29.6 kW fits the one path left after S1 fails), checked against 20 kW
    feeds: its own N+1 loss leaves 29.6 / 2 = 14.8 kW per path (fits), so does each panel's loss; losing
    S1 leaves 29.6 kW on one path > 20 kW."""
    _, plan, rid = plan_for(tree_n1(30.0), [B200], {"b200": 2})
    report = check_plan(fac_of(tree_n1(20.0)), plan)
    only(report, check_rack_power, [f"rack {rid}: with S1 lost, each surviving feed path carries 29.60 kW > 20.00 kW"])


def test_check_rack_power_n_plus_1_its_own_loss():
    """N+1 with three 60 A feeds (no tree): any two carry 2 x 32.78 = 65.55 kW, so four B200 and the
    overhead (58.2 kW) fit one rack. With 40 A feeds (21.85 kW) the two left carry 29.1 kW each."""
    base = merge(AIR, {"rack_types": {"air-35": {"power_redundancy": "N+1", "feeds": 3,
                                                                  "air_kw": 60}}})
    _, plan, rid = plan_for(base, [B200], {"b200": 4})
    assert plan["racks"][0]["nodes"] == {"b200": 4}
    fac40 = fac_of(merge(base, {"rack_types": {"air-35": {"feed": {"amps": 40}}}}))
    assert fac40.path_kw("air-35") == pytest.approx(FEED_40A)
    only(check_plan(fac40, plan), check_rack_power,
         [f"rack {rid}: with 1 of its 3 feed paths lost, each surviving feed path carries 29.10 kW > 21.85 kW"])


def test_check_rack_power_n_with_its_feeds():
    """N with two feeds: they carry the rack together, 2 x 32.78 = 65.55 kW, so four B200 and the
    overhead (58.2 kW) fit one rack (one feed alone would not). With 40 A feeds: 2 x 21.85 = 43.70 kW."""
    base = merge(AIR, {"rack_types": {"air-35": {"power_redundancy": "N", "feeds": 2,
                                                                  "air_kw": 60}}})
    _, plan, rid = plan_for(base, [B200], {"b200": 4})
    assert plan["racks"][0]["nodes"] == {"b200": 4}
    fac40 = fac_of(merge(base, {"rack_types": {"air-35": {"feed": {"amps": 40}}}}))
    only(check_plan(fac40, plan), check_rack_power,
         [f"rack {rid}: with nothing lost, each surviving feed path carries 58.20 kW > 43.70 kW"])


# --- rack heat, space, weight, form factor ------------------------------------------------------------

def checked_against(fac_over: dict) -> Facility:
    """The air facility (with overhead) with these changes."""
    return fac_of(merge(AIR, fac_over))


def test_check_rack_air_heat(air):
    """29.6 kW of air heat (28.6 without the overhead) > 29 kW."""
    _, plan, rid = air
    only(check_plan(checked_against({"rack_types": {"air-35": {"air_kw": 29}}}), plan), check_rack_air_heat,
         [f"rack {rid}: air heat 29.60 kW > air_kw 29"])


DLC_EXISTING = {"rack": "h1/A/01", "kw": 10, "liquid_kw": 6, "u": 2, "weight_kg": 20}


def dlc_facility(cdu_unit_kw: float | None = None, cooling_unit_kw: float = 1000, **rack: Any) -> dict:
    """Row A of two dlc-130 racks (30 kW air, 120 kW liquid, 136.57 kW per feed), h1/A/01 holding 10 kW
    of which 6 kW go to liquid; optionally a CDU group of 3 units, N+1."""
    h = hall([{"name": "A", "rack_type": "dlc-130", "racks": 2}],
             cooling_units={"count": 4, "unit_kw": cooling_unit_kw, "redundant": 1})
    if cdu_unit_kw is not None:
        h["cdus"] = [{"name": "CDU-1", "rows": ["A"], "count": 3, "unit_kw": cdu_unit_kw, "redundant": 1}]
    return facility_dict(rack_types={"dlc-130": dict(DLC, **rack)}, halls=[h], existing=[DLC_EXISTING])


@pytest.fixture(scope="module")
def _dlc():
    """Four LIQ (11 kW, 80 % liquid) in the existing rack h1/A/01 (free, so the optimizer takes it):
    liquid 4 x 8.8 + 6 = 41.2 kW, air 4 x 2.2 + 4 = 12.8 kW, all heat 44 + 10 = 54 kW. The hall has a
    CDU group (3 x 30 kW, N+1: 60 kW) and room cooling of 4 x 15 kW, N+1 (45 kW): enough for the air
    heat, not for all heat, which it does not take in a hall with CDUs."""
    return plan_for(dlc_facility(cdu_unit_kw=30, cooling_unit_kw=15), [LIQ], {"liq": 4})


def test_the_dlc_plan_is_what_the_comments_say(_dlc):
    _, plan, rid = _dlc
    assert rid == "h1/A/01" and [r["nodes"] for r in plan["racks"]] == [{"liq": 4}]
    r = plan["racks"][0]
    assert (r["it_kw"], r["air_heat_kw"], r["liquid_heat_kw"]) == pytest.approx((54.0, 12.8, 41.2))


def test_check_rack_liquid_heat(_dlc):
    """41.2 kW (35.2 kW of it planned, 6 kW existing) > 40 kW."""
    _, plan, rid = _dlc
    fac = fac_of(dlc_facility(cdu_unit_kw=30, cooling_unit_kw=15, liquid_kw=40))
    only(check_plan(fac, plan), check_rack_liquid_heat, [f"rack {rid}: liquid heat 41.20 kW > liquid_kw 40"])


def test_check_cdus(_dlc):
    """41.2 kW of liquid heat > (3 - 1) x 20 = 40 kW usable (all three units would carry 60)."""
    _, plan, _ = _dlc
    only(check_plan(fac_of(dlc_facility(cdu_unit_kw=20, cooling_unit_kw=15)), plan), check_cdus,
         ["CDU group h1/CDU-1: liquid heat 41.20 kW > 40 kW usable (3 x 20 kW, N+1)"])


def test_check_hall_cooling_takes_only_air_heat_with_cdus(_dlc):
    """12.8 kW of air heat: 4 x 4 = 16 kW with no unit lost, 3 x 4 = 12 kW with one lost."""
    _, plan, _ = _dlc
    only(check_plan(fac_of(dlc_facility(cdu_unit_kw=30, cooling_unit_kw=4)), plan), check_hall_cooling,
         ["hall h1: air heat 12.80 kW > 12 kW with 1 of 4 cooling units lost (N+1 must survive 1)"])


def test_check_liquid_loop():
    """One B200 and the overhead (15.3 kW), then a LIQ added to the air rack by hand, its bookkeeping
    fixed up so that only the loop rule can catch it: 26.3 kW, 17.5 kW air, 8.8 kW liquid, 16 U,
    302.4 kg; the checker prices no cooling for a node in a rack that cannot cool it."""
    fac, plan, rid = plan_for(AIR, [B200], {"b200": 1})
    r, t, usd = plan["racks"][0], plan["totals"], plan["totals"]["annual_usd"]
    plan["node_types"]["liq"] = LIQ.contract_dict()
    plan["demand"]["nodes"]["liq"] = 1
    r["nodes"]["liq"] = 1
    r.update(it_kw=26.3, air_heat_kw=17.5, liquid_heat_kw=8.8, u_used=16, weight_kg=302.4)
    t.update(nodes={"b200": 1, "liq": 1}, gpus=16, it_kw=26.3, fp8_pflops=36.0 + 72.0, hbm_tb=1.44 + 2.688)
    usd["energy"] += KWH_LIQ * PRICE  # 77,088 kWh x 0.08 = 6,167.04 USD
    usd["total"] += KWH_LIQ * PRICE
    only(check_plan(fac, plan), check_liquid_loop,
         [f"rack {rid}: liquid-cooled liq in a 'air' rack without a liquid loop"])


def test_check_rack_space(air):
    """22 U used (20 without the overhead) > 21 U."""
    _, plan, rid = air
    only(check_plan(checked_against({"rack_types": {"air-35": {"u": 21}}}), plan), check_rack_space,
         [f"rack {rid}: 22 U used > 21 U"])


def test_check_rack_weight(air):
    """324.8 kg (284.8 without the overhead) > 300 kg."""
    _, plan, rid = air
    only(check_plan(checked_against({"rack_types": {"air-35": {"max_weight_kg": 300}}}), plan), check_rack_weight,
         [f"rack {rid}: 324.8 kg > max_weight_kg 300"])


def test_check_form_factor_rack(air):
    """The B200 is a 19-inch system; the same rack type as Open Rack V3."""
    _, plan, rid = air
    only(check_plan(checked_against({"rack_types": {"air-35": {"form_factor": "orv3"}}}), plan), check_form_factor,
         [f"rack {rid}: b200 is a eia-19 system in a orv3 rack"])


def test_check_form_factor_node(air):
    fac, plan, rid = air
    plan["node_types"]["b200"]["form_factor"] = "orw"
    only(check_plan(fac, plan), check_form_factor, [f"rack {rid}: b200 is a orw system in a eia-19 rack"])


# --- check_positions --------------------------------------------------------------------------------

def positioned(plan: dict, *units: Any) -> dict:
    plan["racks"][0]["positions"] = [{"node": "b200", "u": u} for u in units]
    return plan


@pytest.mark.parametrize("units", [(1, 11), (31, 21), (1, 31)])
def test_check_positions_that_fit_pass(air, units):
    """Units 1-40 are free below the 2 U overhead at 41-42."""
    fac, plan, _ = air
    assert check_plan(fac, positioned(plan, *units)).passed


@pytest.mark.parametrize("units,message", [
    ((1, 5), "b200 at units 5-14 overlaps units 1-10"),
    ((11, 11), "b200 at units 11-20 overlaps units 11-20"),
    ((1, 32), "b200 at units 32-41 is outside units 1-40 (the overhead takes the top)"),
    ((0, 11), "b200 at units 0-9 is outside units 1-40 (the overhead takes the top)"),
    ((1,), "positions place {'b200': 1} but the rack holds {'b200': 2}"),
    ((1, 11, 21), "positions place {'b200': 3} but the rack holds {'b200': 2}"),
])
def test_check_positions_overlap_overhead_count(air, units, message):
    fac, plan, rid = air
    only(check_plan(fac, positioned(plan, *units)), check_positions, [f"rack {rid}: {message}"])


def test_check_positions_not_a_whole_unit(air):
    fac, plan, rid = air
    positioned(plan, 1, 11)["racks"][0]["positions"][1]["u"] = "11"
    only(check_plan(fac, plan), check_positions,
         [f"rack {rid}: position {{'node': 'b200', 'u': '11'}} names no known node at a whole unit",
          f"rack {rid}: positions place {{'b200': 1}} but the rack holds {{'b200': 2}}"])


def test_check_positions_overlap_an_existing_entry():
    """h1/A/01 holds 4 U of existing equipment at units 1-4 (free rack: the B200 goes there; no overhead,
    so all 42 U are the rack's)."""
    fdict = facility_dict(existing=[{"rack": "h1/A/01", "kw": 5, "u": 4, "position": 1, "weight_kg": 50}])
    fac, plan, rid = plan_for(fdict, [B200], {"b200": 1})
    assert rid == "h1/A/01"
    assert check_plan(fac, positioned(copy.deepcopy(plan), 5)).passed
    assert check_plan(fac, positioned(copy.deepcopy(plan), 33)).passed  # 33-42: the top, no overhead here
    only(check_plan(fac, positioned(plan, 3)), check_positions, ["rack h1/A/01: b200 at units 3-12 overlaps units 1-4"])


# --- row, hall, plant -------------------------------------------------------------------------------

def test_check_row_cooling(air):
    """The row's heat, 29.6 kW, > its cooling_kw 29."""
    _, plan, _ = air
    fac = checked_against({"halls": [hall([{"name": "A", "rack_type": "air-35", "racks": 3, "cooling_kw": 29}])]})
    only(check_plan(fac, plan), check_row_cooling, ["row h1/A: heat 29.60 kW > cooling_kw 29"])


def test_check_hall_cooling_n_plus_k(air):
    """29.6 kW with 4 x 10 kW units: 40 kW with none lost, 30 with one, 20 with two. N+1 passes; N+2
    must survive two lost and does not."""
    _, plan, _ = air
    units = {"count": 4, "unit_kw": 10, "redundant": 1}
    assert check_plan(checked_against({"halls": [hall(cooling_units=units)]}), plan).passed
    report = check_plan(checked_against({"halls": [hall(cooling_units=dict(units, redundant=2))]}), plan)
    only(report, check_hall_cooling,
         ["hall h1: heat 29.60 kW > 20 kW with 2 of 4 cooling units lost (N+2 must survive 2)"])
    assert report.cooling_failures[0]["survives_units_lost"] == 1
    assert [s["ok"] for s in report.cooling_failures[0]["steps"]] == [True, True, False, False]


def test_check_hall_it(air):
    _, plan, _ = air
    only(check_plan(checked_against({"halls": [hall(it_kw=29)]}), plan), check_hall_it,
         ["hall h1: draws 29.60 kW > it_kw 29"])


def test_check_plant():
    """All heat of all halls: the plan's 29.6 kW and 5 kW of existing load in a full rack the plan does
    not use, 34.6 kW > (3 - 1) x 17 = 34 kW (all three units would carry 51)."""
    over = merge(AIR, {"existing": [{"rack": "h1/A/03", "kw": 5, "u": 42, "weight_kg": 100}]})
    fac, plan, rid = plan_for(over, [B200], {"b200": 2})
    assert rid != "h1/A/03"
    only(check_plan(fac_of(merge(over, {"plant": {"count": 3, "unit_kw": 17, "redundant": 1}})),
                    plan), check_plant, ["plant: heat 34.60 kW > 34 kW usable (3 x 17 kW, N+1)"])


# --- check_power_tree -------------------------------------------------------------------------------

def tree_2n(**over: Any) -> dict:
    """2N: side A on panel PA (source S1), side B on PB (S2); every element rated 100 kW."""
    return merge(merge(AIR, {
        "power": {"sources": {"S1": {"kw": 100}, "S2": {"kw": 100}},
                  "panels": {"PA": {"source": "S1", "kw": 100}, "PB": {"source": "S2", "kw": 100}}},
        "halls": [hall([{"name": "A", "rack_type": "air-35", "racks": 3, "panels": ["PA", "PB"]}])]}), over)


@pytest.fixture(scope="module")
def _tree():
    return plan_for(tree_2n(), [B200], {"b200": 2})


def test_check_power_tree_source_over_only_after_another_fails(_tree):
    """Normally S1 carries side A's half, 14.8 kW <= 20; after losing S2 (or its panel PB) it carries
    all 29.6 kW > 20."""
    _, plan, _ = _tree
    fac = fac_of(tree_2n(power={"sources": {"S1": {"kw": 20}}}))
    only(check_plan(fac, plan), check_power_tree,
         ["S1 after losing S2: carries 29.60 kW > 20 kW", "S1 after losing PB: carries 29.60 kW > 20 kW"])


def test_check_power_tree_panel_over_in_normal_operation():
    """A single-corded (N) row on one panel P1 (source S1): P1 carries the rack's 29.6 kW > 29 kW in
    normal operation; the only failures, S1 and P1, leave it nothing to carry."""
    def tree_n(panel_kw: float) -> dict:
        d = merge(AIR, {
            "power": {"sources": {"S1": {"kw": 100}}, "panels": {"P1": {"source": "S1", "kw": panel_kw}}},
            "halls": [hall([{"name": "A", "rack_type": "air-35", "racks": 3, "panels": ["P1"]}])]})
        return with_rack_type(d, "air-35", power_redundancy="N")

    _, plan, _ = plan_for(tree_n(100), [B200], {"b200": 2})
    only(check_plan(fac_of(tree_n(29)), plan), check_power_tree, ["P1 in normal operation: carries 29.60 kW > 29 kW"])


# --- check_power_report -----------------------------------------------------------------------------

def test_the_power_section_is_what_the_comments_say(_tree):
    fac, plan, _ = _tree
    got = {e["name"]: (e["normal_kw"], e["worst_kw"], e["worst_failure"]) for e in plan["power"]["elements"]}
    assert got == {"S1": (14.8, 29.6, "S2"), "S2": (14.8, 29.6, "S1"), "PA": (14.8, 29.6, "S2"),
                   "PB": (14.8, 29.6, "S1")}


@pytest.mark.parametrize("key,value,message", [
    ("worst_kw", 14.8, "power.elements S1: reports worst_kw 14.8, recomputed 29.600000"),
    ("normal_kw", 29.6, "power.elements S1: reports normal_kw 29.6, recomputed 14.800000"),
    ("name", "S9", "power.elements: unknown element 'S9'"),
])
def test_check_power_report(_tree, key, value, message):
    fac, plan, _ = _tree
    plan = copy.deepcopy(plan)
    plan["power"]["elements"][0][key] = value
    only(check_plan(fac, plan), check_power_report, [message])


# --- check_demand -----------------------------------------------------------------------------------

@pytest.mark.parametrize("demand,messages", [
    ({"kind": "nodes", "nodes": {"b200": 3}}, ["demand: 3 b200 asked, 2 placed"]),
    ({"kind": "nodes", "nodes": {"liq": 2}},
     ["demand: 2 liq asked, 0 placed", "demand: b200 placed but not asked for"]),
    ({"kind": "target", "target": {"gpus": 24}, "candidates": ["b200"]}, ["demand: target 24 gpus, plan reaches 16"]),
    ({"kind": "target", "target": {"fp8_pflops": 72.5}, "candidates": ["b200"]},
     ["demand: target 72.5 fp8_pflops, plan reaches 72"]),
    ({"kind": "target", "target": {"gpus": 16}, "candidates": ["liq"]}, ["demand: b200 placed but not a candidate"]),
    ({"kind": "fill", "fill": "liq"}, ["demand: b200 placed but fill asked for liq"]),
    ({"kind": "gpus"}, ["demand: unknown kind 'gpus'"]),
])
def test_check_demand(air, demand, messages):
    fac, plan, _ = air
    plan["demand"] = demand
    only(check_plan(fac, plan), check_demand, messages)


@pytest.mark.parametrize("demand", [
    {"kind": "target", "target": {"gpus": 16}, "candidates": ["b200", "liq"]},
    {"kind": "target", "target": {"hbm_tb": 2.88}, "candidates": ["b200"]},  # 2 x 1.44 TB
    {"kind": "fill", "fill": "b200"},
])
def test_check_demand_met(air, demand):
    fac, plan, _ = air
    plan["demand"] = demand
    assert check_plan(fac, plan).passed


def test_check_demand_target_metric_missing(air):
    fac, plan, _ = air
    del plan["node_types"]["b200"]["hbm_tb"]
    del plan["totals"]["hbm_tb"]
    plan["demand"] = {"kind": "target", "target": {"hbm_tb": 1}, "candidates": ["b200"]}
    only(check_plan(fac, plan), check_demand,
         ["demand: the plan gives no hbm_tb for b200, so the target cannot be checked",
          "demand: target 1 hbm_tb, plan reaches 0"])


# --- bookkeeping ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def library_plan():
    """Two DGX B200 from the spec library in the tiny facility (no overhead): 28.6 kW in one rack."""
    cat = load_catalogue()
    from planner.api import run_plan

    run = run_plan(loaded(), cat, from_cli(cat, nodes="b200-8x-air=2"))
    assert run.check.passed
    return cat, run.loaded.facility, run.plan


@pytest.mark.parametrize("key,value,library", [("max_kw", 13.0, 14.3), ("weight_kg", 100.0, 142.4), ("gpus", 4, 8),
                                               ("liquid_fraction", 0.5, 0.0), ("form_factor", "orw", "eia-19")])
def test_check_node_figures(library_plan, key, value, library):
    """A figure edited in the plan's node types: the checker recomputes with the library's, so every
    rack figure, total and cost still holds and only the figure itself is reported."""
    cat, fac, plan = library_plan
    plan = copy.deepcopy(plan)
    plan["node_types"]["b200-8x-air"][key] = value
    only(check_plan(fac, plan, cat), check_node_figures,
         [f"node type b200-8x-air: {key} {value} differs from the library's {library}"])


def test_check_node_figures_unknown_node(library_plan):
    cat, fac, plan = library_plan
    plan = copy.deepcopy(plan)
    plan["node_types"]["b900-8x-air"] = copy.deepcopy(plan["node_types"]["b200-8x-air"])
    only(check_plan(fac, plan, cat), check_node_figures,
         ["node type b900-8x-air is not in the spec library (pass the --specs file it was planned with)"])


@pytest.fixture(scope="module")
def priced_plan():
    """The same two DGX B200, priced: the library's purchase price, $515,000 per node, recovered over
    4 years at 0 % = $128,750 a node-year, so nodes cost 2 x 128,750 = $257,500 a year; and a user's
    $400,000 over 5 years at 8 %: 0.08 x 1.08^5 / (1.08^5 - 1) = 0.2504565 -> $100,182.58 a node-year."""
    from planner.api import run_plan
    from planner.studies.tco import PriceInput, plan_prices
    from planner.inputs.specs import Figure

    cat = load_catalogue()
    demand = from_cli(cat, nodes="b200-8x-air=2")
    out = {}
    for name, given, years, rate in (("library", None, 4, 0.0),
                                     ("user", {"b200-8x-air": PriceInput(price_usd=Figure(nominal=400_000))}, 5, 0.08)):
        priced, record = plan_prices(cat, demand, given, years, rate)
        run = run_plan(loaded(), priced, demand, prices=record)
        assert run.check.passed
        out[name] = run.plan
    return cat, run.loaded.facility, out


def test_priced_plans_are_what_the_comments_say(priced_plan):
    cat, fac, plans = priced_plan
    for name, each in (("library", 128_750.0), ("user", 100_182.58)):
        plan = plans[name]
        assert plan["prices"]["applied"] and plan["prices"]["note"] is None
        assert plan["node_types"]["b200-8x-air"]["annual_cost_usd"] == pytest.approx(each, abs=0.01)
        assert plan["totals"]["annual_usd"]["nodes"] == pytest.approx(2 * each, abs=0.02)
        assert check_plan(fac, plan, cat).passed  # against the library alone: the price is in the plan


def test_check_node_figures_annual_cost_against_the_recorded_price(priced_plan):
    """An annual cost edited in the node types, or the years its purchase is recovered over: the
    checker recomputes rent x 12 or price x capital recovery factor from the recorded price."""
    cat, fac, plans = priced_plan
    plan = copy.deepcopy(plans["library"])
    plan["node_types"]["b200-8x-air"]["annual_cost_usd"] = 100_000.0
    only(check_plan(fac, plan, cat), check_node_figures,
         ["node type b200-8x-air: annual_cost_usd 100000.0 differs from its price's 128750.0"])
    plan = copy.deepcopy(plans["user"])
    plan["prices"]["nodes"]["b200-8x-air"]["years"] = 4  # $400,000 x 0.3019208 = $120,768.32
    report = check_plan(fac, plan, cat)
    assert report.by_rule["check_node_figures"] == [  # the plan's own annual_usd, and the node's figure
        "node type b200-8x-air: prices.nodes annual_usd 100182.58 differs from its price's 120768.32",
        "node type b200-8x-air: annual_cost_usd 100182.58 differs from its price's 120768.32"]


def test_check_node_figures_a_library_price_is_the_librarys(priced_plan):
    """A price the plan says comes from the spec library but is not the library's."""
    cat, fac, plans = priced_plan
    plan = copy.deepcopy(plans["library"])
    plan["prices"]["nodes"]["b200-8x-air"]["nominal"] = 400_000.0
    report = check_plan(fac, plan, cat)
    assert report.by_rule["check_node_figures"] == [
        "node type b200-8x-air: prices.nodes buy nominal 400000.0 differs from the library's 515000.0",
        "node type b200-8x-air: prices.nodes annual_usd 128750.0 differs from its price's 100000.0",
        "node type b200-8x-air: annual_cost_usd 128750.0 differs from its price's 100000.0"]


def test_check_node_figures_a_price_that_cannot_be_read(priced_plan):
    cat, fac, plans = priced_plan
    plan = copy.deepcopy(plans["user"])
    plan["prices"]["nodes"]["b200-8x-air"]["basis"] = "lease"
    report = check_plan(fac, plan, cat)
    assert report.by_rule["check_node_figures"] == [
        "node type b200-8x-air: its price in prices.nodes (basis 'lease', nominal 400000.0, low None, high None) cannot be "
        "read"]


@pytest.mark.parametrize("key,value,recomputed", [
    ("it_kw", 28.6, "29.600000"),        # the overhead left out
    ("air_heat_kw", 30.6, "29.600000"),
    ("liquid_heat_kw", 1.0, "0.000000"),
    ("u_used", 20, "22.000000"),
    ("weight_kg", 284.8, "324.800000"),
])
def test_check_rack_figures(air, key, value, recomputed):
    fac, plan, rid = air
    plan["racks"][0][key] = value
    only(check_plan(fac, plan), check_rack_figures, [f"rack {rid}: reports {key} {value}, recomputed {recomputed}"])


@pytest.mark.parametrize("key,value,message", [
    ("nodes", {"b200": 3}, "totals.nodes {'b200': 3} != recomputed {'b200': 2}"),
    ("gpus", 17, "totals.gpus 17 != recomputed 16"),
    ("racks_used", 2, "totals.racks_used 2 != recomputed 1"),
    ("it_kw", 28.6, "totals.it_kw 28.6 != recomputed 29.600000"),  # 2 x 14.3 + the 1.0 kW overhead
    ("fp8_pflops", 70.0, "totals.fp8_pflops 70.0 != recomputed 72.000000"),  # 2 x 36
    ("hbm_tb", 2.0, "totals.hbm_tb 2.0 != recomputed 2.880000"),  # 2 x 1.44
])
def test_check_totals(air, key, value, message):
    fac, plan, _ = air
    plan["totals"][key] = value
    only(check_plan(fac, plan), check_totals, [message])


# energy: 2 x 14.3 kW x 0.8 x 8,760 h = 200,428.8 kWh, and the overhead's 1.0 kW x 8,760 h = 8,760 kWh,
# x 0.08 USD = 16,735.10 USD; cooling: 209,188.8 kWh x (1.45 - 1) x 0.08 = 7,530.80 USD; one air-35 rack
# 9,000 USD; no node prices; total 33,265.90 USD.
COSTS = {"energy": 16_735.104, "cooling": 7_530.7968, "racks": 9_000.0, "nodes": 0.0, "total": 33_265.9008}


def test_the_costs_are_what_the_comments_say(air):
    _, plan, _ = air
    assert plan["totals"]["annual_usd"] == pytest.approx(COSTS, abs=0.006)


@pytest.mark.parametrize("key", list(COSTS))
def test_check_costs(air, key):
    fac, plan, _ = air
    plan["totals"]["annual_usd"][key] += 1.0
    shown = plan["totals"]["annual_usd"][key]
    only(check_plan(fac, plan), check_costs, [f"totals.annual_usd.{key} {shown} != recomputed {COSTS[key]:.2f}"])


def test_check_costs_node_price():
    """A node with an annual price: 2 x 25,000 USD on top of energy, cooling and the rack."""
    priced = NodeType(**{**B200.__dict__, "annual_cost_usd": 25_000.0})
    fac, plan, _ = plan_for(AIR, [priced], {"b200": 2})
    assert plan["totals"]["annual_usd"]["nodes"] == 50_000.0
    plan["totals"]["annual_usd"]["nodes"] = 0.0
    plan["totals"]["annual_usd"]["total"] = 33_265.9
    only(check_plan(fac, plan), check_costs, ["totals.annual_usd.nodes 0.0 != recomputed 50000.00",
                                              "totals.annual_usd.total 33265.9 != recomputed 83265.90"])


# --- the command line -------------------------------------------------------------------------------

@pytest.fixture
def written_plan(tmp_path) -> Path:
    """``rackplan plan`` of two DGX B200 in the tiny facility (2N, 32.78 kW a side): one rack, 28.6 kW."""
    from planner.cli import main

    fac = tmp_path / "tiny.yaml"
    fac.write_text(yaml.safe_dump(facility_dict()))
    assert main(["plan", str(fac), "--nodes", "b200-8x-air=2", "-q", "-o", str(tmp_path / "out")]) == 0
    plan = tmp_path / "out" / "plan.json"
    assert json.loads(plan.read_text())["racks"][0]["nodes"] == {"b200-8x-air": 2}
    return plan


def add_a_node(path: Path) -> str:
    """A third DGX B200 in the plan's rack, by hand: 42.9 kW on the side left > 32.78 kW. Returns that
    violation."""
    plan = json.loads(path.read_text())
    plan["racks"][0]["nodes"]["b200-8x-air"] += 1
    path.write_text(json.dumps(plan))
    return (f"rack {plan['racks'][0]['id']}: with one feed side lost, each surviving feed path carries "
            f"42.90 kW > {FEED_60A:.2f} kW")


def test_report_refuses_a_plan_that_breaks_a_rack_power_limit(written_plan, capsys):
    from planner.cli import main

    violation = add_a_node(written_plan)
    capsys.readouterr()
    out = written_plan.parent / "edited.html"
    assert main(["report", str(written_plan), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0] == f"{written_plan}: {violation}"  # limit breaches first
    assert "no report written" in err and "--allow-failed" in err
    assert not out.exists()
    assert not written_plan.with_suffix(".html").exists()


def test_report_with_allow_failed_renders_a_failed_check_banner(written_plan, capsys):
    from planner.cli import main

    violation = add_a_node(written_plan)
    out = written_plan.parent / "edited.html"
    assert main(["report", str(written_plan), "-o", str(out), "--allow-failed"]) == 1
    cap = capsys.readouterr()
    assert f"{written_plan}: {violation}" in cap.err.splitlines()
    assert "FAILED CHECK banner" in cap.out
    page = out.read_text()
    banner = page[page.index('<div class="banner-failed"'):]
    banner = banner[:banner.index("</div>")]
    assert "<h2>FAILED CHECK</h2>" in banner and f"<li>{html.escape(violation)}</li>" in banner
    assert "Independent check: passed" not in page


def test_report_of_an_unedited_plan_has_no_banner(written_plan, capsys):
    from planner.cli import main

    out = written_plan.parent / "again.html"
    assert main(["report", str(written_plan), "-o", str(out)]) == 0
    assert "FAILED CHECK" not in out.read_text()


def test_check_without_a_facility_uses_the_one_in_the_plan(written_plan, capsys):
    """No facility argument: the plan is checked against ``facility.descriptor``. It passes; with the
    descriptor's feeds cut to 50 A (27.31 kW a side) the same racks fail, so the descriptor is what was
    checked."""
    from planner.cli import main

    capsys.readouterr()
    assert main(["check", str(written_plan)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {written_plan} (against the facility recorded in the plan): passed")
    plan = json.loads(written_plan.read_text())
    plan["facility"]["descriptor"]["rack_types"]["air-35"]["feed"]["amps"] = 50
    written_plan.write_text(json.dumps(plan))
    assert main(["check", str(written_plan)]) == 1
    rid = plan["racks"][0]["id"]
    assert f"{FEED_50A:.2f}" == "27.31"
    assert capsys.readouterr().out.splitlines() == [
        f"{written_plan}: rack {rid}: with one feed side lost, each surviving feed path carries 28.60 kW > 27.31 kW",
        f"{written_plan}: FAILED: 1 violation (1 limit breach, 0 bookkeeping mismatches)"]


# --- the contract's power example ---------------------------------------------------------------------

def test_the_contract_power_example_plans_and_passes_the_checker():
    """Exact counts in both halls (test_facilities fills hall 1 only): DLC nodes on the striped 2N
    busways and CDUs of hall 1, air nodes in the single-corded N rows of hall 2."""
    if POWER_EXAMPLE is None:
        pytest.skip("the contract's power example is neither in facilities/ nor in ../shared/contract/")
    from planner.api import run_plan
    from planner.inputs.facility import load_facility

    cat = load_catalogue()
    lf = load_facility(POWER_EXAMPLE)
    run = run_plan(lf, cat, from_cli(cat, nodes="b200-8x-dlc=60,b200-8x-air=8"))  # raises if the check fails
    report = check_plan(lf.facility, run.plan, cat)
    assert report.passed and report.by_rule == {}
    assert report.failures_simulated > len(lf.facility.power_elements())
    assert {e["name"] for e in run.plan["power"]["elements"]} == {n for n, _, _ in lf.facility.power_elements()}
    assert [g["name"] for g in run.plan["cdus"]] == ["CDU-1", "CDU-2"]
    assert run.plan["totals"]["nodes"] == {"b200-8x-dlc": 60, "b200-8x-air": 8}
    assert {r["hall"] for r in run.plan["racks"] if "b200-8x-air" in r["nodes"]} == {"hall-2"}
    # the single-corded rows of hall 2 lose power with their panel or UPS-1: allowed, and reported; which
    # of the two alike rows takes the air nodes is a tie (row A's panel is RPP-2A, row B's RPP-2B)
    air_rows = {r["row"] for r in run.plan["racks"] if "b200-8x-air" in r["nodes"]}
    assert air_rows and air_rows <= {"A", "B"}
    assert {d["failure"] for d in run.plan["power"]["dropped"]} == {"UPS-1"} | {f"RPP-2{row}" for row in air_rows}


# --- placement controls -------------------------------------------------------------------------------

@pytest.mark.parametrize("where, scope, message", [
    ("demand", {"exclude": ["h1/A"]}, "rack {rid}: nodes placed in excluded h1/A"),
    ("demand", {"reserved": ["{rid}"]}, "rack {rid}: nodes placed in reserved {rid}"),
    ("demand", {"only": ["h1/B"]}, "rack {rid}: nodes placed outside only (h1/B)"),
    ("facility", {"reserved": ["h1"]}, "rack {rid}: nodes placed in reserved h1"),
])
def test_check_placement_controls_scope(air, where, scope, message):
    """A plan whose rack breaks the demand's only/exclude/reserved, or the facility's reserved."""
    fac, plan, rid = air
    scope = {k: [s.format(rid=rid) for s in v] for k, v in scope.items()}
    if where == "demand":
        plan["demand"].update(scope)
        if "only" in scope:  # a row B to be 'only' in
            fac = checked_against({"halls": [{"name": "h1", "cooling_units": {"count": 4, "unit_kw": 1000,
                                                                              "redundant": 1},
                                              "rows": [{"name": "A", "rack_type": "air-35", "racks": 3},
                                                       {"name": "B", "rack_type": "air-35", "racks": 1}]}]})
    else:
        fac = checked_against(scope)
    only(check_plan(fac, plan), check_placement_controls, [message.format(rid=rid)])


def test_check_placement_controls_together(air):
    """Kept together in one hall, but one of the two racks is in hall h2."""
    fac, plan, rid = air
    two_halls = {"halls": [{"name": "h1", "cooling_units": {"count": 4, "unit_kw": 1000, "redundant": 1},
                            "rows": [{"name": "A", "rack_type": "air-35", "racks": 3}]},
                           {"name": "h2", "cooling_units": {"count": 4, "unit_kw": 1000, "redundant": 1},
                            "rows": [{"name": "A", "rack_type": "air-35", "racks": 3}]}]}
    fac = checked_against(two_halls)
    other = copy.deepcopy(plan["racks"][0])
    other.update(id="h2/A/01", hall="h2")
    for r in (plan["racks"][0], other):  # one node in each hall (the figures do not matter to this rule)
        r["nodes"] = {"b200": 1}
    plan["racks"].append(other)
    plan["demand"]["together"] = "hall"
    report = check_plan(fac, plan, rules=(check_placement_controls,))
    assert report.violations == ["demand: kept together in one hall, but nodes are in 2: h1, h2"]
    plan["demand"]["together"] = "row"  # h1/A and h2/A are two rows too
    assert check_plan(fac, plan, rules=(check_placement_controls,)).violations == [
        "demand: kept together in one row, but nodes are in 2: h1/A, h2/A"]


@pytest.mark.parametrize("edit,message", [
    ({"low": "abc", "status": "projected"}, "cannot be read"),
    ({"low": [1]}, "cannot be read"),
    ({"nominal": float("inf")}, "cannot be read"),
    ({"discount_rate": 5}, "a purchase needs years within (0, 30] and a discount rate within [0, 1)"),
    ({"years": 1e6}, "a purchase needs years within (0, 30] and a discount rate within [0, 1)"),
])
def test_check_node_figures_a_malformed_price_is_a_finding_not_a_crash(priced_plan, edit, message):
    """A hand-edited prices block: a finding of the node-figures rule, never an exception."""
    cat, fac, plans = priced_plan
    plan = copy.deepcopy(plans["user"])
    plan["prices"]["nodes"]["b200-8x-air"].update(edit)
    found = check_plan(fac, plan, cat).by_rule["check_node_figures"]
    assert len(found) == 1 and found[0].startswith("node type b200-8x-air: ") and message in found[0]


def test_check_node_figures_a_tiny_discount_rate_is_straight_line(priced_plan):
    """r = 1e-20 cannot be told from 0 in floating point: $400,000 / 5 years = $80,000, not a division by 0."""
    cat, fac, plans = priced_plan
    plan = copy.deepcopy(plans["user"])
    plan["prices"]["nodes"]["b200-8x-air"]["discount_rate"] = 1e-20
    assert check_plan(fac, plan, cat).by_rule["check_node_figures"] == [
        "node type b200-8x-air: prices.nodes annual_usd 100182.58 differs from its price's 80000.0",
        "node type b200-8x-air: annual_cost_usd 100182.58 differs from its price's 80000.0"]


def test_check_node_figures_an_unpriced_plan_charges_nothing(priced_plan):
    """A plan that records a node as not priced (prices.nodes.ID null): its annual cost must be 0."""
    cat, fac, plans = priced_plan
    plan = copy.deepcopy(plans["library"])
    plan["prices"] = {"applied": False, "nodes": {"b200-8x-air": None}}
    assert check_plan(fac, plan, cat).by_rule["check_node_figures"] == [
        "node type b200-8x-air: annual_cost_usd 128750.0 differs from its price's 0.0"]


@pytest.mark.parametrize("positions", [5, "1,2", {"node": "b200", "u": 1}])
def test_check_positions_that_are_not_a_list(air, positions):
    fac, plan, rid = air
    plan["racks"][0]["positions"] = positions
    only(check_plan(fac, plan), check_positions, [f"rack {rid}: positions {positions!r} is not a list of {{node, u}}"])


def test_check_node_figures_the_annual_cost_a_plan_says_its_price_comes_to(priced_plan):
    """The report shows a price from its figures, and the annual cost the plan says they come to must
    be theirs: an edited ``annual_usd`` is a finding; an edited ``text`` is never shown."""
    from planner.report.views import render_plan

    cat, fac, plans = priced_plan
    plan = copy.deepcopy(plans["library"])
    plan["prices"]["nodes"]["b200-8x-air"]["annual_usd"] = 1.0
    only(check_plan(fac, plan, cat), check_node_figures,
         ["node type b200-8x-air: prices.nodes annual_usd 1.0 differs from its price's 128750.0"])
    plan = copy.deepcopy(plans["library"])
    plan["prices"]["nodes"]["b200-8x-air"]["text"] = "buy at $1 per node"
    plan["checks"] = check_plan(fac, plan, cat).to_json()
    html = render_plan(plan)
    assert "buy at $1 per node" not in html
    assert ("Node price, b200-8x-air: buy at $515,000 per node (range $500,000-$515,000), recovered over 4 years "
            "at 0.0% (factor 0.2500) = $128,750 a year; from spec library; the cheaper at nominal") in html
