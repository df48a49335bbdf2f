"""The command line as a user meets it: help, exit codes, outputs, determinism, safe writes.

Commands run in this process through the ``rackplan`` fixture (``planner.cli.main``, see conftest.py);
determinism is checked against a second run by the real console script in its own interpreter (another
hash seed), which is also this file's end-to-end check of the installed script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AI_HALL = str(ROOT / "facilities" / "ai-hall.yaml")
CONTRACT = str(ROOT / "facilities" / "contract-example.yaml")
REQUIRED = ["h100-8x", "h200-8x", "b200-8x-air", "b200-8x-dlc", "gb200-nvl4", "gb200-nvl72", "mi300x-8x",
            "mi355x-8x-dlc", "mi400-8x", "mi400-4x"]


def console_script(*args: str) -> subprocess.CompletedProcess:
    """The installed ``rackplan`` beside this interpreter (else ``python -m planner.cli``), in its own
    process with its own hash seed."""
    script = Path(sys.executable).with_name("rackplan")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "planner.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_help_teaches_with_examples(rackplan):
    out = rackplan("--help")
    assert out.returncode == 0
    for word in ("validate", "specs", "schema", "plan", "compare", "report", "examples:", "exit codes"):
        assert word in out.stdout
    plan_help = rackplan("plan", "--help").stdout
    for flag in ("--demand", "--nodes", "--gpus", "--candidates", "--fill", "--tdp", "--solver", "--time-limit", "-o"):
        assert flag in plan_help


def test_every_plan_example_in_help_runs(rackplan, tmp_path, monkeypatch):
    """``rackplan plan --help`` teaches by its examples, and each of them plans as written (from the
    repository's top, as the README runs them)."""
    import shlex

    monkeypatch.chdir(ROOT)

    from planner.cli import COMMAND_EXAMPLES

    plan_help = rackplan("plan", "--help").stdout
    for flag in ("--price", "--only", "--exclude", "--together", "--point", "--no-xlsx"):
        assert flag in plan_help.split("examples:")[1], flag
    for i, line in enumerate(COMMAND_EXAMPLES["plan"]):
        args = shlex.split(line.split("   #")[0].replace("\\\n", " "))
        assert args[:2] == ["rackplan", "plan"]
        out = rackplan(*args[1:], "-q", "-o", tmp_path / str(i))
        assert out.returncode == 0, f"{line}\n{out.stderr}"


def test_an_unknown_argument_points_to_the_help_of_its_command(rackplan):
    out = rackplan("compare", AI_HALL, "--fill", "h100-8x")
    assert out.returncode == 2
    assert out.stderr == "rackplan: <command line>: unrecognized arguments: h100-8x (see 'rackplan compare --help')\n"
    out = rackplan("netbox", "export", "plan.json", "--bogus")
    assert out.stderr == "rackplan: <command line>: unrecognized arguments: --bogus (see 'rackplan netbox export --help')\n"
    out = rackplan("--bogus", "plan", AI_HALL)  # before the command: the top level's
    assert out.stderr == "rackplan: <command line>: unrecognized arguments: --bogus (see 'rackplan --help')\n"


def test_no_command_prints_help_and_exits_2(rackplan):
    out = rackplan()
    assert out.returncode == 2 and "usage:" in out.stdout


def test_validate_summarises_the_contract_example(rackplan):
    out = rackplan("validate", CONTRACT)
    assert out.returncode == 0, out.stderr
    assert "84 racks (2 with existing load)" in out.stdout
    assert "dlc-130: 24 racks, 48U, dlc, 2N on 2 paths, carries 136.6 kW" in out.stdout
    assert "hall hall-1: 60 racks in 4 rows, cooling 3,500 kW usable (8 x 500 kW, N+1)" in out.stdout


def test_validate_counts_racks_with_existing_load_not_entries(rackplan, tmp_path):
    """Two ``existing`` entries in one rack (two devices) are one rack with existing load."""
    text = Path(CONTRACT).read_text(encoding="utf-8")
    entry = "  - {rack: hall-1/D/01, kw: 12, u: 8, weight_kg: 300}\n"
    assert entry in text
    path = tmp_path / "two-entries.yaml"
    path.write_text(text.replace(entry, entry + "  - {rack: hall-1/D/01, kw: 2, u: 2, weight_kg: 40}\n"),
                    encoding="utf-8")
    out = rackplan("validate", path)
    assert out.returncode == 0, out.stderr
    assert "84 racks (2 with existing load)" in out.stdout


def test_specs_json_lists_every_required_node_with_source_and_status(rackplan):
    out = rackplan("specs", "--json")
    assert out.returncode == 0
    data = json.loads(out.stdout)
    for nid in REQUIRED:
        node = data["nodes"][nid]
        assert node["status"] in ("shipping", "announced", "projected")
        assert node["sources"] and all(s in data["sources"] for s in node["sources"])
        power = node["power"]["max_kw"] if node["power"]["basis"] == "vendor_max" else node["power"]["overhead_kw"]
        assert power["sources"] and power["status"]
    assert set(data["nodes"]["mi400-8x"]["points"]) == {"low", "nominal", "high"}
    assert data["accelerators"]["mi400"]["disagreement"]


def test_specs_table_shows_ranges_and_disagreement(rackplan):
    out = rackplan("specs")
    assert out.returncode == 0, out.stderr
    assert "11.0 (9.6-12.4)" in out.stdout and "where sources disagree" in out.stdout


def test_schema_is_json_schema_of_the_facility(rackplan):
    out = rackplan("schema")
    assert out.returncode == 0, out.stderr
    schema = json.loads(out.stdout)
    assert schema["title"] == "Facility" and "rack_types" in schema["properties"]
    assert schema["$defs"]["RackType"]["additionalProperties"] is False


def test_plan_writes_three_files_and_summary(rackplan, tmp_path):
    out = rackplan("plan", CONTRACT, "--nodes", "b200-8x-air=24", "-o", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr
    files = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert files == ["plan.json", "racks.csv", "racks.xlsx", "report.html"]
    plan = json.loads((tmp_path / "o" / "plan.json").read_text())
    assert plan["schema"] == "rackplan.plan/1" and plan["solver"]["status"] == "optimal"
    assert plan["totals"]["racks_used"] == 8 and plan["totals"]["it_kw"] == pytest.approx(343.2)
    assert plan["checks"]["passed"] is True
    assert "plan: optimal" in out.stderr and "first-fit baseline" in out.stderr
    csv = (tmp_path / "o" / "racks.csv").read_text().splitlines()
    assert csv[0].startswith("id,hall,row,rack_type") and len(csv) == 1 + 8


def test_plan_is_deterministic_apart_from_timing(rackplan, tmp_path):
    """The same plan from this process and from the console script in a fresh interpreter (whose hash
    seed differs, so set and dict orders that hang on it would show): same plan.json, same racks.csv."""
    docs = []
    for i, run in enumerate((rackplan, console_script)):
        out = run("plan", AI_HALL, "--demand", str(ROOT / "examples" / "ai-hall-demand.yaml"), "-q",
                  "-o", str(tmp_path / f"o{i}"))
        assert out.returncode == 0, out.stderr
        assert out.stderr == "" and out.stdout.startswith(f"wrote {tmp_path / f'o{i}' / 'plan.json'}, ")
        doc = json.loads((tmp_path / f"o{i}" / "plan.json").read_text())
        doc["solver"].pop("seconds")
        assert doc.pop("made_at").endswith("Z")
        docs.append(doc)
    assert docs[0] == docs[1]
    assert (tmp_path / "o0" / "racks.csv").read_text() == (tmp_path / "o1" / "racks.csv").read_text()


def test_command_line_overrides_the_demand_file(rackplan, tmp_path):
    out = rackplan("plan", AI_HALL, "--demand", str(ROOT / "examples" / "ai-hall-demand.yaml"),
                   "--nodes", "h100-8x=2", "-q", "-o", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "o" / "plan.json").read_text())["totals"]["nodes"] == {"h100-8x": 2}


def test_tdp_what_if_rederives_node_power(rackplan, tmp_path):
    out = rackplan("plan", CONTRACT, "--nodes", "mi400-8x=4", "--tdp", "mi400=1400", "-q", "-o", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr
    node = json.loads((tmp_path / "o" / "plan.json").read_text())["node_types"]["mi400-8x"]
    assert node["max_kw"] == pytest.approx(8 * 1.4 + 3.0) and node["tdp_overridden"] is True


def test_infeasible_demand_exits_1_with_diagnosis_and_writes_nothing(rackplan, tmp_path):
    out = rackplan("plan", CONTRACT, "--nodes", "b200-8x-air=175", "-o", str(tmp_path / "o"))
    assert out.returncode == 1
    assert "row hall-1/C cooling: demand needs 601 kW, usable 600 kW" in out.stderr
    assert not (tmp_path / "o").exists()


def test_bad_input_exits_2_one_line_no_traceback(rackplan, tmp_path):
    out = rackplan("plan", CONTRACT, "--nodes", "b200-8x=2", "-o", str(tmp_path / "o"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rackplan: <command line>: --nodes b200-8x: unknown node id")
    assert "b200-8x-air" in lines[0]
    assert not (tmp_path / "o").exists()


def test_failed_render_leaves_previous_outputs(rackplan, tmp_path, monkeypatch):
    """Outputs are staged and renamed only when every file is ready: a failure while writing leaves the
    old files, whole, and no temporary files."""
    from planner import api

    out_dir = tmp_path / "o"
    assert rackplan("plan", CONTRACT, "--nodes", "b200-8x-air=2", "-q", "-o", str(out_dir)).returncode == 0
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    from planner.inputs.demand import Demand
    from planner.inputs.facility import load_facility
    from planner.inputs.specs import load_library

    run = api.run_plan(load_facility(CONTRACT), load_library(), Demand("nodes", nodes={"b200-8x-air": 4}))

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("planner.results.plan_json.racks_csv", broken)
    monkeypatch.setattr(api, "racks_csv", broken)
    with pytest.raises(RuntimeError):
        api.write_plan(run, out_dir)
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before


def test_report_command_rerenders_a_plan(rackplan, tmp_path):
    assert rackplan("plan", CONTRACT, "--nodes", "b200-8x-air=2", "-q", "-o", str(tmp_path / "o")).returncode == 0
    out = rackplan("report", str(tmp_path / "o" / "plan.json"), "-o", str(tmp_path / "again.html"))
    assert out.returncode == 0, out.stderr
    again = (tmp_path / "again.html").read_text()
    assert "re-verified" in again and "(rackplan report, against the facility recorded in the plan)" in again
    # the same report, but for saying who checked it the second time
    assert again.replace(" (rackplan report, against the facility recorded in the plan)", "") \
        == (tmp_path / "o" / "report.html").read_text()


def test_check_command_passes_a_plan_and_catches_a_tampered_one(rackplan, tmp_path):
    assert rackplan("plan", CONTRACT, "--nodes", "b200-8x-air=6", "-q", "-o", str(tmp_path / "o")).returncode == 0
    path = tmp_path / "o" / "plan.json"
    ok = rackplan("check", str(path), CONTRACT)
    assert ok.returncode == 0 and "every limit holds" in ok.stdout
    plan = json.loads(path.read_text())
    plan["racks"][0]["nodes"]["b200-8x-air"] += 2  # three or more 14.3 kW nodes on a 32.8/54.6 kW side
    path.write_text(json.dumps(plan))
    bad = rackplan("check", str(path), CONTRACT)
    assert bad.returncode == 1 and "feed side" in bad.stdout and "totals.nodes" in bad.stdout


def test_compare_writes_every_point_and_checked_plans(rackplan, tmp_path):
    out = rackplan("compare", AI_HALL, "--candidates", "mi400-8x,b200-8x-air", "--gpus", "1024", "-q",
                   "-o", str(tmp_path / "c"))
    assert out.returncode == 0, out.stderr
    c = tmp_path / "c"
    assert {p.name for p in c.iterdir()} == {"compare.json", "compare.csv", "compare.html", "plans"}
    assert sorted(p.name for p in (c / "plans").iterdir()) == [
        "b200-8x-air@nominal.json", "mi400-8x@high.json", "mi400-8x@low.json", "mi400-8x@nominal.json"]
    doc = json.loads((c / "compare.json").read_text())
    points = [(r["candidate"], r["point"]) for r in doc["rows"]]
    assert points == [("mi400-8x", "low"), ("mi400-8x", "nominal"), ("mi400-8x", "high"), ("b200-8x-air", "nominal")]
    for row in doc["rows"]:
        assert row["gpus"] >= 1024
        plan = json.loads((c / row["plan_file"]).read_text())
        assert plan["checks"]["passed"] and plan["totals"]["gpus"] == row["gpus"]
        checked = rackplan("check", str(c / row["plan_file"]), AI_HALL)
        assert checked.returncode == 0, checked.stdout
    lows = {r["point"]: r["node"]["max_kw"] for r in doc["rows"] if r["candidate"] == "mi400-8x"}
    assert lows == {"low": pytest.approx(9.6), "nominal": pytest.approx(11.0), "high": pytest.approx(12.4)}
    assert doc["break_even"] and doc["break_even"][0]["candidate"] == "mi400-8x"
    # the MI400 projection is disputed by AMD's published figures: the comparison says so
    assert [d["accelerator"] for d in doc["spec_disputes"]] == ["mi400"]
    assert "mi455x" in doc["spec_disputes"][0]["see_also"]
    assert "Where sources disagree" in (c / "compare.html").read_text()


def test_highs_solver_gives_the_same_optimum(rackplan, tmp_path):
    pytest.importorskip("highspy")
    costs = []
    for solver in ("cbc", "highs"):
        out = rackplan("plan", AI_HALL, "--gpus", "1024", "--candidates", "mi400-8x,b200-8x-air", "--solver", solver,
                       "-q", "-o", str(tmp_path / solver))
        assert out.returncode == 0, out.stderr
        o = tmp_path / solver  # stdout is the one line saying what was written: HiGHS's banner stays off it
        assert out.stdout == f"wrote {o}/plan.json, {o}/racks.csv, {o}/racks.xlsx, {o}/report.html\n"
        costs.append(json.loads((tmp_path / solver / "plan.json").read_text())["totals"]["annual_usd"]["total"])
    assert costs[0] == pytest.approx(costs[1], rel=1e-4)


def test_output_commit_is_all_or_nothing(tmp_path, monkeypatch):
    """A move that fails half way through the commit takes back the files already moved and restores
    the ones they replaced; a directory replaced as a whole drops files from an earlier run."""
    from planner.results import outputs

    out = tmp_path / "o"
    with outputs.atomic_outputs(out) as o:
        o.write_text("a.txt", "old a")
        o.write_text("b.txt", "old b")
        o.replace_dir("plans")
        o.write_text("plans/x@nominal.json", "{}")
    real = os.replace
    calls = {"n": 0}

    def flaky(src, dst):  # the new b.txt cannot be moved in, once
        if str(dst).endswith("b.txt") and ".new" in str(src) and not calls["n"]:
            calls["n"] += 1
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", flaky)
    (out / "c.txt").write_text("old c")
    with pytest.raises(Exception) as info:
        with outputs.atomic_outputs(out) as o:
            o.write_text("a.txt", "new a")
            o.write_text("b.txt", "new b")
            o.retire("c.txt")  # removed by a commit that succeeds; this one fails, so it stays
    assert calls["n"] == 1 and "No space left" in str(info.value)
    assert (out / "a.txt").read_text() == "old a" and (out / "b.txt").read_text() == "old b"
    assert (out / "c.txt").read_text() == "old c"
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", "c.txt", "plans"]  # no temporary files left
    monkeypatch.setattr(outputs.os, "replace", real)
    with outputs.atomic_outputs(out) as o:
        o.replace_dir("plans")
        o.write_text("plans/y@nominal.json", "{}")
    assert [p.name for p in (out / "plans").iterdir()] == ["y@nominal.json"]
    with outputs.atomic_outputs(out) as o:
        o.write_text("a.txt", "newer a")
        o.retire("c.txt")
        o.retire("d.txt")  # not there: nothing to do
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", "plans"]


def test_a_plan_written_over_an_earlier_one_leaves_none_of_its_files(rackplan, tmp_path):
    """A plan of a facility with a power tree, then one without, written to the same directory with
    --no-xlsx: the first run's power.csv and racks.xlsx go (they would pass for the new plan's), a file
    rackplan does not write stays."""
    out = tmp_path / "o"
    first = rackplan("plan", ROOT / "facilities" / "ai-building.yaml", "--nodes", "b200-8x-dlc=4", "-q", "-o", out)
    assert first.returncode == 0 and (out / "power.csv").exists() and (out / "racks.xlsx").exists()
    (out / "notes.txt").write_text("mine")
    second = rackplan("plan", ROOT / "facilities" / "ai-hall.yaml", "--nodes", "h100-8x=2", "-q", "--no-xlsx",
                      "-o", out)
    assert second.returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "plan.json", "racks.csv", "report.html"]
    mine = tmp_path / "mine"  # no plan there: a power.csv of the user's own stays
    mine.mkdir()
    (mine / "power.csv").write_text("my own")
    third = rackplan("plan", ROOT / "facilities" / "ai-hall.yaml", "--nodes", "h100-8x=2", "-q", "--no-xlsx",
                     "-o", mine)
    assert third.returncode == 0 and (mine / "power.csv").read_text() == "my own"


def test_compare_with_no_candidate_fitting_exits_1_and_writes_nothing(rackplan, tmp_path):
    out = rackplan("compare", str(ROOT / "facilities" / "colo-brownfield-208v.yaml"), "--candidates",
                   "mi400-8x,b200-8x-dlc", "--gpus", "64", "-q", "-o", str(tmp_path / "c"))
    assert out.returncode == 1
    assert "no candidate can meet the demand" in out.stderr and "liquid" in out.stderr
    assert not (tmp_path / "c").exists()


def test_check_catches_a_missed_fp8_target_and_reads_contract_shaped_plans(rackplan, tmp_path):
    """The checker trusts the library, not the plan, for node figures: a plan that claims more FP8
    per node than the library gives fails; a plan with only the contract's five node figures checks."""
    assert rackplan("plan", CONTRACT, "--fp8-pflops", "2000", "--candidates", "b200-8x-air", "-q",
                    "-o", str(tmp_path / "o")).returncode == 0
    plan = json.loads((tmp_path / "o" / "plan.json").read_text())
    minimal = json.loads(json.dumps(plan))
    minimal["node_types"] = {k: {f: v[f] for f in ("gpus", "u", "max_kw", "liquid_fraction", "weight_kg")}
                             for k, v in plan["node_types"].items()}
    (tmp_path / "min.json").write_text(json.dumps(minimal))
    assert rackplan("check", str(tmp_path / "min.json"), CONTRACT).returncode == 0
    gone = plan["racks"].pop(0)["nodes"]["b200-8x-air"]  # drop a rack and pretend the rest still reach it
    plan["node_types"]["b200-8x-air"]["fp8_pflops"] = 1000.0
    plan["totals"]["nodes"]["b200-8x-air"] -= gone
    plan["totals"]["gpus"] -= 8 * gone
    plan["totals"]["racks_used"] -= 1
    (tmp_path / "t.json").write_text(json.dumps(plan))
    bad = rackplan("check", str(tmp_path / "t.json"), CONTRACT)
    assert bad.returncode == 1
    assert "fp8_pflops 1000.0 differs from the library's 36.0" in bad.stdout
    assert "demand: target 2000 fp8_pflops, plan reaches" in bad.stdout


def test_console_ends_quick_commands_at_once_and_others_normally(monkeypatch, tmp_path):
    """`rackplan` ends the process right after a plan-type command (no teardown of a campus plan's
    objects), with main's exit code; other commands, or a process with other threads, exit normally."""
    import threading

    from planner import cli

    ended = []

    class Ended(Exception):
        pass

    def fake_exit(code):
        ended.append(code)
        raise Ended

    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # whatever threads the test runner has
    with pytest.raises(Ended):
        cli.console(["validate", CONTRACT])
    assert ended == [0]
    with pytest.raises(Ended):
        cli.console(["validate", str(tmp_path / "missing.yaml")])
    assert ended == [0, 2]
    with pytest.raises(SystemExit) as out:
        cli.console(["compare", str(tmp_path / "missing.yaml")])
    assert out.value.code == 2 and ended == [0, 2]
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # another thread still runs
    with pytest.raises(SystemExit) as out:
        cli.console(["validate", CONTRACT])
    assert out.value.code == 0 and ended == [0, 2]


def test_a_plan_larger_than_a_yaml_input_is_read_back(rackplan, tmp_path):
    """plan.json reaches 16 MB at campus size: check and report read JSON up to 128 MB (YAML inputs stay
    bounded at 8 MB)."""
    import json

    out = tmp_path / "o"
    assert rackplan("plan", CONTRACT, "--nodes", "b200-8x-air=2", "-q", "--no-xlsx", "-o", str(out)).returncode == 0
    plan = json.loads((out / "plan.json").read_text())
    plan["facility"]["description"] = "x" * (9 * 1024 * 1024)
    big = tmp_path / "big.json"
    big.write_text(json.dumps(plan))
    assert big.stat().st_size > 9 * 1024 * 1024
    ran = rackplan("check", str(big))
    assert ran.returncode == 0 and "passed" in ran.stdout
    assert rackplan("report", str(big), "-o", str(tmp_path / "r")).returncode == 0
    yaml_file = tmp_path / "big.yaml"
    yaml_file.write_text("name: " + "x" * (9 * 1024 * 1024) + "\n")
    ran = rackplan("validate", str(yaml_file))
    assert ran.returncode == 2 and "the limit is 8,388,608" in ran.stderr


def test_an_optimal_plan_with_a_gap_says_it_is_within_the_tolerance():
    from planner.cli import _gap_words

    assert _gap_words({"status": "optimal", "gap": 0.0, "gap_tolerance": 1e-4}) == "gap 0.0000%"
    assert _gap_words({"status": "optimal", "gap": 1.9e-5, "gap_tolerance": 1e-4}) == \
        "gap 0.0019%, within the 0.01% tolerance"
    assert _gap_words({"status": "feasible", "gap": 2.977e-3, "gap_tolerance": 1e-4}) == "gap 0.2977%"
    assert _gap_words({"status": "optimal", "gap": 4e-4, "gap_tolerance": 1e-3}) == \
        "gap 0.0400%, within the 0.1% tolerance"
