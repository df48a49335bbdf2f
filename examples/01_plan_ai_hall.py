"""Plan the bundled AI hall for a demand file, from Python, and print the key figures.

Run: .venv/bin/python examples/01_plan_ai_hall.py [OUTDIR]
"""

import sys
from pathlib import Path

from planner.api import run_plan, write_plan
from planner.inputs.demand import load_demand
from planner.inputs.facility import load_facility
from planner.inputs.specs import load_library
from planner.studies.tco import plan_prices

HERE = Path(__file__).resolve().parent

facility = load_facility(HERE.parent / "facilities" / "ai-hall.yaml")
library = load_library()
demand, tdp = load_demand(str(HERE / "ai-hall-demand.yaml"), library)
# Price the nodes as `rackplan plan` does (the spec library's rent or purchase price; see the README's
# Prices): a catalogue whose profiles carry the prices, and the record plan.json keeps of them.
catalogue, prices = plan_prices(library, demand)
run = run_plan(facility, catalogue, demand, tdp_w=tdp, prices=prices)

totals = run.plan["totals"]
print(f"{run.plan['solver']['status']}: {totals['gpus']} GPUs in {totals['racks_used']} racks, "
      f"IT {totals['it_kw']:.1f} kW, USD {totals['annual_usd']['total']:,.0f} a year")
print(f"independent check: {'passed' if run.check.passed else 'FAILED'}")
if len(sys.argv) > 1:
    for path in write_plan(run, sys.argv[1]):
        print("wrote", path)
