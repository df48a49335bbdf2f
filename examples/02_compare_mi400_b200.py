"""Compare AMD MI400 (the circulated projection, at low/nominal/high) against NVIDIA B200 for 1,024
GPUs in the AI hall, then the same against AMD's published MI455X view.

Run: .venv/bin/python examples/02_compare_mi400_b200.py
"""

from pathlib import Path

from planner.studies.compare import run_compare
from planner.inputs.facility import load_facility
from planner.inputs.specs import load_library

HERE = Path(__file__).resolve().parent
facility = load_facility(HERE.parent / "facilities" / "ai-hall.yaml")
catalogue = load_library()

result = run_compare(facility, catalogue, ["mi400-8x", "b200-8x-air", "mi455x-4x"], {"gpus": 1024}, fill=False)
print(f"{'candidate':<22} {'racks':>5} {'kW/rack':>8} {'USD/yr':>12} {'USD/PF-yr':>10}  binding")
for row in result.doc["rows"]:
    if row["status"] == "no_plan":
        print(f"{row['candidate'] + '@' + row['point']:<22} {row['message']}")
        continue
    print(f"{row['candidate'] + '@' + row['point']:<22} {row['racks_used']:>5} {row['kw_per_rack']:>8.1f} "
          f"{row['annual_usd']['total']:>12,.0f} {row['usd_per_pflops_year']:>10,.0f}  {row['binding']['label']}")
for finding in result.doc["break_even"]:
    print("-", finding["note"])
