"""A placement made into a plan: ``plan.json`` (``rackplan.plan/1``) and ``racks.csv``.

``plan.json`` is the complete record: the contract's fields (CONTRACT.md) plus everything the report
needs (rack types, rows, halls, existing load, the power tree's loads and failures, CDU groups, the
plant, assumptions and their sources, the baseline, the check) and the facility descriptor itself,
so ``rackplan report PLAN.json`` can re-check and render it from the file alone, and any program can
check it against its facility. Per-rack figures are computed with numpy from the physics functions
(a campus has tens of thousands of racks); :mod:`planner.results.checker` recomputes them
independently with plain loops.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
from collections import Counter
from typing import Any

import numpy as np

from planner import __version__, physics
from planner.inputs.demand import Demand
from planner.inputs.facility import Facility, LoadedFacility
from planner.inputs.specs import Catalogue, NodeType
from planner.optimize.first_fit import meets
from planner.optimize.placement import Placement
from planner.table import Table, group_sums
from planner.vocabulary import LIMIT_LABEL, RACK_LIMITS, SCHEMA_PLAN


def _r(x: float, nd: int = 6) -> float:
    return float(round(float(x), nd))


def made_at() -> str:
    """When a document is made: UTC, to the second, ISO 8601."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def tool_record(cat: Catalogue | None) -> dict[str, Any]:
    """What made a document: rackplan's version and the spec library's."""
    return {"name": "rackplan", "version": __version__,
            "spec_library": getattr(cat, "version", None) if cat is not None else None}


def rack_figures(fac: Facility, types: list[NodeType], counts: np.ndarray) -> Table:
    """Per-rack loads, capacities, utilization and annual cost for an (R x T) plan (all racks)."""
    df = fac.racks.frame.copy()
    max_kw = np.array([t.max_kw for t in types])
    lf = np.array([t.liquid_fraction for t in types])
    u = np.array([t.u for t in types], dtype=float)
    wt = np.array([t.weight_kg for t in types])
    df["nodes_planned"] = counts.sum(axis=1)
    used = df["nodes_planned"] > 0
    new = used & ~df["has_existing"].astype(bool)
    df["new"] = new
    ov_kw = np.where(new, df["overhead_kw"].astype(float), 0.0)
    df["overhead_kw_used"] = ov_kw
    ex_air = df["existing_kw"].astype(float) - df["existing_liquid_kw"].astype(float)
    df["planned_kw"] = counts @ max_kw
    df["it_kw"] = df["planned_kw"] + df["existing_kw"] + ov_kw
    df["liquid_heat_kw"] = counts @ np.array([physics.liquid_heat_kw(p, f) for p, f in zip(max_kw, lf)]) \
        + df["existing_liquid_kw"]
    df["air_heat_kw"] = counts @ np.array([physics.air_heat_kw(p, f) for p, f in zip(max_kw, lf)]) + ex_air + ov_kw
    df["u_used"] = counts @ u + df["existing_u"] + np.where(new, df["overhead_u"], 0)
    df["weight_kg"] = counts @ wt + df["existing_weight_kg"] + np.where(new, df["overhead_weight_kg"], 0.0)
    df["gpus"] = counts @ np.array([t.gpus for t in types])

    paths = df["paths"].astype(float)
    feed = {n: fac.one_feed_kw(n) for n in fac.rack_types}
    provisioned = {n: physics.provisioned_kw(fac.one_feed_kw(n), t.feeds, fac.redundancy(n))
                   for n, t in fac.rack_types.items()}
    kinds = df["rack_type"].tolist()
    df["feed_kw"] = np.array([feed[k] for k in kinds], dtype=float)
    df["provisioned_kw"] = np.array([provisioned[k] for k in kinds], dtype=float)
    alive = {(h.name, r.name): fac.surviving_paths(r) for h in fac.halls for r in h.rows}
    df["path_normal_kw"] = df["it_kw"] / paths
    df["path_worst_kw"] = df["it_kw"] / np.array(
        [alive[k] for k in zip(df["hall"].tolist(), df["row"].tolist())], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["util_power"] = df["it_kw"] / df["power_kw"]
        df["util_air"] = np.where(df["air_kw"] > 0, df["air_heat_kw"] / df["air_kw"], 0.0)
        df["util_liquid"] = np.where(df["liquid_kw"] > 0, df["liquid_heat_kw"] / df["liquid_kw"], 0.0)
        df["util_u"] = df["u_used"] / df["u"]
        df["util_weight"] = df["weight_kg"] / df["max_weight_kg"]
    util = np.column_stack([df[f"util_{x}"] for x in RACK_LIMITS])
    df["binding"] = np.array(RACK_LIMITS)[util.argmax(axis=1)]
    df["binding_util"] = util.max(axis=1)

    site = fac.site
    usd = site.electricity_usd_per_kwh
    energy = np.zeros(len(df))
    cooling = np.zeros(len(df))
    kinds = df["cooling"]
    for c in np.unique(kinds):
        air_p, liq_p = physics.path_ppues(c, fac.ppues)
        # a liquid node never goes into a rack without a liquid path (the checker's liquid-loop rule)
        per = np.array([physics.node_energy_cooling_usd(t.max_kw, t.liquid_fraction, site.load_factor, usd, air_p,
                                                        liq_p if t.liquid_fraction > 0 else None)
                        if t.liquid_fraction == 0 or liq_p is not None else (0.0, 0.0)
                        for t in types]).reshape(len(types), 2)
        sel = kinds == c
        ov_energy, ov_cooling = physics.overhead_energy_cooling_usd(ov_kw[sel], usd, air_p)  # elementwise
        energy[sel] = counts[sel] @ per[:, 0] + ov_energy
        cooling[sel] = counts[sel] @ per[:, 1] + ov_cooling
    df["energy_usd"] = energy
    df["cooling_usd"] = cooling
    df["rack_usd"] = np.where(new, df["annual_cost_usd"], 0.0)
    df["nodes_usd"] = counts @ np.array([t.annual_cost_usd for t in types])
    df["kwh"] = counts @ np.array([physics.annual_kwh(t.max_kw, site.load_factor) for t in types]) \
        + physics.overhead_kwh(ov_kw)
    return df


def _costs(df: Table) -> dict[str, float]:
    energy, cooling = float(df["energy_usd"].sum()), float(df["cooling_usd"].sum())
    racks, nodes = float(df["rack_usd"].sum()), float(df["nodes_usd"].sum())
    return {"energy": _r(energy, 2), "cooling": _r(cooling, 2), "racks": _r(racks, 2), "nodes": _r(nodes, 2),
            "total": _r(energy + cooling + racks + nodes, 2)}


def _assumptions(cat: Catalogue, types: list[NodeType]) -> list[dict[str, Any]]:
    """Every spec figure the plan used, with its status, confidence and sources."""
    out = []

    def src(ids: list[str]) -> list[dict[str, Any]]:
        return [{"id": s, "title": cat.sources[s].title, "url": cat.sources[s].url, "kind": cat.sources[s].kind}
                for s in ids if s in cat.sources]

    def add(node: str, figure: str, value: float, fig: Any, basis: str = "") -> None:
        if fig is None:
            return
        out.append({"node": node, "figure": figure, "value": _r(value), "status": fig.status,
                    "confidence": fig.confidence, "low": fig.low, "nominal": fig.nominal, "high": fig.high,
                    "basis": basis, "note": fig.note, "sources": src(fig.sources)})

    for t in types:
        if t.id not in cat.nodes:  # a node type made in code (tests, what-ifs) has no library entry
            continue
        prof = cat.nodes[t.id]
        acc = cat.accelerators[t.accelerator]
        if t.tdp_overridden:
            out.append({"node": t.id, "figure": "tdp_w", "value": t.tdp_w, "status": "what-if",
                        "confidence": None, "low": None, "nominal": acc.tdp_w.nominal, "high": None,
                        "basis": "--tdp override", "note": "set on the command line or in the demand file",
                        "sources": []})
        else:
            add(t.id, "tdp_w", t.tdp_w, acc.tdp_w)
        if prof.power.basis == "vendor_max" and not t.tdp_overridden:
            add(t.id, "max_kw", t.max_kw, prof.power.max_kw, "vendor system maximum")
        else:
            fig = prof.power.overhead_kw if prof.power.basis == "derived" else prof.power.max_kw
            add(t.id, "max_kw", t.max_kw, fig, f"{t.gpus} x TDP + platform overhead")
        add(t.id, "liquid_fraction", t.liquid_fraction, prof.liquid_fraction)
        add(t.id, "weight_kg", t.weight_kg, prof.weight_kg)
        add(t.id, "fp8_pflops", t.fp8_pflops, acc.fp8_tflops_dense, f"{t.gpus} x per-GPU dense FP8")
        add(t.id, "hbm_tb", t.hbm_tb, acc.hbm_gb, f"{t.gpus} x per-GPU HBM")
        if prof.annual_cost_usd is not None:
            add(t.id, "annual_cost_usd", t.annual_cost_usd, prof.annual_cost_usd)
        if prof.power.typical_kw is not None:
            add(t.id, "typical_kw", prof.power.typical_kw.nominal, prof.power.typical_kw,
                "typical draw, recorded beside the design load; not planned at")
        if prof.price_usd is not None:
            add(t.id, "price_usd", prof.price_usd.at(t.point), prof.price_usd, "purchase price per node")  # type: ignore[arg-type]
        if prof.rent_usd_month is not None:
            add(t.id, "rent_usd_month", prof.rent_usd_month.at(t.point), prof.rent_usd_month,  # type: ignore[arg-type]
                "rent per node-month")
    return out


def spec_disputes(cat: Catalogue, types: list[NodeType]) -> list[dict[str, Any]]:
    """Where the sources behind a node or its accelerator disagree (e.g. the MI400 projection against
    AMD's published MI455X figures, DGX B300's estimated draw against its peak), as the spec library
    records it."""
    out = []
    for t in types:
        prof = cat.nodes.get(t.id)
        if prof is not None and getattr(prof, "disagreement", None):
            out.append({"node": t.id, "name": prof.name, "status": prof.status,
                        "disagreement": " ".join(prof.disagreement.split()), "see_also": list(prof.see_also)})
    for acc_id in dict.fromkeys(t.accelerator for t in types):
        acc = cat.accelerators.get(acc_id)
        if acc is not None and acc.disagreement:
            out.append({"accelerator": acc_id, "name": acc.name, "status": acc.status,
                        "disagreement": " ".join(acc.disagreement.split()), "see_also": list(acc.see_also)})
    return out


def rack_positions(u_total: int, overhead_u: int, existing: list[tuple[int, int | None]],
                   nodes: list[tuple[str, int]]) -> list[dict[str, Any]] | None:
    """``racks[].positions`` (CONTRACT.md "Rack positions"): the lowest unit of each planned node, in the
    free runs left by the overhead (top units) and existing equipment, tallest node first, bottom up.
    None if they do not fit as whole blocks (the optimizer's patterns make sure they do)."""
    placed = _positions(u_total, overhead_u, tuple(existing), tuple(nodes))
    return None if placed is None else [{"node": nid, "u": low} for nid, low in placed]


@functools.lru_cache(maxsize=4096)
def _positions(u_total: int, overhead_u: int, existing: tuple, nodes: tuple) -> tuple | None:
    """:func:`rack_positions`, once per distinct rack and fill (a campus has few of each)."""
    runs = physics.free_runs(u_total, physics.rack_taken_units(u_total, overhead_u, list(existing)))
    lows = physics.place_in_runs([h for _, h in nodes], runs)
    if lows is None:
        return None
    return tuple(sorted(((nid, low) for (nid, _), low in zip(nodes, lows)), key=lambda p: p[1]))


def _rack_entries(df: Table, counts: np.ndarray, types: list[NodeType]) -> list[dict[str, Any]]:
    """``racks[]``: one entry per rack holding a planned node (columns pulled out once, not row by row)."""
    ids = [t.id for t in types]
    heights = [t.u for t in types]
    idx = np.flatnonzero(df["nodes_planned"] > 0)
    col = {name: df[name][idx].tolist() for name in (
        "id", "hall", "row", "rack_type", "has_existing", "binding", "u_used")}
    num = {name: np.round(df[name].astype(float)[idx], 6).tolist() for name in (
        "it_kw", "air_heat_kw", "liquid_heat_kw", "weight_kg", "existing_kw", "existing_liquid_kw",
        "existing_weight_kg", "overhead_kw", "overhead_kw_used", "overhead_weight_kg")}
    util = {x: np.round(df[f"util_{x}"].astype(float)[idx], 4).tolist() for x in RACK_LIMITS}
    usd = {name: np.round(df[name].astype(float)[idx], 2).tolist()
           for name in ("energy_usd", "cooling_usd", "rack_usd", "nodes_usd")}
    ex_u = df["existing_u"][idx].tolist()
    ex_parts = df["existing_parts"][idx].tolist()
    ov_u = df["overhead_u"][idx].tolist()
    u_total = df["u"][idx].tolist()
    sub = counts[idx].tolist()
    racks = []
    fills: dict[tuple, tuple] = {}  # a rack's fill and free units -> its node counts and positions
    for i in range(len(idx)):
        existing = bool(col["has_existing"][i])
        key = (tuple(sub[i]), u_total[i], ov_u[i], existing, ex_parts[i] if existing else ())
        fill = fills.get(key)
        if fill is None:
            held = [(t, n) for t, n in enumerate(sub[i]) if n]
            fill = fills[key] = (tuple((ids[t], int(n)) for t, n in held), rack_positions(
                int(u_total[i]), int(ov_u[i]) if not existing else 0, list(ex_parts[i]) if existing else [],
                [(ids[t], heights[t]) for t, n in held for _ in range(int(n))]))
        entry: dict[str, Any] = {
            "id": col["id"][i], "hall": col["hall"][i], "row": col["row"][i], "rack_type": col["rack_type"][i],
            "nodes": dict(fill[0]),
            "it_kw": num["it_kw"][i], "air_heat_kw": num["air_heat_kw"][i],
            "liquid_heat_kw": num["liquid_heat_kw"][i], "u_used": int(col["u_used"][i]),
            "weight_kg": num["weight_kg"][i],
        }
        if col["has_existing"][i]:
            entry["existing"] = {"kw": num["existing_kw"][i], "liquid_kw": num["existing_liquid_kw"][i],
                                 "u": int(ex_u[i]), "weight_kg": num["existing_weight_kg"][i]}
            if len(ex_parts[i]) > 1 or any(pos for _u, pos in ex_parts[i]):
                entry["existing"]["parts"] = [{"u": int(u), "position": pos} for u, pos in ex_parts[i]]
        elif num["overhead_kw_used"][i] or ov_u[i] or num["overhead_weight_kg"][i]:
            entry["overhead"] = {"kw": num["overhead_kw"][i], "u": int(ov_u[i]), "weight_kg": num["overhead_weight_kg"][i]}
        if fill[1] is not None:  # each rack its own list of its own dicts
            entry["positions"] = [{"node": p["node"], "u": p["u"]} for p in fill[1]]
        entry["utilization"] = {x: util[x][i] for x in RACK_LIMITS}
        entry["binding"] = col["binding"][i]
        entry["annual_usd"] = {"energy": usd["energy_usd"][i], "cooling": usd["cooling_usd"][i],
                               "rack": usd["rack_usd"][i], "nodes": usd["nodes_usd"][i]}
        racks.append(entry)
    return racks


def _rows_and_halls(fac: Facility, df: Table) -> tuple[list[dict], list[dict]]:
    """Per row: heat against ``cooling_kw``; per hall: heat (air heat with CDUs) against usable cooling,
    and draw against ``it_kw``."""
    of_row, keys = df.groups("hall", "row")
    sums = {name: group_sums(of_row, len(keys), df[column]).tolist() for name, column in (
        ("heat_kw", "it_kw"), ("air_kw", "air_heat_kw"), ("existing_kw", "existing_kw"), ("planned_kw", "planned_kw"))}
    sums["racks_used"] = np.bincount(of_row, weights=df["nodes_planned"] > 0, minlength=len(keys)).tolist()
    by_row = {key: {name: values[i] for name, values in sums.items()} for i, key in enumerate(keys)}
    rows, halls = [], []
    for hall in fac.halls:
        h_heat = h_air = h_ex = 0.0
        h_used = h_racks = 0
        for row in hall.rows:
            g = by_row[(hall.name, row.name)]
            h_heat += float(g["heat_kw"])
            h_air += float(g["air_kw"])
            h_ex += float(g["existing_kw"])
            h_used += int(g["racks_used"])
            h_racks += row.racks
            rows.append({"hall": hall.name, "row": row.name, "rack_type": row.rack_type, "racks": row.racks,
                         "racks_used": int(g["racks_used"]), "planned_kw": _r(g["planned_kw"]),
                         "existing_kw": _r(g["existing_kw"]), "heat_kw": _r(g["heat_kw"]),
                         "cooling_kw": row.cooling_kw, "panels": list(row.path_panels),
                         "surviving_paths": fac.surviving_paths(row), "cdu": fac.cdu_of_row(hall).get(row.name),
                         "utilization": _r(g["heat_kw"] / row.cooling_kw, 4) if row.cooling_kw else None})
        cu = hall.cooling_units
        usable = fac.hall_usable_kw(hall)
        cooled = h_air if hall.cdus else h_heat
        halls.append({"name": hall.name, "racks": h_racks, "racks_used": h_used,
                      "heat_kw": _r(h_heat), "air_heat_kw": _r(h_air), "cooled_kw": _r(cooled),
                      "cools": "air" if hall.cdus else "all", "existing_kw": _r(h_ex),
                      "usable_kw": _r(usable), "installed_kw": _r(cu.count * cu.unit_kw), "units": cu.count,
                      "unit_kw": cu.unit_kw, "redundant": cu.redundant, "utilization": _r(cooled / usable, 4),
                      "it_kw_limit": hall.it_kw,
                      "it_utilization": _r(h_heat / hall.it_kw, 4) if hall.it_kw else None})
    return rows, halls


def power_section(fac: Facility, df: Table) -> dict[str, Any] | None:
    """``power``: each source and panel with its normal load and its worst load after any single
    failure (and which); each single failure that cuts power to racks (CONTRACT.md); and, per single
    failure, the most loaded element left and the rows that lose power (the report's impact table).
    A failure changes only the loads of elements that share a row with it, so only those are
    recomputed."""
    if fac.power is None:
        return None
    of_row, keys = df.groups("hall", "row")
    row_kw = dict(zip(keys, group_sums(of_row, len(keys), df["it_kw"]).tolist()))
    in_use = np.bincount(of_row, weights=df["it_kw"] > 0, minlength=len(keys)).astype(np.int64).tolist()
    used = {key: n for key, n in zip(keys, in_use) if n}
    elements = fac.power_elements()
    rating = {n: kw for n, _, kw in elements}
    normal = {n: sum(fac.path_share(row, n) * row_kw[(h, row.name)] for h, row in fac.rows_on[n])
              for n, _, _ in elements}
    by_normal = sorted(normal, key=lambda n: -normal[n] / rating[n])
    worst = {n: (normal[n], None) for n in normal}
    failures, dropped = [], []
    for failed, kind, _ in elements:
        lost = {failed} | ({p for p, s in fac.panel_source.items() if s == failed} if kind == "source" else set())
        affected = fac.rows_on[failed]
        after: dict[str, float] = {}
        for h, row in affected:
            for x in dict.fromkeys(list(row.path_panels) + [fac.panel_source[p] for p in row.path_panels]):
                if x in lost:
                    continue
                delta = (fac.path_share(row, x, failed) - fac.path_share(row, x)) * row_kw[(h, row.name)]
                after[x] = after.get(x, normal[x]) + delta
        for x, kw in after.items():
            if kw > worst[x][0] + 1e-9:
                worst[x] = (kw, failed)
        top = max(after, key=lambda n: after[n] / rating[n]) if after else None
        other = next((n for n in by_normal if n not in after and n not in lost), None)
        if other is not None and (top is None or normal[other] / rating[other] > after[top] / rating[top]):
            top, top_kw = other, normal[other]
        else:
            top_kw = after[top] if top else 0.0
        lost_rows = [(h, row) for h, row in affected
                     if physics.paths_lost(row.path_panels, fac.panel_source, failed) == len(row.path_panels)]
        lost_kw = sum(row_kw[(h, row.name)] for h, row in lost_rows)
        if lost_kw > 0:
            dropped.append({"failure": failed, "kw": _r(lost_kw), "rows": [f"{h}/{row.name}" for h, row in lost_rows]})
        failures.append({"failure": failed, "kind": kind, "most_loaded": top, "load_kw": _r(top_kw),
                         "rating_kw": rating[top] if top else 0.0, "dropped_kw": _r(lost_kw),
                         "dropped_racks": int(sum(used.get((h, row.name), 0) for h, row in lost_rows))})
    out = [{"name": name, "kind": kind, "kw": kw, "normal_kw": _r(normal[name]), "worst_kw": _r(worst[name][0]),
            "worst_failure": worst[name][1], "utilization": _r(worst[name][0] / kw, 4),
            "source": fac.panel_source.get(name)} for name, kind, kw in elements]
    return {"elements": out, "dropped": dropped, "failures": failures}


def cdu_section(fac: Facility, df: Table) -> list[dict[str, Any]] | None:
    """``cdus``: each CDU group's liquid heat against its usable capacity."""
    if not any(h.cdus for h in fac.halls):
        return None
    of_row, keys = df.groups("hall", "row")
    liquid = dict(zip(keys, group_sums(of_row, len(keys), df["liquid_heat_kw"]).tolist()))
    return [{"hall": hall.name, "name": g.name, "rows": list(g.rows),
             "liquid_kw": _r(sum(liquid[(hall.name, r)] for r in g.rows)), "usable_kw": _r(fac.usable_kw(g)),
             "units": g.count, "unit_kw": g.unit_kw, "redundant": g.redundant}
            for hall in fac.halls for g in hall.cdus or []]


def _totals(fac: Facility, types: list[NodeType], counts: np.ndarray, df: Table) -> dict[str, Any]:
    """``totals``: nodes, GPUs, racks, what the plan adds in kW (nodes and overhead), FP8, HBM, energy,
    carbon, provisioned and stranded power, and the annual cost by kind."""
    used = df["nodes_planned"] > 0
    planned = df.rows(used)
    ids = [t.id for t in types]
    per_type = counts.sum(axis=0)
    fp8 = float(sum(per_type[t] * types[t].fp8_pflops for t in range(len(types))))
    hbm = float(sum(per_type[t] * types[t].hbm_tb for t in range(len(types))))
    costs = _costs(df)
    kwh = float(df["kwh"].sum())
    cooling_kwh = costs["cooling"] / fac.site.electricity_usd_per_kwh
    added_kw = float(df["planned_kw"].sum() + df["overhead_kw_used"].sum())
    return {
        "nodes": {ids[t]: int(per_type[t]) for t in range(len(ids)) if per_type[t]},
        "gpus": int(df["gpus"].sum()),
        "racks_used": int(used.sum()),
        "racks_new": int(df["new"].sum()),
        "it_kw": _r(added_kw),
        "overhead_kw": _r(df["overhead_kw_used"].sum()),
        "facility_kw": _r(added_kw * (1 + (cooling_kwh / kwh if kwh else 0.0))),
        "fp8_pflops": _r(fp8), "hbm_tb": _r(hbm),
        "annual_kwh": _r(kwh, 1),
        "cooling_kwh": _r(cooling_kwh, 1),
        "carbon_t": _r((kwh + cooling_kwh) * fac.site.carbon_kg_per_kwh / 1000.0, 3)
        if fac.site.carbon_kg_per_kwh is not None else None,
        "provisioned_kw": _r(planned["provisioned_kw"].sum()),
        "stranded_kw": _r((planned["power_kw"] - planned["it_kw"]).sum()),
        "annual_usd": costs,
        "usd_per_pflops_year": _r(costs["total"] / fp8, 2) if fp8 > 0 else None,
    }


def _baseline(placement: Placement, demand: Demand, types: list[NodeType], fac: Facility,
              costs: dict[str, float]) -> dict[str, Any]:
    """``baseline``: the first-fit plan, whether it meets the demand (for fill: fits as many nodes as the
    plan), its racks and cost, and how much more it costs than the plan."""
    g, ids = placement.greedy, [t.id for t in types]
    meets_demand = bool(meets(placement.data, demand, g)) and (demand.kind != "fill" or g.sum() >= placement.counts.sum())
    baseline = {"method": "first-fit decreasing (facility order, largest node first)",
                "meets_demand": meets_demand,
                "nodes": {ids[t]: int(g[:, t].sum()) for t in range(len(ids)) if g[:, t].sum()},
                "racks_used": int((g.sum(axis=1) > 0).sum()),
                "annual_usd": _costs(rack_figures(fac, types, g))}
    if meets_demand and costs["total"] > 0:
        baseline["excess_over_plan"] = _r(baseline["annual_usd"]["total"] / costs["total"] - 1.0, 6)
    return baseline


def build_plan(loaded: LoadedFacility, cat: Catalogue, types: list[NodeType], demand: Demand,
               placement: Placement, solver_options: dict[str, Any], df: Table | None = None) -> dict[str, Any]:
    """The ``plan.json`` document for a placement (``df``: its :func:`rack_figures`, if already made).
    ``loaded`` is the facility the plan is for: with ``panels: auto`` rows, the one with the placement's
    striping written in (:meth:`~planner.inputs.facility.Facility.with_striping`)."""
    fac = loaded.facility
    if fac.striped_rows():
        raise ValueError("build the plan against the facility with its striping (Facility.with_striping)")
    counts = placement.counts
    df = rack_figures(fac, types, counts) if df is None else df
    used = df["nodes_planned"] > 0
    rows, halls = _rows_and_halls(fac, df)
    existing_only = [
        {"id": r["id"], "hall": r["hall"], "row": r["row"], "rack_type": r["rack_type"],
         "kw": _r(r["existing_kw"]), "liquid_kw": _r(r["existing_liquid_kw"]), "u": int(r["existing_u"]),
         "weight_kg": _r(r["existing_weight_kg"])}
        for r in _records(df.rows(df["has_existing"] & ~used), ("id", "hall", "row", "rack_type", "existing_kw",
                                                                "existing_liquid_kw", "existing_u", "existing_weight_kg"))
    ]

    totals = _totals(fac, types, counts, df)
    baseline = _baseline(placement, demand, types, fac, totals["annual_usd"])

    plan: dict[str, Any] = {
        "schema": SCHEMA_PLAN,
        "tool": tool_record(cat),
        "made_at": made_at(),
        "facility": {"name": fac.name, "file": loaded.path, "path": os.path.abspath(loaded.path),
                     "sha256": loaded.sha256,
                     "site": fac.site.model_dump(), "ppue": dict(fac.ppues),
                     "descriptor": fac.model_dump(mode="json", exclude_none=True)},
        "demand": demand.to_json(),
        "solver": {"name": placement.outcome.solver, "status": placement.status, "gap": _r(placement.gap, 8),
                   "seconds": _r(sum(placement.seconds.values()), 3), "method": placement.outcome.method,
                   "objective_usd": _r(placement.variable_usd, 2),
                   "bound_usd": None if placement.bound_usd is None else _r(placement.bound_usd, 2),
                   "gap_usd": _r(max(0.0, placement.variable_usd - (placement.bound_usd or 0.0)), 2)
                   if placement.bound_usd is not None else None,
                   "gap_on": "annual cost the placement controls" + (
                       ", the nodes' energy and prices included (the mix is chosen)" if placement.data.mix_varies
                       else " (the energy and prices of a fixed set of nodes excluded)"),
                   "fill_bound": placement.fill_bound,
                   **solver_options},
        "node_types": {t.id: t.contract_dict() | {"name": t.name} for t in types},
        "assumptions": _assumptions(cat, types),
        "spec_disputes": spec_disputes(cat, types),
        "rack_types": {
            name: {"u": t.u, "cooling": t.cooling, "form_factor": t.form_factor, "air_kw": t.air_kw,
                   "liquid_kw": t.liquid_kw, "feed": t.feed.model_dump(exclude_none=True), "feeds": t.feeds,
                   "power_redundancy": fac.redundancy(name), "paths": fac.paths(name),
                   "feed_kw": _r(fac.one_feed_kw(name)), "path_kw": _r(fac.path_kw(name)),
                   "power_kw": _r(fac.power_capacity_kw(name)), "max_weight_kg": t.max_weight_kg,
                   "annual_cost_usd": t.annual_cost_usd, "overhead": t.overhead.model_dump()}
            for name, t in fac.rack_types.items()},
        "racks": _rack_entries(df, counts, types),
        "existing_racks": existing_only,
        "rows": rows,
        "halls": halls,
        "totals": totals,
        "baseline": baseline,
    }
    if placement.striping:
        plan["striping"] = [{"row": f"{hall}/{row}", "sources": list(sources),
                             "panels": [f"{hall}-{row}-P{i}" for i in range(1, len(sources) + 1)]}
                            for (hall, row), sources in placement.striping.items()]
    if (power := power_section(fac, df)) is not None:
        plan["power"] = power
    if (cdus := cdu_section(fac, df)) is not None:
        plan["cdus"] = cdus
    if fac.plant is not None:
        heat = float(df["it_kw"].sum())
        usable = fac.usable_kw(fac.plant)
        plan["plant"] = {"heat_kw": _r(heat), "usable_kw": _r(usable), "units": fac.plant.count,
                         "unit_kw": fac.plant.unit_kw, "redundant": fac.plant.redundant,
                         "utilization": _r(heat / usable, 4)}
    plan["binding"] = _binding_summary(df.rows(used), plan)
    return plan


FULL = 0.98
"""Utilization at which a limit counts as full (binding) in the summary, whatever its headroom; below it,
a limit is full when its headroom would not take one more of the plan's smallest node."""


def _binding_summary(used: Table, plan: dict[str, Any]) -> dict[str, Any]:
    """Which limit binds: the first kind of limit above the racks with one full (:data:`FULL`), in this
    order: power sources after their worst single failure, the plant, hall IT capacity, CDU groups, hall
    cooling, panels after their worst failure; else row cooling, when at least a tenth as many rows are
    full as racks are used; else the single-rack limit that binds the most used racks. "One more node"
    is the plan's smallest node, in what the limit carries: its power, its liquid heat (CDU groups),
    its air heat (the hall cooling of a hall whose CDU groups take the liquid)."""
    rows, halls = plan["rows"], plan["halls"]
    counted = Counter(used["binding"].tolist())  # most racks first; ties in order of first appearance
    per_rack = dict(sorted(counted.items(), key=lambda kv: -kv[1]))
    types = list((plan.get("node_types") or {}).values())

    def smallest(share: Any) -> float:
        """The least kW one more node adds, of the share ``share(type)`` of its power (0: none adds any)."""
        return min((float(t["max_kw"]) * share(t) for t in types if share(t) > 0), default=0.0)

    node_kw = smallest(lambda t: 1.0)
    liquid_kw = smallest(lambda t: float(t.get("liquid_fraction") or 0.0))
    air_kw = smallest(lambda t: 1.0 - float(t.get("liquid_fraction") or 0.0))

    def full(load_kw: float | None, limit_kw: float | None, step_kw: float = node_kw) -> bool:
        if load_kw is None or not limit_kw:
            return False
        return load_kw > FULL * limit_kw or (step_kw > 0 and limit_kw - load_kw < step_kw)

    full_rows = [f"{r['hall']}/{r['row']}" for r in rows if full(r["heat_kw"], r["cooling_kw"])]
    full_halls = [h["name"] for h in halls
                  if full(h["cooled_kw"], h["usable_kw"], air_kw if h.get("cools") == "air" else node_kw)]
    full_it = [h["name"] for h in halls if h.get("it_kw_limit")
               and full((h.get("it_utilization") or 0) * h["it_kw_limit"], h["it_kw_limit"])]
    full_cdus = [f"{g['hall']}/{g['name']}" for g in plan.get("cdus") or []
                 if full(g["liquid_kw"], g["usable_kw"], liquid_kw)]
    plant = plan.get("plant")
    full_plant = bool(plant and full(plant["heat_kw"], plant["usable_kw"]))
    elements = (plan.get("power") or {}).get("elements") or []
    full_sources = [e["name"] for e in elements if e["kind"] == "source" and full(e["worst_kw"], e["kw"])]
    full_panels = [e["name"] for e in elements if e["kind"] == "panel" and full(e["worst_kw"], e["kw"])]
    main = max(per_rack, key=per_rack.get) if per_rack else None
    for limit, flagged in (("source", full_sources), ("plant", full_plant), ("hall_it", full_it),
                           ("cdu", full_cdus), ("hall", full_halls), ("panel", full_panels)):
        if flagged:
            main = limit
            break
    else:
        if full_rows and (main is None or len(full_rows) * 10 >= len(used)):
            main = "row"
    return {"limit": main, "label": LIMIT_LABEL.get(main, main) if main else None,
            "racks_by_limit": {k: int(v) for k, v in per_rack.items()},
            "rows_full": full_rows, "halls_full": full_halls, "sources_full": full_sources,
            "panels_full": full_panels, "cdus_full": full_cdus, "halls_it_full": full_it, "plant_full": full_plant}


CSV_COLUMNS = [
    "id", "hall", "row", "rack_type", "cooling", "nodes", "gpus", "planned_kw", "existing_kw", "overhead_kw", "it_kw",
    "power_kw", "power_headroom_kw", "feed_kw", "paths", "path_normal_kw", "path_worst_kw",
    "air_heat_kw", "air_kw", "air_headroom_kw", "liquid_heat_kw", "liquid_kw", "liquid_headroom_kw",
    "u_used", "u", "u_free", "weight_kg", "max_weight_kg", "weight_headroom_kg", "binding",
    "energy_usd", "cooling_usd", "rack_usd", "nodes_usd",
]


def _records(table: Table, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of ``table`` as dicts of Python values, for ``names``."""
    cols = [table[n].tolist() for n in names]
    return [dict(zip(names, row)) for row in zip(*cols)]


def _as_text(values: np.ndarray) -> list[str]:
    """A numeric column as the text the csv module writes for it (``str`` of each Python number),
    formatted once per distinct value: a campus's 14,000 racks have a few dozen distinct figures per
    column, and formatting every float took most of the time of writing ``racks.csv``."""
    distinct, where = np.unique(values, return_inverse=True)
    return np.array([str(v) for v in distinct.tolist()], dtype=object)[where.ravel()].tolist()


def racks_csv(fac: Facility, types: list[NodeType], counts: np.ndarray, df: Table | None = None) -> str:
    """``racks.csv``: one line per rack holding a planned node, with load and headroom per resource and
    the load on each feed path normally and after the worst loss it must survive."""
    df = rack_figures(fac, types, counts) if df is None else df
    used = df.rows(df["nodes_planned"] > 0)
    ids = [t.id for t in types]
    sub = counts[df["nodes_planned"] > 0]
    fills, which = np.unique(sub.reshape(len(sub), -1), axis=0, return_inverse=True)  # each distinct fill once
    text = [";".join(f"{ids[t]}={n}" for t, n in enumerate(row) if n) for row in fills.tolist()]
    used["nodes"] = np.array(text, dtype=object)[which.ravel()] if len(sub) else np.array([], dtype=object)
    used["overhead_kw"] = used["overhead_kw_used"]
    used["power_headroom_kw"] = used["power_kw"] - used["it_kw"]
    used["air_headroom_kw"] = used["air_kw"] - used["air_heat_kw"]
    used["liquid_headroom_kw"] = used["liquid_kw"] - used["liquid_heat_kw"]
    used["u_free"] = used["u"] - used["u_used"]
    used["weight_headroom_kg"] = used["max_weight_kg"] - used["weight_kg"]
    # column by column, each distinct value turned into its CSV text once (pandas' to_csv, or the csv
    # module row by row, took 0.3-0.5 s for a campus)
    cols = []
    for name in CSV_COLUMNS:
        values = used[name]
        if values.dtype.kind == "f":
            values = np.round(values.astype(float), 4)
        cols.append(_as_text(values) if values.dtype.kind in "fiub" else _as_csv_fields(values.tolist()))
    lines = [",".join(_as_csv_fields(CSV_COLUMNS))] + [",".join(row) for row in zip(*cols)]
    return "\n".join(lines) + "\n"


def _as_csv_fields(values: list[Any]) -> list[str]:
    """Each value as the csv module writes a field (``QUOTE_MINIMAL``): ``str`` of it (None empty),
    quoted, with quotes doubled, when it holds a comma, a quote or a line break."""
    seen: dict[Any, str] = {}
    out = []
    for v in values:
        text = seen.get(v)
        if text is None:
            text = "" if v is None else str(v)
            if any(ch in text for ch in ',"\r\n'):
                text = '"' + text.replace('"', '""') + '"'
            seen[v] = text
        out.append(text)
    return out


def power_csv(plan: dict[str, Any]) -> str | None:
    """``power.csv``: one line per source and panel: rating, normal and worst load, which failure,
    headroom. None without a power tree."""
    power = plan.get("power")
    if not power:
        return None
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["element", "kind", "source", "rating_kw", "normal_kw", "worst_kw", "worst_failure", "headroom_kw"])
    for e in power["elements"]:
        w.writerow([e["name"], e["kind"], e.get("source") or "", e["kw"], e["normal_kw"], e["worst_kw"],
                    e["worst_failure"] or "", round(e["kw"] - e["worst_kw"], 4)])
    return buf.getvalue()
