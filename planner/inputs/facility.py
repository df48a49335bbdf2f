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
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from planner import physics
from planner.errors import InputError, Problem
from planner.inputs.yamlio import LineMap, format_path, line_for, load_yaml, validate

if TYPE_CHECKING:
    from planner.table import Table

CoolingType = Literal["air", "rdhx", "dlc", "immersion"]
FormFactor = Literal["eia-19", "orv3", "orw"]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


def _redundancy(text: str) -> str:
    try:
        physics.redundancy_k(text)
    except ValueError:
        raise ValueError(f"must be N, 2N or N+k with k from 1 (e.g. N+1), got {text!r}") from None
    return text


Redundancy = Annotated[str, AfterValidator(_redundancy), Field(json_schema_extra={"pattern": r"^(N|2N|N\+[1-9][0-9]?)$"})]
"""``N``, ``2N`` or ``N+k`` (k from 1)."""

DEFAULT_PPUE: dict[str, float] = {"air": 1.45, "rdhx": 1.25, "dlc": 1.15, "immersion": 1.04}
"""Built-in partial PUE per cooling type, from published surveys and vendor studies:
air 1.45 (industry average PUE 1.55-1.59 whole-facility, Uptime 2023-24, less ~0.1 of electrical
losses; modern sites ~1.3), rear-door HX 1.25 (1.20-1.35), cold-plate DLC 1.15 (1.05-1.25),
single-phase immersion 1.04 (1.03-1.05). A facility file overrides them under ``cooling``."""

MAX_RACKS_PER_ROW = 10_000
MAX_RACKS_TOTAL = 250_000


class StrictModel(BaseModel):
    """Base of every input model: unknown keys are errors, values are not coerced, no NaN/inf."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    # Field docstrings document each key; planner.inputs.reference reads them for the reference and
    # the JSON Schema (collecting them here would slow every command's start-up).


class Site(StrictModel):
    """Site-wide electrical and economic parameters."""

    electricity_usd_per_kwh: float = Field(0.08, gt=0, le=10)
    """Price of electricity [USD/kWh]. Default 0.08 (US industrial average 2023: 8.06 cents, EIA)."""
    carbon_kg_per_kwh: float | None = Field(None, ge=0, le=5)
    """Grid carbon intensity [kg CO2/kWh]; reported only, never optimized (US 2023: 0.367, EIA)."""
    power_redundancy: Redundancy = "2N"
    """Default for every rack type. ``2N``: an A and a B path of ``feeds`` feeds each; either alone
    carries the whole rack. ``N``: one path; the load shares its ``feeds`` feeds. ``N+k``: ``feeds``
    paths of one feed each; any ``feeds - k`` carry the rack."""
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
    """One power feed (one whip / breaker) to a rack: ``{volts, phases, amps}``, or ``{kw}`` when its
    usable power is known already."""

    volts: float | None = Field(None, gt=0, le=1000)
    """Voltage [V]: line-to-line for three-phase feeds (208, 400, 415, 480 ...)."""
    phases: Literal[1, 3] | None = None
    """1 or 3."""
    amps: float | None = Field(None, gt=0, le=2000)
    """Breaker rating [A]."""
    kw: float | None = Field(None, gt=0, le=5000)
    """Usable power of the feed, already derated [kW]; instead of volts, phases and amps (the site's
    power_factor and derate are not applied again)."""

    @model_validator(mode="after")
    def _one_way(self) -> "Feed":
        electrical = [k for k in ("volts", "phases", "amps") if getattr(self, k) is not None]
        if self.kw is not None and electrical:
            raise ValueError(f"give either kw or volts, phases and amps, not both (got kw and {', '.join(electrical)})")
        if self.kw is None and len(electrical) != 3:
            missing = [k for k in ("volts", "phases", "amps") if getattr(self, k) is None]
            raise ValueError(f"a feed needs volts, phases and amps (missing {', '.join(missing)}), or kw")
        return self

    def usable_kw(self, power_factor: float, derate: float) -> float:
        """One feed's usable power [kW]."""
        if self.kw is not None:
            return self.kw
        return physics.feed_kw(self.volts, self.amps, self.phases, power_factor, derate)  # type: ignore[arg-type]


class Overhead(StrictModel):
    """Equipment every newly occupied rack carries besides the planned nodes (in-rack CDU, top-of-rack
    switches, rack PDUs). It counts in that rack's U, weight, power and air heat and in every row,
    hall, panel, source and plant above it."""

    u: int = Field(0, ge=0, le=60)
    """Rack units it takes (at the top of the rack)."""
    kw: float = Field(0.0, ge=0, le=500)
    """Its constant draw [kW]: all air heat; energy ``kw x 8760`` kWh a year."""
    weight_kg: float = Field(0.0, ge=0, le=5000)
    """Its weight [kg]."""


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
    """Feeds per path under ``2N`` (per side) and ``N`` (in all); under ``N+k`` the number of paths,
    one feed each."""
    power_redundancy: Redundancy | None = None
    """``N``, ``2N`` or ``N+k`` for this rack type; default: the site's."""
    overhead: Overhead = Overhead()
    """Equipment in every rack the plan newly occupies (default none)."""
    form_factor: FormFactor = "eia-19"
    """``eia-19`` (19-inch), ``orv3`` (Open Rack V3) or ``orw`` (Open Rack Wide, double width): a node
    goes only into racks of its own form factor."""
    max_weight_kg: float = Field(gt=0, le=10_000)
    """Weight the rack (and the floor under it) may carry, equipment only [kg]."""
    annual_cost_usd: float = Field(0.0, ge=0)
    """Cost of occupying this rack for a year (space, PDUs, network) [USD]; charged only for racks a
    plan newly occupies."""
    description: str | None = Field(None, max_length=500)
    """Free text for people; ignored by the planner."""


class CoolingUnits(StrictModel):
    """A group of N+k heat-rejection units: a hall's room cooling (CRAH, chillers), or the plant."""

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
    panels: list[Name] | Literal["auto"] | None = None
    """With a ``power`` section: the panel feeding each of the rack type's feed paths, in path order
    (2N: A then B); or ``auto``: rackplan chooses which of ``lineups`` feed the row's paths (one each)
    so that the facility carries the most under every single failure, and adds a panel per path."""
    lineups: list[Name] | None = Field(None, min_length=1, max_length=32)
    """With ``panels: auto``: the sources (UPS lineups) the row's paths may be fed from."""
    panel_kw: float | None = Field(None, gt=0)
    """With ``panels: auto``: the rating of each panel (busway) rackplan adds for the row [kW]; default:
    the row's whole design capacity (never binding)."""
    description: str | None = Field(None, max_length=500)
    """Free text for people."""

    @property
    def path_panels(self) -> list[str]:
        """The row's panels, one per feed path (empty without a power tree or with ``panels: auto``)."""
        return self.panels if isinstance(self.panels, list) else []

    @property
    def striped(self) -> bool:
        """True when rackplan chooses the row's lineups (``panels: auto``)."""
        return self.panels == "auto"


class CduGroup(CoolingUnits):
    """Coolant distribution units serving the liquid loops of some rows of a hall: N+k units like any
    other, usable ``(count - redundant) x unit_kw`` of liquid heat."""

    name: Name
    """Group name, unique in its hall."""
    rows: list[Name] = Field(min_length=1, max_length=1000)
    """Rows (of this hall) whose liquid heat the group takes."""


class Hall(StrictModel):
    """A data hall: a cooling domain holding rows."""

    name: Name
    """Hall name, unique in the facility; part of rack ids."""
    cooling_units: CoolingUnits
    """The hall's heat rejection: its total heat (only its air heat when it has ``cdus``) stays within
    the non-redundant units."""
    it_kw: float | None = Field(None, gt=0)
    """Electrical (critical IT) capacity of the hall [kW]: planned, existing and overhead draw together."""
    cdus: list[CduGroup] | None = Field(None, min_length=1, max_length=1000)
    """CDU groups; every row holding racks with a liquid loop is then in exactly one group."""
    rows: list[Row] = Field(min_length=1, max_length=1000)
    """The rows in this hall."""
    description: str | None = Field(None, max_length=500)
    """Free text for people."""


class Existing(StrictModel):
    """Load already installed in a rack (brownfield). Its heat goes to air, except ``liquid_kw``. A rack
    may have several entries (one per device or block of devices); they add up."""

    rack: str = Field(min_length=1, max_length=200)
    """Rack id ``HALL/ROW/NN``."""
    kw: float = Field(ge=0)
    """Design (maximum) power of the installed equipment [kW]."""
    liquid_kw: float = Field(0.0, ge=0)
    """Part of ``kw`` that goes into the rack's liquid loop [kW]; the rest is air heat."""
    u: int = Field(0, ge=0)
    """Rack units it takes."""
    position: int | None = Field(None, ge=1, le=60)
    """Lowest rack unit it occupies (units count from 1 at the bottom); it takes ``position`` to
    ``position + u - 1``. Without it, rackplan assumes its units sit at the top of the free space."""
    weight_kg: float = Field(0.0, ge=0)
    """Its weight [kg]."""
    description: str | None = Field(None, max_length=500)
    """Free text for people."""


class PowerSource(StrictModel):
    """A UPS system or lineup."""

    kw: float = Field(gt=0)
    """IT load it can carry [kW]."""
    description: str | None = Field(None, max_length=500)
    """Free text for people."""


class Panel(StrictModel):
    """A PDU, remote power panel or busway, fed by one source."""

    source: Name
    """The source (a key of ``power.sources``) it hangs off."""
    kw: float = Field(gt=0)
    """Load it can carry [kW]."""
    description: str | None = Field(None, max_length=500)
    """Free text for people."""


class PowerTree(StrictModel):
    """Power distribution above the racks: sources (UPS lineups) and the panels on them."""

    sources: dict[Name, PowerSource] = Field(min_length=1)
    """Sources by name."""
    panels: dict[Name, Panel] = Field(default_factory=dict)
    """Panels by name; rows name them in ``panels`` (rows with ``panels: auto`` get theirs from
    rackplan)."""


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
    reserved: list[str] = Field(default_factory=list, max_length=MAX_RACKS_TOTAL)
    """Racks held for something else, by id (``HALL/ROW/NN``), or whole rows (``HALL/ROW``) or halls:
    no plan places anything there."""
    power: PowerTree | None = None
    """Optional power distribution: sources and panels; every row then names its panels."""
    plant: CoolingUnits | None = None
    """Optional heat-rejection plant for the whole facility: all heat of all halls (air and liquid)."""
    description: str | None = Field(None, max_length=2000)
    """Free text for people."""

    def ppue(self, cooling: str) -> float:
        """pPUE of a cooling path: the facility's override, else the built-in default."""
        override = getattr(self.cooling, cooling)
        return override.ppue if override is not None else DEFAULT_PPUE[cooling]

    @cached_property
    def ppues(self) -> dict[str, float]:
        return {c: self.ppue(c) for c in DEFAULT_PPUE}

    def redundancy(self, rack_type: str) -> str:
        """The rack type's power redundancy, else the site's."""
        return self.rack_types[rack_type].power_redundancy or self.site.power_redundancy

    def one_feed_kw(self, rack_type: str) -> float:
        """Usable power of one of the rack type's feeds [kW]."""
        return self.rack_types[rack_type].feed.usable_kw(self.site.power_factor, self.site.derate)

    def paths(self, rack_type: str) -> int:
        """Feed paths of one rack of this type."""
        return physics.feed_paths(self.redundancy(rack_type), self.rack_types[rack_type].feeds)

    def path_kw(self, rack_type: str) -> float:
        """Usable power of one feed path [kW]: its feeds together."""
        rt = self.rack_types[rack_type]
        return physics.path_feeds(self.redundancy(rack_type), rt.feeds) * self.one_feed_kw(rack_type)

    def power_capacity_kw(self, rack_type: str) -> float:
        """Design load one rack of this type may carry after the loss its scheme is built for [kW]."""
        return physics.rack_power_capacity_kw(self.one_feed_kw(rack_type), self.rack_types[rack_type].feeds,
                                              self.redundancy(rack_type))

    def surviving_paths(self, row: Row) -> int:
        """Fewest feed paths a rack of the row has left after any loss it must survive."""
        return physics.surviving_paths(self.redundancy(row.rack_type), self.rack_types[row.rack_type].feeds,
                                       row.path_panels, self.panel_source)

    @cached_property
    def panel_source(self) -> dict[str, str]:
        """Panel name -> its source's name (empty without a power tree)."""
        return {n: p.source for n, p in self.power.panels.items()} if self.power else {}

    def row_power_capacity_kw(self, row: Row) -> float:
        """Design load one rack of the row may carry [kW]: its scheme's capacity, and, with a power
        tree, what every surviving path can carry after any single failure upstream."""
        rt = self.rack_types[row.rack_type]
        return physics.rack_power_capacity_kw(self.one_feed_kw(row.rack_type), rt.feeds, self.redundancy(row.rack_type),
                                              row.path_panels, self.panel_source)

    def path_share(self, row: Row, element: str, failed: str | None = None) -> float:
        """Share of a row's load that ``element`` (a panel, or a source: all its panels) carries with
        ``failed`` lost (None: normal operation). A rack's load divides equally among its surviving
        paths (CONTRACT.md); with every path lost the row is dropped and nothing carries it."""
        panels = row.path_panels
        paths = len(panels)
        lost = 0 if failed is None else physics.paths_lost(panels, self.panel_source, failed)
        if lost >= paths:
            return 0.0
        on = [p for p in panels if element in (p, self.panel_source[p])
              and not (failed is not None and failed in (p, self.panel_source[p]))]
        return len(on) / (paths - lost)

    @cached_property
    def rows_on(self) -> dict[str, list[tuple[str, Row]]]:
        """Element (source or panel) -> the (hall, row) pairs with a feed path on it or under it."""
        out: dict[str, list[tuple[str, Row]]] = {name: [] for name, _, _ in self.power_elements()}
        for hall in self.halls:
            for row in hall.rows:
                for name in dict.fromkeys(row.path_panels + [self.panel_source[p] for p in row.path_panels]):
                    out[name].append((hall.name, row))
        return out

    def striped_rows(self) -> list[tuple[str, Row]]:
        """(hall, row) of every row with ``panels: auto``."""
        return [(hall.name, row) for hall in self.halls for row in hall.rows if row.striped]

    def stripe_choices(self, row: Row) -> list[tuple[str, ...]]:
        """Which lineups can feed a ``panels: auto`` row: one distinct lineup per feed path (the
        order of paths does not matter, so each set once)."""
        import itertools

        return list(itertools.combinations(row.lineups or [], self.paths(row.rack_type)))

    def with_striping(self, choice: dict[tuple[str, str], tuple[str, ...]]) -> "Facility":
        """This facility with each ``panels: auto`` row fed as chosen: a new panel per path, named
        ``HALL-ROW-P1``..., on the chosen lineup, rated ``panel_kw`` or the row's design capacity."""
        data = self.model_dump(mode="python", exclude_none=True)
        panels = data["power"]["panels"]
        for h, hall in enumerate(self.halls):
            for r, row in enumerate(hall.rows):
                if not row.striped:
                    continue
                kw = row.panel_kw or row.racks * self.row_power_capacity_kw(row)
                names = []
                for i, source in enumerate(choice[(hall.name, row.name)], start=1):
                    name = f"{hall.name}-{row.name}-P{i}"
                    panels[name] = {"source": source, "kw": kw,
                                    "description": f"added by rackplan for row {hall.name}/{row.name}"}
                    names.append(name)
                rd = data["halls"][h]["rows"][r]
                rd["panels"] = names
                for key in ("lineups", "panel_kw"):
                    rd.pop(key, None)
        return Facility.model_validate(data)

    def power_elements(self) -> list[tuple[str, str, float]]:
        """(name, ``source`` | ``panel``, kW) of every element of the power tree, sources first."""
        if self.power is None:
            return []
        return ([(n, "source", s.kw) for n, s in self.power.sources.items()]
                + [(n, "panel", p.kw) for n, p in self.power.panels.items()])

    def usable_kw(self, units: CoolingUnits) -> float:
        """Usable heat rejection of a group of N+k units [kW]."""
        return physics.usable_units_kw(units.count, units.unit_kw, units.redundant)

    def hall_usable_kw(self, hall: Hall) -> float:
        return self.usable_kw(hall.cooling_units)

    def cdu_of_row(self, hall: Hall) -> dict[str, str]:
        """Row name -> CDU group name, for the rows of a hall that are in a group."""
        return {r: g.name for g in hall.cdus or [] for r in g.rows}

    @cached_property
    def racks(self) -> "RackTable":
        return RackTable.build(self)


def rack_id(hall: str, row: str, index: int, racks_in_row: int) -> str:
    """``HALL/ROW/NN``: NN counts from 1, two digits, or as many as the row's largest number needs."""
    width = max(2, len(str(racks_in_row)))
    return f"{hall}/{row}/{index:0{width}d}"


def row_rack_ids(hall: str, row: str, racks: int) -> list[str]:
    """Every rack id of a row, in order (:func:`rack_id` for 1..racks, made at once)."""
    width = max(2, len(str(racks)))
    prefix = f"{hall}/{row}/"
    return [prefix + str(i).zfill(width) for i in range(1, racks + 1)]


def locate_rack(fac: "Facility", rid: str) -> tuple[Hall, Row] | None:
    """The hall and row of rack id ``rid``, or None when the facility has no such rack (its hall, row
    or number is wrong, or the number is not written the way :func:`rack_id` writes it)."""
    parts = rid.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    for hall in fac.halls:
        if hall.name == parts[0]:
            for row in hall.rows:
                if row.name == parts[1]:
                    n = int(parts[2])
                    return (hall, row) if 1 <= n <= row.racks and rack_id(hall.name, row.name, n, row.racks) == rid \
                        else None
    return None


@dataclass(frozen=True)
class RackTable:
    """Every rack of a facility as columns (one row per rack), existing load included.

    Columns: ``id, hall, row, rack_type, cooling, form_factor, u, air_kw, liquid_kw, power_kw`` (design
    load the rack may carry, power tree included), ``max_weight_kg, annual_cost_usd, paths, panels``
    (``+``-joined, empty without a tree), ``cdu`` (CDU group, empty if none), ``overhead_u,
    overhead_kw, overhead_weight_kg`` (what the rack carries if the plan newly occupies it: 0 where
    existing load is), ``existing_kw, existing_liquid_kw, existing_u, existing_weight_kg,
    existing_position`` (the lowest position given, 0 when none), ``existing_parts`` (each entry's (u,
    position or None)), ``has_existing``. A rack's existing entries are added up.
    """

    frame: "Table"

    @staticmethod
    def build(fac: Facility) -> "RackTable":
        # imported here: loading and checking a facility (and refusing a bad one) needs neither
        import numpy as np

        from planner.table import Table, column

        cols: dict[str, list] = {k: [] for k in ("id", "hall", "row", "rack_type", "power_kw", "panels", "cdu")}
        for hall in fac.halls:
            cdu_of = fac.cdu_of_row(hall)
            for row in hall.rows:
                n = row.racks
                cols["id"].extend(row_rack_ids(hall.name, row.name, n))
                cols["hall"].extend([hall.name] * n)
                cols["row"].extend([row.name] * n)
                cols["rack_type"].extend([row.rack_type] * n)
                cols["power_kw"].extend([fac.row_power_capacity_kw(row)] * n)
                cols["panels"].extend([f"auto:{hall.name}/{row.name}" if row.striped else "+".join(row.path_panels)] * n)
                cols["cdu"].extend([cdu_of.get(row.name, "")] * n)
        ids = cols["id"]
        df = Table({k: v for k, v in cols.items()}, len(ids))
        # each rack type's figures, on every rack of that type
        of_type = {name: {"cooling": t.cooling, "form_factor": t.form_factor, "u": t.u, "air_kw": t.air_kw,
                          "liquid_kw": t.liquid_kw, "max_weight_kg": t.max_weight_kg,
                          "annual_cost_usd": t.annual_cost_usd, "paths": fac.paths(name),
                          "overhead_u": t.overhead.u, "overhead_kw": t.overhead.kw,
                          "overhead_weight_kg": t.overhead.weight_kg}
                   for name, t in fac.rack_types.items()}
        kinds = list(of_type)
        which = np.array([kinds.index(t) for t in cols["rack_type"]], dtype=np.int64) if ids else np.zeros(0, int)
        for key in ("cooling", "form_factor", "u", "air_kw", "liquid_kw", "max_weight_kg", "annual_cost_usd", "paths",
                    "overhead_u", "overhead_kw", "overhead_weight_kg"):
            df[key] = column([of_type[k][key] for k in kinds])[which]
        ex: dict[str, list[Existing]] = {}
        for e in fac.existing:
            ex.setdefault(e.rack, []).append(e)
        has = np.array([i in ex for i in ids], dtype=bool)

        def total(key: str, rid: str) -> float:
            return sum(getattr(e, key) for e in ex[rid]) if rid in ex else 0.0

        df["existing_kw"] = np.array([total("kw", i) for i in ids], dtype=float)
        df["existing_liquid_kw"] = np.array([total("liquid_kw", i) for i in ids], dtype=float)
        df["existing_u"] = np.array([total("u", i) for i in ids], dtype=np.int64)
        df["existing_weight_kg"] = np.array([total("weight_kg", i) for i in ids], dtype=float)
        df["existing_position"] = np.array([min((e.position for e in ex[i] if e.position), default=0) if i in ex
                                            else 0 for i in ids], dtype=np.int64)
        df["existing_parts"] = column([tuple((e.u, e.position) for e in ex[i]) if i in ex else () for i in ids])
        df["has_existing"] = has
        for col in ("overhead_u", "overhead_kw", "overhead_weight_kg"):
            df[col] = np.where(has, 0, df[col])  # a rack with existing load has its own
        return RackTable(df)

    def __len__(self) -> int:
        return len(self.frame)


def scope_problem(fac: "Facility", scope: str) -> str | None:
    """Why ``scope`` (``HALL``, ``HALL/ROW`` or a rack id) names nothing in the facility, or None."""
    parts = scope.split("/")
    halls = {h.name: h for h in fac.halls}
    if len(parts) > 3 or not scope:
        return "expected HALL, HALL/ROW or a rack id HALL/ROW/NN"
    if parts[0] not in halls:
        return f"there is no hall '{parts[0]}'; {_close(parts[0], list(halls))}"
    rows = {r.name for r in halls[parts[0]].rows}
    if len(parts) >= 2 and parts[1] not in rows:
        return f"hall '{parts[0]}' has no row '{parts[1]}'; {_close(parts[1], sorted(rows))}"
    if len(parts) == 3 and locate_rack(fac, scope) is None:
        layout = {h.name: {r.name: r.racks for r in h.rows} for h in fac.halls}
        return f"no rack '{scope}'; {_rack_hint(scope, layout)}"
    return None


def in_scopes(frame: "Table", scopes: list[str] | tuple[str, ...]):
    """Boolean mask of the racks of a rack table that any of ``scopes`` covers."""
    import numpy as np

    mask = np.zeros(len(frame), dtype=bool)
    if not scopes:
        return mask
    halls, rows, racks = set(), set(), set()
    for s in scopes:
        parts = s.split("/")
        (halls if len(parts) == 1 else rows if len(parts) == 2 else racks).add(s if len(parts) != 2 else tuple(parts))
    h = frame["hall"]
    mask |= np.isin(h, list(halls))
    if rows:
        mask |= np.array([(a, b) in rows for a, b in zip(h.tolist(), frame["row"].tolist())], dtype=bool)
    if racks:
        mask |= np.isin(frame["id"], list(racks))
    return mask


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
    """Only racks with a liquid loop (dlc, immersion) may have ``liquid_kw``; a rack can take some heat;
    ``N+k`` keeps at least one feed; the overhead fits an empty rack."""
    out = []
    for name, t in fac.rack_types.items():
        if t.liquid_kw > 0 and t.cooling not in physics.LIQUID_COOLING:
            out.append((("rack_types", name, "liquid_kw"),
                        f"a '{t.cooling}' rack has no liquid loop; liquid_kw needs cooling dlc or immersion"))
        if t.air_kw == 0 and t.liquid_kw == 0:
            out.append((("rack_types", name, "air_kw"), "rack can reject no heat (air_kw and liquid_kw are 0)"))
        red = fac.redundancy(name)
        k = physics.redundancy_k(red)
        if k and k >= t.feeds:
            where = "power_redundancy" if t.power_redundancy else "feeds"
            out.append((("rack_types", name, where),
                        f"{red} needs more than {k} feeds (feeds is {t.feeds}): at least one must carry the rack"))
            continue
        ov = t.overhead
        power = fac.power_capacity_kw(name)
        for key, used, limit, unit in (("u", ov.u, t.u, "U"), ("kw", ov.kw, power, "kW of power capacity"),
                                       ("kw", ov.kw, t.air_kw, "kW of air_kw"),
                                       ("weight_kg", ov.weight_kg, t.max_weight_kg, "kg of max_weight_kg")):
            if used > limit + 1e-9:
                out.append((("rack_types", name, "overhead", key),
                            f"overhead of {used:g} exceeds the rack's {limit:g} {unit}"))
                break
    return out


def _units_problem(units: CoolingUnits, loc: tuple) -> list[tuple[tuple, str]]:
    if units.redundant >= units.count:
        return [(loc + ("redundant",), f"redundant ({units.redundant}) must be less than count ({units.count})")]
    return []


def check_cooling_units(fac: Facility) -> list[tuple[tuple, str]]:
    """N+k needs k < N: at least one unit must be left once the redundant ones are held back (hall
    cooling, CDU groups, the plant)."""
    out = []
    for h, hall in enumerate(fac.halls):
        out += _units_problem(hall.cooling_units, ("halls", h, "cooling_units"))
        for g, group in enumerate(hall.cdus or []):
            out += _units_problem(group, ("halls", h, "cdus", g))  # type: ignore[arg-type]
    if fac.plant is not None:
        out += _units_problem(fac.plant, ("plant",))
    return out


def check_power_tree(fac: Facility) -> list[tuple[tuple, str]]:
    """Panels hang off sources that exist; names are unique across sources and panels; with a tree,
    every row names one existing panel per feed path, and no redundant row has all its paths on one
    panel or one source (a single failure would drop it); without a tree, no row names panels."""
    out = []
    for h, hall in enumerate(fac.halls):
        for r, row in enumerate(hall.rows):
            for key in ("lineups", "panel_kw"):
                if getattr(row, key) is not None and not row.striped:
                    out.append((("halls", h, "rows", r, key), f"{key} goes with panels: auto"))
    if fac.power is None:
        for h, hall in enumerate(fac.halls):
            for r, row in enumerate(hall.rows):
                if row.panels:
                    out.append((("halls", h, "rows", r, "panels"),
                                "the facility has no power section, so rows cannot name panels"))
        return out
    sources, panels = fac.power.sources, fac.power.panels
    for name in sorted(set(sources) & set(panels)):
        out.append((("power", "panels", name), f"'{name}' is both a source and a panel; names must be unique"))
    for name, panel in panels.items():
        if panel.source not in sources:
            out.append((("power", "panels", name, "source"),
                        f"unknown source '{panel.source}'; {_close(panel.source, sorted(sources))}"))
    for h, hall in enumerate(fac.halls):
        for r, row in enumerate(hall.rows):
            loc = ("halls", h, "rows", r, "panels")
            if row.rack_type not in fac.rack_types:
                continue  # reported by check_rack_type_refs
            red = fac.redundancy(row.rack_type)
            try:
                need = fac.paths(row.rack_type)
            except ValueError:
                continue  # reported by check_rack_types
            if not row.panels:
                out.append((loc, f"the facility has a power section: name {need} panel{'s' if need > 1 else ''}, "
                                 f"one per feed path of rack type '{row.rack_type}' ({red}), or panels: auto"))
                continue
            if row.striped:
                lineups = row.lineups or []
                where = ("halls", h, "rows", r, "lineups")
                if not lineups:
                    out.append((loc, "panels: auto needs lineups: the sources rackplan may feed the row from"))
                for s in [s for s in lineups if s not in sources]:
                    out.append((where, f"unknown source '{s}'; {_close(s, sorted(sources))}"))
                if len(set(lineups)) != len(lineups):
                    out.append((where, "a lineup is listed twice"))
                elif lineups and len(lineups) < need:
                    out.append((where, f"{len(lineups)} lineup{'s' if len(lineups) != 1 else ''} for {need} feed paths: "
                                       "each path needs its own lineup"))
                continue
            unknown = [p for p in row.panels if p not in panels]
            for p in unknown:
                out.append((loc, f"unknown panel '{p}'; {_close(p, sorted(panels))}"))
            if unknown:
                continue
            if len(row.panels) != need:
                out.append((loc, f"{len(row.panels)} panel{'s' if len(row.panels) != 1 else ''} given; rack type "
                                 f"'{row.rack_type}' ({red}, feeds {fac.rack_types[row.rack_type].feeds}) has "
                                 f"{need} feed path{'s' if need > 1 else ''}, one panel each"))
                continue
            if need > 1:
                for failed in list(dict.fromkeys(row.panels)) + list(dict.fromkeys(fac.panel_source[p] for p in row.panels)):
                    if physics.paths_lost(row.panels, fac.panel_source, failed) == need:
                        kind = "panel" if failed in panels else "source"
                        out.append((loc, f"every feed path of this {red} row hangs off {kind} '{failed}': losing "
                                         "it would drop the row; put the paths on different sources"))
                        break
    return out


def check_cdus(fac: Facility) -> list[tuple[tuple, str]]:
    """CDU groups name rows of their hall, each row in at most one group, group names unique; in a
    hall with CDUs every row whose racks have a liquid loop is in a group."""
    out = []
    for h, hall in enumerate(fac.halls):
        if not hall.cdus:
            continue
        rows = {r.name for r in hall.rows}
        seen_group: dict[str, int] = {}
        seen_row: dict[str, str] = {}
        for g, group in enumerate(hall.cdus):
            if group.name in seen_group:
                out.append((("halls", h, "cdus", g, "name"), f"duplicate CDU group name '{group.name}'"))
            seen_group.setdefault(group.name, g)
            for i, row in enumerate(group.rows):
                if row not in rows:
                    out.append((("halls", h, "cdus", g, "rows", i),
                                f"hall '{hall.name}' has no row '{row}'; {_close(row, sorted(rows))}"))
                elif row in seen_row:
                    out.append((("halls", h, "cdus", g, "rows", i),
                                f"row '{row}' is already served by CDU group '{seen_row[row]}'"))
                else:
                    seen_row[row] = group.name
        for r, row in enumerate(hall.rows):
            rt = fac.rack_types.get(row.rack_type)
            if rt is not None and rt.liquid_kw > 0 and row.name not in seen_row:
                out.append((("halls", h, "rows", r, "name"),
                            f"row '{row.name}' has liquid-cooled racks but is in no CDU group of hall '{hall.name}'"))
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
    """Existing load names a rack that exists and fits it: each entry its own liquid share and
    position; a rack's entries together its power, air and liquid heat, U and weight, without two
    positioned entries overlapping; and its row's, hall's, CDU group's and plant's limits."""
    layout: dict[str, dict[str, int]] = {}
    for hall in fac.halls:
        for row in hall.rows:
            layout.setdefault(hall.name, {}).setdefault(row.name, row.racks)
    out = []
    by_rack: dict[str, list[int]] = {}
    row_heat: dict[tuple[str, str], float] = {}
    hall_heat: dict[str, float] = {}
    hall_air: dict[str, float] = {}
    liquid_row: dict[tuple[str, str], float] = {}
    for k, e in enumerate(fac.existing):
        where = locate_rack(fac, e.rack)
        if where is None:
            out.append((("existing", k, "rack"), f"no rack '{e.rack}' in the facility; {_rack_hint(e.rack, layout)}"))
            continue
        hall, row = where
        if row.rack_type not in fac.rack_types:
            continue  # reported by check_rack_type_refs
        t = fac.rack_types[row.rack_type]
        if e.liquid_kw > e.kw + 1e-9:
            out.append((("existing", k, "liquid_kw"), f"{e.liquid_kw:g} kW is more than its kw ({e.kw:g})"))
        elif e.liquid_kw > 0 and not physics.has_liquid_loop(t.cooling, t.liquid_kw):
            out.append((("existing", k, "liquid_kw"), f"rack type '{row.rack_type}' has no liquid loop"))
        if e.position is not None and e.u <= t.u and e.position + e.u - 1 > t.u:
            out.append((("existing", k, "position"),
                        f"units {e.position}-{e.position + e.u - 1} run past the rack's top unit {t.u}"))
        for j in by_rack.get(e.rack, []):
            o = fac.existing[j]
            if e.position is not None and o.position is not None and e.u and o.u and \
                    e.position <= o.position + o.u - 1 and o.position <= e.position + e.u - 1:
                out.append((("existing", k, "position"), f"units {e.position}-{e.position + e.u - 1} overlap "
                                                         f"existing[{j}] (units {o.position}-{o.position + o.u - 1})"))
        by_rack.setdefault(e.rack, []).append(k)
        key = (hall.name, row.name)
        row_heat[key] = row_heat.get(key, 0.0) + e.kw
        hall_heat[hall.name] = hall_heat.get(hall.name, 0.0) + e.kw
        hall_air[hall.name] = hall_air.get(hall.name, 0.0) + e.kw - e.liquid_kw
        liquid_row[key] = liquid_row.get(key, 0.0) + e.liquid_kw
    for rid, ks in by_rack.items():
        hall, row = locate_rack(fac, rid)  # type: ignore[misc]
        t = fac.rack_types[row.rack_type]
        k = ks[-1]
        together = "" if len(ks) == 1 else f" (existing[{', '.join(str(j) for j in ks)}] together)"
        kw = sum(fac.existing[j].kw for j in ks)
        liquid = sum(fac.existing[j].liquid_kw for j in ks)
        u = sum(fac.existing[j].u for j in ks)
        weight = sum(fac.existing[j].weight_kg for j in ks)
        try:
            power = fac.row_power_capacity_kw(row)
        except (ValueError, KeyError):
            power = float("inf")  # a broken redundancy or tree is reported by its own check
        if kw > power + 1e-9:
            out.append((("existing", k, "kw"), f"{kw:g} kW exceeds the rack's power capacity {power:.1f} kW{together}"))
        if physics.has_liquid_loop(t.cooling, t.liquid_kw) and liquid > t.liquid_kw + 1e-9:
            out.append((("existing", k, "liquid_kw"),
                        f"{liquid:g} kW exceeds the rack's liquid_kw {t.liquid_kw:g}{together}"))
        if kw - liquid > t.air_kw + 1e-9:
            out.append((("existing", k, "kw"),
                        f"{kw - liquid:g} kW of air heat exceeds the rack's air_kw {t.air_kw:g}{together}"))
        if u > t.u:
            out.append((("existing", k, "u"), f"{u} U exceeds the rack's {t.u} U{together}"))
        if weight > t.max_weight_kg + 1e-9:
            out.append((("existing", k, "weight_kg"),
                        f"{weight:g} kg exceeds the rack's max_weight_kg {t.max_weight_kg:g}{together}"))
    for h, hall in enumerate(fac.halls):
        for r, row in enumerate(hall.rows):
            heat = row_heat.get((hall.name, row.name), 0.0)
            if row.cooling_kw is not None and heat > row.cooling_kw + 1e-9:
                out.append((("halls", h, "rows", r, "cooling_kw"),
                            f"existing load of {heat:g} kW already exceeds the row's cooling_kw {row.cooling_kw:g}"))
        cu = hall.cooling_units
        if cu.redundant < cu.count:
            heat = hall_air.get(hall.name, 0.0) if hall.cdus else hall_heat.get(hall.name, 0.0)
            usable = fac.hall_usable_kw(hall)
            if heat > usable + 1e-9:
                what = "existing air heat" if hall.cdus else "existing load"
                out.append((("halls", h, "cooling_units"),
                            f"{what} of {heat:g} kW already exceeds the hall's usable cooling {usable:g} kW"))
        if hall.it_kw is not None and hall_heat.get(hall.name, 0.0) > hall.it_kw + 1e-9:
            out.append((("halls", h, "it_kw"),
                        f"existing load of {hall_heat[hall.name]:g} kW already exceeds the hall's it_kw {hall.it_kw:g}"))
        for g, group in enumerate(hall.cdus or []):
            liquid = sum(liquid_row.get((hall.name, r), 0.0) for r in group.rows)
            if group.redundant < group.count and liquid > fac.usable_kw(group) + 1e-9:
                out.append((("halls", h, "cdus", g),
                            f"existing liquid load of {liquid:g} kW already exceeds the group's usable "
                            f"{fac.usable_kw(group):g} kW"))
    if fac.plant is not None and fac.plant.redundant < fac.plant.count:
        heat = sum(hall_heat.values())
        if heat > fac.usable_kw(fac.plant) + 1e-9:
            out.append((("plant",), f"existing load of {heat:g} kW already exceeds the plant's usable "
                                    f"{fac.usable_kw(fac.plant):g} kW"))
    return out


def check_reserved(fac: Facility) -> list[tuple[tuple, str]]:
    """Every reserved entry names a hall, row or rack of the facility."""
    return [(("reserved", i), msg) for i, s in enumerate(fac.reserved) if (msg := scope_problem(fac, s))]


CHECKS = (check_names, check_rack_type_refs, check_rack_types, check_cooling_units, check_power_tree, check_cdus,
          check_size, check_existing, check_reserved)


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


OTHER_KINDS = (("spec", ("schema", "accelerators", "sources"), "--specs"),
               ("waves", ("waves",), "--waves"),
               ("demand", ("nodes", "target", "candidates", "fill"), "--demand"))
"""Other rackplan files by their top-level keys, and the flag that takes each: a facility has none of
these keys (a spec file's ``nodes`` is why spec files are told apart first)."""


def _not_another_kind(data: Any, name: str) -> None:
    """A spec, waves or demand file given where the facility goes is said to be one, in one line,
    rather than as every field a facility lacks."""
    if not isinstance(data, dict) or "halls" in data or "rack_types" in data:
        return
    for kind, keys, flag in OTHER_KINDS:
        found = next((k for k in keys if k in data), None)
        if found is not None:
            raise InputError.one(name, found, f"this is a {kind} file, not a facility (it has '{found}'): give a "
                                              f"facility file here, and this one with {flag}")


def load_facility(path: str | Path) -> LoadedFacility:
    """Read, validate and cross-check a facility file. Raises :class:`InputError` on any problem."""
    name = str(path)
    data, lines = load_yaml(path, name)
    _not_another_kind(data, name)
    fac = validate(Facility, data, name, lines)
    check_facility(fac, name, lines)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return LoadedFacility(fac, name, digest)
