"""The YAML reference (``docs/reference.md``), generated from the pydantic models so it cannot go
stale: ``rackplan schema --markdown`` prints it, and a test fails when the committed file differs."""

from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from planner.inputs.demand import DemandFile, Target
from planner.inputs.facility import (CoolingOverrides, CoolingSettings, CoolingUnits, Existing, Facility, Feed, Hall,
                              RackType, Row, Site)
from planner.inputs.specs import Accelerator, Availability, Figure, NodePower, NodeProfile, Source, SpecFile

SECTIONS: list[tuple[str, str, list[type[BaseModel]]]] = [
    ("Facility descriptor", "A facility file (`facilities/*.yaml`). Unknown keys are errors.",
     [Facility, Site, CoolingOverrides, CoolingSettings, RackType, Feed, Hall, CoolingUnits, Row, Existing]),
    ("Demand file", "A demand file (`--demand FILE`): exactly one of `nodes`, `target` with `candidates`, "
                    "or `fill`.", [DemandFile, Target]),
    ("Spec file", "The bundled library (`gpu_specs/*.yaml`) and a user's `--specs FILE` share this shape.",
     [SpecFile, Source, Accelerator, NodeProfile, NodePower, Figure, Availability]),
]


def _type_name(annotation: typing.Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (list,):
        return f"list of {_type_name(args[0])}"
    if origin in (dict,):
        return f"mapping of name to {_type_name(args[1])}"
    if origin is not None and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return " or ".join(_type_name(a) for a in rest)
    if origin is not None:
        return " or ".join(_type_name(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return {int: "integer", float: "number", str: "text", bool: "true/false"}.get(annotation, str(annotation))


def _default(field: typing.Any) -> str:
    if field.is_required():
        return "required"
    value = field.default
    if value is PydanticUndefined:
        value = field.default_factory() if field.default_factory else None
    if isinstance(value, BaseModel):
        return "(see below)"
    if value in ({}, []):
        return "empty"
    return "none" if value is None else f"`{value}`"


def markdown() -> str:
    out = ["# Input reference", "",
           "Generated from the pydantic models by `rackplan schema --markdown`; do not edit by hand.",
           "Units are in the key names: `_kw` kilowatts, `_kg` kilograms, `_usd` US dollars, `_w` watts,",
           "`u` rack units. Every key below is accepted; any other key is an error that names the file,",
           "the field path and the line.", ""]
    for title, intro, models in SECTIONS:
        out += [f"## {title}", "", intro, ""]
        for model in models:
            doc = (model.__doc__ or "").strip().splitlines()[0]
            out += [f"### {model.__name__}", "", doc, "", "| key | type | default | meaning |", "|---|---|---|---|"]
            for name, field in model.model_fields.items():
                key = field.alias or name
                desc = " ".join((field.description or "").split()).replace("|", "\\|")
                out.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {desc} |")
            out.append("")
    return "\n".join(out)
