"""One tiny shared facility, built with overrides, and synthetic node types (STYLE.md item 10)."""

from __future__ import annotations

import copy
from typing import Any

from planner.inputs.facility import Facility, LoadedFacility, check_facility
from planner.inputs.specs import NodeType

BASE: dict[str, Any] = {
    "version": 1,
    "name": "tiny",
    "site": {"electricity_usd_per_kwh": 0.08, "power_redundancy": "2N", "derate": 0.8,
             "power_factor": 0.95, "load_factor": 0.8},
    "cooling": {"air": {"ppue": 1.45}, "rdhx": {"ppue": 1.25}, "dlc": {"ppue": 1.12}, "immersion": {"ppue": 1.04}},
    "rack_types": {
        # 415 V 3-ph 60 A: 415 x 60 x sqrt(3) x 0.95 x 0.8 / 1000 = 32.7773 kW per feed
        "air-35": {"u": 42, "cooling": "air", "air_kw": 35, "feed": {"volts": 415, "phases": 3, "amps": 60},
                   "max_weight_kg": 1400, "annual_cost_usd": 9000},
    },
    "halls": [{"name": "h1", "cooling_units": {"count": 4, "unit_kw": 1000, "redundant": 1},
               "rows": [{"name": "A", "rack_type": "air-35", "racks": 3}]}],
}

RDHX = {"u": 48, "cooling": "rdhx", "air_kw": 55, "feed": {"volts": 415, "phases": 3, "amps": 100},
        "max_weight_kg": 1400, "annual_cost_usd": 11000}  # 54.6289 kW per feed
DLC = {"u": 48, "cooling": "dlc", "air_kw": 30, "liquid_kw": 120, "feed": {"volts": 415, "phases": 3, "amps": 250},
       "max_weight_kg": 1800, "annual_cost_usd": 14000}  # 136.5722 kW per feed


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def facility_dict(**over: Any) -> dict:
    return merge(BASE, over)


def facility(**over: Any) -> Facility:
    fac = Facility.model_validate(facility_dict(**over))
    check_facility(fac, "tiny.yaml")
    return fac


def loaded(**over: Any) -> LoadedFacility:
    return LoadedFacility(facility(**over), "tiny.yaml", "0" * 64)


def node(id: str = "b200", gpus: int = 8, u: int = 10, max_kw: float = 14.3, liquid_fraction: float = 0.0,
         weight_kg: float = 142.4, annual_cost_usd: float = 0.0, fp8_tflops: float = 4500.0,
         hbm_gb: float = 180.0) -> NodeType:
    return NodeType(id=id, name=id, accelerator="x", gpus=gpus, u=u, max_kw=max_kw,
                    liquid_fraction=liquid_fraction, weight_kg=weight_kg, annual_cost_usd=annual_cost_usd,
                    tdp_w=1000.0, fp8_pflops=gpus * fp8_tflops / 1000, hbm_tb=gpus * hbm_gb / 1000,
                    status="shipping")


B200 = node()
"""Like a DGX B200: 14.3 kW, 10U, 142.4 kg, air."""
LIQ = node("liq", u=4, max_kw=11.0, liquid_fraction=0.8, weight_kg=120.0, fp8_tflops=9000.0, hbm_gb=336.0)
"""Like the projected MI400 8x: 11.0 kW, 4U, 120 kg, 80 % of heat to liquid."""

KWH_B200 = 14.3 * 0.8 * 8760  # 100,214.4 kWh a year
KWH_LIQ = 11.0 * 0.8 * 8760  # 77,088 kWh a year
