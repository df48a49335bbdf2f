"""Compare node candidates on one facility and one demand: ``rackplan compare``.

Each candidate is planned on its own (as the only node type) against the same facility and demand,
and where its figures are projected at each spec point (low, nominal, high). Every plan is the
optimizer's and passes the independent checker. Where a projected candidate's range straddles another
candidate, the TDP at which the ranking flips is found by solving plans at what-if TDPs (bisection),
not by formula.

Ranking: for a target, the lower total annual cost wins (every plan meets the same target); for fill,
the lower annual cost per FP8 PFLOPS-year.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.api import run_plan
from planner.results.plan_json import spec_disputes
from planner.inputs.demand import Demand
from planner.errors import InputError, NoPlanError
from planner.inputs.facility import LoadedFacility
from planner.optimize.solvers import Progress
from planner.inputs.specs import Catalogue, Point, resolve, suggest
from planner.results.plan_json import made_at, tool_record
from planner.vocabulary import DEFAULT_GAP, DEFAULT_SOLVER, DEFAULT_TIME_LIMIT_S, SCHEMA_COMPARE

BISECTION_TOL_W = 2.0
"""Break-even TDPs are found to within this many watts."""


@dataclass
class CompareResult:
    doc: dict[str, Any]
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``ID@POINT`` -> plan.json document."""


def _demand(candidate: str, targets: dict[str, float], fill: bool) -> Demand:
    if fill:
        return Demand("fill", fill=candidate)
    (metric, amount), = targets.items()
    return Demand("target", metric=metric, amount=float(amount), candidates=(candidate,))  # type: ignore[arg-type]


def ranking_value(row: dict[str, Any], fill: bool) -> float:
    """What the ranking compares (lower is better); infinite when the candidate has no plan."""
    if row.get("status") == "no_plan":
        return math.inf
    if fill:
        value = row.get("usd_per_pflops_year")
        return math.inf if value is None else float(value)
    return float(row["annual_usd"]["total"])


def compare_row(candidate: str, point: str, plan: dict[str, Any]) -> dict[str, Any]:
    """One row of ``compare.json`` from a single-candidate plan."""
    t = plan["totals"]
    racks = max(t["racks_used"], 1)
    return {
        "candidate": candidate, "point": point, "status": plan["solver"]["status"], "gap": plan["solver"]["gap"],
        "plan_file": f"plans/{candidate}@{point}.json",
        "node": plan["node_types"][candidate],
        "nodes": sum(t["nodes"].values()), "gpus": t["gpus"], "racks_used": t["racks_used"],
        "gpus_per_rack": round(t["gpus"] / racks, 3), "kw_per_rack": round(t["it_kw"] / racks, 3),
        "fp8_pflops": t["fp8_pflops"], "fp8_pflops_per_rack": round(t["fp8_pflops"] / racks, 4),
        "hbm_tb": t["hbm_tb"], "hbm_tb_per_rack": round(t["hbm_tb"] / racks, 4),
        "it_kw": t["it_kw"], "facility_kw": t["facility_kw"], "annual_usd": t["annual_usd"],
        "usd_per_pflops_year": t["usd_per_pflops_year"], "stranded_kw": t["stranded_kw"],
        "provisioned_kw": t["provisioned_kw"],
        "binding": {"limit": plan["binding"]["limit"], "label": plan["binding"]["label"]},
    }


def run_compare(loaded: LoadedFacility, cat: Catalogue, candidates: list[str], targets: dict[str, float],
                fill: bool, *, tdp: dict[str, float] | None = None, solver: str = DEFAULT_SOLVER,
                time_limit: float | None = DEFAULT_TIME_LIMIT_S, gap: float = DEFAULT_GAP,
                progress: Progress | None = None,
                break_even: bool = True) -> CompareResult:
    """Plan every candidate at every spec point; find break-even TDPs where rankings straddle."""
    unknown = [c for c in candidates if c not in cat.nodes]
    if unknown:
        raise InputError.one("<command line>", "--candidates",
                             f"unknown node id '{unknown[0]}'; {suggest(unknown[0], sorted(cat.nodes))}")
    if len(candidates) < 2 or len(set(candidates)) != len(candidates):
        raise InputError.one("<command line>", "--candidates", "give at least two different node ids")
    result = CompareResult(doc={})
    rows: list[dict[str, Any]] = []
    assumptions: dict[tuple, dict[str, Any]] = {}

    def plan_one(candidate: str, point: Point, tdp_w: dict[str, float] | None) -> dict[str, Any]:
        run = run_plan(loaded, cat, _demand(candidate, targets, fill), point=point, tdp_w=tdp_w, solver=solver,
                       time_limit=time_limit, gap=gap, progress=None)
        return run.plan

    for candidate in candidates:
        for point in cat.points(candidate):
            if progress:
                progress(f"planning {candidate}@{point}")
            try:
                plan = plan_one(candidate, point, tdp)
            except NoPlanError as exc:
                node = resolve(cat, candidate, point, tdp).contract_dict() | {"name": cat.nodes[candidate].name}
                rows.append({"candidate": candidate, "point": point, "status": "no_plan", "message": str(exc),
                             "plan_file": None, "shortfalls": exc.shortfalls, "node": node})
                continue
            result.plans[f"{candidate}@{point}"] = plan
            rows.append(compare_row(candidate, point, plan))
            for a in plan["assumptions"]:
                assumptions.setdefault((a["node"], a["figure"], a["value"]), a | {"point": point})

    if not result.plans:
        lines = [f"{r['candidate']}@{r['point']}: {r['message']}" for r in rows]
        raise NoPlanError("no candidate can meet the demand: " + lines[0], lines)
    findings = []
    if break_even:
        findings = _break_even(cat, candidates, rows, fill, tdp or {}, plan_one, progress)

    (metric, amount), = targets.items() if targets else (("fill", 0),)
    result.doc = {
        "schema": SCHEMA_COMPARE,
        "tool": tool_record(cat),
        "made_at": made_at(),
        "facility": {"name": loaded.facility.name, "file": loaded.path, "sha256": loaded.sha256,
                     "site": loaded.facility.site.model_dump(), "ppue": dict(loaded.facility.ppues)},
        "demand": {"kind": "fill"} if fill else {"kind": "target", "target": {metric: amount}},
        "ranking": "annual cost per FP8 PFLOPS-year (lower wins)" if fill else "total annual cost (lower wins)",
        "candidates": list(candidates),
        "tdp_overrides_w": dict(tdp or {}),
        "rows": rows,
        "break_even": findings,
        "assumptions": list(assumptions.values()),
        "spec_disputes": spec_disputes(cat, [resolve(cat, c) for c in candidates]),
    }
    return result


def _break_even(cat: Catalogue, candidates: list[str], rows: list[dict[str, Any]], fill: bool,
                tdp: dict[str, float], plan_one: Any, progress: Progress | None) -> list[dict[str, Any]]:
    """For each projected candidate whose low..high range straddles another candidate's nominal
    result, the TDP where the two rank equal, found by solving plans at what-if TDPs."""
    by = {(r["candidate"], r["point"]): r for r in rows}
    out = []
    for a in candidates:
        if cat.points(a) == ("nominal",):
            continue
        acc_id = cat.nodes[a].accelerator
        acc = cat.accelerators[acc_id]
        if acc.tdp_w.status != "projected" or acc_id in tdp:
            continue
        lo_w, hi_w = float(acc.tdp_w.low), float(acc.tdp_w.high)  # type: ignore[arg-type]
        for b in candidates:
            if b == a or (b, "nominal") not in by:
                continue
            target = ranking_value(by[(b, "nominal")], fill)
            finding: dict[str, Any] = {"candidate": a, "versus": f"{b}@nominal", "metric": "ranking",
                                       "range_w": [lo_w, hi_w], "tdp_w": None, "found": False}
            low, high = (ranking_value(by[(a, p)], fill) if (a, p) in by else math.inf for p in ("low", "high"))
            if not ((low - target) * (high - target) < 0):
                if high < target:
                    verdict = f"ranks better than {b}"
                elif low > target:
                    verdict = f"ranks worse than {b}"
                else:
                    verdict = f"ties with {b} at one end and does not cross it"
                finding["note"] = f"{a} {verdict} over its whole projected range; no break-even inside it"
                out.append(finding)
                continue

            def value_at(watts: float) -> float:
                if progress:
                    progress(f"break-even {a} vs {b}: trying {acc_id} at {watts:.0f} W")
                try:
                    plan = plan_one(a, "nominal", {acc_id: watts})
                except NoPlanError:
                    return math.inf
                return ranking_value(compare_row(a, "nominal", plan), fill)

            v_lo, v_hi = value_at(lo_w), value_at(hi_w)
            if not ((v_lo - target) * (v_hi - target) < 0):
                finding["note"] = ("the ranking flips between the low and high spec points only through "
                                   "figures other than TDP (e.g. platform overhead); at nominal overhead no TDP "
                                   f"in {lo_w:.0f}-{hi_w:.0f} W flips it")
                out.append(finding)
                continue
            left, right = lo_w, hi_w
            while right - left > BISECTION_TOL_W:
                mid = (left + right) / 2
                if (value_at(mid) - target) * (v_lo - target) > 0:
                    left = mid
                else:
                    right = mid
            watts = round((left + right) / 2, 1)
            finding.update({"tdp_w": watts, "found": True,
                            "note": f"below about {watts:.0f} W per {acc_id} {a} ranks "
                                    f"{'better' if v_lo < target else 'worse'} than {b}; above it, "
                                    f"{'worse' if v_lo < target else 'better'} (solved to within "
                                    f"{BISECTION_TOL_W:g} W at nominal platform overhead)"})
            out.append(finding)
    return out


CSV_FIELDS = ["candidate", "point", "status", "nodes", "gpus", "racks_used", "gpus_per_rack", "kw_per_rack",
              "fp8_pflops", "fp8_pflops_per_rack", "hbm_tb", "hbm_tb_per_rack", "it_kw", "facility_kw",
              "energy_usd", "cooling_usd", "racks_usd", "nodes_usd", "total_usd", "usd_per_pflops_year",
              "stranded_kw", "binding", "gap", "plan_file"]


def compare_csv(doc: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in doc["rows"]:
        flat = dict(row)
        for k, v in (row.get("annual_usd") or {}).items():
            flat[f"{k}_usd"] = v
        flat["binding"] = (row.get("binding") or {}).get("limit")
        w.writerow(flat)
    return buf.getvalue()


def write_compare(result: CompareResult, out_dir: str | Path) -> list[Path]:
    """Write compare.json, compare.csv, compare.html and plans/ID@POINT.json, all or nothing."""
    from planner.report.views import render_compare
    from planner.results.outputs import atomic_outputs

    html = render_compare(result.doc)
    with atomic_outputs(out_dir) as out:
        paths = [out.write_json("compare.json", result.doc), out.write_text("compare.csv", compare_csv(result.doc)),
                 out.write_text("compare.html", html)]
        out.replace_dir("plans")  # no plan from an earlier comparison lingers beside these
        for name, plan in result.plans.items():
            paths.append(out.write_json(f"plans/{name}.json", plan))
    return paths
