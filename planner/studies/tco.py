"""Prices and total cost of ownership: what a node costs a year, and what the plan costs per useful unit.

A node is either bought (a purchase price per node, turned into an annual cost with the capital
recovery factor over ``years`` at ``discount_rate``) or rented (a rent per node-month, times 12).
That annual cost is the contract's ``nodes`` cost (``annual_cost_usd`` of the node type), which the
optimizer charges and the checker recomputes.

Where prices come from, in override order (STYLE.md item 8): the spec library (``price_usd`` and
``rent_usd_month`` on a node profile, or its ``annual_cost_usd``), then the demand file's ``prices:``
block, then ``--price ID=USD[/month]``. Rent or buy is chosen per candidate: the basis the user names
(``basis:`` in the block; a ``/month`` price means rent), else the one the user gave a figure for,
else the only one known, else the cheaper of the two at nominal; the other is recorded beside it so a
report can show both.

In a sweep the price reaches each scenario's plan through the catalogue (:func:`priced_catalogue`):
the node profile's ``annual_cost_usd`` figure is replaced, so the optimizer and the independent
checker (which re-resolves every node figure from the catalogue) read the same number. ``compare``
writes its plans with the library's own figures, so ``rackplan check`` re-checks them against the
library alone, and adds the price to each candidate's row (a single candidate's node count does not
depend on its price: :func:`planner.studies.compare.priced_row`).

Physics and cost stay plain functions (STYLE.md item 5): :func:`capital_recovery_factor`,
:func:`annual_cost_usd`, :func:`unit_costs`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from planner.errors import InputError
from planner.inputs.specs import Catalogue, Figure, Source

Basis = Literal["buy", "rent", "annual"]

HOURS_PER_YEAR = 8760.0
"""Hours in a (non-leap) year, as the energy cost uses."""
HOURS_PER_MONTH = 730.0
"""Hours in a rental month (8760 / 12), as bare-metal and cloud price lists use."""
DEFAULT_YEARS = 4.0
"""Years over which a purchase is recovered (a typical GPU depreciation schedule)."""
DEFAULT_DISCOUNT_RATE = 0.0
"""Discount rate for the capital recovery factor; 0 is straight-line (price / years)."""

FOOTPRINT_M2 = {"eia-19": 0.6 * 1.2, "orv3": 0.6 * 1.2, "orw": 1.2 * 1.3}
"""Floor footprint of one rack by form factor [m²], rack only (no aisles): a 600 x 1200 mm 19-inch or
ORV3 rack, a 1200 x 1300 mm Open Rack Wide."""


def capital_recovery_factor(rate: float, years: float) -> float:
    """The share of a purchase price paid each year to recover it over ``years`` at ``rate``:
    ``r (1+r)^n / ((1+r)^n - 1)``; ``1 / n`` when ``r`` is 0 (straight line)."""
    if years <= 0:
        raise ValueError(f"years must be positive, got {years}")
    if rate < 0:
        raise ValueError(f"the discount rate must be at least 0, got {rate}")
    if rate == 0:
        return 1.0 / years
    g = (1.0 + rate) ** years
    return rate * g / (g - 1.0)


def annual_cost_usd(amount: float, basis: Basis, years: float = DEFAULT_YEARS,
                    rate: float = DEFAULT_DISCOUNT_RATE) -> float:
    """A node's annual cost [USD/year] from a purchase price [USD] (``buy``), a rent [USD per
    node-month] (``rent``) or an annual cost already (``annual``)."""
    if basis == "buy":
        return amount * capital_recovery_factor(rate, years)
    if basis == "rent":
        return amount * 12.0
    return amount


@dataclass(frozen=True)
class PriceChoice:
    """How one candidate is paid for, and where the figure comes from."""

    node: str
    basis: Basis
    """``buy`` (purchase price per node), ``rent`` (per node-month) or ``annual`` (the library's annual cost)."""
    figure: Figure
    """The price in its own unit: USD per node (buy), USD per node-month (rent), USD per year (annual)."""
    origin: str
    """``spec library``, ``demand file FILE`` or ``--price``."""
    years: float = DEFAULT_YEARS
    rate: float = DEFAULT_DISCOUNT_RATE
    why: str = ""
    """Why this basis: named by the user, the only one known, or the cheaper at nominal."""
    other: dict[str, Any] | None = None
    """The basis not chosen, where known: ``{"basis", "price", "annual_usd"}`` at nominal."""
    source_ids: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        return {"buy": "USD per node", "rent": "USD per node-month", "annual": "USD per node-year"}[self.basis]

    def annual(self, amount: float | None = None) -> float:
        """Annual cost [USD] of ``amount`` (default: the nominal price) on this basis."""
        return annual_cost_usd(self.figure.nominal if amount is None else amount, self.basis, self.years, self.rate)

    @property
    def ranged(self) -> bool:
        """Has a range to draw from (a price is uncertain even for a shipping product, so its range is
        drawn from in sweeps whatever its status; at the spec points only a projected one moves)."""
        f = self.figure
        return f.low is not None and f.high is not None and f.high > f.low

    def annual_figure(self) -> Figure:
        """The annual cost as a spec figure, with the price's range, status and sources."""
        f = self.figure
        return Figure(nominal=self.annual(f.nominal), low=None if f.low is None else self.annual(f.low),
                      high=None if f.high is None else self.annual(f.high), status=f.status,
                      confidence=f.confidence, sources=list(self.source_ids or f.sources), note=self.describe())

    def describe(self) -> str:
        """One line: ``rent $25,000 per node-month (spec library) = $300,000 a year``; where the other
        basis is known and was not weighed here (the basis was named or the only one given), what it
        would cost."""
        f = self.figure
        rng = f" (range {_usd(f.low)}-{_usd(f.high)})" if self.ranged else ""
        head = {"buy": f"buy at {_usd(f.nominal)} per node{rng}, recovered over {self.years:g} years at "
                       f"{self.rate:.1%} (factor {capital_recovery_factor(self.rate, self.years):.4f})",
                "rent": f"rent at {_usd(f.nominal)} per node-month{rng}",
                "annual": f"{_usd(f.nominal)} per node-year{rng}"}[self.basis]
        alt = ""
        if self.other and "cheaper at nominal" not in self.why:
            verb = "buying" if self.other["basis"] == "buy" else "renting"
            alt = f"; {verb} would be {_usd(self.other['annual_usd'])} a year"
        return (f"{head} = {_usd(self.annual())} a year; from {self.origin}" + (f"; {self.why}" if self.why else "")
                + alt)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "PriceChoice":
        """The choice :meth:`to_json` wrote (a ``plan.json``'s ``prices.nodes.ID``)."""
        fig = Figure(nominal=float(d["nominal"]), low=d.get("low"), high=d.get("high"), status=d.get("status"),
                     confidence=d.get("confidence"), note=d.get("note"))
        return cls(str(d["node"]), d["basis"], fig, str(d.get("origin") or ""),
                   float(d.get("years") or DEFAULT_YEARS), float(d.get("discount_rate") or 0.0),
                   str(d.get("why") or ""), d.get("other"))

    def to_json(self) -> dict[str, Any]:
        f = self.figure
        return {"node": self.node, "basis": self.basis, "unit": self.unit, "nominal": f.nominal, "low": f.low,
                "high": f.high, "status": f.status, "confidence": f.confidence, "origin": self.origin,
                "years": self.years if self.basis == "buy" else None,
                "discount_rate": self.rate if self.basis == "buy" else None,
                "annual_usd": round(self.annual(), 2),
                "annual_usd_low": round(self.annual(f.low), 2) if f.low is not None else None,
                "annual_usd_high": round(self.annual(f.high), 2) if f.high is not None else None,
                "why": self.why, "other": self.other, "note": f.note, "text": self.describe()}


def _usd(x: float | None) -> str:
    return "–" if x is None else f"${x:,.0f}"


@dataclass
class PriceInput:
    """What the user gave for one node: a purchase price and/or a rent, and optionally the basis."""

    price_usd: Figure | None = None
    rent_usd_month: Figure | None = None
    basis: Literal["buy", "rent"] | None = None
    origin: str = "--price"
    source: str | None = None


def merge_inputs(*layers: dict[str, PriceInput]) -> dict[str, PriceInput]:
    """Later layers override earlier ones figure by figure (file, then command line)."""
    out: dict[str, PriceInput] = {}
    for layer in layers:
        for nid, p in layer.items():
            cur = out.get(nid)
            if cur is None:
                out[nid] = dataclasses.replace(p)
                continue
            out[nid] = PriceInput(price_usd=p.price_usd or cur.price_usd,
                                  rent_usd_month=p.rent_usd_month or cur.rent_usd_month,
                                  basis=p.basis or cur.basis,
                                  origin=p.origin if (p.price_usd or p.rent_usd_month) else cur.origin,
                                  source=p.source or cur.source)
    return out


def choose_prices(cat: Catalogue, nodes: list[str], given: dict[str, PriceInput] | None = None,
                  years: float = DEFAULT_YEARS, rate: float = DEFAULT_DISCOUNT_RATE) -> dict[str, PriceChoice | None]:
    """Each node's price basis and figure (None where nothing is known: its ``nodes`` cost stays 0)."""
    given = given or {}
    out: dict[str, PriceChoice | None] = {}
    for nid in nodes:
        prof = cat.nodes[nid]
        g = given.get(nid)
        buy = (g.price_usd if g and g.price_usd else None) or getattr(prof, "price_usd", None)
        rent = (g.rent_usd_month if g and g.rent_usd_month else None) or getattr(prof, "rent_usd_month", None)
        origin = {"buy": g.origin if g and g.price_usd else "spec library",
                  "rent": g.origin if g and g.rent_usd_month else "spec library"}
        basis: Basis | None = g.basis if g else None
        why = "named by the user" if basis else ""
        if basis is None and g is not None and bool(g.price_usd) != bool(g.rent_usd_month):
            basis = "buy" if g.price_usd else "rent"  # the one the user gave, not the library's other one
            why = f"the {'price' if basis == 'buy' else 'rent'} given"
        if basis == "buy" and buy is None:
            raise InputError.one(g.origin if g else "<command line>", f"prices.{nid}.basis",
                                 f"{nid} is to be bought but no purchase price is known; give one (--price {nid}=USD)")
        if basis == "rent" and rent is None:
            raise InputError.one(g.origin if g else "<command line>", f"prices.{nid}.basis",
                                 f"{nid} is to be rented but no rent is known; give one (--price {nid}=USD/month)")
        if basis is None:
            if buy is not None and rent is not None:
                a_buy = annual_cost_usd(buy.nominal, "buy", years, rate)
                a_rent = annual_cost_usd(rent.nominal, "rent")
                basis = "buy" if a_buy <= a_rent else "rent"
                why = f"the cheaper at nominal ({'buy' if basis == 'buy' else 'rent'} {_usd(min(a_buy, a_rent))} " \
                      f"vs {'rent' if basis == 'buy' else 'buy'} {_usd(max(a_buy, a_rent))} a year)"
            elif buy is not None:
                basis, why = "buy", "the only price known"
            elif rent is not None:
                basis, why = "rent", "the only price known"
        if basis is None:
            if prof.annual_cost_usd is not None:
                out[nid] = PriceChoice(nid, "annual", prof.annual_cost_usd, "spec library", years, rate,
                                       "the library's annual cost", None, tuple(prof.annual_cost_usd.sources))
            else:
                out[nid] = None
            continue
        figure = buy if basis == "buy" else rent
        assert figure is not None
        if figure.status is None:  # a user's figure takes the node's status, as a library figure does
            update: dict[str, Any] = {"status": prof.status}
            if prof.status == "projected" and (figure.low is None or figure.high is None):
                update |= {"low": figure.nominal, "high": figure.nominal}
            figure = figure.model_copy(update=update)
        other = None
        alt = rent if basis == "buy" else buy
        if alt is not None:
            alt_basis: Basis = "rent" if basis == "buy" else "buy"
            other = {"basis": alt_basis, "price": alt.nominal,
                     "annual_usd": round(annual_cost_usd(alt.nominal, alt_basis, years, rate), 2)}
        src = origin[basis]
        out[nid] = PriceChoice(nid, basis, figure, src, years, rate, why, other,
                               () if src != "spec library" else tuple(figure.sources))
    return out


def price_source_id(choice: PriceChoice) -> str:
    return f"price:{choice.node}"


def priced_catalogue(cat: Catalogue, choices: dict[str, PriceChoice | None]) -> Catalogue:
    """A copy of the catalogue whose node profiles carry the chosen annual cost (``annual_cost_usd``),
    with its range and sources; the original is unchanged. Nodes with no price keep theirs."""
    new = dataclasses.replace(cat, nodes=dict(cat.nodes), sources=dict(cat.sources), origin=dict(cat.origin))
    for nid, ch in choices.items():
        if ch is None:
            continue
        ids = list(ch.source_ids)
        if not ids:
            sid = price_source_id(ch)
            new.sources[sid] = Source(title=f"{nid} price: {ch.describe()}", kind="user")
            ids = [sid]
        fig = ch.annual_figure().model_copy(update={"sources": ids})
        new.nodes[nid] = new.nodes[nid].model_copy(update={"annual_cost_usd": fig})
    return new


def mixed_bases_note(bases: dict[str, str | None]) -> str | None:
    """The note for candidates priced on different bases (some bought, some rented; ``bases`` maps each
    node id to ``buy``, ``rent`` or None), or None when they are alike: a rent also pays the provider, so
    such a comparison is not like with like."""
    if not {"buy", "rent"} <= set(bases.values()):
        return None
    each = ", ".join(f"{nid} {b}" for nid, b in bases.items() if b)
    return (f"the candidates are priced on different bases ({each}): a purchase recovered over the years "
            "against a rent that also pays the provider; give --price ID=buy or ID=rent to compare like with like")


def plan_prices(cat: Catalogue, demand: Any, given: dict[str, PriceInput] | None = None,
                years: float = DEFAULT_YEARS, rate: float = DEFAULT_DISCOUNT_RATE) -> tuple[Catalogue, dict[str, Any]]:
    """The catalogue a plan is made with, its node profiles carrying the chosen prices, and
    ``plan.json``'s ``prices`` record (CONTRACT.md: the ``nodes`` cost is rent, or a purchase recovered
    over the years): ``applied``, ``years``, ``discount_rate``, ``note`` (what is not priced, and how to
    price it) and ``nodes`` (each node's :meth:`PriceChoice.to_json`, or None). A target or fill is
    priced only when every node it may choose has a price: a node without one would cost nothing and
    win on price alone. Exact nodes are priced where known (their counts do not depend on it)."""
    ids = list(demand.node_ids)
    choices = choose_prices(cat, ids, given, years, rate)
    unpriced = [nid for nid in ids if choices[nid] is None]
    applied = not unpriced or demand.kind == "nodes"
    note = None
    if unpriced:
        missing = f"no price is known for {', '.join(unpriced)}"
        note = (f"{missing}: {'its' if len(unpriced) == 1 else 'their'} nodes cost nothing here" if applied else
                f"{missing}, so no node is priced (a node without a price would win on price alone): the nodes "
                "cost nothing here")
        note += (f"; give {'it' if len(unpriced) == 1 else 'them'} with --price {unpriced[0]}=USD or "
                 f"{unpriced[0]}=USD/month")
    mixed = mixed_bases_note({nid: c.basis if c else None for nid, c in choices.items()})
    if applied and demand.kind != "nodes" and mixed:
        note = f"{note}; {mixed}" if note else mixed
    record = {"applied": applied and any(c is not None for c in choices.values()), "years": years,
              "discount_rate": rate, "note": note,
              "nodes": {nid: (c.to_json() if c is not None and applied else None) for nid, c in choices.items()}}
    if applied:
        return priced_catalogue(cat, choices), record
    unpriced_cat = dataclasses.replace(cat, nodes=dict(cat.nodes))  # nothing priced: not even an annual cost
    for nid in ids:
        unpriced_cat.nodes[nid] = unpriced_cat.nodes[nid].model_copy(update={"annual_cost_usd": None})
    return unpriced_cat, record


def unit_costs(total_usd: float, gpus: float, fp8_pflops: float, hbm_tb: float) -> dict[str, float | None]:
    """Annual TCO per useful unit: USD per GPU-hour, per FP8 PFLOPS-year (dense), per TB of HBM-year."""
    def per(x: float, scale: float = 1.0) -> float | None:
        return round(total_usd / (x * scale), 6) if x and x > 0 and math.isfinite(total_usd) else None

    return {"usd_per_gpu_hour": per(gpus, HOURS_PER_YEAR), "usd_per_pflops_year": per(fp8_pflops),
            "usd_per_tb_hbm_year": per(hbm_tb)}


VALUE_OF_METRIC = {"gpus": "usd_per_gpu_hour", "fp8_pflops": "usd_per_pflops_year", "hbm_tb": "usd_per_tb_hbm_year"}
"""For each demand metric, the cost per unit of it that ranks candidates."""
VALUE_LABEL = {"usd_per_gpu_hour": ("per GPU-hour", 2), "usd_per_pflops_year": ("per FP8 PFLOPS-year", 0),
               "usd_per_tb_hbm_year": ("per TB of HBM-year", 0)}
"""Each ranking value's words and the decimals its dollars print with."""


def value_key(metric: str | None) -> str:
    """The ranking value for a demand metric (fill ranks per FP8 PFLOPS-year)."""
    return VALUE_OF_METRIC.get(metric or "", "usd_per_pflops_year")


def money(x: float | None, key: str) -> str:
    """A ranking value as people read it: ``$2.41`` per GPU-hour, ``$18,402`` per PFLOPS-year."""
    if x is None or not math.isfinite(x):
        return "–"
    nd = VALUE_LABEL.get(key, ("", 0))[1]
    return f"${x:,.{nd}f}"


@dataclass
class Footprint:
    racks: int = 0
    m2: float = 0.0
    by_form_factor: dict[str, int] = field(default_factory=dict)


def floor_used(plan: dict[str, Any]) -> Footprint:
    """Rack positions a plan uses and their footprint [m²] (rack only, no aisles; :data:`FOOTPRINT_M2`)."""
    ff = {name: (rt.get("form_factor") or "eia-19") for name, rt in (plan.get("rack_types") or {}).items()}
    out = Footprint()
    for r in plan.get("racks") or []:
        f = ff.get(r.get("rack_type"), "eia-19")
        out.racks += 1
        out.by_form_factor[f] = out.by_form_factor.get(f, 0) + 1
        out.m2 += FOOTPRINT_M2.get(f, FOOTPRINT_M2["eia-19"])
    out.m2 = round(out.m2, 2)
    return out


def tco(plan: dict[str, Any]) -> dict[str, Any]:
    """A plan's TCO per useful unit and what it occupies: annual cost and its parts, unit costs,
    racks, IT and facility MW, floor."""
    t = plan["totals"]
    usd = t["annual_usd"]
    fp = floor_used(plan)
    return {"annual_usd": dict(usd), **unit_costs(float(usd["total"]), t["gpus"], t.get("fp8_pflops") or 0.0,
                                                  t.get("hbm_tb") or 0.0),
            "racks": t["racks_used"], "it_mw": round(t["it_kw"] / 1000.0, 4),
            "facility_mw": round(float(t.get("facility_kw") or t["it_kw"]) / 1000.0, 4),
            "floor_m2": fp.m2, "floor_note": "rack footprints only (600 x 1200 mm; Open Rack Wide 1200 x 1300 mm), no aisles"}
