"""Numbers and labels as people read them in reports: thousands separators, USD, percentages, and
spec figures as the library writes them. Missing values print as an en dash."""

from __future__ import annotations

import math
from typing import Any

from planner.vocabulary import LIMIT_LABEL



def fnum(x: Any, nd: int = 1) -> str:
    """``1234.56`` -> ``1,234.6``; None or missing -> an en dash."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{float(x):,.{nd}f}"


def fint(x: Any) -> str:
    return "–" if x is None else f"{int(round(float(x))):,}"


def usd(x: Any) -> str:
    if x is None:
        return "–"
    x = float(x)
    return f"-${-x:,.0f}" if x < 0 else f"${x:,.0f}"


def usd_short(x: float) -> str:
    """Axis ticks: ``$0``, ``$500``, ``$250k``, ``$1.5M``."""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:,.3g}{suffix}"
    return f"${x:,.0f}"


def pct(x: Any, nd: int = 0) -> str:
    return "–" if x is None else f"{float(x) * 100:.{nd}f} %"


def fig(x: Any) -> str:
    """A spec figure as written in the library: up to 4 significant decimals, no trailing zeros."""
    if x is None:
        return "–"
    if isinstance(x, (int, float)):
        return f"{float(x):,.4f}".rstrip("0").rstrip(".")
    return str(x)


def limit_label(limit: str | None) -> str:
    return LIMIT_LABEL.get(limit, limit) if limit else "–"


def binding_util(rack: dict[str, Any]) -> float:
    util = rack.get("utilization") or {}
    return max((float(v) for v in util.values() if v is not None), default=0.0)


def rack_number(rack_id: str) -> int:
    """``hall-1/C/07`` -> 7 (rack ids are HALL/ROW/NN, numbered from 01 within the row)."""
    return int(rack_id.rsplit("/", 1)[1])


def nodes_text(nodes: dict[str, int]) -> str:
    return ", ".join(f"{n} × {nid}" for nid, n in nodes.items())
