"""The synthetic 1M-GPU-scale campus of issue #3: 24 halls x 12 rows x 100 racks (28,800 racks).

Each hall has 3 direct-liquid rows, 5 rear-door rows (with in-row cooling limits) and 4 air rows;
about 2 % of racks (576) hold existing load drawn at random (a distinct load almost every time, as in
a real brownfield campus); hall cooling is N+1 and sized so that it binds. The demand is at least
800,000 GPUs chosen among three node types.
"""

from __future__ import annotations

import numpy as np

from planner.inputs.facility import Facility, LoadedFacility, check_facility, rack_id

HALLS, ROWS, RACKS = 24, 12, 100
CANDIDATES = ("b200-8x-dlc", "mi355x-8x-dlc", "b200-8x-air")
TARGET_GPUS = 800_000


LINEUP_PAIRS = [(1, 2), (3, 4), (1, 3), (2, 4), (1, 4), (2, 3)]
"""Which two of a hall's four UPS lineups feed each row (A and B side), row after row: every pair of
lineups shares rows, so a lost lineup's load spreads over the other three."""


def campus_dict(seed: int = 7, halls: int = HALLS, rows: int = ROWS, racks: int = RACKS,
                existing_share: float = 0.02, hall_mw: float = 52.5, tree: bool = False,
                lineup_kw: float = 24_000.0, busway_kw: float = 12_000.0) -> dict:
    """The campus; with ``tree``, each hall also gets four UPS lineups of ``lineup_kw`` (distributed
    redundancy: rows striped over lineup pairs), one busway of ``busway_kw`` per row side, one CDU group
    for its liquid rows (N+1) and the campus a heat-rejection plant (N+1)."""
    rng = np.random.default_rng(seed)
    kinds = ["dlc"] * 3 + ["rdhx"] * 5 + ["air"] * 4
    out = {
        "version": 1,
        "name": f"Synthetic campus {halls}x{rows}x{racks}",
        "site": {"electricity_usd_per_kwh": 0.07, "power_redundancy": "2N", "derate": 0.8,
                 "power_factor": 0.95, "load_factor": 0.8},
        "rack_types": {
            "dlc": {"u": 48, "cooling": "dlc", "air_kw": 30, "liquid_kw": 120,
                    "feed": {"volts": 415, "phases": 3, "amps": 250}, "max_weight_kg": 1800, "annual_cost_usd": 14000},
            "rdhx": {"u": 48, "cooling": "rdhx", "air_kw": 55, "feed": {"volts": 415, "phases": 3, "amps": 100},
                     "max_weight_kg": 1400, "annual_cost_usd": 11000},
            "air": {"u": 42, "cooling": "air", "air_kw": 35, "feed": {"volts": 415, "phases": 3, "amps": 60},
                    "max_weight_kg": 1400, "annual_cost_usd": 9000},
        },
        "halls": [],
        "existing": [],
    }
    for h in range(halls):
        hall_rows = []
        for r in range(rows):
            kind = kinds[r % len(kinds)]
            row = {"name": f"R{r + 1:02d}", "rack_type": kind, "racks": racks}
            if kind == "rdhx":
                row["cooling_kw"] = 3500.0
            hall_rows.append(row)
        units = int(round(hall_mw * 2)) + 1  # 500 kW units, N+1: usable = hall_mw
        hall = {"name": f"H{h + 1:02d}", "cooling_units": {"count": units, "unit_kw": 500, "redundant": 1},
                "rows": hall_rows}
        if tree:
            power = out.setdefault("power", {"sources": {}, "panels": {}})
            for u in range(1, 5):
                power["sources"][f"H{h + 1:02d}-UPS{u}"] = {"kw": lineup_kw}
            for r, row in enumerate(hall_rows):
                a, b = LINEUP_PAIRS[r % len(LINEUP_PAIRS)]
                row["panels"] = []
                for side, u in (("A", a), ("B", b)):
                    name = f"H{h + 1:02d}-{row['name']}-BW{side}"
                    power["panels"][name] = {"source": f"H{h + 1:02d}-UPS{u}", "kw": busway_kw}
                    row["panels"].append(name)
            liquid_rows = [row["name"] for row in hall_rows if row["rack_type"] == "dlc"]
            hall["cdus"] = [{"name": "CDU", "rows": liquid_rows, "count": 5, "unit_kw": 9000, "redundant": 1}]
            hall["cooling_units"] = {"count": units, "unit_kw": 400, "redundant": 1}  # room air only now
        out["halls"].append(hall)
    if tree:
        out["plant"] = {"count": 16, "unit_kw": 100_000, "redundant": 1}
    n_existing = int(round(existing_share * halls * rows * racks))
    picks = rng.choice(halls * rows * racks, size=n_existing, replace=False)
    for i in sorted(picks):
        h, rest = divmod(int(i), rows * racks)
        r, k = divmod(rest, racks)
        kind = kinds[r % len(kinds)]
        cap = {"dlc": 30.0, "rdhx": 54.0, "air": 32.0}[kind]
        out["existing"].append({"rack": rack_id(f"H{h + 1:02d}", f"R{r + 1:02d}", k + 1, racks),
                                "kw": round(float(rng.uniform(1.0, cap * 0.6)), 2),
                                "u": int(rng.integers(1, 12)), "weight_kg": round(float(rng.uniform(20, 400)), 1)})
    return out


def campus(seed: int = 7, **kw) -> LoadedFacility:
    fac = Facility.model_validate(campus_dict(seed, **kw))
    check_facility(fac, "campus")
    return LoadedFacility(fac, f"<synthetic campus seed {seed}>", "0" * 64)
