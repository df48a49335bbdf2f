"""The physics and cost functions, against numbers computed by hand."""

import math

import pytest

from planner import physics


@pytest.mark.parametrize("volts, amps, phases, pf, derate, expected_kw", [
    (415, 60, 3, 0.95, 0.8, 32.7773),   # 415 x 60 x 1.73205 x 0.95 x 0.8 = 32,777.3 W
    (415, 100, 3, 0.95, 0.8, 54.6289),  # 71.88 kVA x 0.76
    (208, 30, 3, 0.95, 0.8, 8.2141),    # HP's NEC table: 8,646 VA at 80 % -> x 0.95
    (208, 30, 1, 0.95, 0.8, 4.7424),    # 6,240 VA x 0.76
    (230, 32, 1, 1.0, 1.0, 7.36),       # no derate, unity power factor
])
def test_feed_kw(volts, amps, phases, pf, derate, expected_kw):
    assert physics.feed_kw(volts, amps, phases, pf, derate) == pytest.approx(expected_kw, abs=1e-4)


def test_feed_kw_refuses_two_phases():
    with pytest.raises(ValueError):
        physics.feed_kw(400, 32, 2, 0.95, 0.8)


def test_rack_capacity_and_provisioned_power():
    one = 32.7773
    assert physics.rack_power_capacity_kw(one, 1) == pytest.approx(32.7773)
    assert physics.rack_power_capacity_kw(one, 2) == pytest.approx(65.5546)
    # 2N provisions both sides; N only the feeds it has
    assert physics.provisioned_kw(one, 1, "2N") == pytest.approx(65.5546)
    assert physics.provisioned_kw(one, 2, "N") == pytest.approx(65.5546)


def test_side_load_under_failover():
    assert physics.side_load_kw(30.0, "2N", failed=False) == 15.0
    assert physics.side_load_kw(30.0, "2N", failed=True) == 30.0
    assert physics.side_load_kw(30.0, "N", failed=False) == 30.0


def test_heat_split():
    assert physics.air_heat_kw(11.0, 0.8) == pytest.approx(2.2)
    assert physics.liquid_heat_kw(11.0, 0.8) == pytest.approx(8.8)
    assert physics.air_heat_kw(14.3, 0.0) == 14.3


def test_hall_usable_cooling():
    assert physics.hall_usable_cooling_kw(8, 500, 1) == 3500
    assert physics.hall_usable_cooling_kw(4, 300, 1) == 900


def test_annual_energy_and_cost():
    kwh = physics.annual_kwh(14.3, 0.8)
    assert kwh == pytest.approx(100_214.4)
    assert physics.energy_usd(kwh, 0.08) == pytest.approx(8_017.152)


def test_cooling_cost_by_heat_path():
    # air node in an air rack: 100,214.4 kWh x 0.45 x 0.08
    air, liquid = physics.path_ppues("air", {"air": 1.45, "rdhx": 1.25, "dlc": 1.12, "immersion": 1.04})
    assert (air, liquid) == (1.45, None)
    assert physics.cooling_usd(100_214.4, 0.0, air, liquid, 0.08) == pytest.approx(3_607.7184)
    # the same node behind a rear door pays the rdhx pPUE
    air, _ = physics.path_ppues("rdhx", {"air": 1.45, "rdhx": 1.25, "dlc": 1.12, "immersion": 1.04})
    assert physics.cooling_usd(100_214.4, 0.0, air, None, 0.08) == pytest.approx(2_004.288)
    # liquid node in a DLC rack: 77,088 kWh x (0.2 x 0.45 + 0.8 x 0.12) x 0.08 = 1,147.07
    air, liquid = physics.path_ppues("dlc", {"air": 1.45, "rdhx": 1.25, "dlc": 1.12, "immersion": 1.04})
    assert (air, liquid) == (1.45, 1.12)
    assert physics.cooling_usd(77_088, 0.8, air, liquid, 0.08) == pytest.approx(1_147.06944)


def test_liquid_node_needs_a_liquid_path():
    with pytest.raises(ValueError):
        physics.cooling_overhead_factor(0.8, 1.45, None)


def test_within_tolerates_rounding_only():
    assert physics.within(32.7773 + 1e-9, 32.7773)
    assert not physics.within(32.78, 32.7773)
    assert math.isclose(physics.HOURS_PER_YEAR, 8760)
