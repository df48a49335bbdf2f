"""One vocabulary for the whole package: the limits a plan is held to and their labels and units,
the schema ids of the documents rackplan writes, the spec points, and the defaults a user gets when
a flag is left out. Every module reads these names from here instead of repeating literals."""

from __future__ import annotations

from typing import Literal

# --- the limits ------------------------------------------------------------------------------------

RACK_LIMITS: tuple[str, ...] = ("power", "air", "liquid", "u", "weight")
"""The single-rack limits, in the column order of every capacity and usage array (kW of design load
under the rack's redundancy, kW of air heat, kW of liquid heat, rack units, kg)."""

LIMIT_LABEL: dict[str, str] = {
    "power": "rack power (feeds)", "air": "rack air heat", "liquid": "rack liquid heat", "u": "rack space (U)",
    "weight": "rack weight", "row": "row cooling", "hall": "hall cooling", "hall_it": "hall IT capacity",
    "cdu": "CDU group", "plant": "heat rejection plant", "panel": "power panel", "source": "power source",
    "path": "rack feed path",
}
"""What each limit is called in messages and reports."""

LIMIT_UNIT: dict[str, str] = {"power": "kW", "air": "kW", "liquid": "kW", "u": "U", "weight": "kg"}
"""Unit of each single-rack limit."""

# --- documents ------------------------------------------------------------------------------------

SCHEMA_PLAN = "rackplan.plan/1"
SCHEMA_COMPARE = "rackplan.compare/1"
SCHEMA_SPECS = "rackplan.specs/1"
SCHEMA_SPECS_LISTING = "rackplan.specs-listing/1"

# --- spec points ----------------------------------------------------------------------------------

Point = Literal["low", "nominal", "high"]
POINTS: tuple[Point, ...] = ("low", "nominal", "high")
"""Spec points: every projected figure of a node at the low end, nominal, or the high end of its range."""

# --- defaults -------------------------------------------------------------------------------------

SOLVERS: tuple[str, ...] = ("highs", "cbc")
DEFAULT_SOLVER = "highs"
"""HiGHS proved the whole benchmark grid (docs/benchmarks.md); CBC, bundled with PuLP, stays selectable."""
DEFAULT_TIME_LIMIT_S = 120.0
"""Seconds the solver may run before the best plan found is kept, with its gap."""
DEFAULT_GAP = 1e-4
"""Relative gap at which a plan counts as proven optimal."""
DEFAULT_PLAN_DIR = "rackplan-out"
DEFAULT_COMPARE_DIR = "rackplan-compare"
CLI_FILE = "<command line>"
"""What problems found in command-line flags name as their file."""
