"""The independent plan checker: plain code that trusts nothing the optimizer says.

It reads a ``plan.json`` document and the facility it claims to be for and recomputes, rack by rack
and node by node with simple loops (deliberately not the numpy code that wrote the plan, nor any of
the optimizer's data structures), every load the plan puts anywhere: each rack's power, heat, space
and weight with its existing load and overhead, each row, hall, CDU group and the plant, and each
power source and panel. It then applies its **rules**, small functions in :data:`RULES`, each
of which looks at one kind of limit or one kind of bookkeeping and returns what it finds wrong:

* limits first: rack power after every loss the rack must survive (its scheme's, and every single
  failure of a source or panel upstream), air heat, liquid heat, liquid only where a loop exists,
  space, weight, form factor, positions; row cooling, hall cooling with its units lost one by one,
  hall IT capacity, CDU groups, the plant, every power element normally and after every single
  failure; the demand;
* then bookkeeping: the node figures against the spec library, the figures each rack reports, the
  totals, every cost, and the power section.

Every plan runs through it before it is written; a plan that fails is a bug in rackplan, never output.
``rackplan report`` and ``rackplan check`` run it on plans they did not make. The physics formulas
themselves come from :mod:`planner.physics`, shared with the optimizer on purpose: they are
unit-tested against hand-computed numbers once, and the rules here are tested one by one
(``tests/test_checker.py``), each with a plan that breaks only that rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner import physics
from planner.inputs.facility import Facility, Row, row_rack_ids
from planner.inputs.specs import Catalogue, resolve
from planner.vocabulary import SCHEMA_PLAN

REL = 1e-6
"""Relative tolerance when comparing a reported figure with its recomputation."""


def _close(a: float, b: float, abs_tol: float = 1e-6) -> bool:
    """Equal within :data:`REL` relative, or ``abs_tol`` absolute (figures are rounded when written)."""
    return abs(a - b) <= REL * max(abs(a), abs(b)) + abs_tol


def _fmt(x: float, nd: int = 2) -> str:
    return f"{x:,.{nd}f}"


# --- recomputation ----------------------------------------------------------------------------------

@dataclass(slots=True)
class RackLoad:
    """What one rack carries, recomputed: planned nodes, existing load and, if newly occupied, overhead."""

    id: str
    hall: str
    row: Row
    rack_type: str
    nodes: dict[str, int] = field(default_factory=dict)
    planned_kw: float = 0.0
    it_kw: float = 0.0
    air_kw: float = 0.0
    liquid_kw: float = 0.0
    u: int = 0
    weight_kg: float = 0.0
    energy_usd: float = 0.0
    cooling_usd: float = 0.0
    rack_usd: float = 0.0
    nodes_usd: float = 0.0
    gpus: int = 0
    liquid_nodes_without_loop: list[str] = field(default_factory=list)
    wrong_form_factor: list[str] = field(default_factory=list)
    overhead_u: int = 0
    overhead_kw: float = 0.0
    existing_units: list[tuple[int, int]] = field(default_factory=list)
    """(lowest, highest) units of existing entries with a position."""


@dataclass
class Recomputed:
    """Everything the rules look at: the facility, the plan, the node figures in force, and every
    load recomputed from them."""

    fac: Facility
    plan: dict[str, Any]
    types: dict[str, dict[str, Any]]
    racks: dict[str, RackLoad]
    """Every rack with planned nodes or existing load, by id."""
    planned_ids: list[str]
    structure: list[str]
    """Problems with the plan's rack entries themselves (unknown ids, duplicates, bad counts)."""
    figures: list[str]
    """Node figures that differ from the spec library."""
    rows: dict[tuple[str, str], Row]

    _row_sums: dict[tuple[str, str], dict[str, float]] | None = None
    _failures: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    _paths: dict[str, tuple[int, float]] = field(default_factory=dict)
    _loads: dict[str | None, dict[str, float]] = field(default_factory=dict)
    _panels_of: dict[str, list[str]] | None = None

    def panels_of(self, source: str) -> list[str]:
        """The panels hanging off ``source`` (none for a panel)."""
        if self._panels_of is None:
            self._panels_of = {}
            for panel, src in self.fac.panel_source.items():
                self._panels_of.setdefault(src, []).append(panel)
        return self._panels_of.get(source, [])

    def paths(self, rack_type: str) -> tuple[int, float]:
        """(feed paths, one path's usable kW) of a rack type."""
        if rack_type not in self._paths:
            self._paths[rack_type] = (self.fac.paths(rack_type), self.fac.path_kw(rack_type))
        return self._paths[rack_type]

    def row_kw(self, hall: str, row: str, what: str = "it") -> float:
        """A row's total ``it`` (all heat), ``air`` or ``liquid`` kW, added up rack by rack."""
        if self._row_sums is None:
            sums: dict[tuple[str, str], dict[str, float]] = {}
            for r in self.racks.values():
                s = sums.setdefault((r.hall, r.row.name), {"it": 0.0, "air": 0.0, "liquid": 0.0})
                s["it"] += r.it_kw
                s["air"] += r.air_kw
                s["liquid"] += r.liquid_kw
            self._row_sums = sums
        return self._row_sums.get((hall, row), {}).get(what, 0.0)


FIGURES = ("gpus", "u", "max_kw", "liquid_fraction", "weight_kg", "annual_cost_usd", "tdp_w", "fp8_pflops", "hbm_tb")


PRICE_FIELDS = {"buy": "price_usd", "rent": "rent_usd_month", "annual": "annual_cost_usd"}
"""The spec-library figure each price basis of ``plan.json``'s ``prices`` is read from."""


def _priced_annual(nid: str, entry: dict[str, Any], point: str, cat: Catalogue, bad: list[str]) -> float | None:
    """A node's annual cost from the price the plan records for it (``prices.nodes.ID``): rent x 12, a
    purchase x the capital recovery factor r(1+r)^n/((1+r)^n-1) (1/n at r = 0), or an annual cost, at
    the node's spec point (a range's end only where the price is projected). A price the plan says
    comes from the spec library must be the library's. None (with a finding) if it cannot be read."""
    def number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x >= 0

    basis, nominal = entry.get("basis"), entry.get("nominal")
    if basis not in PRICE_FIELDS or not number(nominal) or not all(
            entry.get(k) is None or number(entry.get(k)) for k in ("low", "high")):
        bad.append(f"node type {nid}: its price in prices.nodes (basis {basis!r}, nominal {nominal!r}, low "
                   f"{entry.get('low')!r}, high {entry.get('high')!r}) cannot be read")
        return None
    end = {"low": entry.get("low"), "high": entry.get("high")}.get(point)
    amount = float(end) if entry.get("status") == "projected" and end is not None else float(nominal)
    if entry.get("origin") == "spec library":
        lib = getattr(cat.nodes[nid], PRICE_FIELDS[basis], None)
        for key in ("nominal", "low", "high"):
            have, want = entry.get(key), None if lib is None else getattr(lib, key)
            if (have is None) != (want is None) or (have is not None and not _close(float(have), float(want))):
                bad.append(f"node type {nid}: prices.nodes {basis} {key} {have} differs from the library's {want}")
    if basis == "buy":
        years, rate = entry.get("years"), entry.get("discount_rate") or 0.0
        if not (number(years) and 0 < years <= 30 and number(rate) and rate < 1):
            bad.append(f"node type {nid}: a purchase needs years within (0, 30] and a discount rate within [0, 1) "
                       f"in prices.nodes, got {years!r} and {rate!r}")
            return None
        growth = (1.0 + rate) ** years
        # r = 0 (or too small to tell from it): straight line
        factor = 1.0 / years if growth - 1.0 <= 1e-12 else rate * growth / (growth - 1.0)
    else:
        factor = 12.0 if basis == "rent" else 1.0
    said = entry.get("annual_usd")  # what the plan says the nominal price comes to (the report shows it)
    if not (number(said) and _close(float(said), float(nominal) * factor, abs_tol=0.01)):
        bad.append(f"node type {nid}: prices.nodes annual_usd {said!r} differs from its price's "
                   f"{round(float(nominal) * factor, 2)}")
    return amount * factor


def _node_figures(plan: dict[str, Any], cat: Catalogue | None) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The plan's node figures; with a catalogue, checked against it and replaced by the library's (a
    node's annual cost by the one its recorded price comes to, where the plan records prices)."""
    types: dict[str, dict[str, Any]] = {nid: dict(nt) for nid, nt in (plan.get("node_types") or {}).items()}
    bad: list[str] = []
    if cat is None:
        return types, bad
    prices = plan.get("prices") if isinstance(plan.get("prices"), dict) else {}
    priced = prices.get("nodes") if isinstance(prices.get("nodes"), dict) else {}
    applied = prices.get("applied") is True
    for nid, nt in list(types.items()):
        if nid not in cat.nodes:
            bad.append(f"node type {nid} is not in the spec library (pass the --specs file it was planned with)")
            continue
        tdp = {cat.nodes[nid].accelerator: nt["tdp_w"]} if nt.get("tdp_overridden") and nt.get("tdp_w") else None
        ref = resolve(cat, nid, nt.get("point") or "nominal", tdp)
        for key in FIGURES:
            want, whose = getattr(ref, key), "the library's"
            if key == "annual_cost_usd" and nid in priced:  # the plan records how this node is priced
                entry = priced[nid]
                if applied and isinstance(entry, dict):
                    want, whose = _priced_annual(nid, entry, nt.get("point") or "nominal", cat, bad), "its price's"
                    if want is None:
                        continue
                else:  # unpriced in this plan: its nodes cost nothing
                    want, whose = 0.0, "its price's"
            if nt.get(key) is not None and not _close(float(nt[key]), float(want)):
                have, show = (nt[key], want) if whose == "the library's" else (round(nt[key], 2), round(want, 2))
                bad.append(f"node type {nid}: {key} {have} differs from {whose} {show}")
            types[nid][key] = want
        ff = getattr(ref, "form_factor", "eia-19")
        if nt.get("form_factor") is not None and nt["form_factor"] != ff:
            bad.append(f"node type {nid}: form_factor {nt['form_factor']} differs from the library's {ff}")
        types[nid]["form_factor"] = ff
    return types, bad


@dataclass(frozen=True)
class _OneNode:
    """One node of a type in a rack of a type: its figures, from the node's figures and the facility."""

    kw: float
    air_kw: float
    liquid_kw: float
    u: int
    weight_kg: float
    gpus: int
    nodes_usd: float
    energy_usd: float
    cooling_usd: float
    wrong_form_factor: bool
    without_loop: bool
    """A liquid-cooled node in a rack without a liquid loop (no cooling cost: the rule reports it)."""


def _one_node(t: dict[str, Any], rt: Any, site: Any, air_ppue: float, liquid_ppue: float | None) -> _OneNode:
    p, lf = float(t["max_kw"]), float(t["liquid_fraction"])
    kwh = physics.annual_kwh(p, site.load_factor)
    without_loop = lf > 0 and not physics.has_liquid_loop(rt.cooling, rt.liquid_kw)
    return _OneNode(p, physics.air_heat_kw(p, lf), physics.liquid_heat_kw(p, lf), int(t["u"]),
                    float(t["weight_kg"]), int(t["gpus"]), float(t.get("annual_cost_usd") or 0.0),
                    physics.energy_usd(kwh, site.electricity_usd_per_kwh),
                    0.0 if without_loop else physics.cooling_usd(kwh, lf, air_ppue, liquid_ppue,
                                                                 site.electricity_usd_per_kwh),
                    t.get("form_factor", "eia-19") != rt.form_factor, without_loop)


def recompute(fac: Facility, plan: dict[str, Any], cat: Catalogue | None = None) -> Recomputed:
    """Recompute every rack's load from the plan's node counts, the node figures and the facility."""
    site = fac.site
    types, figures = _node_figures(plan, cat)
    where: dict[str, tuple[str, Row]] = {}
    rows: dict[tuple[str, str], Row] = {}
    for hall in fac.halls:
        for row in hall.rows:
            rows[(hall.name, row.name)] = row
            where.update(dict.fromkeys(row_rack_ids(hall.name, row.name, row.racks), (hall.name, row)))
    racks: dict[str, RackLoad] = {}
    for e in fac.existing:  # a rack's entries add up
        hall, row = where[e.rack]
        ld = racks.setdefault(e.rack, RackLoad(e.rack, hall, row, row.rack_type))
        ld.it_kw += e.kw
        ld.air_kw += e.kw - e.liquid_kw
        ld.liquid_kw += e.liquid_kw
        ld.u += e.u
        ld.weight_kg += e.weight_kg
        if e.position is not None and e.u:
            ld.existing_units.append((e.position, e.position + e.u - 1))

    structure: list[str] = []
    planned: list[str] = []
    seen: set[str] = set()
    each: dict[tuple[str, str], _OneNode] = {}  # (rack type, node type) -> one node's figures there
    ppues: dict[str, tuple[float, float | None]] = {}  # cooling type -> (air, liquid) pPUE
    overhead_usd: dict[str, tuple[float, float]] = {}  # rack type -> its overhead's energy and cooling
    for entry in plan.get("racks") or []:
        rid = entry.get("id")
        if rid not in where:
            structure.append(f"rack {rid}: no such rack in facility {fac.name!r}")
            continue
        if rid in seen:
            structure.append(f"rack {rid}: listed twice")
            continue
        planned.append(rid)
        seen.add(rid)
        hall, row = where[rid]
        if (entry.get("hall"), entry.get("row"), entry.get("rack_type")) != (hall, row.name, row.rack_type):
            structure.append(f"rack {rid}: hall/row/rack_type {entry.get('hall')}/{entry.get('row')}/"
                             f"{entry.get('rack_type')} do not match the facility's {hall}/{row.name}/{row.rack_type}")
        ld = racks.get(rid)
        newly = ld is None
        if ld is None:
            ld = racks[rid] = RackLoad(rid, hall, row, row.rack_type)
        rt = fac.rack_types[row.rack_type]
        if rt.cooling not in ppues:
            ppues[rt.cooling] = physics.path_ppues(rt.cooling, fac.ppues)
        air_ppue, liquid_ppue = ppues[rt.cooling]
        nodes = entry.get("nodes") or {}
        if not nodes:
            structure.append(f"rack {rid}: listed without planned nodes")
        for nid, n in nodes.items():
            if nid not in types:
                structure.append(f"rack {rid}: unknown node type {nid}")
                continue
            if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
                structure.append(f"rack {rid}: count of {nid} is {n!r}, not a positive integer")
                continue
            ld.nodes[nid] = ld.nodes.get(nid, 0) + n
            one = each.get((row.rack_type, nid))
            if one is None:
                one = each[(row.rack_type, nid)] = _one_node(types[nid], rt, site, air_ppue, liquid_ppue)
            if one.wrong_form_factor:
                ld.wrong_form_factor.append(nid)
            # n identical nodes: each one's figures, n times
            ld.planned_kw += n * one.kw
            ld.it_kw += n * one.kw
            ld.air_kw += n * one.air_kw
            ld.liquid_kw += n * one.liquid_kw
            ld.u += n * one.u
            ld.weight_kg += n * one.weight_kg
            ld.gpus += n * one.gpus
            ld.nodes_usd += n * one.nodes_usd
            ld.energy_usd += n * one.energy_usd
            if one.without_loop:
                ld.liquid_nodes_without_loop.append(nid)
            else:
                ld.cooling_usd += n * one.cooling_usd
        if newly and ld.nodes:
            ov = rt.overhead
            ld.it_kw += ov.kw
            ld.air_kw += ov.kw
            ld.u += ov.u
            ld.overhead_u = ov.u
            ld.overhead_kw = ov.kw
            ld.weight_kg += ov.weight_kg
            ld.rack_usd += rt.annual_cost_usd
            if row.rack_type not in overhead_usd:
                overhead_usd[row.rack_type] = physics.overhead_energy_cooling_usd(
                    ov.kw, site.electricity_usd_per_kwh, air_ppue)
            energy, cooling = overhead_usd[row.rack_type]
            ld.energy_usd += energy
            ld.cooling_usd += cooling
    return Recomputed(fac, plan, types, racks, planned, structure, figures, rows)


# --- rules: limits ----------------------------------------------------------------------------------

Rule = Callable[[Recomputed], list[str]]


def check_structure(c: Recomputed) -> list[str]:
    """Every rack entry names a rack of the facility, once, with its hall, row and type, and positive
    whole counts of known node types; the facility has no ``panels: auto`` row left (a plan is checked
    against the facility with its striping written in: the plan's own ``facility.descriptor``)."""
    auto = [f"{h}/{row.name}" for h, row in c.fac.striped_rows()]
    return list(c.structure) + ([f"facility: rows {', '.join(auto)} have panels: auto; check the plan against "
                                 "the facility it records (with the striping it chose)"] if auto else [])


def _planned(c: Recomputed) -> list[RackLoad]:
    return [c.racks[rid] for rid in c.planned_ids]


def _row_failures(c: Recomputed, row: Row) -> list[tuple[str, int]]:
    """(what is lost, paths lost) for each loss a rack of the row must survive: its scheme's own
    (``2N`` a side, ``N+k`` any k paths) and each single failure upstream that leaves it a path."""
    if id(row) not in c._failures:
        c._failures[id(row)] = _simulate_row_failures(c, row)
    return c._failures[id(row)]


def _simulate_row_failures(c: Recomputed, row: Row) -> list[tuple[str, int]]:
    fac = c.fac
    red = fac.redundancy(row.rack_type)
    paths = fac.paths(row.rack_type)
    out = []
    k = physics.scheme_losses(red)
    if k:
        out.append(("one feed side" if red == "2N" else f"{k} of its {paths} feed paths", k))
    for failed in dict.fromkeys(list(row.path_panels) + [fac.panel_source[p] for p in row.path_panels]):
        lost = physics.paths_lost(row.path_panels, fac.panel_source, failed)
        if 0 < lost < paths:
            out.append((failed, lost))
    return out


def check_rack_power(c: Recomputed) -> list[str]:
    """Each rack's load divided among its surviving feed paths stays within one path's usable power,
    after every loss it must survive; with no loss (``N``), its feeds carry it together."""
    out = []
    for ld in _planned(c):
        paths, path_kw = c.paths(ld.rack_type)
        cases = _row_failures(c, ld.row) or [("nothing", 0)]
        for what, lost in cases:
            share = physics.path_share_kw(ld.it_kw, paths, lost)
            if not physics.within(share, path_kw):
                out.append(f"rack {ld.id}: with {what} lost, each surviving feed path carries {_fmt(share)} kW "
                           f"> {_fmt(path_kw)} kW")
                break
    return out


def check_rack_air_heat(c: Recomputed) -> list[str]:
    """Air heat (planned air shares, existing air heat, overhead) within the rack's ``air_kw``."""
    out = []
    for ld in _planned(c):
        cap = c.fac.rack_types[ld.rack_type].air_kw
        if not physics.within(ld.air_kw, cap):
            out.append(f"rack {ld.id}: air heat {_fmt(ld.air_kw)} kW > air_kw {cap:g}")
    return out


def check_rack_liquid_heat(c: Recomputed) -> list[str]:
    """Liquid heat (planned liquid shares and existing ``liquid_kw``) within the rack's ``liquid_kw``, in
    racks with a liquid loop. In a rack without one, liquid heat can only come from a liquid-cooled node,
    which :func:`check_liquid_loop` reports (existing ``liquid_kw`` there is refused as bad input)."""
    out = []
    for ld in _planned(c):
        rt = c.fac.rack_types[ld.rack_type]
        cap = rt.liquid_kw
        if physics.has_liquid_loop(rt.cooling, cap) and not physics.within(ld.liquid_kw, cap):
            out.append(f"rack {ld.id}: liquid heat {_fmt(ld.liquid_kw)} kW > liquid_kw {cap:g}")
    return out


def check_liquid_loop(c: Recomputed) -> list[str]:
    """A node with a liquid share only in a rack with a liquid loop."""
    return [f"rack {ld.id}: liquid-cooled {nid} in a '{c.fac.rack_types[ld.rack_type].cooling}' rack without a "
            "liquid loop" for ld in _planned(c) for nid in ld.liquid_nodes_without_loop]


def check_rack_space(c: Recomputed) -> list[str]:
    """Rack units used (planned, existing, overhead) within the rack's ``u``."""
    return [f"rack {ld.id}: {ld.u} U used > {c.fac.rack_types[ld.rack_type].u} U" for ld in _planned(c)
            if ld.u > c.fac.rack_types[ld.rack_type].u]


def check_rack_weight(c: Recomputed) -> list[str]:
    """Weight (planned, existing, overhead) within the rack's ``max_weight_kg``."""
    out = []
    for ld in _planned(c):
        cap = c.fac.rack_types[ld.rack_type].max_weight_kg
        if not physics.within(ld.weight_kg, cap):
            out.append(f"rack {ld.id}: {_fmt(ld.weight_kg, 1)} kg > max_weight_kg {cap:g}")
    return out


def check_form_factor(c: Recomputed) -> list[str]:
    """A node only in racks of its own form factor."""
    return [f"rack {ld.id}: {nid} is a {c.types[nid].get('form_factor', 'eia-19')} system in a "
            f"{c.fac.rack_types[ld.rack_type].form_factor} rack" for ld in _planned(c) for nid in ld.wrong_form_factor]


def check_positions(c: Recomputed) -> list[str]:
    """Where a rack gives positions: one per planned node, each node's units inside the rack, below the
    overhead, overlapping no other node and no existing entry with a position. Racks with the same
    height, overhead, existing entries, positions and nodes get the same findings, worked out once."""
    out = []
    sizes = {nid: int(t["u"]) for nid, t in c.types.items() if isinstance(t.get("u"), (int, float))}
    seen: dict[Any, list[str]] = {}
    for entry in c.plan.get("racks") or []:
        positions = entry.get("positions")
        rid = entry.get("id")
        if positions is None or rid not in c.racks:
            continue
        ld = c.racks[rid]
        top = c.fac.rack_types[ld.rack_type].u - ld.overhead_u
        try:  # positions of exactly {node, u} (their text is then known from the key)
            key: Any = (top, ld.overhead_u > 0, tuple(ld.existing_units), tuple(sorted(ld.nodes.items())),
                        tuple((p["node"], p["u"], type(p["u"])) for p in positions if len(p) == 2))
            hash(key)
            if len(key[-1]) != len(positions):
                key = None
        except (AttributeError, TypeError, KeyError):  # not a list of such objects with hashable values
            key = None
        found = seen.get(key) if key is not None else None
        if found is None:
            found = _position_problems(top, ld.overhead_u > 0, ld.existing_units, ld.nodes, positions, sizes)
            if key is not None:
                seen[key] = found
        out.extend(f"rack {rid}: {problem}" for problem in found)
    return out


def _position_problems(top: int, overhead: bool, existing: list[tuple[int, int]], nodes: dict[str, int],
                       positions: list[Any], sizes: dict[str, int]) -> list[str]:
    """:func:`check_positions` for one rack whose usable units are 1..``top``."""
    if not isinstance(positions, list):
        return [f"positions {positions!r} is not a list of {{node, u}}"]
    out = []
    spans = [(a, b, "existing") for a, b in existing]
    counted: dict[str, int] = {}
    for pos in positions:
        nid, low = (pos.get("node"), pos.get("u")) if isinstance(pos, dict) else (None, None)
        if nid not in sizes or not isinstance(low, int) or isinstance(low, bool):
            out.append(f"position {pos!r} names no known node at a whole unit")
            continue
        high = low + sizes[nid] - 1
        counted[nid] = counted.get(nid, 0) + 1
        if low < 1 or high > top:
            out.append(f"{nid} at units {low}-{high} is outside units 1-{top}"
                       + (" (the overhead takes the top)" if overhead else ""))
        spans.append((low, high, nid))
    # sorted by lowest unit, a span overlaps another exactly when it starts at or below the highest
    # unit any earlier span reaches
    spans.sort(key=lambda s: (s[0], s[1]))
    reach = None
    for low, high, what in spans:
        if reach is not None and low <= reach[1] and what != "existing":
            out.append(f"{what} at units {low}-{high} overlaps units {reach[0]}-{reach[1]}")
        elif reach is not None and low <= reach[1] and reach[2] != "existing":
            out.append(f"{reach[2]} at units {reach[0]}-{reach[1]} overlaps units {low}-{high}")
        if reach is None or high > reach[1]:
            reach = (low, high, what)
    if counted != nodes:
        out.append(f"positions place {counted} but the rack holds {nodes}")
    return out


def check_row_cooling(c: Recomputed) -> list[str]:
    """A row with ``cooling_kw`` rejects at most that much heat (all heat: planned, existing, overhead)."""
    out = []
    for (hall, name), row in c.rows.items():
        if row.cooling_kw is not None:
            heat = c.row_kw(hall, name)
            if not physics.within(heat, row.cooling_kw):
                out.append(f"row {hall}/{name}: heat {_fmt(heat)} kW > cooling_kw {row.cooling_kw:g}")
    return out


def hall_cooling_steps(c: Recomputed) -> list[dict[str, Any]]:
    """Per hall: the heat its room cooling takes (only air heat with CDUs) and the capacity with 0, 1, ...
    units lost; how many losses it survives."""
    out = []
    for hall in c.fac.halls:
        what = "air" if hall.cdus else "it"
        heat = sum(c.row_kw(hall.name, r.name, what) for r in hall.rows)
        cu = hall.cooling_units
        steps, survives = [], -1
        for lost in range(cu.count):
            capacity = (cu.count - lost) * cu.unit_kw
            ok = physics.within(heat, capacity)
            steps.append({"units_lost": lost, "capacity_kw": capacity, "ok": ok})
            if ok:
                survives = lost
        out.append({"hall": hall.name, "heat_kw": round(heat, 4), "redundant": cu.redundant, "cools": what,
                    "survives_units_lost": survives, "steps": steps[: cu.redundant + 2]})
    return out


def check_hall_cooling(c: Recomputed) -> list[str]:
    """Each hall stays cool with up to ``redundant`` of its units lost, one by one."""
    out = []
    units = {h.name: h.cooling_units for h in c.fac.halls}
    for h in hall_cooling_steps(c):
        cu = units[h["hall"]]
        for step in h["steps"]:
            if step["units_lost"] <= cu.redundant and not step["ok"]:
                out.append(f"hall {h['hall']}: {'air heat' if h['cools'] == 'air' else 'heat'} {_fmt(h['heat_kw'])} kW "
                           f"> {step['capacity_kw']:g} kW with {step['units_lost']} of {cu.count} cooling units lost "
                           f"(N+{cu.redundant} must survive {cu.redundant})")
                break
    return out


def check_hall_it(c: Recomputed) -> list[str]:
    """A hall with ``it_kw`` draws at most that (planned, existing and overhead)."""
    out = []
    for hall in c.fac.halls:
        if hall.it_kw is not None:
            kw = sum(c.row_kw(hall.name, r.name) for r in hall.rows)
            if not physics.within(kw, hall.it_kw):
                out.append(f"hall {hall.name}: draws {_fmt(kw)} kW > it_kw {hall.it_kw:g}")
    return out


def check_cdus(c: Recomputed) -> list[str]:
    """Each CDU group's rows' liquid heat within ``(count - redundant) x unit_kw``."""
    out = []
    for hall in c.fac.halls:
        for g in hall.cdus or []:
            liquid = sum(c.row_kw(hall.name, r, "liquid") for r in g.rows)
            usable = physics.usable_units_kw(g.count, g.unit_kw, g.redundant)
            if not physics.within(liquid, usable):
                out.append(f"CDU group {hall.name}/{g.name}: liquid heat {_fmt(liquid)} kW > {usable:g} kW usable "
                           f"({g.count} x {g.unit_kw:g} kW, N+{g.redundant})")
    return out


def check_plant(c: Recomputed) -> list[str]:
    """All heat of all halls within the plant's non-redundant units."""
    p = c.fac.plant
    if p is None:
        return []
    heat = sum(r.it_kw for r in c.racks.values())
    usable = physics.usable_units_kw(p.count, p.unit_kw, p.redundant)
    if not physics.within(heat, usable):
        return [f"plant: heat {_fmt(heat)} kW > {usable:g} kW usable ({p.count} x {p.unit_kw:g} kW, N+{p.redundant})"]
    return []


def element_loads(c: Recomputed, failed: str | None) -> dict[str, float]:
    """Load on every source and panel with ``failed`` lost (None: normal operation), simulated path by
    path: each rack's load divides equally among its surviving paths; a rack with no path left is
    dropped; a panel's load adds up on its source. Racks of a row share their panels, so the row's
    total is divided at once; a failure changes only the rows with a path on or under the lost
    element, so the others keep their normal shares."""
    fac = c.fac
    if fac.power is None:
        return {}
    if failed in c._loads:
        return c._loads[failed]
    source_of = fac.panel_source

    def add(load: dict[str, float], rows, lost: str | None, sign: float) -> None:
        for hall, row in rows:
            kw = c.row_kw(hall, row.name)
            alive = [p for p in row.path_panels if lost not in (p, source_of[p])]
            if not alive or kw == 0:
                continue
            share = sign * kw / len(alive)
            for p in alive:
                load[p] += share
                load[source_of[p]] += share

    if failed is None:
        load = {n: 0.0 for n in list(fac.power.sources) + list(fac.power.panels)}
        add(load, [(h, row) for (h, _), row in c.rows.items()], None, 1.0)
    else:
        load = dict(element_loads(c, None))
        touched = fac.rows_on[failed]
        add(load, touched, None, -1.0)    # take the touched rows' normal shares off
        add(load, touched, failed, 1.0)   # and put back what their surviving paths carry
        for name in [failed] + c.panels_of(failed):
            load[name] = 0.0
    c._loads[failed] = load
    return load


def _load_array(c: Recomputed, failed: str | None, names: list[str]) -> np.ndarray:
    """:func:`element_loads` after ``failed`` as an array in the order of ``names`` (every element)."""
    loads = element_loads(c, failed)
    if list(loads) != names:  # the simulation lists every element, always in the same order
        raise AssertionError(f"power tree simulation after {failed}: elements {list(loads)[:5]}... out of order")
    return np.array(list(loads.values()), dtype=float)


def check_power_tree(c: Recomputed) -> list[str]:
    """Every source and panel within its ``kw`` in normal operation and after every single failure of a
    source or a panel."""
    fac = c.fac
    if fac.power is None:
        return []
    rating = {n: s.kw for n, s in fac.power.sources.items()} | {n: p.kw for n, p in fac.power.panels.items()}
    names = list(rating)
    limit = np.array([rating[n] for n in names], dtype=float)
    out = []
    for failed in [None] + names:
        kw = _load_array(c, failed, names)
        for i in np.flatnonzero(~(kw <= limit + physics.EPS)).tolist():  # physics.within, element by element
            when = "in normal operation" if failed is None else f"after losing {failed}"
            out.append(f"{names[i]} {when}: carries {_fmt(kw[i])} kW > {limit[i]:g} kW")
    return out


def _covers(scope: str, rid: str) -> bool:
    """True when ``scope`` (``HALL``, ``HALL/ROW`` or a rack id) covers rack ``rid``."""
    return rid == scope or rid.startswith(scope + "/")


def check_placement_controls(c: Recomputed) -> list[str]:
    """No node in a reserved rack (the facility's or the demand's), in an excluded one, or outside the
    demand's ``only``; with ``together``, every planned rack in one hall (or one row)."""
    demand = c.plan.get("demand") or {}
    reserved = list(c.fac.reserved) + list(demand.get("reserved") or [])
    exclude, only = list(demand.get("exclude") or []), list(demand.get("only") or [])
    out = []
    for rid in c.planned_ids:
        if hit := next((s for s in reserved if _covers(s, rid)), None):
            out.append(f"rack {rid}: nodes placed in reserved {hit}")
        if hit := next((s for s in exclude if _covers(s, rid)), None):
            out.append(f"rack {rid}: nodes placed in excluded {hit}")
        if only and not any(_covers(s, rid) for s in only):
            out.append(f"rack {rid}: nodes placed outside only ({', '.join(only)})")
    together = demand.get("together")
    if together in ("hall", "row"):
        groups = sorted({c.racks[rid].hall if together == "hall" else f"{c.racks[rid].hall}/{c.racks[rid].row.name}"
                         for rid in c.planned_ids})
        if len(groups) > 1:
            out.append(f"demand: kept together in one {together}, but nodes are in {len(groups)}: {', '.join(groups)}")
    return out


def check_demand(c: Recomputed) -> list[str]:
    """The plan places exactly the nodes asked for, reaches the target with candidates only, or fills
    with the one node asked for."""
    totals: dict[str, int] = {}
    for rid in c.planned_ids:
        for nid, n in c.racks[rid].nodes.items():
            totals[nid] = totals.get(nid, 0) + n
    demand = c.plan.get("demand") or {}
    kind = demand.get("kind")
    out = []
    if kind == "nodes":
        asked = demand.get("nodes") or {}
        out += [f"demand: {n} {nid} asked, {totals.get(nid, 0)} placed" for nid, n in asked.items()
                if totals.get(nid, 0) != n]
        out += [f"demand: {nid} placed but not asked for" for nid in totals if nid not in asked]
    elif kind == "target":
        (metric, amount), = demand["target"].items()
        reached = 0.0
        for nid, n in totals.items():
            if nid not in (demand.get("candidates") or []):
                out.append(f"demand: {nid} placed but not a candidate")
            per = c.types[nid]["gpus"] if metric == "gpus" else c.types[nid].get(metric)
            if per is None:
                out.append(f"demand: the plan gives no {metric} for {nid}, so the target cannot be checked")
                continue
            reached += n * float(per)
        if reached < amount - 1e-6:
            out.append(f"demand: target {amount:g} {metric}, plan reaches {reached:g}")
    elif kind == "fill":
        out += [f"demand: {nid} placed but fill asked for {demand.get('fill')}" for nid in totals
                if nid != demand.get("fill")]
    else:
        out.append(f"demand: unknown kind {kind!r}")
    return out


# --- rules: bookkeeping -----------------------------------------------------------------------------

def check_node_figures(c: Recomputed) -> list[str]:
    """The plan's node figures are the spec library's (at its spec point and TDP what-ifs)."""
    return list(c.figures)


def check_rack_figures(c: Recomputed) -> list[str]:
    """Each rack's reported load, heat, space and weight match the recomputation."""
    out = []
    for entry in c.plan.get("racks") or []:
        ld = c.racks.get(entry.get("id"))
        if ld is None:
            continue
        for key, value in (("it_kw", ld.it_kw), ("air_heat_kw", ld.air_kw), ("liquid_heat_kw", ld.liquid_kw),
                           ("u_used", ld.u), ("weight_kg", ld.weight_kg)):
            said = entry.get(key)
            if said is not None and said != value and not _close(float(said), value):
                out.append(f"rack {ld.id}: reports {key} {said}, recomputed {value:.6f}")
    return out


def check_totals(c: Recomputed) -> list[str]:
    """Node counts, GPUs, racks used, IT kW (planned nodes and overhead), FP8 and HBM totals."""
    totals = c.plan.get("totals") or {}
    planned = _planned(c)
    nodes: dict[str, int] = {}
    for ld in planned:
        for nid, n in ld.nodes.items():
            nodes[nid] = nodes.get(nid, 0) + n
    out = []
    if totals.get("nodes") != nodes:
        out.append(f"totals.nodes {totals.get('nodes')} != recomputed {nodes}")
    gpus = sum(ld.gpus for ld in planned)
    if totals.get("gpus") != gpus:
        out.append(f"totals.gpus {totals.get('gpus')} != recomputed {gpus}")
    if totals.get("racks_used") != len(planned):
        out.append(f"totals.racks_used {totals.get('racks_used')} != recomputed {len(planned)}")
    added = sum(ld.planned_kw + ld.overhead_kw for ld in planned)
    if not _close(float(totals.get("it_kw", -1)), added):
        out.append(f"totals.it_kw {totals.get('it_kw')} != recomputed {added:.6f}")
    for key in ("fp8_pflops", "hbm_tb"):
        if totals.get(key) is None or any(c.types[nid].get(key) is None for nid in nodes):
            continue
        value = sum(n * float(c.types[nid][key]) for nid, n in nodes.items())
        if not _close(float(totals[key]), value):
            out.append(f"totals.{key} {totals[key]} != recomputed {value:.6f}")
    return out


def check_costs(c: Recomputed) -> list[str]:
    """Every annual cost recomputed: energy, cooling, racks, nodes and their total."""
    planned = _planned(c)
    energy = sum(ld.energy_usd for ld in planned)
    cooling = sum(ld.cooling_usd for ld in planned)
    racks = sum(ld.rack_usd for ld in planned)
    nodes = sum(ld.nodes_usd for ld in planned)
    usd = (c.plan.get("totals") or {}).get("annual_usd") or {}
    out = []
    for key, value in {"energy": energy, "cooling": cooling, "racks": racks, "nodes": nodes,
                       "total": energy + cooling + racks + nodes}.items():
        if not _close(float(usd.get(key, -1)), value, abs_tol=0.011):
            out.append(f"totals.annual_usd.{key} {usd.get(key)} != recomputed {value:.2f}")
    return out


def check_power_report(c: Recomputed) -> list[str]:
    """The ``power`` section's normal and worst loads match the simulation of every single failure."""
    power = c.plan.get("power")
    if c.fac.power is None or power is None:
        return []
    normal = element_loads(c, None)
    names = list(normal)
    most = _load_array(c, None, names)
    for failed in names:
        np.maximum(most, _load_array(c, failed, names), out=most)
    worst = dict(zip(names, most.tolist()))
    out = []
    for e in power.get("elements") or []:
        name = e.get("name")
        if name not in normal:
            out.append(f"power.elements: unknown element {name!r}")
            continue
        for key, value in (("normal_kw", normal[name]), ("worst_kw", worst[name])):
            if not _close(float(e.get(key, -1)), value):
                out.append(f"power.elements {name}: reports {key} {e.get(key)}, recomputed {value:.6f}")
    return out


LIMIT_RULES: tuple[Rule, ...] = (
    check_structure, check_rack_power, check_rack_air_heat, check_rack_liquid_heat, check_liquid_loop,
    check_rack_space, check_rack_weight, check_form_factor, check_positions, check_row_cooling,
    check_hall_cooling, check_hall_it, check_cdus, check_plant, check_power_tree, check_placement_controls,
    check_demand,
)
"""Rules about limits and the demand: a plan that breaks one is unsafe."""

BOOKKEEPING_RULES: tuple[Rule, ...] = (
    check_node_figures, check_rack_figures, check_totals, check_costs, check_power_report,
)
"""Rules about the plan's own figures: a plan that breaks one misreports itself."""

RULES: tuple[Rule, ...] = LIMIT_RULES + BOOKKEEPING_RULES


# --- the report ------------------------------------------------------------------------------------

@dataclass
class CheckReport:
    """What the checker found. ``violations`` empty means the plan passed; limit breaches come first."""

    violations: list[str] = field(default_factory=list)
    by_rule: dict[str, list[str]] = field(default_factory=dict)
    limit_violations: int = 0
    racks_checked: int = 0
    failures_simulated: int = 0
    """Single losses simulated: each loss each used rack must survive, and each power-tree failure."""
    worst_failover: dict[str, Any] | None = None
    """The rack whose surviving feed path is most loaded after the worst loss it must survive."""
    cooling_failures: list[dict[str, Any]] = field(default_factory=list)
    """Per hall: heat, and capacity with 0, 1, ... units lost; how many losses it survives."""

    @property
    def passed(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        """One line: passed, or how many violations of which kind."""
        if self.passed:
            return (f"passed: {self.racks_checked:,} racks, {self.failures_simulated:,} single failures simulated, "
                    "every limit holds")
        book = len(self.violations) - self.limit_violations
        return (f"FAILED: {len(self.violations):,} violation{'s' if len(self.violations) != 1 else ''} "
                f"({self.limit_violations:,} limit breach{'es' if self.limit_violations != 1 else ''}, "
                f"{book:,} bookkeeping mismatch{'es' if book != 1 else ''})")

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "summary": self.summary(), "violations": self.violations[:50],
                "violation_count": len(self.violations), "limit_violations": self.limit_violations,
                "rules": [r.__name__ for r in RULES], "racks_checked": self.racks_checked,
                "failures_simulated": self.failures_simulated, "worst_failover": self.worst_failover,
                "cooling_failures": self.cooling_failures}


def _worst_failover(c: Recomputed) -> tuple[dict[str, Any] | None, int]:
    worst, simulated = None, 0
    for ld in _planned(c):
        paths, path_kw = c.paths(ld.rack_type)
        for what, lost in _row_failures(c, ld.row):
            simulated += 1
            share = physics.path_share_kw(ld.it_kw, paths, lost)
            ratio = share / path_kw if path_kw else math.inf
            if worst is None or ratio > worst["share"]:
                worst = {"rack": ld.id, "lost": what, "failover_kw": round(share, 4), "side_kw": round(path_kw, 4),
                         "share": ratio}
    if worst is not None:
        worst["share"] = round(worst["share"], 6)
    return worst, simulated


def check_plan(fac: Facility, plan: dict[str, Any], cat: Catalogue | None = None,
               rules: tuple[Rule, ...] = RULES) -> CheckReport:
    """Re-verify ``plan`` against ``fac``; with a catalogue, also its node figures against the library."""
    rep = CheckReport()
    if plan.get("schema") != SCHEMA_PLAN:
        rep.violations.append(f"schema is {plan.get('schema')!r}, expected {SCHEMA_PLAN!r}")
        rep.limit_violations = 1
        return rep
    c = recompute(fac, plan, cat)
    for rule in rules:
        found = rule(c)
        if found:
            rep.by_rule[rule.__name__] = found
            rep.violations.extend(found)
            if rule in LIMIT_RULES:
                rep.limit_violations += len(found)
    rep.racks_checked = len(c.planned_ids)
    rep.worst_failover, simulated = _worst_failover(c)
    tree_failures = len(fac.power_elements())
    rep.failures_simulated = simulated + tree_failures
    rep.cooling_failures = hall_cooling_steps(c)
    return rep
