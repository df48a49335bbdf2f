"""Physics and cost as plain functions, outside the integer program.

The optimizer (:mod:`planner.optimize.milp`), the greedy baseline and the independent checker
(:mod:`planner.results.checker`) all call these, so a unit test with hand-computed numbers covers all three.
Units are in the names: ``_kw`` kilowatts, ``_kwh`` kilowatt-hours, ``_usd`` US dollars.
"""

from __future__ import annotations

import math

HOURS_PER_YEAR = 8760
"""Hours in a (non-leap) year, as ``CONTRACT.md`` counts annual energy."""

EPS = 1e-6
"""Tolerance when comparing a load with a limit (kW, kg, U): rounding must not turn a fit into a miss."""


def within(load: float, limit: float) -> bool:
    """True when ``load`` does not exceed ``limit`` (beyond :data:`EPS`)."""
    return load <= limit + EPS


AIR_PATH = {"air": "air", "rdhx": "rdhx", "dlc": "air", "immersion": "air"}
"""Which pPUE the air share of a node's heat pays in a rack of each cooling type (CONTRACT.md):
an ``rdhx`` rack's air goes through its rear door, every other rack's air through the room."""

LIQUID_COOLING = ("dlc", "immersion")
"""Cooling types with a liquid loop; the liquid share of heat pays the rack's own type's pPUE."""


def feed_kw(volts: float, amps: float, phases: int, power_factor: float, derate: float) -> float:
    """Usable real power of one feed [kW].

    ``volts x amps x (sqrt(3) if phases == 3 else 1) x power_factor x derate / 1000``. ``volts`` is the
    line-to-line voltage of a three-phase feed [V], ``amps`` the breaker rating [A], ``derate`` the
    continuous-load factor (NEC 210.19(A)/210.20(A): 0.8 unless the assembly is listed for 100 %).
    """
    if phases not in (1, 3):
        raise ValueError(f"phases must be 1 or 3, got {phases}")
    return volts * amps * (math.sqrt(3) if phases == 3 else 1.0) * power_factor * derate / 1000.0


def rack_power_capacity_kw(one_feed_kw: float, feeds: int) -> float:
    """Design load a rack may carry [kW]: ``feeds x one_feed_kw``.

    Under ``2N`` the rack has ``feeds`` feeds on side A and as many on side B, and either side alone must
    carry the whole load; under ``N`` the load shares the rack's ``feeds`` feeds. Both give the same
    capacity; they differ in what is provisioned (:func:`provisioned_kw`) and in what a feed failure
    leaves (:func:`side_load_kw`).
    """
    return feeds * one_feed_kw


def provisioned_kw(one_feed_kw: float, feeds: int, redundancy: str) -> float:
    """Power provisioned to a rack across all its feeds [kW] (2N provisions both sides)."""
    return feeds * one_feed_kw * (2 if redundancy == "2N" else 1)


def side_load_kw(load_kw: float, redundancy: str, failed: bool) -> float:
    """Load on one side of a rack's feeds [kW].

    Under 2N the sides share the load half and half; when the other side has failed, the surviving side
    carries all of it. Under N there is one "side" that always carries the whole load.
    """
    if redundancy == "2N" and not failed:
        return load_kw / 2.0
    return load_kw


def air_heat_kw(power_kw: float, liquid_fraction: float) -> float:
    """Heat a node puts into room air [kW]: all power that does not go into the liquid loop."""
    return power_kw * (1.0 - liquid_fraction)


def liquid_heat_kw(power_kw: float, liquid_fraction: float) -> float:
    """Heat a node puts into the rack's liquid loop [kW]."""
    return power_kw * liquid_fraction


def hall_usable_cooling_kw(count: int, unit_kw: float, redundant: int) -> float:
    """Heat a hall can reject with its redundant units held back: ``(count - redundant) x unit_kw``."""
    return (count - redundant) * unit_kw


def annual_kwh(max_kw: float, load_factor: float) -> float:
    """Energy a node uses in a year [kWh]: ``max_kw x load_factor x 8760``."""
    return max_kw * load_factor * HOURS_PER_YEAR


def energy_usd(kwh: float, usd_per_kwh: float) -> float:
    """Annual cost of the IT energy itself [USD]."""
    return kwh * usd_per_kwh


def cooling_overhead_factor(liquid_fraction: float, air_ppue: float, liquid_ppue: float | None) -> float:
    """Cooling energy per unit of IT energy: ``air share x (air pPUE - 1) + liquid share x (liquid pPUE - 1)``."""
    if liquid_fraction > 0 and liquid_ppue is None:
        raise ValueError("a node with a liquid share needs a rack with a liquid path")
    liquid_part = liquid_fraction * (liquid_ppue - 1.0) if liquid_fraction > 0 else 0.0
    return (1.0 - liquid_fraction) * (air_ppue - 1.0) + liquid_part


def cooling_usd(kwh: float, liquid_fraction: float, air_ppue: float, liquid_ppue: float | None,
                usd_per_kwh: float) -> float:
    """Annual cost of removing a node's heat [USD], by heat path and pPUE (CONTRACT.md)."""
    return kwh * cooling_overhead_factor(liquid_fraction, air_ppue, liquid_ppue) * usd_per_kwh


def path_ppues(rack_cooling: str, ppue: dict[str, float]) -> tuple[float, float | None]:
    """(air-path pPUE, liquid-path pPUE or None) for a rack of cooling type ``rack_cooling``."""
    air = ppue[AIR_PATH[rack_cooling]]
    liquid = ppue[rack_cooling] if rack_cooling in LIQUID_COOLING else None
    return air, liquid
