"""``rackplan sweep`` and ``compare --samples``: hand-checked odds, reproducibility, resuming, engines."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from planner.api import run_plan
from planner.inputs.demand import Demand
from planner.inputs.facility import load_facility
from planner.inputs.specs import Figure, load_catalogue
from planner.studies.engines import LocalPool, SerialEngine, Task
from planner.studies.scenarios import (draw, evaluate, factors_for, nominal_values, triangular_cdf, triangular_ppf,
                                       uniform)
from planner.studies.sweep import make_setup, run_sweep, site_ranges, summarize
from planner.studies.tco import PriceInput, choose_prices, priced_catalogue

ROOT = Path(__file__).resolve().parents[1]
AI_HALL = str(ROOT / "facilities" / "ai-hall.yaml")
SVG = "{http://www.w3.org/2000/svg}"


def rackplan(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600, **kw)


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


@pytest.fixture(scope="module")
def hall():
    return load_facility(AI_HALL)


def setup_for(cat, loaded, prices, candidates, samples, seed=1, site=None, gpus=64):
    ch = choose_prices(cat, candidates, prices)
    return make_setup(loaded, priced_catalogue(cat, ch), candidates, "gpus", gpus, ch,
                      site_ranges(loaded.facility.site, site), seed=seed, samples=samples, time_limit=30)


# --- distributions ---------------------------------------------------------------------------------

def test_triangular_by_hand():
    assert triangular_ppf(0.0, 1, 2, 4) == 1 and triangular_ppf(1.0, 1, 2, 4) == 4
    assert triangular_cdf(2, 1, 2, 4) == pytest.approx(1 / 3)  # (mode - low) / (high - low)
    assert triangular_cdf(3, 1, 2, 4) == pytest.approx(1 - 1 / 6)  # 1 - (4 - 3)^2 / (3 x 2)
    for u in (0.05, 0.3, 1 / 3, 0.7, 0.99):
        assert triangular_cdf(triangular_ppf(u, 1, 2, 4), 1, 2, 4) == pytest.approx(u)
    assert triangular_ppf(0.4, 5, 5, 5) == 5


def test_draws_depend_only_on_seed_scenario_and_factor(cat, hall):
    s = setup_for(cat, hall, {}, ["mi400-8x", "b200-8x-dlc"], 10)
    assert draw(s.factors, 1, 7) == draw(s.factors, 1, 7)
    assert draw(s.factors, 1, 7) != draw(s.factors, 2, 7) != draw(s.factors, 1, 8)
    # adding a factor leaves the draws of the others alone
    more = factors_for(s.cat, s.candidates, s.prices, {"load_factor": (0.6, 0.8, 0.9)})
    assert {k: v for k, v in draw(more, 1, 7).items() if not k.startswith("site:")} == draw(s.factors, 1, 7)


def test_tdp_and_node_power_move_together(cat, hall):
    s = setup_for(cat, hall, {}, ["mi400-8x", "mi400-4x"], 1)
    keys = [f.key for f in s.factors]
    assert keys.count("tdp:mi400") == 1  # one draw for both nodes on the accelerator
    tdp = next(f for f in s.factors if f.key == "tdp:mi400")
    assert (tdp.low, tdp.mode, tdp.high) == (900, 1000, 1100) and set(tdp.candidates) == {"mi400-8x", "mi400-4x"}
    ctx = s.context()
    vals = nominal_values(s.factors) | {"tdp:mi400": 1100.0, "overhead:mi400-8x": 3.0}
    row = evaluate(ctx, "mi400-8x", vals)
    assert row["status"] == "ok" and row["max_kw"] == pytest.approx(8 * 1.1 + 3.0)  # re-derived from the TDP


def test_a_scenario_is_the_plan_rackplan_plan_makes(cat, hall):
    prices = {"b200-8x-dlc": PriceInput(rent_usd_month=Figure(nominal=40_000))}
    s = setup_for(cat, hall, prices, ["b200-8x-dlc"], 1, gpus=1024)
    row = evaluate(s.context(), "b200-8x-dlc", nominal_values(s.factors))
    plan = run_plan(hall, s.cat, Demand("target", metric="gpus", amount=1024, candidates=("b200-8x-dlc",))).plan
    t = plan["totals"]
    assert row["status"] == "ok" and row["racks"] == t["racks_used"] and row["it_kw"] == pytest.approx(t["it_kw"])
    for k in ("energy", "cooling", "racks", "nodes", "total"):
        assert row[f"{k}_usd"] == pytest.approx(t["annual_usd"][k], abs=0.02)
    assert row["usd_per_gpu_hour"] == pytest.approx(t["annual_usd"]["total"] / (1024 * 8760))


# --- hand-checked odds -----------------------------------------------------------------------------

def test_win_probability_when_only_a_price_is_uncertain(cat, hall):
    """b200-8x-dlc at a fixed rent against b200-8x-air whose only uncertain figure is its rent (a
    triangular 10,000 - 30,000 - 50,000 USD a node-month): everything else is the same in every
    scenario, so the air node wins exactly when its rent is below the rent x* at which the two cost
    the same, with probability F(x*) of the triangular distribution."""
    prices = {"b200-8x-dlc": PriceInput(rent_usd_month=Figure(nominal=30_000)),
              "b200-8x-air": PriceInput(rent_usd_month=Figure(nominal=30_000, low=10_000, high=50_000))}
    cands = ["b200-8x-dlc", "b200-8x-air"]
    n = 120  # scenarios: each is two plans, and the check below holds for any n
    s = setup_for(cat, hall, prices, cands, n, seed=11)
    assert [f.key for f in s.factors] == ["price:b200-8x-air"]
    base = {c: evaluate(s.context(), c, nominal_values(s.factors)) for c in cands}
    # by hand: total = rest + nodes x 12 x rent; both place 8 nodes for 64 GPUs
    n_air, n_dlc = base["b200-8x-air"]["nodes"], base["b200-8x-dlc"]["nodes"]
    rest_air = base["b200-8x-air"]["total_usd"] - n_air * 12 * 30_000
    x_star = (base["b200-8x-dlc"]["total_usd"] - rest_air) / (n_air * 12)
    assert n_air == n_dlc == 8 and 10_000 < x_star < 50_000
    exact = triangular_cdf(x_star, 10_000, 30_000, 50_000)

    run = run_sweep(s, SerialEngine(), Path(os.environ.get("TMPDIR", "/tmp")) / f"hand-{os.getpid()}", fresh=True,
                    tornado=False, progress=False)
    p = run.summary["win_probability"]["b200-8x-air"]
    # the very scenarios drawn: the air node wins where its drawn rent is below x*
    drawn = [triangular_ppf(uniform(11, i, "price:b200-8x-air"), 10_000, 30_000, 50_000) for i in range(n)]
    assert p == pytest.approx(sum(x < x_star for x in drawn) / n)
    assert abs(p - exact) < 3 * math.sqrt(exact * (1 - exact) / n)  # and close to F(x*)
    assert run.summary["win_probability"]["b200-8x-dlc"] == pytest.approx(1 - p)
    assert run.summary["verdict"].startswith(("b200-8x-dlc is cheaper per GPU-hour than b200-8x-air in",
                                              "b200-8x-air is cheaper per GPU-hour than b200-8x-dlc in"))


def test_summary_counts_no_plan_as_a_loss_and_names_why(cat, hall):
    s = setup_for(cat, hall, {}, ["b200-8x-dlc", "mi455x-4x"], 4, gpus=1024)
    rows = []
    for i in range(4):
        for c in s.candidates:
            rows.append({"scenario": i, "candidate": c, **evaluate(s.context(), c, draw(s.factors, 1, i))})
    summ = summarize(s, rows)
    assert summ["win_probability"] == {"b200-8x-dlc": 1.0, "mi455x-4x": 0.0}
    mi = summ["per_candidate"]["mi455x-4x"]
    assert mi["no_plan"] == 4 and mi["reasons"] and mi["reasons"][0]["example"]
    assert "mi455x-4x has no plan in 100 % of them" in summ["verdict"]


# --- reproducible, resumable -----------------------------------------------------------------------

def _results(path: Path) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    for r in rows:
        r.pop("seconds")
        r.pop("cpu_seconds")
    return sorted(rows, key=lambda r: (int(r["scenario"]), r["candidate"]))


def _summary(out: Path) -> dict:
    doc = json.loads((out / "sweep.json").read_text())
    return {"summary": doc["summary"], "tornado": doc["tornado"]}


SWEEP = ["sweep", AI_HALL, "--candidates", "mi400-8x,b200-8x-dlc", "--gpus", "256",
         "--price", "mi400-8x=20000:25000:30000/month", "--price", "b200-8x-dlc=30000:40000:50000/month",
         "--electricity", "0.06:0.12", "--load-factor", "0.6:0.9", "--seed", "5"]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    res = rackplan(*SWEEP, "--samples", "40", "--engine", "serial", "-o", str(out))
    assert res.returncode == 0, res.stderr
    return out, res


def test_sweep_cli_leads_with_the_verdict_and_writes_its_files(whole):
    out, res = whole
    assert res.stdout.splitlines()[0].startswith("mi400-8x is cheaper per GPU-hour than b200-8x-dlc in")
    assert {p.name for p in out.iterdir()} >= {"scenarios.csv", "sweep-meta.json", "sweep.json", "summary.csv",
                                               "sweep.html"}
    doc = json.loads((out / "sweep.json").read_text())
    keys = [f["key"] for f in doc["summary"]["factors"]]
    assert {"tdp:mi400", "price:mi400-8x", "price:b200-8x-dlc", "site:electricity_usd_per_kwh",
            "site:load_factor"} <= set(keys)
    per = doc["summary"]["per_candidate"]["mi400-8x"]
    st = per["stats"]["usd_per_gpu_hour"]
    assert st["p10"] <= st["p50"] <= st["p90"] and per["ok"] == 40
    assert doc["tornado"]["ranked"] and doc["tornado"]["leader"] == "mi400-8x"
    html = (out / "sweep.html").read_text()
    for cls in ("rp-dist", "rp-cdf", "rp-tornado"):
        found = __import__("re").findall(rf'<svg xmlns="http://www.w3.org/2000/svg" class="rp-chart {cls}".*?</svg>',
                                         html, __import__("re").S)
        assert found, cls
        ET.fromstring(found[0])
    box = ET.fromstring(__import__("re").findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="rp-chart rp-dist".*?</svg>',
                                                  html, __import__("re").S)[0])
    rect = next(r for r in box.iter(f"{SVG}rect") if "box" in (r.get("class") or ""))
    assert float(rect.get("data-p10")) == pytest.approx(doc["summary"]["per_candidate"]["mi400-8x"]["value"]["p10"])
    assert "<script" not in html.lower()


def test_same_seed_same_results(whole, tmp_path):
    out, _ = whole
    again = rackplan(*SWEEP, "--samples", "40", "--engine", "local", "--workers", "2", "-o", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert _results(tmp_path / "scenarios.csv") == _results(out / "scenarios.csv")
    assert _summary(tmp_path) == _summary(out)


def test_a_sweep_killed_halfway_resumes_and_ends_with_the_same_result(whole, tmp_path):
    out, _ = whole
    proc = subprocess.Popen([sys.executable, "-m", "planner.cli", *SWEEP, "--samples", "40", "--workers", "2",
                             "-q", "-o", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    results = tmp_path / "scenarios.csv"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if results.exists() and results.read_text().count("\n") > 20:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its workers, mid-sweep
    proc.wait()
    done = results.read_text().count("\n") - 1
    assert 20 <= done < 80, done
    with open(results, "a") as fh:  # and a half-written last line, as a kill during a write leaves
        fh.write("17,mi400-8x,ok,,")
    res = rackplan(*SWEEP, "--samples", "40", "--workers", "2", "-o", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "resuming" in res.stderr
    assert _results(results) == _results(out / "scenarios.csv")
    assert _summary(tmp_path) == _summary(out)


def test_resume_refuses_another_sweeps_results(whole, tmp_path):
    out, _ = whole
    import shutil

    shutil.copytree(out, tmp_path / "o")
    other = rackplan(*SWEEP[:-1], "6", "--samples", "40", "--engine", "serial", "-o", str(tmp_path / "o"))
    assert other.returncode == 2 and "different sweep" in other.stderr and "--fresh" in other.stderr


def test_stop_and_extend_in_process(cat, hall, tmp_path):
    prices = {"mi400-8x": PriceInput(rent_usd_month=Figure(nominal=25_000, low=20_000, high=30_000))}
    s = setup_for(cat, hall, prices, ["mi400-8x", "b200-8x-dlc"], 12)
    first = run_sweep(s, SerialEngine(), tmp_path, tornado=False, progress=False, stop_after=5)
    assert first.solved == 5
    rest = run_sweep(s, SerialEngine(), tmp_path, tornado=False, progress=False)
    assert rest.solved == 7
    whole = run_sweep(s, SerialEngine(), tmp_path / "w", tornado=False, progress=False)
    assert rest.summary == whole.summary


# --- engines ---------------------------------------------------------------------------------------

def test_a_task_past_its_time_limit_is_reported_and_the_sweep_goes_on(cat, hall):
    s = setup_for(cat, hall, {}, ["mi400-8x", "b200-8x-dlc"], 3)
    s.task_timeout = 1e-4  # every solve stops at once
    got = list(LocalPool(2).run(s.context(), [Task(f"S{i}", draw(s.factors, 1, i), tuple(s.candidates))
                                              for i in range(3)]))
    assert len(got) == 3
    for _task, rows in got:
        assert [r["status"] for r in rows] == ["timeout", "timeout"] and "stopped after" in rows[0]["reason"]


def test_a_worker_that_does_not_come_back_is_killed_and_the_sweep_goes_on(cat, monkeypatch):
    from planner.studies import engines

    monkeypatch.setattr(engines, "GRACE_S", 0.0)  # the parent gives up on a task as soon as it waits for it
    campus = load_facility(ROOT / "facilities" / "campus.yaml")  # solves that take a while
    cands = ["b200-8x-dlc", "mi355x-8x-dlc"]
    ch = choose_prices(cat, cands, {})
    s = make_setup(campus, priced_catalogue(cat, ch), cands, "fp8_pflops", 5000, ch, {}, samples=5)
    s.task_timeout = 0.0  # and the worker sets no alarm of its own: only the hard limit stops it
    tasks = [Task(f"S{i}", draw(s.factors, 1, i), tuple(s.candidates)) for i in range(5)]
    got = [(t.key, rows) for t, rows in LocalPool(2).run(s.context(), tasks)]
    # every task is reported once; a task still running when the parent looks is killed with its worker,
    # and the pool is started again for the rest (a task may finish while a worker is being started)
    assert sorted(k for k, _ in got) == ["S0", "S1", "S2", "S3", "S4"]
    statuses = {k: {r["status"] for r in rows} for k, rows in got}
    assert all(st in ({"ok"}, {"timeout"}) for st in statuses.values())
    killed = [rows for _, rows in got if rows[0]["status"] == "timeout"]
    assert killed and all("killed" in rows[0]["reason"] for rows in killed)


def test_ray_engine_gives_the_same_rows(whole, tmp_path):
    pytest.importorskip("ray")
    out, _ = whole
    res = rackplan(*SWEEP, "--samples", "40", "--engine", "ray", "--workers", "2", "--no-tornado", "-o", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert _results(tmp_path / "scenarios.csv") == _results(out / "scenarios.csv")
    assert json.loads((tmp_path / "sweep.json").read_text())["engine"].startswith("ray (local), 2 workers")


def test_compare_samples_puts_the_odds_at_the_top(tmp_path):
    res = rackplan("compare", AI_HALL, "--demand", str(ROOT / "examples" / "ai-hall-compare.yaml"), "--samples", "24",
                   "--engine", "serial", "-q", "-o", str(tmp_path))
    assert res.returncode == 0, res.stderr
    first = res.stdout.splitlines()[0]
    assert "in " in first and "% of 24 scenarios (median $" in first
    doc = json.loads((tmp_path / "compare.json").read_text())
    assert doc["verdict"]["basis"] == "sampled" and doc["verdict"]["notes"][0].startswith("At nominal figures")
    html = (tmp_path / "compare.html").read_text()
    assert html.index(doc["verdict"]["text"].split(" (")[0]) < html.index('id="side-by-side"')
    assert "rp-tornado" in html and "rp-dist" in html and (tmp_path / "scenarios.csv").exists()


def test_a_scenario_on_auto_striped_rows_is_checked_with_the_lineups_chosen(tmp_path):
    """Rows with panels: auto (the striping case of test_power_tree): the scenario's plan is checked
    against the facility with the lineups the optimizer chose written in, and finds the 30 nodes."""

    from planner.inputs.facility import LoadedFacility
    from tests.helpers import facility
    from tests.test_power_tree import AUTO_ROWS, THREE_UPS, big_rack, hall, ten_kw_node_specs

    spec = ten_kw_node_specs(tmp_path)
    cat = load_catalogue([spec])
    lf = LoadedFacility(facility(rack_types={"r": big_rack()}, power=THREE_UPS, halls=hall(AUTO_ROWS)), "auto.yaml",
                        "0" * 64)
    s = make_setup(lf, cat, ["ten"], None, 0.0, {"ten": None}, {}, samples=1)
    row = evaluate(s.context(), "ten", {})
    assert row["status"] == "ok", row["reason"]
    assert row["nodes"] == 30
