"""The project as shipped: the wheel carries the spec library and templates, the generated docs are
current, and the numbered examples run."""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_spec_library_and_templates(tmp_path, plans):
    """Built without build isolation (the test extra pins the build backend, so no fresh environment
    is made and nothing is fetched), installed with pip into a directory of its own, and used from
    there by a fresh interpreter: the spec library and the report templates load from the installed
    package, not from this checkout."""
    build = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path),
                            str(ROOT)], capture_output=True, text=True, timeout=600)
    if build.returncode != 0 and "No module named build" in build.stderr:
        pytest.skip("the 'build' package is not installed")
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("rackplan-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for spec in ROOT.glob("gpu_specs/*.yaml"):
        assert f"planner/gpu_specs/{spec.name}" in names
    for template in ROOT.glob("templates/*.j2"):
        assert f"planner/templates/{template.name}" in names
    assert "planner/templates/report.css" in names
    # the wheel works on its own: pip installs it into a directory that only this check puts on the path
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--no-index", "--no-compile", "--target", str(target), str(wheel)], check=True, timeout=300)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plans["contract"]))
    probe = ("import importlib.resources as res, json, pathlib, sys\n"
             "import planner.inputs.specs as s, planner.report.views as r\n"
             "c = s.load_library()\n"
             "html = r.render_plan(json.loads(pathlib.Path(sys.argv[1]).read_text()))\n"
             "print(len(c.nodes), html.startswith('<!doctype html>'), 'rp-floor' in html)\n"
             "for m in ('planner.inputs.specs', 'planner.gpu_specs', 'planner.templates'):\n"
             "    print(res.files(m) if m != 'planner.inputs.specs' else pathlib.Path(s.__file__))\n")
    out = subprocess.run([sys.executable, "-c", probe, str(plan)], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(target)})
    assert out.returncode == 0, out.stderr
    counts, *where = out.stdout.splitlines()
    nodes, rendered, floor = counts.split()
    assert int(nodes) >= 10 and rendered == "True" and floor == "True"
    assert [Path(w) for w in where] == [target / "planner" / "inputs" / "specs.py", target / "planner" / "gpu_specs",
                                        target / "planner" / "templates"]

def test_input_reference_is_current():
    from planner.inputs.reference import markdown

    committed = (ROOT / "docs" / "reference.md").read_text()
    assert committed.strip() == markdown().strip(), "run: rackplan schema --markdown > docs/reference.md"


def test_every_facility_key_is_documented():
    from planner.inputs.facility import Facility

    text = (ROOT / "docs" / "reference.md").read_text()

    def keys(model):
        for name, field in model.model_fields.items():
            yield field.alias or name
            for sub in getattr(field.annotation, "__args__", ()) + (field.annotation,):
                if isinstance(sub, type) and hasattr(sub, "model_fields"):
                    yield from keys(sub)

    for key in set(keys(Facility)):
        assert f"| `{key}` |" in text, key


EXAMPLE_OUTPUT = {
    "01_plan_ai_hall.py": [r"optimal: 896 GPUs in 25 racks, IT 1390\.4 kW, USD 26,548,764 a year",  # priced as `plan` prices
                           r"independent check: passed",
                           *(rf"wrote {{out}}/{name}" for name in ("plan.json", "racks.csv", "racks.xlsx",
                                                                     "report.html"))],
    "02_compare_mi400_b200.py": [r"candidate +racks +kW/rack +USD/yr +USD/PF-yr +binding",
                                 *(rf"{point} +\d+ +[\d.]+ +[\d,]+ +[\d,]+  rack .+"
                                   for point in ("mi400-8x@low", "mi400-8x@nominal", "mi400-8x@high",
                                                 "b200-8x-air@nominal")),
                                 *(rf"mi455x-4x@{point} +no plan: .+" for point in ("low", "nominal", "high")),
                                 *[r"- .+"] * 4],
    "03_own_node_profile.py": [r"8 rented nodes in \d+ racks; USD [\d,]+ a year, of which node rental 2,480,000"],
    "04_phases_buy_now_or_wait.py": [r"strategy +TCO \(PV\) +cost of delay +total  checked",
                                     *(rf"{label} +[\d,]+ +[\d,]+ +[\d,]+  yes(  <- best)?"
                                       for label in ("All B200 now", "B200 only, on schedule", "Wait for MI400",
                                                     r"Hybrid: the waves as given",
                                                     r"Wave by wave: as given, each planned alone")),
                                     r"planning ahead saves [\d,]+ USD against wave by wave",
                                     *[r"- .+"] * 3,
                                     *(rf"wrote {{out}}/{name}" for name in ("phases.json", "waves/01-blackwell.csv",
                                                                              "waves/02-mi400.csv",
                                                                              "plans/01-blackwell.json",
                                                                              "plans/02-mi400.json", "phases.html"))],
}
"""What each numbered example prints, line by line (regular expressions; ``{out}`` is its argument)."""


def test_every_numbered_example_has_its_output_listed():
    assert sorted(EXAMPLE_OUTPUT) == sorted(p.name for p in (ROOT / "examples").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "examples").glob("[0-9][0-9]_*.py")))
def test_numbered_examples_run(script, tmp_path, monkeypatch, capsys):
    """Each example as ``python examples/SCRIPT [OUT]`` runs it (``__main__``, its own ``__file__`` and
    argv), here in this process: it finishes and prints what it is meant to."""
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(ROOT / "examples" / script), str(out)])
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    printed = capsys.readouterr()
    assert printed.err == ""
    lines = printed.out.splitlines()
    expected = [p.replace("{out}", re.escape(str(out))) for p in EXAMPLE_OUTPUT[script]]
    assert len(lines) == len(expected), printed.out
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), f"{line!r} does not match {pattern!r}"
