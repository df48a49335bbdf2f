"""The ``rackplan`` command line.

Exit codes (CONTRACT.md): 0 a plan was found (or the input is valid); 1 no plan can meet the demand
(the message names what runs out and by how much); 2 bad input (one line per problem, naming the file
and the field); 3 an internal error, which is a bug in rackplan. No traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner import __version__
from planner.errors import Exit, InputError, NoPlanError, PlanCheckError
from planner.vocabulary import (CLI_FILE, DEFAULT_COMPARE_DIR, DEFAULT_GAP, DEFAULT_PLAN_DIR, DEFAULT_SOLVER,
                                DEFAULT_TIME_LIMIT_S, POINTS, SCHEMA_COMPARE, SCHEMA_PLAN, SOLVERS)

EXAMPLES = """\
examples:
  rackplan validate facilities/ai-hall.yaml
  rackplan specs                                  # node profiles, power, status
  rackplan plan facilities/ai-hall.yaml --nodes b200-8x-air=48,mi400-8x=64
  rackplan plan facilities/ai-hall.yaml --gpus 1024 --candidates mi400-8x,b200-8x-air
  rackplan plan facilities/ai-hall.yaml --fill mi400-8x --tdp mi400=1400
  rackplan compare facilities/ai-hall.yaml --candidates mi400-8x,b200-8x-air --gpus 1024
  rackplan report rackplan-out/plan.json -o plan.html

exit codes: 0 plan found / input valid, 1 no plan meets the demand, 2 bad input, 3 internal error
"""

PLAN_HELP = """\
Pack GPU nodes into the facility's racks at least annual cost (energy + cooling + newly occupied
racks and their overhead + node prices), respecting every limit, normally and under every single
failure: each rack's power through its feed paths (2N: either side alone carries the rack; N+k: any
all-but-k paths), air and liquid heat, U, weight and form factor with existing load and rack overhead
counted; row and hall cooling, CDU groups and the plant with redundant units held back; hall IT
capacity; and, with a power section, every UPS source and panel after the loss of any one of them.
The plan is re-checked by independent code before it is written to DIR/plan.json, DIR/racks.csv,
DIR/racks.xlsx (summary, racks, rows, halls, power, bill of materials), DIR/power.csv (with a power
section) and DIR/report.html.

demand (exactly one):
  --demand FILE                 a demand file (nodes, target + candidates, or fill)
  --nodes ID=N[,ID=N...]        place exactly these nodes
  --gpus N --candidates IDS     reach N GPUs choosing the mix (also --fp8-pflops, --hbm-tb)
  --fill ID                     as many of one node as fit, then at least cost

node prices: rent x 12, or a purchase price recovered over --years at --discount-rate, from the spec
library, a demand file's prices: or --price ID=USD[/month]. A target is priced only when every
candidate has a price (else none is, and the plan says which price is missing).
"""


COMMAND_EXAMPLES = {
    "plan": ["rackplan plan facilities/ai-building.yaml --demand examples/ai-building-demand.yaml   # the demo",
             "rackplan plan facilities/ai-hall.yaml --nodes b200-8x-air=48,mi400-8x=64",
             "rackplan plan facilities/ai-hall.yaml --gpus 1024 --candidates mi400-8x,b200-8x-air",
             "rackplan plan facilities/ai-hall.yaml --gpus 1024 --candidates mi400-8x,b200-8x-air \\\n"
             "      --price mi400-8x=25000/month --price b200-8x-air=rent   # rent against rent",
             "rackplan plan facilities/ai-hall.yaml --fill mi400-8x --tdp mi400=1400   # if MI400 draws 1.4 kW",
             "rackplan plan facilities/ai-hall.yaml --fill mi400-8x --point high       # at its projected high end",
             "rackplan plan facilities/ai-building.yaml --nodes b200-8x-dlc=40 --only hall-1 --exclude hall-1/A "
             "--together row",
             "rackplan plan facilities/campus.yaml --gpus 40000 --candidates b200-8x-dlc,mi355x-8x-dlc "
             "--time-limit 30 --no-xlsx"],
    "validate": ["rackplan validate facilities/ai-hall.yaml",
                 "rackplan validate ../my-site.yaml --debug      # a traceback too, if you report a bug"],
    "specs": ["rackplan specs", "rackplan specs show gb300-nvl72", "rackplan specs --json > specs.json",
              "rackplan specs --specs my-nodes.yaml           # with your own profiles"],
    "schema": ["rackplan schema > facility.schema.json        # point your editor's YAML plugin at it",
               "rackplan schema demand", "rackplan schema --markdown   # the reference in docs/reference.md"],
    "compare": ["rackplan compare facilities/ai-hall.yaml --candidates mi400-8x,b200-8x-dlc --gpus 1024",
                "rackplan compare facilities/ai-hall.yaml --demand examples/ai-hall-compare.yaml --samples 300",
                "rackplan compare facilities/ai-hall.yaml --candidates mi400-8x,b200-8x-dlc --gpus 1024 \\\n"
                "      --price mi400-8x=20000:25000:30000/month --price b200-8x-dlc=515000 --years 4 --discount-rate 0.08",
                "rackplan compare facilities/campus.yaml --candidates b200-8x-dlc,mi355x-8x-dlc --fp8-pflops 50000"],
    "sweep": ["rackplan sweep facilities/ai-hall.yaml --demand examples/ai-hall-compare.yaml --samples 1000",
              "rackplan sweep facilities/ai-hall.yaml --candidates mi400-8x,b200-8x-dlc --gpus 1024 \\\n"
              "      --price mi400-8x=20000:25000:30000/month --price b200-8x-dlc=30000:40000:50000/month \\\n"
              "      --electricity 0.06:0.12 --load-factor 0.6:0.9 --samples 1000 --seed 7",
              "rackplan sweep ... --engine ray --workers 2            # a local Ray (pip install 'rackplan[ray]')",
              "rackplan sweep ... --engine ray --address ray://head:10001   # an existing Ray cluster",
              "rackplan sweep ... -o DIR       # run it again after an interruption: it resumes where it stopped"],
    "report": ["rackplan report rackplan-out/plan.json -o plan.html      # re-checks the plan first",
               "rackplan report edited-plan.json --allow-failed        # render a failing plan, with a red banner",
               "rackplan report rackplan-compare/compare.json"],
    "check": ["rackplan check rackplan-out/plan.json facilities/ai-hall.yaml",
              "rackplan check rackplan-out/plan.json                   # against the facility inside the plan",
              "rackplan check someone-elses-plan.json my-site.yaml --specs their-nodes.yaml"],
}


def _examples(command: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in COMMAND_EXAMPLES[command])


class _Parser(argparse.ArgumentParser):
    """Usage errors in the same one-line form as every other bad input (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(_usage_line(self.prog, message))
        sys.exit(2)


def _usage_line(prog: str, message: str) -> str:
    """A usage error as one line, pointing to the ``--help`` of the command it concerns."""
    return f"rackplan: <command line>: {message} (see '{prog} --help')\n"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34, width=100)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def _add_specs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--specs", action="append", metavar="FILE", default=None,
                   help="extra spec file with your own node profiles (same shape as gpu_specs/*.yaml); "
                        "may be repeated")


def _add_targets(p: argparse.ArgumentParser, lead: str) -> None:
    p.add_argument("--gpus", type=int, metavar="N", help=f"{lead} N GPUs")
    p.add_argument("--fp8-pflops", type=float, metavar="X", help=f"{lead} X dense FP8 PFLOPS")
    p.add_argument("--hbm-tb", type=float, metavar="X", help=f"{lead} X TB of HBM")


def _add_solver(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tdp", action="append", metavar="ACCELERATOR=WATTS", default=None,
                   help="what-if accelerator power; node power is re-derived as GPUs x WATTS + the "
                        "node's platform overhead (e.g. --tdp mi400=1400)")
    p.add_argument("--solver", choices=SOLVERS, default=None,
                   help=f"MILP solver: highs (default; installed with rackplan) or cbc (bundled with PuLP)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="stop the solver after this long and keep the best plan found, with its gap "
                        f"(default {DEFAULT_TIME_LIMIT_S:g})")
    p.add_argument("--gap", type=float, default=None, metavar="FRACTION",
                   help=f"stop when proven within this relative gap of the optimum (default {DEFAULT_GAP:g})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or summary on stderr")


def _add_study(p: argparse.ArgumentParser) -> None:
    """What ``compare`` and ``sweep`` compare, and at what prices."""
    p.add_argument("--demand", metavar="FILE",
                   help="demand file: target + candidates, and optionally prices, years, discount_rate, "
                        "uncertainty (electricity and load factor ranges) and tdp")
    p.add_argument("--candidates", metavar="ID,ID[,...]", help="node ids to compare")
    _add_targets(p, "each candidate must reach")
    p.add_argument("--fill", action="store_true", help="fit as many of each candidate as possible")
    _add_prices(p)
    p.add_argument("--electricity", metavar="LOW:HIGH", default=None,
                   help="electricity price range [USD/kWh] for scenarios (LOW:HIGH or LOW:NOMINAL:HIGH; "
                        "nominal defaults to the facility's)")
    p.add_argument("--load-factor", metavar="LOW:HIGH", default=None,
                   help="load factor range (average / maximum draw) for scenarios")


def _add_prices(p: argparse.ArgumentParser) -> None:
    """Node prices over the spec library's (``plan``, ``compare``, ``sweep``)."""
    p.add_argument("--price", action="append", metavar="ID=USD[/month]", default=None,
                   help="a node's price: purchase per node (ID=515000), rent per node-month (ID=25000/month), a "
                        "range LOW:NOMINAL:HIGH or LOW:HIGH, or just the basis (ID=buy, ID=rent) with the library's "
                        "figure; may be repeated")
    p.add_argument("--years", type=float, default=None, metavar="N",
                   help="years over which a purchase is recovered (default 4)")
    p.add_argument("--discount-rate", type=float, default=None, metavar="R",
                   help="discount rate of the capital recovery factor r(1+r)^n/((1+r)^n-1) (default 0: "
                        "straight line, price / years)")


def _add_engine(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=None, metavar="N", help="random seed of the scenarios (default 1)")
    p.add_argument("--engine", choices=("local", "ray", "serial"), default="local",
                   help="where scenarios run: local process pool (default), ray, or serial (in this process)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: the machine's cores; with --address, the cluster's CPUs)")
    p.add_argument("--address", metavar="ADDRESS", default=None,
                   help="an existing Ray cluster to run on (with --engine ray), e.g. ray://head:10001 or auto")
    p.add_argument("--task-timeout", type=float, default=None, metavar="SECONDS",
                   help="seconds one candidate's solve in one scenario may take before it is stopped and "
                        "counted as a timeout (default 60)")
    p.add_argument("--fresh", action="store_true",
                   help="start the scenarios over instead of resuming DIR/scenarios.csv")
    p.add_argument("--no-tornado", action="store_true", help="skip the one-at-a-time tornado")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rackplan",
        description="Datacenter rack power and thermal capacity planner for GPU nodes.\n\n"
                    "Reads a facility descriptor (halls, rows, rack types, feeds, cooling, existing load)\n"
                    "and GPU node profiles from a sourced spec library, and finds the least-cost\n"
                    "placement with an integer program.",
        epilog=EXAMPLES, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"rackplan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", epilog=_examples("validate"), help="check a facility file and summarise it", formatter_class=_Formatter,
                       description="Validate a facility descriptor: every field, then cross-entity checks "
                                   "(unknown rack types,\nexisting load on missing racks or over limits, "
                                   "duplicate names, impossible redundancy).\nAll problems are reported "
                                   "together, one line each.")
    p.add_argument("facility", metavar="FACILITY")
    _add_common(p)

    p = sub.add_parser("specs", epilog=_examples("specs"), help="list the GPU node profiles with power, status and sources",
                       formatter_class=_Formatter,
                       description="List the spec library: node profiles with their design power (and range "
                                   "where projected),\nU, rack form factor, cooling, status and confidence. "
                                   "'specs show ID' prints every figure of one node\nwith its sources, status, "
                                   "confidence and range. --json gives everything as JSON.")
    p.add_argument("action", nargs="?", choices=("show",), help="show: every figure of one node")
    p.add_argument("node_id", nargs="?", metavar="ID", help="the node id for 'show'")
    p.add_argument("--json", action="store_true", help="everything (or, with show, the node), as JSON on stdout")
    _add_specs(p)
    _add_common(p)

    p = sub.add_parser("schema", epilog=_examples("schema"), help="print the JSON Schema of a facility (or demand, or spec) file",
                       formatter_class=_Formatter,
                       description="Print the JSON Schema of an input format, for editors that validate YAML.")
    p.add_argument("kind", nargs="?", choices=("facility", "demand", "specs"), default="facility")
    p.add_argument("--markdown", action="store_true", help="print the Markdown reference of every input format")
    _add_common(p)

    p = sub.add_parser("plan", help="find the least-cost placement and write plan.json, racks.csv, racks.xlsx, report.html",
                       formatter_class=_Formatter, description=PLAN_HELP, epilog=_examples("plan"))
    p.add_argument("facility", metavar="FACILITY")
    p.add_argument("--demand", metavar="FILE", help="demand file")
    p.add_argument("--nodes", metavar="ID=N[,ID=N...]", help="place exactly these nodes")
    _add_targets(p, "target: at least")
    p.add_argument("--candidates", metavar="ID[,ID...]", help="node ids a target may choose among")
    p.add_argument("--fill", metavar="ID", help="as many of this node as fit, then at least cost")
    p.add_argument("--only", metavar="SCOPE[,SCOPE...]",
                   help="place only in these halls, rows or racks (hall-1, hall-2/A, hall-2/A/07)")
    p.add_argument("--exclude", metavar="SCOPE[,SCOPE...]", help="never place in these halls, rows or racks")
    p.add_argument("--together", choices=("hall", "row"),
                   help="keep every node in one hall (or row): a training cluster's fabric spans a pod")
    p.add_argument("--no-xlsx", action="store_true",
                   help="skip racks.xlsx (for a campus of 10,000+ used racks the workbook takes several seconds; "
                        "racks.csv has the same figures)")
    p.add_argument("--point", choices=POINTS, default="nominal",
                   help="spec point for projected figures (default nominal)")
    _add_prices(p)
    p.add_argument("-o", "--out", metavar="DIR", default=DEFAULT_PLAN_DIR,
                   help=f"output directory (default {DEFAULT_PLAN_DIR})")
    _add_solver(p)
    _add_specs(p)
    _add_common(p)

    p = sub.add_parser("compare", epilog=_examples("compare"), help="plan each candidate alone at each spec point and compare them",
                       formatter_class=_Formatter,
                       description="Plan each candidate on its own against the same facility and demand, and "
                                   "for projected\nfigures at the low, nominal and high spec points, with node "
                                   "prices (rent, or purchase\nrecovered over --years). Ranks by annual cost per "
                                   "unit of demand (per GPU-hour for --gpus) and\nprints the verdict first. "
                                   "Writes DIR/compare.json, DIR/compare.csv, DIR/compare.html and one\nchecked "
                                   "plan per candidate and point in DIR/plans/ID@POINT.json. With --samples N it also "
                                   "draws\nN scenarios from every range (as 'rackplan sweep') and leads with the "
                                   "odds.")
    p.add_argument("facility", metavar="FACILITY")
    _add_study(p)
    p.add_argument("--no-break-even", action="store_true", help="skip the break-even TDP search")
    p.add_argument("--samples", type=int, metavar="N", default=None,
                   help="also draw N scenarios from every range and solve them all (default: none)")
    _add_engine(p)
    p.add_argument("-o", "--out", metavar="DIR", default=DEFAULT_COMPARE_DIR,
                   help=f"output directory (default {DEFAULT_COMPARE_DIR})")
    _add_solver(p)
    _add_specs(p)
    _add_common(p)

    p = sub.add_parser("sweep", epilog=_examples("sweep"), help="solve many scenarios drawn from every uncertain figure; the odds of each candidate",
                       formatter_class=_Formatter,
                       description="Draw N scenarios: every projected spec figure (TDP, with the node power "
                                   "that follows it;\nFP8, HBM, platform overhead, weight), every price with a "
                                   "range, and the site ranges you\ngive (--electricity, --load-factor), each "
                                   "from a triangular distribution on low, nominal,\nhigh. Plan every candidate in "
                                   "every scenario (each plan re-checked by the independent checker),\nthen report "
                                   "P10/P50/P90 of racks, IT kW, TCO and cost per unit of demand, the probability\n"
                                   "that each candidate is the cheapest, and a tornado of what moves the verdict "
                                   "most.\nResults stream to DIR/scenarios.csv; the same command resumes an "
                                   "interrupted sweep. Writes\nDIR/sweep.json, DIR/summary.csv and DIR/sweep.html.")
    p.add_argument("facility", metavar="FACILITY")
    _add_study(p)
    p.add_argument("--samples", type=int, metavar="N", default=1000, help="scenarios to draw (default 1000)")
    _add_engine(p)
    p.add_argument("-o", "--out", metavar="DIR", default="rackplan-sweep", help="output directory (default rackplan-sweep)")
    _add_solver(p)
    _add_specs(p)
    _add_common(p)

    p = sub.add_parser("report", epilog=_examples("report"), help="render the HTML report of a plan.json (or compare.json)",
                       formatter_class=_Formatter,
                       description="Render the self-contained HTML report of an existing plan.json or compare.json.\n"
                                   "A plan is re-checked first by the independent checker, against the facility\n"
                                   "recorded inside it (or --facility FILE) and the spec library: a plan that fails\n"
                                   "is refused (exit 1, the violations listed) unless --allow-failed, and then the\n"
                                   "report opens with a red FAILED CHECK banner.")
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("-o", "--out", metavar="FILE.html", help="output file (default: beside the input, .html)")
    p.add_argument("--facility", metavar="FILE", help="check against this facility file instead of the one in the plan")
    p.add_argument("--allow-failed", action="store_true",
                   help="render a plan that fails the check, with a FAILED CHECK banner and its violations")
    _add_specs(p)
    _add_common(p)

    p = sub.add_parser("check", epilog=_examples("check"), help="re-check a plan.json against its facility with the independent checker",
                       formatter_class=_Formatter,
                       description="Re-verify every rack, feed path, heat path, row, hall, CDU group, the plant "
                                   "and every\npower source and panel under every single failure, and the plan's "
                                   "own figures and costs,\nagainst the facility file (default: the facility "
                                   "recorded inside the plan). Exit 0 if it\npasses, 1 if not; limit breaches "
                                   "are listed before bookkeeping mismatches.")
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("facility", metavar="FACILITY", nargs="?", help="facility file (default: the one in the plan)")
    _add_specs(p)
    _add_common(p)

    _add_netbox(sub)
    _add_phases_parser(sub)
    return parser


# --- helpers --------------------------------------------------------------------------------------

def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _n(count: int, word: str, plural: str | None = None) -> str:
    """``1 rack``, ``2 racks``, ``1,024 racks``: a count with its noun in the right number."""
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _check_summary(checks: dict[str, Any]) -> str:
    """The independent check in one line, from a check record (``plan.json``'s ``checks``)."""
    if checks.get("passed"):
        return (f"passed: {_n(int(checks.get('racks_checked') or 0), 'rack')}, "
                f"{_n(int(checks.get('failures_simulated') or 0), 'single failure')} simulated, every limit holds")
    total = int(checks.get("violation_count") or 0)
    limits = int(checks.get("limit_violations") or 0)
    return (f"FAILED: {_n(total, 'violation')} ({_n(limits, 'limit breach', 'limit breaches')}, "
            f"{_n(total - limits, 'bookkeeping mismatch', 'bookkeeping mismatches')})")


def _progress(quiet: bool):
    if quiet:
        return None
    return lambda line: _err(f"  {line}")


def _catalogue(args: argparse.Namespace):
    from planner.inputs.specs import load_catalogue

    return load_catalogue(args.specs or [])


def _tdp(args: argparse.Namespace, cat, base: dict[str, float]) -> dict[str, float]:
    from planner.inputs.demand import check_tdp, parse_pairs

    tdp = dict(base)
    for text in args.tdp or []:
        tdp.update(parse_pairs(text, "--tdp", float))
    check_tdp(tdp, cat, "<command line>")
    return tdp


def _solver_opts(args: argparse.Namespace) -> dict[str, Any]:
    time_limit = DEFAULT_TIME_LIMIT_S if args.time_limit is None else args.time_limit
    gap = DEFAULT_GAP if args.gap is None else args.gap
    if not (time_limit > 0 and time_limit < 1e7):
        raise InputError.one(CLI_FILE, "--time-limit", f"must be a positive number of seconds, got {time_limit}")
    if not (0 <= gap < 1):
        raise InputError.one(CLI_FILE, "--gap", f"must be within 0..1, got {gap}")
    return {"solver": args.solver or DEFAULT_SOLVER, "time_limit": time_limit, "gap": gap}


def _read_json(path: str) -> dict[str, Any]:
    from planner.inputs.yamlio import MAX_JSON_BYTES, read_text

    text = read_text(path, path, MAX_JSON_BYTES)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError.one(path, "", f"not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InputError.one(path, "", "expected a JSON object")
    return data


# --- commands -------------------------------------------------------------------------------------

def cmd_validate(args: argparse.Namespace) -> int:
    from planner.inputs.facility import load_facility

    loaded = load_facility(args.facility)
    fac = loaded.facility
    rows = sum(len(h.rows) for h in fac.halls)
    per_type: dict[str, int] = {}
    for hall in fac.halls:  # plain counts: validating needs neither numpy nor the rack table
        for row in hall.rows:
            per_type[row.rack_type] = per_type.get(row.rack_type, 0) + row.racks
    print(f"ok: {args.facility}: '{fac.name}': {_n(len(fac.halls), 'hall')}, {_n(rows, 'row')}, "
          f"{_n(sum(per_type.values()), 'rack')} ({len({e.rack for e in fac.existing}):,} with existing load), "
          f"default power redundancy {fac.site.power_redundancy}")
    for name, rt in fac.rack_types.items():
        n = per_type.get(name, 0)
        liquid = f", liquid {rt.liquid_kw:g} kW" if rt.liquid_kw else ""
        ff = f", {rt.form_factor}" if rt.form_factor != "eia-19" else ""
        ov = rt.overhead
        overhead = f", overhead {ov.u}U/{ov.kw:g} kW/{ov.weight_kg:g} kg" if (ov.u or ov.kw or ov.weight_kg) else ""
        print(f"  rack type {name}: {_n(n, 'rack')}, {rt.u}U{ff}, {rt.cooling}, {fac.redundancy(name)} on "
              f"{_n(fac.paths(name), 'path')}, carries {fac.power_capacity_kw(name):.1f} kW "
              f"({rt.feeds} x {fac.one_feed_kw(name):.1f} kW feed), air {rt.air_kw:g} kW{liquid}, "
              f"{rt.max_weight_kg:,g} kg{overhead}")
    for hall in fac.halls:
        cu = hall.cooling_units
        what = "air heat" if hall.cdus else "cooling"
        extra = f", IT capacity {hall.it_kw:,.0f} kW" if hall.it_kw else ""
        print(f"  hall {hall.name}: {_n(sum(r.racks for r in hall.rows), 'rack')} in {_n(len(hall.rows), 'row')}, {what} "
              f"{fac.hall_usable_kw(hall):,.0f} kW usable ({cu.count} x {cu.unit_kw:g} kW, N+{cu.redundant}){extra}")
        for g in hall.cdus or []:
            print(f"    CDU group {g.name}: {'row' if len(g.rows) == 1 else 'rows'} {', '.join(g.rows)}, {fac.usable_kw(g):,.0f} kW usable "
                  f"({g.count} x {g.unit_kw:g} kW, N+{g.redundant})")
    if fac.power is not None:
        names = list(fac.power.sources)
        shown = ", ".join(names[:6]) + (f", ... ({len(names)} in all)" if len(names) > 6 else "")
        print(f"  power: {_n(len(names), 'source')} ({shown}), {_n(len(fac.power.panels), 'panel')}; every single "
              "failure of a source or a panel is planned for")
    if fac.plant is not None:
        pl = fac.plant
        print(f"  plant: {fac.usable_kw(pl):,.0f} kW usable ({pl.count} x {pl.unit_kw:g} kW, N+{pl.redundant})")
    return 0


def cmd_specs(args: argparse.Namespace) -> int:
    from planner.inputs import spec_listing

    cat = _catalogue(args)
    if args.action == "show" or args.node_id:
        if not args.node_id:
            raise InputError.one("<command line>", "specs show", "needs a node id, e.g. 'rackplan specs show b200-8x-air'")
        if args.json:
            print(json.dumps(spec_listing.node_json(cat, args.node_id), indent=2))
        else:
            print(spec_listing.show(cat, args.node_id))
        return 0
    if args.json:
        print(json.dumps(spec_listing.listing_json(cat), indent=2))
    else:
        print(spec_listing.table(cat))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from planner.inputs.demand import DemandFile
    from planner.inputs.facility import Facility
    from planner.inputs.specs import SpecFile

    if args.markdown:
        from planner.inputs.reference import markdown

        print(markdown())
        return 0
    model = {"facility": Facility, "demand": DemandFile, "specs": SpecFile}[args.kind]
    from planner.inputs.reference import json_schema

    print(json.dumps(json_schema(model), indent=2))
    return 0


def _gap_words(solver: dict[str, Any]) -> str:
    """``gap 0.0000%``; an optimal plan with a gap says it is within the tolerance it was proven to
    (``gap 0.0019%, within the 0.01% tolerance``), so "optimal" and a gap do not read as a contradiction."""
    gap, tol = solver.get("gap"), solver.get("gap_tolerance")
    if gap is None:
        return "gap unknown"
    words = f"gap {gap:.4%}"
    if solver.get("status") == "optimal" and gap > 0.5e-6 and tol:
        words += f", within the {tol * 100:g}% tolerance"
    return words


def _summary(plan: dict[str, Any]) -> list[str]:
    t = plan["totals"]
    s = plan["solver"]
    usd = t["annual_usd"]
    lines = [
        f"plan: {s['status']} ({_gap_words(s)}, {s['name']}, {s['seconds']:.1f} s): "
        f"{_n(sum(t['nodes'].values()), 'node')} / {_n(t['gpus'], 'GPU')} in {_n(t['racks_used'], 'rack')}, "
        f"IT {t['it_kw']:,.1f} kW",
        f"  annual USD {usd['total']:,.0f} = energy {usd['energy']:,.0f} + cooling {usd['cooling']:,.0f} "
        f"+ racks {usd['racks']:,.0f} + nodes {usd['nodes']:,.0f}",
    ]
    for nid, price in ((plan.get("prices") or {}).get("nodes") or {}).items():
        if price:
            lines.append(f"  node price {nid}: {price['text']}")
    b = plan.get("baseline", {})
    placed = sum(b.get("nodes", {}).values()) if b else 0
    if b and plan["demand"]["kind"] == "fill" and placed < sum(t["nodes"].values()):
        lines.append(f"  first-fit baseline: fits only {_n(placed, 'node')} in {_n(b['racks_used'], 'rack')} "
                     f"({sum(t['nodes'].values()) - placed:,} fewer than this plan)")
    elif b.get("meets_demand") and "excess_over_plan" in b:
        lines.append(f"  first-fit baseline: USD {b['annual_usd']['total']:,.0f} in {_n(b['racks_used'], 'rack')} "
                     f"({b['excess_over_plan']:+.1%} vs this plan)")
    elif b:
        lines.append(f"  first-fit baseline: places {_n(sum(b['nodes'].values()), 'node')}, "
                     f"{'meets' if b.get('meets_demand') else 'does not meet'} the demand")
    if plan.get("binding", {}).get("label"):
        lines.append(f"  binding limit: {plan['binding']['label']}")
    if s["status"] != "optimal":
        worth = s.get("gap_usd")
        lines.append("  the time limit stopped the solver: " + (
            f"a better plan could save at most USD {worth:,.0f} a year (gap {s['gap']:.3%}); raise --time-limit to prove it"
            if worth is not None else "no bound was found; raise --time-limit"))
    if plan.get("checks"):
        lines.append(f"  independent check: {_check_summary(plan['checks'])}")
    return lines


def cmd_plan(args: argparse.Namespace) -> int:
    from planner.inputs.demand import from_cli, read_demand
    from planner.inputs.facility import load_facility

    opts = _solver_opts(args)
    loaded = load_facility(args.facility)
    cat = _catalogue(args)
    cli_demand = from_cli(cat, nodes=args.nodes, gpus=args.gpus, fp8_pflops=args.fp8_pflops, hbm_tb=args.hbm_tb,
                          candidates=args.candidates, fill=args.fill)
    tdp_file: dict[str, float] = {}
    demand = file = None
    if args.demand:
        demand, file = read_demand(args.demand, cat)
        tdp_file = dict(file.tdp or {})
    if cli_demand is not None:
        if demand is not None:  # the command line overrides the file: say so, and what each gave
            kept = [what for what, given in (("tdp what-ifs", tdp_file), ("placement controls", demand.controls))
                    if given]
            _err(f"rackplan: note: {_demand_flag(args)} overrides the demand in {args.demand} "
                 f"({demand.describe()}); planning {cli_demand.describe()}"
                 + (f"; the file's {' and '.join(kept)} still apply" if kept else ""))
            cli_demand = cli_demand.with_controls(only=demand.only, exclude=demand.exclude, reserved=demand.reserved,
                                                  together=demand.together, origin=demand.origin)
        demand = cli_demand
    if demand is None:
        raise InputError.one(CLI_FILE, "", "no demand: give --demand FILE, --nodes, --gpus/--fp8-pflops/"
                                                   "--hbm-tb with --candidates, or --fill")
    split = lambda text: tuple(s.strip() for s in (text or "").split(",") if s.strip())  # noqa: E731
    if args.only or args.exclude or args.together:
        demand = demand.with_controls(only=split(args.only), exclude=split(args.exclude), together=args.together,
                                      origin=CLI_FILE)
    tdp = _tdp(args, cat, tdp_file)
    for acc, watts in tdp_file.items():
        if tdp[acc] != watts:
            _err(f"rackplan: note: --tdp {acc}={tdp[acc]:g} overrides the demand file's {acc}: {watts:g} W")
    cat, prices = _plan_prices(args, cat, file, demand)
    from planner.results.outputs import check_out_dir

    check_out_dir(args.out)
    from planner.inputs.demand import check_controls

    check_controls(demand, loaded.facility)  # a bad --only says so alone, before the banner
    from planner.api import plan_and_write  # the solver stack, once the inputs are good

    progress = _progress(args.quiet)
    if progress:
        df = loaded.facility.racks.frame
        halls = len(loaded.facility.halls)
        _err(f"rackplan: '{loaded.facility.name}' ({_n(len(df), 'rack')} in {_n(halls, 'hall')}); "
             f"demand: {demand.describe()}")
    try:
        run, paths = plan_and_write(loaded, cat, demand, args.out, xlsx=not args.no_xlsx, point=args.point,
                                    tdp_w=tdp, solver=opts["solver"], time_limit=opts["time_limit"], gap=opts["gap"],
                                    progress=progress, spec_files=args.specs, prices=prices)
    except NoPlanError as exc:
        return _no_plan(exc, loaded, cat, demand, args, tdp, opts, progress)
    if not args.quiet:
        for line in _summary(run.plan):
            _err(line)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _plan_prices(args: argparse.Namespace, cat: Any, file: Any, demand: Any) -> tuple[Any, dict[str, Any]]:
    """The catalogue a plan is made with (its profiles carrying the chosen prices) and ``plan.json``'s
    ``prices`` record, from ``--price``, ``--years``, ``--discount-rate`` over the demand file's."""
    from planner.studies.tco import plan_prices

    given, years, rate = _prices(args, cat, file)
    _unused_prices(given, demand.node_ids)
    priced, record = plan_prices(cat, demand, given, years, rate)
    if record["note"]:
        _err(f"rackplan: note: {record['note']}")
    return priced, record


def _unused_prices(given: dict[str, Any], ids: list[str]) -> None:
    """Say so when a price is given for a node the demand cannot use (a typo of the candidates, often)."""
    unused = [nid for nid in given if nid not in ids]
    if unused:
        _err(f"rackplan: note: the price{'s' if len(unused) > 1 else ''} given for {', '.join(unused)} "
             f"{'are' if len(unused) > 1 else 'is'} not used: not among the demand's nodes ({', '.join(ids)})")


def _demand_flag(args: argparse.Namespace) -> str:
    """The demand flag the user gave (for messages)."""
    if args.nodes is not None:
        return "--nodes"
    if args.fill is not None:
        return "--fill"
    given = [f for f, v in (("--gpus", args.gpus), ("--fp8-pflops", args.fp8_pflops), ("--hbm-tb", args.hbm_tb))
             if v is not None]
    return (given[0] if given else "--candidates") + (" with --candidates" if args.candidates else "")


def _no_plan(exc: NoPlanError, loaded, cat, demand, args: argparse.Namespace, tdp: dict[str, float],
             opts: dict[str, Any], progress) -> int:
    """No plan meets the demand: what runs out (the diagnosis), then the most of each node type that
    does fit on its own, found by planning a fill with the same optimizer."""
    from planner.api import MOST_THAT_FITS_S, most_that_fits

    _err(f"rackplan: {exc}")
    for line in exc.shortfalls[1:]:
        _err(f"  also: {line}")
    if progress and demand.kind != "fill":
        _err(f"  (asking how many {' and how many '.join(demand.node_ids)} fit instead)")
    try:
        fits = most_that_fits(loaded, cat, demand, point=args.point, tdp_w=tdp, solver=opts["solver"],
                              time_limit=min(opts["time_limit"], MOST_THAT_FITS_S))
    except (NoPlanError, InputError):
        fits = []
    for line in fits:
        _err(f"  {line}")
    return Exit.NO_PLAN


@dataclass
class _Study:
    """The inputs of ``compare`` and ``sweep``, flags over the demand file."""

    loaded: Any
    cat: Any
    candidates: list[str]
    targets: dict[str, float]
    fill: bool
    tdp: dict[str, float]
    prices: dict[str, Any]
    years: float
    rate: float
    site: dict[str, tuple[float, float, float]]
    site_origin: str
    demand_json: dict[str, Any]
    controls: dict[str, Any]


def _range(text: str, flag: str) -> tuple[float, float | None, float]:
    """``LOW:HIGH`` or ``LOW:NOMINAL:HIGH`` (or one number) -> (low, nominal or None, high)."""
    parts = [x.strip() for x in text.split(":")]
    try:
        nums = [float(x) for x in parts]
    except ValueError:
        raise InputError.one(CLI_FILE, flag, f"expected a number, LOW:HIGH or LOW:NOMINAL:HIGH, got '{text}'") from None
    if not all(n == n and abs(n) != float("inf") and n >= 0 for n in nums) or len(nums) not in (1, 2, 3):
        raise InputError.one(CLI_FILE, flag, f"expected non-negative numbers LOW:HIGH or LOW:NOMINAL:HIGH, got '{text}'")
    if len(nums) == 1:
        return nums[0], nums[0], nums[0]
    lo, hi = nums[0], nums[-1]
    nominal = nums[1] if len(nums) == 3 else None
    if not (lo <= hi and (nominal is None or lo <= nominal <= hi)):
        raise InputError.one(CLI_FILE, flag, f"expected LOW <= NOMINAL <= HIGH, got '{text}'")
    return lo, nominal, hi


_PRICE_SPLIT = re.compile(r",\s*(?=[A-Za-z0-9][A-Za-z0-9._-]*\s*=)")
"""Several prices in one flag are separated by commas before the next ``ID=`` (so ``$450,000`` stays one)."""


def _usd_amount(text: str) -> str:
    """``$450,000`` -> ``450000``, ``15k`` -> ``15000``, ``1.2M`` -> ``1200000``, one end of a range at a time."""
    out = []
    for end in text.split(":"):
        end = end.strip().replace(",", "").replace("$", "").replace("_", "")
        scale = {"k": 1e3, "m": 1e6}.get(end[-1:].lower())
        if scale is not None:
            try:
                end = repr(float(end[:-1]) * scale)
            except ValueError:
                pass
        out.append(end)
    return ":".join(out)


def _price_flags(values: list[str] | None, cat: Any) -> dict[str, Any]:
    """``--price ID=USD[/month]`` (or a range, or ``ID=buy|rent``) -> price inputs by node id. The same
    node given twice combines like a demand file under the flags (``ID=600000 ID=rent``: rent, with the
    purchase price as the other basis); a later figure of the same kind replaces an earlier one."""
    from planner.inputs.specs import Figure, suggest
    from planner.studies.tco import PriceInput, merge_inputs

    out: dict[str, PriceInput] = {}
    for text in values or []:
        for part in [x.strip() for x in _PRICE_SPLIT.split(text) if x.strip()]:
            nid, sep, value = part.partition("=")
            nid, value = nid.strip(), value.strip().lower()
            if not sep or not nid or not value:
                raise InputError.one(CLI_FILE, "--price", f"expected ID=USD or ID=USD/month, got '{part}'")
            if nid not in cat.nodes:
                raise InputError.one(CLI_FILE, "--price", f"unknown node id '{nid}'; {suggest(nid, sorted(cat.nodes))}")
            if value in ("buy", "rent"):
                given = PriceInput(basis=value, origin="--price")  # type: ignore[arg-type]
            else:
                rent = value.endswith("/month")
                amount = _usd_amount(value.replace("/month", ""))
                try:
                    lo, nominal, hi = _range(amount, "--price")
                except InputError:
                    raise InputError.one(CLI_FILE, "--price", f"expected {nid}=USD (a purchase), {nid}=USD/month (a "
                                                              f"rent) or a range LOW:NOMINAL:HIGH, in dollars such "
                                                              f"as 450000, 450,000 or 450k; got '{part}'") from None
                fig = Figure(nominal=nominal if nominal is not None else (lo + hi) / 2, low=lo if hi > lo else None,
                             high=hi if hi > lo else None)
                given = PriceInput(rent_usd_month=fig, origin="--price") if rent else \
                    PriceInput(price_usd=fig, origin="--price")
            out[nid] = merge_inputs({nid: out[nid]}, {nid: given})[nid] if nid in out else given
    return out


def _prices(args: argparse.Namespace, cat: Any, file: Any) -> tuple[dict[str, Any], float, float]:
    """Node prices, years and discount rate: ``--price``, ``--years``, ``--discount-rate`` over the
    demand file's ``prices``, ``years``, ``discount_rate`` (``file``, or None)."""
    from planner.studies.tco import DEFAULT_DISCOUNT_RATE, DEFAULT_YEARS, PriceInput, merge_inputs

    from_file: dict[str, PriceInput] = {}
    for nid, p in ((file.prices or {}) if file else {}).items():
        from_file[nid] = PriceInput(p.price_usd, p.rent_usd_month, p.basis,
                                    f"demand file {args.demand}" + (f" ({p.source})" if p.source else ""), p.source)
    prices = merge_inputs(from_file, _price_flags(args.price, cat))
    years = args.years if args.years is not None else (file.years if file and file.years else DEFAULT_YEARS)
    rate = args.discount_rate if args.discount_rate is not None else (
        file.discount_rate if file and file.discount_rate is not None else DEFAULT_DISCOUNT_RATE)
    if not 0 < years <= 30:
        raise InputError.one(CLI_FILE, "--years", f"must be within (0, 30], got {years:g}")
    if not 0 <= rate < 1:
        raise InputError.one(CLI_FILE, "--discount-rate", f"must be within [0, 1), got {rate:g}")
    return prices, years, rate


def _study(args: argparse.Namespace) -> _Study:
    from planner.inputs.demand import read_demand
    from planner.inputs.facility import load_facility

    loaded = load_facility(args.facility)
    cat = _catalogue(args)
    file = None
    if args.demand:
        demand, file = read_demand(args.demand, cat)
        if demand.kind == "nodes":
            raise InputError.one(args.demand, "nodes", "a comparison needs a target with candidates (or --fill), "
                                                       "not exact node counts")
    targets = {k: v for k, v in (("gpus", args.gpus), ("fp8_pflops", args.fp8_pflops), ("hbm_tb", args.hbm_tb))
               if v is not None}
    fill = bool(args.fill)
    if len(targets) + fill > 1:
        raise InputError.one(CLI_FILE, "", "give exactly one of --gpus, --fp8-pflops, --hbm-tb or --fill")
    candidates = [c.strip() for c in (args.candidates or "").split(",") if c.strip()]
    if file is not None:
        if not targets and not fill:
            if demand.kind == "target":
                targets = {demand.metric: demand.amount}
            else:
                fill = True
        if not candidates:
            candidates = list(demand.candidates) if demand.kind == "target" else [demand.fill]
    if len(targets) + fill != 1:
        raise InputError.one(CLI_FILE, "", "give exactly one of --gpus, --fp8-pflops, --hbm-tb or --fill "
                                           "(or a demand file with a target)")
    if not candidates:
        raise InputError.one(CLI_FILE, "--candidates", "give the node ids to compare (--candidates ID,ID)")
    tdp = _tdp(args, cat, dict(file.tdp or {}) if file else {})
    prices, years, rate = _prices(args, cat, file)
    ranges: dict[str, dict[str, Any]] = {}
    origins = []
    if file and file.uncertainty:
        for name in ("electricity_usd_per_kwh", "load_factor"):
            r = getattr(file.uncertainty, name)
            if r is not None:
                ranges[name] = r.model_dump()
                origins.append(f"demand file {args.demand}")
    for text, name, flag in ((args.electricity, "electricity_usd_per_kwh", "--electricity"),
                             (args.load_factor, "load_factor", "--load-factor")):
        if text:
            lo, nominal, hi = _range(text, flag)
            if name == "load_factor" and not (0 < lo and hi <= 1):
                raise InputError.one(CLI_FILE, flag, f"must lie within (0, 1], got '{text}'")
            ranges[name] = {"low": lo, "high": hi, "nominal": nominal}
            origins.append(flag)
    from planner.studies.sweep import site_ranges

    site = site_ranges(loaded.facility.site, ranges)
    demand_json = {"kind": "fill", "candidates": candidates} if fill else \
        {"kind": "target", "target": dict(targets), "candidates": candidates}
    controls = {}
    if file is not None:  # placement controls of the demand file (only, exclude, reserved, together)
        controls = {k: getattr(demand, k) for k in ("only", "exclude", "reserved", "together") if getattr(demand, k)}
        if controls:
            controls["origin"] = demand.origin
            demand_json |= demand.controls
    return _Study(loaded, cat, candidates, targets, fill, tdp, prices, years, rate, site,
                  ", ".join(dict.fromkeys(origins)), demand_json, controls)


def _sweep_setup(args: argparse.Namespace, st: _Study, cat: Any, prices: dict[str, Any], samples: int, opts: dict[str, Any]):
    from planner.studies.sweep import make_setup

    if samples < 1 or samples > 10_000_000:
        raise InputError.one(CLI_FILE, "--samples", f"must be a positive number of scenarios, got {samples}")
    timeout = 60.0 if args.task_timeout is None else args.task_timeout
    if not 0 < timeout < 1e6:
        raise InputError.one(CLI_FILE, "--task-timeout", f"must be a positive number of seconds, got {timeout:g}")
    if args.workers is not None and args.workers < 1:
        raise InputError.one(CLI_FILE, "--workers", f"must be at least 1, got {args.workers}")
    return make_setup(st.loaded, cat, st.candidates, next(iter(st.targets), None), float(next(iter(st.targets.values()), 0)),
                      prices, st.site, st.site_origin, seed=1 if args.seed is None else args.seed, samples=samples,
                      solver=opts["solver"], time_limit=opts["time_limit"], gap=opts["gap"], task_timeout=timeout,
                      tdp=dict(st.tdp), controls=dict(st.controls))


def _run_sweep(args: argparse.Namespace, setup: Any):
    from planner.studies.engines import make_engine
    from planner.studies.sweep import run_sweep

    engine = make_engine(args.engine, args.workers, args.address)
    if not args.quiet:
        _err(f"rackplan: {setup.samples:,} scenarios x {len(setup.candidates)} candidates on {engine.describe()}; "
             f"{len(setup.factors)} uncertain input(s): " + (", ".join(f.label for f in setup.factors) or "none"))
    try:
        return run_sweep(setup, engine, args.out, fresh=args.fresh, tornado=not args.no_tornado,
                         progress=not args.quiet, log=_progress(args.quiet))
    except KeyboardInterrupt:
        _err(f"rackplan: interrupted; the scenarios solved so far are in {Path(args.out) / 'scenarios.csv'}: "
             "run the same command again to resume")
        raise SystemExit(Exit.INTERRUPTED) from None


def cmd_compare(args: argparse.Namespace) -> int:
    from planner.studies.compare import add_sweep, run_compare, write_compare

    opts = _solver_opts(args)
    st = _study(args)
    _unused_prices(st.prices, st.candidates)
    from planner.results.outputs import check_out_dir

    check_out_dir(args.out)
    result = run_compare(st.loaded, st.cat, st.candidates, st.targets, st.fill, tdp=st.tdp, solver=opts["solver"],
                         time_limit=opts["time_limit"], gap=opts["gap"], progress=_progress(args.quiet),
                         break_even=not args.no_break_even, prices=st.prices, years=st.years,
                         discount_rate=st.rate, controls=st.controls)
    if args.samples:
        from planner.studies.sweep import sweep_doc

        setup = _sweep_setup(args, st, result.cat, result.prices, args.samples, opts)
        run = _run_sweep(args, setup)
        add_sweep(result, sweep_doc(run, st.demand_json))
    elif args.fresh or args.engine != "local" or args.workers or args.address or args.seed is not None:
        raise InputError.one(CLI_FILE, "--samples", "--seed, --engine, --workers, --address and --fresh go with --samples N")
    paths = write_compare(result, args.out)
    v = result.doc["verdict"]
    print(v["text"])
    for note in v.get("notes") or []:
        print(textwrap.fill(note, width=100, initial_indent="  ", subsequent_indent="    "))
    for nid, price in (result.doc.get("prices") or {}).items():  # what the verdict assumed each node costs
        print(textwrap.fill(f"price {nid}: {price['text'] if price else 'none known: its nodes cost nothing here'}",
                            width=100, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False))
    for f in result.doc["break_even"]:
        print(textwrap.fill(f"break-even {f['candidate']} vs {f['versus']}: {f['note']}", width=100,
                            initial_indent="  ", subsequent_indent="    "))
    plans = [p for p in paths if p.parent.name == "plans"]
    others = [p for p in paths if p.parent.name != "plans"]
    print("wrote " + ", ".join(str(p) for p in others) + f" and {_n(len(plans), 'plan')} in {Path(args.out) / 'plans'}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from planner.studies.sweep import sweep_doc, terminal_lines, write_sweep
    from planner.studies.tco import choose_prices, priced_catalogue

    opts = _solver_opts(args)
    st = _study(args)
    _unused_prices(st.prices, st.candidates)
    if len(st.candidates) != len(set(st.candidates)):
        raise InputError.one(CLI_FILE, "--candidates", "a node id is listed twice")
    from planner.results.outputs import check_out_dir

    check_out_dir(args.out)
    choices = choose_prices(st.cat, st.candidates, st.prices, st.years, st.rate)
    setup = _sweep_setup(args, st, priced_catalogue(st.cat, choices), choices, args.samples, opts)
    run = _run_sweep(args, setup)
    doc = sweep_doc(run, st.demand_json)
    paths = write_sweep(run, doc, args.out)
    for line in terminal_lines(doc):
        print(line)
    print(f"wrote {', '.join(str(p) for p in paths)} and {run.results_file} ({run.solved:,} scenarios solved by this "
          f"run in {run.seconds:.1f} s on {run.engine})")
    return 0


def _plan_facility(args: argparse.Namespace, plan: dict[str, Any], path: str | None):
    """The facility a plan is checked against: ``path`` if given, else the descriptor inside the plan."""
    from planner.inputs.facility import Facility, check_facility, load_facility
    from planner.inputs.yamlio import validate

    if path:
        loaded = load_facility(path)
        recorded = (plan.get("facility") or {}).get("sha256")
        if recorded not in (None, loaded.sha256):
            _err(f"note: {args.plan} was made for a facility file with a different sha256")
        return loaded.facility, path
    descriptor = (plan.get("facility") or {}).get("descriptor")
    if not isinstance(descriptor, dict):
        how = f"rackplan check {args.plan} FACILITY" if args.command == "check" else "--facility FILE"
        raise InputError.one(args.plan, "facility.descriptor",
                             f"the plan does not carry its facility; give the facility file ({how})")
    name = f"{args.plan} (facility.descriptor)"
    fac = validate(Facility, descriptor, name, {})
    check_facility(fac, name)
    return fac, "the facility recorded in the plan"


def _check_document(args: argparse.Namespace, plan: dict[str, Any], facility: str | None):
    from planner.results.checker import check_plan

    fac, against = _plan_facility(args, plan, facility)
    report = check_plan(fac, plan, _catalogue(args))
    return report, against


def cmd_report(args: argparse.Namespace) -> int:
    from planner.report.views import render_compare, render_plan
    from planner.results.outputs import write_atomic
    from planner.results.plan_schema import validate_compare, validate_plan

    data = _read_json(args.plan)
    schema = data.get("schema")
    status = Exit.OK
    if schema == SCHEMA_PLAN:
        data = validate_plan(data, args.plan, for_report=True)
        report, against = _check_document(args, data, args.facility)
        checks = report.to_json() | {"checked_by": f"rackplan report, against {against}"}
        if not report.passed:
            for v in report.violations:
                _err(f"{args.plan}: {v}")
            _err(f"rackplan: {args.plan}: {report.summary()}")
            if not args.allow_failed:
                _err("rackplan: no report written; --allow-failed renders it with a FAILED CHECK banner")
                return Exit.NO_PLAN
            status = Exit.NO_PLAN
        data["checks"] = checks
        render = render_plan
    elif schema == SCHEMA_COMPARE:
        validate_compare(data, args.plan)
        render = render_compare
    else:
        raise InputError.one(args.plan, "schema", f"expected {SCHEMA_PLAN!r} or {SCHEMA_COMPARE!r}, got {schema!r}")
    try:
        html = render(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        if args.debug:
            raise
        raise InputError.one(args.plan, "", f"not a complete rackplan document: {type(exc).__name__}: {exc}") from None
    out = Path(args.out) if args.out else Path(args.plan).with_suffix(".html")
    write_atomic(out, html)
    print(f"wrote {out}" + (" (FAILED CHECK banner)" if status else ""))
    return status


def cmd_check(args: argparse.Namespace) -> int:
    from planner.results.plan_schema import validate_plan

    data = _read_json(args.plan)
    if data.get("schema") == SCHEMA_COMPARE:
        here = Path(args.plan).parent
        files = [str(here / r["plan_file"]) for r in data.get("rows") or []
                 if isinstance(r, dict) and isinstance(r.get("plan_file"), str)]
        example = files[0] if files else f"{here / 'plans'}/ID@POINT.json"
        more = f" (and the {_n(len(files) - 1, 'other')} in {here / 'plans'})" if len(files) > 1 else ""
        raise InputError.one(args.plan, "schema", "this is a comparison; check each of its plans instead: "
                                                  f"rackplan check {example}{more}")
    plan = validate_plan(data, args.plan)
    report, against = _check_document(args, plan, args.facility)
    summary = _check_summary(report.to_json())
    if report.passed:
        print(f"ok: {args.plan} (against {against}): {summary}")
        return Exit.OK
    for v in report.violations:  # limit breaches first, then bookkeeping mismatches (the checker's order)
        print(f"{args.plan}: {v}")
    print(f"{args.plan}: {summary}")
    return Exit.NO_PLAN


# --- rackplan netbox import|export|fields ------------------------------------------------------------

NETBOX_HELP = """\
Round trip with NetBox (4.7; docs/netbox.md): import a site as a facility file, plan it, and export the
plan back as planned devices (or rack reservations, or NetBox bulk-import CSV).

  import   read a site (locations -> halls, rack groups -> rows, feeds, panels, cooling, devices) and
           write FACILITY.yaml and its rack map FACILITY.netbox.json
  export   write a plan's nodes into NetBox as devices with status 'planned' at the plan's positions
  fields   create the custom fields rackplan reads (rackplan_kw, rackplan_source, ...)

--url and --token default to $NETBOX_URL and $NETBOX_TOKEN (a v2 token nbt_KEY.SECRET). Bad answers
from NetBox (refused token, unreachable URL, a rack without feeds, ...) are one line each, exit code 2,
and nothing is written.
"""

NETBOX_EXAMPLES = {
    "import": ["rackplan netbox import --url https://netbox.example.com --token $TOKEN --site dc1 -o dc1.yaml",
               "rackplan plan dc1.yaml --fill b200-8x-air -o dc1-plan"],
    "export": ["rackplan netbox export dc1-plan/plan.json --dry-run      # what would change",
               "rackplan netbox export dc1-plan/plan.json                # planned devices, tagged with the plan",
               "rackplan netbox export dc1-plan/plan.json --as reservations",
               "rackplan netbox export dc1-plan/plan.json --csv dc1-csv  # bulk-import files, no API call (needs the rack map)"],
    "fields": ["rackplan netbox fields --url https://netbox.example.com --token $TOKEN"],
}


def _add_netbox_conn(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("NETBOX_URL"), metavar="URL",
                   help="NetBox URL, e.g. https://netbox.example.com (default $NETBOX_URL)")
    p.add_argument("--token", default=os.environ.get("NETBOX_TOKEN"), metavar="TOKEN",
                   help="API token (default $NETBOX_TOKEN)")
    p.add_argument("--page-size", type=int, default=None, metavar="N", help=argparse.SUPPRESS)


def _add_netbox(sub: Any) -> None:
    p = sub.add_parser("netbox", help="import a NetBox site as a facility; export a plan to NetBox",
                       formatter_class=_Formatter, description=NETBOX_HELP,
                       epilog="examples:\n" + "\n".join(f"  {line}" for a in ("import", "export", "fields")
                                                         for line in NETBOX_EXAMPLES[a]))
    nb = p.add_subparsers(dest="netbox_command", metavar="ACTION")
    q = nb.add_parser("import", help="write a facility file (and its rack map) from a NetBox site",
                      formatter_class=_Formatter, epilog=_nb_examples("import"),
                      description="Read a NetBox site and write a facility file that validates, and beside it the "
                                  "map from\nrackplan rack ids to NetBox racks (FACILITY.netbox.json). What cannot "
                                  "be mapped is one\nwarning line naming the NetBox object; see docs/netbox.md.")
    _add_netbox_conn(q)
    q.add_argument("--site", required=True, metavar="SLUG", help="the NetBox site's slug")
    q.add_argument("-o", "--out", metavar="FACILITY.yaml", help="output file (default SLUG.yaml)")
    q.add_argument("--default-air-kw", type=float, metavar="KW",
                   help="air cooling of racks without cooling_capacity (default: such racks are not imported)")
    _add_common(q)
    q = nb.add_parser("export", help="write a plan's nodes into NetBox as planned devices",
                      formatter_class=_Formatter, epilog=_nb_examples("export"),
                      description="Create each planned node as a device with status 'planned' in its rack at the "
                                  "plan's position,\ntagged with the plan's id (rackplan-<first 12 hex digits of the "
                                  "sha256 of PLAN.json>).\nA missing device type is created, with power ports whose "
                                  "maximum_draw add up to the node's\nmax_kw. A second run updates instead of "
                                  "duplicating. Everything is checked before the first\nwrite, and on any API error "
                                  "what was done is undone.")
    q.add_argument("plan", metavar="PLAN.json")
    _add_netbox_conn(q)
    q.add_argument("--map", metavar="FILE", help="the rack map written by import (default: FACILITY.netbox.json "
                                                  "beside the facility file the plan names)")
    q.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    q.add_argument("--as", dest="as_", choices=("devices", "reservations"), default="devices",
                   help="devices (default) or rack reservations of the planned units")
    q.add_argument("--csv", metavar="DIR", help="write NetBox bulk-import files to DIR instead of calling the API")
    q.add_argument("--face", choices=("front", "rear"), default="front", help="rack face of the devices (default front)")
    q.add_argument("--role", metavar="SLUG", default="gpu-node",
                   help="device role (created if missing; default gpu-node)")
    q.add_argument("--device-type", action="append", metavar="NODE=SLUG", default=None,
                   help="use this existing NetBox device type for a node id (default: the type whose slug is the "
                        "node id, created if missing)")
    q.add_argument("--user", metavar="USERNAME", help="owner of rack reservations (default: the token's user)")
    q.add_argument("-q", "--quiet", action="store_true", help="only the summary line")
    _add_common(q)
    q = nb.add_parser("fields", help="create the custom fields rackplan reads", formatter_class=_Formatter,
                      epilog=_nb_examples("fields"),
                      description="Create the custom fields rackplan reads (on power panels, locations, rack "
                                  "groups, racks\nand device types) where they are missing; see docs/netbox.md.")
    _add_netbox_conn(q)
    _add_common(q)


def _nb_examples(command: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in NETBOX_EXAMPLES[command])


def _netbox_client(args: argparse.Namespace):
    from planner.netbox.client import DEFAULT_PAGE_SIZE, NetBoxClient

    if not args.url:
        raise InputError.one(CLI_FILE, "--url", "no NetBox URL: give --url or set $NETBOX_URL")
    return NetBoxClient(args.url, args.token or "", page_size=args.page_size or DEFAULT_PAGE_SIZE)


def cmd_netbox(args: argparse.Namespace) -> int:
    action = getattr(args, "netbox_command", None)
    if action == "import":
        return _netbox_import(args)
    if action == "export":
        return _netbox_export(args)
    if action == "fields":
        from planner.netbox.fields import ensure_custom_fields

        done = ensure_custom_fields(_netbox_client(args))
        for line in done:
            print(line)
        print(f"custom fields: {len(done)} change(s)" if done else "custom fields: all present")
        return Exit.OK
    raise InputError.one(CLI_FILE, "netbox", "give an action: import, export or fields (see 'rackplan netbox --help')")


def _netbox_import(args: argparse.Namespace) -> int:
    from planner.netbox.importer import import_site, map_path
    from planner.results.outputs import write_atomic

    out = Path(args.out or f"{args.site}.yaml")
    if args.default_air_kw is not None and not 0 < args.default_air_kw <= 500:
        raise InputError.one(CLI_FILE, "--default-air-kw", f"must be within 0..500 kW, got {args.default_air_kw:g}")
    client = _netbox_client(args)
    warnings: list[str] = []
    try:
        result = import_site(client, args.site, default_air_kw=args.default_air_kw, out_name=str(out),
                             warnings=warnings)
    finally:  # before the errors, when it fails: a warning often says why
        for w in warnings:
            _err(f"rackplan: warning: {w}")
    sidecar = map_path(out)
    text = result.yaml_text()
    write_atomic(out, text)
    write_atomic(sidecar, result.map_text(out, text))
    fac = result.facility
    racks = sum(r["racks"] for h in fac["halls"] for r in h["rows"])
    print(f"wrote {out} ({len(fac['halls'])} hall(s), {sum(len(h['rows']) for h in fac['halls'])} row(s), {racks} "
          f"racks, {len({e['rack'] for e in fac.get('existing', [])})} with existing load, "
          f"{len(fac['rack_types'])} rack type(s)"
          f"{', power section' if 'power' in fac else ''}; {len(result.warnings)} warning(s)) and {sidecar}")
    return Exit.OK


def _netbox_export(args: argparse.Namespace) -> int:
    from planner.netbox import exporter

    plan = _read_json(args.plan)
    job = exporter.ExportJob.from_args(args, plan)
    for w in job.warnings:
        _err(f"rackplan: warning: {w}")
    if args.csv:
        paths = exporter.write_csv(job, args.csv)
        print(f"wrote {len(paths)} NetBox bulk-import file(s) to {args.csv}: " + ", ".join(p.name for p in paths))
        return Exit.OK
    client = _netbox_client(args)
    changes = exporter.prepare(client, job)
    if args.dry_run:
        for line in changes.lines():
            print(line)
        print(changes.summary(dry_run=True))
        return Exit.OK
    exporter.apply(client, changes)  # all or nothing: what it did is said once it is done
    if not args.quiet:
        for line in changes.lines():
            print(line)
    print(changes.summary(dry_run=False))
    return Exit.OK


COMMANDS = {"validate": cmd_validate, "specs": cmd_specs, "schema": cmd_schema, "plan": cmd_plan,
            "compare": cmd_compare, "sweep": cmd_sweep, "report": cmd_report, "check": cmd_check,
            "netbox": cmd_netbox}


# --- rackplan phases ------------------------------------------------------------------------------

PHASES_EXAMPLES = [
    "rackplan phases facilities/ai-hall.yaml --waves examples/waves-ai-hall.yaml",
    "rackplan phases facilities/ai-hall.yaml --wave 2027-01:gpus=512:b200-8x-dlc,b200-8x-air "
    "--wave 2027-06:gpus=512:mi400-8x --value-per-gpu-hour 8",
    "rackplan phases facilities/ai-hall.yaml --wave 2027-01:b200-8x-dlc=64 --wave 2027-06:mi400-8x=64:retire=2030-06",
    "rackplan phases facilities/ai-hall.yaml --waves examples/waves-ai-hall.yaml --no-sensitivity -o phases",
]

PHASES_HELP = """\
Buy now or wait: plan a deployment in waves over time. Each wave has a date, a demand (exact nodes, or
a target among candidates) and optionally a retirement; a wave may only use nodes available by its
date (the spec library's available_from). The waves as given are planned together, in one integer
program over every wave (least discounted cost to the horizon; a rack is filled in one wave, so nodes
never move), beside the wave-by-wave baseline (each wave planned when it comes), and compared with
buying everything now and with waiting for the nodes that ship later: discounted TCO, the cost of
delay (GPU-hours not delivered on time x --value-per-gpu-hour), GPU-hours delivered by date, and
stranded power and cooling per wave. Then it re-plans across the later nodes' projected range
(availability, power, price) and says where waiting pays off. Every wave's installed state is
re-checked by the independent checker. Writes DIR/phases.json, DIR/phases.html, DIR/waves/NN-NAME.csv
and DIR/plans/NN-NAME.json (each wave's checked plan).

waves (exactly one):
  --waves FILE                       a waves file (examples/waves-ai-hall.yaml)
  --wave DATE:gpus=N:ID[,ID...]      a wave: a target among candidates (also fp8_pflops=, hbm_tb=)
  --wave DATE:ID=N[,ID=N...]         a wave of exact nodes; add :retire=YYYY-MM or :name=NAME
"""


def _add_phases_parser(sub) -> None:
    from planner.vocabulary import POINTS

    p = sub.add_parser("phases", help="buy now or wait: plan waves over time and compare strategies",
                       formatter_class=_Formatter, description=PHASES_HELP,
                       epilog="examples:\n" + "\n".join(f"  {line}" for line in PHASES_EXAMPLES))
    p.add_argument("facility", metavar="FACILITY")
    p.add_argument("--waves", metavar="FILE", help="waves file")
    p.add_argument("--wave", action="append", metavar="DATE:WHAT", default=None,
                   help="one wave (repeat for each): DATE:gpus=N:ID[,ID...] or DATE:ID=N[,ID=N...]")
    p.add_argument("--today", metavar="YYYY-MM", help="month costs are discounted to (default: the first wave's)")
    p.add_argument("--horizon", metavar="YYYY-MM", help="month costs and GPU-hours are counted to "
                                                        "(default: five years after the first wave)")
    p.add_argument("--discount-rate", type=float, metavar="RATE", help="a year, e.g. 0.08 (default 0.08)")
    p.add_argument("--value-per-gpu-hour", type=float, metavar="USD",
                   help="what a GPU-hour not delivered on time is worth: the cost of waiting (default: not priced)")
    p.add_argument("--years", type=float, metavar="N", help="years a purchase price is recovered over (default 4)")
    p.add_argument("--basis", choices=("auto", "rent", "buy"),
                   help="node price as rent (12 x a month) or purchase over --years (default auto: rent where known)")
    p.add_argument("--no-sensitivity", action="store_true", help="skip the re-plans across the projected range")
    p.add_argument("--point", choices=POINTS, default="nominal", help="spec point for projected figures (default nominal)")
    p.add_argument("-o", "--out", metavar="DIR", default="rackplan-phases",
                   help="output directory (default rackplan-phases)")
    _add_solver(p)
    _add_specs(p)
    _add_common(p)


def _usd_m(x: Any) -> str:
    """``$190.7M``: USD in millions (thousands below one million) for the terminal."""
    if x is None:
        return "–"
    x = float(x)
    if abs(x) < 0.5:
        return "$0"
    if abs(x) >= 1e9:
        return f"${x / 1e9:,.2f}B"
    return f"${x / 1e6:,.1f}M" if abs(x) >= 1e6 else f"${x / 1e3:,.0f}k"


def _phases_summary(doc: dict[str, Any]) -> list[str]:
    """The strategies side by side, what planning ahead saves, and the sensitivity findings."""
    inputs = doc["inputs"]
    value = inputs.get("value_per_gpu_hour_usd")
    lines = [f"phases: {_n(len(inputs['waves']), 'wave')} from {inputs['waves'][0]['date']}, horizon {inputs['horizon']}, "
             f"discounted to {inputs['today']} at {inputs['discount_rate']:.1%} a year; "
             + (f"a GPU-hour not delivered costs ${value:,.2f}" if value is not None else "delay not priced")]
    last = doc["checkpoints"][-1] if doc["checkpoints"] else inputs["horizon"]
    width = max(len(s["label"]) for s in doc["strategies"]) + 2
    lines.append(f"  {'strategy':<{width}}{'TCO (PV)':>11}{'delay':>11}{'total':>11}{'GPU-h to ' + last:>20}  check")
    for s in doc["strategies"]:
        if s["status"] != "ok":
            lines.append(f"  {s['label']:<{width}}no plan: {s.get('message') or ''}")
            continue
        check = "passed" if all(w["check"]["passed"] for w in s["waves"]) else "FAILED"
        best = "  <- best" if s["key"] == doc["best"]["key"] else ""
        gh = (s.get("gpu_hours_by") or {}).get(last)
        lines.append(f"  {s['label']:<{width}}{_usd_m(s['pv_usd']):>11}{_usd_m(s.get('delay_usd')):>11}"
                     f"{_usd_m(s.get('total_usd')):>11}"
                     f"{(f'{gh / 1e6:,.2f}M' if gh is not None else '–'):>20}  {check}{best}"
                     + (f" ({s['message']})" if s.get("message") else ""))
    ahead = doc["planning_ahead"]
    if ahead.get("stopped"):
        lines.append(f"  planning ahead: wave by wave, {ahead['stopped']}")
    elif ahead.get("saves_usd") is not None:
        lines.append(f"  planning ahead saves {_usd_m(ahead['saves_usd'])} against wave by wave"
                     if ahead["saves_usd"] > 0.5 else "  planning ahead: the same cost as wave by wave here")
    for f in (doc.get("sensitivity") or {}).get("findings") or []:
        lines.append(f"  - {f}")
    return lines


def cmd_phases(args: argparse.Namespace) -> int:
    from planner.inputs.facility import load_facility
    from planner.inputs.specs import resolve
    from planner.inputs.waves import from_flags, load_waves, with_settings

    opts = _solver_opts(args)
    loaded = load_facility(args.facility)
    cat = _catalogue(args)
    settings = {"today": args.today, "horizon": args.horizon, "discount_rate": args.discount_rate,
                "value_per_gpu_hour_usd": args.value_per_gpu_hour, "years": args.years, "basis": args.basis}
    if args.waves and args.wave:
        raise InputError.one(CLI_FILE, "--wave", "give --waves FILE or --wave flags, not both")
    if args.waves:
        spec = with_settings(load_waves(args.waves, cat), **settings)
    elif args.wave:
        spec = from_flags(args.wave, cat, **settings)
    else:
        raise InputError.one(CLI_FILE, "", "no waves: give --waves FILE or --wave DATE:gpus=N:ID[,ID...] (one per wave)")
    tdp = _tdp(args, cat, {})
    spec.check({i: resolve(cat, i, args.point, tdp) for i in spec.node_ids})  # before any solve: exit 2 at once
    from planner.optimize.solvers import available
    from planner.results.outputs import check_out_dir

    if not available(opts["solver"]):
        raise InputError.one(CLI_FILE, "--solver", f"solver '{opts['solver']}' is not available")
    check_out_dir(args.out)
    from planner.studies.phases import run_phases, write_phases

    progress = _progress(args.quiet)
    if progress:
        _err(f"rackplan: '{loaded.facility.name}' ({_n(len(loaded.facility.racks), 'rack')}); "
             f"{_n(len(spec.waves), 'wave')}: " + "; ".join(f"{w.name} {w.date} {w.demand.describe()}" for w in spec.waves))
    try:
        result = run_phases(loaded, cat, spec, point=args.point, tdp=tdp, solver=opts["solver"],
                            time_limit=opts["time_limit"], gap=opts["gap"], progress=progress,
                            sweep=not args.no_sensitivity, spec_files=args.specs)
    except NoPlanError as exc:
        if exc.demand is None:
            raise
        # the first wave that does not fit: what plan says of it, and the most that does fit
        return _no_plan(exc, loaded, cat, exc.demand, args, tdp, opts, progress)
    paths = write_phases(result, args.out, loaded)
    if not args.quiet:
        for line in _phases_summary(result.doc):
            _err(line)
    files = [p for p in paths if p.suffix in (".json", ".html") and p.parent == Path(args.out)]
    print("wrote " + ", ".join(str(p) for p in files)
          + f" and {_n(len(result.csvs), 'wave')} in {Path(args.out) / 'waves'} and {Path(args.out) / 'plans'}")
    return 0


COMMANDS["phases"] = cmd_phases


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named against the command it was given to, whose --help lists what that takes
        words = list(sys.argv[1:] if argv is None else argv)
        chain = [c for c in (args.command, getattr(args, "netbox_command", None)) if c]
        at = words.index(extra[0]) if extra[0] in words else len(words)
        prog = " ".join(["rackplan"] + [c for c in chain if c in words[:at]])
        sys.stderr.write(_usage_line(prog, f"unrecognized arguments: {' '.join(extra)}"))
        return Exit.BAD_INPUT
    if args.command is None:
        parser.print_help()
        return Exit.BAD_INPUT
    debug = getattr(args, "debug", False)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        for problem in exc.problems:
            _err(f"rackplan: {problem}")
        return Exit.BAD_INPUT
    except NoPlanError as exc:
        _err(f"rackplan: {exc}")
        for line in exc.shortfalls[1:]:
            _err(f"  also: {line}")
        return Exit.NO_PLAN
    except PlanCheckError as exc:
        if debug:
            raise
        _err(f"rackplan: internal error: {exc}. This is a bug; please report it with the input files.")
        return Exit.INTERNAL
    except KeyboardInterrupt:
        _err("rackplan: interrupted; no output was written")
        return Exit.INTERRUPTED
    except BrokenPipeError:
        # the reader went away (rackplan specs | head): not an error of ours; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return Exit.BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - user errors are not bugs, but bugs must not print tracebacks
        if debug:
            raise
        _err(f"rackplan: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return Exit.INTERNAL


QUICK_EXIT = ("plan", "check", "report", "validate", "schema", "specs")
"""Commands after which the process ends as soon as its output is flushed (:func:`console`)."""


def console(argv: list[str] | None = None) -> None:
    """The ``rackplan`` command: :func:`main`, then the process exits. After one of :data:`QUICK_EXIT`
    that left nothing running (no Ray, no worker processes, no other thread), it ends at once, once
    stdout and stderr are flushed, instead of freeing every object first: tearing down a campus plan
    (16 MB of plan document, the model, the rack tables) took 0.2-0.3 s of a 2 s budget. Every file
    is written and closed before :func:`main` returns (``atomic_outputs``)."""
    argv = sys.argv[1:] if argv is None else argv
    code = int(main(argv))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away: nothing more to say
        pass
    import threading

    alone = threading.active_count() == 1 and "ray" not in sys.modules and not (
        "multiprocessing" in sys.modules and sys.modules["multiprocessing"].active_children())
    command = next((a for a in argv if not a.startswith("-")), None)
    if alone and command in QUICK_EXIT:
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console()
