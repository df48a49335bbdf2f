"""A NetBox devicetype-library file as a node profile (``--specs FILE``).

The community devicetype-library (github.com/netbox-community/devicetype-library) describes a server
as ``manufacturer``, ``model``, ``slug``, ``u_height``, ``weight``/``weight_unit`` and ``power-ports``
with ``maximum_draw`` [W]. It knows nothing of GPUs, so the figures rackplan needs besides are given
in the same file under one extra key::

    rackplan:
      gpus: 8                   # required
      accelerator: h100         # required: an accelerator id of the spec library (rackplan specs)
      liquid_fraction: 0.0      # share of its heat to the rack's liquid loop (default 0: air-cooled)
      max_kw: 10.2              # design load; default: the power ports' maximum_draw added up
      id: my-server             # node id; default the file's slug
      status: shipping          # shipping | announced | projected (default shipping)
      confidence: B             # A | B | C (default B: a community file)
      form_factor: eia-19       # eia-19 | orv3 | orw (default eia-19)

The library's own schema allows no extra key, so keep such a file in your own repository. The node
id is the file's ``slug`` by default, which is also the device type slug ``rackplan netbox export``
looks for: a plan made with the file exports onto the device type imported into NetBox from it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from planner.errors import InputError, Problem
from planner.inputs.facility import StrictModel
from planner.inputs.yamlio import LineMap, format_path, line_for, parse_yaml, problems_from_validation

WEIGHT_KG = {"kg": 1.0, "g": 0.001, "lb": 0.45359237, "oz": 0.028349523125}


class RackplanExtra(StrictModel):
    """The ``rackplan:`` key of a devicetype-library file: what the library does not say."""

    gpus: int = Field(gt=0, le=1024)
    """Accelerators in the server."""
    accelerator: str = Field(min_length=1)
    """Id of its accelerator in the spec library."""
    liquid_fraction: float = Field(0.0, ge=0, le=1)
    """Share of its heat that goes to the rack's liquid loop (0: air-cooled)."""
    max_kw: float | None = Field(None, gt=0, le=500)
    """Design (maximum) load [kW]; default: the power ports' ``maximum_draw`` added up."""
    weight_kg: float | None = Field(None, ge=0)
    """Weight [kg] when the file has none."""
    id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    """Node id; default the file's ``slug``."""
    status: Literal["shipping", "announced", "projected"] = "shipping"
    confidence: Literal["A", "B", "C"] = "B"
    form_factor: Literal["eia-19", "orv3", "orw"] = "eia-19"
    notes: str | None = None


def looks_like_devicetype(data: Any) -> bool:
    """A devicetype-library file has ``manufacturer``, ``model`` and ``u_height`` at the top, and no
    ``schema`` (a rackplan spec file has ``schema: rackplan.specs/1``)."""
    return isinstance(data, dict) and "schema" not in data and {"manufacturer", "model", "u_height"} <= set(data)


def parse_devicetype(text: str, name: str) -> tuple[Any, LineMap] | None:
    """The :class:`~planner.inputs.specs.SpecFile` of a devicetype-library file and its line map, or
    None when the text is not one (then it is read as a rackplan spec file)."""
    data, lines = parse_yaml(text, name)
    if not looks_like_devicetype(data):
        return None
    from planner.inputs.specs import SpecFile

    problems: list[Problem] = []

    def bad(loc: tuple, msg: str) -> None:
        problems.append(Problem(name, format_path(loc), msg, line_for(lines, loc)))

    raw = data.get("rackplan")
    if raw is None:
        raise InputError([Problem(name, "rackplan", "a devicetype-library file needs a 'rackplan:' key with at least "
                                  "gpus and accelerator (e.g. rackplan: {gpus: 8, accelerator: h100}); see docs/netbox.md",
                                  line_for(lines, ()))])
    try:
        extra = RackplanExtra.model_validate(raw)
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, name, lines, RackplanExtra, prefix=("rackplan",))) from None
    manufacturer, model = str(data.get("manufacturer") or ""), str(data.get("model") or "")
    slug = str(data.get("slug") or f"{manufacturer}-{model}".lower().replace(" ", "-"))
    nid = extra.id or slug
    u = data.get("u_height")
    if not isinstance(u, (int, float)) or isinstance(u, bool) or u <= 0 or float(u) != int(u):
        bad(("u_height",), f"must be a whole number of rack units above 0 for a server rackplan places, got {u!r}")
    ports = data.get("power-ports") or []
    draws = [p.get("maximum_draw") for p in ports if isinstance(p, dict)]
    watts = [float(d) for d in draws if isinstance(d, (int, float)) and not isinstance(d, bool) and d > 0]
    if extra.max_kw is not None:
        max_kw, note = extra.max_kw, "rackplan.max_kw in the devicetype file"
    elif not ports:
        bad(("power-ports",), "the device type has no power ports; add them with maximum_draw, or give rackplan.max_kw")
        max_kw, note = 0.0, ""
    elif len(watts) != len(ports):
        bad(("power-ports",), "every power port needs maximum_draw [W] (or give rackplan.max_kw)")
        max_kw, note = 0.0, ""
    else:
        max_kw = sum(watts) / 1000.0
        note = (f"the power ports' maximum_draw added up ({' + '.join(f'{w:g}' for w in watts)} W); with redundant "
                "PSUs that is more than the server draws: give rackplan.max_kw for its real maximum")
    weight = data.get("weight")
    if extra.weight_kg is not None:
        kg = extra.weight_kg
    elif isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight >= 0:
        unit = str(data.get("weight_unit") or "kg")
        if unit not in WEIGHT_KG:
            bad(("weight_unit",), f"unknown weight unit '{unit}' (kg, g, lb, oz)")
        kg = float(weight) * WEIGHT_KG.get(unit, 1.0)
    else:
        bad(("weight",), "no weight; add weight and weight_unit, or rackplan.weight_kg")
        kg = 0.0
    if problems:
        raise InputError(problems)
    source = f"devicetype:{slug}"
    doc = {
        "schema": "rackplan.specs/1",
        "sources": {source: {"title": f"NetBox devicetype-library file for {manufacturer} {model} ({name})",
                             "url": name, "publisher": "netbox-community/devicetype-library (community)",
                             "kind": "third-party"}},
        "nodes": {nid: {
            "name": f"{manufacturer} {model}", "vendor": manufacturer, "accelerator": extra.accelerator,
            "gpus": extra.gpus, "u": int(u), "form_factor": extra.form_factor,
            "cooling": "liquid" if extra.liquid_fraction > 0 else "air",
            "liquid_fraction": {"nominal": extra.liquid_fraction},
            "power": {"basis": "vendor_max", "max_kw": {"nominal": max_kw, "note": note}},
            "weight_kg": {"nominal": kg}, "status": extra.status, "confidence": extra.confidence,
            "sources": [source], "notes": extra.notes or data.get("comments") or None,
        }},
    }
    try:
        spec = SpecFile.model_validate(doc)
    except ValidationError as exc:
        raise InputError([Problem(name, "rackplan", f"{p.path}: {p.message}", line_for(lines, ("rackplan",)))
                          for p in problems_from_validation(exc, name, {}, SpecFile)]) from None
    # problems found later (an unknown accelerator) point at the rackplan key's lines
    mapped: LineMap = dict(lines)
    for key in ("accelerator", "gpus", "liquid_fraction", "max_kw"):
        if ("rackplan", key) in lines:
            mapped[("nodes", nid, key)] = lines[("rackplan", key)]
    mapped.setdefault(("nodes", nid), line_for(lines, ("rackplan",)) or 1)
    return spec, mapped
