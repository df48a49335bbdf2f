"""The planner as a library: load, optimize, check, and write, in the order the CLI does it.

Override order (as in SQLFluff's config loader): packaged defaults -> facility file -> demand file ->
command-line flags. Flags default to ``None`` so only what the user typed overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from planner.errors import InputError, PlanCheckError
from planner.inputs.demand import Demand, check_controls
from planner.inputs.facility import LoadedFacility
from planner.inputs.specs import Catalogue, NodeType, resolve
from planner.optimize.placement import Placement, optimize
from planner.optimize.solvers import Progress, available
from planner.results.checker import CheckReport, check_plan
from planner.results.plan_json import build_plan, power_csv, rack_figures, racks_csv
from planner.vocabulary import CLI_FILE, DEFAULT_GAP, DEFAULT_SOLVER, DEFAULT_TIME_LIMIT_S, Point


@dataclass
class PlanRun:
    """A plan, what produced it, and its independent check (``None`` until it ran: ``run_plan(...,
    check=False)``; :func:`plan_and_write` runs it)."""

    loaded: LoadedFacility
    types: list[NodeType]
    demand: Demand
    placement: Placement
    plan: dict[str, Any]
    check: CheckReport | None
    figures: Any = None
    """The per-rack figures (:func:`~planner.results.plan_json.rack_figures`) the plan was built from."""


def resolve_types(cat: Catalogue, demand: Demand, point: Point = "nominal",
                  tdp_w: dict[str, float] | None = None) -> list[NodeType]:
    """The node types a demand uses, resolved at a spec point with TDP what-ifs."""
    return [resolve(cat, nid, point, tdp_w) for nid in demand.node_ids]


def run_plan(loaded: LoadedFacility, cat: Catalogue, demand: Demand, *, point: Point = "nominal",
             tdp_w: dict[str, float] | None = None, solver: str = DEFAULT_SOLVER,
             time_limit: float | None = DEFAULT_TIME_LIMIT_S, gap: float = DEFAULT_GAP,
             progress: Progress | None = None, spec_files: list[str] | None = None,
             prices: dict[str, Any] | None = None, check: bool = True) -> PlanRun:
    """Optimize, build ``plan.json``, and check it independently (unless ``check`` is false: then
    :func:`attach_check` must follow before anything is written). ``prices`` is the record of the node
    prices ``cat`` carries (``plan.json``'s ``prices``): both come from
    :func:`planner.studies.tco.plan_prices`, as ``rackplan plan`` prices; without them no node is priced. Raises
    :class:`~planner.errors.NoPlanError` when nothing fits and
    :class:`~planner.errors.PlanCheckError` if the plan breaks a limit (a bug)."""
    if not available(solver):
        hint = " (pip install 'rackplan[highs]')" if solver == "highs" else ""
        raise InputError.one(CLI_FILE, "--solver", f"solver '{solver}' is not available{hint}")
    check_controls(demand, loaded.facility)
    types = resolve_types(cat, demand, point, tdp_w)
    placement = optimize(loaded.facility, types, demand, solver=solver, time_limit=time_limit, gap_rel=gap,
                         progress=progress)
    options = {"time_limit_s": time_limit, "gap_tolerance": gap, "point": point,
               "tdp_overrides_w": dict(tdp_w or {}), "spec_files": list(spec_files or [])}
    if placement.striping:  # rows with panels: auto now have their chosen lineups and panels
        loaded = LoadedFacility(loaded.facility.with_striping(placement.striping), loaded.path, loaded.sha256)
    figures = rack_figures(loaded.facility, types, placement.counts)
    plan = build_plan(loaded, cat, types, demand, placement, options, figures)
    if prices is not None:
        plan["prices"] = prices
    run = PlanRun(loaded, types, demand, placement, plan, None, figures)
    if check:
        attach_check(run, check_plan(loaded.facility, plan, cat))
    return run


def attach_check(run: PlanRun, report: CheckReport) -> None:
    """Record the checker's report in the run and its ``plan.json``; a plan that fails raises
    :class:`~planner.errors.PlanCheckError` (the optimizer broke a limit: a bug), so it is never written."""
    if not report.passed:
        raise PlanCheckError(report.violations)
    run.plan["checks"] = report.to_json()
    run.check = report


def striped_facility_yaml(run: PlanRun) -> str:
    """The facility with the striping the plan chose written in: every ``panels: auto`` row now names
    the panels rackplan added on its chosen lineups. It validates and plans like any facility file."""
    import yaml

    head = (f"# {run.loaded.path} with the striping rackplan chose for its 'panels: auto' rows\n"
            f"# (plan made {run.plan.get('made_at', '')}); each such row now names the panels added on its lineups:\n")
    head += "".join(f"#   {s['row']}: {', '.join(s['sources'])}\n" for s in run.plan.get("striping", []))
    body = yaml.safe_dump(run.loaded.facility.model_dump(mode="json", exclude_none=True), sort_keys=False,
                          allow_unicode=True, width=110)
    return head + body


def plan_and_write(loaded: LoadedFacility, cat: Catalogue, demand: Demand, out_dir: str | Path, *,
                   xlsx: bool = True, **options: Any) -> tuple[PlanRun, list[Path]]:
    """:func:`run_plan` then :func:`write_plan`, with the independent check of a large plan running in a
    second process (:class:`~planner.results.check_process.CheckInBackground`) while this one prepares
    the report and the CSV files. The same files, the same check; nothing is written before the check
    has passed. ``options``: :func:`run_plan`'s keywords."""
    from planner.report.views import prepare_template, unchecked_plan_view, with_checks
    from planner.results.check_process import CheckInBackground

    run = run_plan(loaded, cat, demand, check=False, **options)
    pending = CheckInBackground(run.loaded.facility, run.plan, cat)
    try:
        view = unchecked_plan_view(run.plan)
        texts = _csv_texts(run)
        prepare_template("plan.html.j2")
    except BaseException:
        pending.close()
        raise
    attach_check(run, pending.result())
    return run, write_plan(run, out_dir, xlsx=xlsx, view=with_checks(view, run.plan["checks"]), texts=texts)


def _csv_texts(run: PlanRun) -> dict[str, str]:
    texts = {"racks.csv": racks_csv(run.loaded.facility, run.types, run.placement.counts, run.figures)}
    power = power_csv(run.plan)
    if power is not None:
        texts["power.csv"] = power
    return texts


PLAN_FILES = ("plan.json", "racks.csv", "racks.xlsx", "power.csv", "facility.striped.yaml", "report.html")
"""Every file ``rackplan plan`` may write into its output directory. Where an earlier plan is (its
``plan.json``), one of these a run does not write is removed, so the directory holds one plan's files
only; in a directory without a plan, files of these names are the user's and stay."""


def write_plan(run: PlanRun, out_dir: str | Path, xlsx: bool = True, *, view: dict[str, Any] | None = None,
               texts: dict[str, str] | None = None) -> list[Path]:
    """Write ``plan.json``, ``racks.csv``, ``racks.xlsx`` (unless ``xlsx`` is false), ``power.csv``
    (with a power tree) and ``report.html`` into ``out_dir``, all or nothing. ``view`` and ``texts``:
    the report's view and the CSV files, when :func:`plan_and_write` prepared them already."""
    from planner.report.views import render_plan
    from planner.results.excel import racks_xlsx
    from planner.results.outputs import atomic_outputs

    if run.check is None or "checks" not in run.plan:
        raise ValueError("write_plan: the plan has not been checked (run_plan(..., check=False) needs attach_check)")
    html = render_plan(run.plan, view)
    texts = texts if texts is not None else _csv_texts(run)
    power = texts.get("power.csv")
    workbook = racks_xlsx(run.plan) if xlsx else None
    with atomic_outputs(out_dir) as out:
        paths = [out.write_json("plan.json", run.plan), out.write_text("racks.csv", texts["racks.csv"])]
        if workbook is not None:
            paths.append(out.write_bytes("racks.xlsx", workbook))
        if power is not None:
            paths.append(out.write_text("power.csv", power))
        if run.placement.striping:
            paths.append(out.write_text("facility.striped.yaml", striped_facility_yaml(run)))
        paths.append(out.write_text("report.html", html))
        if (out.directory / "plan.json").is_file():  # an earlier plan's files, not files of the user's own
            for name in PLAN_FILES:
                if out.directory / name not in paths:
                    out.retire(name)
    return paths


MOST_THAT_FITS_S = 30.0
"""Most seconds spent on each node type when asking how many fit after a demand did not."""


def most_that_fits(loaded: LoadedFacility, cat: Catalogue, demand: Demand, *, point: Point = "nominal",
                   tdp_w: dict[str, float] | None = None, solver: str = DEFAULT_SOLVER,
                   time_limit: float | None = MOST_THAT_FITS_S) -> list[str]:
    """After a ``nodes`` or ``target`` demand found no plan: for each of its node types alone, the most
    that fit (a ``fill`` plan with the same optimizer) and the limit that stops more, one line each,
    e.g. ``at most 37 b200-8x-air fit (296 GPUs); binding: rack power (feeds)``. A ``fill`` demand
    that found no plan fits none. A count the time limit stopped before it was proven says so."""
    from planner.errors import NoPlanError
    from planner.inputs.demand import METRIC_LABEL

    if demand.kind == "fill":
        return [f"at most 0 {demand.fill} fit"]
    lines = []
    for nid in demand.node_ids:
        try:
            fill = replace(demand, kind="fill", fill=nid, nodes={}, metric=None, amount=0.0, candidates=())
            run = run_plan(loaded, cat, fill, point=point, tdp_w=tdp_w, solver=solver, time_limit=time_limit)
        except NoPlanError:
            lines.append(f"at most 0 {nid} fit{' on their own' if len(demand.node_ids) > 1 else ''}")
            continue
        plan = run.plan
        totals = plan["totals"]
        count = int(totals["nodes"].get(nid, 0))
        bound = plan["solver"].get("fill_bound")
        amount = f"{totals['gpus']:,} GPUs"
        if demand.kind == "target" and demand.metric != "gpus":
            fmt = f"{float(totals[demand.metric]):,.1f}"
            amount = f"{fmt} {METRIC_LABEL[demand.metric]}"  # type: ignore[index]
        binding = plan.get("binding") or {}
        where = binding.get("halls_full") or (binding.get("rows_full") if binding.get("limit") == "row" else None)
        label = (binding.get("label") or "") + (f" ({', '.join(where[:4])}{', ...' if len(where) > 4 else ''})"
                                                if where else "")
        alone = " on their own" if len(demand.node_ids) > 1 else ""
        head = (f"at most {count:,} {nid} fit{alone}" if bound is None or bound <= count
                else f"at least {count:,} and at most {int(bound):,} {nid} fit{alone} (the time limit stopped the count)")
        lines.append(f"{head} ({amount}){'; binding: ' + label if label else ''}")
    return lines
