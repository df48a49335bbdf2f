"""What must be placed: exact node counts, a target with candidates, or fill.

A demand file holds exactly one of ``nodes``, ``target`` + ``candidates`` or ``fill`` (CONTRACT.md);
the command line can say the same (``--nodes``, ``--gpus``/``--fp8-pflops``/``--hbm-tb`` with
``--candidates``, ``--fill``). Command-line flags override the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import Field, model_validator

from planner.errors import InputError, Problem
from planner.vocabulary import CLI_FILE
from planner.inputs.facility import StrictModel
from planner.inputs.specs import Catalogue, Figure, suggest
from planner.inputs.yamlio import LineMap, format_path, line_for, load_yaml, validate

CLI = CLI_FILE
Metric = Literal["gpus", "fp8_pflops", "hbm_tb"]
METRIC_LABEL = {"gpus": "GPUs", "fp8_pflops": "FP8 PFLOPS (dense)", "hbm_tb": "HBM TB"}


class Target(StrictModel):
    """A quantity to reach; exactly one key."""

    gpus: int | None = Field(None, gt=0, le=100_000_000)
    """Number of accelerators."""
    fp8_pflops: float | None = Field(None, gt=0, le=1e8)
    """Peak dense FP8 compute [PFLOPS]."""
    hbm_tb: float | None = Field(None, gt=0, le=1e8)
    """Accelerator memory [TB]."""

    @model_validator(mode="after")
    def _one(self) -> "Target":
        given = [k for k in ("gpus", "fp8_pflops", "hbm_tb") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of gpus, fp8_pflops, hbm_tb")
        return self


class PriceEntry(StrictModel):
    """What one node costs: a purchase price and/or a rent, each a number or a figure with a range.

    A range (``{nominal, low, high}``) is drawn from in sweeps."""

    price_usd: Figure | None = None
    """Purchase price per node [USD]; turned into an annual cost over ``years`` at ``discount_rate``."""
    rent_usd_month: Figure | None = None
    """Rent per node-month [USD] (730 hours)."""
    basis: Literal["buy", "rent"] | None = None
    """Buy or rent this node; default: the one given, or the cheaper at nominal when both are known."""
    source: str | None = None
    """Where the price comes from (a quote, a price list); shown beside it in reports."""

    @model_validator(mode="after")
    def _some(self) -> "PriceEntry":
        if self.price_usd is None and self.rent_usd_month is None and self.basis is None:
            raise ValueError("give price_usd, rent_usd_month or basis")
        for name in ("price_usd", "rent_usd_month"):
            fig = getattr(self, name)
            if fig is not None and min(x for x in (fig.low, fig.nominal, fig.high) if x is not None) < 0:
                raise ValueError(f"{name} must be at least 0")
        return self


class Range(StrictModel):
    """A site figure's range, drawn from a triangular distribution on low, nominal, high in sweeps."""

    low: float = Field(ge=0)
    """Lowest value."""
    high: float = Field(ge=0)
    """Highest value."""
    nominal: float | None = Field(None, ge=0)
    """Most likely value; default: the facility's own (or the middle of the range, if outside it)."""

    @model_validator(mode="after")
    def _order(self) -> "Range":
        if self.high < self.low:
            raise ValueError(f"high ({self.high:g}) is below low ({self.low:g})")
        if self.nominal is not None and not self.low <= self.nominal <= self.high:
            raise ValueError(f"nominal {self.nominal:g} is outside {self.low:g}..{self.high:g}")
        return self


class Uncertainty(StrictModel):
    """Site figures the user is unsure of, drawn in sweeps (``rackplan sweep``, ``compare --samples``)."""

    electricity_usd_per_kwh: Range | None = None
    """Electricity price range [USD/kWh]."""
    load_factor: Range | None = None
    """Average draw / maximum draw range [0..1]."""

    @model_validator(mode="after")
    def _load_factor(self) -> "Uncertainty":
        lf = self.load_factor
        if lf is not None and (lf.high > 1 or lf.low <= 0):
            raise ValueError("load_factor must lie within (0, 1]")
        return self


def exactly_one_demand(model: Any, kinds: tuple[str, ...], what: str) -> None:
    """``model`` (a demand file, a wave) holds exactly one of ``kinds``, and ``candidates`` exactly
    when it holds a target. Raises ValueError saying what is wrong."""
    given = [k for k in kinds if getattr(model, k) is not None]
    if len(given) != 1:
        labels = [k + (" (with candidates)" if k == "target" else "") for k in kinds]
        raise ValueError(f"{what} holds exactly one of {', '.join(labels[:-1])} or {labels[-1]}"
                         + (f"; got {', '.join(given)}" if given else ""))
    if model.target is not None and not model.candidates:
        raise ValueError("a target needs candidates: the node ids to choose among")
    if model.candidates is not None and model.target is None:
        raise ValueError("candidates go with a target")


class DemandFile(StrictModel):
    """A demand file: exactly one of ``nodes``, ``target`` (with ``candidates``) or ``fill``."""

    nodes: dict[str, int] | None = None
    """Place exactly these nodes: node id -> count."""
    target: Target | None = None
    """Reach at least this target, choosing the mix among ``candidates``."""
    candidates: list[str] | None = Field(None, min_length=1, max_length=20)
    """Node ids the optimizer may choose among to meet ``target``."""
    fill: str | None = None
    """Place as many nodes of this id as fit, then at least cost."""
    tdp: dict[str, float] | None = None
    """What-if accelerator power: accelerator id -> watts (like ``--tdp``)."""
    prices: dict[str, PriceEntry] | None = None
    """Node prices: node id -> purchase price and/or rent (like ``--price``), overriding the spec
    library's; ``plan`` prices a target only when every candidate has a price."""
    years: float | None = Field(None, gt=0, le=30)
    """Years over which a purchase is recovered (default 4; like ``--years``)."""
    discount_rate: float | None = Field(None, ge=0, lt=1)
    """Discount rate of the capital recovery factor (default 0, straight line; like ``--discount-rate``)."""
    uncertainty: Uncertainty | None = None
    """Site figures to draw in sweeps (electricity price, load factor)."""
    only: list[str] | None = Field(None, min_length=1, max_length=10_000)
    """Place only in these halls, rows or racks: ``HALL``, ``HALL/ROW`` or a rack id ``HALL/ROW/NN``
    (like ``--only``)."""
    exclude: list[str] | None = Field(None, min_length=1, max_length=10_000)
    """Never place in these halls, rows or racks (like ``--exclude``)."""
    reserved: list[str] | None = Field(None, min_length=1, max_length=10_000)
    """Racks (or halls, rows) held for something else; nothing is placed there (added to the
    facility's ``reserved``)."""
    together: Literal["hall", "row"] | None = None
    """Keep every node of the demand in one hall (or one row): a training cluster's fabric spans a
    pod, not a campus (like ``--together``)."""
    description: str | None = None
    """Free text for people."""

    @model_validator(mode="after")
    def _exactly_one(self) -> "DemandFile":
        exactly_one_demand(self, ("nodes", "target", "fill"), "a demand")
        return self


@dataclass(frozen=True)
class Demand:
    """A validated demand, resolved against the spec catalogue."""

    kind: Literal["nodes", "target", "fill"]
    nodes: dict[str, int] = field(default_factory=dict)
    metric: Metric | None = None
    amount: float = 0.0
    candidates: tuple[str, ...] = ()
    fill: str | None = None
    only: tuple[str, ...] = ()
    """Placement controls: place only in these halls, rows or racks (empty: anywhere)."""
    exclude: tuple[str, ...] = ()
    """Never place in these."""
    reserved: tuple[str, ...] = ()
    """Held for something else (besides the facility's own ``reserved``)."""
    together: str | None = None
    """``hall`` or ``row``: every node of the demand in one of them."""
    origin: str = CLI
    """Where the controls were given: a demand file's name, or ``<command line>``."""

    def with_controls(self, **controls) -> "Demand":
        """The same demand with placement controls set (command-line flags override the file's)."""
        given = {k: v for k, v in controls.items() if v not in (None, ())}
        return replace(self, **given) if given else self

    @property
    def controls(self) -> dict:
        """The placement controls, as plan.json records them (empty when none)."""
        out: dict = {}
        for key in ("only", "exclude", "reserved"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        if self.together:
            out["together"] = self.together
        return out

    @property
    def node_ids(self) -> list[str]:
        if self.kind == "nodes":
            return list(self.nodes)
        if self.kind == "target":
            return list(self.candidates)
        return [self.fill]  # type: ignore[list-item]

    def describe(self) -> str:
        if self.kind == "nodes":
            text = "place " + ", ".join(f"{n} x {i}" for i, n in self.nodes.items())
        elif self.kind == "target":
            amount = f"{self.amount:g}"
            text = f"at least {amount} {METRIC_LABEL[self.metric]} from {', '.join(self.candidates)}"  # type: ignore[index]
        else:
            text = f"fill with as many {self.fill} as fit"
        return text + describe_controls(self.controls)

    def to_json(self) -> dict:
        if self.kind == "nodes":
            out = {"kind": "nodes", "nodes": dict(self.nodes)}
        elif self.kind == "target":
            out = {"kind": "target", "target": {self.metric: self.amount}, "candidates": list(self.candidates)}
        else:
            out = {"kind": "fill", "fill": self.fill}
        return out | self.controls


def check_controls(demand: Demand, fac) -> None:
    """Every hall, row or rack the demand's placement controls name exists in the facility; one
    problem per name that does not, naming the flag (``--only``) or the file's field (``only[1]``).
    Then ``only`` and ``exclude`` must leave at least one rack to place into (:func:`_no_rack_left`)."""
    from planner.inputs.facility import scope_problem

    problems = []
    for key in ("only", "exclude", "reserved"):
        for i, scope in enumerate(getattr(demand, key)):
            msg = scope_problem(fac, scope)
            if msg:
                path = f"--{key} {scope}" if demand.origin == CLI else f"{key}[{i}]"
                problems.append(Problem(demand.origin, path, msg))
    if problems:
        raise InputError(problems)
    if demand.only or demand.exclude:
        problem = _no_rack_left(demand, fac)
        if problem is not None:
            raise InputError([problem])


def _no_rack_left(demand: Demand, fac) -> Problem | None:
    """The problem when ``only`` and ``exclude`` (with the reserved racks) rule out every rack of the
    facility, else None: bad input, not a demand too large. Each rack is counted once, under the
    first reason that rules it out: outside ``only``, reserved, excluded."""
    import numpy as np

    from planner.inputs.facility import in_scopes

    frame = fac.racks.frame
    outside = ~in_scopes(frame, demand.only) if demand.only else np.zeros(len(frame), dtype=bool)
    reserved = in_scopes(frame, list(fac.reserved) + list(demand.reserved)) & ~outside
    excluded = in_scopes(frame, demand.exclude) & ~reserved & ~outside
    if not (reserved | outside | excluded).all():
        return None
    flag = {key: f"--{key}" if demand.origin == CLI else key for key in ("only", "exclude")}
    given = [flag[key] for key in ("only", "exclude") if getattr(demand, key)]
    why = [f"{int(n):,} {what}" for n, what in ((outside.sum(), f"outside {flag['only']}"), (reserved.sum(), "reserved"),
                                                 (excluded.sum(), "excluded")) if n]
    return Problem(demand.origin, " and ".join(given),
                   f"{'leaves' if len(given) == 1 else 'leave'} no rack to place into "
                   f"(of the facility's {len(frame):,} rack{'' if len(frame) == 1 else 's'}, {', '.join(why)})")


def describe_controls(controls: dict) -> str:
    """``; only in hall-1, hall-2/A; all in one hall`` (empty when there are none)."""
    parts = []
    if controls.get("only"):
        parts.append("only in " + ", ".join(controls["only"]))
    if controls.get("exclude"):
        parts.append("not in " + ", ".join(controls["exclude"]))
    if controls.get("reserved"):
        parts.append("reserved: " + ", ".join(controls["reserved"]))
    if controls.get("together"):
        parts.append(f"all in one {controls['together']}")
    return "".join(f"; {p}" for p in parts)


def check_ids(ids: list[tuple[str, tuple]], cat: Catalogue, name: str, lines: LineMap) -> None:
    """Every node id names a profile in the catalogue; unknown ones list close valid ids."""
    problems = [
        Problem(name, format_path(loc), f"unknown node id '{nid}'; {suggest(nid, sorted(cat.nodes))}", line_for(lines, loc))
        for nid, loc in ids if nid not in cat.nodes
    ]
    if problems:
        raise InputError(problems)


def from_model(d: DemandFile, cat: Catalogue, name: str, lines: LineMap | None = None) -> Demand:
    return _demand_of(d, cat, name, lines).with_controls(
        only=tuple(d.only or ()), exclude=tuple(d.exclude or ()), reserved=tuple(d.reserved or ()),
        together=d.together, origin=name)


def _demand_of(d: DemandFile, cat: Catalogue, name: str, lines: LineMap | None = None) -> Demand:
    lines = lines or {}
    if d.nodes is not None:
        problems = [Problem(name, format_path(("nodes", k)), f"count must be a positive integer, got {v!r}",
                            line_for(lines, ("nodes", k))) for k, v in d.nodes.items() if v <= 0]
        if not d.nodes:
            problems.append(Problem(name, "nodes", "no nodes given", line_for(lines, ("nodes",))))
        if problems:
            raise InputError(problems)
        check_ids([(k, ("nodes", k)) for k in d.nodes], cat, name, lines)
        return Demand("nodes", nodes=dict(d.nodes))
    if d.target is not None:
        assert d.candidates is not None
        check_ids([(c, ("candidates", i)) for i, c in enumerate(d.candidates)], cat, name, lines)
        dupes = sorted({c for c in d.candidates if d.candidates.count(c) > 1})
        if dupes:
            raise InputError.one(name, "candidates", f"listed twice: {', '.join(dupes)}", line_for(lines, ("candidates",)))
        metric = next(k for k in ("gpus", "fp8_pflops", "hbm_tb") if getattr(d.target, k) is not None)
        return Demand("target", metric=metric, amount=float(getattr(d.target, metric)),  # type: ignore[arg-type]
                      candidates=tuple(d.candidates))
    assert d.fill is not None
    check_ids([(d.fill, ("fill",))], cat, name, lines)
    return Demand("fill", fill=d.fill)


def load_demand(path: str, cat: Catalogue) -> tuple[Demand, dict[str, float]]:
    """Read a demand file. Returns the demand and its TDP what-ifs (accelerator id -> W)."""
    data, lines = load_yaml(path, path)
    model = validate(DemandFile, data, path, lines)
    demand = from_model(model, cat, path, lines)
    tdp = dict(model.tdp or {})
    check_tdp(tdp, cat, path, lines)
    return demand, tdp


def read_demand(path: str, cat: Catalogue) -> tuple[Demand, DemandFile]:
    """Read a demand file with everything in it (prices, years, uncertainty), checking node ids."""
    data, lines = load_yaml(path, path)
    model = validate(DemandFile, data, path, lines)
    demand = from_model(model, cat, path, lines)
    check_tdp(dict(model.tdp or {}), cat, path, lines)
    check_ids([(k, ("prices", k)) for k in model.prices or {}], cat, path, lines)
    return demand, model


def check_tdp(tdp: dict[str, float], cat: Catalogue, name: str, lines: LineMap | None = None) -> None:
    lines = lines or {}
    problems = []
    for acc, watts in tdp.items():
        loc = ("tdp", acc)
        if acc not in cat.accelerators:
            problems.append(Problem(name, format_path(loc),
                                    f"unknown accelerator '{acc}'; {suggest(acc, sorted(cat.accelerators))}",
                                    line_for(lines, loc)))
        elif not (isinstance(watts, (int, float)) and 1 <= watts <= 10_000) or watts != watts:
            problems.append(Problem(name, format_path(loc), f"watts must be within 1..10000, got {watts!r}",
                                    line_for(lines, loc)))
    if problems:
        raise InputError(problems) if name != CLI else _cli_paths(InputError(problems))



_CLI_FLAG_PATHS = (
    (re.compile(r"^(nodes|tdp)\.(.+)$"), lambda m: f"--{m[1]} {m[2]}"),
    (re.compile(r"^target\.(\w+)$"), lambda m: "--" + m[1].replace("_", "-")),
    (re.compile(r"^target$"), lambda m: "--gpus/--fp8-pflops/--hbm-tb"),
    (re.compile(r"^(nodes|tdp|candidates|fill)(\[\d+\])?$"), lambda m: f"--{m[1]}"),
)


def _cli_paths(exc: InputError) -> InputError:
    """Problems found in a demand built from flags name the flag (``--nodes b200-8x``), not the
    demand-file field it became (``nodes.b200-8x``)."""
    problems = []
    for p in exc.problems:
        path = p.path
        for pattern, flag in _CLI_FLAG_PATHS:
            if m := pattern.match(path):
                path = flag(m)
                break
        problems.append(Problem(p.file, path, p.message, p.line))
    return InputError(problems)


def parse_pairs(text: str, flag: str, value_kind: type) -> dict[str, float]:
    """``a=1,b=2`` -> ``{'a': 1, 'b': 2}``; a malformed pair is an :class:`InputError` naming the flag."""
    out: dict[str, float] = {}
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError.one(CLI, flag, f"expected ID=NUMBER, got '{part}'")
        try:
            number = value_kind(value.strip())
        except ValueError:
            raise InputError.one(CLI, flag, f"'{value.strip()}' is not a {'whole ' if value_kind is int else ''}number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InputError.one(CLI, flag, f"'{value.strip()}' is not a finite number")
        if key.strip() in out:
            raise InputError.one(CLI, flag, f"'{key.strip()}' given twice")
        out[key.strip()] = number
    if not out:
        raise InputError.one(CLI, flag, "nothing given")
    return out


def from_cli(cat: Catalogue, nodes: str | None = None, gpus: int | None = None,
             fp8_pflops: float | None = None, hbm_tb: float | None = None,
             candidates: str | None = None, fill: str | None = None) -> Demand | None:
    """A demand from command-line flags, or None when no demand flag was given."""
    targets = {k: v for k, v in (("gpus", gpus), ("fp8_pflops", fp8_pflops), ("hbm_tb", hbm_tb)) if v is not None}
    kinds = [k for k, given in (("--nodes", nodes is not None), ("--gpus/--fp8-pflops/--hbm-tb", bool(targets)),
                                ("--fill", fill is not None)) if given]
    if not kinds and candidates is None:
        return None
    if len(kinds) > 1:
        raise InputError.one(CLI, "", f"give one kind of demand, not {' and '.join(kinds)}")
    if len(targets) > 1:
        raise InputError.one(CLI, "", "give one of --gpus, --fp8-pflops, --hbm-tb")
    if candidates is not None and not targets:
        raise InputError.one(CLI, "--candidates", "--candidates goes with a target: --gpus, --fp8-pflops or --hbm-tb")
    data: dict = {}
    if nodes is not None:
        data["nodes"] = {k: int(v) for k, v in parse_pairs(nodes, "--nodes", int).items()}
    elif targets:
        if candidates is None:
            raise InputError.one(CLI, "--candidates", "a target (--gpus, --fp8-pflops, --hbm-tb) needs --candidates ID[,ID...]")
        data["target"] = targets
        data["candidates"] = [c.strip() for c in candidates.split(",") if c.strip()]
    elif fill is not None:
        data["fill"] = fill.strip()
    else:
        raise InputError.one(CLI, "--candidates", "--candidates goes with a target: --gpus, --fp8-pflops or --hbm-tb")
    from pydantic import ValidationError

    from planner.inputs.yamlio import problems_from_validation

    try:
        model = DemandFile.model_validate(data)
    except ValidationError as exc:
        raise _cli_paths(InputError(problems_from_validation(exc, CLI, {}, DemandFile))) from None
    try:
        return from_model(model, cat, CLI)
    except InputError as exc:
        raise _cli_paths(exc) from None
