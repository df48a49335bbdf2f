"""The bad-input corpus (issue #5): every file in ``tests/data/bad/`` through the command line.

Each case must exit with code 2 and print one line per problem on stderr, each line naming the file,
the path of the field inside it and what is wrong; no traceback; no output file (the output
directory does not exist or is empty, and no temporary file is left anywhere). It must also be
refused before the solver stack (PuLP, HiGHS, pandas, numpy) is imported, which is what keeps it
quick; that is checked in a fresh interpreter, not with a clock.

The cases run in this process through ``planner.cli.main`` (``run`` below: its own working directory
and TMPDIR, so a stray file shows up; an exception escaping ``main`` fails the test, so a case that
would print a traceback cannot pass). A few run the installed console script as a real process:
the exit codes and output it gives, a closed stdout (``rackplan specs | head``), and the import check.

Which command a file goes through follows from its name:

* ``facility-*`` - ``rackplan validate FILE``;
* ``demand-*``   - ``rackplan plan GOOD_FACILITY --demand FILE -o OUT``;
* ``specs-*``    - ``rackplan plan GOOD_FACILITY --specs FILE --nodes b200-8x-air=1 -o OUT``.

``EXPECTED`` is the one table of what each case must say: the number of problem lines and the
fragments that must appear. Infeasible demands (exit code 1, a diagnosis naming the resource and
the amount) are at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BAD = REPO / "tests" / "data" / "bad"
GOOD_FACILITY = REPO / "facilities" / "contract-example.yaml"
SHARED_EXAMPLE = REPO.parent / "shared" / "contract" / "facility.example.yaml"
BROWNFIELD = REPO / "facilities" / "colo-brownfield-208v.yaml"
PWNED = Path("/tmp/rackplan-pwned-by-bad-input")
"""What ``facility-python-tag.yaml`` and ``specs-python-tag.yaml`` would create if a tag ran."""

# file -> (number of problem lines, fragments every one of which must appear on stderr)
EXPECTED: dict[str, tuple[int, list[str]]] = {
    # --- wrong types, numbers, enums, keys ----------------------------------------------------------
    "facility-racks-is-a-string.yaml": (1, ["halls[0].rows[0].racks", "valid integer", "'12'"]),
    "facility-racks-is-yes.yaml": (1, ["halls[0].rows[0].racks", "valid integer", "True"]),
    "facility-negative-amps.yaml": (1, ["rack_types.air-20.feed.amps", "greater than 0", "-32"]),
    "facility-zero-racks.yaml": (1, ["halls[0].rows[1].racks", "greater than 0", "got 0"]),
    "facility-nan-air-kw.yaml": (1, ["rack_types.air-20.air_kw", "finite number", "nan"]),
    "facility-infinite-unit-kw.yaml": (1, ["halls[0].cooling_units.unit_kw", "finite number", "inf"]),
    "facility-unknown-key.yaml": (1, ["halls[0].rows[1].colling_kw", "unknown key 'colling_kw'",
                                      "did you mean 'cooling_kw'"]),
    "facility-unknown-cooling-water.yaml": (1, ["rack_types.air-20.cooling", "'air', 'rdhx', 'dlc' or 'immersion'",
                                                "'water'"]),
    "facility-phases-2.yaml": (1, ["rack_types.air-20.feed.phases", "1 or 3", "got 2"]),
    "facility-version-2.yaml": (1, ["version", "should be 1", "got 2"]),
    "facility-missing-site.yaml": (1, ["site", "required field is missing"]),
    "facility-top-level-list.yaml": (1, ["expected a YAML mapping at the top level", "list"]),
    # --- names and references -----------------------------------------------------------------------
    "facility-duplicate-hall-names.yaml": (1, ["halls[1].name", "duplicate hall name 'hall-1'", "halls[0]"]),
    "facility-duplicate-row-names.yaml": (1, ["halls[0].rows[2].name", "duplicate row name 'A'", "rows[0]"]),
    "facility-duplicate-mapping-key.yaml": (1, ["rack_types.air-20.air_kw", "duplicate key", ":10:"]),
    "facility-duplicate-rack-type.yaml": (1, ["rack_types.air-20", "duplicate key", ":13:"]),
    "facility-unknown-rack-type.yaml": (1, ["halls[0].rows[0].rack_type", "unknown rack type 'air-02'",
                                            "did you mean 'air-20'"]),
    "facility-existing-unknown-rack.yaml": (1, ["existing[0].rack", "no rack 'hall-1/A/05'",
                                                "hall-1/A/01 to hall-1/A/04"]),
    "facility-existing-unknown-row.yaml": (1, ["existing[0].rack", "no rack 'hall-1/Z/01'", "no row 'Z'"]),
    "facility-existing-overlap.yaml": (1, ["existing[1].position", "units 5-6 overlap existing[0]",
                                          "units 1-6"]),
    # --- existing load over a limit, impossible redundancy, liquid on air ---------------------------
    "facility-existing-over-power.yaml": (1, ["existing[0].kw", "18 kW", "power capacity 17.5 kW"]),
    "facility-existing-over-air.yaml": (1, ["existing[0].kw", "25 kW", "air_kw 20"]),
    "facility-existing-over-u.yaml": (1, ["existing[0].u", "44 U", "42 U"]),
    "facility-existing-over-weight.yaml": (1, ["existing[0].weight_kg", "1200 kg", "max_weight_kg 1000"]),
    "facility-existing-over-row-cooling.yaml": (1, ["halls[0].rows[1].cooling_kw", "160 kW", "cooling_kw 150"]),
    "facility-existing-over-hall-cooling.yaml": (1, ["halls[0].cooling_units", "73 kW", "usable cooling 60 kW"]),
    "facility-redundant-not-below-count.yaml": (1, ["halls[0].cooling_units.redundant", "redundant (4)",
                                                    "less than count (4)"]),
    "facility-liquid-kw-on-air-rack.yaml": (1, ["rack_types.air-20.liquid_kw", "no liquid loop"]),
    # --- several problems in one file: all of them, one line each -----------------------------------
    "facility-three-mistakes.yaml": (3, ["rack_types.air-20.feed.amps", "greater than 0",
                                         "rack_types.dlc-100.cooling", "'water'",
                                         "owner", "unknown key 'owner'"]),
    "facility-three-cross-entity-mistakes.yaml": (3, ["halls[0].rows[0].rack_type", "unknown rack type 'air-02'",
                                                      "halls[0].cooling_units.redundant", "less than count",
                                                      "existing[1].rack", "no rack 'hall-1/B/03'"]),
    # --- the file itself ----------------------------------------------------------------------------
    "facility-malformed-yaml.yaml": (1, ["malformed YAML", "flow mapping", ":11:"]),
    "facility-tab-indent.yaml": (1, ["malformed YAML", "'\\t'", ":7:"]),
    "facility-two-documents.yaml": (1, ["malformed YAML", "single document"]),
    "facility-empty.yaml": (1, ["file is empty"]),
    "facility-comments-only.yaml": (1, ["file is empty"]),
    "facility-binary.yaml": (1, ["binary file"]),
    "facility-not-utf8.yaml": (1, ["not UTF-8", "0xe9"]),
    "facility-is-a-directory.yaml": (1, ["is a directory, not a file"]),
    "facility-alias-bomb.yaml": (1, ["alias bomb", "500,000"]),
    "facility-recursive-alias.yaml": (1, ["recursive YAML alias"]),
    "facility-deep-nesting.yaml": (1, ["nesting"]),
    "facility-python-tag.yaml": (1, ["unsupported YAML", "python/object/apply:os.system", "only plain data"]),
    # --- demand files -------------------------------------------------------------------------------
    "demand-two-kinds.yaml": (1, ["exactly one of nodes, target (with candidates) or fill", "got nodes, fill"]),
    "demand-target-without-candidates.yaml": (1, ["a target needs candidates"]),
    "demand-candidates-without-target.yaml": (1, ["candidates go with a target"]),
    "demand-unknown-node-id.yaml": (1, ["nodes.b200-8x", "unknown node id 'b200-8x'", "did you mean",
                                        "b200-8x-air"]),
    "demand-unknown-candidate.yaml": (1, ["candidates[0]", "unknown node id 'mi400-8'", "mi400-8x"]),
    "demand-negative-count.yaml": (2, ["nodes.b200-8x-air", "got -4", "nodes.h100-8x", "got 0",
                                       "positive integer"]),
    "demand-count-is-a-string.yaml": (1, ["nodes.b200-8x-air", "valid integer", "'24'"]),
    "demand-count-is-fractional.yaml": (1, ["nodes.b200-8x-air", "valid integer", "2.5"]),
    "demand-empty-nodes.yaml": (1, ["nodes", "no nodes given"]),
    "demand-target-two-metrics.yaml": (1, ["target", "exactly one of gpus, fp8_pflops, hbm_tb"]),
    "demand-target-nan.yaml": (1, ["target.fp8_pflops", "finite number", "nan"]),
    "demand-target-infinite-gpus.yaml": (1, ["target.gpus", "valid integer", "inf"]),
    "demand-duplicate-candidates.yaml": (1, ["candidates", "listed twice: mi400-8x"]),
    "demand-duplicate-node-key.yaml": (1, ["nodes.b200-8x-air", "duplicate key", ":5:"]),
    "demand-bad-tdp.yaml": (2, ["tdp.b200", "1..10000", "tdp.mi401", "unknown accelerator 'mi401'", "mi400"]),
    "demand-tdp-nan.yaml": (1, ["tdp.b200", "finite number"]),
    "demand-unknown-key.yaml": (1, ["node", "unknown key 'node'", "did you mean 'nodes'", ":2:"]),
    "demand-python-tag.yaml": (1, ["unsupported YAML", "python/object/new:collections.OrderedDict"]),
    "demand-empty.yaml": (1, ["file is empty"]),
    "demand-fill-is-a-list.yaml": (1, ["fill", "valid string"]),
    # --- spec files ---------------------------------------------------------------------------------
    "specs-unknown-source-id.yaml": (1, ["nodes.our-b200-5u.weight_kg.sources", "unknown source id 'dgx-b200-guide'",
                                         "nvidia-dgx-b200-guide"]),
    "specs-projected-without-range.yaml": (1, ["nodes.our-b200-5u.power.max_kw", "projected figure needs both low and high"]),
    "specs-projected-entry-bare-numbers.yaml": (3, ["nodes.our-b200-5u.liquid_fraction", "nodes.our-b200-5u.weight_kg",
                                                    "nodes.our-b200-5u.power.max_kw", "needs both low and high"]),
    "specs-unknown-accelerator.yaml": (1, ["nodes.our-b200-5u.accelerator", "unknown accelerator 'b2000'", "b200"]),
    "specs-wrong-schema.yaml": (1, ["schema", "'rackplan.specs/1'", "'rackplan.specs/2'"]),
    "specs-air-node-with-liquid-fraction.yaml": (1, ["nodes.our-b200-5u", "air-cooled node has liquid_fraction 0"]),
    "specs-nan-max-kw.yaml": (1, ["nodes.our-b200-5u.power.max_kw", "finite number"]),
    "specs-zero-max-kw.yaml": (1, ["nodes.our-b200-5u", "power.max_kw must be greater than 0, got 0"]),
    "specs-negative-weight.yaml": (1, ["nodes.our-b200-5u", "weight_kg must be at least 0, got -95"]),
    "specs-range-out-of-order.yaml": (1, ["nodes.our-b200-5u.weight_kg", "low <= nominal <= high"]),
    "specs-unknown-key.yaml": (1, ["nodes.our-b200-5u.max_kw", "unknown key 'max_kw'"]),
    "specs-duplicate-node-id.yaml": (1, ["nodes.our-b200-5u", "duplicate key", ":16:"]),
    "specs-python-tag.yaml": (1, ["unsupported YAML", "python/object/apply:subprocess.check_output"]),
}

# Command-line mistakes (no file): id -> (arguments after `plan FACILITY`, problem lines, fragments)
CLI_CASES: dict[str, tuple[list[str], int, list[str]]] = {
    "unknown-node-id": (["--nodes", "b200-8x=4"], 1,
                        ["--nodes b200-8x", "unknown node id 'b200-8x'", "did you mean", "b200-8x-air"]),
    "tdp-not-a-number": (["--nodes", "b200-8x-air=1", "--tdp", "b200=abc"], 1, ["--tdp", "'abc' is not a number"]),
    "tdp-nan": (["--nodes", "b200-8x-air=1", "--tdp", "b200=nan"], 1, ["--tdp", "not a finite number"]),
    "tdp-zero-watts": (["--nodes", "b200-8x-air=1", "--tdp", "b200=0"], 1, ["--tdp b200", "1..10000"]),
    "tdp-unknown-accelerator": (["--nodes", "b200-8x-air=1", "--tdp", "b2000=1000"], 1,
                                ["--tdp b2000", "unknown accelerator 'b2000'", "b200"]),
    "tdp-without-watts": (["--nodes", "b200-8x-air=1", "--tdp", "b200"], 1, ["--tdp", "expected ID=NUMBER"]),
    "fractional-count": (["--nodes", "b200-8x-air=2.5"], 1, ["--nodes", "'2.5' is not a whole number"]),
    "zero-and-negative-counts": (["--nodes", "b200-8x-air=0,h100-8x=-1"], 2,
                                 ["--nodes b200-8x-air", "--nodes h100-8x", "positive integer"]),
    "target-without-candidates": (["--gpus", "64"], 1, ["--candidates", "needs --candidates"]),
    "negative-gpus": (["--gpus", "-5", "--candidates", "mi400-8x"], 1, ["--gpus", "greater than 0"]),
    "two-kinds": (["--nodes", "b200-8x-air=1", "--fill", "mi400-8x"], 1, ["one kind of demand", "--nodes", "--fill"]),
    "no-demand": ([], 1, ["no demand"]),
    "nan-time-limit": (["--nodes", "b200-8x-air=1", "--time-limit", "nan"], 1, ["--time-limit", "nan"]),
    "missing-demand-file": (["--demand", "/nonexistent/demand.yaml"], 1, ["/nonexistent/demand.yaml", "no such file"]),
    "gpus-not-an-integer": (["--gpus", "1e3", "--candidates", "mi400-8x"], 1, ["--gpus", "invalid int value: '1e3'"]),
    "time-limit-not-a-number": (["--nodes", "b200-8x-air=1", "--time-limit", "abc"], 1, ["--time-limit", "'abc'"]),
    "unknown-point": (["--nodes", "b200-8x-air=1", "--point", "medium"], 1, ["--point", "'medium'"]),
    "unknown-solver": (["--nodes", "b200-8x-air=1", "--solver", "gurobi"], 1, ["--solver", "'gurobi'"]),
    "candidates-with-fill": (["--fill", "b200-8x-air", "--candidates", "mi400-8x"], 1,
                             ["--candidates", "goes with a target"]),
    "absurd-fp8-target": (["--fp8-pflops", "1e300", "--candidates", "mi400-8x"], 1, ["--fp8-pflops", "less than or equal"]),
    "missing-spec-file": (["--nodes", "b200-8x-air=1", "--specs", "/nonexistent/specs.yaml"], 1,
                          ["/nonexistent/specs.yaml", "no such file"]),
}


SOLVER_STACK = ("pulp", "highspy", "pandas", "numpy")
"""Packages that bad input must not wait for: imported only once the inputs are good."""


def rackplan() -> list[str]:
    """The installed console script beside this interpreter, else the module."""
    script = Path(sys.executable).with_name("rackplan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "planner.cli"]


def command_for(path: Path, out: Path) -> list[str]:
    kind = path.name.split("-", 1)[0]
    if kind == "facility":
        return ["validate", str(path)]
    if kind == "demand":
        return ["plan", str(GOOD_FACILITY), "--demand", str(path), "-o", str(out)]
    if kind == "specs":
        return ["plan", str(GOOD_FACILITY), "--specs", str(path), "--nodes", "b200-8x-air=1", "-o", str(out)]
    raise AssertionError(f"{path.name}: name must start with facility-, demand- or specs-")


@pytest.fixture
def run(rackplan, monkeypatch):
    """``run(args, workdir)``: rackplan in this process with ``workdir`` as its working directory and
    ``workdir/tmp`` as its TMPDIR (environment and :mod:`tempfile`), so any stray temporary file shows
    up. Returns exit code, stdout and stderr (conftest's ``rackplan``)."""

    def in_workdir(args: list[str], workdir: Path):
        tmp = workdir / "tmp"
        tmp.mkdir(exist_ok=True)
        with monkeypatch.context() as m:
            m.chdir(workdir)
            m.setenv("TMPDIR", str(tmp))
            m.setattr(tempfile, "tempdir", str(tmp))
            return rackplan(*args)

    return in_workdir


def assert_nothing_written(workdir: Path, out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), f"output left in {out}: {list(out.rglob('*'))}"
    stray = [p for p in workdir.rglob("*") if p != out and p != workdir / "tmp" and out not in p.parents]
    assert not stray, f"stray files: {stray}"


def assert_problem_lines(stderr: str, file_label: str, count: int, fragments: list[str]) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == count, f"expected {count} problem line(s), got:\n{stderr}"
    for line in lines:
        assert line.startswith("rackplan: "), line
        assert file_label in line, f"line does not name {file_label}: {line}"
        assert "internal error" not in line
    for fragment in fragments:
        assert fragment in stderr, f"{fragment!r} not in:\n{stderr}"


# --- the corpus ------------------------------------------------------------------------------------

def test_corpus_and_table_match():
    files = {p.name for p in BAD.iterdir()}
    assert files == set(EXPECTED), (f"without an entry: {sorted(files - set(EXPECTED))}; "
                                    f"without a file: {sorted(set(EXPECTED) - files)}")
    assert len(files) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_exits_2_with_one_line_per_problem(name, tmp_path, run):
    path = BAD / name
    out = tmp_path / "out"
    count, fragments = EXPECTED[name]
    PWNED.unlink(missing_ok=True)
    proc = run(command_for(path, out), tmp_path)
    assert proc.returncode == 2, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.stdout == "", proc.stdout  # no partial summary, no traceback: the problems go to stderr
    assert_problem_lines(proc.stderr, str(path), count, fragments)
    assert_nothing_written(tmp_path, out)
    assert not PWNED.exists(), "a YAML tag ran a command"


@pytest.mark.parametrize("name", ["facility-three-mistakes.yaml", "facility-python-tag.yaml",
                                  "facility-alias-bomb.yaml", "facility-existing-over-power.yaml"])
def test_bad_facility_through_plan_writes_nothing(name, tmp_path, run):
    path = BAD / name
    out = tmp_path / "out"
    count, fragments = EXPECTED[name]
    PWNED.unlink(missing_ok=True)
    proc = run(["plan", str(path), "--nodes", "b200-8x-air=1", "-o", str(out)], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert_problem_lines(proc.stderr, str(path), count, fragments)
    assert_nothing_written(tmp_path, out)
    assert not PWNED.exists()


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_bad_command_line_exits_2(case, tmp_path, run):
    args, count, fragments = CLI_CASES[case]
    out = tmp_path / "out"
    proc = run(["plan", str(GOOD_FACILITY), *args, "-o", str(out)], tmp_path)
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stderr}"
    assert proc.stdout == ""
    label = "/nonexistent/" if case.startswith("missing-") else "<command line>"
    assert_problem_lines(proc.stderr, label, count, fragments)
    assert_nothing_written(tmp_path, out)


def test_missing_facility_file(tmp_path, run):
    proc = run(["validate", str(tmp_path / "no-such-facility.yaml")], tmp_path)
    assert proc.returncode == 2
    assert_problem_lines(proc.stderr, str(tmp_path / "no-such-facility.yaml"), 1, ["no such file"])


@pytest.mark.parametrize("file, key, kind, flag", [("examples/ai-hall-demand.yaml", "nodes", "demand", "--demand"),
                                                   ("examples/waves-ai-hall.yaml", "waves", "waves", "--waves"),
                                                   ("examples/my-specs.yaml", "schema", "spec", "--specs")])
def test_a_demand_or_waves_file_given_as_the_facility_is_named_as_one(file, key, kind, flag, tmp_path, run):
    """One line saying what the file is and where it goes, not every field a facility lacks."""
    path = str(REPO / file)
    proc = run(["plan", path, "--fill", "h100-8x", "-o", str(tmp_path / "o")], tmp_path)
    assert proc.returncode == 2 and not (tmp_path / "o").exists()
    assert proc.stderr.splitlines() == [f"rackplan: {path}: {key}: this is a {kind} file, not a facility (it has "
                                        f"'{key}'): give a facility file here, and this one with {flag}"]


def test_debug_does_not_turn_bad_input_into_a_traceback(tmp_path, run):
    """``--debug`` shows tracebacks of bugs (``main`` lets them escape); bad input is still one line
    per problem."""
    path = BAD / "facility-three-mistakes.yaml"
    proc = run(["validate", str(path), "--debug"], tmp_path)
    assert proc.returncode == 2
    assert_problem_lines(proc.stderr, str(path), 3, [])


# --- infeasible demands: exit 1, the resource and the amount ---------------------------------------

SMALL_U_FACILITY = """\
version: 1
name: Two short racks
site: {electricity_usd_per_kwh: 0.1, power_redundancy: 2N}
rack_types:
  short-20u:
    u: 20
    cooling: air
    air_kw: 100
    feed: {volts: 415, phases: 3, amps: 250}
    max_weight_kg: 3000
halls:
  - name: hall-1
    cooling_units: {count: 4, unit_kw: 500, redundant: 1}
    rows:
      - {name: A, rack_type: short-20u, racks: 2}
"""

INFEASIBLE = {
    # CONTRACT.md example: 175 x 14.3 kW; row C holds at most 600 kW and 42 fit there -> 601 kW
    "row-cooling": (lambda tmp: [str(SHARED_EXAMPLE if SHARED_EXAMPLE.exists() else GOOD_FACILITY),
                                 "--nodes", "b200-8x-air=175"],
                    ["row hall-1/C cooling", "601 kW", "600 kW", "1 kW short"]),
    # a liquid node where no rack has a liquid loop
    "no-liquid-rack": (lambda tmp: [str(BROWNFIELD), "--nodes", "mi400-8x=1"],
                       ["liquid", "mi400-8x", "kW", "no rack has liquid_kw > 0"]),
    # two 20U racks hold two 8U nodes each: the fifth h100-8x has no space
    "rack-space": (lambda tmp: [str(_write(tmp / "short-racks.yaml", SMALL_U_FACILITY)), "--nodes", "h100-8x=5"],
                   ["1 of 5 h100-8x", "rack space (U)"]),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(INFEASIBLE))
def test_infeasible_demand_exits_1_naming_resource_and_amount(case, tmp_path, run):
    build, fragments = INFEASIBLE[case]
    work = tmp_path / "work"
    work.mkdir()
    out = work / "out"
    args = build(tmp_path)
    proc = run(["plan", *args, "-o", str(out)], work)
    assert proc.returncode == 1, f"exit {proc.returncode}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    assert "rackplan: no plan" in proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, f"{fragment!r} not in:\n{proc.stderr}"
    assert_nothing_written(work, out)


# --- output places that cannot be written: bad input too (exit 2), never an internal error ----------

@pytest.mark.parametrize("case", ["out-is-a-file", "out-under-proc", "plan-json-is-a-directory"])
def test_unwritable_output_exits_2(case, tmp_path, run):
    work = tmp_path / "work"
    work.mkdir()
    if case == "out-is-a-file":
        out = work / "out"
        out.write_text("not a directory\n")
        fragment = "is a file, not a directory"
    elif case == "out-under-proc":
        out = Path("/proc/rackplan-cannot-write-here")
        fragment = "cannot write"
    else:
        out = work / "out"
        (out / "plan.json").mkdir(parents=True)
        fragment = "cannot write"
    proc = run(["plan", str(GOOD_FACILITY), "--nodes", "b200-8x-air=2", "-q", "-o", str(out)], work)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert_problem_lines(proc.stderr, "<command line>", 1, ["-o", fragment])
    tmp = work / "tmp"
    assert not any(tmp.iterdir()), list(tmp.iterdir())
    if case == "plan-json-is-a-directory":  # nothing half-written beside it, no staging directory left
        assert sorted(p.name for p in out.iterdir()) == ["plan.json"]
        assert not any((out / "plan.json").iterdir())


# --- bugs outside the input modules, found while testing inputs (fixed; kept as regressions) ---------

def _closed_pipe_run(args: list[str]) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `rackplan ... | head` once head has exited
    try:
        return subprocess.run(rackplan() + args, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [["specs"], ["validate", str(GOOD_FACILITY)]])
def test_closed_stdout_is_not_an_internal_error(args):
    """The reader went away: exit 141 (128 + SIGPIPE, as a shell reports a broken pipe), and nothing
    said on stderr, neither an internal error nor a traceback."""
    proc = _closed_pipe_run(args)
    assert proc.stderr == ""
    assert proc.returncode == 141


MALFORMED_PLANS = {
    "racks-is-a-string": ({"schema": "rackplan.plan/1", "racks": "x"},
                          "racks: input should be a valid list (got 'x')"),
    "node-types-is-a-number": ({"schema": "rackplan.plan/1", "racks": [{"id": 5}], "node_types": 3},
                               "node_types: input should be a valid dictionary (got 3)"),
    "node-type-without-figures": ({"schema": "rackplan.plan/1", "node_types": {"b200-8x-air": {"gpus": 8}},
                                   "racks": [{"id": "hall-1/A/01", "nodes": {"b200-8x-air": 1}}]},
                                  "node_types.b200-8x-air.max_kw: required field is missing"),
}


@pytest.mark.parametrize("command", ["check", "report"])
@pytest.mark.parametrize("name", sorted(MALFORMED_PLANS))
def test_malformed_plan_json_is_bad_input_not_a_bug(name, command, tmp_path, run):
    """Bad input (exit 2), one line per problem naming the file and the field; no report written."""
    doc, fragment = MALFORMED_PLANS[name]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    html = tmp_path / "r.html"
    args = [command, str(path), str(GOOD_FACILITY)] if command == "check" else [command, str(path), "-o", str(html)]
    proc = run(args, tmp_path)
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines and all(line.startswith(f"rackplan: {path}: ") for line in lines), proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert f"rackplan: {path}: {fragment}" in lines
    assert not html.exists()


MALFORMED_SECTIONS = {
    "facility-is-a-string": ("facility", "x", "facility: input should be a valid dictionary (got 'x')"),
    "facility-is-a-list": ("facility", [1], "facility: input should be a valid dictionary"),
    "rack-types-is-a-string": ("rack_types", "x", "rack_types: input should be a valid dictionary (got 'x')"),
    "solver-is-a-string": ("solver", "x", "solver: input should be a valid dictionary (got 'x')"),
    "assumptions-is-a-string": ("assumptions", "x", "assumptions: input should be a valid list (got 'x')"),
    "power-is-a-string": ("power", "x", "power: input should be a valid dictionary or instance of PowerDoc (got 'x')"),
    "power-element-is-a-number": ("power", {"elements": [1]}, "power.elements[0]: input should be a valid "
                                                              "dictionary or instance of PowerElementDoc (got 1)"),
    "power-element-load-is-a-string": ("power", {"elements": [{"name": "UPS-1", "normal_kw": "a", "worst_kw": 1}]},
                                       "power.elements[0].normal_kw: input should be a valid number (got 'a')"),
    "cdus-is-a-string": ("cdus", "x", "cdus: input should be a valid list (got 'x')"),
    "plant-is-a-string": ("plant", "x", "plant: input should be a valid dictionary (got 'x')"),
    "prices-is-a-string": ("prices", "x", "prices: input should be a valid dictionary (got 'x')"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_SECTIONS))
def test_check_refuses_a_malformed_section_as_report_does(name, plans, tmp_path, run):
    """A real plan with one section the wrong shape: ``check`` (against the facility recorded in the
    plan) and ``report`` both refuse it with the same one line naming the file and the field, exit 2;
    ``check`` neither passes it nor fails with an internal error."""
    field, value, fragment = MALFORMED_SECTIONS[name]
    doc = json.loads(json.dumps(plans["ai-hall"]))
    doc[field] = value
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    html = tmp_path / "r.html"
    said = {}
    for command, args in (("check", ["check", str(path)]), ("report", ["report", str(path), "-o", str(html)])):
        proc = run(args, tmp_path)
        assert proc.returncode == 2, f"{command}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert proc.stdout == ""
        said[command] = proc.stderr.splitlines()
    assert said["check"] == said["report"] == [f"rackplan: {path}: {fragment}"]
    assert not html.exists()


@pytest.mark.parametrize("command", ["check", "report"])
def test_plan_without_its_facility_names_how_this_command_takes_one(command, plans, tmp_path, run):
    """``"facility": {}``: exit 2, one line saying how to give the facility file the way this
    command takes it (``check``: a second argument; ``report``: ``--facility``); the way shown works."""
    doc = json.loads(json.dumps(plans["contract"]))
    doc["facility"] = {}
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(doc))
    html = tmp_path / "r.html"
    how = {"check": f"rackplan check {path} FACILITY", "report": "--facility FILE"}[command]
    proc = run([command, str(path)] + (["-o", str(html)] if command == "report" else []), tmp_path)
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout == "" and not html.exists()
    assert proc.stderr.splitlines() == [f"rackplan: {path}: facility.descriptor: the plan does not carry its "
                                        f"facility; give the facility file ({how})"]
    given = [str(GOOD_FACILITY)] if command == "check" else ["--facility", str(GOOD_FACILITY), "-o", str(html)]
    assert run([command, str(path), *given], tmp_path).returncode == 0


def test_target_shortfall_is_written_in_plain_numbers(tmp_path, run):
    proc = run(["plan", str(GOOD_FACILITY), "--gpus", "100000", "--candidates", "mi400-8x,b200-8x-air", "-q",
                "-o", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 1
    assert "of 100,000 GPUs" in proc.stderr and "e+0" not in proc.stderr


# --- the installed console script, as a real process ------------------------------------------------

def test_console_script_exit_codes_and_output(tmp_path, plans):
    """The real ``rackplan`` script (what ``sys.exit(main())`` makes of each outcome, with nothing
    in-process to catch an exception): 0 and a summary for a good facility; 2 and one line per problem,
    no traceback, nothing on stdout, for a bad one; 2 and the usage for no command; 1 and the
    violations for a plan edited to break a limit."""
    def script(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(rackplan() + list(args), capture_output=True, text=True, cwd=tmp_path, timeout=120)

    ok = script("validate", str(GOOD_FACILITY))
    assert ok.returncode == 0 and ok.stderr == ""
    assert ok.stdout.startswith(f"ok: {GOOD_FACILITY}: 'Example AI Hall': 2 halls, ")
    bad_file = BAD / "facility-three-mistakes.yaml"
    bad = script("validate", str(bad_file))
    assert bad.returncode == 2 and bad.stdout == ""
    assert_problem_lines(bad.stderr, str(bad_file), 3, EXPECTED[bad_file.name][1])
    usage = script()
    assert usage.returncode == 2 and usage.stdout.startswith("usage: rackplan")
    plan = json.loads(json.dumps(plans["contract"]))
    rack = plan["racks"][0]
    nid = next(iter(rack["nodes"]))
    rack["nodes"][nid] += 40  # far past every limit of the rack
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(plan))
    failed = script("check", str(path))
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr and "internal error" not in failed.stderr
    assert failed.stdout.splitlines()[-1].startswith(f"{path}: FAILED: ")
    assert f"{path}: rack {rack['id']}: " in failed.stdout


def test_bad_input_is_refused_before_the_solver_stack_loads():
    """Every case of the corpus and every command-line mistake, in one fresh interpreter: each is
    refused with exit 2, and none of PuLP, HiGHS, pandas or numpy has been imported by the end (a
    bad input costs the start-up of the input modules only)."""
    cases = [command_for(BAD / name, Path("/nonexistent/out")) for name in sorted(EXPECTED)]
    cases += [["plan", str(GOOD_FACILITY), *args, "-o", "/nonexistent/out"] for args, _, _ in CLI_CASES.values()]
    probe = (
        "import contextlib, io, json, sys\n"
        "from planner.cli import main\n"
        "codes = []\n"
        "for args in json.loads(sys.argv[1]):\n"
        "    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            codes.append(main(args))\n"
        "        except SystemExit as exc:\n"
        "            codes.append(exc.code)\n"
        f"print(json.dumps([codes, sorted({{m.split('.')[0] for m in sys.modules}} & {set(SOLVER_STACK)!r})]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe, json.dumps(cases)], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    codes, loaded = json.loads(proc.stdout)
    assert codes == [2] * len(cases)
    assert loaded == [], f"bad input imported {loaded}"
