"""From a facility, node types and a demand to a rack-by-rack placement, with its status and gap.

The pipeline: problem data (classes and patterns) -> first-fit baseline (also the warm start) ->
the integer program -> the solution read back, any surplus trimmed, and racks filled class by class.
Fill runs two phases: the most nodes, then the least cost at that count.
"""

from __future__ import annotations

import dataclasses

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.inputs.demand import Demand
from planner.errors import InputError, NoPlanError
from planner.inputs.facility import Facility
from planner.optimize.first_fit import first_fit, meets
from planner.optimize.milp import Model, build_problem, start_from_counts
from planner.optimize.classes import ProblemData, TooManyPatterns, build_problem_data
from planner.optimize.solvers import Progress, SolveOutcome, relative_gap, solve
from planner.inputs.specs import NodeType
from planner.vocabulary import DEFAULT_GAP, DEFAULT_SOLVER, DEFAULT_TIME_LIMIT_S


@dataclass
class Placement:
    """The result of optimizing: counts per rack and node type, and how they were found."""

    data: ProblemData
    counts: np.ndarray
    """(R x T) nodes of each type in each rack, rows in the facility's rack order."""
    greedy: np.ndarray
    """(R x T) the first-fit baseline (may fall short of the demand)."""
    outcome: SolveOutcome
    """The final solver run (fill: the cost phase)."""
    variable_usd: float
    """The plan's annual cost that the placement controls (what the solver minimized) [USD]."""
    bound_usd: float | None
    """The solver's best bound on that cost [USD]."""
    gap: float
    """``(variable_usd - bound_usd) / variable_usd``; 0 when proven optimal."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per stage: ``data``, ``greedy``, ``build``, ``solve``."""
    fill_bound: int | None = None
    """Fill only: an upper bound on the number of nodes that fit (equal to the count when proven)."""
    status: str = "optimal"
    """``optimal`` when every solver phase finished within its gap tolerance, else ``feasible``."""
    striping: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    """The lineups each ``panels: auto`` row takes."""


def variable_cost(data: ProblemData, counts: np.ndarray) -> float:
    """Annual cost of an (R x T) plan that the solver's objective measures [USD]."""
    cls = data.racks["cls"]
    used = counts.sum(axis=1) > 0
    if not used.any():
        return 0.0
    if (cls[used] < 0).any():
        raise ValueError("a node was placed in a rack where nothing fits")
    per_node = data.node_cost[:, cls[used]].T  # (used racks x T)
    nodes = float((counts[used] * np.nan_to_num(per_node)).sum())
    racks = float(data.racks["rack_cost_usd"].astype(float)[used].sum())
    return nodes + racks


def fixed_nodes(demand: Demand, types: list[Any]) -> dict[str, int] | None:
    """The node counts a demand fixes: exact nodes, or a target with one candidate (the fewest of it
    that reach the target: any plan with more can drop the surplus and still hold every limit, at less
    cost). None when the optimizer chooses the mix."""
    if demand.kind == "nodes":
        return dict(demand.nodes)
    if demand.kind == "target" and len(types) == 1:
        t = types[0]
        per = float(t.gpus) if demand.metric == "gpus" else float(getattr(t, str(demand.metric)))
        return {t.id: int(np.ceil(demand.amount / per - 1e-9))} if per > 0 else None
    return None


def trim_surplus(data: ProblemData, demand: Demand, w: np.ndarray) -> np.ndarray:
    """Drop nodes beyond the counts the demand fixes (:func:`fixed_nodes`), costliest class first (the
    model writes demand as >=, and a fixed set's energy and price are not in its objective)."""
    fixed = fixed_nodes(demand, data.types)
    if fixed is None:
        return w
    w = w.copy()
    for t, ty in enumerate(data.types):
        extra = int(w[t].sum()) - fixed[ty.id]
        for k in np.argsort(-np.nan_to_num(data.node_cost[t], nan=-1.0), kind="stable"):
            if extra <= 0:
                break
            take = min(extra, int(w[t, k]))
            w[t, k] -= take
            extra -= take
    return w


def expand(data: ProblemData, z: dict[tuple[int, int], int], w: np.ndarray) -> np.ndarray:
    """Fill each class's racks, in facility order, from the slots of its chosen patterns."""
    counts = np.zeros((len(data.racks), data.T), dtype=np.int64)
    by_class: dict[int, list[tuple[int, int]]] = {}
    for (kk, p), n in sorted(z.items()):  # each class's chosen patterns, in pattern order
        if n > 0:
            by_class.setdefault(kk, []).append((p, n))
    for k in range(data.K):
        need = w[:, k].copy()
        if need.sum() == 0:
            continue
        pats = data.patterns(k)
        racks = data.class_racks[k]
        at = 0
        for p, n in by_class.get(k, []):
            while n > 0 and need.sum() > 0:  # the next racks take min(pattern, what is still needed) each
                take = np.minimum(pats[p], need)
                some = take > 0  # racks in a row taking just that (all n of them if it takes nothing)
                same = min(n, int((need[some] // take[some]).min())) if some.any() else n
                if at + same > len(racks):
                    raise AssertionError(f"class {k}: its patterns use more racks than it has")
                counts[racks[at:at + same]] = take
                need -= same * take
                at, n = at + same, n - same
        if need.sum() > 0:
            raise AssertionError(f"class {k}: {need.tolist()} nodes left without a slot")
    return counts


def baseline(data: ProblemData, demand: Demand) -> np.ndarray:
    """The first-fit baseline. For a demand kept ``together``, first fit in each hall (or row) alone,
    and the best of them: the one that meets the demand (for fill, the most nodes) at the least cost."""
    if not demand.together:
        return first_fit(data, demand)
    from planner.optimize.milp import together_groups

    group_of = together_groups(data, demand.together)
    cls = data.racks["cls"]
    best, best_key = np.zeros((len(data.racks), data.T), dtype=np.int64), None
    for g in dict.fromkeys(group_of.values()):
        ks = [k for k, gg in group_of.items() if gg == g]
        counts = first_fit(data, demand, allowed=np.isin(cls, ks))
        key = (not meets(data, demand, counts), -int(counts.sum()) if demand.kind == "fill" else 0,
               variable_cost(data, counts))
        if best_key is None or key < best_key:
            best, best_key = counts, key
    return best


def lp_rounding_start(data: ProblemData, m: Model, demand: Demand,
                      fill_count: int | None) -> tuple[dict[tuple[int, int], int], np.ndarray] | None:
    """A whole plan from the LP relaxation's values in ``m``: racks and nodes rounded down class by class
    (so every limit still holds: every limit is monotone), then first fit places what the demand still
    needs. On large facilities the LP bound is tight and this plan is within the gap tolerance of it,
    which proves it without branch and bound; otherwise it starts the MIP. None when first fit cannot
    complete the demand."""
    z = {key: int(np.floor((v.value() or 0.0) + 1e-6)) for key, v in m.z.items()}
    z = {key: n for key, n in z.items() if n > 0}
    w = np.zeros((data.T, data.K), dtype=np.int64)
    slots = np.zeros((data.T, data.K), dtype=np.int64)
    for (k, p), n in z.items():
        slots[:, k] += data.patterns(k)[p] * n
    for (t, k), v in m.w.items():
        w[t, k] = min(int(np.floor((v.value() or 0.0) + 1e-6)), int(slots[t, k]))
    counts = expand(data, z, w)
    want = Demand("nodes", nodes={demand.fill: fill_count}) if demand.kind == "fill" and fill_count else demand  # type: ignore[dict-item]
    counts = first_fit(data, want, start=counts, cheapest_first=True)
    if not meets(data, want, counts):
        return None
    return start_from_counts(data, counts)


def optimize(fac: Facility, types: list[NodeType], demand: Demand, solver: str = DEFAULT_SOLVER,
             time_limit: float | None = DEFAULT_TIME_LIMIT_S, gap_rel: float = DEFAULT_GAP,
             progress: Progress | None = None) -> Placement:
    """Place the demand at least cost. Raises :class:`NoPlanError` when no plan meets it."""
    from planner.optimize.diagnose import diagnose, screen

    clock = time.monotonic()
    seconds: dict[str, float] = {}
    try:
        # the nodes' energy and prices are in the objective only where the mix is chosen; a fixed set's
        # are a constant, kept out so that the gap is measured on what the placement controls
        data = build_problem_data(fac, types, mix_varies=fixed_nodes(demand, types) is None and
                                  demand.kind == "target", demand=demand)
    except TooManyPatterns as exc:
        raise InputError.one("<command line>", "candidates" if demand.kind == "target" else "nodes",
                             f"{len(types)} node types fit one rack in too many ways to enumerate ({exc}); "
                             "plan with fewer node types at once") from None
    seconds["data"] = time.monotonic() - clock
    screen(data, demand)

    clock = time.monotonic()
    greedy = baseline(data, demand)
    seconds["greedy"] = time.monotonic() - clock
    greedy_ok = meets(data, demand, greedy)
    deadline = None if time_limit is None else time.monotonic() + time_limit

    def left() -> float | None:
        return None if deadline is None else max(1.0, deadline - time.monotonic())

    fill_bound = None
    fill_count = None
    start = start_from_counts(data, greedy)
    if demand.kind == "fill":
        clock = time.monotonic()
        m1 = build_problem(data, demand, maximize_count=True)
        m1.set_start(*start)
        seconds["build"] = time.monotonic() - clock
        first = solve(m1, solver, left(), 0.0, progress)
        seconds["solve"] = first.seconds
        # stopped before any solution: first fit's count stands (the cost phase then improves its cost)
        z1, w1 = m1.values() if first.has_solution else start
        fill_count = int(w1.sum())
        if fill_count == 0:
            raise diagnose(data, demand, solver, left())
        fill_bound = int(np.floor(first.bound + 1e-6)) if first.bound is not None else None
        start = (z1, w1)

    clock = time.monotonic()
    m = build_problem(data, demand, fill_count=fill_count)
    if demand.kind == "fill" or greedy_ok:
        m.set_start(*start)
    seconds["build"] = seconds.get("build", 0.0) + time.monotonic() - clock
    outcome = solve(m, solver, left(), gap_rel, progress, warm=demand.kind == "fill" or greedy_ok,
                    start_from_lp=None if demand.together or data.stripes else
                    (lambda: lp_rounding_start(data, m, demand, fill_count)))
    seconds["solve"] = seconds.get("solve", 0.0) + outcome.seconds
    if outcome.status == "infeasible":
        raise diagnose(data, demand, solver, left())
    striping = {(s.hall, s.row): s.choices[s.default] for s in data.stripes}
    if not outcome.has_solution:
        if greedy_ok:
            z, w = start
            outcome = dataclasses.replace(outcome, method="first fit (the solver found no plan in time)")
        else:
            raise NoPlanError("the time limit ran out before any plan was found; "
                              "raise --time-limit (no plan was written)")
    else:
        z, w = m.values()
        striping = m.striping()
    w = trim_surplus(data, demand, w)
    counts = expand(data, z, w)
    # trimming and emptied racks only lower the cost below the solver's value, never the bound
    cost = variable_cost(data, counts)
    bound = outcome.bound
    gap = relative_gap(cost, bound)
    if gap is None:  # no bound is known: claim nothing (a gap of 100 %)
        gap = 1.0
    # the status follows the gap, so the two never contradict each other: optimal means proven within
    # the gap tolerance (and, for fill, the count proven the most that fits)
    proven = gap <= gap_rel + 1e-12 and (demand.kind != "fill" or fill_bound == fill_count)
    return Placement(data, counts, greedy, outcome, cost, bound, gap, seconds, fill_bound,
                     "optimal" if proven else "feasible", striping)
