"""The facility descriptor: strict pydantic models, cross-entity checks, and the rack table.

Two tiers of validation (as in PyPSA's ``consistency.py``): pydantic checks each field; the
``check_*`` functions then check what spans entities (unknown rack types, existing load on a rack that
does not exist or over its limits, duplicate names, impossible redundancy) and every problem found is
reported together in one :class:`~planner.errors.InputError`.

The YAML reference in ``docs/reference.md`` is generated from these models (``rackplan schema --markdown``), so the
docstrings under the fields are the documentation.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from planner import physics
from planner.errors import InputError, Problem
from planner.inputs.yamlio import LineMap, format_path, line_for, load_yaml, validate

if TYPE_CHECKING:
    import pandas as pd

CoolingType = Literal["air", "rdhx", "dlc", "immersion"]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]

DEFAULT_PPUE: dict[str, float] = {"air": 1.45, "rdhx": 1.25, "dlc": 1.15, "immersion": 1.04}
"""Built-in partial PUE per cooling type, from published surveys and vendor studies:
air 1.45 (industry average PUE 1.55-1.59 whole-facility, Uptime 2023-24, less ~0.1 of electrical
losses; modern sites ~1.3), rear-door HX 1.25 (1.20-1.35), cold-plate DLC 1.15 (1.05-1.25),
single-phase immersion 1.04 (1.03-1.05). A facility file overrides them under ``cooling``."""

MAX_RACKS_PER_ROW = 10_000
MAX_RACKS_TOTAL = 250_000


class StrictModel(BaseModel):
    """Base of every input model: unknown keys are errors, values are not coerced, no NaN/inf."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False,
                              use_attribute_docstrings=True)


class Site(StrictModel):
    """Site-wide electrical and economic parameters."""

    electricity_usd_per_kwh: float = Field(0.08, gt=0, le=10)
    """Price of electricity [USD/kWh]. Default 0.08 (US industrial average 2023: 8.06 cents, EIA)."""
    carbon_kg_per_kwh: float | None = Field(None, ge=0, le=5)
    """Grid carbon intensity [kg CO2/kWh]; reported only, never optimized (US 2023: 0.367, EIA)."""
    power_redundancy: Literal["N", "2N"] = "2N"
    """``2N``: each rack has an A and a B feed and either one alone carries the whole rack.
    ``N``: the rack's load shares its feeds together."""
    derate: float = Field(0.8, gt=0, le=1)
    """Continuous-load factor on breaker ratings (NEC 210.19(A)/210.20(A): 0.8; 1.0 only for
    assemblies listed for 100 % operation)."""
    power_factor: float = Field(0.95, gt=0, le=1)
    """Real power per apparent power of the IT load (0.95 typical at load; 0.90-0.99)."""
    load_factor: float = Field(0.8, gt=0, le=1)
    """Average node draw as a share of its maximum draw; energy and cost only, never capacity
    (training 0.75-0.85, inference 0.40-0.70)."""


class CoolingSettings(StrictModel):
    """Overrides for one cooling type."""

    ppue: float = Field(ge=1.0, le=3.0)
    """Partial PUE of this cooling path: (IT energy + this path's cooling energy) / IT energy."""


class CoolingOverrides(StrictModel):
    """Per-cooling-type overrides of the built-in defaults (see ``DEFAULT_PPUE``)."""

    air: CoolingSettings | None = None
    """Room air (CRAH/CRAC); also the air path of ``dlc`` and ``immersion`` racks."""
    rdhx: CoolingSettings | None = None
    """Rear-door heat exchanger; the air path of ``rdhx`` racks."""
    dlc: CoolingSettings | None = None
    """Direct liquid (cold plate) loop."""
    immersion: CoolingSettings | None = None
    """Immersion tank loop."""


class Feed(StrictModel):
    """One power feed (one whip / breaker) to a rack."""

    volts: float = Field(gt=0, le=1000)
    """Voltage [V]: line-to-line for three-phase feeds (208, 400, 415, 480 ...)."""
    phases: Literal[1, 3]
    """1 or 3."""
    amps: float = Field(gt=0, le=2000)
    """Breaker rating [A]."""


class RackType(StrictModel):
    """A kind of rack position: its size, cooling and power."""

    u: int = Field(gt=0, le=60)
    """Usable rack units."""
    cooling: CoolingType
    """``air`` | ``rdhx`` | ``dlc`` | ``immersion``."""
    air_kw: float = Field(ge=0, le=500)
    """Heat this rack can reject to air [kW] (through the room or, for ``rdhx``, its rear door)."""
    liquid_kw: float = Field(0.0, ge=0, le=2000)
    """Heat this rack's liquid loop can take [kW]; only ``dlc`` and ``immersion`` racks have one."""
    feed: Feed
    """One feed; under 2N the rack has an A and a B side, each with ``feeds`` feeds like it."""
    feeds: int = Field(1, ge=1, le=16)
    """Feeds per side (2N) or in all (N)."""
    max_weight_kg: float = Field(gt=0, le=10_000)
    """Weight the rack (and the floor under it) may carry, equipment only [kg]."""
    annual_cost_usd: float = Field(0.0, ge=0)
    """Cost of occupying this rack for a year (space, PDUs, network) [USD]; charged only for racks a
    plan newly occupies."""
    description: str | None = Field(None, max_length=500)
    """Free text for people; ignored by the planner."""


class CoolingUnits(StrictModel):
    """A hall's heat-rejection units (CRAH, chillers, CDUs)."""

    count: int = Field(gt=0, le=10_000)
    """Installed units."""
    unit_kw: float = Field(gt=0)
    """Heat each unit rejects [kW]."""
    redundant: int = Field(0, ge=0)
    """Units held in reserve (N+k): usable capacity is ``(count - redundant) x unit_kw``."""


class Row(StrictModel):
    """A row of identical racks."""

    name: Name
    """Row name, unique within its hall; part of rack ids ``HALL/ROW/NN``."""
    rack_type: Name
    """A key of ``rack_types``."""
    racks: int = Field(gt=0, le=MAX_RACKS_PER_ROW)
    """Number of racks; they are numbered 01, 02, ... (three digits where a row has more than 99)."""
    cooling_kw: float | None = Field(None, gt=0)
    """Optional limit on the row's total heat [kW] (in-row coolers, a row CDU)."""
    description: str | None = Field(None, max_length=500)
    """Free text for people."""


class Hall(StrictModel):
    """A data hall: a cooling domain holding rows."""

    name: Name
    """Hall name, unique in the facility; part of rack ids."""
    cooling_units: CoolingUnits
    """The hall's heat rejection; the hall's total heat must stay within the non-redundant units."""
    rows: list[Row] = Field(min_length=1, max_length=1000)
    """The rows in this hall."""
    description: str | None = Field(None, max_length=500)
    """Free text for people."""


class Existing(StrictModel):
    """Load already installed in a rack (brownfield). Its heat goes to air."""

    rack: str = Field(min_length=1, max_length=200)
    """Rack id ``HALL/ROW/NN``."""
    kw: float = Field(ge=0)
    """Design (maximum) power of the installed equipment [kW]."""
    u: int = Field(0, ge=0)
    """Rack units it takes."""
    weight_kg: float = Field(0.0, ge=0)
    """Its weight [kg]."""
    description: str | None = Field(None, max_length=500)
    """Free text for people."""


class Facility(StrictModel):
    """A facility descriptor (``version: 1``)."""

    version: Literal[1]
    """Format version; always 1."""
    name: str = Field(min_length=1, max_length=200)
    """Facility name, shown in reports."""
    site: Site
    """Site-wide electrical and economic parameters."""
    cooling: CoolingOverrides = CoolingOverrides()
    """Optional overrides of the built-in pPUE per cooling type."""
    rack_types: dict[Name, RackType] = Field(min_length=1)
    """Kinds of rack, by name."""
    halls: list[Hall] = Field(min_length=1, max_length=1000)
    """Data halls."""
    existing: list[Existing] = Field(default_factory=list, max_length=MAX_RACKS_TOTAL)
    """Load already installed, by rack id."""
    description: str | None = Field(None, max_length=2000)
    """Free text for people."""

    def ppue(self, cooling: str) -> float:
        """pPUE of a cooling path: the facility's override, else the built-in default."""
        override = getattr(self.cooling, cooling)
        return override.ppue if override is not None else DEFAULT_PPUE[cooling]

    @cached_property
    def ppues(self) -> dict[str, float]:
        return {c: self.ppue(c) for c in DEFAULT_PPUE}

    def one_feed_kw(self, rack_type: str) -> float:
        rt = self.rack_types[rack_type]
        return physics.feed_kw(rt.feed.volts, rt.feed.amps, rt.feed.phases, self.site.power_factor,
                               self.site.derate)

    def power_capacity_kw(self, rack_type: str) -> float:
        """Design load one rack of this type may carry, under the site's redundancy [kW]."""
        return physics.rack_power_capacity_kw(self.one_feed_kw(rack_type), self.rack_types[rack_type].feeds)

    def hall_usable_kw(self, hall: Hall) -> float:
        cu = hall.cooling_units
        return physics.hall_usable_cooling_kw(cu.count, cu.unit_kw, cu.redundant)

    @cached_property
    def racks(self) -> "RackTable":
        return RackTable.build(self)


def rack_id(hall: str, row: str, index: int, racks_in_row: int) -> str:
    """``HALL/ROW/NN``: NN counts from 1, two digits, or as many as the row's largest number needs."""
    width = max(2, len(str(racks_in_row)))
    return f"{hall}/{row}/{index:0{width}d}"


@dataclass(frozen=True)
class RackTable:
    """Every rack of a facility as columns (one row per rack), existing load included.

    Columns: ``id, hall, row, rack_type, cooling, u, air_kw, liquid_kw, power_kw, max_weight_kg,
    annual_cost_usd, existing_kw, existing_u, existing_weight_kg, has_existing``.
    """

    frame: pd.DataFrame

    @staticmethod
    def build(fac: Facility) -> "RackTable":
        # imported here: loading and checking a facility (and refusing a bad one) needs neither
        import numpy as np
        import pandas as pd

        ids: list[str] = []
        halls: list[str] = []
        rows: list[str] = []
        types: list[str] = []
        for hall in fac.halls:
            for row in hall.rows:
                ids.extend(rack_id(hall.name, row.name, i, row.racks) for i in range(1, row.racks + 1))
                halls.extend([hall.name] * row.racks)
                rows.extend([row.name] * row.racks)
                types.extend([row.rack_type] * row.racks)
        df = pd.DataFrame({"id": ids, "hall": halls, "row": rows, "rack_type": types})
        rt = pd.DataFrame(
            [
                {"rack_type": name, "cooling": t.cooling, "u": t.u, "air_kw": t.air_kw,
                 "liquid_kw": t.liquid_kw, "power_kw": fac.power_capacity_kw(name),
                 "max_weight_kg": t.max_weight_kg, "annual_cost_usd": t.annual_cost_usd}
                for name, t in fac.rack_types.items()
            ]
        )
        df = df.merge(rt, on="rack_type", how="left", sort=False)
        ex = {e.rack: e for e in fac.existing}
        df["existing_kw"] = np.array([ex[i].kw if i in ex else 0.0 for i in ids], dtype=float)
        df["existing_u"] = np.array([ex[i].u if i in ex else 0 for i in ids], dtype=np.int64)
        df["existing_weight_kg"] = np.array([ex[i].weight_kg if i in ex else 0.0 for i in ids], dtype=float)
        df["has_existing"] = np.array([i in ex for i in ids], dtype=bool)
        return RackTable(df)

    def __len__(self) -> int:
        return len(self.frame)


# --- cross-entity checks --------------------------------------------------------------------------

def _close(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=3)
    if close:
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    shown = ", ".join(options[:8]) + (", ..." if len(options) > 8 else "")
    return f"valid: {shown}"


def check_names(fac: Facility) -> list[tuple[tuple, str]]:
    """Hall names unique in the facility; row names unique in their hall."""
    out = []
    seen_halls: dict[str, int] = {}
    for h, hall in enumerate(fac.halls):
        if hall.name in seen_halls:
            out.append((("halls", h, "name"), f"duplicate hall name '{hall.name}' (also halls[{seen_halls[hall.name]}])"))
        seen_halls.setdefault(hall.name, h)
        seen_rows: dict[str, int] = {}
        for r, row in enumerate(hall.rows):
            if row.name in seen_rows:
                out.append((("halls", h, "rows", r, "name"),
                            f"duplicate row name '{row.name}' in hall '{hall.name}' (also rows[{seen_rows[row.name]}])"))
            seen_rows.setdefault(row.name, r)
    return out


def check_rack_type_refs(fac: Facility) -> list[tuple[tuple, str]]:
    """Every row names a rack type that exists."""
    names = sorted(fac.rack_types)
    out = []
    for h, hall in enumerate(fac.halls):
        for r, row in enumerate(hall.rows):
            if row.rack_type not in fac.rack_types:
                out.append((("halls", h, "rows", r, "rack_type"),
                            f"unknown rack type '{row.rack_type}'; {_close(row.rack_type, names)}"))
    return out


def check_rack_types(fac: Facility) -> list[tuple[tuple, str]]:
    """Only racks with a liquid loop (dlc, immersion) may have ``liquid_kw``; a rack can take some heat."""
    out = []
    for name, t in fac.rack_types.items():
        if t.liquid_kw > 0 and t.cooling not in physics.LIQUID_COOLING:
            out.append((("rack_types", name, "liquid_kw"),
                        f"a '{t.cooling}' rack has no liquid loop; liquid_kw needs cooling dlc or immersion"))
        if t.air_kw == 0 and t.liquid_kw == 0:
            out.append((("rack_types", name, "air_kw"), "rack can reject no heat (air_kw and liquid_kw are 0)"))
    return out


def check_cooling_units(fac: Facility) -> list[tuple[tuple, str]]:
    """N+k needs k < N: at least one unit must be left once the redundant ones are held back."""
    out = []
    for h, hall in enumerate(fac.halls):
        cu = hall.cooling_units
        if cu.redundant >= cu.count:
            out.append((("halls", h, "cooling_units", "redundant"),
                        f"redundant ({cu.redundant}) must be less than count ({cu.count})"))
    return out


def check_size(fac: Facility) -> list[tuple[tuple, str]]:
    """A bound on the facility's size keeps memory predictable."""
    total = sum(row.racks for hall in fac.halls for row in hall.rows)
    if total > MAX_RACKS_TOTAL:
        return [(("halls",), f"{total:,} racks in all; the limit is {MAX_RACKS_TOTAL:,}")]
    return []


def _rack_hint(rid: str, rows: dict[str, dict[str, int]]) -> str:
    """Where a rack id that does not exist goes wrong (hall, row or number), from the facility's
    layout: cheap for any number of racks, unlike matching the id against every rack id."""
    parts = rid.split("/")
    if len(parts) != 3:
        hall = next(iter(rows))
        row = next(iter(rows[hall]))
        return f"rack ids are HALL/ROW/NN, e.g. '{rack_id(hall, row, 1, rows[hall][row])}'"
    hall, row, number = parts
    if hall not in rows:
        return f"there is no hall '{hall}'; {_close(hall, list(rows))}"
    if row not in rows[hall]:
        return f"hall '{hall}' has no row '{row}'; {_close(row, list(rows[hall]))}"
    n = rows[hall][row]
    span = f"row {hall}/{row} has racks {rack_id(hall, row, 1, n)} to {rack_id(hall, row, n, n)}"
    if number.isdigit() and 1 <= int(number) <= n:
        return f"{span}; did you mean '{rack_id(hall, row, int(number), n)}'?"
    return span


def check_existing(fac: Facility) -> list[tuple[tuple, str]]:
    """Existing load names a rack that exists, once, and fits that rack (power, air heat, U, weight),
    its row's and its hall's cooling."""
    racks: dict[str, tuple[Hall, Row]] = {}
    layout: dict[str, dict[str, int]] = {}
    for hall in fac.halls:
        for row in hall.rows:
            layout.setdefault(hall.name, {}).setdefault(row.name, row.racks)
            for i in range(1, row.racks + 1):
                racks[rack_id(hall.name, row.name, i, row.racks)] = (hall, row)
    out = []
    seen: dict[str, int] = {}
    row_heat: dict[tuple[str, str], float] = {}
    hall_heat: dict[str, float] = {}
    for k, e in enumerate(fac.existing):
        if e.rack not in racks:
            out.append((("existing", k, "rack"), f"no rack '{e.rack}' in the facility; {_rack_hint(e.rack, layout)}"))
            continue
        if e.rack in seen:
            out.append((("existing", k, "rack"), f"rack '{e.rack}' already has existing load (existing[{seen[e.rack]}])"))
            continue
        seen[e.rack] = k
        hall, row = racks[e.rack]
        if row.rack_type not in fac.rack_types:
            continue  # reported by check_rack_type_refs
        t = fac.rack_types[row.rack_type]
        power = fac.power_capacity_kw(row.rack_type)
        if e.kw > power + 1e-9:
            out.append((("existing", k, "kw"), f"{e.kw:g} kW exceeds the rack's power capacity {power:.1f} kW"))
        if e.kw > t.air_kw + 1e-9:
            out.append((("existing", k, "kw"), f"{e.kw:g} kW of air heat exceeds the rack's air_kw {t.air_kw:g}"))
        if e.u > t.u:
            out.append((("existing", k, "u"), f"{e.u} U exceeds the rack's {t.u} U"))
        if e.weight_kg > t.max_weight_kg + 1e-9:
            out.append((("existing", k, "weight_kg"), f"{e.weight_kg:g} kg exceeds the rack's max_weight_kg {t.max_weight_kg:g}"))
        row_heat[(hall.name, row.name)] = row_heat.get((hall.name, row.name), 0.0) + e.kw
        hall_heat[hall.name] = hall_heat.get(hall.name, 0.0) + e.kw
    for h, hall in enumerate(fac.halls):
        for r, row in enumerate(hall.rows):
            heat = row_heat.get((hall.name, row.name), 0.0)
            if row.cooling_kw is not None and heat > row.cooling_kw + 1e-9:
                out.append((("halls", h, "rows", r, "cooling_kw"),
                            f"existing load of {heat:g} kW already exceeds the row's cooling_kw {row.cooling_kw:g}"))
        heat = hall_heat.get(hall.name, 0.0)
        usable = fac.hall_usable_kw(hall)
        if hall.cooling_units.redundant < hall.cooling_units.count and heat > usable + 1e-9:
            out.append((("halls", h, "cooling_units"),
                        f"existing load of {heat:g} kW already exceeds the hall's usable cooling {usable:g} kW"))
    return out


CHECKS = (check_names, check_rack_type_refs, check_rack_types, check_cooling_units, check_size, check_existing)


def check_facility(fac: Facility, name: str, lines: LineMap | None = None) -> None:
    """Run every cross-entity check; raise one :class:`InputError` listing all problems."""
    lines = lines or {}
    problems = [
        Problem(name, format_path(loc), msg, line_for(lines, loc))
        for check in CHECKS
        for loc, msg in check(fac)
    ]
    if problems:
        raise InputError(problems)


@dataclass(frozen=True)
class LoadedFacility:
    """A validated facility with where it came from."""

    facility: Facility
    path: str
    sha256: str


def load_facility(path: str | Path) -> LoadedFacility:
    """Read, validate and cross-check a facility file. Raises :class:`InputError` on any problem."""
    name = str(path)
    data, lines = load_yaml(path, name)
    fac = validate(Facility, data, name, lines)
    check_facility(fac, name, lines)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return LoadedFacility(fac, name, digest)
