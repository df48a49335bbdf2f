"""Sweeps: 1,000 scenarios of two candidates on facilities/ai-hall.yaml, on the local process pool and on
a local Ray, and the speed-up from 1 to 2 workers.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--samples 1000] [--engines local,ray] [--workers 1,2]``.
Each run starts from an empty results file (no resuming) in a temporary directory and includes
starting the workers (and Ray itself), drawing the scenarios, every solve and check, streaming the
results, the summary and the tornado, as ``rackplan sweep`` does. The machine's load average is
printed beside each figure: the cores are shared, and a busy machine slows every figure.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from common import ROOT, header  # noqa: I001

from planner.inputs.facility import load_facility
from planner.inputs.specs import Figure, load_catalogue
from planner.studies.engines import make_engine
from planner.studies.sweep import make_setup, run_sweep, site_ranges
from planner.studies.tco import PriceInput, choose_prices, priced_catalogue

CANDIDATES = ["mi400-8x", "b200-8x-dlc"]
PRICES = {"mi400-8x": PriceInput(rent_usd_month=Figure(nominal=25_000, low=20_000, high=30_000)),
          "b200-8x-dlc": PriceInput(rent_usd_month=Figure(nominal=40_000, low=30_000, high=50_000))}
SITE = {"electricity_usd_per_kwh": {"low": 0.06, "high": 0.12}, "load_factor": {"low": 0.6, "high": 0.9}}


def setup(samples: int):
    cat = load_catalogue()
    loaded = load_facility(ROOT / "facilities" / "ai-hall.yaml")
    choices = choose_prices(cat, CANDIDATES, PRICES)
    return make_setup(loaded, priced_catalogue(cat, choices), CANDIDATES, "gpus", 1024, choices,
                      site_ranges(loaded.facility.site, SITE), seed=1, samples=samples, time_limit=60)


def one(engine_name: str, workers: int, samples: int) -> tuple[float, float, dict]:
    s = setup(samples)
    engine = make_engine(engine_name, workers)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        t0 = time.monotonic()
        run = run_sweep(s, engine, d, fresh=True, progress=False)
        wall = time.monotonic() - t0
    per = [r["seconds"] for r in run.rows if r.get("seconds") is not None]
    cpu = [r["cpu_seconds"] for r in run.rows if r.get("cpu_seconds") is not None]
    info = {"solve_ms": 1000 * sum(per) / max(len(per), 1), "load": (load0 + os.getloadavg()[0]) / 2,
            "cpu_ms": 1000 * sum(cpu) / max(len(cpu), 1), "cpu_s": sum(cpu),
            "verdict": run.summary["verdict"], "ok": sum(r["status"] == "ok" for r in run.rows), "rows": len(run.rows)}
    return wall, sum(per), info


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--engines", default="local,ray")
    ap.add_argument("--workers", default="1,2")
    a = ap.parse_args()
    header(f"sweep: {a.samples:,} scenarios x 2 candidates ({', '.join(CANDIDATES)}, 1,024 GPUs) on ai-hall.yaml; "
           "9 uncertain inputs; target <= 60 s wall with 2 workers")
    for name in a.engines.split(","):
        if name == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                print("   ray: not installed (pip install 'rackplan[ray]'); skipped")
                continue
        walls = {}
        for w in [int(x) for x in a.workers.split(",")]:
            wall, busy, info = one(name, w, a.samples)
            walls[w] = wall
            print(f"   {name:5s} {w} worker(s): {wall:6.1f} s wall for {info['rows']:,} solves "
                  f"({info['ok']:,} with a plan; {info['solve_ms']:.0f} ms wall, {info['cpu_ms']:.0f} ms CPU per solve "
                  f"and check inside a worker; {a.samples / wall:,.0f} scenarios/s; load average {info['load']:.1f} "
                  f"on {os.cpu_count()} cores)", flush=True)
            print(f"         the solves took {info['cpu_s']:.1f} CPU-s: {info['cpu_s'] / w:.1f} s of wall time on {w} "
                  "idle core(s), before start-up and the tornado", flush=True)
        if 1 in walls and 2 in walls:
            print(f"   {name:5s} speed-up from 1 to 2 workers: {walls[1] / walls[2]:.2f}x")
    print(f"   verdict: {info['verdict']}")


if __name__ == "__main__":
    main()
