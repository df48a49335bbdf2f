"""Buy now or wait: B200 now and MI400 later in the bundled AI hall (examples/waves-ai-hall.yaml), the
strategies side by side and where waiting pays off across MI400's projected range.

Run: .venv/bin/python examples/04_phases_buy_now_or_wait.py [OUTDIR]
(the same as: rackplan phases facilities/ai-hall.yaml --waves examples/waves-ai-hall.yaml -o OUTDIR)
"""

import sys
from pathlib import Path

from planner.inputs.facility import load_facility
from planner.inputs.specs import load_library
from planner.inputs.waves import load_waves
from planner.studies.phases import run_phases, write_phases

HERE = Path(__file__).resolve().parent

facility = load_facility(HERE.parent / "facilities" / "ai-hall.yaml")
catalogue = load_library()
waves = load_waves(str(HERE / "waves-ai-hall.yaml"), catalogue)
result = run_phases(facility, catalogue, waves)
doc = result.doc

print(f"{'strategy':<44} {'TCO (PV)':>14} {'cost of delay':>14} {'total':>14}  checked")
for s in doc["strategies"]:
    if s["status"] != "ok":
        print(f"{s['label']:<44} no plan: {s['message']}")
        continue
    checked = all(w["check"]["passed"] for w in s["waves"])
    best = "  <- best" if s["key"] == doc["best"]["key"] else ""
    print(f"{s['label']:<44} {s['pv_usd']:>14,.0f} {s['delay_usd'] or 0:>14,.0f} {s['total_usd']:>14,.0f}  "
          f"{'yes' if checked else 'NO'}{best}")
ahead = doc["planning_ahead"]
print(f"planning ahead saves {ahead['saves_usd']:,.0f} USD against wave by wave" if ahead.get("saves_usd") is not None
      else f"wave by wave: {ahead.get('stopped')}")
for finding in doc["sensitivity"]["findings"]:
    print("-", finding)
if len(sys.argv) > 1:
    for path in write_phases(result, sys.argv[1], facility):
        print("wrote", path)
