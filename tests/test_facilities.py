"""The bundled facility descriptors and the AI-hall demand example.

Every ``facilities/*.yaml`` must load, and each one's sizes are checked against numbers worked out by
hand here (rack counts, one feed's usable kW, hall usable cooling, existing entries). The AI hall must
hold 1,024 GPUs as either 128 x ``b200-8x-air`` or 128 x ``mi400-8x``, but its hall cooling must stay a
real limit; that is checked with plain arithmetic over the rack table, independent of the optimizer.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml

from planner import physics
from planner.inputs.facility import Facility, load_facility
from planner.inputs.specs import load_catalogue

REPO = Path(__file__).resolve().parent.parent
FACILITIES = REPO / "facilities"
SHARED_EXAMPLE = REPO / ".." / "shared" / "contract" / "facility.example.yaml"
DEMAND = REPO / "examples" / "ai-hall-demand.yaml"

EXPECTED_FILES = {"contract-example.yaml", "colo-brownfield-208v.yaml", "ai-hall.yaml", "campus.yaml"}


def load(name: str) -> Facility:
    return load_facility(FACILITIES / name).facility


def hand_feed_kw(volts: float, amps: float) -> float:
    """One three-phase feed at the sites' power factor 0.95 and NEC derate 0.8, written out."""
    return volts * amps * math.sqrt(3) * 0.95 * 0.8 / 1000


def racks_per_hall(fac: Facility) -> dict[str, int]:
    return fac.racks.frame.to_pandas().groupby("hall", sort=False).size().to_dict()


def racks_per_row(fac: Facility, hall: str) -> dict[str, int]:
    df = fac.racks.frame.to_pandas()
    return df[df.hall == hall].groupby("row", sort=False).size().to_dict()


# --- node figures the sizing relies on (CONTRACT.md and the task statement) ------------------------

class Node:
    def __init__(self, max_kw: float, liquid_fraction: float, u: int, weight_kg: float, gpus: int = 8):
        self.max_kw, self.liquid_fraction, self.u, self.weight_kg, self.gpus = (
            max_kw, liquid_fraction, u, weight_kg, gpus)


B200_AIR = Node(max_kw=14.3, liquid_fraction=0.0, u=10, weight_kg=142.4)   # DGX B200 guide
MI400_HIGH = Node(max_kw=12.4, liquid_fraction=0.80, u=4, weight_kg=120)   # projected, high point
MI400_NOMINAL = Node(max_kw=11.0, liquid_fraction=0.80, u=4, weight_kg=120)
B200_LOAD_KW = 128 * 14.3   # 1,830.4 kW: the larger of the two 1,024-GPU loads
HALL_COOLING_CEILING = 1.3  # the AI hall's usable cooling is at most 1.3 x that load


def rack_fit(r, node: Node) -> int:
    """How many ``node`` fit one rack (a row of the rack table) beside its existing load, by power
    (one side under 2N), air heat, liquid heat, U and weight."""
    eps = 1e-9
    air = node.max_kw * (1 - node.liquid_fraction)
    liquid = node.max_kw * node.liquid_fraction
    if liquid > 0 and r.liquid_kw <= 0:
        return 0
    limits = [
        math.floor((r.power_kw - r.existing_kw) / node.max_kw + eps),
        math.floor((r.u - r.existing_u) / node.u + eps),
        math.floor((r.max_weight_kg - r.existing_weight_kg) / node.weight_kg + eps),
    ]
    if air > 0:
        limits.append(math.floor((r.air_kw - r.existing_kw) / air + eps))
    if liquid > 0:
        limits.append(math.floor(r.liquid_kw / liquid + eps))
    return max(0, min(limits))


def capacity(fac: Facility, hall: str, node: Node, cooling: tuple[str, ...] | None = None,
             hall_limit: bool = True) -> int:
    """Nodes of one type a hall holds: per rack, then capped by each row's cooling_kw (less its existing
    load), then (optionally) by the hall's usable cooling less its existing load. ``cooling`` restricts
    the racks counted to those cooling types."""
    df = fac.racks.frame.to_pandas()
    h = next(x for x in fac.halls if x.name == hall)
    total = 0
    for row in h.rows:
        rr = df[(df.hall == hall) & (df.row == row.name)]
        if cooling is not None and rr.cooling.iloc[0] not in cooling:
            continue
        n = sum(rack_fit(r, node) for r in rr.itertuples())
        if row.cooling_kw is not None:
            n = min(n, math.floor((row.cooling_kw - rr.existing_kw.sum()) / node.max_kw + 1e-9))
        total += n
    if hall_limit:
        free = fac.hall_usable_kw(h) - df[df.hall == hall].existing_kw.sum()
        total = min(total, math.floor(free / node.max_kw + 1e-9))
    return total


# --- every file ---------------------------------------------------------------------------------

def test_bundled_files_present():
    names = {p.name for p in FACILITIES.glob("*.yaml")}
    assert EXPECTED_FILES <= names


@pytest.mark.parametrize("path", sorted(FACILITIES.glob("*.yaml")), ids=lambda p: p.name)
def test_facility_loads_and_rack_ids_are_well_formed(path):
    fac = load_facility(path).facility
    df = fac.racks.frame.to_pandas()
    assert len(df) == sum(row.racks for hall in fac.halls for row in hall.rows) > 0
    assert df.id.is_unique
    for hall in fac.halls:
        for row in hall.rows:
            width = 3 if row.racks > 99 else 2
            ids = df[(df.hall == hall.name) & (df.row == row.name)].id.tolist()
            assert ids[0] == f"{hall.name}/{row.name}/{1:0{width}d}"
            assert ids[-1] == f"{hall.name}/{row.name}/{row.racks:0{width}d}"
    for e in fac.existing:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*/\d{2,3}", e.rack)
        assert 0 < e.kw


@pytest.mark.parametrize("ours, shared", [("facilities/contract-example.yaml", "facility.example.yaml"),
                                          ("facilities/contract-power-example.yaml", "facility.power.example.yaml"),
                                          ("examples/contract-demand.yaml", "demand.example.yaml"),
                                          ("docs/CONTRACT.md", "CONTRACT.md")])
def test_contract_files_are_byte_identical_to_the_shared_ones(ours, shared):
    """The contract and its example files ship in the repository, as they are in the workspace."""
    path = SHARED_EXAMPLE.parent / shared
    if not path.is_file():
        pytest.skip(f"{path} not present (running from a clone outside the workspace)")
    assert (REPO / ours).read_bytes() == path.read_bytes()


def test_the_contract_demand_example_plans_on_the_contract_facility(tmp_path):
    """The contract's demand example (24 b200-8x-air and 16 mi400-8x) plans on its facility example, and
    the plan passes the checker."""
    from planner.api import run_plan
    from planner.inputs.demand import load_demand

    cat = load_catalogue()
    demand, tdp = load_demand(str(REPO / "examples" / "contract-demand.yaml"), cat)
    run = run_plan(load_facility(FACILITIES / "contract-example.yaml"), cat, demand, tdp_w=tdp, time_limit=60)
    assert run.check.passed and run.plan["totals"]["nodes"] == {"b200-8x-air": 24, "mi400-8x": 16}


def test_contract_power_example_plans_and_survives_every_single_failure():
    """The contract's power example loads and plans unchanged; the plan passes the checker, and its
    single-corded hall-2 rows are reported as dropped when their panel or UPS-1 is lost."""
    from planner.api import run_plan
    from planner.inputs.demand import from_cli
    from planner.inputs.specs import load_catalogue

    cat = load_catalogue()
    lf = load_facility(FACILITIES / "contract-power-example.yaml")
    run = run_plan(lf, cat, from_cli(cat, fill="b200-8x-dlc"), time_limit=60)
    assert run.check.passed and run.plan["solver"]["status"] == "optimal"
    dropped = {d["failure"]: d["rows"] for d in run.plan["power"]["dropped"]}
    assert dropped == {"UPS-1": ["hall-2/A", "hall-2/B"], "RPP-2A": ["hall-2/A"]}  # existing load in hall-2/A
    assert {g["name"] for g in run.plan["cdus"]} == {"CDU-1", "CDU-2"}


# --- contract-example.yaml -----------------------------------------------------------------------

def test_contract_example_sizes():
    fac = load("contract-example.yaml")
    assert len(fac.racks) == 84
    assert racks_per_hall(fac) == {"hall-1": 12 + 12 + 16 + 20, "hall-2": 24}
    # 415 V 3-ph 60 A: 415 x 60 x 1.7320508 x 0.95 x 0.8 / 1000 = 32.7773 kW
    assert hand_feed_kw(415, 60) == pytest.approx(32.7773, abs=1e-4)
    assert fac.one_feed_kw("air-35") == pytest.approx(32.7773, abs=1e-4)
    assert physics.feed_kw(415, 60, 3, 0.95, 0.8) == pytest.approx(32.7773, abs=1e-4)
    assert fac.hall_usable_kw(fac.halls[0]) == (8 - 1) * 500 == 3500
    assert fac.hall_usable_kw(fac.halls[1]) == (4 - 1) * 300 == 900
    assert len(fac.existing) == 2


# --- colo-brownfield-208v.yaml ------------------------------------------------------------------

def test_colo_sizes():
    fac = load("colo-brownfield-208v.yaml")
    assert fac.site.power_redundancy == "2N"
    assert fac.site.electricity_usd_per_kwh == 0.11
    assert racks_per_hall(fac) == {"suite-2": 96}
    assert racks_per_row(fac, "suite-2") == {"A": 24, "B": 24, "C": 20, "D": 20, "E": 8}
    # 208 V 3-ph 30 A: 208 x 30 x 1.7320508 x 0.95 x 0.8 / 1000 = 10.808 kVA x 0.76 = 8.2141 kW
    assert hand_feed_kw(208, 30) == pytest.approx(8.2141, abs=1e-4)
    assert fac.one_feed_kw("legacy-air-8") == pytest.approx(8.2141, abs=1e-4)
    # 208 V 3-ph 60 A: twice that, 16.4282 kW; the rear-door cabinet has two such feeds per side.
    assert fac.one_feed_kw("contained-air-16") == pytest.approx(16.4282, abs=1e-4)
    assert fac.power_capacity_kw("rdhx-30") == pytest.approx(2 * 16.4282, abs=2e-4)
    assert fac.hall_usable_kw(fac.halls[0]) == (10 - 1) * 88 == 792
    assert len(fac.existing) == 44
    assert 30 <= len(fac.existing) <= 50
    assert all(3 <= e.kw <= 12 for e in fac.existing)
    assert sum(e.kw for e in fac.existing) == pytest.approx(276.1)
    assert len({(e.kw, e.u, e.weight_kg) for e in fac.existing}) >= 30   # varied legacy gear


def test_colo_strands_gpus():
    """At 208 V the suite takes few 8-GPU nodes, and no liquid-cooled ones."""
    fac = load("colo-brownfield-208v.yaml")
    # B200 (14.3 kW): none in legacy-air-8 (8.21 kW); one per empty contained-air-16 (16.43 kW);
    # two per rdhx-30 (32.86 kW). Row C: 12 empty racks but (240 - 70.3) / 14.3 = 11.9 -> 11;
    # row D: 16 empty racks -> 16; row E: 7 x 2 + 1 (E/01 has 9.9 kW) = 15, (180 - 9.9) / 14.3 -> 11.
    assert capacity(fac, "suite-2", B200_AIR, hall_limit=False) == 11 + 16 + 11
    # Hall: (792 - 276.1) / 14.3 = 36.08 -> 36 nodes, 288 GPUs in 96 racks.
    assert capacity(fac, "suite-2", B200_AIR) == 36
    assert capacity(fac, "suite-2", MI400_NOMINAL) == 0


# --- ai-hall.yaml -----------------------------------------------------------------------------------

def test_ai_hall_sizes():
    fac = load("ai-hall.yaml")
    assert racks_per_hall(fac) == {"hall-1": 78}
    assert racks_per_row(fac, "hall-1") == {"A": 8, "B": 8, "C": 16, "D": 16, "E": 16, "F": 6, "G": 8}
    # 415 V 3-ph 250 A: 415 x 250 x 1.7320508 x 0.95 x 0.8 / 1000 = 136.5722 kW
    assert hand_feed_kw(415, 250) == pytest.approx(136.5722, abs=1e-4)
    assert fac.one_feed_kw("dlc-130") == pytest.approx(136.5722, abs=1e-4)
    # 415 V 3-ph 100 A: 54.6289 kW
    assert fac.one_feed_kw("rdhx-55") == pytest.approx(54.6289, abs=1e-4)
    assert fac.hall_usable_kw(fac.halls[0]) == (8 - 1) * 300 == 2100
    assert len(fac.existing) == 5
    assert sum(e.kw for e in fac.existing) == pytest.approx(64.1)
    assert {fac.rack_types[t].cooling for t in set(fac.racks.frame["rack_type"].tolist())} == {
        "dlc", "rdhx", "immersion", "air"}


def test_ai_hall_rdhx_rack_holds_three_b200():
    fac = load("ai-hall.yaml")
    feed = fac.power_capacity_kw("rdhx-55")
    assert 3 * 14.3 <= feed < 4 * 14.3            # power: 42.9 <= 54.63 < 57.2
    assert 3 * 14.3 <= fac.rack_types["rdhx-55"].air_kw < 4 * 14.3   # heat: all to air, 55 kW door
    assert 3 * 10 <= fac.rack_types["rdhx-55"].u  # space: 30U of 48U
    assert 3 * 142.4 <= fac.rack_types["rdhx-55"].max_weight_kg
    df = fac.racks.frame.to_pandas()
    empty_rdhx = df[(df.rack_type == "rdhx-55") & ~df.has_existing]
    assert {rack_fit(r, B200_AIR) for r in empty_rdhx.itertuples()} == {3}


def test_ai_hall_holds_128_b200_in_rear_door_rows():
    fac = load("ai-hall.yaml")
    # C: min(16 x 3, floor(650 / 14.3) = 45) = 45; D: 45; E: 15 x 3 + 2 (E/16 holds 20.4 kW) = 47.
    rdhx = capacity(fac, "hall-1", B200_AIR, cooling=("rdhx",), hall_limit=False)
    assert rdhx == 45 + 45 + 47 == 137
    assert rdhx >= 128
    # The hall's free cooling still takes them: (2,100 - 64.1) / 14.3 = 142.4 -> 142.
    assert capacity(fac, "hall-1", B200_AIR, cooling=("rdhx",)) >= 128


def test_ai_hall_holds_128_mi400_in_liquid_racks():
    fac = load("ai-hall.yaml")
    # dlc-130 at the 12.4 kW high point: power 136.57 / 12.4 = 11.01 -> 11 (liquid 11 x 9.92 = 109 <= 130,
    # air 11 x 2.48 = 27.3 <= 30, 44U, 1,320 kg). Row A: min(88, floor(900 / 12.4) = 72); B: 88.
    dlc_high = capacity(fac, "hall-1", MI400_HIGH, cooling=("dlc",), hall_limit=False)
    assert dlc_high == 72 + 88 == 160
    # Nominal 11.0 kW: 12 per rack (48U); A: min(96, floor(900 / 11) = 81), B: 96.
    assert capacity(fac, "hall-1", MI400_NOMINAL, cooling=("dlc",), hall_limit=False) == 81 + 96
    # Immersion row F adds min(6 x 11, floor(700 / 12.4) = 56) = 56 at the high point.
    liquid_high = capacity(fac, "hall-1", MI400_HIGH, cooling=("dlc", "immersion"), hall_limit=False)
    assert liquid_high == 160 + 56
    assert dlc_high >= 128
    assert capacity(fac, "hall-1", MI400_HIGH) >= 128
    # Air-only racks take none: the node needs a liquid loop.
    assert capacity(fac, "hall-1", MI400_HIGH, cooling=("rdhx", "air"), hall_limit=False) == 0


def test_ai_hall_cooling_is_a_real_limit():
    """Usable hall cooling: enough for 1,024 GPUs of either kind, at most 1.3 x the larger load, and
    less than the racks could take, so heat is what runs out first."""
    fac = load("ai-hall.yaml")
    usable = fac.hall_usable_kw(fac.halls[0])
    existing = sum(e.kw for e in fac.existing)
    assert B200_LOAD_KW == pytest.approx(1830.4)
    assert usable - existing >= B200_LOAD_KW                  # 2,035.9 >= 1,830.4
    assert usable - existing >= 128 * MI400_HIGH.max_kw       # 2,035.9 >= 1,587.2
    assert usable <= HALL_COOLING_CEILING * B200_LOAD_KW      # 2,100 <= 2,379.5
    # Racks and rows alone would take more than the hall can cool, for either node type.
    for node in (B200_AIR, MI400_HIGH):
        racks_only = capacity(fac, "hall-1", node, hall_limit=False)
        with_hall = capacity(fac, "hall-1", node)
        assert racks_only > with_hall == math.floor((usable - existing) / node.max_kw)


# --- campus.yaml -----------------------------------------------------------------------------------

CAMPUS_HALLS = {  # hall: (rows x racks per row, cooling count, unit_kw, redundant)
    "hall-1": (10 * 56, 16, 800, 2),
    "hall-2": (10 * 56, 14, 1000, 2),
    "hall-3": (12 * 48, 20, 1200, 2),
    "hall-4": (11 * 52, 24, 1200, 2),
    "hall-5": (9 * 60, 30, 1200, 2),
    "hall-6": (8 * 40, 24, 1500, 1),
}


def test_campus_sizes():
    fac = load("campus.yaml")
    assert racks_per_hall(fac) == {h: n for h, (n, *_) in CAMPUS_HALLS.items()}
    assert len(fac.racks) == 560 + 560 + 576 + 572 + 540 + 320 == 3128
    assert sum(len(h.rows) for h in fac.halls) == 60
    for hall in fac.halls:
        _, count, unit_kw, redundant = CAMPUS_HALLS[hall.name]
        assert fac.hall_usable_kw(hall) == (count - redundant) * unit_kw
        assert 8 <= len(hall.rows) <= 12
        assert {row.racks for row in hall.rows} <= set(range(40, 61))
    assert [fac.hall_usable_kw(h) for h in fac.halls] == [11200, 12000, 21600, 26400, 33600, 34500]
    # dlc-200: two 415 V 250 A feeds per side, 2 x 136.5722 = 273.1444 kW under 2N.
    assert fac.one_feed_kw("dlc-200") == pytest.approx(hand_feed_kw(415, 250))
    assert fac.power_capacity_kw("dlc-200") == pytest.approx(273.1444, abs=1e-4)
    # Existing: rack 01 of each air row (8 + 6 + 4 + 3 + 1 + 1 = 23) and of each rear-door row
    # (2 + 4 + 4 + 3 + 1 + 1 = 15), plus 6 + 4 racks of legacy DGX H100s in hall-1 and hall-2.
    first_racks = {f"{h.name}/{r.name}/01" for h in fac.halls for r in h.rows
                   if r.rack_type in ("air-35", "rdhx-55")}
    assert len(first_racks) == 23 + 15
    existing = {e.rack for e in fac.existing}
    assert first_racks <= existing
    assert len(existing - first_racks) == 6 + 4
    assert len(fac.existing) == 48
    assert 0.01 <= len(fac.existing) / len(fac.racks) <= 0.02
    # Every hall's cooling binds before its racks' power does.
    df = fac.racks.frame.to_pandas()
    for hall in fac.halls:
        assert df[df.hall == hall.name].power_kw.sum() > fac.hall_usable_kw(hall)


# --- examples/ai-hall-demand.yaml ------------------------------------------------------------------

def test_ai_hall_demand_fits():
    demand = yaml.safe_load(DEMAND.read_text(encoding="utf-8"))
    assert sum(k in demand for k in ("nodes", "target", "fill")) == 1
    nodes = demand["nodes"]
    assert nodes == {"b200-8x-air": 48, "mi400-8x": 64}
    fac = load("ai-hall.yaml")
    assert nodes["b200-8x-air"] <= capacity(fac, "hall-1", B200_AIR, cooling=("rdhx",))
    assert nodes["mi400-8x"] <= capacity(fac, "hall-1", MI400_HIGH, cooling=("dlc", "immersion"))
    heat = nodes["b200-8x-air"] * 14.3 + nodes["mi400-8x"] * 12.4
    assert heat == pytest.approx(1480.0)
    assert heat <= fac.hall_usable_kw(fac.halls[0]) - sum(e.kw for e in fac.existing)
    assert 8 * sum(nodes.values()) == 896


# --- the sizing against the spec library, once it has these nodes ----------------------------------

@pytest.mark.parametrize("node_id", ["b200-8x-air", "mi400-8x"])
def test_ai_hall_sizing_holds_for_the_spec_library(node_id):
    """The sizing above uses the figures in the task statement; where the spec library has the node,
    128 of it must still fit the AI hall at every spec point."""
    from planner.inputs import specs

    cat = specs.load_library()
    if node_id not in cat.nodes:
        pytest.skip(f"{node_id} is not in the spec library yet")
    fac = load("ai-hall.yaml")
    for point in cat.points(node_id):
        nt = specs.resolve(cat, node_id, point)
        node = Node(nt.max_kw, nt.liquid_fraction, nt.u, nt.weight_kg, nt.gpus)
        assert 128 * nt.gpus >= 1024
        assert capacity(fac, "hall-1", node) >= 128, f"{node_id}@{point}"
