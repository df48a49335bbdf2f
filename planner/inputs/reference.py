"""The YAML reference (``docs/reference.md``) and the JSON Schema, generated from the pydantic
models so they cannot go stale: ``rackplan schema --markdown`` prints the reference, ``rackplan
schema`` the schema, and a test fails when the committed reference differs.

Each field is documented by the docstring under it (STYLE.md item 3). Those docstrings are read here,
from the models' source, only when a reference or schema is asked for: asking pydantic to collect them
(``use_attribute_docstrings``) would cost every command ~30 ms of start-up to parse source it never shows.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from planner.inputs.demand import DemandFile, PriceEntry, Range, Target, Uncertainty
from planner.inputs.facility import (CduGroup, CoolingOverrides, CoolingSettings, CoolingUnits, Existing, Facility,
                                     Feed, Hall, Overhead, Panel, PowerSource, PowerTree, RackType, Row, Site)
from planner.inputs.specs import Accelerator, Availability, Figure, NodePower, NodeProfile, Source, SpecFile
from planner.inputs.waves import Sensitivity, WaveEntry, WavesFile

SECTIONS: list[tuple[str, str, list[type[BaseModel]]]] = [
    ("Facility descriptor", "A facility file (`facilities/*.yaml`). Unknown keys are errors.",
     [Facility, Site, CoolingOverrides, CoolingSettings, RackType, Feed, Overhead, Hall, CoolingUnits, CduGroup, Row,
      Existing, PowerTree, PowerSource, Panel]),
    ("Demand file", "A demand file (`--demand FILE`): exactly one of `nodes`, `target` with `candidates`, "
                    "or `fill`.", [DemandFile, Target, PriceEntry, Uncertainty, Range]),
    ("Spec file", "The bundled library (`gpu_specs/*.yaml`) and a user's `--specs FILE` share this shape.",
     [SpecFile, Source, Accelerator, NodeProfile, NodePower, Figure, Availability]),
    ("Waves file", "A waves file (`rackplan phases FACILITY --waves FILE`): the waves of a deployment over "
                   "time, the horizon and the money.", [WavesFile, WaveEntry, Sensitivity]),
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


@functools.lru_cache(maxsize=None)
def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the docstring written under it in the class body (this class and its bases)."""
    out: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for stmt, nxt in zip(body, body[1:]):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
                out[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return out


def _models(model: type[BaseModel], seen: dict[str, type[BaseModel]] | None = None) -> dict[str, type[BaseModel]]:
    """Every model reachable from ``model`` through its fields, by class name."""
    seen = {} if seen is None else seen
    if model.__name__ in seen:
        return seen
    seen[model.__name__] = model
    for f in model.model_fields.values():
        stack = [f.annotation]
        while stack:
            a = stack.pop()
            if isinstance(a, type) and issubclass(a, BaseModel):
                _models(a, seen)
            stack.extend(typing.get_args(a))
    return seen


def json_schema(model: type[BaseModel]) -> dict[str, typing.Any]:
    """The JSON Schema of an input format, with every field's docstring as its description."""
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    defs = schema.get("$defs", {})
    for name, cls in _models(model).items():
        target = schema if cls is model else defs.get(name)
        if target is None:
            continue
        docs = field_docs(cls)
        for fname, field in cls.model_fields.items():
            prop = target.get("properties", {}).get(field.alias or fname)
            if prop is not None and fname in docs:
                prop["description"] = docs[fname]
    return schema


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
                desc = " ".join(field_docs(model).get(name, "").split()).replace("|", "\\|")
                out.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {desc} |")
            out.append("")
    return "\n".join(out)
