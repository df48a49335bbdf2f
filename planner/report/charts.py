"""Inline SVG charts of comparisons and sweeps: distributions (box and CDF), the tornado, cost breakdowns.

Same rules as :mod:`planner.report.drawing` (whose :class:`~planner.report.drawing.Canvas` they draw
on): a small class per chart with one method per layer, plain numbers and strings in, every text
escaped, CSS classes from ``report.css`` instead of inline styles, no JavaScript. Structure the tests
rely on:

* :class:`BoxPlot` (``svg.rp-dist``): one ``g.dist`` per candidate with ``data-candidate``; its
  ``rect.box`` spans P10-P90 (``data-p10``, ``data-p90``), ``line.median`` sits at ``data-p50``,
  ``line.whisker`` spans min-max.
* :class:`CdfChart` (``svg.rp-cdf``): one ``polyline.cdf`` per candidate with ``data-candidate``.
* :class:`Tornado` (``svg.rp-tornado``): one ``g.factor`` per factor, in rank order, with ``data-key``;
  ``rect.lo`` and ``rect.hi`` from the nominal margin to the margin at the factor's low and high end;
  ``line.zero`` where the verdict flips.
* :class:`CostBars` (``svg.rp-cost``): one ``g.cand`` per candidate, one ``rect.part`` per cost part
  with ``data-part`` and ``data-value``, all on one scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from planner.report.drawing import Canvas, nice_step

Fmt = Callable[[float], str]


def _axis_range(lo: float, hi: float, ticks: int = 5, zero: bool = False,
                integer: bool = False) -> tuple[float, float, float]:
    """A round axis covering ``lo..hi`` (and 0 with ``zero``): (start, end, step); whole-number steps
    with ``integer`` (counts such as racks)."""
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0, 0.25
    if hi <= lo:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, ticks)
    if integer:
        step = max(1.0, math.ceil(step))
        if hi - lo < 1:
            lo, hi = math.floor(lo) - 1, math.ceil(hi) + 1
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


class _Axis:
    """A horizontal value axis from ``x0`` to ``x1`` pixels."""

    def __init__(self, lo: float, hi: float, x0: float, x1: float, zero: bool = False, ticks: int = 5,
                 integer: bool = False):
        self.lo, self.hi, self.step = _axis_range(lo, hi, ticks, zero, integer)
        self.x0, self.x1 = x0, x1

    def x(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.x0 + (self.x1 - self.x0) * (v - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[float]:
        out, k = [], 0
        while self.lo + k * self.step <= self.hi + 1e-9 * abs(self.step):
            out.append(self.lo + k * self.step)
            k += 1
        return out

    def draw(self, c: Canvas, y0: float, y1: float, fmt: Fmt) -> None:
        for t in self.ticks():
            x = self.x(t)
            c.add("line", x1=x, y1=float(y0), x2=x, y2=float(y1), cls="grid")
            c.text(x, y1 + 12, fmt(t), cls="tick")


@dataclass
class Dist:
    """One candidate's distribution: percentiles and extremes."""

    label: str
    p10: float | None
    p50: float | None
    p90: float | None
    lo: float | None
    hi: float | None
    cls: str = "c0"
    note: str = ""
    """Written after the label, e.g. ``no plan in 12 %``."""


@dataclass
class BoxPlot:
    """Horizontal box plots on one axis: whisker min-max, box P10-P90, a line at the median."""

    title: str
    rows: Sequence[Dist]
    fmt: Fmt
    integer: bool = False
    """Whole-number axis steps (counts)."""
    LABEL_W = 150
    PLOT_W = 330
    VALUE_W = 170
    ROW_H = 26
    TOP = 24
    AXIS_H = 22

    @property
    def width(self) -> float:
        return self.LABEL_W + self.PLOT_W + self.VALUE_W

    @property
    def height(self) -> float:
        return self.TOP + len(self.rows) * self.ROW_H + self.AXIS_H

    def axis(self) -> _Axis:
        vals = [v for d in self.rows for v in (d.lo, d.hi, d.p10, d.p90) if v is not None and math.isfinite(v)]
        return _Axis(min(vals, default=0.0), max(vals, default=1.0), self.LABEL_W + 6, self.LABEL_W + self.PLOT_W - 6,
                     integer=self.integer)

    def render(self) -> Markup:
        c = Canvas(self.width, self.height, "rp-chart rp-dist", self.title)
        c.rect(0, 0, self.width, self.height, cls="bg")
        ax = self.axis()
        ax.draw(c, self.TOP - 4, self.height - self.AXIS_H + 2, self.fmt)
        c.text(0, 14, self.title, cls="chart-title")
        for i, d in enumerate(self.rows):
            y = self.TOP + i * self.ROW_H
            mid = y + self.ROW_H / 2
            c.open("g", cls="dist", data_candidate=d.label)
            c.text(self.LABEL_W - 8, mid + 4, d.label, cls="bar-label")
            if d.p50 is None or d.p10 is None or d.p90 is None:
                c.text(self.LABEL_W + 8, mid + 4, d.note or "no plan in any scenario", cls="bar-none")
                c.close()
                continue
            if d.lo is not None and d.hi is not None:
                c.add("line", x1=ax.x(d.lo), y1=mid, x2=ax.x(d.hi), y2=mid, cls="whisker")
                for v in (d.lo, d.hi):
                    c.add("line", x1=ax.x(v), y1=mid - 5, x2=ax.x(v), y2=mid + 5, cls="whisker")
            x10, x90 = ax.x(d.p10), ax.x(d.p90)
            c.rect(x10, y + 5, max(1.5, x90 - x10), self.ROW_H - 10, cls=f"box {d.cls}", data_p10=repr(float(d.p10)),
                   data_p90=repr(float(d.p90)), title=f"{d.label}: P10 {self.fmt(d.p10)}, P50 {self.fmt(d.p50)}, "
                                                      f"P90 {self.fmt(d.p90)}")
            c.add("line", x1=ax.x(d.p50), y1=y + 3, x2=ax.x(d.p50), y2=y + self.ROW_H - 3, cls="median",
                  data_p50=repr(float(d.p50)))
            c.text(self.LABEL_W + self.PLOT_W + 4, mid + 4,
                   f"{self.fmt(d.p50)} ({self.fmt(d.p10)}–{self.fmt(d.p90)})" + (f" · {d.note}" if d.note else ""),
                   cls="bar-value")
            c.close()
        return c.markup()


@dataclass
class CdfChart:
    """Empirical distribution functions: for each candidate, the share of scenarios at or below a value."""

    title: str
    series: Sequence[tuple[str, Sequence[float], str]]
    """(label, the values at the quantiles 0, 1/q, ..., 1 (sorted), CSS class)."""
    fmt: Fmt
    WIDTH = 560
    HEIGHT = 230
    LEFT = 44
    RIGHT = 16
    TOP = 26
    BOTTOM = 40

    def render(self) -> Markup:
        c = Canvas(self.WIDTH, self.HEIGHT, "rp-chart rp-cdf", self.title)
        c.rect(0, 0, self.WIDTH, self.HEIGHT, cls="bg")
        vals = [v for _, qs, _ in self.series for v in qs if math.isfinite(v)]
        ax = _Axis(min(vals, default=0.0), max(vals, default=1.0), self.LEFT, self.WIDTH - self.RIGHT)
        y0, y1 = self.TOP, self.HEIGHT - self.BOTTOM
        ax.draw(c, y0, y1, self.fmt)
        for share in (0.0, 0.5, 1.0):
            y = y1 - (y1 - y0) * share
            c.add("line", x1=float(self.LEFT), y1=y, x2=float(self.WIDTH - self.RIGHT), y2=y, cls="grid")
            c.text(self.LEFT - 4, y + 3, f"{share:.0%}".replace("%", " %"), cls="tick-left")
        c.text(0, 14, self.title, cls="chart-title")
        for i, (label, qs, cls) in enumerate(self.series):
            if not qs:
                continue
            n = len(qs) - 1
            pts = [(ax.x(v), y1 - (y1 - y0) * (k / n if n else 1.0)) for k, v in enumerate(qs)]
            c.add("polyline", points=" ".join(f"{x:.1f},{y:.1f}" for x, y in pts), cls=f"cdf s{cls}",
                  data_candidate=label)
            kx = self.LEFT + 6 + i * 170
            c.add("line", x1=float(kx), y1=float(self.HEIGHT - 8), x2=float(kx + 18), y2=float(self.HEIGHT - 8),
                  cls=f"cdf s{cls}")
            c.text(kx + 22, self.HEIGHT - 4, label, cls="key")
        return c.markup()


@dataclass
class TornadoBar:
    key: str
    label: str
    """The factor and its range, e.g. ``mi400 TDP 900–2,500 W``."""
    low: float
    """The margin with the factor at its low end (may be infinite: a candidate with no plan)."""
    high: float
    low_text: str
    high_text: str
    flips: bool = False
    short: str = ""
    """What the right-hand column shows (default: both texts)."""


@dataclass
class Tornado:
    """One bar per factor, widest swing first: from the nominal margin to the margin at the factor's
    low end (``lo``) and high end (``hi``). The margin is how much cheaper the leading candidate is
    than the runner-up; left of the zero line the verdict flips."""

    title: str
    base: float
    bars: Sequence[TornadoBar]
    fmt: Fmt
    axis_label: str = ""
    LABEL_W = 220
    PLOT_W = 380
    VALUE_W = 130
    ROW_H = 24
    TOP = 40
    AXIS_H = 34

    @property
    def width(self) -> float:
        return self.LABEL_W + self.PLOT_W + self.VALUE_W

    @property
    def height(self) -> float:
        return self.TOP + len(self.bars) * self.ROW_H + self.AXIS_H

    def render(self) -> Markup:
        c = Canvas(self.width, self.height, "rp-chart rp-tornado", self.title)
        c.rect(0, 0, self.width, self.height, cls="bg")
        finite = [v for b in self.bars for v in (b.low, b.high) if math.isfinite(v)] + [self.base]
        ax = _Axis(min(finite), max(finite), self.LABEL_W + 8, self.LABEL_W + self.PLOT_W - 8, zero=True)
        y0, y1 = self.TOP - 6, self.height - self.AXIS_H + 2
        ax.draw(c, y0, y1, self.fmt)
        c.text(0, 14, self.title, cls="chart-title")
        if ax.lo < 0:
            c.text(self.LABEL_W + 8, 30, "◀ verdict flips", cls="key")
        kx = self.LABEL_W + self.PLOT_W - 150
        for k, (cls, text) in enumerate((("lo", "low end"), ("hi", "high end"))):
            c.rect(kx + k * 75, 21, 10, 10, cls=cls)
            c.text(kx + k * 75 + 14, 30, text, cls="key")
        xz = ax.x(0.0)
        c.add("line", x1=xz, y1=float(y0), x2=xz, y2=float(y1), cls="zero")
        xb = ax.x(self.base)
        for i, b in enumerate(self.bars):
            y = self.TOP + i * self.ROW_H
            c.open("g", cls="factor" + (" flips" if b.flips else ""), data_key=b.key)
            c.text(self.LABEL_W - 8, y + self.ROW_H * 0.62, b.label, cls="bar-label")
            for end, v, text in (("lo", b.low, b.low_text), ("hi", b.high, b.high_text)):
                if math.isnan(v):
                    continue
                xv = ax.x(v) if math.isfinite(v) else (ax.x1 if v > 0 else ax.x0)
                x, w = min(xb, xv), abs(xv - xb)
                c.rect(x, y + (3 if end == "lo" else self.ROW_H / 2), max(w, 1.0), self.ROW_H / 2 - 3, cls=end,
                       data_value=repr(float(v)), title=text)
            c.text(self.LABEL_W + self.PLOT_W + 4, y + self.ROW_H * 0.62,
                   b.short or f"{b.low_text} / {b.high_text}", cls="bar-value")
            c.close()
        c.add("line", x1=xb, y1=float(y0), x2=xb, y2=float(y1), cls="base")
        if self.axis_label:
            c.text(self.LABEL_W + self.PLOT_W / 2, self.height - 4, self.axis_label, cls="axis-label")
        return c.markup()


@dataclass
class CostBars:
    """Annual cost by part for each candidate, stacked, on one scale, with the total at the end."""

    title: str
    rows: Sequence[tuple[str, Sequence[tuple[str, float]]]]
    """(candidate label, [(part, USD)]) with the same parts in the same order for every candidate."""
    fmt: Fmt
    LABEL_W = 150
    PLOT_W = 380
    VALUE_W = 110
    ROW_H = 24
    TOP = 24
    KEY_H = 26

    @property
    def width(self) -> float:
        return self.LABEL_W + self.PLOT_W + self.VALUE_W

    @property
    def height(self) -> float:
        return self.TOP + len(self.rows) * self.ROW_H + self.KEY_H

    def render(self) -> Markup:
        c = Canvas(self.width, self.height, "rp-chart rp-cost", self.title)
        c.rect(0, 0, self.width, self.height, cls="bg")
        top = max((sum(max(0.0, v) for _, v in parts) for _, parts in self.rows), default=0.0) or 1.0
        c.text(0, 14, self.title, cls="chart-title")
        for i, (label, parts) in enumerate(self.rows):
            y = self.TOP + i * self.ROW_H
            c.open("g", cls="cand", data_candidate=label)
            c.text(self.LABEL_W - 8, y + self.ROW_H * 0.62, label, cls="bar-label")
            x = float(self.LABEL_W)
            for k, (part, v) in enumerate(parts):
                w = self.PLOT_W * max(0.0, v) / top
                if w > 0:
                    c.rect(x, y + 3, w, self.ROW_H - 6, cls=f"part k{k}", data_part=part, data_value=repr(float(v)),
                           title=f"{label}: {part} {self.fmt(v)} a year")
                x += w
            c.text(x + 4, y + self.ROW_H * 0.62, self.fmt(sum(v for _, v in parts)), cls="bar-value")
            c.close()
        parts = [p for p, _ in self.rows[0][1]] if self.rows else []
        x = float(self.LABEL_W)
        yk = self.height - 9
        for k, part in enumerate(parts):
            c.rect(x, yk - 9, 10, 10, cls=f"part k{k}")
            c.text(x + 14, yk, part, cls="key")
            x += 14 + 6.4 * len(part) + 16
        return c.markup()
