"""Small frictions a new user met (issue 14, item 4): substring suggestions for unknown node ids, which of a
demand file and flags won, the most that fits when a demand does not, counts with their nouns in the right
number, ``check`` output grouped and summed up, and the demand example's comments against its plan."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from planner.cli import main
from planner.inputs.specs import load_catalogue, suggest

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = str(ROOT / "facilities" / "contract-example.yaml")
AI_HALL = str(ROOT / "facilities" / "ai-hall.yaml")
COLO = str(ROOT / "facilities" / "colo-brownfield-208v.yaml")
DEMAND = str(ROOT / "examples" / "ai-hall-demand.yaml")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# --- unknown ids ----------------------------------------------------------------------------------

def test_unknown_id_suggests_ids_that_contain_it():
    ids = sorted(load_catalogue().nodes)
    text = suggest("b200", ids)
    assert text.startswith("did you mean b200-8x-air, b200-8x-dlc")  # those that start with it first
    assert "gb200-nvl72" in text  # then those that contain it
    assert suggest("mi40", ids).startswith("did you mean mi400-")
    assert suggest("b2OO-8x-air", ids).startswith("did you mean b200-8x-air")  # spelling still works
    assert suggest("x", ids).startswith("valid ids:")  # a letter means nothing in particular


def test_unknown_id_on_the_command_line(capsys, tmp_path):
    code, _, err = run(capsys, "plan", CONTRACT, "--nodes", "b200=4", "-o", str(tmp_path / "o"))
    assert code == 2
    assert "unknown node id 'b200'; did you mean b200-8x-air, b200-8x-dlc" in err


# --- demand file and flags ------------------------------------------------------------------------

def test_flags_over_a_demand_file_say_which_won(capsys, tmp_path):
    code, _, err = run(capsys, "plan", AI_HALL, "--demand", DEMAND, "--nodes", "h100-8x=2", "-q",
                       "-o", str(tmp_path / "o"))
    assert code == 0, err
    assert (f"note: --nodes overrides the demand in {DEMAND} (place 48 x b200-8x-air, 64 x mi400-8x); "
            "planning place 2 x h100-8x") in err
    assert json.loads((tmp_path / "o" / "plan.json").read_text())["totals"]["nodes"] == {"h100-8x": 2}


def test_tdp_flag_over_the_files_what_if_says_so(capsys, tmp_path):
    demand = tmp_path / "d.yaml"
    demand.write_text("nodes: {mi400-8x: 4}\ntdp: {mi400: 1200}\n")
    code, _, err = run(capsys, "plan", CONTRACT, "--demand", str(demand), "--tdp", "mi400=1400", "-q",
                       "-o", str(tmp_path / "o"))
    assert code == 0, err
    assert "note: --tdp mi400=1400 overrides the demand file's mi400: 1200 W" in err
    code, _, err = run(capsys, "plan", CONTRACT, "--demand", str(demand), "--fill", "b200-8x-air", "-q",
                       "-o", str(tmp_path / "o2"))
    assert code == 0 and "--fill overrides the demand in" in err and "the file's tdp what-ifs still apply" in err


def test_no_file_no_note(capsys, tmp_path):
    code, _, err = run(capsys, "plan", CONTRACT, "--nodes", "b200-8x-air=2", "-q", "-o", str(tmp_path / "o"))
    assert code == 0 and "note:" not in err


# --- the most that fits ---------------------------------------------------------------------------

_FILLS: dict[tuple[str, str], tuple[int, str]] = {}


def _fill_count(capsys, facility: str, node: str, tmp_path: Path) -> tuple[int, str]:
    """The most of ``node`` that ``rackplan plan --fill`` places, and the binding limit (planned once
    for the tests that need the same fill)."""
    if (facility, node) not in _FILLS:
        code, _, err = run(capsys, "plan", facility, "--fill", node, "-q", "-o", str(tmp_path / f"fill-{node}"))
        assert code == 0, err
        plan = json.loads((tmp_path / f"fill-{node}" / "plan.json").read_text())
        _FILLS[facility, node] = plan["totals"]["nodes"][node], plan["binding"]["label"]
    return _FILLS[facility, node]


TINY = """version: 1
name: tiny
site: {electricity_usd_per_kwh: 0.10, power_redundancy: N, derate: 0.8, power_factor: 1.0, load_factor: 1.0}
rack_types:
  air-42: {u: 42, cooling: air, air_kw: 100, feed: {volts: 400, phases: 3, amps: 63}, max_weight_kg: 2000}
halls:
  - name: h
    cooling_units: {count: 3, unit_kw: 30, redundant: 1}
    rows:
      - {name: A, rack_type: air-42, racks: 2}
"""


def test_the_binding_limit_is_the_one_that_stops_one_more_node(capsys, tmp_path):
    """By hand: a feed carries 400 x 63 x sqrt(3) x 0.8 / 1000 = 34.9 kW, three h100-8x (10.2 kW each);
    the hall's cooling, 2 x 30 kW usable (N+1), five. The fill places 5 nodes: 51 kW of 60 kW, 85 %, but
    a sixth (61.2 kW) does not fit, so the hall's cooling binds, not the racks' power (20.4 and 30.6 kW
    of 34.9 kW), and a demand of six says the same."""
    facility = tmp_path / "tiny.yaml"
    facility.write_text(TINY)
    code, _, err = run(capsys, "plan", str(facility), "--fill", "h100-8x", "-q", "-o", str(tmp_path / "o"))
    assert code == 0, err
    plan = json.loads((tmp_path / "o" / "plan.json").read_text())
    assert plan["totals"]["nodes"]["h100-8x"] == 5 and plan["halls"][0]["utilization"] == pytest.approx(51 / 60)
    assert plan["binding"]["limit"] == "hall" and plan["binding"]["halls_full"] == ["h"]
    code, _, err = run(capsys, "plan", str(facility), "--nodes", "h100-8x=6", "-q", "-o", str(tmp_path / "six"))
    assert code == 1 and "at most 5 h100-8x fit (40 GPUs); binding: hall cooling" in err, err


def test_too_many_nodes_says_the_most_that_fit(capsys, tmp_path):
    most, binding = _fill_count(capsys, CONTRACT, "b200-8x-air", tmp_path)
    code, _, err = run(capsys, "plan", CONTRACT, "--nodes", f"b200-8x-air={most + 1}", "-q", "-o", str(tmp_path / "o"))
    assert code == 1
    assert f"at most {most:,} b200-8x-air fit ({8 * most:,} GPUs); binding: {binding}" in err
    assert not (tmp_path / "o").exists()
    # the diagnosis still comes first
    assert err.splitlines()[0].startswith("rackplan: no plan:")


def test_unreachable_target_says_the_most_of_each_candidate(capsys, tmp_path):
    b200, _ = _fill_count(capsys, CONTRACT, "b200-8x-air", tmp_path)
    mi400, _ = _fill_count(capsys, CONTRACT, "mi400-8x", tmp_path)
    code, _, err = run(capsys, "plan", CONTRACT, "--gpus", "100000", "--candidates", "b200-8x-air,mi400-8x", "-q",
                       "-o", str(tmp_path / "o"))
    assert code == 1
    assert f"at most {b200:,} b200-8x-air fit on their own ({8 * b200:,} GPUs); binding:" in err
    assert f"at most {mi400:,} mi400-8x fit on their own ({8 * mi400:,} GPUs); binding:" in err


def test_target_in_pflops_gives_the_most_in_pflops(capsys, tmp_path):
    code, _, err = run(capsys, "plan", CONTRACT, "--fp8-pflops", "1000000", "--candidates", "b200-8x-air", "-q",
                       "-o", str(tmp_path / "o"))
    assert code == 1
    assert re.search(r"at most [\d,]+ b200-8x-air fit \([\d,]+\.\d FP8 PFLOPS \(dense\)\); binding: ", err), err


def test_fill_that_fits_nothing_and_a_node_that_fits_nowhere(capsys, tmp_path):
    code, _, err = run(capsys, "plan", COLO, "--fill", "gb200-nvl72", "-q", "-o", str(tmp_path / "o"))
    assert code == 1 and "at most 0 gb200-nvl72 fit" in err
    code, _, err = run(capsys, "plan", COLO, "--nodes", "gb200-nvl72=1,b200-8x-air=3", "-q", "-o", str(tmp_path / "o"))
    assert code == 1
    assert "at most 0 gb200-nvl72 fit on their own" in err
    assert re.search(r"at most \d+ b200-8x-air fit on their own \(\d+ GPUs\); binding: ", err), err


# --- counts and their nouns -----------------------------------------------------------------------

def test_one_rack_is_one_rack(capsys, tmp_path):
    code, out, err = run(capsys, "plan", CONTRACT, "--nodes", "b200-8x-air=1", "-o", str(tmp_path / "o"))
    assert code == 0, err
    assert "1 node / 8 GPUs in 1 rack," in err
    assert "independent check: passed: 1 rack, " in err
    html = (tmp_path / "o" / "report.html").read_text()
    report = json.loads((tmp_path / "o" / "plan.json").read_text())
    assert report["totals"]["racks_used"] == 1
    for text in (out, err, re.sub(r"<[^>]+>", "", html)):
        assert not re.search(r"(?<![\d,.])1 (racks|nodes|plans|rows|halls|paths|sources|panels|violations)\b", text)
    assert "passed: 1 rack re-verified" in html


def test_validate_counts(capsys):
    code, out, _ = run(capsys, "validate", AI_HALL)
    assert code == 0
    assert "1 hall, 7 rows, 78 racks" in out and "on 2 paths" in out and "(s)" not in out
    assert "1,800 kg" in out


# --- check ----------------------------------------------------------------------------------------

def test_check_lists_limit_breaches_first_and_ends_with_a_summary(capsys, tmp_path):
    from planner.inputs.facility import load_facility
    from planner.results.checker import check_plan

    assert run(capsys, "plan", CONTRACT, "--nodes", "b200-8x-air=6", "-q", "-o", str(tmp_path / "o"))[0] == 0
    path = tmp_path / "o" / "plan.json"
    plan = json.loads(path.read_text())
    plan["racks"][0]["nodes"]["b200-8x-air"] += 2  # breaks the rack's feeds and the plan's own totals
    path.write_text(json.dumps(plan))
    code, out, _ = run(capsys, "check", str(path), CONTRACT)
    assert code == 1
    report = check_plan(load_facility(CONTRACT).facility, plan, load_catalogue())
    limits, book = report.limit_violations, len(report.violations) - report.limit_violations
    assert limits > 0 and book > 0
    lines = out.splitlines()
    assert lines[:-1] == [f"{path}: {v}" for v in report.violations]  # breaches, then mismatches
    assert all("reports" not in line and "!=" not in line for line in lines[:limits])
    assert lines[-1] == (f"{path}: FAILED: {limits + book:,} violations ({limits:,} limit breach"
                         f"{'es' if limits != 1 else ''}, {book:,} bookkeeping mismatch{'es' if book != 1 else ''})")


def test_check_of_a_comparison_names_its_plans(capsys, tmp_path):
    out_dir = tmp_path / "c"
    code, _, err = run(capsys, "compare", CONTRACT, "--candidates", "b200-8x-air,h100-8x", "--gpus", "64", "-q",
                       "--no-break-even", "-o", str(out_dir))
    assert code == 0, err
    code, _, err = run(capsys, "check", str(out_dir / "compare.json"))
    assert code == 2
    named = re.search(r"rackplan check (\S+\.json)", err).group(1)
    assert Path(named).exists() and Path(named).parent == out_dir / "plans"
    assert "and the 1 other in" in err
    assert run(capsys, "check", named)[0] == 0


# --- the demand example says what its plan does ---------------------------------------------------

def test_demand_example_comments_match_its_plan(capsys, tmp_path):
    code, _, err = run(capsys, "plan", AI_HALL, "--demand", DEMAND, "-q", "-o", str(tmp_path / "o"))
    assert code == 0, err
    plan = json.loads((tmp_path / "o" / "plan.json").read_text())
    t = plan["totals"]
    assert t["nodes"] == {"b200-8x-air": 48, "mi400-8x": 64} and t["gpus"] == 896 and t["racks_used"] == 25
    fills = Counter((r["rack_type"], tuple(sorted(r["nodes"].items())), bool(r.get("existing")))
                    for r in plan["racks"])
    assert fills == {("rdhx-55", (("b200-8x-air", 3),), False): 14,   # one 650 kW rear-door row
                     ("rdhx-55", (("b200-8x-air", 2),), True): 1,     # E/16, beside the H100 pilot
                     ("air-35", (("b200-8x-air", 1),), True): 4,      # row G, existing load pays the rack
                     ("immersion-150", (("mi400-8x", 12),), False): 5,  # row F
                     ("dlc-130", (("mi400-8x", 4),), False): 1}     # row A
    assert {r["row"] for r in plan["racks"] if r["rack_type"] == "rdhx-55" and not r.get("existing")} <= {"C", "D"}
    assert [r["id"] for r in plan["racks"] if r["rack_type"] == "rdhx-55" and r.get("existing")] == ["hall-1/E/16"]
    hall = plan["halls"][0]
    assert t["it_kw"] == pytest.approx(1390.4)
    assert hall["existing_kw"] == pytest.approx(64.1) and hall["heat_kw"] == pytest.approx(1454.5)
    assert hall["usable_kw"] == 2100 and round(hall["utilization"] * 100) == 69
    assert plan["binding"]["label"] == "rack power (feeds)"
    text = Path(DEMAND).read_text()
    for figure in ("14 racks", "600.6 kW", "E/16", "4 air-35", "5 full tanks", "660 kW", "1,390.4 kW", "64.1 kW",
                   "1,454.5 kW", "2,100 kW", "69 %", "25 racks"):
        assert figure in text


def test_a_node_that_cannot_be_placed_shows_its_power_unrounded(capsys, tmp_path):
    """Two racks of 34.9 kW take six 10.2 kW h100-8x (three each) when cooling is ample: the seventh is
    short, 10.2 kW (not "10 kW"), and lifting rack power alone would place it."""
    facility = tmp_path / "tiny.yaml"
    facility.write_text(TINY.replace("count: 3, unit_kw: 30", "count: 2, unit_kw: 1000"))
    code, _, err = run(capsys, "plan", str(facility), "--nodes", "h100-8x=7", "-q", "-o", str(tmp_path / "o"))
    assert code == 1
    assert err.startswith("rackplan: no plan: racks: 1 of 7 h100-8x (10.2 kW) cannot be placed in any rack"), err
    assert "binding: rack power (feeds) (lifting it alone fits 1 h100-8x (10.2 kW) more)" in err
    code, _, err = run(capsys, "plan", str(facility), "--gpus", "49", "--candidates", "h100-8x", "-q", "-o",
                       str(tmp_path / "g"))
    assert code == 1 and "(lifting it alone fits 1 GPU more)" in err, err


def test_the_binding_limit_counts_what_one_more_node_adds_to_it(capsys, tmp_path):
    """A CDU group takes only liquid heat, and the room air of a hall with CDU groups only air heat: an
    air-only plan leaves the CDU groups unbound, and a hall of DLC racks with 5.4 kW of air cooling left
    is not full for a b200-8x-dlc that adds 2.4 kW of air (12 kW x 20 %), though it would be for 12 kW."""
    power = str(ROOT / "facilities" / "contract-power-example.yaml")
    code, _, err = run(capsys, "plan", power, "--nodes", "h100-8x=2", "-q", "--no-xlsx", "-o", str(tmp_path / "a"))
    assert code == 0, err
    binding = json.loads((tmp_path / "a" / "plan.json").read_text())["binding"]
    assert binding["cdus_full"] == [] and binding["limit"] != "cdu"
    text = Path(power).read_text()
    room = "    cooling_units: {count: 6, unit_kw: 300, redundant: 1}   # room air only, since the hall has CDUs"
    assert room in text
    small = tmp_path / "small-room.yaml"
    small.write_text(text.replace(room, "    cooling_units: {count: 3, unit_kw: 15, redundant: 1}"))
    code, _, err = run(capsys, "plan", str(small), "--nodes", "b200-8x-dlc=4", "--only", "hall-1", "-q", "--no-xlsx",
                       "-o", str(tmp_path / "b"))
    assert code == 0, err
    plan = json.loads((tmp_path / "b" / "plan.json").read_text())
    hall = plan["halls"][0]
    assert hall["cools"] == "air" and 2.4 < hall["usable_kw"] - hall["cooled_kw"] < 12
    assert plan["binding"]["halls_full"] == [] and plan["binding"]["limit"] != "hall"
