"""Deployment over time (issue #13): one model over every wave, hand-checked against the wave-by-wave
baseline; nodes never move; a wave may only use what is available by its date."""

import pytest

from planner.errors import InputError
from planner.inputs.demand import Demand
from planner.optimize.waves import Wave, active, plan_waves, service_years
from tests.helpers import B200, DLC, LIQ, RDHX, loaded

IMMERSION = {"u": 48, "cooling": "immersion", "air_kw": 30, "liquid_kw": 150, "feed": {"kw": 200},
             "max_weight_kg": 2000, "annual_cost_usd": 40_000}
HALL = [{"name": "h1", "cooling_units": {"count": 4, "unit_kw": 1000, "redundant": 1},
         "rows": [{"name": "L", "rack_type": "dlc", "racks": 2}, {"name": "A", "rack_type": "rdhx", "racks": 4},
                  {"name": "I", "rack_type": "imm", "racks": 1}]}]
WAVES = [Wave("now", "2027-01", Demand("nodes", nodes={"b200": 4})),
         Wave("later", "2028-01", Demand("nodes", nodes={"liq": 12}))]


def facility():
    return loaded(rack_types={"dlc": dict(DLC, annual_cost_usd=5_000), "rdhx": RDHX, "imm": IMMERSION}, halls=HALL)


def test_service_years():
    assert service_years("2027-01", "2031-01", "2027-01", 0.0) == pytest.approx(4.0)
    # a year at 10 %: the 12 months discounted by 1.1^(m/12), m = 0..11
    assert service_years("2027-01", "2028-01", "2027-01", 0.1) == pytest.approx(
        sum(1 / 12 * 1.1 ** (-m / 12) for m in range(12)))


def test_planning_ahead_beats_wave_by_wave_by_a_known_amount():
    """Four B200 now, twelve liquid nodes (LIQ: 11 kW, 80 % to liquid, 4U) a year later; horizon 2031-01,
    no discounting. Two cheap DLC racks (5,000 USD a year), four rear-door racks (11,000), one immersion
    tank (40,000).

    Wave by wave, the B200 go where they are cheapest now: both DLC racks, two each (10,000 + energy
    32,068.61 + air cooling 4 x 3,607.72 = 56,499.48 a year). The liquid nodes then find no DLC rack
    and take the tank: 40,000 + 12 x (6,167.04 energy + 752.38 cooling) = 123,033.03 a year.
    Planned together, one B200 takes a DLC rack and three a rear door (5,000 + 11,000 + 32,068.61 +
    3,607.72 + 3 x 2,004.29 = 57,689.19 a year) and the liquid nodes fill the other DLC rack:
    5,000 + 12 x (6,167.04 + 1,147.07) = 92,769.31 a year.
    Over 4 and 3 years: 595,097.01 wave by wave, 509,064.70 together: 86,032.31 saved."""
    joint, base = plan_waves(facility().facility, [B200, LIQ], WAVES, today="2027-01", horizon="2031-01",
                             discount_rate=0.0, gap=0.0)
    assert base.annual_usd == pytest.approx([56_499.48, 123_033.03], abs=0.01)
    assert joint.annual_usd == pytest.approx([57_689.19, 92_769.31], abs=0.01)
    assert base.pv_usd == pytest.approx(595_097.01, abs=0.01)
    assert joint.pv_usd == pytest.approx(509_064.70, abs=0.01)
    assert base.pv_usd - joint.pv_usd == pytest.approx(86_032.31, abs=0.02)
    assert joint.status == base.status == "optimal"


def test_nodes_of_an_earlier_wave_stay_in_their_racks():
    joint, _ = plan_waves(facility().facility, [B200, LIQ], WAVES, today="2027-01", horizon="2031-01",
                          discount_rate=0.0, myopic=False)
    first, second = joint.added
    assert (joint.installed(1) == first + second).all()
    # the second wave's racks are ones the first left empty (a rack is filled in one wave)
    assert not ((first.sum(axis=1) > 0) & (second.sum(axis=1) > 0)).any()


def test_retired_racks_are_free_again():
    """The B200 leave in 2028-01: the liquid wave may then use the racks they had."""
    waves = [Wave("now", "2027-01", Demand("nodes", nodes={"b200": 4}), retire="2028-01"),
             Wave("later", "2028-01", Demand("nodes", nodes={"liq": 24}))]
    assert active(waves, 1) == [1]
    joint, base = plan_waves(facility().facility, [B200, LIQ], waves, today="2027-01", horizon="2031-01",
                             discount_rate=0.0)
    # wave by wave, the B200 took both DLC racks; retired, they leave them to the 24 liquid nodes
    assert base.added[1][:2, 1].tolist() == [12, 12]


def test_a_wave_before_its_nodes_ship_is_refused():
    import dataclasses

    mi400 = dataclasses.replace(LIQ, id="mi400", available_from="2027-04", status="projected")
    waves = [Wave("now", "2027-01", Demand("nodes", nodes={"mi400": 4}))]
    with pytest.raises(InputError) as info:
        plan_waves(facility().facility, [mi400], waves, today="2027-01", horizon="2030-01")
    assert [str(p) for p in info.value.problems] == [
        "<command line>: waves[0]: mi400 is not available until 2027-04 (projected), after the wave's date 2027-01"]
