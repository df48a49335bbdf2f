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
    assert physics.rack_power_capacity_kw(one, 1, "2N") == pytest.approx(32.7773)   # one side of one feed
    assert physics.rack_power_capacity_kw(one, 2, "2N") == pytest.approx(65.5546)   # one side of two feeds
    assert physics.rack_power_capacity_kw(one, 2, "N") == pytest.approx(65.5546)    # both feeds together
    assert physics.rack_power_capacity_kw(one, 3, "N+1") == pytest.approx(65.5546)  # any two of three
    assert physics.rack_power_capacity_kw(one, 4, "N+2") == pytest.approx(65.5546)  # any two of four
    # 2N provisions both sides; N and N+k only the feeds they have
    assert physics.provisioned_kw(one, 1, "2N") == pytest.approx(65.5546)
    assert physics.provisioned_kw(one, 2, "N") == pytest.approx(65.5546)
    assert physics.provisioned_kw(one, 3, "N+1") == pytest.approx(98.3319)


@pytest.mark.parametrize("redundancy, feeds, paths, per_path", [
    ("2N", 1, 2, 1), ("2N", 2, 2, 2), ("N", 2, 1, 2), ("N+1", 3, 3, 1), ("N+2", 4, 4, 1)])
def test_feed_paths(redundancy, feeds, paths, per_path):
    assert physics.feed_paths(redundancy, feeds) == paths
    assert physics.path_feeds(redundancy, feeds) == per_path


@pytest.mark.parametrize("text", ["3N", "N+0", "2N+1", "n", "N+", ""])
def test_redundancy_text_is_checked(text):
    with pytest.raises(ValueError):
        physics.redundancy_k(text)


def test_path_share_after_failures():
    assert physics.path_share_kw(30.0, 2) == 15.0          # 2N, normal: half each
    assert physics.path_share_kw(30.0, 2, lost=1) == 30.0  # 2N, one side lost: all on the other
    assert physics.path_share_kw(30.0, 3, lost=1) == 15.0  # N+1 of three paths, one lost
    assert physics.path_share_kw(30.0, 1, lost=1) == 0.0   # N: the rack is dropped


def test_tree_capacity_counts_paths_on_one_source():
    src = {"P1": "UPS-1", "P2": "UPS-1", "P3": "UPS-2"}
    assert physics.paths_lost(["P1", "P2", "P3"], src, "UPS-1") == 2
    assert physics.paths_lost(["P1", "P2", "P3"], src, "P3") == 1
    # N+1 on three paths of 10 kW: normally any two carry it (20 kW); but losing UPS-1 leaves only P3
    assert physics.surviving_paths("N+1", 3) == 2
    assert physics.surviving_paths("N+1", 3, ["P1", "P2", "P3"], src) == 1
    assert physics.rack_power_capacity_kw(10.0, 3, "N+1", ["P1", "P2", "P3"], src) == 10.0
    # striped across three sources: any single failure leaves two paths
    assert physics.rack_power_capacity_kw(10.0, 3, "N+1", ["P1", "P3", "P4"], src | {"P4": "UPS-3"}) == 20.0
    # 2N on two sources: either side alone
    assert physics.rack_power_capacity_kw(10.0, 2, "2N", ["P1", "P3"], src) == 20.0
    # a single path (N): its failure drops the rack and sets no limit beyond its feeds
    assert physics.rack_power_capacity_kw(10.0, 2, "N", ["P1"], src) == 20.0


def test_overhead_energy_and_cooling():
    # 1.5 kW of switches and PDUs: 13,140 kWh a year at 0.08 = 1,051.20; cooling at air pPUE 1.45: 473.04
    energy, cooling = physics.overhead_energy_cooling_usd(1.5, 0.08, 1.45)
    assert physics.overhead_kwh(1.5) == pytest.approx(13_140)
    assert (energy, cooling) == (pytest.approx(1_051.2), pytest.approx(473.04))


def test_node_energy_and_cooling():
    # 11 kW, 80 % liquid in a DLC rack: 77,088 kWh; 6,167.04 energy; 1,147.07 cooling (see below)
    energy, cooling = physics.node_energy_cooling_usd(11.0, 0.8, 0.8, 0.08, 1.45, 1.12)
    assert (energy, cooling) == (pytest.approx(6_167.04), pytest.approx(1_147.06944))


def test_heat_split():
    assert physics.air_heat_kw(11.0, 0.8) == pytest.approx(2.2)
    assert physics.liquid_heat_kw(11.0, 0.8) == pytest.approx(8.8)
    assert physics.air_heat_kw(14.3, 0.0) == 14.3


def test_usable_units():
    assert physics.usable_units_kw(8, 500, 1) == 3500
    assert physics.usable_units_kw(4, 300, 1) == 900
    assert physics.usable_units_kw(3, 1000, 1) == 2000  # a CDU group of three 1 MW units, N+1


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


def test_liquid_loop_rule():
    assert physics.has_liquid_loop("dlc", 120) and physics.has_liquid_loop("immersion", 150)
    assert not physics.has_liquid_loop("dlc", 0) and not physics.has_liquid_loop("rdhx", 0)


def test_liquid_node_needs_a_liquid_path():
    with pytest.raises(ValueError):
        physics.cooling_overhead_factor(0.8, 1.45, None)


def test_within_tolerates_rounding_only():
    assert physics.within(32.7773 + 1e-9, 32.7773)
    assert not physics.within(32.78, 32.7773)
    assert math.isclose(physics.HOURS_PER_YEAR, 8760)
