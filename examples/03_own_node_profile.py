"""Add your own node profile (examples/my-specs.yaml) and plan with it: its rental price enters the
cost, its measured power cap the rack limits.

Run: .venv/bin/python examples/03_own_node_profile.py
"""

from pathlib import Path

from planner.api import run_plan
from planner.inputs.demand import Demand
from planner.inputs.facility import load_facility
from planner.inputs.specs import load_catalogue

HERE = Path(__file__).resolve().parent
catalogue = load_catalogue([HERE / "my-specs.yaml"])
facility = load_facility(HERE.parent / "facilities" / "contract-example.yaml")
run = run_plan(facility, catalogue, Demand("nodes", nodes={"my-b200-rental": 8}))
usd = run.plan["totals"]["annual_usd"]
print(f"8 rented nodes in {run.plan['totals']['racks_used']} racks; USD {usd['total']:,.0f} a year, "
      f"of which node rental {usd['nodes']:,.0f}")
