"""The facility model: field validation, each cross-entity check, rack ids and the rack table."""

import pytest

from planner.errors import InputError
from planner.inputs.facility import DEFAULT_PPUE, Facility, check_facility, load_facility, rack_id
from tests.helpers import DLC, facility, facility_dict, loaded


def problems(**over):
    with pytest.raises(InputError) as info:
        facility(**over)
    return [str(p) for p in info.value.problems]


def test_tiny_facility_capacities_by_hand():
    fac = facility()
    assert fac.one_feed_kw("air-35") == pytest.approx(32.7773, abs=1e-4)
    assert fac.power_capacity_kw("air-35") == pytest.approx(32.7773, abs=1e-4)
    assert fac.hall_usable_kw(fac.halls[0]) == 3000  # (4 - 1) x 1000
    assert list(fac.racks.frame["id"]) == ["h1/A/01", "h1/A/02", "h1/A/03"]


def test_feeds_multiply_capacity():
    fac = facility(rack_types={"air-35": {"feeds": 2}})
    assert fac.power_capacity_kw("air-35") == pytest.approx(65.5546, abs=1e-4)


def test_ppue_defaults_and_overrides():
    d = facility_dict()
    del d["cooling"]
    fac = Facility.model_validate(d)
    assert fac.ppues == DEFAULT_PPUE
    assert facility().ppue("dlc") == 1.12


@pytest.mark.parametrize("racks, first, last", [(12, "H/R/01", "H/R/12"), (100, "H/R/001", "H/R/100"),
                                                (1000, "H/R/0001", "H/R/1000")])
def test_rack_ids_pad_to_the_row(racks, first, last):
    assert rack_id("H", "R", 1, racks) == first
    assert rack_id("H", "R", racks, racks) == last


def test_unknown_rack_type_suggests_the_close_one():
    msgs = problems(halls=[{"name": "h1", "cooling_units": {"count": 2, "unit_kw": 100},
                            "rows": [{"name": "A", "rack_type": "air-53", "racks": 2}]}])
    assert msgs == ["tiny.yaml: halls[0].rows[0].rack_type: unknown rack type 'air-53'; did you mean 'air-35'?"]


def test_duplicate_hall_and_row_names():
    hall = {"name": "h1", "cooling_units": {"count": 2, "unit_kw": 100},
            "rows": [{"name": "A", "rack_type": "air-35", "racks": 1}, {"name": "A", "rack_type": "air-35", "racks": 1}]}
    msgs = problems(halls=[hall, dict(hall, rows=hall["rows"][:1])])
    assert any("halls[1].name: duplicate hall name 'h1'" in m for m in msgs)
    assert any("halls[0].rows[1].name: duplicate row name 'A' in hall 'h1'" in m for m in msgs)


def test_redundant_units_must_leave_one():
    msgs = problems(halls=[{"name": "h1", "cooling_units": {"count": 2, "unit_kw": 100, "redundant": 2},
                            "rows": [{"name": "A", "rack_type": "air-35", "racks": 1}]}])
    assert msgs == ["tiny.yaml: halls[0].cooling_units.redundant: redundant (2) must be less than count (2)"]


def test_liquid_kw_needs_a_liquid_rack():
    msgs = problems(rack_types={"air-35": {"liquid_kw": 50}})
    assert msgs == ["tiny.yaml: rack_types.air-35.liquid_kw: a 'air' rack has no liquid loop; "
                    "liquid_kw needs cooling dlc or immersion"]


def test_existing_load_on_a_missing_rack_and_over_every_limit_all_reported():
    msgs = problems(existing=[
        {"rack": "h1/A/04", "kw": 1},                                   # no such rack
        {"rack": "h1/A/01", "kw": 33, "u": 43, "weight_kg": 1500},      # power 32.78, U 42, 1,400 kg
        {"rack": "h1/A/02", "kw": 1},
    ])
    text = "\n".join(msgs)
    assert "existing[0].rack: no rack 'h1/A/04' in the facility" in text
    assert "existing[1].kw: 33 kW exceeds the rack's power capacity 32.8 kW" in text
    assert "existing[1].u: 43 U exceeds the rack's 42 U" in text
    assert "existing[1].weight_kg: 1500 kg exceeds the rack's max_weight_kg 1400" in text
    assert len(msgs) == 4


def test_several_existing_entries_in_a_rack_add_up():
    """Two devices in h1/A/01 at units 1-10 and 20-29: 30 kW, 20 U, 600 kg together (the rack: 32.78 kW,
    42 U, 1,400 kg); a third entry overlapping the first, and the three over power together."""
    fac = facility(existing=[{"rack": "h1/A/01", "kw": 10, "u": 10, "position": 1, "weight_kg": 300},
                             {"rack": "h1/A/01", "kw": 20, "u": 10, "position": 20, "weight_kg": 300}])
    row = fac.racks.frame.to_pandas().iloc[0]
    assert (row["existing_kw"], row["existing_u"], row["existing_weight_kg"]) == (30, 20, 600)
    assert row["existing_parts"] == ((10, 1), (10, 20))
    msgs = problems(existing=[{"rack": "h1/A/01", "kw": 10, "u": 10, "position": 1},
                              {"rack": "h1/A/01", "kw": 20, "u": 10, "position": 20},
                              {"rack": "h1/A/01", "kw": 5, "u": 4, "position": 8}])
    assert msgs == ["tiny.yaml: existing[2].position: units 8-11 overlap existing[0] (units 1-10)",
                    "tiny.yaml: existing[2].kw: 35 kW exceeds the rack's power capacity 32.8 kW "
                    "(existing[0, 1, 2] together)"]


def test_existing_air_heat_over_air_kw():
    msgs = problems(rack_types={"air-35": {"air_kw": 20}}, existing=[{"rack": "h1/A/01", "kw": 25}])
    assert msgs == ["tiny.yaml: existing[0].kw: 25 kW of air heat exceeds the rack's air_kw 20"]


def test_existing_load_over_row_and_hall_cooling():
    msgs = problems(halls=[{"name": "h1", "cooling_units": {"count": 2, "unit_kw": 20, "redundant": 1},
                            "rows": [{"name": "A", "rack_type": "air-35", "racks": 3, "cooling_kw": 30}]}],
                    existing=[{"rack": "h1/A/01", "kw": 20}, {"rack": "h1/A/02", "kw": 15}])
    assert msgs == [
        "tiny.yaml: halls[0].rows[0].cooling_kw: existing load of 35 kW already exceeds the row's cooling_kw 30",
        "tiny.yaml: halls[0].cooling_units: existing load of 35 kW already exceeds the hall's usable cooling 20 kW",
    ]


@pytest.mark.parametrize("over, path, fragment", [
    ({"site": {"derate": 1.5}}, "site.derate", "less than or equal to 1"),
    ({"site": {"power_redundancy": "3N"}}, "site.power_redundancy", "must be N, 2N or N+k"),
    ({"rack_types": {"air-35": {"cooling": "water"}}}, "rack_types.air-35.cooling", "'air', 'rdhx', 'dlc' or 'immersion'"),
    ({"rack_types": {"air-35": {"u": "42"}}}, "rack_types.air-35.u", "valid integer"),
    ({"rack_types": {"air-35": {"air_kw": float("nan")}}}, "rack_types.air-35.air_kw", "finite number"),
    ({"rack_types": {"air-35": {"colour": "red"}}}, "rack_types.air-35.colour", "unknown key 'colour'"),
    ({"rack_types": {"air-35": {"feed": {"volts": 415, "phases": 2, "amps": 60}}}}, "rack_types.air-35.feed.phases", "1 or 3"),
])
def test_field_errors_name_the_path(over, path, fragment, tmp_path):
    import yaml

    f = tmp_path / "f.yaml"
    f.write_text(yaml.safe_dump(facility_dict(**over)))
    with pytest.raises(InputError) as info:
        load_facility(f)
    text = str(info.value)
    assert f": {path}: " in text and fragment in text, text


def test_unknown_key_suggests_and_lists_allowed(tmp_path):
    f = tmp_path / "f.yaml"
    f.write_text("version: 1\nname: x\nsite: {electricty_usd_per_kwh: 0.1}\nrack_types: {}\nhalls: []\n")
    with pytest.raises(InputError) as info:
        load_facility(f)
    text = str(info.value)
    assert f"{f}:3: site.electricty_usd_per_kwh: unknown key 'electricty_usd_per_kwh'" in text
    assert "did you mean 'electricity_usd_per_kwh'?" in text


def test_rack_table_counts_existing_load():
    lf = loaded(existing=[{"rack": "h1/A/02", "kw": 5, "u": 4, "weight_kg": 80}])
    df = lf.facility.racks.frame.to_pandas()
    row = df[df["id"] == "h1/A/02"].iloc[0]
    assert (row["existing_kw"], row["existing_u"], row["existing_weight_kg"], row["has_existing"]) == (5, 4, 80, True)
    assert int(df["has_existing"].sum()) == 1


def test_contract_example_loads_unchanged():
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "facilities" / "contract-example.yaml"
    fac = load_facility(path).facility
    assert len(fac.racks) == 84
    assert fac.power_capacity_kw("dlc-130") == pytest.approx(136.5722, abs=1e-4)


def test_check_facility_collects_everything():
    fac = Facility.model_validate(facility_dict(
        rack_types={"dlc": DLC},
        halls=[{"name": "h1", "cooling_units": {"count": 1, "unit_kw": 10, "redundant": 1},
                "rows": [{"name": "A", "rack_type": "nope", "racks": 1}]}]))
    with pytest.raises(InputError) as info:
        check_facility(fac, "x.yaml")
    assert len(info.value.problems) == 2  # unknown rack type and impossible redundancy, together
