"""Report rendering at campus scale: HTML size and render time for a ~10,000-used-rack plan.
Run: ``.venv/bin/python benchmarks/bench_report.py``."""

from __future__ import annotations

import time

from common import header  # noqa: I001

from benchmarks.campus import CANDIDATES, TARGET_GPUS, campus
from planner.api import run_plan
from planner.inputs.demand import Demand
from planner.report.views import render_plan
from planner.inputs.specs import load_library


def main() -> None:
    header("report: plan.json and report.html for the 28,800-rack campus plan")
    lf = campus()
    cat = load_library()
    demand = Demand("target", metric="gpus", amount=TARGET_GPUS, candidates=CANDIDATES)
    t0 = time.monotonic()
    run = run_plan(lf, cat, demand, time_limit=60, gap=1e-3)
    t_plan = time.monotonic() - t0
    import json

    t0 = time.monotonic()
    text = json.dumps(run.plan)
    t_json = time.monotonic() - t0
    t0 = time.monotonic()
    html = render_plan(run.plan)
    t_html = time.monotonic() - t0
    print(f"   racks used {run.plan['totals']['racks_used']:,}; plan + check {t_plan:.2f} s "
          f"(check {run.check.racks_checked:,} racks)")
    print(f"   plan.json {len(text) / 1e6:.1f} MB in {t_json:.2f} s; report.html {len(html) / 1e6:.2f} MB rendered "
          f"in {t_html:.2f} s")


if __name__ == "__main__":
    main()
