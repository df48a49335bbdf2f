"""What ``rackplan specs`` prints: the table of node profiles, the whole library as JSON, and
``rackplan specs show ID`` - every figure of one node with its value at each spec point, its status,
confidence, range, note and sources. Plain text in, plain text out; no planning happens here."""

from __future__ import annotations

import textwrap
from typing import Any

from planner.vocabulary import SCHEMA_SPECS_LISTING
from planner.inputs.specs import (FIGURES_ACC, Availability, Catalogue, Figure, LIBRARY_DATE, NodeProfile, Source,
                                  node_overhead_kw, resolve)

WIDTH = 100

UNITS = {"tdp_w": "W", "hbm_gb": "GB", "mem_bw_tbps": "TB/s", "bf16_tflops_dense": "TFLOPS",
         "fp8_tflops_dense": "TFLOPS", "fp4_tflops_dense": "TFLOPS", "max_kw": "kW", "overhead_kw": "kW",
         "typical_kw": "kW", "liquid_fraction": "", "weight_kg": "kg", "annual_cost_usd": "USD/yr",
         "price_usd": "USD", "rent_usd_month": "USD/mo", "available": ""}

NODE_FIGURES = (("power.max_kw", "design load (vendor maximum)"), ("power.overhead_kw", "platform overhead"),
                ("power.typical_kw", "typical draw (not planned at)"), ("liquid_fraction", "share of heat to liquid"),
                ("weight_kg", "weight"), ("price_usd", "purchase price per node"),
                ("rent_usd_month", "rent per node-month"), ("annual_cost_usd", "annual cost (planned at)"),
                ("available", "available from"))


# --- the table and the JSON listing --------------------------------------------------------------

def table(cat: Catalogue) -> str:
    """``rackplan specs``: one line per node profile, then where sources disagree."""
    lines = [f"spec library {cat.version} (describes {LIBRARY_DATE})",
             f"{'node id':<19} {'GPUs':>4} {'U':>3} {'form':<6} {'max kW':>20}  {'cooling':<7} {'status':<10} conf  name"]
    for nid in sorted(cat.nodes):
        prof = cat.nodes[nid]
        kw = f"{resolve(cat, nid).max_kw:.1f}"
        if cat.points(nid) != ("nominal",):
            kw += f" ({resolve(cat, nid, 'low').max_kw:.1f}-{resolve(cat, nid, 'high').max_kw:.1f})"
        lines.append(f"{nid:<19} {prof.gpus:>4} {prof.u:>3} {prof.form_factor:<6} {kw:>20}  {prof.cooling:<7} "
                     f"{prof.status:<10} {prof.confidence:<4}  {prof.name}")
    disputed = [(aid, a.disagreement) for aid, a in cat.accelerators.items() if a.disagreement]
    disputed += [(nid, n.disagreement) for nid, n in sorted(cat.nodes.items()) if n.disagreement]
    if disputed:
        lines += ["", "where sources disagree:"]
        for key, text in disputed:
            lines.append(textwrap.fill(f"{key}: {' '.join(text.split())}", width=WIDTH, initial_indent="  ",
                                       subsequent_indent="    "))
    lines += ["", "'rackplan specs show ID' prints every figure of a node with its sources; "
                  "'rackplan specs --json' lists everything. Ranges are low-high spec points."]
    return "\n".join(lines)


def listing_json(cat: Catalogue) -> dict[str, Any]:
    """``rackplan specs --json``: every source, accelerator and node, with each node resolved at its points."""
    out: dict[str, Any] = {
        "schema": SCHEMA_SPECS_LISTING,
        "library_version": cat.version,
        "library_date": LIBRARY_DATE,
        "sources": {k: v.model_dump() for k, v in cat.sources.items()},
        "accelerators": {k: v.model_dump(exclude_none=True) for k, v in cat.accelerators.items()},
        "nodes": {},
    }
    for nid in cat.nodes:
        out["nodes"][nid] = node_json(cat, nid)
    return out


def node_json(cat: Catalogue, node_id: str) -> dict[str, Any]:
    """One node profile as JSON, with where it was read from and its resolved spec points."""
    prof = cat.node(node_id)
    entry = prof.model_dump(exclude_none=True)
    entry["from"] = cat.origin.get("node:" + node_id)
    entry["points"] = {p: resolve(cat, node_id, p).contract_dict() for p in cat.points(node_id)}
    return entry


# --- one node, every figure ----------------------------------------------------------------------

def _num(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _value(fig: Figure | Availability, unit: str, planned_at_ends: bool = True) -> str:
    """``nominal unit`` plus the range, in the same unit, and whether plans use it."""
    if isinstance(fig, Availability):
        text = fig.nominal
        if fig.low is not None or fig.high is not None:
            text += f" (range {fig.low or fig.nominal} .. {fig.high or fig.nominal})"
        return text
    text = f"{_num(fig.nominal)} {unit}".rstrip()
    if fig.low is not None or fig.high is not None:
        lo = fig.nominal if fig.low is None else fig.low
        hi = fig.nominal if fig.high is None else fig.high
        how = "low/high spec points" if fig.status == "projected" and planned_at_ends else "shown, not planned at"
        text += f" (range {_num(lo)}-{_num(hi)} {unit}, {how})".replace(" ,", ",")
    return text


def _figure_lines(label: str, name: str, fig: Figure | Availability) -> list[str]:
    key = name.split(".")[-1]
    head = f"  {label:<31} {fig.status or '-':<10} {fig.confidence or '-'}  {_value(fig, UNITS.get(key, ''), key != 'liquid_fraction')}"
    out = [textwrap.fill(head, width=WIDTH, subsequent_indent=" " * 48)]
    if fig.note:
        out.append(textwrap.fill(" ".join(fig.note.split()), width=WIDTH, initial_indent="      ",
                                 subsequent_indent="      "))
    if fig.sources:
        out.append(textwrap.fill("sources: " + ", ".join(fig.sources), width=WIDTH, initial_indent="      ",
                                 subsequent_indent="        "))
    return out


def _source_lines(sid: str, src: Source) -> list[str]:
    bits = [f"[{src.kind}]"]
    if src.publisher:
        bits.append(src.publisher)
    if src.date:
        bits.append(f"published {src.date}")
    if src.read:
        bits.append(f"read {src.read}")
    out = [textwrap.fill(f"{sid}: {' '.join(src.title.split())}", width=WIDTH, initial_indent="  ",
                         subsequent_indent="      ")]
    out.append(textwrap.fill("; ".join(bits), width=WIDTH, initial_indent="      ", subsequent_indent="      "))
    out.append(textwrap.fill(f"at: {src.url}" if src.url else "at: (no address; see the title)", width=WIDTH,
                             initial_indent="      ", subsequent_indent="        ", break_long_words=False,
                             break_on_hyphens=False))
    if src.via:
        out.append(textwrap.fill(f"read via: {' '.join(src.via.split())}", width=WIDTH, initial_indent="      ",
                                 subsequent_indent="        "))
    return out


def _node_figures(prof: NodeProfile) -> list[tuple[str, str, Figure | Availability]]:
    found = []
    for name, label in NODE_FIGURES:
        holder, key = (prof.power, name[6:]) if name.startswith("power.") else (prof, name)
        fig = getattr(holder, key)
        if fig is not None:
            found.append((label, name, fig))
    return found


def show(cat: Catalogue, node_id: str) -> str:
    """``rackplan specs show ID``: every figure of one node with its source, status, confidence and range."""
    prof = cat.node(node_id)
    acc = cat.accelerators[prof.accelerator]
    points = cat.points(node_id)
    def para(text: str, indent: str = "  ") -> str:
        return textwrap.fill(" ".join(text.split()), width=WIDTH, initial_indent=indent,
                             subsequent_indent=indent + "  ")

    lines = [f"{node_id}: {prof.name}",
             para(f"vendor {prof.vendor}; status {prof.status}; confidence {prof.confidence}; "
                  f"from {cat.origin.get('node:' + node_id, '?')}; spec library {cat.version}"),
             para(f"{prof.gpus} x {prof.accelerator} ({acc.name}), {prof.u}U, rack form factor "
                  f"{prof.form_factor}, cooling {prof.cooling}, power basis {prof.power.basis}")]
    if prof.chassis:
        lines.append(textwrap.fill("chassis: " + " ".join(prof.chassis.split()), width=WIDTH, initial_indent="  ",
                                   subsequent_indent="    "))
    if prof.available is None:
        lines.append(f"  available: now (shipping as of the library date, {LIBRARY_DATE})"
                     if prof.status == "shipping" else "  available: no date in the library")

    lines += ["", f"Planned at ({', '.join(points)}):"]
    for p in points:
        t = resolve(cat, node_id, p)
        extra = "".join([f", price {t.price_usd:,.0f} USD" if t.price_usd is not None else "",
                         f", rent {t.rent_usd_month:,.0f} USD/month" if t.rent_usd_month is not None else "",
                         f", available {t.available_from}" if t.available_from else ""])
        lines.append(f"  {p:<8} max_kw {t.max_kw:.3f}, TDP {t.tdp_w:g} W, FP8 {t.fp8_pflops:.4g} PFLOPS dense, "
                     f"HBM {t.hbm_tb:.4g} TB, {t.weight_kg:g} kg{extra}")
    if prof.power.basis == "derived":
        lines.append(f"  max_kw = {prof.gpus} x TDP / 1000 + overhead_kw "
                     f"(nominal {prof.gpus} x {acc.tdp_w.nominal:g} / 1000 + "
                     f"{node_overhead_kw(cat, prof, 'nominal'):g})")
    else:
        lines.append(f"  --tdp keeps the implied overhead {node_overhead_kw(cat, prof, 'nominal'):.3g} kW "
                     f"(max_kw - {prof.gpus} x nominal TDP)")

    lines += ["", f"{'Node figures':<31} {'status':<10} conf  value"]
    for label, name, fig in _node_figures(prof):
        lines += _figure_lines(label, name, fig)

    lines += ["", f"{'Accelerator ' + prof.accelerator + ' (per GPU)':<31} {'status':<10} conf  value"]
    for name in FIGURES_ACC:
        fig = getattr(acc, name)
        if fig is not None:
            lines += _figure_lines(name, name, fig)

    for title, text in (("Where sources disagree (node)", prof.disagreement),
                        (f"Where sources disagree ({prof.accelerator})", acc.disagreement),
                        ("Notes", prof.notes), (f"Notes ({prof.accelerator})", acc.notes)):
        if text:
            lines += ["", title + ":", textwrap.fill(" ".join(text.split()), width=WIDTH, initial_indent="  ",
                                                     subsequent_indent="  ")]
    related = list(prof.see_also) + [f"{a} (accelerator)" for a in acc.see_also]
    if related:
        lines += ["", "See also: " + ", ".join(related)]

    cited: dict[str, None] = {}
    for sid in prof.sources + acc.sources:
        cited[sid] = None
    for _, _, fig in _node_figures(prof):
        cited.update(dict.fromkeys(fig.sources))
    for name in FIGURES_ACC:
        fig = getattr(acc, name)
        if fig is not None:
            cited.update(dict.fromkeys(fig.sources))
    lines += ["", "Sources:"]
    for sid in cited:
        if sid in cat.sources:
            lines += _source_lines(sid, cat.sources[sid])
    lines += ["", para("Confidence: A - a vendor document or vendor MLPerf metadata, read directly; B - vendor "
                       "figures read through a third party, or reputable press; C - a third-party compilation or "
                       "rackplan's own estimate.", indent="")]
    return "\n".join(lines)
