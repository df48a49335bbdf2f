"""The independent check in a second process (``planner.results.check_process``): the same report as in
this process, a fallback when the child sends nothing, and a failing check that still writes nothing."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from planner import api
from planner.errors import PlanCheckError
from planner.inputs.demand import Demand
from planner.inputs.facility import load_facility
from planner.inputs.specs import load_library
from planner.results import check_process
from planner.results.check_process import CheckInBackground
from planner.results.checker import CheckReport, check_plan
FACILITY = str(Path(__file__).resolve().parents[1] / "facilities" / "ai-building.yaml")
DEMAND = Demand("nodes", nodes={"b200-8x-dlc": 40, "h200-8x": 6})


@pytest.fixture(scope="module")
def unchecked():
    loaded, cat = load_facility(FACILITY), load_library()
    return api.run_plan(loaded, cat, DEMAND, check=False), cat


def test_the_child_reports_what_this_process_would(unchecked):
    run, cat = unchecked
    here = check_plan(run.loaded.facility, run.plan, cat)
    pending = CheckInBackground(run.loaded.facility, run.plan, cat, min_racks=0)
    assert pending.forked
    there = pending.result()
    assert there.passed and there.to_json() == here.to_json()
    assert there.racks_checked == len(run.plan["racks"]) > 0
    assert pending.result() is there  # asked twice, the child is waited for once


def test_small_plans_are_checked_here(unchecked):
    run, cat = unchecked
    pending = CheckInBackground(run.loaded.facility, run.plan, cat)
    assert not pending.forked and len(run.plan["racks"]) < check_process.FORK_MIN_RACKS
    assert pending.result().passed


def test_a_child_that_dies_is_replaced_by_a_check_here(unchecked, monkeypatch):
    run, cat = unchecked
    parent = os.getpid()
    calls = []

    def dies_in_the_child(*args):
        if os.getpid() != parent:
            os._exit(3)  # killed before it sent anything
        calls.append(parent)
        return check_plan(*args)

    monkeypatch.setattr(check_process, "check_plan", dies_in_the_child)
    report = CheckInBackground(run.loaded.facility, run.plan, cat, min_racks=0).result()
    assert calls == [parent] and report.passed and report.racks_checked == len(run.plan["racks"])


def test_a_failed_check_from_the_child_writes_nothing(tmp_path, monkeypatch):
    """A plan the child's checker rejects raises PlanCheckError, and no file is written."""
    monkeypatch.setattr(check_process, "FORK_MIN_RACKS", 0)
    monkeypatch.setattr(check_process, "check_plan",
                        lambda *a: CheckReport(violations=["rack hall-1/A/02: power 140.0 kW > 136.6 kW"],
                                               limit_violations=1))
    out = tmp_path / "o"
    with pytest.raises(PlanCheckError, match="hall-1/A/02"):
        api.plan_and_write(load_facility(FACILITY), load_library(), DEMAND, out)
    assert not out.exists() or not any(out.iterdir())


def test_plan_and_write_writes_what_run_plan_and_write_plan_write(tmp_path, monkeypatch):
    """The overlapped path (forced to fork) and the plain one write the same files, apart from timings."""
    import json

    monkeypatch.setattr(check_process, "FORK_MIN_RACKS", 0)
    loaded, cat = load_facility(FACILITY), load_library()
    _, paths = api.plan_and_write(loaded, cat, DEMAND, tmp_path / "a", xlsx=False)
    api.write_plan(api.run_plan(loaded, cat, DEMAND), tmp_path / "b", xlsx=False)
    names = sorted(p.name for p in paths)
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    a, b = (json.loads((tmp_path / d / "plan.json").read_text()) for d in "ab")
    for doc in (a, b):
        doc.pop("made_at", None)
        doc["solver"].pop("seconds", None)
    assert a["checks"]["passed"] and a == b
    for name in ("racks.csv", "power.csv"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    html = [_without_timings((tmp_path / d / "report.html").read_text()) for d in "ab"]
    assert "Independent check" in html[0] and html[0] == html[1]


def _without_timings(html: str) -> str:
    """A report with what differs from run to run taken out: when it was made and the solve time."""
    counts = []
    for pattern, repl in ((r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<made>"),
                          (r"(gap [\d.]+ %), [\d.]+ s<", r"\1, <seconds><"),
                          (r"(Solve time</th><td>)[\d.]+ s<", r"\1<seconds><")):
        html, n = re.subn(pattern, repl, html)
        counts.append(n)
    assert counts == [2, 1, 1]  # each found where the report says it
    return html


def test_a_child_no_longer_wanted_is_stopped(unchecked):
    run, cat = unchecked
    pending = CheckInBackground(run.loaded.facility, run.plan, cat, min_racks=0)
    pid = pending._pid
    pending.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # reaped already
    assert pending.result().passed  # asked after all: checked here
