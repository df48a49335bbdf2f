"""Power and cooling distribution (issue #9): hand-computed optima on tiny facilities with a power
tree, rack overhead, N+k racks, CDU groups, the plant, hall IT capacity and form factor. Every plan
also passes the independent checker, and the ``power`` section reports what the hand computation
says."""

import random
import re

from pathlib import Path

import pytest

from planner.errors import InputError, NoPlanError
from planner.inputs.demand import Demand
from planner.inputs.specs import Catalogue
from planner.optimize.placement import optimize
from planner.results.checker import check_plan
from planner.results.plan_json import build_plan
from tests.helpers import LIQ, facility, loaded, node

TEN = node("ten", u=2, max_kw=10.0, weight_kg=20.0)
"""A 10 kW, 2U, 20 kg air node: round numbers for hand computation."""
FOUR = node("four", u=2, max_kw=4.0, weight_kg=20.0)


def plan(lf, types, demand, solver="highs"):
    placement = optimize(lf.facility, types, demand, solver=solver, gap_rel=0.0)
    if placement.striping:  # as run_plan does: the plan is for the facility with its striping
        lf = type(lf)(lf.facility.with_striping(placement.striping), lf.path, lf.sha256)
    doc = build_plan(lf, Catalogue(), types, demand, placement, {})
    report = check_plan(lf.facility, doc)
    assert report.passed, report.violations
    return placement, doc


def big_rack(**over):
    """A 42U air rack with one 100 kW feed per path (kW given, already derated), 2,000 kg."""
    rt = {"u": 42, "cooling": "air", "air_kw": 200, "feed": {"kw": 100}, "max_weight_kg": 2000,
          "annual_cost_usd": 1000}
    rt.update(over)
    return rt


def hall(rows, unit_kw=10_000, **extra):
    return [{"name": "h1", "cooling_units": {"count": 2, "unit_kw": unit_kw, "redundant": 1}, "rows": rows, **extra}]


def elements(doc):
    return {e["name"]: e for e in doc["power"]["elements"]}


# --- a 2N pair ----------------------------------------------------------------------------------------

def test_2n_pair_carries_what_one_side_can():
    """Two UPS of 100 kW, one panel each, a 2N row on both. Losing either UPS puts every rack's whole
    load on the other: at most 100 kW in all, so 10 ten-kW nodes, not 20 (each UPS carries 50 kW
    normally, 100 kW after the other is lost)."""
    lf = loaded(rack_types={"r": big_rack()},
                power={"sources": {"U1": {"kw": 100}, "U2": {"kw": 100}},
                       "panels": {"PA": {"source": "U1", "kw": 1000}, "PB": {"source": "U2", "kw": 1000}}},
                halls=hall([{"name": "A", "rack_type": "r", "racks": 4, "panels": ["PA", "PB"]}]))
    _, doc = plan(lf, [TEN], Demand("fill", fill="ten"))
    assert doc["totals"]["nodes"] == {"ten": 10}
    e = elements(doc)
    assert (e["U1"]["normal_kw"], e["U1"]["worst_kw"], e["U1"]["worst_failure"]) == (50.0, 100.0, "U2")
    assert (e["PA"]["normal_kw"], e["PA"]["worst_kw"]) == (50.0, 100.0)
    assert doc["power"]["dropped"] == []
    # one rack carries 100 kW on one path (10 nodes, 20U): the cheapest plan opens one rack
    assert doc["totals"]["racks_used"] == 1


# --- three striped lineups --------------------------------------------------------------------------

STRIPED = {"sources": {"U1": {"kw": 150}, "U2": {"kw": 150}, "U3": {"kw": 150}},
           "panels": {"A1": {"source": "U1", "kw": 1000}, "A2": {"source": "U2", "kw": 1000},
                      "B2": {"source": "U2", "kw": 1000}, "B3": {"source": "U3", "kw": 1000},
                      "C1": {"source": "U1", "kw": 1000}, "C3": {"source": "U3", "kw": 1000}}}
STRIPED_ROWS = [{"name": "A", "rack_type": "r", "racks": 2, "panels": ["A1", "A2"]},
                {"name": "B", "rack_type": "r", "racks": 2, "panels": ["B2", "B3"]},
                {"name": "C", "rack_type": "r", "racks": 2, "panels": ["C1", "C3"]}]


def test_three_striped_lineups_carry_two_thirds():
    """Rows A, B, C on lineup pairs (1,2), (2,3), (1,3), 150 kW each. Losing U1 moves all of row A
    onto U2 and all of C onto U3: U2 carries L_A + L_B/2 <= 150, and so on for all six (lineup,
    failure) pairs. Added up, 3 (L_A + L_B + L_C) <= 900: at most 300 kW, reached only with 100 kW in
    every row (every inequality tight). So 30 ten-kW nodes, 10 per row, where 2N lineups of the same
    450 kW installed would carry 225 kW."""
    lf = loaded(rack_types={"r": big_rack()}, power=STRIPED, halls=hall(STRIPED_ROWS))
    _, doc = plan(lf, [TEN], Demand("fill", fill="ten"))
    assert doc["totals"]["nodes"] == {"ten": 30}
    assert doc["solver"]["fill_bound"] == 30
    per_row = {r["row"]: r["planned_kw"] for r in doc["rows"]}
    assert per_row == {"A": 100.0, "B": 100.0, "C": 100.0}
    e = elements(doc)
    for ups in ("U1", "U2", "U3"):
        assert e[ups]["normal_kw"] == 100.0 and e[ups]["worst_kw"] == 150.0  # 100 + 100/2 after a loss
    # the impact table: losing U1 leaves U2 and U3 at exactly their rating, drops nothing
    lost_u1 = next(f for f in doc["power"]["failures"] if f["failure"] == "U1")
    assert lost_u1["load_kw"] == 150.0 and lost_u1["rating_kw"] == 150 and lost_u1["dropped_kw"] == 0


def test_one_node_too_many_names_the_lineup_and_the_failure():
    """31 nodes need 310 kW; the striped lineups carry 300: the diagnosis names a lineup, the failure
    that overloads it, and by how much."""
    lf = loaded(rack_types={"r": big_rack()}, power=STRIPED, halls=hall(STRIPED_ROWS))
    with pytest.raises(NoPlanError) as info:
        optimize(lf.facility, [TEN], Demand("nodes", nodes={"ten": 31}), solver="highs")
    assert re.search(r"^no plan: U\d after losing \w+: needs 160 kW, carries 150 kW \(10 kW short\); \d+ more power source limits are over too", str(info.value)), \
        str(info.value)


# --- N+1 with two paths on one source ---------------------------------------------------------------

def n_plus_1(panels, sources):
    return loaded(rack_types={"r": big_rack(power_redundancy="N+1", feeds=3, feed={"kw": 10})},
                  power={"sources": {s: {"kw": 1000} for s in sorted(set(sources.values()))},
                         "panels": {p: {"source": s, "kw": 1000} for p, s in sources.items()}},
                  halls=hall([{"name": "A", "rack_type": "r", "racks": 1, "panels": panels}]))


def test_n_plus_1_rack_with_two_paths_on_one_source():
    """Three 10 kW paths, any two carry the rack: 20 kW, five 4 kW nodes. But P1 and P2 hang off U1:
    losing U1 leaves P3 alone, 10 kW: two nodes (8 kW)."""
    lf = n_plus_1(["P1", "P2", "P3"], {"P1": "U1", "P2": "U1", "P3": "U2"})
    assert lf.facility.racks.frame["power_kw"].tolist() == [10.0]
    _, doc = plan(lf, [FOUR], Demand("fill", fill="four"))
    assert doc["totals"]["nodes"] == {"four": 2}


def test_n_plus_1_rack_striped_over_three_sources():
    """The same rack with its three paths on three sources keeps two paths after any single failure:
    20 kW, five nodes (20 kW exactly)."""
    lf = n_plus_1(["P1", "P2", "P3"], {"P1": "U1", "P2": "U2", "P3": "U3"})
    _, doc = plan(lf, [FOUR], Demand("fill", fill="four"))
    assert doc["totals"]["nodes"] == {"four": 5}
    # normally 20/3 kW on each path; after any loss 10 kW on each of two
    e = elements(doc)
    assert e["P1"]["normal_kw"] == pytest.approx(20 / 3, abs=1e-6) and e["P1"]["worst_kw"] == 10.0


# --- overhead, hall IT, CDU, plant, form factor -------------------------------------------------------

def test_overhead_takes_space_power_and_money():
    """Overhead 2U, 5 kW, 100 kg in every newly occupied rack: a 100 kW path keeps 95 kW for nodes,
    nine ten-kW nodes per rack. 10 nodes need two racks: 100 kW of nodes + 10 kW of overhead. The
    overhead's energy is 5 x 8,760 x 0.08 = 3,504 USD a rack a year, its cooling 3,504 x 0.45 = 1,576.80."""
    lf = loaded(rack_types={"r": big_rack(overhead={"u": 2, "kw": 5, "weight_kg": 100})},
                halls=hall([{"name": "A", "rack_type": "r", "racks": 3}]))
    _, doc = plan(lf, [TEN], Demand("nodes", nodes={"ten": 10}))
    assert doc["totals"]["racks_used"] == 2
    assert doc["totals"]["it_kw"] == 110.0 and doc["totals"]["overhead_kw"] == 10.0
    for r in doc["racks"]:
        assert r["overhead"] == {"kw": 5.0, "u": 2, "weight_kg": 100.0}
        assert r["it_kw"] == 10.0 * sum(r["nodes"].values()) + 5.0
    kwh_nodes = 10 * 10.0 * 0.8 * 8760
    energy = (kwh_nodes + 2 * 5 * 8760) * 0.08
    assert doc["totals"]["annual_usd"]["energy"] == pytest.approx(energy, abs=0.01)
    assert doc["totals"]["annual_usd"]["cooling"] == pytest.approx(energy * 0.45, abs=0.01)
    assert doc["totals"]["annual_usd"]["racks"] == 2000


def test_hall_it_capacity_binds():
    """it_kw 55: five ten-kW nodes (50 kW) and one rack's 5 kW overhead; a sixth would need 65."""
    lf = loaded(rack_types={"r": big_rack(overhead={"kw": 5})},
                halls=hall([{"name": "A", "rack_type": "r", "racks": 3}], it_kw=55))
    _, doc = plan(lf, [TEN], Demand("fill", fill="ten"))
    assert doc["totals"]["nodes"] == {"ten": 5}
    assert doc["halls"][0]["it_utilization"] == 1.0


def test_cdu_group_takes_liquid_heat_and_room_cooling_only_air():
    """LIQ nodes put 8.8 kW each into liquid and 2.2 kW into air. A CDU group of 2 x 50 kW, N+1
    (50 kW usable): five nodes (44 kW liquid); a sixth would need 52.8. The room cooling (air only,
    2.2 kW a node) does not bind."""
    dlc = {"u": 48, "cooling": "dlc", "air_kw": 30, "liquid_kw": 120, "feed": {"kw": 200},
           "max_weight_kg": 2000, "annual_cost_usd": 1000}
    lf = loaded(rack_types={"dlc": dlc},
                halls=hall([{"name": "A", "rack_type": "dlc", "racks": 4}], unit_kw=40,
                           cdus=[{"name": "C1", "rows": ["A"], "count": 2, "unit_kw": 50, "redundant": 1}]))
    _, doc = plan(lf, [LIQ], Demand("fill", fill="liq"))
    assert doc["totals"]["nodes"] == {"liq": 5}
    assert doc["cdus"] == [{"hall": "h1", "name": "C1", "rows": ["A"], "liquid_kw": 44.0, "usable_kw": 50.0,
                            "units": 2, "unit_kw": 50.0, "redundant": 1}]
    assert doc["halls"][0]["cools"] == "air" and doc["halls"][0]["cooled_kw"] == pytest.approx(11.0)


def test_plant_takes_all_heat():
    """A plant of 3 x 40 kW, N+1 (80 kW usable) over all heat: eight ten-kW nodes."""
    lf = loaded(rack_types={"r": big_rack()}, plant={"count": 3, "unit_kw": 40, "redundant": 1},
                halls=hall([{"name": "A", "rack_type": "r", "racks": 3}]))
    _, doc = plan(lf, [TEN], Demand("fill", fill="ten"))
    assert doc["totals"]["nodes"] == {"ten": 8}
    assert doc["plant"]["heat_kw"] == 80.0 and doc["plant"]["usable_kw"] == 80.0


def test_form_factor_keeps_nodes_in_their_racks():
    """An orw whole-rack system goes only into the orw row, never into the 19-inch one."""
    import dataclasses

    wide = dataclasses.replace(node("wide", u=44, max_kw=90.0, weight_kg=1500.0), form_factor="orw")
    lf = loaded(rack_types={"r": big_rack(u=48), "w": big_rack(u=48, form_factor="orw")},
                halls=hall([{"name": "A", "rack_type": "r", "racks": 2}, {"name": "W", "rack_type": "w", "racks": 1}]))
    _, doc = plan(lf, [wide], Demand("fill", fill="wide"))
    assert doc["totals"]["nodes"] == {"wide": 1} and doc["racks"][0]["row"] == "W"


def test_single_path_rows_report_what_a_failure_drops():
    """Two N rows, one per panel, both panels on U1: losing RP1 drops row A's 20 kW; losing U1 drops
    both rows. Allowed for N rows; the plan says so."""
    lf = loaded(rack_types={"n": big_rack(power_redundancy="N", feed={"kw": 20})},
                power={"sources": {"U1": {"kw": 1000}},
                       "panels": {"RP1": {"source": "U1", "kw": 500}, "RP2": {"source": "U1", "kw": 500}}},
                halls=hall([{"name": "A", "rack_type": "n", "racks": 1, "panels": ["RP1"]},
                            {"name": "B", "rack_type": "n", "racks": 1, "panels": ["RP2"]}]))
    _, doc = plan(lf, [TEN], Demand("nodes", nodes={"ten": 4}))
    dropped = {d["failure"]: d for d in doc["power"]["dropped"]}
    assert dropped["RP1"]["kw"] == 20.0 and dropped["RP1"]["rows"] == ["h1/A"]
    assert dropped["U1"]["kw"] == 40.0 and dropped["U1"]["rows"] == ["h1/A", "h1/B"]


# --- bad trees are bad input ---------------------------------------------------------------------------

def problems(**over):
    with pytest.raises(InputError) as info:
        facility(**over)
    return [p.message for p in info.value.problems]


def test_redundant_row_on_one_source_is_refused():
    msgs = problems(rack_types={"r": big_rack()},
                    power={"sources": {"U1": {"kw": 100}},
                           "panels": {"PA": {"source": "U1", "kw": 100}, "PB": {"source": "U1", "kw": 100}}},
                    halls=hall([{"name": "A", "rack_type": "r", "racks": 1, "panels": ["PA", "PB"]}]))
    assert msgs == ["every feed path of this 2N row hangs off source 'U1': losing it would drop the row; "
                    "put the paths on different sources"]


@pytest.mark.parametrize("over, message", [
    ({"power": {"sources": {"U1": {"kw": 1}}, "panels": {"P": {"source": "U9", "kw": 1}}},
      "halls": hall([{"name": "A", "rack_type": "r", "racks": 1, "panels": ["P", "P"]}])},
     "unknown source 'U9'; valid: U1"),
    ({"power": {"sources": {"X": {"kw": 1}}, "panels": {"X": {"source": "X", "kw": 1}}},
      "halls": hall([{"name": "A", "rack_type": "r", "racks": 1, "panels": ["X", "X"]}])},
     "'X' is both a source and a panel; names must be unique"),
    ({"power": {"sources": {"U1": {"kw": 1}, "U2": {"kw": 1}},
                "panels": {"P1": {"source": "U1", "kw": 1}, "P2": {"source": "U2", "kw": 1}}},
      "halls": hall([{"name": "A", "rack_type": "r", "racks": 1, "panels": ["P1"]}])},
     "1 panel given; rack type 'r' (2N, feeds 1) has 2 feed paths, one panel each"),
    ({"halls": hall([{"name": "A", "rack_type": "r", "racks": 1, "panels": ["P1", "P2"]}])},
     "the facility has no power section, so rows cannot name panels"),
    ({"rack_types": {"r": big_rack(power_redundancy="N+2", feeds=2)}},
     "N+2 needs more than 2 feeds (feeds is 2): at least one must carry the rack"),
    ({"rack_types": {"r": big_rack(overhead={"u": 43})}}, "overhead of 43 exceeds the rack's 42 U"),
    ({"existing": [{"rack": "h1/A/01", "kw": 5, "liquid_kw": 6}]}, "6 kW is more than its kw (5)"),
    ({"existing": [{"rack": "h1/A/01", "kw": 5, "liquid_kw": 2}]}, "rack type 'r' has no liquid loop"),
    ({"existing": [{"rack": "h1/A/01", "kw": 5, "u": 4, "position": 40}]},
     "units 40-43 run past the rack's top unit 42"),
    ({"halls": hall([{"name": "A", "rack_type": "r", "racks": 1}],
                    cdus=[{"name": "C", "rows": ["Z"], "count": 2, "unit_kw": 10}])},
     "hall 'h1' has no row 'Z'; valid: A"),
])
def test_tree_and_distribution_mistakes_are_named(over, message):
    base = {"rack_types": {"r": big_rack()}, "halls": hall([{"name": "A", "rack_type": "r", "racks": 1}])}
    assert message in problems(**{**base, **over})


def test_liquid_row_outside_every_cdu_group_is_refused():
    dlc = {"u": 48, "cooling": "dlc", "air_kw": 30, "liquid_kw": 120, "feed": {"kw": 200}, "max_weight_kg": 2000}
    msgs = problems(rack_types={"dlc": dlc},
                    halls=hall([{"name": "A", "rack_type": "dlc", "racks": 1},
                                {"name": "B", "rack_type": "dlc", "racks": 1}],
                               cdus=[{"name": "C", "rows": ["A"], "count": 2, "unit_kw": 10}]))
    assert msgs == ["row 'B' has liquid-cooled racks but is in no CDU group of hall 'h1'"]


def test_feed_in_kw_is_not_derated_again():
    lf = loaded(rack_types={"r": big_rack(feed={"kw": 17.3})}, halls=hall([{"name": "A", "rack_type": "r", "racks": 1}]))
    assert lf.facility.one_feed_kw("r") == 17.3
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"give either kw or volts, phases and amps, not both \(got kw and volts\)"):
        facility(rack_types={"r": big_rack(feed={"kw": 17.3, "volts": 415})})


# --- rack positions ------------------------------------------------------------------------------------

def test_positions_fill_from_the_bottom_below_the_overhead():
    """A new rack with 3U of overhead on top: four 10U nodes at units 1, 11, 21, 31; the overhead keeps
    units 46-48 (a 48U rack)."""
    lf = loaded(rack_types={"r": big_rack(u=48, overhead={"u": 3}, feed={"kw": 200})},
                halls=hall([{"name": "A", "rack_type": "r", "racks": 1}]))
    tall = node("tall", u=10, max_kw=10.0, weight_kg=20.0)
    _, doc = plan(lf, [tall], Demand("nodes", nodes={"tall": 4}))
    assert doc["racks"][0]["positions"] == [{"node": "tall", "u": u} for u in (1, 11, 21, 31)]


def test_scattered_free_units_hold_fewer_nodes():
    """Existing equipment at units 9-16 of a 42U rack leaves runs of 8U (1-8) and 26U (17-42): 34 free
    units, room for three 10U nodes by count, but only two fit as whole blocks (both in 17-42). The
    optimizer knows: five nodes need three racks, not two."""
    tall = node("tall", u=10, max_kw=10.0, weight_kg=20.0)
    lf = loaded(rack_types={"r": big_rack(feed={"kw": 200})},
                halls=hall([{"name": "A", "rack_type": "r", "racks": 3}]),
                existing=[{"rack": "h1/A/01", "kw": 2, "u": 8, "position": 9}])
    placement, doc = plan(lf, [tall], Demand("fill", fill="tall"))
    by_id = {r["id"]: r for r in doc["racks"]}
    assert by_id["h1/A/01"]["nodes"] == {"tall": 2}
    assert by_id["h1/A/01"]["positions"] == [{"node": "tall", "u": 17}, {"node": "tall", "u": 27}]
    assert doc["totals"]["nodes"] == {"tall": 2 + 4 + 4}
    # an existing entry without a position is assumed at the top: one run below, three nodes fit
    lf2 = loaded(rack_types={"r": big_rack(feed={"kw": 200})}, halls=hall([{"name": "A", "rack_type": "r", "racks": 1}]),
                 existing=[{"rack": "h1/A/01", "kw": 2, "u": 8}])
    _, doc2 = plan(lf2, [tall], Demand("fill", fill="tall"))
    assert doc2["racks"][0]["nodes"] == {"tall": 3}
    assert [p["u"] for p in doc2["racks"][0]["positions"]] == [1, 11, 21]


# --- striping: rackplan chooses the lineups -----------------------------------------------------------

AUTO_ROWS = [{"name": n, "rack_type": "r", "racks": 2, "panels": "auto", "lineups": ["U1", "U2", "U3"]}
             for n in "ABC"]
THREE_UPS = {"sources": {"U1": {"kw": 150}, "U2": {"kw": 150}, "U3": {"kw": 150}}, "panels": {}}


def test_striping_chooses_three_different_pairs():
    """Rows A, B, C with panels: auto on lineups U1-U3 (150 kW each), 2N. Put on one pair, say (U1, U2),
    every row's load lands on U1 when U2 fails: 150 kW in all, 15 ten-kW nodes. Striped over the three
    pairs (the three-lineup case above) they carry 300 kW: rackplan must find that striping, and 30
    nodes."""
    lf = loaded(rack_types={"r": big_rack()}, power=THREE_UPS, halls=hall(AUTO_ROWS))
    placement, doc = plan(lf, [TEN], Demand("fill", fill="ten"))
    assert doc["totals"]["nodes"] == {"ten": 30}
    pairs = sorted(tuple(sorted(s["sources"])) for s in doc["striping"])
    assert pairs == [("U1", "U2"), ("U1", "U3"), ("U2", "U3")]
    assert {(h, r): tuple(sorted(c)) for (h, r), c in placement.striping.items()} == \
        {("h1", s["row"].split("/")[1]): tuple(sorted(s["sources"])) for s in doc["striping"]}
    # the plan's own facility names the panels it added, and the checker verified every failure on them
    rows = {r["name"]: r for r in doc["facility"]["descriptor"]["halls"][0]["rows"]}
    assert rows["A"]["panels"] == ["h1-A-P1", "h1-A-P2"]
    e = elements(doc)
    assert {e[u]["worst_kw"] for u in ("U1", "U2", "U3")} == {150.0}


def test_fixed_striping_on_one_pair_carries_half():
    """The same rows all on (U1, U2), fixed: 15 nodes (the hand computation above)."""
    power = {"sources": THREE_UPS["sources"],
             "panels": {f"{r}{i}": {"source": f"U{i}", "kw": 1000} for r in "ABC" for i in (1, 2)}}
    rows = [{"name": r, "rack_type": "r", "racks": 2, "panels": [f"{r}1", f"{r}2"]} for r in "ABC"]
    lf = loaded(rack_types={"r": big_rack()}, power=power, halls=hall(rows))
    _, doc = plan(lf, [TEN], Demand("fill", fill="ten"))
    assert doc["totals"]["nodes"] == {"ten": 15}


def ten_kw_node_specs(directory: Path) -> Path:
    """A spec file with one node, ``ten``: 8 GPUs, 2U, air, 10 kW (vendor maximum), 20 kg."""
    import yaml

    spec = directory / "ten.yaml"
    spec.write_text(yaml.safe_dump({"schema": "rackplan.specs/1",
                                    "accelerators": {"x10": {"name": "x", "vendor": "x", "status": "shipping",
                                                             "confidence": "C", "tdp_w": 1000, "hbm_gb": 80}},
                                    "nodes": {"ten": {"name": "ten", "vendor": "x", "accelerator": "x10", "gpus": 8,
                                                      "u": 2, "cooling": "air", "liquid_fraction": 0,
                                                      "power": {"basis": "vendor_max", "max_kw": 10},
                                                      "weight_kg": 20, "status": "shipping", "confidence": "C"}}}))
    return spec


def test_striped_facility_is_written_and_plans_the_same(tmp_path):
    """`rackplan plan` writes facility.striped.yaml; planned again, it gives the same 30 nodes."""
    import yaml

    from planner.cli import main
    from tests.helpers import facility_dict

    f = tmp_path / "auto.yaml"
    d = facility_dict(rack_types={"r": big_rack()}, power=THREE_UPS, halls=hall(AUTO_ROWS))
    f.write_text(yaml.safe_dump(d))
    spec = ten_kw_node_specs(tmp_path)
    assert main(["plan", str(f), "--fill", "ten", "--specs", str(spec), "-q", "-o", str(tmp_path / "o")]) == 0
    striped = tmp_path / "o" / "facility.striped.yaml"
    rows = yaml.safe_load(striped.read_text())["halls"][0]["rows"]
    assert [r["panels"] for r in rows] == [[f"h1-{r}-P1", f"h1-{r}-P2"] for r in "ABC"]
    assert main(["plan", str(striped), "--fill", "ten", "--specs", str(spec), "-q", "-o", str(tmp_path / "p")]) == 0
    import json

    assert json.loads((tmp_path / "p" / "plan.json").read_text())["totals"]["nodes"] == {"ten": 30}


def test_auto_panels_need_lineups_and_a_power_section():
    msgs = problems(rack_types={"r": big_rack()}, power=THREE_UPS,
                    halls=hall([{"name": "A", "rack_type": "r", "racks": 1, "panels": "auto", "lineups": ["U1"]},
                                {"name": "B", "rack_type": "r", "racks": 1, "panels": "auto", "lineups": ["U1", "U9"]},
                                {"name": "C", "rack_type": "r", "racks": 1, "lineups": ["U1", "U2"],
                                 "panels": "auto", "panel_kw": 5},
                                {"name": "D", "rack_type": "r", "racks": 1, "panels": "auto"}]))
    assert msgs == ["1 lineup for 2 feed paths: each path needs its own lineup",
                    "unknown source 'U9'; valid: U1, U2, U3",
                    "panels: auto needs lineups: the sources rackplan may feed the row from"]


def test_a_plan_is_not_checked_against_auto_rows():
    """Checked against the facility with panels: auto still in it, the checker cannot see which lineups
    carry the rows, and says so instead of passing."""
    lf = loaded(rack_types={"r": big_rack()}, power=THREE_UPS, halls=hall(AUTO_ROWS))
    _, doc = plan(lf, [TEN], Demand("nodes", nodes={"ten": 3}))
    report = check_plan(lf.facility, doc)
    assert report.by_rule["check_structure"] == [
        "facility: rows h1/A, h1/B, h1/C have panels: auto; check the plan against the facility it records "
        "(with the striping it chose)"]


def test_several_positioned_existing_entries_split_the_rack():
    """Two devices at units 1-4 and 20-23 of a 42U rack leave runs of 15U (5-19) and 19U (24-42): one 10U
    node in each, two in all, though 34 units are free. They go at units 5 and 24."""
    tall = node("tall", u=10, max_kw=10.0, weight_kg=20.0)
    lf = loaded(rack_types={"r": big_rack(feed={"kw": 200})}, halls=hall([{"name": "A", "rack_type": "r", "racks": 1}]),
                existing=[{"rack": "h1/A/01", "kw": 1, "u": 4, "position": 1},
                          {"rack": "h1/A/01", "kw": 1, "u": 4, "position": 20}])
    _, doc = plan(lf, [tall], Demand("fill", fill="tall"))
    rack = doc["racks"][0]
    assert rack["nodes"] == {"tall": 2} and [p["u"] for p in rack["positions"]] == [5, 24]
    assert rack["existing"]["parts"] == [{"u": 4, "position": 1}, {"u": 4, "position": 20}]
    assert rack["it_kw"] == 22.0 and rack["u_used"] == 28


# --- limits that others imply -------------------------------------------------------------------------

def _power_labels(lf, types):
    from planner.optimize.classes import build_problem_data

    data = build_problem_data(lf.facility, types, mix_varies=True)
    return data, [lim.label for lim in data.limits if lim.family in ("source", "panel")]


def test_implied_power_limits_are_left_out():
    """The 2N pair: U1 (100 kW) carries the row's half normally and all of it after losing PB or U2,
    which load it alike; so does PA (1,000 kW). Of the 12 limits (4 elements x normal, and the two
    failures that move load onto each), each element's first failure implies its other two; and U2
    after losing PA is U1 after losing PB again (the whole row within 100 kW), PB's like PA's: two
    rows of the model are left."""
    lf = loaded(rack_types={"r": big_rack()},
                power={"sources": {"U1": {"kw": 100}, "U2": {"kw": 100}},
                       "panels": {"PA": {"source": "U1", "kw": 1000}, "PB": {"source": "U2", "kw": 1000}}},
                halls=hall([{"name": "A", "rack_type": "r", "racks": 4, "panels": ["PA", "PB"]}]))
    data, labels = _power_labels(lf, [TEN])
    assert labels == ["U1 after losing PB", "PA after losing PB"]
    assert [(float(w), lim.budget) for lim in data.limits if lim.family in ("source", "panel")
            for w in lim.weight] == [(1.0, 100.0), (1.0, 1000.0)]


@pytest.mark.parametrize("source", ["ai-building.yaml", "contract-power-example.yaml", "striped"])
def test_the_limits_kept_bind_whenever_any_limit_does(source, monkeypatch):
    """Left-out limits change no plan: for random loads per class and random choices of lineups for
    striped rows, the most any limit is over (or short of) its budget is the same with every limit as
    with those kept, on the bundled facilities with trees and on three striped rows."""
    import numpy as np

    from planner.inputs.facility import load_facility
    from planner.optimize import classes

    if source == "striped":
        lf = loaded(rack_types={"r": big_rack()}, power=THREE_UPS, halls=hall(AUTO_ROWS))
    else:
        lf = load_facility(Path(__file__).resolve().parent.parent / "facilities" / source)
    types = [TEN, LIQ]
    data = classes.build_problem_data(lf.facility, types, mix_varies=True)
    kept = data.limits
    monkeypatch.setattr(classes, "_without_implied", lambda limits: limits)
    monkeypatch.setattr(classes, "_distinct", lambda limits: limits)
    every = classes.build_problem_data(lf.facility, types, mix_varies=True).limits
    power = ("source", "panel")
    kept = [lim for lim in kept if lim.family in power]
    every = [lim for lim in every if lim.family in power]
    assert len(kept) < len(every)
    rng = np.random.default_rng(7)
    classes_n = data.K
    choices = {(key, i) for lim in every for key, i, _ in lim.aux}

    def most_over(limits, load, pick):
        return max(float(np.dot(lim.weight, load[lim.classes])) + sum(sh * pick.get((key, i), 0.0)
                                                                      for key, i, sh in lim.aux) - lim.budget
                   for lim in limits)

    for _ in range(300):
        load = rng.uniform(0, 400, classes_n) * (rng.random(classes_n) < 0.7)
        pick = {c: float(rng.uniform(0, 400)) for c in choices}
        assert most_over(kept, load, pick) == pytest.approx(most_over(every, load, pick), abs=1e-9)


def _random_tree(rnd):
    """1-2 halls of 1-3 rows on 2-4 sources and 2-6 panels of mixed ratings: 2N rows (some with
    overhead), single-corded N rows, N+1 rows of three paths, some striped (``panels: auto``), some
    racks with existing load. None when the draw gives a hall no valid row."""
    sources = {f"U{i}": {"kw": rnd.choice([40, 60, 80, 100, 150])} for i in range(1, rnd.randint(2, 4) + 1)}
    panels = {f"P{j}": {"source": rnd.choice(list(sources)), "kw": rnd.choice([30, 50, 70, 1000])}
              for j in range(rnd.randint(2, 6))}
    base = {"u": 42, "cooling": "air", "air_kw": 200, "max_weight_kg": 2000}
    rack_types = {"r2n": {**base, "feed": {"kw": 60}, "annual_cost_usd": 1000, "overhead": {"kw": rnd.choice([0, 3])}},
                  "rn": {**base, "feed": {"kw": 60}, "annual_cost_usd": 1500, "power_redundancy": "N"},
                  "rn1": {**base, "feed": {"kw": 25}, "annual_cost_usd": 1200, "power_redundancy": "N+1", "feeds": 3}}
    paths_of = {"r2n": 2, "rn": 1, "rn1": 3}
    halls, existing = [], []
    for h in range(rnd.randint(1, 2)):
        rows = []
        for i in range(rnd.randint(1, 3)):
            rt, name = rnd.choice(sorted(rack_types)), f"R{h}{i}"
            paths = paths_of[rt]
            if rt != "rn" and len(sources) >= paths and rnd.random() < 0.3:
                rows.append({"name": name, "rack_type": rt, "racks": rnd.randint(1, 3), "panels": "auto",
                             "lineups": rnd.sample(sorted(sources), rnd.randint(paths, len(sources)))})
                continue
            for _ in range(50):  # a redundant row on paths of at least two sources (one failure must not drop it)
                ps = rnd.sample(sorted(panels), paths) if paths <= len(panels) else []
                if ps and (paths == 1 or len({panels[p]["source"] for p in ps}) >= 2):
                    rows.append({"name": name, "rack_type": rt, "racks": rnd.randint(1, 3), "panels": ps})
                    break
            if rows and rows[-1]["name"] == name and rnd.random() < 0.3:
                existing.append({"rack": f"h{h + 1}/{name}/01", "kw": rnd.choice([2, 5, 11])})
        if not rows:
            return None
        halls.append({"name": f"h{h + 1}", "cooling_units": {"count": 2, "unit_kw": 10_000, "redundant": 1},
                      "rows": rows})
    over = {"rack_types": rack_types, "power": {"sources": sources, "panels": panels}, "halls": halls}
    return loaded(**over, **({"existing": existing} if existing else {}))


@pytest.mark.parametrize("seed", range(10))
def test_leaving_implied_limits_out_changes_no_optimum(seed, monkeypatch):
    """Random trees (2N, N and N+1 rows, striping, existing load, overhead), a fill and a two-candidate
    target, solved to gap 0 with the implied limits left out and with every limit: the same optimum
    (cost and node count), and every plan passes the checker, which enumerates every failure."""
    from planner.optimize import classes

    rnd = random.Random(seed)
    lf = _random_tree(rnd)
    if lf is None:
        pytest.skip("this draw has a hall without a valid row")
    seven = node("seven", gpus=4, u=2, max_kw=7.0, weight_kg=20.0, annual_cost_usd=30_000.0)
    ten = node("ten", u=2, max_kw=10.0, weight_kg=20.0, annual_cost_usd=1_000.0)
    demands = [(Demand("fill", fill="ten"), [ten]),
               (Demand("target", metric="gpus", amount=float(rnd.choice([24, 40, 64])), candidates=("ten", "seven")),
                [ten, seven])]
    keep, distinct = classes._without_implied, classes._distinct
    for demand, types in demands:
        got = []
        for reduced in (True, False):
            monkeypatch.setattr(classes, "_without_implied", keep if reduced else (lambda limits: limits))
            monkeypatch.setattr(classes, "_distinct", distinct if reduced else (lambda limits: limits))
            try:
                placement, _doc = plan(lf, types, demand)  # asserts that the checker passes
            except NoPlanError:
                got.append(None)
                continue
            got.append((round(placement.variable_usd, 6), int(placement.counts.sum())))
        assert got[0] == got[1]
