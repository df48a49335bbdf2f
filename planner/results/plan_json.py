"""A placement made into a plan: ``plan.json`` (``rackplan.plan/1``) and ``racks.csv``.

``plan.json`` is the complete record: the contract's fields (CONTRACT.md) plus everything the report
needs (rack types, rows, halls, existing load, assumptions and their sources, the baseline, the
check), so ``rackplan report PLAN.json`` renders from it alone and any program can check it against
its facility. Per-rack figures are computed with numpy (a campus has tens of thousands of racks);
:mod:`planner.results.checker` recomputes them independently with plain loops.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from planner import __version__, physics
from planner.inputs.demand import Demand
from planner.inputs.facility import LoadedFacility
from planner.optimize.placement import Placement
from planner.inputs.specs import Catalogue, NodeType

SCHEMA = "rackplan.plan/1"
LIMITS = ("power", "air", "liquid", "u", "weight")
"""Per-rack limits, in the order ``utilization`` lists them."""
LIMIT_LABEL = {"power": "power", "air": "air heat", "liquid": "liquid heat", "u": "space (U)",
               "weight": "weight", "row": "row cooling", "hall": "hall cooling"}


def _r(x: float, nd: int = 6) -> float:
    return float(round(float(x), nd))


def rack_figures(loaded: LoadedFacility, types: list[NodeType], counts: np.ndarray) -> pd.DataFrame:
    """Per-rack loads, capacities, utilization and annual cost for an (R x T) plan (all racks)."""
    fac = loaded.facility
    df = fac.racks.frame.copy()
    max_kw = np.array([t.max_kw for t in types])
    lf = np.array([t.liquid_fraction for t in types])
    u = np.array([t.u for t in types], dtype=float)
    wt = np.array([t.weight_kg for t in types])
    price = np.array([t.annual_cost_usd for t in types])
    planned_kw = counts @ max_kw
    df["planned_kw"] = planned_kw
    df["it_kw"] = planned_kw + df["existing_kw"]
    df["liquid_heat_kw"] = counts @ (max_kw * lf)
    df["air_heat_kw"] = counts @ (max_kw * (1 - lf)) + df["existing_kw"]
    df["u_used"] = counts @ u + df["existing_u"]
    df["weight_kg"] = counts @ wt + df["existing_weight_kg"]
    df["nodes_planned"] = counts.sum(axis=1)
    df["gpus"] = counts @ np.array([t.gpus for t in types])

    one_feed = {name: fac.one_feed_kw(name) for name in fac.rack_types}
    df["feed_kw"] = df["rack_type"].map(one_feed)
    df["provisioned_kw"] = [physics.provisioned_kw(one_feed[t], fac.rack_types[t].feeds, fac.site.power_redundancy)
                            for t in df["rack_type"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        df["util_power"] = df["it_kw"] / df["power_kw"]
        df["util_air"] = np.where(df["air_kw"] > 0, df["air_heat_kw"] / df["air_kw"], 0.0)
        df["util_liquid"] = np.where(df["liquid_kw"] > 0, df["liquid_heat_kw"] / df["liquid_kw"], 0.0)
        df["util_u"] = df["u_used"] / df["u"]
        df["util_weight"] = df["weight_kg"] / df["max_weight_kg"]
    util = df[[f"util_{x}" for x in LIMITS]].to_numpy()
    df["binding"] = np.array(LIMITS)[util.argmax(axis=1)]
    df["binding_util"] = util.max(axis=1)

    kwh = counts @ (max_kw * fac.site.load_factor * physics.HOURS_PER_YEAR)
    usd = fac.site.electricity_usd_per_kwh
    cool_factor = np.zeros(len(df))
    cooling = df["cooling"].to_numpy()
    for c in np.unique(cooling):
        air_p, liq_p = physics.path_ppues(c, fac.ppues)
        per_type = np.array([
            physics.annual_kwh(t.max_kw, fac.site.load_factor) * physics.cooling_overhead_factor(
                t.liquid_fraction, air_p, liq_p if liq_p is not None else air_p) for t in types])
        sel = cooling == c
        cool_factor[sel] = counts[sel] @ per_type
    df["energy_usd"] = kwh * usd
    df["cooling_usd"] = cool_factor * usd
    df["new"] = (df["nodes_planned"] > 0) & ~df["has_existing"]
    df["rack_usd"] = np.where(df["new"], df["annual_cost_usd"], 0.0)
    df["nodes_usd"] = counts @ price
    df["kwh"] = kwh
    return df


def _costs(df: pd.DataFrame) -> dict[str, float]:
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
    return out


def spec_disputes(cat: Catalogue, types: list[NodeType]) -> list[dict[str, Any]]:
    """Where the sources behind an accelerator in use disagree (e.g. the MI400 projection against
    AMD's published MI455X figures), as the spec library records it."""
    out = []
    for acc_id in dict.fromkeys(t.accelerator for t in types):
        acc = cat.accelerators.get(acc_id)
        if acc is not None and acc.disagreement:
            out.append({"accelerator": acc_id, "name": acc.name, "status": acc.status,
                        "disagreement": " ".join(acc.disagreement.split()), "see_also": list(acc.see_also)})
    return out


def build_plan(loaded: LoadedFacility, cat: Catalogue, types: list[NodeType], demand: Demand,
               placement: Placement, solver_options: dict[str, Any]) -> dict[str, Any]:
    """The ``plan.json`` document for a placement."""
    fac = loaded.facility
    counts = placement.counts
    df = rack_figures(loaded, types, counts)
    used = df["nodes_planned"].to_numpy() > 0
    ids = [t.id for t in types]

    racks = []
    used_idx = np.flatnonzero(used)
    for r, row in zip(used_idx, df.iloc[used_idx].to_dict("records")):
        entry: dict[str, Any] = {
            "id": row["id"], "hall": row["hall"], "row": row["row"], "rack_type": row["rack_type"],
            "nodes": {ids[t]: int(counts[r, t]) for t in np.flatnonzero(counts[r])},
            "it_kw": _r(row["it_kw"]), "air_heat_kw": _r(row["air_heat_kw"]),
            "liquid_heat_kw": _r(row["liquid_heat_kw"]), "u_used": int(row["u_used"]),
            "weight_kg": _r(row["weight_kg"]),
        }
        if row["has_existing"]:
            entry["existing"] = {"kw": _r(row["existing_kw"]), "u": int(row["existing_u"]),
                                 "weight_kg": _r(row["existing_weight_kg"])}
        entry["utilization"] = {x: _r(row[f"util_{x}"], 4) for x in LIMITS}
        entry["binding"] = row["binding"]
        entry["annual_usd"] = {"energy": _r(row["energy_usd"], 2), "cooling": _r(row["cooling_usd"], 2),
                               "rack": _r(row["rack_usd"], 2), "nodes": _r(row["nodes_usd"], 2)}
        racks.append(entry)

    existing_only = [
        {"id": r["id"], "hall": r["hall"], "row": r["row"], "rack_type": r["rack_type"],
         "kw": _r(r["existing_kw"]), "u": int(r["existing_u"]), "weight_kg": _r(r["existing_weight_kg"])}
        for r in df[df["has_existing"] & ~used].to_dict("records")
    ]

    rows = []
    row_heat = df.groupby(["hall", "row"], sort=False).agg(
        heat_kw=("it_kw", "sum"), existing_kw=("existing_kw", "sum"), planned_kw=("planned_kw", "sum"),
        racks_used=("nodes_planned", lambda s: int((s > 0).sum())))
    for hall in fac.halls:
        for row in hall.rows:
            h = row_heat.loc[(hall.name, row.name)]
            rows.append({"hall": hall.name, "row": row.name, "rack_type": row.rack_type, "racks": row.racks,
                         "racks_used": int(h["racks_used"]), "planned_kw": _r(h["planned_kw"]),
                         "existing_kw": _r(h["existing_kw"]), "heat_kw": _r(h["heat_kw"]),
                         "cooling_kw": row.cooling_kw,
                         "utilization": _r(h["heat_kw"] / row.cooling_kw, 4) if row.cooling_kw else None})
    halls = []
    hall_heat = df.groupby("hall", sort=False).agg(heat_kw=("it_kw", "sum"), existing_kw=("existing_kw", "sum"),
                                                   racks=("id", "size"),
                                                   racks_used=("nodes_planned", lambda s: int((s > 0).sum())))
    for hall in fac.halls:
        h = hall_heat.loc[hall.name]
        cu = hall.cooling_units
        usable = fac.hall_usable_kw(hall)
        halls.append({"name": hall.name, "racks": int(h["racks"]), "racks_used": int(h["racks_used"]),
                      "heat_kw": _r(h["heat_kw"]), "existing_kw": _r(h["existing_kw"]),
                      "usable_kw": _r(usable), "installed_kw": _r(cu.count * cu.unit_kw), "units": cu.count,
                      "unit_kw": cu.unit_kw, "redundant": cu.redundant,
                      "utilization": _r(h["heat_kw"] / usable, 4)})

    planned = df[used]
    totals_nodes = {ids[t]: int(counts[:, t].sum()) for t in range(len(ids)) if counts[:, t].sum()}
    fp8 = float(sum(counts[:, t].sum() * types[t].fp8_pflops for t in range(len(types))))
    hbm = float(sum(counts[:, t].sum() * types[t].hbm_tb for t in range(len(types))))
    costs = _costs(df)
    kwh = float(df["kwh"].sum())
    cooling_kwh = costs["cooling"] / fac.site.electricity_usd_per_kwh
    totals = {
        "nodes": totals_nodes,
        "gpus": int(df["gpus"].sum()),
        "racks_used": int(used.sum()),
        "racks_new": int(df["new"].sum()),
        "it_kw": _r(df["planned_kw"].sum()),
        "facility_kw": _r(df["planned_kw"].sum() * (1 + (cooling_kwh / kwh if kwh else 0.0))),
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
    binding = _binding_summary(df[used], rows, halls)

    g = placement.greedy
    gdf = rack_figures(loaded, types, g)
    from planner.optimize.first_fit import meets

    baseline = {"method": "first-fit decreasing (facility order, largest node first)",
                "meets_demand": bool(meets(placement.data, demand, g)),
                "nodes": {ids[t]: int(g[:, t].sum()) for t in range(len(ids)) if g[:, t].sum()},
                "racks_used": int((g.sum(axis=1) > 0).sum()),
                "annual_usd": _costs(gdf)}
    if baseline["meets_demand"] and costs["total"] > 0:
        baseline["excess_over_plan"] = _r(baseline["annual_usd"]["total"] / costs["total"] - 1.0, 6)

    site = fac.site.model_dump()
    return {
        "schema": SCHEMA,
        "tool": {"name": "rackplan", "version": __version__},
        "facility": {"name": fac.name, "file": loaded.path, "sha256": loaded.sha256, "site": site,
                     "ppue": dict(fac.ppues)},
        "demand": demand.to_json(),
        "solver": {"name": placement.outcome.solver, "status": placement.status, "gap": _r(placement.gap, 8),
                   "seconds": _r(sum(placement.seconds.values()), 3),
                   "objective_usd": _r(placement.variable_usd, 2),
                   "bound_usd": None if placement.bound_usd is None else _r(placement.bound_usd, 2),
                   "gap_on": "annual cost the placement controls" + (" (energy and prices of a fixed set of "
                                                                     "nodes excluded)" if demand.kind != "target" else ""),
                   "fill_bound": placement.fill_bound,
                   **solver_options},
        "node_types": {t.id: t.contract_dict() | {"name": t.name} for t in types},
        "assumptions": _assumptions(cat, types),
        "spec_disputes": spec_disputes(cat, types),
        "rack_types": {
            name: {"u": t.u, "cooling": t.cooling, "air_kw": t.air_kw, "liquid_kw": t.liquid_kw,
                   "feed": t.feed.model_dump(), "feeds": t.feeds, "feed_kw": _r(fac.one_feed_kw(name)),
                   "power_kw": _r(fac.power_capacity_kw(name)), "max_weight_kg": t.max_weight_kg,
                   "annual_cost_usd": t.annual_cost_usd}
            for name, t in fac.rack_types.items()},
        "racks": racks,
        "existing_racks": existing_only,
        "rows": rows,
        "halls": halls,
        "binding": binding,
        "totals": totals,
        "baseline": baseline,
    }


def _binding_summary(used: pd.DataFrame, rows: list[dict], halls: list[dict]) -> dict[str, Any]:
    """Which limit binds: per-rack limits by how many used racks they bind, then row and hall cooling."""
    per_rack = used["binding"].value_counts().to_dict() if len(used) else {}
    full_rows = [f"{r['hall']}/{r['row']}" for r in rows if r["utilization"] is not None and r["utilization"] > 0.98]
    full_halls = [h["name"] for h in halls if h["utilization"] > 0.98]
    main = max(per_rack, key=per_rack.get) if per_rack else None
    if full_halls:
        main = "hall"
    elif full_rows and (main is None or len(full_rows) * 10 >= len(used)):
        main = "row"
    return {"limit": main, "label": LIMIT_LABEL.get(main, main) if main else None,
            "racks_by_limit": {k: int(v) for k, v in per_rack.items()},
            "rows_full": full_rows, "halls_full": full_halls}


CSV_COLUMNS = [
    "id", "hall", "row", "rack_type", "cooling", "nodes", "gpus", "planned_kw", "existing_kw", "it_kw",
    "power_kw", "power_headroom_kw", "feed_kw", "side_load_normal_kw", "side_load_failover_kw",
    "air_heat_kw", "air_kw", "air_headroom_kw", "liquid_heat_kw", "liquid_kw", "liquid_headroom_kw",
    "u_used", "u", "u_free", "weight_kg", "max_weight_kg", "weight_headroom_kg", "binding",
    "energy_usd", "cooling_usd", "rack_usd", "nodes_usd",
]


def racks_csv(loaded: LoadedFacility, types: list[NodeType], counts: np.ndarray) -> str:
    """``racks.csv``: one line per rack holding a planned node, with load and headroom per resource."""
    df = rack_figures(loaded, types, counts)
    red = loaded.facility.site.power_redundancy
    used = df[df["nodes_planned"] > 0].copy()
    ids = [t.id for t in types]
    sub = counts[df["nodes_planned"].to_numpy() > 0]
    used["nodes"] = [";".join(f"{ids[t]}={n}" for t, n in enumerate(row) if n) for row in sub]
    used["power_headroom_kw"] = used["power_kw"] - used["it_kw"]
    used["side_load_normal_kw"] = [physics.side_load_kw(x, red, failed=False) for x in used["it_kw"]]
    used["side_load_failover_kw"] = [physics.side_load_kw(x, red, failed=True) for x in used["it_kw"]]
    used["air_headroom_kw"] = used["air_kw"] - used["air_heat_kw"]
    used["liquid_headroom_kw"] = used["liquid_kw"] - used["liquid_heat_kw"]
    used["u_free"] = used["u"] - used["u_used"]
    used["weight_headroom_kg"] = used["max_weight_kg"] - used["weight_kg"]
    out = used[CSV_COLUMNS].copy()
    for col in out.columns:
        if out[col].dtype == float:
            out[col] = out[col].round(4)
    return out.to_csv(index=False)
