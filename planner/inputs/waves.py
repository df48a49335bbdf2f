"""The waves file: a deployment in waves over time (issue #13), for ``rackplan phases``.

A waves file names when each wave of nodes arrives, what it must deliver (exact ``nodes``, or a
``target`` among ``candidates``, as a demand file does) and, optionally, when it retires; plus the
horizon the cost is counted to, the discount rate, the value of a GPU-hour not delivered (the cost of
waiting) and how node prices are turned into an annual cost. The simple case fits on the command
line: ``--wave 2027-01:gpus=1024:b200-8x-dlc --wave 2027-06:gpus=1024:mi400-8x``.

Two tiers of validation (STYLE.md item 6): pydantic for each field, then the cross-checks that need the
spec library (every node id exists; a wave may only use what is available by its date: a projected
node's ``available_from``), each problem one line naming the file, the field and its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from planner.errors import InputError, Problem
from planner.inputs.demand import Demand, METRIC_LABEL, Target, check_ids, exactly_one_demand, parse_pairs
from planner.inputs.facility import StrictModel
from planner.inputs.specs import Catalogue, NodeType
from planner.inputs.yamlio import LineMap, format_path, line_for, load_yaml, problems_from_validation, validate
from planner.vocabulary import CLI_FILE

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
"""A month, ``YYYY-MM``."""
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
"""A wave's name: it names the wave's files (``waves/01-NAME.csv``)."""
DEFAULT_DISCOUNT_RATE = 0.08
"""Discount rate a year when none is given: buying now or later is a question about money over time."""
DEFAULT_YEARS = 4.0
"""Years over which a purchase price is recovered."""
DEFAULT_HORIZON_YEARS = 5
"""Years after the first wave that costs and GPU-hours are counted to when no horizon is given."""
FLAGS = {"today": "--today", "horizon": "--horizon", "discount_rate": "--discount-rate",
         "value_per_gpu_hour_usd": "--value-per-gpu-hour", "years": "--years", "basis": "--basis"}
"""The command-line flag of each setting."""


def month_index(date: str) -> int:
    """``YYYY-MM`` -> months since year 0 (for differences)."""
    year, month = date.split("-")
    return int(year) * 12 + int(month) - 1


def month_name(index: int) -> str:
    """Months since year 0 -> ``YYYY-MM``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def add_months(date: str, months: int) -> str:
    return month_name(month_index(date) + months)


def _month(value: str | None, what: str) -> str | None:
    if value is not None and not MONTH.match(value):
        raise ValueError(f"{what} must be a month written YYYY-MM, got {value!r}")
    return value


@dataclass(frozen=True)
class Wave:
    """A demand added at a date; optionally retired (its racks freed) at a later date."""

    name: str
    date: str
    """``YYYY-MM``."""
    demand: Demand
    """``nodes`` or ``target`` with candidates."""
    retire: str | None = None
    """``YYYY-MM`` when the wave's nodes leave, or None (they stay to the horizon)."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "date": self.date, "retire": self.retire, "demand": self.demand.to_json()}


def check_waves(waves: list[Wave], types: dict[str, NodeType], origin: str = CLI_FILE) -> None:
    """Waves in date order; every node a wave names is available by its date; retirements after the
    wave. One problem per mistake."""
    problems = []
    for i, w in enumerate(waves):
        if i and month_index(w.date) < month_index(waves[i - 1].date):
            problems.append(f"waves[{i}].date: {w.date} is before the wave before it ({waves[i - 1].date})")
        if w.retire is not None and month_index(w.retire) <= month_index(w.date):
            problems.append(f"waves[{i}].retire: {w.retire} is not after the wave's date {w.date}")
        for nid in w.demand.node_ids:
            t = types[nid]
            if t.available_from is not None and month_index(t.available_from) > month_index(w.date):
                problems.append(f"waves[{i}]: {nid} is not available until {t.available_from} "
                                f"({t.status}), after the wave's date {w.date}")
        if w.demand.kind == "fill":
            problems.append(f"waves[{i}].demand: a wave adds nodes or a target, not fill")
    if problems:
        raise InputError([_problem(origin, p) for p in problems])


def _problem(origin: str, text: str) -> Problem:
    path, _, msg = text.partition(": ")
    return Problem(origin, path, msg)


# --- the file ----------------------------------------------------------------------------------------

class WaveEntry(StrictModel):
    """One wave: a date, what it delivers and, optionally, when it retires.

    A wave holds exactly one of ``nodes`` or ``target`` with ``candidates``."""

    name: str | None = None
    """Short name, letters, digits, ``.``, ``_`` or ``-`` (it names the wave's files); default
    ``wave-1``, ``wave-2``, ... in file order."""
    date: str
    """The month the wave goes in, ``YYYY-MM``. Waves come in date order; a wave may only use nodes
    available by then (a projected node's ``available_from`` in the spec library)."""
    nodes: dict[str, int] | None = None
    """Exactly these nodes: node id -> count."""
    target: Target | None = None
    """At least this much (``gpus``, ``fp8_pflops`` or ``hbm_tb``), choosing the mix among
    ``candidates``."""
    candidates: list[str] | None = Field(None, min_length=1, max_length=20)
    """Node ids the wave may choose among to meet ``target``."""
    retire: str | None = None
    """The month the wave's nodes leave and free their racks, ``YYYY-MM``; none: they stay to the
    horizon."""
    description: str | None = None
    """Free text for people."""

    @field_validator("date", "retire")
    @classmethod
    def _months(cls, value: str | None, info) -> str | None:
        return _month(value, info.field_name)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME.match(value):
            raise ValueError(f"a wave's name is 1-40 letters, digits, '.', '_' or '-' (it names files), got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_demand(self) -> "WaveEntry":
        exactly_one_demand(self, ("nodes", "target"), "a wave")
        return self


class Sensitivity(StrictModel):
    """What the sensitivity study sweeps for the nodes that ship only after the first wave (e.g. MI400).

    By default: about seven months from the earliest projected availability to six months past the
    latest, and the accelerator's low, nominal and high TDP plus 1.5 and 2 times nominal."""

    available: list[str] | None = Field(None, min_length=1, max_length=24)
    """Availability months to try, ``YYYY-MM``."""
    tdp_w: list[float] | None = Field(None, min_length=1, max_length=12)
    """Accelerator power to try [W per GPU]."""

    @field_validator("available")
    @classmethod
    def _months(cls, value: list[str] | None) -> list[str] | None:
        for m in value or []:
            _month(m, "each month")
        return value

    @field_validator("tdp_w")
    @classmethod
    def _watts(cls, value: list[float] | None) -> list[float] | None:
        for w in value or []:
            if not 1 <= w <= 10_000:
                raise ValueError(f"watts must be within 1..10000, got {w!r}")
        return value


class WavesFile(StrictModel):
    """A waves file (``rackplan phases FACILITY --waves FILE``): the waves, the horizon and the money."""

    waves: list[WaveEntry] = Field(..., min_length=1, max_length=24)
    """The waves, in date order."""
    today: str | None = None
    """The month costs are discounted to, ``YYYY-MM``; default the first wave's month."""
    horizon: str | None = None
    """The month costs and GPU-hours are counted to, ``YYYY-MM``; default five years after the first
    wave."""
    discount_rate: float = Field(DEFAULT_DISCOUNT_RATE, ge=0, le=1)
    """Discount rate a year (0.08 = 8 %), applied month by month from ``today``."""
    value_per_gpu_hour_usd: float | None = Field(None, ge=0, le=100_000)
    """What a GPU-hour of the demand not delivered on time is worth to you [USD]: the cost of waiting.
    Needs waves in GPUs (``nodes``, or a ``gpus`` target). None: delay is reported, not priced."""
    years: float = Field(DEFAULT_YEARS, gt=0, le=30)
    """Years over which a node's purchase price is recovered (capital recovery at ``discount_rate``)."""
    basis: Literal["auto", "rent", "buy"] = "auto"
    """How a node's price becomes an annual cost: ``rent`` (12 x the rent per node-month), ``buy`` (the
    purchase price over ``years``), ``auto`` (rent where the library gives one, else the price)."""
    sensitivity: Sensitivity | None = None
    """What the sensitivity study sweeps for the nodes that ship after the first wave; default: about
    seven availability months across their projected range and six months past it, at their low,
    nominal and high TDP and 1.5 and 2 times nominal."""
    description: str | None = None
    """Free text for people."""

    @field_validator("today", "horizon")
    @classmethod
    def _months(cls, value: str | None, info) -> str | None:
        return _month(value, info.field_name)


# --- the validated waves -------------------------------------------------------------------------------

@dataclass
class WavesSpec:
    """A validated waves file (or ``--wave`` flags), resolved against the spec library."""

    waves: list[Wave]
    horizon: str
    today: str
    discount_rate: float = DEFAULT_DISCOUNT_RATE
    value_per_gpu_hour_usd: float | None = None
    years: float = DEFAULT_YEARS
    basis: str = "auto"
    sweep_dates: list[str] | None = None
    sweep_tdp_w: list[float] | None = None
    origin: str = CLI_FILE
    """The waves file's name, or ``<command line>``."""
    lines: LineMap = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    """For ``--wave`` flags: the text of each, to name it in messages."""
    description: str | None = None

    def where(self, path: str) -> tuple[str, int | None]:
        """How a problem at ``waves[i]...`` is named: the file's field and line, or the flag."""
        m = re.match(r"^waves\[(\d+)\]", path)
        if self.origin == CLI_FILE:
            if m and int(m[1]) < len(self.flags):
                return f"--wave {self.flags[int(m[1])]}", None
            return FLAGS.get(path, path), None
        loc: list[Any] = []
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
            loc.append(int(part[1:-1]) if part.startswith("[") else part)
        return path, line_for(self.lines, tuple(loc))

    def problem(self, path: str, message: str) -> Problem:
        shown, line = self.where(path)
        return Problem(self.origin, shown, message, line)

    def check(self, types: dict[str, NodeType]) -> None:
        """The cross-checks: waves in date order, each using only what is available by its date
        (:func:`check_waves`), retirements after the wave, today no later than the first wave, the horizon
        after the last; the cost of delay needs waves in GPUs. Every problem, one line each."""
        problems = []
        try:
            check_waves(self.waves, types, self.origin)
        except InputError as exc:
            problems += [self.problem(p.path, p.message) for p in exc.problems]
        first, last = self.waves[0].date, max(w.date for w in self.waves)
        if month_index(self.today) > month_index(first):
            problems.append(self.problem("today", f"{self.today} is after the first wave ({first})"))
        if month_index(self.horizon) <= month_index(last):
            problems.append(self.problem("horizon", f"{self.horizon} must come after every wave (the last is {last})"))
        if self.value_per_gpu_hour_usd is not None:
            for i, w in enumerate(self.waves):
                if w.demand.kind == "target" and w.demand.metric != "gpus":
                    problems.append(self.problem(
                        f"waves[{i}].target", f"the cost of delay (value_per_gpu_hour_usd) counts GPUs; this wave "
                        f"asks for {METRIC_LABEL[w.demand.metric]}"))  # type: ignore[index]
        if problems:
            raise InputError(problems)

    @property
    def node_ids(self) -> list[str]:
        """Every node id any wave names, in first-named order."""
        return list(dict.fromkeys(nid for w in self.waves for nid in w.demand.node_ids))

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "description": self.description, "today": self.today,
                "horizon": self.horizon, "discount_rate": self.discount_rate,
                "value_per_gpu_hour_usd": self.value_per_gpu_hour_usd, "years": self.years, "basis": self.basis,
                "waves": [w.to_json() for w in self.waves],
                "sensitivity": {"available": self.sweep_dates, "tdp_w": self.sweep_tdp_w}}


def _wave_demand(e: WaveEntry, i: int, cat: Catalogue, name: str, lines: LineMap) -> Demand:
    """A wave's demand, its node ids checked against the library (problems name ``waves[i]...``)."""
    if e.nodes is not None:
        problems = [Problem(name, format_path(("waves", i, "nodes", k)), f"count must be a positive integer, got {v!r}",
                            line_for(lines, ("waves", i, "nodes", k))) for k, v in e.nodes.items() if v <= 0]
        if not e.nodes:
            problems.append(Problem(name, format_path(("waves", i, "nodes")), "no nodes given",
                                    line_for(lines, ("waves", i, "nodes"))))
        if problems:
            raise InputError(problems)
        check_ids([(k, ("waves", i, "nodes", k)) for k in e.nodes], cat, name, lines)
        return Demand("nodes", nodes=dict(e.nodes), origin=name)
    assert e.target is not None and e.candidates is not None
    check_ids([(c, ("waves", i, "candidates", j)) for j, c in enumerate(e.candidates)], cat, name, lines)
    dupes = sorted({c for c in e.candidates if e.candidates.count(c) > 1})
    if dupes:
        raise InputError.one(name, format_path(("waves", i, "candidates")), f"listed twice: {', '.join(dupes)}",
                             line_for(lines, ("waves", i, "candidates")))
    metric = next(k for k in ("gpus", "fp8_pflops", "hbm_tb") if getattr(e.target, k) is not None)
    return Demand("target", metric=metric, amount=float(getattr(e.target, metric)),  # type: ignore[arg-type]
                  candidates=tuple(e.candidates), origin=name)


def from_model(model: WavesFile, cat: Catalogue, name: str, lines: LineMap | None = None,
               flags: list[str] | None = None) -> WavesSpec:
    """The validated file as :class:`WavesSpec` (defaults filled in). Every wave's problems together."""
    lines = lines or {}
    waves, problems = [], []
    names: dict[str, int] = {}
    for i, e in enumerate(model.waves):
        wname = e.name or f"wave-{i + 1}"
        if wname in names:
            problems.append(Problem(name, format_path(("waves", i, "name")),
                                    f"'{wname}' is the name of waves[{names[wname]}] too", line_for(lines, ("waves", i, "name"))))
        names.setdefault(wname, i)
        try:
            waves.append(Wave(wname, e.date, _wave_demand(e, i, cat, name, lines), e.retire))
        except InputError as exc:
            problems += exc.problems
    spec = WavesSpec(waves, horizon="", today="", origin=name, lines=lines, flags=list(flags or []))
    if problems:
        raise InputError([spec.problem(p.path, p.message) if name == CLI_FILE else p for p in problems])
    first = min(e.date for e in model.waves)
    spec.today = model.today or first
    spec.horizon = model.horizon or add_months(first, 12 * DEFAULT_HORIZON_YEARS)
    spec.discount_rate = model.discount_rate
    spec.value_per_gpu_hour_usd = model.value_per_gpu_hour_usd
    spec.years = model.years
    spec.basis = model.basis
    if model.sensitivity is not None:
        spec.sweep_dates = sorted(set(model.sensitivity.available or [])) or None
        spec.sweep_tdp_w = sorted(set(model.sensitivity.tdp_w or [])) or None
    spec.description = model.description
    return spec


def load_waves(path: str, cat: Catalogue) -> WavesSpec:
    """Read and validate a waves file (the library cross-checks come with :meth:`WavesSpec.check`)."""
    data, lines = load_yaml(path, path)
    model = validate(WavesFile, data, path, lines)
    return from_model(model, cat, path, lines)


# --- the command line ---------------------------------------------------------------------------------

_TARGET = re.compile(r"^(gpus|fp8[_-]pflops|hbm[_-]tb)=(.+)$")


def parse_wave_flag(text: str) -> dict[str, Any]:
    """``--wave DATE:WHAT[:...]`` as a waves-file entry, where WHAT is a target and its candidates
    (``gpus=1024:b200-8x-dlc,b200-8x-air``) or exact nodes (``b200-8x-dlc=64,mi400-8x=32``), and the
    optional parts are ``retire=YYYY-MM`` and ``name=NAME``."""
    flag = f"--wave {text}"
    parts = [p.strip() for p in text.split(":")]
    if len(parts) < 2 or not parts[0]:
        raise InputError.one(CLI_FILE, flag, "expected DATE:gpus=N:ID[,ID...] or DATE:ID=N[,ID=N...] "
                                             "(e.g. 2027-01:gpus=1024:b200-8x-dlc)")
    entry: dict[str, Any] = {"date": parts[0]}
    for part in parts[1:]:
        if not part:
            continue
        key, _, value = part.partition("=")
        if m := _TARGET.match(part):
            if "target" in entry:
                raise InputError.one(CLI_FILE, flag, "give one target")
            metric = m[1].replace("-", "_")
            try:
                number: float = int(m[2]) if metric == "gpus" else float(m[2])
            except ValueError:
                raise InputError.one(CLI_FILE, flag, f"'{m[2]}' is not a {'whole ' if metric == 'gpus' else ''}number") from None
            entry["target"] = {metric: number}
        elif key in ("retire", "name") and value:
            entry[key] = value
        elif "=" in part:
            if "nodes" in entry:
                raise InputError.one(CLI_FILE, flag, "give the nodes once (ID=N,ID=N)")
            entry["nodes"] = {k: int(v) for k, v in parse_pairs(part, flag, int).items()}
        else:
            if "candidates" in entry:
                raise InputError.one(CLI_FILE, flag, "give the candidates once (ID,ID)")
            entry["candidates"] = [c.strip() for c in part.split(",") if c.strip()]
    return entry


def from_flags(flags: list[str], cat: Catalogue, **settings: Any) -> WavesSpec:
    """A :class:`WavesSpec` from ``--wave`` flags and the settings given as flags (None: the default)."""
    entries, problems = [], []
    for i, text in enumerate(flags):
        try:
            entry = parse_wave_flag(text)
            WaveEntry.model_validate(entry)
            entries.append(entry)
        except InputError as exc:
            problems += exc.problems
        except ValidationError as exc:
            problems += [Problem(CLI_FILE, f"--wave {text}", p.message)
                         for p in problems_from_validation(exc, CLI_FILE, {}, WaveEntry)]
    if problems:
        raise InputError(problems)
    data: dict[str, Any] = {"waves": entries} | {k: v for k, v in settings.items() if v is not None}
    try:
        model = WavesFile.model_validate(data)
    except ValidationError as exc:
        raise InputError([Problem(CLI_FILE, FLAGS.get(p.path, p.path), p.message)
                          for p in problems_from_validation(exc, CLI_FILE, {}, WavesFile)]) from None
    return from_model(model, cat, CLI_FILE, {}, flags)


def with_settings(spec: WavesSpec, **settings: Any) -> WavesSpec:
    """The file's settings overridden by the flags given (None: not given): ``today``, ``horizon``,
    ``discount_rate``, ``value_per_gpu_hour_usd``, ``years``, ``basis``. Each is checked like the file's."""
    given = {k: v for k, v in settings.items() if v is not None}
    if not given:
        return spec
    probe = {"waves": [{"date": spec.waves[0].date, "nodes": {"x": 1}}]} | given
    try:
        WavesFile.model_validate(probe)
    except ValidationError as exc:
        raise InputError([Problem(CLI_FILE, FLAGS.get(p.path, p.path), p.message)
                          for p in problems_from_validation(exc, CLI_FILE, {}, WavesFile)]) from None
    for key, value in given.items():
        setattr(spec, key, value)
    return spec
