"""Every physics and cost formula, as plain functions outside the integer program.

The facility model, the rack classes and the MILP (:mod:`planner.optimize`), the plan document
(:mod:`planner.results.plan_json`), the independent checker (:mod:`planner.results.checker`) and the
report all call these, so one unit test with hand-computed numbers covers every place a figure is
used. Units are in the names and in brackets in each docstring: ``_kw`` kilowatts, ``_kwh``
kilowatt-hours, ``_usd`` US dollars, ``_kg`` kilograms, ``u`` rack units.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

HOURS_PER_YEAR = 8760
"""Hours in a (non-leap) year, as ``CONTRACT.md`` counts annual energy."""

EPS = 1e-6
"""Tolerance when comparing a load with a limit (kW, kg, U): rounding must not turn a fit into a miss."""


def within(load: float, limit: float) -> bool:
    """True when ``load`` does not exceed ``limit`` (beyond :data:`EPS`)."""
    return load <= limit + EPS


# --- power -----------------------------------------------------------------------------------------

def feed_kw(volts: float, amps: float, phases: int, power_factor: float, derate: float) -> float:
    """Usable real power of one feed [kW].

    ``volts x amps x (sqrt(3) if phases == 3 else 1) x power_factor x derate / 1000``. ``volts`` is the
    line-to-line voltage of a three-phase feed [V], ``amps`` the breaker rating [A], ``power_factor``
    real per apparent power [-], ``derate`` the continuous-load factor [-] (NEC 210.19(A)/210.20(A):
    0.8 unless the assembly is listed for 100 %).
    """
    if phases not in (1, 3):
        raise ValueError(f"phases must be 1 or 3, got {phases}")
    return volts * amps * (math.sqrt(3) if phases == 3 else 1.0) * power_factor * derate / 1000.0


_REDUNDANCY = re.compile(r"^(N|2N|N\+([1-9][0-9]?))$")


def redundancy_k(redundancy: str) -> int:
    """``k`` of an ``N+k`` scheme; 0 for ``N`` and ``2N``. Raises ValueError on any other text."""
    m = _REDUNDANCY.match(redundancy)
    if not m:
        raise ValueError(f"power redundancy must be N, 2N or N+k, got {redundancy!r}")
    return int(m.group(2)) if m.group(2) else 0


def feed_paths(redundancy: str, feeds: int) -> int:
    """Feed paths of a rack (CONTRACT.md "Feed paths"): ``2N`` two (A and B), ``N`` one, ``N+k`` one per
    feed. ``feeds`` counts feeds per path under 2N and N, and paths under N+k."""
    if redundancy == "2N":
        return 2
    if redundancy == "N":
        return 1
    redundancy_k(redundancy)
    return feeds


def path_feeds(redundancy: str, feeds: int) -> int:
    """Feeds on each of a rack's paths: all ``feeds`` under 2N and N, one under N+k."""
    return 1 if redundancy_k(redundancy) else feeds


def scheme_losses(redundancy: str) -> int:
    """Paths a rack's scheme is built to lose: ``2N`` one (either side), ``N`` none, ``N+k`` k."""
    return 1 if redundancy == "2N" else redundancy_k(redundancy)


def surviving_paths(redundancy: str, feeds: int, path_panels: list[str] | None = None,
                    panel_source: Mapping[str, str] | None = None) -> int:
    """Fewest feed paths a rack has left after the losses it must survive: the loss its scheme is
    built for and, on a power tree, every single failure of a source or panel that leaves it some path
    (a failure that takes every path drops the rack, which only an ``N`` rack may allow)."""
    paths = feed_paths(redundancy, feeds)
    alive = paths - scheme_losses(redundancy)
    for failed in _failures(path_panels or [], panel_source or {}):
        lost = paths_lost(path_panels or [], panel_source or {}, failed)
        if 0 < lost < paths:
            alive = min(alive, paths - lost)
    return alive


def _failures(path_panels: list[str], panel_source: Mapping[str, str]) -> list[str]:
    """The single failures that can touch these paths: their panels and those panels' sources."""
    return list(dict.fromkeys(list(path_panels) + [panel_source[p] for p in path_panels if p in panel_source]))


def rack_power_capacity_kw(one_feed_kw: float, feeds: int, redundancy: str, path_panels: list[str] | None = None,
                           panel_source: Mapping[str, str] | None = None) -> float:
    """Design load a rack may carry [kW]: what its fewest surviving paths carry
    (:func:`surviving_paths` x the feeds on a path x ``one_feed_kw``). Without a power tree:
    ``2N`` one path (``feeds x one_feed_kw``), ``N`` all its feeds (``feeds x one_feed_kw``), ``N+k``
    ``(feeds - k) x one_feed_kw``. ``one_feed_kw`` [kW] is :func:`feed_kw`."""
    return (surviving_paths(redundancy, feeds, path_panels, panel_source) * path_feeds(redundancy, feeds)
            * one_feed_kw)


def provisioned_kw(one_feed_kw: float, feeds: int, redundancy: str) -> float:
    """Power provisioned to a rack across all its feeds [kW] (2N provisions both sides)."""
    return feed_paths(redundancy, feeds) * path_feeds(redundancy, feeds) * one_feed_kw


def path_share_kw(load_kw: float, paths: int, lost: int = 0) -> float:
    """Load on each surviving feed path of a rack [kW]: the load divides equally among the paths that
    are left (CONTRACT.md). With every path lost the rack is dropped and no path carries anything."""
    alive = paths - lost
    return load_kw / alive if alive > 0 else 0.0


def paths_lost(path_panels: Iterable[str], panel_source: Mapping[str, str], failed: str) -> int:
    """How many of a rack's paths a single failure takes away: those whose panel is ``failed`` or
    hangs off the source ``failed``."""
    return sum(1 for p in path_panels if p == failed or panel_source.get(p) == failed)


# --- heat ------------------------------------------------------------------------------------------

AIR_PATH = {"air": "air", "rdhx": "rdhx", "dlc": "air", "immersion": "air"}
"""Which pPUE the air share of heat pays in a rack of each cooling type (CONTRACT.md): an ``rdhx``
rack's air goes through its rear door, every other rack's air through the room."""

LIQUID_COOLING = ("dlc", "immersion")
"""Cooling types with a liquid loop; the liquid share of heat pays the rack's own type's pPUE."""


def has_liquid_loop(cooling: str, liquid_kw: float) -> bool:
    """True when a rack can take liquid heat at all (a ``dlc`` or ``immersion`` rack with ``liquid_kw > 0``).
    A node with a liquid share goes only into such a rack; this is the one place that rule lives."""
    return cooling in LIQUID_COOLING and liquid_kw > 0


def air_heat_kw(power_kw: float, liquid_fraction: float) -> float:
    """Heat put into air [kW]: all power [kW] that does not go into the liquid loop."""
    return power_kw * (1.0 - liquid_fraction)


def liquid_heat_kw(power_kw: float, liquid_fraction: float) -> float:
    """Heat put into the rack's liquid loop [kW]: ``power_kw x liquid_fraction``."""
    return power_kw * liquid_fraction


def usable_units_kw(count: int, unit_kw: float, redundant: int) -> float:
    """Heat a group of N+k units (hall cooling units, a CDU group, the plant) rejects with its
    redundant units held back [kW]: ``(count - redundant) x unit_kw``."""
    return (count - redundant) * unit_kw


# --- energy and cost -------------------------------------------------------------------------------

def annual_kwh(max_kw: float, load_factor: float) -> float:
    """Energy a node uses in a year [kWh]: ``max_kw [kW] x load_factor [-] x 8760 h``."""
    return max_kw * load_factor * HOURS_PER_YEAR


def overhead_kwh(kw: float) -> float:
    """Energy of a rack's overhead equipment in a year [kWh]: a constant draw, ``kw x 8760 h``."""
    return kw * HOURS_PER_YEAR


def energy_usd(kwh: float, usd_per_kwh: float) -> float:
    """Annual cost of IT energy [USD]: ``kwh x usd_per_kwh``."""
    return kwh * usd_per_kwh


def path_ppues(rack_cooling: str, ppue: Mapping[str, float]) -> tuple[float, float | None]:
    """(air-path pPUE, liquid-path pPUE or None) of a rack of cooling type ``rack_cooling``."""
    air = ppue[AIR_PATH[rack_cooling]]
    liquid = ppue[rack_cooling] if rack_cooling in LIQUID_COOLING else None
    return air, liquid


def cooling_overhead_factor(liquid_fraction: float, air_ppue: float, liquid_ppue: float | None) -> float:
    """Cooling energy per unit of IT energy [-]:
    ``air share x (air pPUE - 1) + liquid share x (liquid pPUE - 1)``. A liquid share needs a liquid
    path: ValueError otherwise (such a node never goes into such a rack, see :func:`has_liquid_loop`)."""
    if liquid_fraction > 0 and liquid_ppue is None:
        raise ValueError("a node with a liquid share needs a rack with a liquid path")
    liquid_part = liquid_fraction * (liquid_ppue - 1.0) if liquid_fraction > 0 else 0.0  # type: ignore[operator]
    return (1.0 - liquid_fraction) * (air_ppue - 1.0) + liquid_part


def cooling_usd(kwh: float, liquid_fraction: float, air_ppue: float, liquid_ppue: float | None,
                usd_per_kwh: float) -> float:
    """Annual cost of removing the heat of ``kwh`` of IT energy [USD], by heat path and pPUE."""
    return kwh * cooling_overhead_factor(liquid_fraction, air_ppue, liquid_ppue) * usd_per_kwh


def node_energy_cooling_usd(max_kw: float, liquid_fraction: float, load_factor: float, usd_per_kwh: float,
                            air_ppue: float, liquid_ppue: float | None) -> tuple[float, float]:
    """(energy, cooling) of one node a year [USD] in a rack with these path pPUEs."""
    kwh = annual_kwh(max_kw, load_factor)
    return (energy_usd(kwh, usd_per_kwh),
            cooling_usd(kwh, liquid_fraction, air_ppue, liquid_ppue, usd_per_kwh))


def overhead_energy_cooling_usd(kw: float, usd_per_kwh: float, air_ppue: float) -> tuple[float, float]:
    """(energy, cooling) of one rack's overhead a year [USD]: all of it is air heat."""
    kwh = overhead_kwh(kw)
    return energy_usd(kwh, usd_per_kwh), cooling_usd(kwh, 0.0, air_ppue, None, usd_per_kwh)


# --- rack units ------------------------------------------------------------------------------------

def free_runs(u_total: int, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The runs of free units of a rack of ``u_total`` units [U] with units ``taken`` ((lowest, highest),
    1-based, inclusive) occupied: [(lowest, length)], bottom first."""
    busy = [False] * (u_total + 2)
    for low, high in taken:
        for u in range(max(1, low), min(u_total, high) + 1):
            busy[u] = True
    runs, start = [], None
    for u in range(1, u_total + 2):
        if u <= u_total and not busy[u]:
            start = u if start is None else start
        elif start is not None:
            runs.append((start, u - start))
            start = None
    return runs


def rack_taken_units(u_total: int, overhead_u: int, existing: list[tuple[int, int | None]]) -> list[tuple[int, int]]:
    """Units a rack's overhead and existing equipment occupy, before any planned node: the overhead takes
    the top ``overhead_u`` units (CONTRACT.md); existing entries with a position take their own units;
    those without one are assumed at the top of what is left, stacked downwards. ``existing`` holds
    (units, position or None)."""
    taken = [(u_total - overhead_u + 1, u_total)] if overhead_u else []
    top = u_total - overhead_u
    for u, pos in existing:
        if u and pos is not None:
            taken.append((pos, pos + u - 1))
    for u, pos in existing:
        if u and pos is None:
            runs = [r for r in free_runs(top, taken) if r[1] >= u]
            if runs:
                low, length = runs[-1]
                taken.append((low + length - u, low + length - 1))
            else:  # no room left as one run: taken from the top down, wherever free
                free = [x for low, n in free_runs(top, taken) for x in range(low, low + n)][-u:]
                taken += [(x, x) for x in free]
    return taken


def place_in_runs(heights: list[int], runs: list[tuple[int, int]]) -> list[int] | None:
    """Lowest unit for each node of the given heights [U], in the free runs (lowest, length), so that no
    two overlap: the tallest first, each into the lowest run where it still fits (first fit decreasing;
    exact for the few nodes of one rack). None when they do not all fit."""
    room = [[low, n] for low, n in runs]
    out = [0] * len(heights)
    for i in sorted(range(len(heights)), key=lambda i: -heights[i]):
        for r in room:
            if r[1] >= heights[i]:
                out[i] = r[0]
                r[0] += heights[i]
                r[1] -= heights[i]
                break
        else:
            return None
    return out


def fits_runs(heights: list[int], runs: list[tuple[int, int]]) -> bool:
    """True when nodes of these heights [U] fit the free runs without overlapping (an exact search:
    each node in turn tries every run, tallest first; racks hold few nodes)."""
    sizes = sorted((n for _, n in runs), reverse=True)
    items = sorted(heights, reverse=True)
    if sum(items) > sum(sizes):
        return False

    def go(i: int, room: list[int]) -> bool:
        if i == len(items):
            return True
        tried = set()
        for j, n in enumerate(room):
            if n >= items[i] and n not in tried:
                tried.add(n)
                room[j] -= items[i]
                if go(i + 1, room):
                    return True
                room[j] += items[i]
        return False

    return go(0, sizes)
