"""First fit by hand: a run of alike racks is filled in one step only as far as every limit has room
for whole racks, then one rack takes what is left, exactly as rack-by-rack first fit would."""

from __future__ import annotations

import pytest

from planner.inputs.demand import Demand
from planner.optimize.classes import build_problem_data
from planner.optimize.first_fit import first_fit, meets
from tests.helpers import facility, node

TEN = node("ten", u=2, max_kw=10.0, weight_kg=20.0)
"""10 kW, 2U, 20 kg, air."""


def row_of_ten(cooling_kw: float, overhead: dict | None = None):
    """One row of 10 racks that each take 4 nodes of TEN (41 kW feeds, 42 kW of air; 1 kW of overhead
    leaves 40 kW and 41 kW), its heat limited to ``cooling_kw``."""
    rack = {"u": 42, "cooling": "air", "air_kw": 42, "feed": {"kw": 41}, "max_weight_kg": 1400,
            "annual_cost_usd": 9000}
    if overhead:
        rack["overhead"] = overhead
    return facility(rack_types={"r41": rack},
                    halls=[{"name": "h1", "cooling_units": {"count": 4, "unit_kw": 1000, "redundant": 1},
                            "rows": [{"name": "A", "rack_type": "r41", "racks": 10, "cooling_kw": cooling_kw}]}])


def placed(fac, demand: Demand, **kw) -> list[int]:
    data = build_problem_data(fac, [TEN], mix_varies=False, demand=demand)
    counts = first_fit(data, demand, **kw)
    assert meets(data, demand, counts) or demand.kind == "fill"
    return counts[:, 0].tolist()


@pytest.mark.parametrize("cheapest_first", [False, True])
def test_row_cooling_fills_three_racks_and_part_of_a_fourth(cheapest_first):
    # 130 kW of row cooling: 4 + 4 + 4 nodes (120 kW), then 1 more (130 kW), then nothing
    fac = row_of_ten(130)
    assert placed(fac, Demand("fill", fill="ten"), cheapest_first=cheapest_first) == [4, 4, 4, 1, 0, 0, 0, 0, 0, 0]


def test_overhead_opens_each_rack_and_the_rest_of_the_run_takes_nothing():
    # each rack opened adds 1 kW: 3 x (1 + 40) = 123 kW; a fourth would need 1 + 10 > 7 kW left
    fac = row_of_ten(130, {"u": 1, "kw": 1, "weight_kg": 5})
    assert placed(fac, Demand("fill", fill="ten")) == [4, 4, 4, 0, 0, 0, 0, 0, 0, 0]


def test_the_demand_stops_the_run_part_way():
    fac = row_of_ten(1000)
    assert placed(fac, Demand("nodes", nodes={"ten": 10})) == [4, 4, 2, 0, 0, 0, 0, 0, 0, 0]
    assert placed(fac, Demand("nodes", nodes={"ten": 12})) == [4, 4, 4, 0, 0, 0, 0, 0, 0, 0]


def test_a_started_plan_is_topped_up_in_the_racks_with_room():
    # the start holds 2 nodes in rack 2: rack 1 (empty) and rack 2 (2 more) differ, so each is its own run
    import numpy as np

    fac = row_of_ten(1000)
    demand = Demand("nodes", nodes={"ten": 9})
    data = build_problem_data(fac, [TEN], mix_varies=False, demand=demand)
    start = np.zeros((10, 1), dtype=np.int64)
    start[1, 0] = 2
    assert first_fit(data, demand, start=start)[:, 0].tolist() == [4, 4, 1, 0, 0, 0, 0, 0, 0, 0]
