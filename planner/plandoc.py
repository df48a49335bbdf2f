"""The shape of ``plan.json`` and ``compare.json`` when they come back as input (``rackplan check``,
``rackplan report``): a file that is valid JSON but not a plan is bad input (exit 2), named by field,
never an internal error. Extra fields are allowed, so newer plans still check."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.errors import InputError
from planner.yamlio import problems_from_validation


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class NodeTypeDoc(_Doc):
    gpus: int = Field(gt=0)
    u: int = Field(gt=0)
    max_kw: float = Field(gt=0)
    liquid_fraction: float = Field(ge=0, le=1)
    weight_kg: float = Field(ge=0)
    annual_cost_usd: float = 0.0
    fp8_pflops: float = 0.0
    hbm_tb: float = 0.0
    tdp_w: float | None = None
    point: Literal["low", "nominal", "high"] = "nominal"
    tdp_overridden: bool = False


class RackDoc(_Doc):
    id: str
    hall: str
    row: str
    rack_type: str
    nodes: dict[str, int]


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


class PlanDoc(_Doc):
    schema_: Literal["rackplan.plan/1"] = Field(alias="schema")
    demand: DemandDoc
    node_types: dict[str, NodeTypeDoc]
    racks: list[RackDoc]
    totals: dict[str, Any]


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


def _validate(model: type[BaseModel], data: Any, name: str) -> None:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, name, {}, model)) from None


def validate_plan(data: Any, name: str, for_report: bool = False) -> None:
    """Raise :class:`InputError` unless ``data`` has the shape of a plan (every field the checker, or
    with ``for_report`` the report, reads)."""
    _validate(PlanReportDoc if for_report else PlanDoc, data, name)


def validate_compare(data: Any, name: str) -> None:
    _validate(CompareDoc, data, name)
