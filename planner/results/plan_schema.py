"""The shape of ``plan.json`` and ``compare.json`` when they come back as input (``rackplan check``,
``rackplan report``): a file that is valid JSON but not a plan is bad input (exit 2), named by field,
never an internal error. Extra fields are allowed, so newer plans still check."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.errors import InputError
from planner.inputs.yamlio import problems_from_validation


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class NodeTypeDoc(_Doc):
    """The contract's five figures are required; the others are checked where given."""

    gpus: int = Field(gt=0)
    u: int = Field(gt=0)
    max_kw: float = Field(gt=0)
    liquid_fraction: float = Field(ge=0, le=1)
    weight_kg: float = Field(ge=0)
    annual_cost_usd: float | None = Field(None, ge=0)
    fp8_pflops: float | None = Field(None, ge=0)
    hbm_tb: float | None = Field(None, ge=0)
    tdp_w: float | None = Field(None, gt=0)
    point: Literal["low", "nominal", "high"] = "nominal"
    tdp_overridden: bool = False
    form_factor: Literal["eia-19", "orv3", "orw"] = "eia-19"


class RackDoc(_Doc):
    id: str
    hall: str
    row: str
    rack_type: str
    nodes: dict[str, int]
    it_kw: float | None = None
    air_heat_kw: float | None = None
    liquid_heat_kw: float | None = None
    u_used: int | None = None
    weight_kg: float | None = None


class RackReportDoc(RackDoc):
    it_kw: float
    air_heat_kw: float
    liquid_heat_kw: float
    u_used: int
    weight_kg: float
    utilization: dict[str, float]
    binding: str
    annual_usd: dict[str, float]


class DemandDoc(_Doc):
    kind: Literal["nodes", "target", "fill"]
    nodes: dict[str, int] | None = None
    target: dict[Literal["gpus", "fp8_pflops", "hbm_tb"], float] | None = None
    candidates: list[str] | None = None
    fill: str | None = None

    @model_validator(mode="after")
    def _kind(self) -> "DemandDoc":
        need = {"nodes": ("nodes",), "target": ("target", "candidates"), "fill": ("fill",)}[self.kind]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a '{self.kind}' demand needs {', '.join(missing)}")
        if self.target is not None and len(self.target) != 1:
            raise ValueError("target holds exactly one of gpus, fp8_pflops, hbm_tb")
        return self


class UsdDoc(_Doc):
    energy: float
    cooling: float
    racks: float
    nodes: float
    total: float


class TotalsDoc(_Doc):
    nodes: dict[str, int]
    gpus: int
    racks_used: int
    it_kw: float
    annual_usd: UsdDoc


class PowerElementDoc(_Doc):
    """One source or panel of ``power.elements``, as the checker compares it with its own simulation."""

    name: str
    normal_kw: float
    worst_kw: float


class PowerDoc(_Doc):
    elements: list[PowerElementDoc] | None = None


class PlanDoc(_Doc):
    """What the checker reads is required; the sections only the report needs are checked where
    given, so ``rackplan check`` refuses a malformed one as ``rackplan report`` does."""

    schema_: Literal["rackplan.plan/1"] = Field(alias="schema")
    demand: DemandDoc
    node_types: dict[str, NodeTypeDoc]
    racks: list[RackDoc]
    totals: TotalsDoc
    facility: dict[str, Any] | None = None
    solver: dict[str, Any] | None = None
    rack_types: dict[str, dict[str, Any]] | None = None
    rows: list[dict[str, Any]] | None = None
    halls: list[dict[str, Any]] | None = None
    assumptions: list[dict[str, Any]] | None = None
    power: PowerDoc | None = None
    cdus: list[dict[str, Any]] | None = None
    plant: dict[str, Any] | None = None
    binding: dict[str, Any] | None = None
    prices: dict[str, Any] | None = None


class PlanReportDoc(PlanDoc):
    racks: list[RackReportDoc]
    facility: dict[str, Any]
    solver: dict[str, Any]
    rack_types: dict[str, dict[str, Any]]
    rows: list[dict[str, Any]]
    halls: list[dict[str, Any]]
    assumptions: list[dict[str, Any]]


class CompareDoc(_Doc):
    schema_: Literal["rackplan.compare/1"] = Field(alias="schema")
    facility: dict[str, Any]
    candidates: list[str]
    rows: list[dict[str, Any]]
    break_even: list[dict[str, Any]]


def _validate(model: type[BaseModel], data: Any, name: str) -> dict[str, Any]:
    try:
        return model.model_validate(data).model_dump(by_alias=True)
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, name, {}, model)) from None


def validate_plan(data: Any, name: str, for_report: bool = False) -> dict[str, Any]:
    """The plan with its optional fields filled in; :class:`InputError` unless ``data`` has the shape
    of a plan (every field the checker, or with ``for_report`` the report, reads)."""
    return _validate(PlanReportDoc if for_report else PlanDoc, data, name)


def validate_compare(data: Any, name: str) -> None:
    _validate(CompareDoc, data, name)
