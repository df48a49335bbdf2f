"""The independent plan checker: plain code that trusts nothing the optimizer says.

It reads a ``plan.json`` document and the facility it claims to be for, and re-verifies, rack by rack
and with simple loops (deliberately not the numpy code that wrote the plan): the rack ids and rack
types, each rack's power on each feed side with the other side lost (2N) or on its feeds together (N),
air and liquid heat, liquid nodes only where a loop exists, U and weight with existing load counted;
each row's and hall's heat, and the hall with each number of cooling units lost; that the demand is
met; and every figure and cost the plan reports. Every plan runs through it before it is written: a
plan that fails is a bug in rackplan, never output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from planner import physics
from planner.inputs.facility import Facility, rack_id
from planner.inputs.specs import Catalogue, resolve

REL = 1e-6
"""Relative tolerance when comparing a reported figure with its recomputation."""


@dataclass
class CheckReport:
    """What the checker found. ``violations`` empty means the plan passed."""

    violations: list[str] = field(default_factory=list)
    feed_sides_simulated: int = 0
    worst_failover: dict[str, Any] | None = None
    """The rack whose surviving feed side is most loaded after losing the other side."""
    cooling_failures: list[dict[str, Any]] = field(default_factory=list)
    """Per hall: heat, and capacity with 0, 1, ... units lost; how many losses it survives."""
    racks_checked: int = 0

    @property
    def passed(self) -> bool:
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "violations": self.violations[:50],
                "violation_count": len(self.violations), "racks_checked": self.racks_checked,
                "feed_sides_simulated": self.feed_sides_simulated, "worst_failover": self.worst_failover,
                "cooling_failures": self.cooling_failures}


def _close(a: float, b: float, abs_tol: float = 1e-6) -> bool:
    """Equal within :data:`REL` relative, or ``abs_tol`` absolute (figures are rounded when written)."""
    return abs(a - b) <= REL * max(abs(a), abs(b)) + abs_tol


def check_plan(fac: Facility, plan: dict[str, Any], cat: Catalogue | None = None) -> CheckReport:
    """Re-verify ``plan`` against ``fac``; with a catalogue, also its node figures against the library."""
    rep = CheckReport()
    bad = rep.violations.append
    if plan.get("schema") != "rackplan.plan/1":
        bad(f"schema is {plan.get('schema')!r}, expected 'rackplan.plan/1'")
        return rep
    site = fac.site
    types: dict[str, dict[str, Any]] = plan.get("node_types", {})

    # the node figures themselves, against the spec library; the library's figures are then used
    FIGURES = ("gpus", "u", "max_kw", "liquid_fraction", "weight_kg", "annual_cost_usd", "tdp_w", "fp8_pflops",
               "hbm_tb")
    figures: dict[str, dict[str, Any]] = {nid: dict(nt) for nid, nt in types.items()}
    for nid, nt in types.items():
        if cat is None:
            continue
        if nid not in cat.nodes:
            bad(f"node type {nid} is not in the spec library")
            continue
        tdp = {cat.nodes[nid].accelerator: nt["tdp_w"]} if nt.get("tdp_overridden") and nt.get("tdp_w") else None
        ref = resolve(cat, nid, nt.get("point") or "nominal", tdp)
        for key in FIGURES:
            if nt.get(key) is not None and not _close(float(nt[key]), float(getattr(ref, key))):
                bad(f"node type {nid}: {key} {nt[key]} differs from the library's {getattr(ref, key)}")
            figures[nid][key] = getattr(ref, key)
    types = figures

    # every rack of the facility, with its existing load
    info: dict[str, tuple[str, str, str]] = {}
    for hall in fac.halls:
        for row in hall.rows:
            for i in range(1, row.racks + 1):
                info[rack_id(hall.name, row.name, i, row.racks)] = (hall.name, row.name, row.rack_type)
    existing = {e.rack: e for e in fac.existing}
    heat_row: dict[tuple[str, str], float] = {}
    heat_hall: dict[str, float] = {}
    for rid, e in existing.items():
        h, r, _ = info[rid]
        heat_row[(h, r)] = heat_row.get((h, r), 0.0) + e.kw
        heat_hall[h] = heat_hall.get(h, 0.0) + e.kw

    totals_nodes: dict[str, int] = {}
    energy = cooling = racks_usd = nodes_usd = it_planned = 0.0
    gpus = 0
    seen: set[str] = set()
    worst = None
    for entry in plan.get("racks", []):
        rid = entry.get("id")
        rep.racks_checked += 1
        if rid not in info:
            bad(f"rack {rid}: no such rack in facility {fac.name!r}")
            continue
        if rid in seen:
            bad(f"rack {rid}: listed twice")
            continue
        seen.add(rid)
        hall, row, rtype = info[rid]
        if (entry.get("hall"), entry.get("row"), entry.get("rack_type")) != (hall, row, rtype):
            bad(f"rack {rid}: hall/row/rack_type {entry.get('hall')}/{entry.get('row')}/{entry.get('rack_type')} "
                f"do not match the facility's {hall}/{row}/{rtype}")
        rt = fac.rack_types[rtype]
        ex = existing.get(rid)
        kw = ex.kw if ex else 0.0
        air = kw
        liquid = 0.0
        u = ex.u if ex else 0
        weight = ex.weight_kg if ex else 0.0
        planned = 0.0
        air_ppue, liquid_ppue = physics.path_ppues(rt.cooling, fac.ppues)
        nodes = entry.get("nodes", {})
        if not nodes:
            bad(f"rack {rid}: listed without planned nodes")
        for nid, n in nodes.items():
            if nid not in types:
                bad(f"rack {rid}: unknown node type {nid}")
                continue
            if not isinstance(n, int) or n <= 0:
                bad(f"rack {rid}: count of {nid} is {n!r}, not a positive integer")
                continue
            t = types[nid]
            totals_nodes[nid] = totals_nodes.get(nid, 0) + n
            gpus += n * int(t["gpus"])
            for _ in range(n):
                p = float(t["max_kw"])
                lf = float(t["liquid_fraction"])
                planned += p
                air += physics.air_heat_kw(p, lf)
                liquid += physics.liquid_heat_kw(p, lf)
                u += int(t["u"])
                weight += float(t["weight_kg"])
                kwh = physics.annual_kwh(p, site.load_factor)
                energy += physics.energy_usd(kwh, site.electricity_usd_per_kwh)
                if lf > 0 and liquid_ppue is None:
                    bad(f"rack {rid}: liquid-cooled {nid} in a '{rt.cooling}' rack without a liquid loop")
                else:
                    cooling += physics.cooling_usd(kwh, lf, air_ppue, liquid_ppue, site.electricity_usd_per_kwh)
                nodes_usd += float(t.get("annual_cost_usd") or 0.0)
        it = kw + planned
        it_planned += planned
        if not ex:
            racks_usd += rt.annual_cost_usd

        # power: simulate the loss of each feed side (2N) or load the feeds together (N)
        one = physics.feed_kw(rt.feed.volts, rt.feed.amps, rt.feed.phases, site.power_factor, site.derate)
        side_cap = rt.feeds * one
        if site.power_redundancy == "2N":
            # the A and B sides are built alike: losing either leaves the other with the whole rack
            survivor = physics.side_load_kw(it, "2N", failed=True)
            rep.feed_sides_simulated += 2
            if not physics.within(survivor, side_cap):
                bad(f"rack {rid}: with one feed side lost, the other carries {survivor:.2f} kW > {side_cap:.2f} kW")
            load_share = survivor / side_cap if side_cap else math.inf
            if worst is None or load_share > worst["share"]:
                worst = {"rack": rid, "failover_kw": round(survivor, 4), "side_kw": round(side_cap, 4),
                         "share": load_share}
        elif not physics.within(it, side_cap):
            bad(f"rack {rid}: load {it:.2f} kW > {side_cap:.2f} kW on its feeds")
        if not physics.within(air, rt.air_kw):
            bad(f"rack {rid}: air heat {air:.2f} kW > air_kw {rt.air_kw:g}")
        if not physics.within(liquid, rt.liquid_kw):
            bad(f"rack {rid}: liquid heat {liquid:.2f} kW > liquid_kw {rt.liquid_kw:g}")
        if u > rt.u:
            bad(f"rack {rid}: {u} U used > {rt.u} U")
        if not physics.within(weight, rt.max_weight_kg):
            bad(f"rack {rid}: {weight:.1f} kg > max_weight_kg {rt.max_weight_kg:g}")
        for key, value in (("it_kw", it), ("air_heat_kw", air), ("liquid_heat_kw", liquid), ("u_used", u),
                           ("weight_kg", weight)):
            if entry.get(key) is not None and not _close(float(entry[key]), value):
                bad(f"rack {rid}: reports {key} {entry[key]}, recomputed {value:.6f}")
        heat_row[(hall, row)] = heat_row.get((hall, row), 0.0) + planned
        heat_hall[hall] = heat_hall.get(hall, 0.0) + planned
    if worst is not None:
        worst["share"] = round(worst["share"], 6)
    rep.worst_failover = worst

    # rows and halls, the hall with each number of cooling units lost
    for hall in fac.halls:
        for row in hall.rows:
            heat = heat_row.get((hall.name, row.name), 0.0)
            if row.cooling_kw is not None and not physics.within(heat, row.cooling_kw):
                bad(f"row {hall.name}/{row.name}: heat {heat:.2f} kW > cooling_kw {row.cooling_kw:g}")
        heat = heat_hall.get(hall.name, 0.0)
        cu = hall.cooling_units
        steps = []
        survives = -1
        for lost in range(0, cu.count):
            capacity = (cu.count - lost) * cu.unit_kw
            ok = physics.within(heat, capacity)
            steps.append({"units_lost": lost, "capacity_kw": capacity, "ok": ok})
            if ok:
                survives = lost
            if lost <= cu.redundant and not ok:
                bad(f"hall {hall.name}: heat {heat:.2f} kW > {capacity:g} kW with {lost} of {cu.count} "
                    f"cooling units lost (N+{cu.redundant} must survive {cu.redundant})")
        rep.cooling_failures.append({"hall": hall.name, "heat_kw": round(heat, 4), "redundant": cu.redundant,
                                     "survives_units_lost": survives, "steps": steps[: cu.redundant + 2]})

    # the demand
    demand = plan.get("demand", {})
    kind = demand.get("kind")
    if kind == "nodes":
        for nid, n in demand.get("nodes", {}).items():
            if totals_nodes.get(nid, 0) != n:
                bad(f"demand: {n} {nid} asked, {totals_nodes.get(nid, 0)} placed")
        for nid in totals_nodes:
            if nid not in demand.get("nodes", {}):
                bad(f"demand: {nid} placed but not asked for")
    elif kind == "target":
        (metric, amount), = demand["target"].items()
        reached = 0.0
        for nid, n in totals_nodes.items():
            if nid not in demand.get("candidates", []):
                bad(f"demand: {nid} placed but not a candidate")
            per = types[nid]["gpus"] if metric == "gpus" else types[nid].get(metric)
            if per is None:
                bad(f"demand: the plan gives no {metric} for {nid}, so the target cannot be checked")
                continue
            reached += n * float(per)
        if reached < amount - 1e-6:
            bad(f"demand: target {amount:g} {metric}, plan reaches {reached:g}")
    elif kind == "fill":
        for nid in totals_nodes:
            if nid != demand.get("fill"):
                bad(f"demand: {nid} placed but fill asked for {demand.get('fill')}")
    else:
        bad(f"demand: unknown kind {kind!r}")

    # totals and costs, recomputed
    totals = plan.get("totals", {})
    if totals.get("nodes") != totals_nodes:
        bad(f"totals.nodes {totals.get('nodes')} != recomputed {totals_nodes}")
    if totals.get("gpus") != gpus:
        bad(f"totals.gpus {totals.get('gpus')} != recomputed {gpus}")
    if totals.get("racks_used") != len(seen):
        bad(f"totals.racks_used {totals.get('racks_used')} != recomputed {len(seen)}")
    if not _close(float(totals.get("it_kw", -1)), it_planned):
        bad(f"totals.it_kw {totals.get('it_kw')} != recomputed {it_planned:.6f}")
    for key in ("fp8_pflops", "hbm_tb"):
        if totals.get(key) is None:
            continue
        per = [types[nid].get(key) for nid in totals_nodes]
        if None in per:
            continue
        value = sum(n * float(types[nid][key]) for nid, n in totals_nodes.items())
        if not _close(float(totals[key]), value):
            bad(f"totals.{key} {totals[key]} != recomputed {value:.6f}")
    usd = totals.get("annual_usd", {})
    recomputed = {"energy": energy, "cooling": cooling, "racks": racks_usd, "nodes": nodes_usd,
                  "total": energy + cooling + racks_usd + nodes_usd}
    for key, value in recomputed.items():
        if not _close(float(usd.get(key, -1)), value, abs_tol=0.011):
            bad(f"totals.annual_usd.{key} {usd.get(key)} != recomputed {value:.2f}")
    return rep
