"""The GPU spec library: accelerators and node profiles, every figure with its source and status.

The library ships inside the wheel (``planner.gpu_specs``, the repository's ``gpu_specs/``) and is read
through :mod:`importlib.resources`; a user adds or replaces profiles with a file of the same shape
(``--specs FILE``). A figure is a :class:`Figure`: a nominal value, its status (shipping, announced,
projected), its confidence, the ids of its sources and, where projected, a ``low``-``high`` range.

A *spec point* (``low``, ``nominal``, ``high``) picks, for every projected figure of a node, the low
end, the nominal value or the high end together (lower power comes with lower performance);
figures that are not projected keep their nominal value at every point. The one exception is the
liquid fraction: it stays at its nominal value at every point, its range shown but not planned at,
because neither of its ends goes naturally with high power (a lower liquid share is worse for a
rack's air heat, a higher one for its liquid loop).

Node power, the design load the planner packs against, is either the vendor's published system
maximum (``basis: vendor_max``) or ``gpus x TDP + overhead_kw`` (``basis: derived``), with the overhead's
own source. ``--tdp ACCELERATOR=WATTS`` re-derives a node's power as ``gpus x WATTS + overhead``, the
overhead of a ``vendor_max`` node being ``max_kw - gpus x nominal TDP``.

A node profile also carries its rack form factor (``eia-19``, ``orv3`` or ``orw``; a whole-rack system
is a node whose ``u`` fills its rack type), where known a purchase price and a rent per node-month,
and, for a product that does not ship yet, when it becomes available (``YYYY-MM`` with a range).
The library as a whole has a version, :data:`LIBRARY_VERSION`, which plans and reports record.
"""

from __future__ import annotations

import difflib
import importlib.resources
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from planner.errors import InputError, Problem
from planner.vocabulary import POINTS, SCHEMA_SPECS, Point
from planner.inputs.facility import StrictModel
from planner.inputs.yamlio import LineMap, format_path, line_for, parse_yaml, problems_from_validation

Status = Literal["shipping", "announced", "projected"]
Confidence = Literal["A", "B", "C"]
FormFactor = Literal["eia-19", "orv3", "orw"]
FORM_FACTORS: tuple[str, ...] = ("eia-19", "orv3", "orw")

LIBRARY_PACKAGE = "planner.gpu_specs"
LIBRARY_VERSION = "2026.10.1"
"""Version of the bundled spec library (``YEAR.MONTH.REVISION`` of the library date); every plan and
report records it."""
LIBRARY_DATE = "2026-10"
"""The date the bundled library describes: ``shipping`` means shipping then, and a node with no
``available`` figure is available from then on."""
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class Source(StrictModel):
    """Where a figure comes from."""

    title: str = Field(min_length=1)
    """What the source is (document, page, data set)."""
    url: str | None = None
    """Address of the source, or a repository path (never fetched by rackplan)."""
    publisher: str | None = None
    """Who published it."""
    kind: Literal["vendor", "mlperf", "press", "third-party", "estimate", "user"] = "vendor"
    """Primary vendor document, MLPerf submission metadata, trade press, third-party compilation,
    rackplan's own derivation, or a user's file."""
    date: str | None = None
    """When it was published (free text, e.g. ``2026-06``)."""
    read: str | None = None
    """When it was read for this library (``YYYY-MM``)."""
    via: str | None = None
    """Where a vendor document was not read directly: the third party (a page, a repository, a
    compilation) through which its figures were read. Such figures are graded at most B."""


def _check_range(x: Any, fmt: str) -> None:
    """``low <= nominal <= high`` of a :class:`Figure` or :class:`Availability` (numbers or ``YYYY-MM``
    months, which order as text), both ends given where it is projected; ``fmt`` formats the message."""
    if x.status == "projected" and (x.low is None or x.high is None):
        raise ValueError("a projected figure needs both low and high")
    lo = x.nominal if x.low is None else x.low
    hi = x.nominal if x.high is None else x.high
    if not lo <= x.nominal <= hi:
        raise ValueError(f"range must satisfy low <= nominal <= high (got {lo:{fmt}}, {x.nominal:{fmt}}, {hi:{fmt}})")


def _value_at(x: Any, point: Point) -> Any:
    """The value at a spec point: the range's end where projected, else the nominal value."""
    if x.status == "projected" and point != "nominal":
        return x.low if point == "low" else x.high
    return x.nominal


class Figure(StrictModel):
    """One number with its provenance. A bare number in a user file is read as ``{nominal: number}``."""

    nominal: float
    """The value used by default."""
    low: float | None = None
    """Low end of the range (required when ``status`` is ``projected``)."""
    high: float | None = None
    """High end of the range (required when ``status`` is ``projected``)."""
    status: Status | None = None
    """``shipping`` | ``announced`` | ``projected``; defaults to the status of the entry it belongs to."""
    confidence: Confidence | None = None
    """A vendor primary document, B reputable secondary, C third-party estimate; defaults to the
    entry's."""
    sources: list[str] = Field(default_factory=list)
    """Ids of entries in ``sources``."""
    note: str | None = None
    """How it was derived, or why sources disagree."""

    @model_validator(mode="before")
    @classmethod
    def _bare_number(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"nominal": float(value)}
        return value

    @model_validator(mode="after")
    def _range(self) -> "Figure":
        _check_range(self, "g")
        return self

    def at(self, point: Point) -> float:
        """The value at a spec point: the range's end for projected figures, else the nominal value."""
        return float(_value_at(self, point))


class Availability(StrictModel):
    """When a node can be bought: a month ``YYYY-MM``, with a range where it is projected. A bare
    ``"2027-03"`` in a user file is read as ``{nominal: "2027-03"}``. A node without one ships now
    (as of the library date, :data:`LIBRARY_DATE`)."""

    nominal: str
    """The month it is expected to be generally available, ``YYYY-MM``."""
    low: str | None = None
    """The earliest month (required when ``status`` is ``projected``)."""
    high: str | None = None
    """The latest month (required when ``status`` is ``projected``)."""
    status: Status | None = None
    """``shipping`` | ``announced`` | ``projected``; defaults to the status of the entry it belongs to."""
    confidence: Confidence | None = None
    """A vendor primary document, B reputable secondary, C third-party estimate; defaults to the
    entry's."""
    sources: list[str] = Field(default_factory=list)
    """Ids of entries in ``sources``."""
    note: str | None = None
    """What the date is (general availability, first volume shipments) and who says so."""

    @model_validator(mode="before")
    @classmethod
    def _bare_month(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"nominal": value}
        return value

    @model_validator(mode="after")
    def _months(self) -> "Availability":
        for name in ("low", "nominal", "high"):
            month = getattr(self, name)
            if month is not None and not _MONTH.match(month):
                raise ValueError(f"{name} must be a month written YYYY-MM, got {month!r}")
        _check_range(self, "")
        return self

    def at(self, point: Point) -> str:
        """The month at a spec point: ``low`` is the earliest, ``high`` the latest, where projected."""
        return str(_value_at(self, point))


def _check_figures(entry: Any, positive: tuple[str, ...], non_negative: tuple[str, ...]) -> None:
    """Physical figures are positive (power) or at least non-negative (weight, price, FLOPS, memory),
    at every end of their range."""
    for names, least, word in ((positive, 0.0, "greater than 0"), (non_negative, None, "at least 0")):
        for name in names:
            holder, key = (entry.power, name[6:]) if name.startswith("power.") else (entry, name)
            fig = getattr(holder, key)
            if fig is None:
                continue
            for end in (fig.low, fig.nominal, fig.high):
                if end is not None and (end <= least if least is not None else end < 0):
                    raise ValueError(f"{name} must be {word}, got {end:g}")


class Accelerator(StrictModel):
    """A GPU or accelerator module."""

    name: str
    """Marketing name."""
    vendor: str
    """NVIDIA, AMD, Intel, ..."""
    architecture: str | None = None
    """Architecture generation."""
    status: Status
    """Product status as of the library's date."""
    confidence: Confidence
    """Default confidence of this entry's figures."""
    tdp_w: Figure
    """Module power (TDP/TBP/TGP) [W]."""
    hbm_gb: Figure
    """Usable HBM per module [GB]."""
    mem_bw_tbps: Figure | None = None
    """HBM bandwidth per module [TB/s]."""
    bf16_tflops_dense: Figure | None = None
    """Peak dense BF16 [TFLOPS]."""
    fp8_tflops_dense: Figure | None = None
    """Peak dense FP8 [TFLOPS] (not the 2:4-sparse figure vendors often headline)."""
    fp4_tflops_dense: Figure | None = None
    """Peak dense FP4 [TFLOPS]; absent where the hardware has no FP4."""
    sources: list[str] = Field(default_factory=list)
    """Sources for the entry as a whole."""
    notes: str | None = None
    """Anything a planner should know."""
    disagreement: str | None = None
    """Where sources disagree about this accelerator, and which entry holds the other view."""
    see_also: list[str] = Field(default_factory=list)
    """Related accelerator ids (e.g. the other view of a disputed product)."""

    @model_validator(mode="after")
    def _physical(self) -> "Accelerator":
        _check_figures(self, ("tdp_w",), ("hbm_gb", "mem_bw_tbps", "bf16_tflops_dense", "fp8_tflops_dense",
                                          "fp4_tflops_dense"))
        return self


class NodePower(StrictModel):
    """A node's maximum power and how it was obtained."""

    basis: Literal["vendor_max", "derived"]
    """``vendor_max``: the vendor's published system maximum. ``derived``: gpus x TDP + overhead_kw."""
    max_kw: Figure | None = None
    """The vendor's system maximum [kW] (``vendor_max``)."""
    overhead_kw: Figure | None = None
    """Platform power beyond the GPUs [kW]: CPUs, memory, NICs, switches, fans, PSU losses (``derived``)."""
    typical_kw: Figure | None = None
    """Typical (average) draw under load as a vendor or a measurement states it [kW]; recorded beside
    the design load, never planned at."""

    @model_validator(mode="after")
    def _basis(self) -> "NodePower":
        if self.basis == "vendor_max" and self.max_kw is None:
            raise ValueError("basis vendor_max needs max_kw")
        if self.basis == "derived" and self.overhead_kw is None:
            raise ValueError("basis derived needs overhead_kw")
        if self.max_kw is not None and self.typical_kw is not None and self.typical_kw.nominal > self.max_kw.nominal:
            raise ValueError(f"typical_kw {self.typical_kw.nominal:g} is above max_kw {self.max_kw.nominal:g}: "
                             "the design load is the maximum")
        return self


class NodeProfile(StrictModel):
    """A server node (or a whole rack-scale system) that the planner places."""

    name: str
    """What it is (a vendor system or a class of OEM systems)."""
    vendor: str
    """System vendor or vendor class."""
    accelerator: str
    """Id of its accelerator in ``accelerators``."""
    gpus: int = Field(gt=0, le=1024)
    """Accelerators in the node."""
    u: int = Field(gt=0, le=60)
    """Rack units it takes (a whole-rack system takes its whole rack: ``u`` fills its rack type). Units
    are those of its form factor: EIA rack units (44.45 mm) for ``eia-19``, OCP open units (48 mm) for
    ``orv3`` and ``orw``."""
    form_factor: FormFactor = "eia-19"
    """Rack form factor: ``eia-19`` (19-inch EIA rack) | ``orv3`` (OCP Open Rack V3 class, busbar
    powered) | ``orw`` (OCP Open Rack Wide, double width). A node goes only into racks of its own form
    factor."""
    chassis: str | None = None
    """The chassis, tray or rack as built (text)."""
    cooling: Literal["air", "liquid"]
    """``air``: all heat to air. ``liquid``: ``liquid_fraction`` of its heat to the rack's liquid loop."""
    liquid_fraction: Figure
    """Share of its heat that goes into the liquid loop (0 for air)."""
    power: NodePower
    """Maximum (design) power."""
    weight_kg: Figure
    """Weight [kg]."""
    annual_cost_usd: Figure | None = None
    """Rental or amortized cost per year [USD], what the plan's ``nodes`` cost charges. The bundled
    library leaves it out and gives ``price_usd`` and ``rent_usd_month`` instead."""
    price_usd: Figure | None = None
    """Purchase price per node [USD], where a source gives one."""
    rent_usd_month: Figure | None = None
    """Rent per node-month [USD] (bare-metal or cloud, 730 hours), where a source gives one."""
    available: Availability | None = None
    """When it can be bought (``YYYY-MM``, a range where projected); none: it ships now."""
    status: Status
    """Product status."""
    confidence: Confidence
    """Default confidence of this entry's figures."""
    sources: list[str] = Field(default_factory=list)
    """Sources for the entry as a whole."""
    notes: str | None = None
    """Anything a planner should know."""
    disagreement: str | None = None
    """Where sources disagree about this node (e.g. its power), and which figure plans use."""
    see_also: list[str] = Field(default_factory=list)
    """Related node ids (e.g. another view of the same system)."""

    @field_validator("form_factor", mode="before")
    @classmethod
    def _old_form_factor(cls, value: Any) -> Any:
        """``form_factor`` used to be the chassis description; say so instead of listing three words."""
        if isinstance(value, str) and value not in FORM_FACTORS:
            raise ValueError(f"the rack form factor is one of {', '.join(FORM_FACTORS)} (got {value[:40]!r}); "
                             "describe the chassis under 'chassis'")
        return value

    @model_validator(mode="after")
    def _cooling(self) -> "NodeProfile":
        _check_figures(self, ("power.max_kw", "power.typical_kw"),
                       ("power.overhead_kw", "weight_kg", "annual_cost_usd", "price_usd", "rent_usd_month"))
        lf = self.liquid_fraction.nominal
        if not 0.0 <= lf <= 1.0:
            raise ValueError(f"liquid_fraction must be within 0..1, got {lf:g}")
        if self.cooling == "air" and lf != 0:
            raise ValueError("an air-cooled node has liquid_fraction 0")
        if self.cooling == "liquid" and lf <= 0:
            raise ValueError("a liquid-cooled node needs liquid_fraction > 0")
        return self


class SpecFile(StrictModel):
    """A spec library file: the bundled ones and a user's have the same shape."""

    schema_: Literal["rackplan.specs/1"] = Field(SCHEMA_SPECS, alias="schema")
    """Format version."""
    sources: dict[str, Source] = Field(default_factory=dict)
    """Sources by id."""
    accelerators: dict[str, Accelerator] = Field(default_factory=dict)
    """Accelerators by id."""
    nodes: dict[str, NodeProfile] = Field(default_factory=dict)
    """Node profiles by id."""


@dataclass(frozen=True)
class NodeType:
    """A node profile resolved at one spec point: the plain numbers the planner packs."""

    id: str
    name: str
    accelerator: str
    gpus: int
    u: int
    max_kw: float
    liquid_fraction: float
    weight_kg: float
    annual_cost_usd: float
    tdp_w: float
    fp8_pflops: float
    hbm_tb: float
    status: str
    point: str = "nominal"
    tdp_overridden: bool = False
    form_factor: str = "eia-19"
    """Rack form factor: the node goes only into racks of the same one."""
    price_usd: float | None = None
    """Purchase price per node [USD] at this point, where the library knows one."""
    rent_usd_month: float | None = None
    """Rent per node-month [USD] at this point, where the library knows one."""
    available_from: str | None = None
    """First month it can be bought at this point (``YYYY-MM``); ``None``: it ships now."""

    def figures(self) -> tuple[Any, ...]:
        """The values that a spec point can change."""
        return (self.max_kw, self.tdp_w, self.fp8_pflops, self.hbm_tb, self.weight_kg, self.annual_cost_usd,
                self.price_usd, self.rent_usd_month, self.available_from)

    def contract_dict(self) -> dict[str, Any]:
        """The ``node_types`` entry of ``plan.json``."""
        return {"gpus": self.gpus, "u": self.u, "max_kw": round(self.max_kw, 6),
                "liquid_fraction": self.liquid_fraction, "weight_kg": self.weight_kg,
                "annual_cost_usd": self.annual_cost_usd, "tdp_w": self.tdp_w,
                "fp8_pflops": round(self.fp8_pflops, 6), "hbm_tb": round(self.hbm_tb, 6),
                "accelerator": self.accelerator, "status": self.status, "point": self.point,
                "tdp_overridden": self.tdp_overridden, "form_factor": self.form_factor,
                "price_usd": self.price_usd, "rent_usd_month": self.rent_usd_month,
                "available_from": self.available_from}


@dataclass
class Catalogue:
    """Every source, accelerator and node profile known, with where each entry came from."""

    sources: dict[str, Source] = field(default_factory=dict)
    accelerators: dict[str, Accelerator] = field(default_factory=dict)
    nodes: dict[str, NodeProfile] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    """``'node:ID'`` / ``'accelerator:ID'`` / ``'source:ID'`` -> file it was read from."""
    version: str = LIBRARY_VERSION
    """Version of the bundled library (:data:`LIBRARY_VERSION`); user files add to it, and
    ``origin`` says which entries they replaced."""

    # --- lookup ---------------------------------------------------------------------------------
    def node(self, node_id: str) -> NodeProfile:
        """The profile ``node_id``; an unknown id is an :class:`InputError` listing close valid ids."""
        if node_id in self.nodes:
            return self.nodes[node_id]
        raise InputError.one("<command line>", "", f"unknown node id '{node_id}'; {suggest(node_id, sorted(self.nodes))}")

    def points(self, node_id: str) -> tuple[Point, ...]:
        """Spec points worth planning for a node: low/nominal/high where some figure is projected."""
        nominal = resolve(self, node_id, "nominal").figures()
        if any(resolve(self, node_id, p).figures() != nominal for p in ("low", "high")):
            return POINTS
        return ("nominal",)


def suggest(word: str, options: list[str]) -> str:
    """``did you mean ...?`` with the ids that start with or contain ``word`` (``b200`` ->
    ``b200-8x-air, b200-8x-dlc, gb200-nvl4, ...``), then close spellings; else the first valid ids."""
    low = word.strip().lower()
    if len(low) < 3:  # a letter or two is in too many ids to mean one of them
        low = ""
    starts = [o for o in options if low and o.lower().startswith(low)]
    within = [o for o in options if low and low in o.lower() and o not in starts]
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.5)
    picks = list(dict.fromkeys(starts + within + close))[:6]
    if picks:
        return "did you mean " + ", ".join(picks) + "?"
    shown = ", ".join(options[:12]) + (f", ... ({len(options)} in all)" if len(options) > 12 else "")
    return "valid ids: " + shown


class FigureError(ValueError):
    """A figure that is wrong once the entry's defaults are filled in; ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def _fill_defaults(fig: Figure | Availability | None, status: str, confidence: str, sources: list[str],
                   name: str = "") -> Figure | Availability | None:
    if fig is None:
        return None
    update: dict[str, Any] = {}
    if fig.status is None:
        update["status"] = status
    if fig.confidence is None:
        update["confidence"] = confidence
    if not fig.sources and sources:
        update["sources"] = list(sources)
    if not update:
        return fig
    fixed = fig.model_copy(update=update)
    if fixed.status == "projected" and (fixed.low is None or fixed.high is None):
        raise FigureError(name, "a projected figure needs both low and high "
                                "(it takes the entry's status 'projected'; give a range or its own status)")
    return fixed


FIGURES_ACC = ("tdp_w", "hbm_gb", "mem_bw_tbps", "bf16_tflops_dense", "fp8_tflops_dense", "fp4_tflops_dense")
FIGURES_NODE = ("liquid_fraction", "weight_kg", "annual_cost_usd", "price_usd", "rent_usd_month", "available")
FIGURES_POWER = ("power.max_kw", "power.overhead_kw", "power.typical_kw")


def _normalise(entry: Any, figures: tuple[str, ...], problem: Any, loc: tuple) -> Any:
    """Give every figure of an entry (``power.*`` included) the entry's status, confidence and
    sources where it has none; report each figure that is then wrong through ``problem``."""
    st, conf, src = entry.status, entry.confidence, entry.sources
    update: dict[str, Any] = {}
    power: dict[str, Any] = {}
    for name in figures:
        holder, key = (entry.power, name[6:]) if name.startswith("power.") else (entry, name)
        try:
            value = _fill_defaults(getattr(holder, key), st, conf, src, name)
        except FigureError as exc:
            problem(loc + tuple(name.split(".")), str(exc))
            value = getattr(holder, key)
        (power if holder is not entry else update)[key] = value
    if power:
        update["power"] = entry.power.model_copy(update=power)
    return entry.model_copy(update=update)


def _parse_spec_file(text: str, name: str) -> tuple[SpecFile, LineMap]:
    data, lines = parse_yaml(text, name)
    if data is None:
        raise InputError.one(name, "", "file is empty; expected a YAML mapping")
    if not isinstance(data, dict):
        raise InputError.one(name, "", "expected a YAML mapping at the top level")
    from pydantic import ValidationError

    try:
        spec = SpecFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, name, lines, SpecFile)) from None
    return spec, lines


def merge_file(cat: Catalogue, spec: SpecFile, name: str, lines: LineMap, user: bool) -> None:
    """Add one file's entries to the catalogue, checking references; a user file may replace ids."""
    problems: list[Problem] = []

    def problem(loc: tuple, msg: str) -> None:
        problems.append(Problem(name, format_path(loc), msg, line_for(lines, loc)))

    for sid, src in spec.sources.items():
        if sid in cat.sources and not user:
            problem(("sources", sid), f"source id '{sid}' is already defined in {cat.origin['source:' + sid]}")
        cat.sources[sid] = src
        cat.origin["source:" + sid] = name
    user_source = f"user:{name}"
    if user:
        cat.sources[user_source] = Source(title=f"user spec file {name}", kind="user")
    for aid, acc in spec.accelerators.items():
        if aid in cat.accelerators and not user:
            problem(("accelerators", aid), f"accelerator id '{aid}' is already defined in {cat.origin['accelerator:' + aid]}")
        if user and not acc.sources:
            acc = acc.model_copy(update={"sources": [user_source]})
        cat.accelerators[aid] = _normalise(acc, FIGURES_ACC, problem, ("accelerators", aid))
        cat.origin["accelerator:" + aid] = name
    for nid, node in spec.nodes.items():
        if nid in cat.nodes and not user:
            problem(("nodes", nid), f"node id '{nid}' is already defined in {cat.origin['node:' + nid]}")
        if user and not node.sources:
            node = node.model_copy(update={"sources": [user_source]})
        cat.nodes[nid] = _normalise(node, FIGURES_NODE + FIGURES_POWER, problem, ("nodes", nid))
        cat.origin["node:" + nid] = name
    problems.extend(_check_refs(cat, spec, name, lines))
    if problems:
        raise InputError(problems)


def _figure_refs(fig: Figure | Availability | None) -> list[str]:
    return [] if fig is None else list(fig.sources)


def _check_refs(cat: Catalogue, spec: SpecFile, name: str, lines: LineMap) -> list[Problem]:
    out: list[Problem] = []

    def bad(loc: tuple, sid: str) -> None:
        out.append(Problem(name, format_path(loc), f"unknown source id '{sid}'; {suggest(sid, sorted(cat.sources))}",
                           line_for(lines, loc)))

    for aid in spec.accelerators:
        acc = cat.accelerators.get(aid)
        if acc is None:
            continue
        for sid in acc.sources:
            if sid not in cat.sources:
                bad(("accelerators", aid, "sources"), sid)
        for f in FIGURES_ACC:
            for sid in _figure_refs(getattr(acc, f)):
                if sid not in cat.sources:
                    bad(("accelerators", aid, f, "sources"), sid)
    for nid in spec.nodes:
        node = cat.nodes.get(nid)
        if node is None:
            continue
        if node.accelerator not in cat.accelerators:
            loc = ("nodes", nid, "accelerator")
            out.append(Problem(name, format_path(loc),
                               f"unknown accelerator '{node.accelerator}'; {suggest(node.accelerator, sorted(cat.accelerators))}",
                               line_for(lines, loc)))
        for sid in node.sources:
            if sid not in cat.sources:
                bad(("nodes", nid, "sources"), sid)
        figs = [(f, getattr(node, f)) for f in FIGURES_NODE] + [
            (f, getattr(node.power, f[6:])) for f in FIGURES_POWER]
        for sid in node.see_also:
            if sid not in cat.nodes:
                loc = ("nodes", nid, "see_also")
                out.append(Problem(name, format_path(loc), f"unknown node id '{sid}'; {suggest(sid, sorted(cat.nodes))}",
                                   line_for(lines, loc)))
        for f, fig in figs:
            for sid in _figure_refs(fig):
                if sid not in cat.sources:
                    bad(("nodes", nid) + tuple(f.split(".")) + ("sources",), sid)
    return out


def load_library() -> Catalogue:
    """The bundled spec library (every ``*.yaml`` in ``planner.gpu_specs``, in name order)."""
    cat = Catalogue()
    root = importlib.resources.files(LIBRARY_PACKAGE)
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            name = f"gpu_specs/{entry.name}"
            spec, lines = _parse_spec_file(entry.read_text(encoding="utf-8"), name)
            merge_file(cat, spec, name, lines, user=False)
    return cat


def load_catalogue(user_files: list[str | Path] | None = None) -> Catalogue:
    """The bundled library plus the user's spec files (which may add ids or replace them): rackplan
    spec files, or NetBox devicetype-library files (:mod:`planner.netbox.devicetype`)."""
    from planner.inputs.yamlio import read_text

    cat = load_library()
    for path in user_files or []:
        from planner.netbox.devicetype import parse_devicetype

        name = str(path)
        text = read_text(path, name)
        # a NetBox devicetype-library file (with a `rackplan:` key for its GPUs) is read as one node
        spec, lines = parse_devicetype(text, name) or _parse_spec_file(text, name)
        merge_file(cat, spec, name, lines, user=True)
    return cat


def node_overhead_kw(cat: Catalogue, node: NodeProfile, point: Point) -> float:
    """Platform power beyond the GPUs at a point [kW]."""
    acc = cat.accelerators[node.accelerator]
    if node.power.basis == "derived":
        assert node.power.overhead_kw is not None
        return node.power.overhead_kw.at(point)
    assert node.power.max_kw is not None
    return node.power.max_kw.nominal - node.gpus * acc.tdp_w.nominal / 1000.0


def resolve(cat: Catalogue, node_id: str, point: Point = "nominal",
            tdp_override_w: dict[str, float] | None = None) -> NodeType:
    """The plain numbers of a node profile at a spec point, with an optional TDP what-if."""
    node = cat.node(node_id)
    acc = cat.accelerators[node.accelerator]
    override = (tdp_override_w or {}).get(node.accelerator)
    tdp = override if override is not None else acc.tdp_w.at(point)
    if node.power.basis == "vendor_max" and override is None:
        assert node.power.max_kw is not None
        max_kw = node.power.max_kw.at(point)
    else:
        max_kw = node.gpus * tdp / 1000.0 + node_overhead_kw(cat, node, point)
    fp8 = acc.fp8_tflops_dense.at(point) if acc.fp8_tflops_dense is not None else 0.0

    def at(fig: Figure | None) -> float | None:
        return None if fig is None else fig.at(point)

    return NodeType(
        id=node_id, name=node.name, accelerator=node.accelerator, gpus=node.gpus, u=node.u,
        max_kw=max_kw, liquid_fraction=node.liquid_fraction.nominal, weight_kg=node.weight_kg.at(point),
        annual_cost_usd=node.annual_cost_usd.at(point) if node.annual_cost_usd is not None else 0.0,
        tdp_w=tdp, fp8_pflops=node.gpus * fp8 / 1000.0, hbm_tb=node.gpus * acc.hbm_gb.at(point) / 1000.0,
        status=node.status, point=point, tdp_overridden=override is not None, form_factor=node.form_factor,
        price_usd=at(node.price_usd), rent_usd_month=at(node.rent_usd_month),
        available_from=node.available.at(point) if node.available is not None else None,
    )
