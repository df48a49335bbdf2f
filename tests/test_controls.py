"""Placement controls (issue #14): only, exclude, reserved and together, hand-checked on tiny facilities,
and every plan re-checked (the checker's placement-controls rule is tested in tests/test_checker.py)."""

from dataclasses import replace
from pathlib import Path

import pytest

from planner.cli import main
from planner.errors import InputError, NoPlanError
from planner.inputs.demand import Demand, check_controls
from planner.inputs.specs import Catalogue
from planner.optimize.placement import optimize
from planner.results.checker import check_plan
from planner.results.plan_json import build_plan
from tests.helpers import B200, KWH_B200, RDHX, loaded

AIR_COOLING = KWH_B200 * 0.45 * 0.08   # 3,607.7184 USD a year per B200 in an air rack
RDHX_COOLING = KWH_B200 * 0.25 * 0.08  # 2,004.288 behind a rear door


def plan(lf, demand):
    placement = optimize(lf.facility, [B200], demand, gap_rel=0.0)
    doc = build_plan(lf, Catalogue(), [B200], demand, placement, {})
    report = check_plan(lf.facility, doc)
    assert report.passed, report.violations
    return placement, doc


def used(doc):
    return {r["id"]: r["nodes"]["b200"] for r in doc["racks"]}


def test_an_excluded_rack_stays_empty():
    """Three air racks, two B200 each: four nodes would take racks 01 and 02; with 01 excluded they take
    02 and 03 at the same cost."""
    demand = Demand("nodes", nodes={"b200": 4})
    _, free = plan(loaded(), demand)
    assert used(free) == {"h1/A/01": 2, "h1/A/02": 2}
    _, doc = plan(loaded(), replace(demand, exclude=("h1/A/01",)))
    assert used(doc) == {"h1/A/02": 2, "h1/A/03": 2}
    assert doc["totals"]["annual_usd"] == free["totals"]["annual_usd"]
    assert doc["demand"]["exclude"] == ["h1/A/01"]


def test_reserved_racks_in_the_facility_or_the_demand():
    _, doc = plan(loaded(reserved=["h1/A/02"]), Demand("nodes", nodes={"b200": 4}))
    assert set(used(doc)) == {"h1/A/01", "h1/A/03"}
    with pytest.raises(NoPlanError):  # two racks reserved, one left: four nodes do not fit
        optimize(loaded(reserved=["h1/A/02"]).facility, [B200],
                 Demand("nodes", nodes={"b200": 4}, reserved=("h1/A/03",)))


TWO_HALLS = {"rack_types": {"rdhx": RDHX},
             "halls": [{"name": "h1", "cooling_units": {"count": 4, "unit_kw": 1000, "redundant": 1},
                        "rows": [{"name": "A", "rack_type": "rdhx", "racks": 2}]},
                       {"name": "h2", "cooling_units": {"count": 4, "unit_kw": 1000, "redundant": 1},
                        "rows": [{"name": "A", "rack_type": "air-35", "racks": 4}]}]}


def test_together_keeps_a_cluster_in_one_hall_at_a_known_cost():
    """Eight B200. h1 has two rear-door racks (three nodes each, 11,000 USD a rack, cooling pPUE 1.25);
    h2 four air racks (two each, 9,000, pPUE 1.45). Least cost splits them: 6 in h1 and 2 in h2,
    22,000 + 6 x 2,004.29 + 9,000 + 2 x 3,607.72 = 50,241.16 a year (what placement controls). Kept
    together in one hall, only h2 holds eight: 36,000 + 8 x 3,607.72 = 64,861.75, 14,620.58 more."""
    demand = Demand("nodes", nodes={"b200": 8})
    split, doc = plan(loaded(**TWO_HALLS), demand)
    assert {r["hall"] for r in doc["racks"]} == {"h1", "h2"}
    assert split.variable_usd == pytest.approx(22_000 + 6 * RDHX_COOLING + 9_000 + 2 * AIR_COOLING, abs=0.01)
    assert split.variable_usd == pytest.approx(50_241.16, abs=0.01)
    one, doc = plan(loaded(**TWO_HALLS), replace(demand, together="hall"))
    assert {r["hall"] for r in doc["racks"]} == {"h2"} and doc["totals"]["racks_used"] == 4
    assert one.variable_usd == pytest.approx(36_000 + 8 * AIR_COOLING, abs=0.01)
    assert one.variable_usd - split.variable_usd == pytest.approx(14_620.58, abs=0.01)
    assert doc["demand"]["together"] == "hall"
    # the first-fit baseline is kept together too
    assert doc["baseline"]["meets_demand"] and doc["baseline"]["racks_used"] == 4


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_together_in_halls_whose_names_sanitize_alike(solver):
    """Halls named 'h-1' and 'h_1' (the model's variable names replace '-' by '_'): each hall's binary
    still has a name of its own, so the solvers see two variables, and the cluster goes into the hall
    of air racks at the known cost of the test above."""
    halls = [dict(TWO_HALLS["halls"][0], name="h-1"), dict(TWO_HALLS["halls"][1], name="h_1")]
    lf = loaded(rack_types=TWO_HALLS["rack_types"], halls=halls)
    demand = Demand("nodes", nodes={"b200": 8}, together="hall")
    placement = optimize(lf.facility, [B200], demand, solver=solver, gap_rel=0.0)
    doc = build_plan(lf, Catalogue(), [B200], demand, placement, {})
    assert check_plan(lf.facility, doc).passed
    assert {r["hall"] for r in doc["racks"]} == {"h_1"}
    assert placement.variable_usd == pytest.approx(36_000 + 8 * AIR_COOLING, abs=0.01)


def test_together_with_a_demand_no_hall_can_hold_alone():
    """Eleven B200: h2 holds eight at most, h1 six: together in one hall, nothing fits."""
    with pytest.raises(NoPlanError):
        optimize(loaded(**TWO_HALLS).facility, [B200], Demand("nodes", nodes={"b200": 11}, together="hall"))


def test_only_keeps_the_demand_in_a_hall():
    _, doc = plan(loaded(**TWO_HALLS), Demand("nodes", nodes={"b200": 4}, only=("h2",)))
    assert {r["hall"] for r in doc["racks"]} == {"h2"}


def test_unknown_scopes_are_bad_input():
    fac = loaded(**TWO_HALLS).facility
    with pytest.raises(InputError) as info:
        check_controls(Demand("nodes", nodes={"b200": 1}, only=("h3", "h1/B"), exclude=("h2/A/09",)), fac)
    assert [str(p) for p in info.value.problems] == [
        "<command line>: --only h3: there is no hall 'h3'; valid: h1, h2",
        "<command line>: --only h1/B: hall 'h1' has no row 'B'; valid: A",
        "<command line>: --exclude h2/A/09: no rack 'h2/A/09'; row h2/A has racks h2/A/01 to h2/A/04"]


def test_cli_only_and_together(tmp_path, capsys):
    from tests.helpers import facility_dict
    import yaml

    f = tmp_path / "two.yaml"
    d = facility_dict(**TWO_HALLS)
    f.write_text(yaml.safe_dump(d))
    assert main(["plan", str(f), "--nodes", "b200-8x-air=8", "--together", "hall", "-q", "-o", str(tmp_path / "o")]) == 0
    import json

    doc = json.loads((tmp_path / "o" / "plan.json").read_text())
    assert {r["hall"] for r in doc["racks"]} == {"h2"} and doc["checks"]["passed"]
    assert main(["plan", str(f), "--nodes", "b200-8x-air=1", "--only", "h9", "-q", "-o", str(tmp_path / "p")]) == 2
    assert "--only h9: there is no hall 'h9'" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_cli_controls_that_leave_no_rack_are_bad_input(tmp_path, capsys):
    """``--exclude`` (or ``--only`` with ``--exclude``, or a demand file's ``exclude``) covering every
    rack: exit 2, one line naming where the controls came from and which ruled the racks out, nothing
    written; not exit 1 with every limit's 'the most any rack has left is 0'."""
    from tests.helpers import facility_dict
    import yaml

    f = tmp_path / "two.yaml"
    f.write_text(yaml.safe_dump(facility_dict(**TWO_HALLS)))
    demand = tmp_path / "demand.yaml"
    demand.write_text("fill: b200-8x-air\nexclude: [h1, h2/A]\n")
    reserved = tmp_path / "reserved.yaml"
    reserved.write_text("fill: b200-8x-air\nreserved: [h1/A/01, h1/A/02, h2/A/01]\n")
    cases = [(["--fill", "b200-8x-air", "--exclude", "h1,h2"],
              "<command line>: --exclude: leaves no rack to place into (of the facility's 6 racks, 6 excluded)"),
             (["--fill", "b200-8x-air", "--only", "h2", "--exclude", "h2/A"],
              "<command line>: --only and --exclude: leave no rack to place into (of the facility's 6 racks, "
              "2 outside --only, 4 excluded)"),
             (["--demand", str(demand)],
              f"{demand}: exclude: leaves no rack to place into (of the facility's 6 racks, 6 excluded)"),
             # each rack under the first reason: h1's reserved racks are outside --only first
             (["--demand", str(reserved), "--only", "h2", "--exclude", "h2/A"],
              "<command line>: --only and --exclude: leave no rack to place into (of the facility's 6 racks, "
              "2 outside --only, 1 reserved, 3 excluded)")]
    for k, (args, line) in enumerate(cases):
        out = tmp_path / f"o{k}"
        assert main(["plan", str(f), *args, "-q", "-o", str(out)]) == 2, args
        assert capsys.readouterr().err.splitlines() == [f"rackplan: {line}"]
        assert not out.exists()
    assert main(["plan", str(f), "--fill", "b200-8x-air", "--exclude", "h1,h2/A/01", "-q", "-o", str(tmp_path / "p")]) == 0


def test_a_bad_only_is_said_alone_before_any_banner(tmp_path, capsys):
    """Without -q too, an --only naming a row the facility lacks is the one line on stderr (exit 2),
    not the second after the "planning ..." banner."""
    facility = str(Path(__file__).resolve().parents[1] / "facilities" / "ai-hall.yaml")
    assert main(["plan", facility, "--fill", "h100-8x", "--only", "hall-1/Z", "-o", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "rackplan: <command line>: --only hall-1/Z: hall 'hall-1' has no row 'Z'; valid: A, B, C, D, E, F, G"]
    assert not (tmp_path / "o").exists()
