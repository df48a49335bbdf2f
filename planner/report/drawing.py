"""Inline SVG drawings for the HTML report: rack elevations, hall floor layouts and bar charts.

Each drawing is a small class whose ``render()`` calls one method per layer, in paint order
(background, frame, units, nodes, labels), as NetBox's rack elevation does. A drawing takes plain
numbers and strings (the report prepares them from ``plan.json``), escapes every piece of text it
writes, and returns :class:`markupsafe.Markup` so the autoescaping template inserts it as is.

The markup is kept lean because a campus has tens of thousands of racks: coordinates are rounded,
fills come from CSS classes in ``report.css`` (``.rp-*``) instead of per-element styles, and the
floor layout draws one bare ``<rect>`` per rack position, grouped by row, and a bare ``<text>`` rack
number only on the tiles that need one to be read on paper. Structure the tests rely on: a node box
is ``rect.node`` with ``data-node``, ``data-u0`` (lowest U, 1-based) and ``data-u`` (height in U);
existing load is ``rect.existing``; free space is ``rect.free``; a floor row is ``g.row`` with
``data-row`` holding one ``rect`` per rack position; its rack numbers, where it has any, are the
``text`` elements of the ``g.rn`` with the same ``data-row``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

UTIL_BINS: tuple[tuple[float, str, str], ...] = (
    (0.50, "u0", "below 50 %"),
    (0.70, "u1", "50-70 %"),
    (0.85, "u2", "70-85 %"),
    (0.95, "u3", "85-95 %"),
    (math.inf, "u4", "95 % and over"),
)
"""Utilization bins of the floor layout: (upper bound, CSS class, legend text). The colours are a
sequential single-hue-family scale (ColorBrewer YlGnBu), readable with any colour vision."""


def util_class(utilization: float) -> str:
    """CSS class of a used rack's tile for the utilization of its binding limit [0..1]."""
    for bound, cls, _ in UTIL_BINS:
        if utilization < bound:
            return cls
    return UTIL_BINS[-1][1]


def num(x: float) -> str:
    """A coordinate, as short as it can be written (``12``, ``12.5``)."""
    r = round(float(x), 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


def _attrs(attrs: dict[str, object]) -> str:
    out = []
    for key, value in attrs.items():
        if value is None:
            continue
        name = "class" if key == "cls" else key.rstrip("_").replace("_", "-")
        if isinstance(value, float):
            out.append(f' {name}="{num(value)}"')
        elif isinstance(value, int):  # numbers need no escaping
            out.append(f' {name}="{value}"')
        else:
            out.append(f' {name}="{escape(str(value))}"')
    return "".join(out)


class Canvas:
    """An SVG document built as a list of strings; every text and attribute value is escaped."""

    def __init__(self, width: float, height: float, cls: str, label: str, **attrs: object):
        self.width, self.height = width, height
        self.parts: list[str] = []
        self.cls, self.label = cls, label
        self.attrs = attrs

    def add(self, tag: str, text: str | None = None, **attrs: object) -> None:
        if text is None:
            self.parts.append(f"<{tag}{_attrs(attrs)}/>")
        else:
            self.parts.append(f"<{tag}{_attrs(attrs)}>{escape(text)}</{tag}>")

    def rect(self, x: float, y: float, w: float, h: float, title: str | None = None, **attrs: object) -> None:
        a = _attrs({"x": float(x), "y": float(y), "width": float(w), "height": float(h), **attrs})
        if title:
            self.parts.append(f"<rect{a}><title>{escape(title)}</title></rect>")
        else:
            self.parts.append(f"<rect{a}/>")

    def text(self, x: float, y: float, text: str, **attrs: object) -> None:
        self.add("text", text, x=float(x), y=float(y), **attrs)

    def open(self, tag: str = "g", **attrs: object) -> None:
        self.parts.append(f"<{tag}{_attrs(attrs)}>")

    def close(self, tag: str = "g") -> None:
        self.parts.append(f"</{tag}>")

    def markup(self) -> Markup:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(self.cls)}" role="img" '
                f'aria-label="{escape(self.label)}" viewBox="0 0 {num(self.width)} {num(self.height)}" '
                f'width="{num(self.width)}" height="{num(self.height)}"{_attrs(self.attrs)}>')
        return Markup(head + "".join(self.parts) + "</svg>")


# --------------------------------------------------------------------------------------------------
# Rack elevation


@dataclass(frozen=True)
class Block:
    """A run of rack units: a planned node, the existing load, or free space."""

    kind: str
    """``node``, ``existing`` or ``free``."""
    u0: int
    """Lowest rack unit it occupies (1 = bottom)."""
    u: int
    """Height [U]."""
    label: str = ""
    node: str = ""
    """Node type id (``node`` blocks)."""
    note: str = ""
    """Right-hand figure, e.g. the node's kW."""


@dataclass
class RackElevation:
    """One rack drawn to U scale: planned nodes stacked from U1 up, existing load above them as a
    hatched block, free units left open. Positions are illustrative (a plan assigns nodes to racks,
    not to U positions); sizes are exact."""

    rack_id: str
    u_total: int
    contents: Sequence[tuple[str, int, int, str]]
    """(node id, count, U per node, note such as "14.3 kW") in stacking order, bottom first."""
    existing_u: int = 0
    existing_label: str = ""
    caption: str = ""
    uid: str = "r"
    """Unique suffix for ids inside the drawing (the hatch pattern)."""
    node_class: dict[str, str] = field(default_factory=dict)
    """Extra CSS class per node id (``n0``..``n3``) so node types in one rack are told apart."""
    placed: Sequence[Block] | None = None
    """Blocks at their real positions (the plan's ``positions``, existing load, overhead); free units
    are worked out around them. Without it, nodes are stacked from U1 up."""

    U_PX = 8
    RAIL = 20
    BODY = 140
    TOP = 30
    BOTTOM = 8

    @property
    def width(self) -> float:
        return self.RAIL * 2 + self.BODY

    @property
    def height(self) -> float:
        return self.TOP + self.u_total * self.U_PX + self.BOTTOM

    def layout(self) -> list[Block]:
        """The placed blocks and the free runs between them; or, without positions, blocks from U1 up
        with whatever is left at the top free."""
        if self.placed is not None:
            blocks = list(self.placed)
            busy = [False] * (self.u_total + 2)
            for b in blocks:
                for u in range(max(1, b.u0), min(self.u_total, b.u0 + b.u - 1) + 1):
                    busy[u] = True
            start = None
            for u in range(1, self.u_total + 2):
                if u <= self.u_total and not busy[u]:
                    start = u if start is None else start
                elif start is not None:
                    blocks.append(Block("free", start, u - start, f"{u - start}U free"))
                    start = None
            return sorted(blocks, key=lambda b: b.u0)
        blocks: list[Block] = []
        at = 1
        for node_id, count, u, note in self.contents:
            for _ in range(count):
                blocks.append(Block("node", at, u, node_id, node_id, note))
                at += u
        if self.existing_u:
            blocks.append(Block("existing", at, self.existing_u, self.existing_label or "existing load"))
            at += self.existing_u
        if at <= self.u_total:
            blocks.append(Block("free", at, self.u_total - at + 1, f"{self.u_total - at + 1}U free"))
        return blocks

    def y_of(self, u0: int, u: int) -> float:
        """Top edge of a block whose lowest unit is ``u0`` and height ``u``."""
        return self.TOP + (self.u_total - (u0 + u - 1)) * self.U_PX

    # layers -------------------------------------------------------------------------------------
    def background(self, c: Canvas) -> None:
        c.parts.append(f'<defs><pattern id="hatch-{escape(self.uid)}" width="6" height="6" '
                       f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
                       f'<rect width="6" height="6" class="hatch-bg"/><line x1="0" y1="0" x2="0" y2="6" '
                       f'class="hatch-line"/></pattern></defs>')
        c.rect(0, 0, self.width, self.height, cls="bg")

    def frame(self, c: Canvas) -> None:
        h = self.u_total * self.U_PX
        c.rect(self.RAIL - 4, self.TOP - 4, self.BODY + 8, h + 8, cls="frame")
        c.rect(self.RAIL, self.TOP, self.BODY, h, cls="slots")

    def units(self, c: Canvas) -> None:
        """U grid lines and U numbers every five units on the rail."""
        x0, x1 = self.RAIL, self.RAIL + self.BODY
        path = "".join(f"M{x0} {num(self.TOP + k * self.U_PX)}H{x1}" for k in range(1, self.u_total))
        c.add("path", d=path, cls="ugrid")
        c.open("g", cls="unum")
        for u in range(1, self.u_total + 1):
            if u == 1 or u % 5 == 0:
                c.text(self.RAIL - 6, self.y_of(u, 1) + self.U_PX - 2, str(u))
        c.close()

    def free(self, c: Canvas, blocks: list[Block]) -> None:
        for b in blocks:
            if b.kind == "free":
                c.rect(self.RAIL, self.y_of(b.u0, b.u), self.BODY, b.u * self.U_PX, cls="free",
                       data_u0=b.u0, data_u=b.u)

    def existing(self, c: Canvas, blocks: list[Block]) -> None:
        for b in blocks:
            if b.kind == "overhead":
                c.rect(self.RAIL + 1, self.y_of(b.u0, b.u) + 0.5, self.BODY - 2, b.u * self.U_PX - 1,
                       cls="overhead", data_u0=b.u0, data_u=b.u)
            if b.kind == "existing":
                c.rect(self.RAIL + 1, self.y_of(b.u0, b.u) + 0.5, self.BODY - 2, b.u * self.U_PX - 1,
                       cls="existing", fill=f"url(#hatch-{self.uid})", data_u0=b.u0, data_u=b.u)

    def nodes(self, c: Canvas, blocks: list[Block]) -> None:
        c.open("g", cls="nodes")
        for b in blocks:
            if b.kind == "node":
                c.rect(self.RAIL + 1, self.y_of(b.u0, b.u) + 0.5, self.BODY - 2, b.u * self.U_PX - 1,
                       cls=f"node {self.node_class.get(b.node, '')}".strip(), data_node=b.node,
                       data_u0=b.u0, data_u=b.u)
        c.close()

    def labels(self, c: Canvas, blocks: list[Block]) -> None:
        c.text(self.width / 2, 12, self.rack_id, cls="rack-id")
        if self.caption:
            c.text(self.width / 2, 23, self.caption, cls="rack-cap")
        c.open("g", cls="blabels")
        for b in blocks:
            h = b.u * self.U_PX
            size = min(9.0, h - 2.0)
            if size < 5:
                continue
            y = self.y_of(b.u0, b.u) + h / 2 + size * 0.35
            style = f"font-size:{num(size)}px"
            if b.kind == "node":
                c.text(self.RAIL + 5, y, b.label, cls="nlabel", style=style)
                if b.note and h >= 2 * self.U_PX:
                    c.text(self.RAIL + self.BODY - 5, y, b.note, cls="nnote", style=style)
            elif b.kind in ("existing", "overhead"):
                c.text(self.RAIL + self.BODY / 2, y, b.label, cls="xlabel", style=style)
            elif b.kind == "free" and h >= 2 * self.U_PX:
                c.text(self.RAIL + self.BODY / 2, y, b.label, cls="flabel", style=style)
        c.close()

    def render(self) -> Markup:
        c = Canvas(self.width, self.height, "rp-elev", f"Elevation of rack {self.rack_id}",
                   data_rack=self.rack_id, data_u=self.u_total)
        blocks = self.layout()
        self.background(c)
        self.frame(c)
        self.free(c, blocks)
        self.units(c)
        self.existing(c, blocks)
        self.nodes(c, blocks)
        self.labels(c, blocks)
        return c.markup()


# --------------------------------------------------------------------------------------------------
# Floor layout


@dataclass
class FloorRow:
    """One row of racks on the floor: a tile class per rack position (``e`` empty, ``x`` existing
    load only, ``u0``..``u4`` used, by utilization bin) and optional hover titles by position."""

    name: str
    tiles: Sequence[str]
    titles: dict[int, str] = field(default_factory=dict)
    note: str = ""


@dataclass
class FloorLayout:
    """A hall seen from above: one strip of small tiles per row, rack 01 on the left. Rows longer
    than ``PER_LINE`` racks wrap onto further lines so the drawing stays readable.

    Tiles carry their rack numbers (within the row) so the drawing reads on paper, where no hover
    title shows: every tile when its number fits inside it and the hall is small enough that the
    numbers stay a small part of the markup; otherwise racks 1, 5, 10, 15 ... of each row, plus every
    used rack while the hall has few (:attr:`FEW_USED`) and their numbers fit. A tall hall is drawn
    in parts (:meth:`render_parts`) of at most :attr:`PART_H` pixels, all at one scale, so a printed
    page can break between them instead of shrinking the whole hall onto one page."""

    hall: str
    rows: Sequence[FloorRow]

    GAP = 2
    LABEL_W = 44
    NOTE_W = 170
    LINE_GAP = 3
    ROW_GAP = 8
    PAD = 6
    PER_LINE = 64
    TILES_W = 660
    """Width the tiles of the longest row share [px]; tiles are 9 to 22 px wide."""
    DIGIT_W = 4.4
    """Width of one digit of a rack number at the numbers' font size (7.5 px, in report.css) [px]."""
    NUMBER_ALL = 2500
    """Most rack positions in a hall for which every tile is numbered (when the numbers fit)."""
    FEW_USED = 400
    """Most used racks in a hall for which every used rack is numbered besides every fifth."""
    STEP = 5
    DARK = frozenset({"u3", "u4"})
    """Tile classes dark enough to take a white number."""
    PART_H = 560
    """Tallest part of a drawing [px]: about 13 cm at the width of a printed A4 or Letter page."""

    def __post_init__(self) -> None:
        longest = max((len(r.tiles) for r in self.rows), default=1)
        self.per_line = max(1, min(self.PER_LINE, longest))
        self.tile_w = int(min(22, max(9, self.TILES_W // self.per_line - self.GAP)))
        """Tile width [px], whole pixels to keep the markup short."""
        self.tile_h = int(min(28, max(14, round(self.tile_w * 1.4))))
        self.width = self.PAD * 2 + self.LABEL_W + self.per_line * (self.tile_w + self.GAP) + self.NOTE_W
        self.height = self._height(self.rows)
        digits = len(str(longest))
        self.numbers_fit = self.tile_w >= digits * self.DIGIT_W + 1
        positions = sum(len(r.tiles) for r in self.rows)
        used = sum(1 for r in self.rows for t in r.tiles if t.startswith("u"))
        self.number_every = 1 if self.numbers_fit and positions <= self.NUMBER_ALL else self.STEP
        """1: every tile carries its rack number; 5: racks 1, 5, 10, ... of each row do."""
        self.number_used = self.number_every > 1 and self.numbers_fit and used <= self.FEW_USED
        """Whether every used rack carries its number too (when only every fifth is numbered)."""

    def _lines(self, row: FloorRow) -> int:
        return max(1, math.ceil(len(row.tiles) / self.PER_LINE))

    def _row_height(self, row: FloorRow) -> float:
        n = self._lines(row)
        return n * self.tile_h + (n - 1) * self.LINE_GAP

    def _height(self, rows: Sequence[FloorRow]) -> float:
        return self.PAD * 2 + sum(self._row_height(r) for r in rows) + self.ROW_GAP * max(0, len(rows) - 1)

    def numbered(self, row: FloorRow) -> list[int]:
        """Positions (0-based) of the tiles of ``row`` that carry their rack number."""
        if self.number_every == 1:
            return list(range(len(row.tiles)))
        return [i for i, cls in enumerate(row.tiles)
                if i == 0 or (i + 1) % self.number_every == 0 or (self.number_used and cls.startswith("u"))]

    def background(self, c: Canvas) -> None:
        c.rect(0, 0, c.width, c.height, cls="bg")

    def tiles(self, c: Canvas, rows: Sequence[FloorRow]) -> None:
        y = float(self.PAD)
        step = self.tile_w + self.GAP
        for row in rows:
            c.open("g", cls="row", data_row=row.name, transform=f"translate({num(self.PAD + self.LABEL_W)} {num(y)})")
            size = f'width="{self.tile_w}" height="{self.tile_h}"'
            parts = c.parts
            for i, cls in enumerate(row.tiles):
                line, col = divmod(i, self.PER_LINE)
                y_attr = f' y="{line * (self.tile_h + self.LINE_GAP)}"' if line else ""
                tip = row.titles.get(i)
                head = f'<rect x="{col * step}"{y_attr} {size} class="{cls}"'
                parts.append(f"{head}><title>{escape(tip)}</title></rect>" if tip else head + "/>")
            c.close()
            y += self._row_height(row) + self.ROW_GAP

    def numbers(self, c: Canvas, rows: Sequence[FloorRow]) -> None:
        """Rack numbers on the tiles, centred; white (class ``d``) on the two darkest shades."""
        y = float(self.PAD)
        step = self.tile_w + self.GAP
        half = self.tile_w / 2
        base = self.tile_h / 2 + 2.6  # the baseline that centres 7.5 px digits vertically
        for row in rows:
            shown = self.numbered(row)
            if shown:
                c.open("g", cls="rn", data_row=row.name, transform=f"translate({num(self.PAD + self.LABEL_W)} {num(y)})")
                parts = c.parts
                for i in shown:
                    line, col = divmod(i, self.PER_LINE)
                    dark = ' class="d"' if row.tiles[i] in self.DARK else ""
                    parts.append(f'<text x="{num(col * step + half)}" y="{num(line * (self.tile_h + self.LINE_GAP) + base)}"'
                                 f"{dark}>{i + 1}</text>")
                c.close()
            y += self._row_height(row) + self.ROW_GAP

    def labels(self, c: Canvas, rows: Sequence[FloorRow]) -> None:
        y = float(self.PAD)
        note_x = self.PAD + self.LABEL_W + self.per_line * (self.tile_w + self.GAP) + 6
        c.open("g", cls="flabels")
        for row in rows:
            base = y + self.tile_h / 2 + 3.5
            c.text(self.PAD + self.LABEL_W - 6, base, row.name, cls="row-name")
            if row.note:
                c.text(note_x, base, row.note, cls="row-note")
            y += self._row_height(row) + self.ROW_GAP
        c.close()

    def _render(self, rows: Sequence[FloorRow], part: int | None = None) -> Markup:
        c = Canvas(self.width, self._height(rows), "rp-floor", f"Floor layout of {self.hall}"
                   + (f", part {part}" if part else ""), data_hall=self.hall, data_part=part)
        self.background(c)
        self.tiles(c, rows)
        self.numbers(c, rows)
        self.labels(c, rows)
        return c.markup()

    def render(self) -> Markup:
        """The whole hall as one drawing."""
        return self._render(self.rows)

    def parts(self) -> list[list[FloorRow]]:
        """The rows split, in order, into parts at most :attr:`PART_H` tall (a part has at least one row)."""
        out: list[list[FloorRow]] = [[]]
        for row in self.rows:
            if out[-1] and self._height([*out[-1], row]) > self.PART_H:
                out.append([])
            out[-1].append(row)
        return out

    def render_parts(self) -> list[Markup]:
        """The hall as one drawing per part, all at the same scale (``data-part`` numbers them from 1
        when there is more than one)."""
        parts = self.parts()
        if len(parts) == 1:
            return [self.render()]
        return [self._render(rows, k) for k, rows in enumerate(parts, start=1)]


# --------------------------------------------------------------------------------------------------
# Power tree


@dataclass(frozen=True)
class TreeElement:
    """A source or panel: its rating and its load normally and after the worst single failure."""

    name: str
    kw: float
    normal_kw: float
    worst_kw: float
    worst_failure: str | None = None
    parent: str | None = None
    """The source a panel hangs off (None for a source)."""


@dataclass(frozen=True)
class TreeRow:
    """A row of racks and the panels of its feed paths."""

    label: str
    panels: tuple[str, ...]
    kw: float


@dataclass
class PowerTreeDrawing:
    """Sources -> panels -> rows, left to right. Each source and panel is a box with a bar: the solid
    part is its load in normal operation, the outlined part its load after the single failure that
    loads it most, both against its rating (the box's full width); a bar past 95 % is marked hot."""

    sources: Sequence[TreeElement]
    panels: Sequence[TreeElement]
    rows: Sequence[TreeRow]

    COL_W = 230
    BOX_W = 190
    BOX_H = 34
    GAP = 8
    TOP = 22
    LINK_W = 60

    def __post_init__(self) -> None:
        # panels grouped by source, rows by their first panel: fewer crossing links
        order = {s.name: i for i, s in enumerate(self.sources)}
        self.panels = sorted(self.panels, key=lambda p: (order.get(p.parent or "", 0), p.name))
        porder = {p.name: i for i, p in enumerate(self.panels)}
        self.rows = sorted(self.rows, key=lambda r: min((porder.get(p, 0) for p in r.panels), default=0))
        n = max(len(self.sources), len(self.panels), len(self.rows), 1)
        self.width = 3 * self.COL_W + 2 * self.LINK_W - (self.COL_W - self.BOX_W)
        self.height = self.TOP + n * (self.BOX_H + self.GAP) + 4
        self.y = {}
        for col, items in ((0, self.sources), (1, self.panels), (2, self.rows)):
            span = len(items) * (self.BOX_H + self.GAP)
            top = self.TOP + (self.height - self.TOP - span) / 2
            for i, it in enumerate(items):
                self.y[(col, it.name if col < 2 else it.label)] = top + i * (self.BOX_H + self.GAP)

    def x(self, col: int) -> float:
        return col * (self.COL_W + self.LINK_W)

    def background(self, c: Canvas) -> None:
        c.rect(0, 0, self.width, self.height, cls="bg")
        for col, title in enumerate(("Sources (UPS)", "Panels", "Rows")):
            c.text(self.x(col), 13, title, cls="col-title")

    def links(self, c: Canvas) -> None:
        d = []
        for p in self.panels:
            if (0, p.parent) in self.y:
                d.append(self._link(0, p.parent, 1, p.name))
        for r in self.rows:
            for name in r.panels:
                if (1, name) in self.y:
                    d.append(self._link(1, name, 2, r.label))
        c.add("path", d="".join(d), cls="link")

    def _link(self, c0: int, a: str | None, c1: int, b: str) -> str:
        x0 = self.x(c0) + self.BOX_W
        x1 = self.x(c1)
        y0 = self.y[(c0, a)] + self.BOX_H / 2
        y1 = self.y[(c1, b)] + self.BOX_H / 2
        mid = (x0 + x1) / 2
        return f"M{num(x0)} {num(y0)}C{num(mid)} {num(y0)} {num(mid)} {num(y1)} {num(x1)} {num(y1)}"

    def boxes(self, c: Canvas) -> None:
        for col, items in ((0, self.sources), (1, self.panels)):
            for e in items:
                x, y = self.x(col), self.y[(col, e.name)]
                hot = e.worst_kw >= 0.95 * e.kw
                c.open("g", cls="element" + (" hot" if hot else ""), data_element=e.name,
                       data_normal=repr(float(e.normal_kw)), data_worst=repr(float(e.worst_kw)))
                c.rect(x, y, self.BOX_W, self.BOX_H, cls="box")
                bar_y, bar_h = y + self.BOX_H - 12, 8
                c.rect(x + 4, bar_y, self.BOX_W - 8, bar_h, cls="cap")
                scale = (self.BOX_W - 8) / e.kw if e.kw > 0 else 0.0
                c.rect(x + 4, bar_y, min(self.BOX_W - 8, e.worst_kw * scale), bar_h, cls="worst")
                c.rect(x + 4, bar_y, min(self.BOX_W - 8, e.normal_kw * scale), bar_h, cls="normal")
                c.text(x + 5, y + 12, e.name, cls="ename")
                c.text(x + self.BOX_W - 5, y + 12, f"{e.worst_kw:,.0f} / {e.kw:,.0f} kW", cls="eload")
                c.close()
        for r in self.rows:
            x, y = self.x(2), self.y[(2, r.label)]
            c.rect(x, y, self.BOX_W, self.BOX_H, cls="rowbox", data_row=r.label)
            c.text(x + 5, y + 14, r.label, cls="ename")
            c.text(x + 5, y + 27, f"{r.kw:,.0f} kW on {len(r.panels)} path{'s' if len(r.panels) != 1 else ''}",
                   cls="eload-left")

    def render(self) -> Markup:
        c = Canvas(self.width, self.height, "rp-tree", "Power distribution: sources, panels and rows")
        self.background(c)
        self.links(c)
        self.boxes(c)
        return c.markup()


# --------------------------------------------------------------------------------------------------
# Charts


def nice_step(top: float, ticks: int = 4) -> float:
    """A round tick step (1, 2, 2.5, 5 x 10^k) giving about ``ticks`` ticks up to ``top``."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


@dataclass
class Bar:
    label: str
    value: float | None
    """None draws no bar (e.g. a candidate with no plan) and shows ``text`` instead."""
    text: str
    cls: str = "c0"


@dataclass
class BarChart:
    """Horizontal bars, one per item, with its value written at the end of the bar."""

    title: str
    bars: Sequence[Bar]
    tick_format: str | Callable[[float], str] = "{:,.0f}"
    """A format string or a function for the axis ticks."""

    LABEL_W = 170
    PLOT_W = 300
    VALUE_W = 110
    BAR_H = 16
    GAP = 6
    TOP = 26
    AXIS_H = 18

    @property
    def width(self) -> float:
        return self.LABEL_W + self.PLOT_W + self.VALUE_W

    @property
    def height(self) -> float:
        return self.TOP + len(self.bars) * (self.BAR_H + self.GAP) + self.AXIS_H

    @property
    def top_value(self) -> float:
        vals = [b.value for b in self.bars if b.value is not None and b.value > 0]
        if not vals:
            return 1.0
        step = nice_step(max(vals))
        return step * math.ceil(max(vals) / step)

    def x_of(self, v: float) -> float:
        return self.LABEL_W + self.PLOT_W * max(0.0, v) / self.top_value

    def background(self, c: Canvas) -> None:
        c.rect(0, 0, self.width, self.height, cls="bg")

    def axis(self, c: Canvas) -> None:
        top = self.top_value
        step = nice_step(top)
        y0, y1 = self.TOP - 4, self.height - self.AXIS_H + 2
        k = 0
        while k * step <= top + 1e-9:
            x = self.x_of(k * step)
            c.add("line", x1=float(x), y1=float(y0), x2=float(x), y2=float(y1), cls="grid")
            fmt = self.tick_format
            c.text(x, self.height - 5, fmt(k * step) if callable(fmt) else fmt.format(k * step), cls="tick")
            k += 1

    def bars_layer(self, c: Canvas) -> None:
        c.open("g", cls="bars")
        for i, b in enumerate(self.bars):
            if b.value is None:
                continue
            y = self.TOP + i * (self.BAR_H + self.GAP)
            c.rect(self.LABEL_W, y, max(0.5, self.x_of(b.value) - self.LABEL_W), self.BAR_H,
                   cls=f"bar {b.cls}", data_value=repr(float(b.value)))
        c.close()

    def labels(self, c: Canvas) -> None:
        c.text(0, 14, self.title, cls="chart-title")
        for i, b in enumerate(self.bars):
            y = self.TOP + i * (self.BAR_H + self.GAP) + self.BAR_H * 0.72
            c.text(self.LABEL_W - 8, y, b.label, cls="bar-label")
            x = self.x_of(b.value) + 6 if b.value is not None else self.LABEL_W + 4
            c.text(x, y, b.text, cls="bar-value" if b.value is not None else "bar-none")

    def render(self) -> Markup:
        c = Canvas(self.width, self.height, "rp-chart", self.title)
        self.background(c)
        self.axis(c)
        self.bars_layer(c)
        self.labels(c)
        return c.markup()


@dataclass
class StackedBar:
    """One horizontal bar split into parts (e.g. annual cost by kind), with a key underneath."""

    title: str
    parts: Sequence[tuple[str, float, str]]
    """(label, value, value text) in drawing order; colours follow the order (``c0``, ``c1``, ...)."""

    WIDTH = 640
    BAR_H = 22
    TOP = 6

    @property
    def height(self) -> float:
        return self.TOP + self.BAR_H + 26

    def background(self, c: Canvas) -> None:
        c.rect(0, 0, self.WIDTH, self.height, cls="bg")

    def bars_layer(self, c: Canvas) -> None:
        total = sum(max(0.0, v) for _, v, _ in self.parts)
        x = 0.0
        c.open("g", cls="bars")
        for i, (label, v, text) in enumerate(self.parts):
            if total <= 0 or v <= 0:
                continue
            w = self.WIDTH * v / total
            c.rect(x, self.TOP, w, self.BAR_H, title=f"{label}: {text}", cls=f"bar c{i}")
            x += w
        c.close()

    def labels(self, c: Canvas) -> None:
        total = sum(max(0.0, v) for _, v, _ in self.parts)
        x = 0.0
        y = self.TOP + self.BAR_H + 18
        for i, (label, v, _) in enumerate(self.parts):
            share = v / total if total > 0 else 0.0
            c.rect(x, y - 9, 10, 10, cls=f"bar c{i}")
            text = f"{label} {share:.0%}"
            c.text(x + 14, y, text, cls="key")
            x += 14 + 6.2 * len(text) + 18

    def render(self) -> Markup:
        c = Canvas(self.WIDTH, self.height, "rp-stack", self.title)
        self.background(c)
        self.bars_layer(c)
        self.labels(c)
        return c.markup()


def swatch(cls: str, size: int = 12) -> Markup:
    """A legend swatch in the floor layout's colours."""
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="rp-swatch rp-floor" width="{size}" '
                  f'height="{size}" viewBox="0 0 {size} {size}" aria-hidden="true"><rect x="0.5" y="0.5" '
                  f'width="{size - 1}" height="{size - 1}" class="{escape(cls)}"/></svg>')
