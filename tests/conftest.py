"""Shared fixtures: ``rackplan`` run in this process (``planner.cli.main``), real plans of the bundled
facilities, a compare document in the ``rackplan.compare/1`` shape, and a synthetic campus-scale plan."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.hookimpl(hookwrapper=True)
def pytest_terminal_summary(terminalreporter):
    """The short summary (``-ra``) in test-id order, however the tests were spread over workers
    (``make test`` runs pytest-xdist): the same run prints the same summary."""
    for key in ("failed", "error", "xfailed", "xpassed", "skipped"):
        reports = terminalreporter.stats.get(key)
        if reports:
            reports.sort(key=lambda r: getattr(r, "nodeid", "") or "")
    yield


@dataclass
class Ran:
    """What one ``rackplan`` command gave: named like :class:`subprocess.CompletedProcess`."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def rackplan(capfd) -> Callable[..., Ran]:
    """``rackplan(*args)`` runs ``rackplan ARGS`` in this process through ``planner.cli.main`` (no
    interpreter start-up) and returns its exit code, stdout and stderr. Usage errors (argparse's
    ``SystemExit``) give their code like the console script; any other exception escapes ``main`` and
    fails the test, so a case that would print a traceback cannot pass. Output is captured at the file
    descriptors, so what a solver library prints from C is seen too. The true console script is run as
    a subprocess only where that is the point (broken pipes, tracebacks, exit codes, determinism across
    interpreters: ``test_bad_inputs``, ``test_safe_loading``, ``test_cli``)."""
    from planner.cli import main

    def run(*args: Any) -> Ran:
        capfd.readouterr()  # only this command's output
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: --help, usage errors
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        out = capfd.readouterr()
        return Ran(int(code), out.out, out.err)

    return run


def _plan(facility: str, point: str = "nominal", **demand: Any) -> dict[str, Any]:
    from planner.api import run_plan
    from planner.inputs.demand import from_cli
    from planner.inputs.facility import load_facility
    from planner.inputs.specs import load_catalogue

    cat = load_catalogue()
    loaded = load_facility(ROOT / "facilities" / facility)
    return run_plan(loaded, cat, from_cli(cat, **demand), point=point, time_limit=60, gap=1e-3).plan


@pytest.fixture(scope="session")
def plans() -> dict[str, dict[str, Any]]:
    """Plans of three bundled facilities: two halls with existing-only racks (2N), one liquid hall
    with mixed nodes, and a brownfield colo filled to its hall cooling limit."""
    return {
        "contract": _plan("contract-example.yaml", nodes="b200-8x-air=24,mi400-8x=16"),
        "ai-hall": _plan("ai-hall.yaml", nodes="b200-8x-air=48,mi400-8x=64"),
        "colo": _plan("colo-brownfield-208v.yaml", fill="b200-8x-air"),
    }


@pytest.fixture(scope="session")
def compare_doc() -> dict[str, Any]:
    """A ``rackplan.compare/1`` document: b200-8x-air (shipping) against mi400-8x (projected, three
    points) for 512 GPUs in the contract example, plus a candidate that found no plan."""
    from planner.studies.compare import compare_row

    rows, assumptions = [], {}
    for cand, point in (("b200-8x-air", "nominal"), ("mi400-8x", "low"), ("mi400-8x", "nominal"),
                        ("mi400-8x", "high")):
        plan = _plan("contract-example.yaml", point=point, gpus=512, candidates=cand)
        rows.append(compare_row(cand, point, plan))
        for a in plan["assumptions"]:
            assumptions.setdefault((a["node"], a["figure"], a["value"]), a | {"point": point})
    short = ["rack power (feeds): gb200-nvl72 needs 132 kW, the most any rack has left is 54.6 kW",
             "rack space (U): gb200-nvl72 needs 48 U, the most any rack has left is 45 U"]
    rows.append({"candidate": "gb200-nvl72", "point": "nominal", "status": "no_plan", "plan_file": None,
                 "message": "no plan: " + "; ".join(short), "shortfalls": short})
    return {
        "schema": "rackplan.compare/1", "tool": {"name": "rackplan", "version": "0.1.0"},
        "facility": {"name": "Example AI Hall", "file": "facilities/contract-example.yaml", "sha256": "0" * 64},
        "demand": {"kind": "target", "target": {"gpus": 512}},
        "ranking": "total annual cost (lower wins)",
        "candidates": ["b200-8x-air", "mi400-8x", "gb200-nvl72"],
        "rows": rows,
        "break_even": [
            {"candidate": "mi400-8x", "versus": "b200-8x-air@nominal", "metric": "ranking", "tdp_w": 1270.0,
             "range_w": [900.0, 1400.0], "found": True,
             "note": "below about 1270 W per mi400 mi400-8x ranks ahead of b200-8x-air"},
            {"candidate": "mi400-8x", "versus": "gb200-nvl72@nominal", "metric": "ranking", "tdp_w": None,
             "range_w": [900.0, 1400.0], "found": False, "note": "gb200-nvl72 has no plan"},
        ],
        "assumptions": list(assumptions.values()),
    }


def synthetic_plan(base: dict[str, Any], halls: int = 6, rows_per_hall: int = 100, racks_per_row: int = 50,
                   used_share: float = 0.34, existing_share: float = 0.02, seed: int = 4) -> dict[str, Any]:
    """A campus-scale plan built from a real one's node and rack types (30,000 rack positions and
    about 10,000 used racks by default). Figures are consistent per rack, not optimized."""
    rng = random.Random(seed)
    plan = copy.deepcopy(base)
    rt_name, rt = next((k, v) for k, v in plan["rack_types"].items() if v["cooling"] == "rdhx")
    nid, nt = next((k, v) for k, v in plan["node_types"].items() if v["liquid_fraction"] == 0)
    fills = [n for n in range(1, 5) if n * nt["u"] <= rt["u"] and n * nt["max_kw"] <= rt["power_kw"]]
    racks, existing, rows, hall_list = [], [], [], []
    for h in range(halls):
        hall = f"hall-{h + 1}"
        hall_heat = 0.0
        hall_used = 0
        for r in range(rows_per_hall):
            row = f"R{r + 1:03d}"
            heat, used = 0.0, 0
            for k in range(1, racks_per_row + 1):
                rid = f"{hall}/{row}/{k:02d}"
                x = rng.random()
                if x < used_share:
                    n = rng.choice(fills)
                    it = n * nt["max_kw"]
                    util = {"power": it / rt["power_kw"], "air": it / rt["air_kw"], "liquid": 0.0,
                            "u": n * nt["u"] / rt["u"], "weight": n * nt["weight_kg"] / rt["max_weight_kg"]}
                    racks.append({"id": rid, "hall": hall, "row": row, "rack_type": rt_name, "nodes": {nid: n},
                                  "it_kw": it, "air_heat_kw": it, "liquid_heat_kw": 0.0, "u_used": n * nt["u"],
                                  "weight_kg": n * nt["weight_kg"], "utilization": util,
                                  "binding": max(util, key=util.get),
                                  "annual_usd": {"energy": 8000.0 * n, "cooling": 2000.0 * n,
                                                 "rack": rt["annual_cost_usd"], "nodes": 0.0}})
                    heat += it
                    used += 1
                elif x < used_share + existing_share:
                    existing.append({"id": rid, "hall": hall, "row": row, "rack_type": rt_name, "kw": 6.0,
                                     "u": 10, "weight_kg": 200.0})
                    heat += 6.0
            rows.append({"hall": hall, "row": row, "rack_type": rt_name, "racks": racks_per_row, "racks_used": used,
                         "planned_kw": heat, "existing_kw": 0.0, "heat_kw": heat, "cooling_kw": None,
                         "utilization": None})
            hall_heat += heat
            hall_used += used
        usable = hall_heat * 1.2
        hall_list.append({"name": hall, "racks": rows_per_hall * racks_per_row, "racks_used": hall_used,
                          "heat_kw": hall_heat, "existing_kw": 0.0, "usable_kw": usable, "installed_kw": usable * 1.1,
                          "units": 11, "unit_kw": usable / 10, "redundant": 1, "utilization": 1 / 1.2})
    n_nodes = sum(sum(r["nodes"].values()) for r in racks)
    plan.update(racks=racks, existing_racks=existing, rows=rows, halls=hall_list)
    plan["totals"] = dict(plan["totals"], nodes={nid: n_nodes}, racks_used=len(racks), racks_new=len(racks))
    plan["checks"] = dict(plan.get("checks") or {}, cooling_failures=[
        {"hall": h["name"], "heat_kw": h["heat_kw"], "redundant": 1, "survives_units_lost": 1,
         "steps": [{"units_lost": k, "capacity_kw": h["installed_kw"] - k * h["unit_kw"],
                    "ok": h["installed_kw"] - k * h["unit_kw"] >= h["heat_kw"]} for k in range(3)]}
        for h in hall_list])
    return plan


@pytest.fixture(scope="session")
def big_plan(plans) -> dict[str, Any]:
    return synthetic_plan(plans["ai-hall"])


@pytest.fixture(scope="session")
def rendered(plans) -> dict[str, str]:
    """``report.html`` of each of :func:`plans`, rendered once for every test that reads it."""
    from planner.report.views import render_plan

    return {name: render_plan(plan) for name, plan in plans.items()}


@pytest.fixture(scope="session")
def big_html(big_plan) -> str:
    """``report.html`` of :func:`big_plan`, rendered once (the report, print layout and browser tests)."""
    from planner.report.views import render_plan

    return render_plan(big_plan)
