"""The counts per node type ``n[t] = sum_k w[t, k]`` (docs/formulation.md, "Counts per node type"): a
reformulation that removes no integer point. A hand-computed case where the LP splits a node and the
count decides the plan, and random small instances on a power tree solved with and without the counts
(HiGHS and CBC, gap 0): the optima are equal. The same for the counts per hall (``n_hall``, ``r_hall``)."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pulp
import pytest

from planner.inputs.demand import Demand
from planner.optimize.classes import build_problem_data
from planner.optimize.milp import build_problem, hall_classes
from planner.optimize.placement import optimize
from planner.optimize.solvers import solve
from tests.helpers import loaded, node

CHEAP = node("cheap", gpus=8, u=2, max_kw=13.0, weight_kg=20.0, annual_cost_usd=1_000.0)
DEAR = node("dear", gpus=8, u=2, max_kw=9.0, weight_kg=20.0, annual_cost_usd=100_000.0)


def tree(kw: float, racks: int = 2, feed_kw: float = 200.0, rows: int = 2, halls: int = 1):
    """Two UPS of ``kw`` each and ``rows`` 2N rows of ``racks`` air racks in each of ``halls`` halls, each
    row on a panel of each (so each row is a class of its own): after either UPS is lost the other
    carries every rack's whole load."""
    rack = {"u": 42, "cooling": "air", "air_kw": 400, "feed": {"kw": feed_kw}, "max_weight_kg": 2000,
            "annual_cost_usd": 1000}
    names = [[f"{chr(65 + i)}{h or ''}" for i in range(rows)] for h in range(halls)]
    panels = {f"P{r}{s}": {"source": f"U{s}", "kw": 10_000} for hall in names for r in hall for s in (1, 2)}
    return loaded(rack_types={"r": rack},
                  power={"sources": {"U1": {"kw": kw}, "U2": {"kw": kw}}, "panels": panels},
                  halls=[{"name": f"h{h + 1}", "cooling_units": {"count": 2, "unit_kw": 10_000, "redundant": 1},
                          "rows": [{"name": r, "rack_type": "r", "racks": racks, "panels": [f"P{r}1", f"P{r}2"]}
                                   for r in names[h]]} for h in range(halls)])


def test_the_count_of_the_cheap_node_is_whole():
    """64 GPUs = 8 nodes of 8 GPUs; after a UPS is lost the other carries all, 102 kW. The cheap node
    (13 kW) saves 99,000 USD a year over the dear one (9 kW), so the plan takes as many as fit:
    13 a + 9 (8 - a) <= 102 gives a <= 7.5. The LP takes 7.5 of them; a plan takes 7 and 1 dear node
    (100 kW). The node is split over two rows (two classes), so no bound of one class says so."""
    lf = tree(102.0)
    demand = Demand("target", metric="gpus", amount=64.0, candidates=("cheap", "dear"))
    data = build_problem_data(lf.facility, [CHEAP, DEAR], mix_varies=True, demand=demand)
    m = build_problem(data, demand)
    assert set(m.n) == {0, 1}
    for v in m.prob.variables():  # the LP relaxation
        v.cat = pulp.LpContinuous
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the bundled CBC (pulp < 4), as solvers.py
        m.prob.solve(pulp.PULP_CBC_CMD(msg=False))
    assert m.n[0].value() == pytest.approx(7.5) and m.n[1].value() == pytest.approx(0.5)
    for solver in ("highs", "cbc"):
        placement = optimize(lf.facility, [CHEAP, DEAR], demand, solver=solver, gap_rel=0.0)
        assert placement.counts.sum(axis=0).tolist() == [7, 1]
        assert placement.status == "optimal"


def test_counts_per_hall_leave_the_lp_unchanged():
    """Two halls of two rows each on the same two UPS: per hall, a count of each node type and of racks
    in use, each the sum of its classes'; the LP relaxation's optimum is the same with and without them
    (they add no restriction), and a warm start sets them to the sums of the plan's counts."""
    lf = tree(131.0, halls=2)
    demand = Demand("target", metric="gpus", amount=88.0, candidates=("cheap", "dear"))
    data = build_problem_data(lf.facility, [CHEAP, DEAR], mix_varies=True, demand=demand)
    assert hall_classes(data) == {"h1": [0, 1], "h2": [2, 3]}
    lp = {}
    for counts in (True, False):
        m = build_problem(data, demand, type_counts=counts)
        assert (set(m.n_hall), set(m.r_hall)) == (({(0, "h1"), (1, "h1"), (0, "h2"), (1, "h2")}, {"h1", "h2"})
                                                  if counts else (set(), set()))
        for v in m.prob.variables():
            v.cat = pulp.LpContinuous
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            m.prob.solve(pulp.PULP_CBC_CMD(msg=False))
        lp[counts] = _objective(m)
    assert lp[True] == pytest.approx(lp[False], rel=1e-9)
    m = build_problem(data, demand)
    w0 = np.array([[1, 2, 3, 0], [0, 0, 1, 4]])
    m.set_start({(0, 0): 1, (1, 0): 1, (2, 0): 2, (3, 0): 1}, w0)
    assert [m.n_hall[t, h].varValue for t, h in [(0, "h1"), (1, "h1"), (0, "h2"), (1, "h2")]] == [3, 0, 3, 5]
    assert (m.r_hall["h1"].varValue, m.r_hall["h2"].varValue) == (2, 3)


def test_no_counts_where_the_mix_is_fixed():
    """Exact node counts and fill fix every count: no ``n`` is added."""
    lf = tree(102.0)
    demand = Demand("nodes", nodes={"cheap": 3, "dear": 2})
    data = build_problem_data(lf.facility, [CHEAP, DEAR], mix_varies=False, demand=demand)
    assert build_problem(data, demand).n == {}


def _objective(m) -> float:
    return float(pulp.value(m.prob.objective) or 0.0)


@pytest.mark.parametrize("seed", range(12))
def test_the_counts_leave_the_optimum_unchanged(seed):
    """Random small trees, node pairs and targets: the optimum with the counts equals the optimum
    without them (HiGHS, and CBC for every third instance, both to gap 0)."""
    rnd = random.Random(seed)
    shape = {"kw": rnd.choice([60.0, 85.5, 102.0, 131.0]), "racks": rnd.randint(1, 3),
             "feed_kw": rnd.choice([40.0, 75.0]), "rows": rnd.randint(1, 3)}
    a = node("a", gpus=rnd.choice([4, 8]), u=rnd.choice([1, 2, 4]), max_kw=rnd.choice([6.5, 10.2, 13.0]),
             weight_kg=20.0, annual_cost_usd=float(rnd.randint(0, 50_000)))
    b = node("b", gpus=8, u=rnd.choice([2, 4]), max_kw=rnd.choice([7.1, 9.0, 12.0]), weight_kg=20.0,
             annual_cost_usd=float(rnd.randint(0, 50_000)))
    demand = Demand("target", metric="gpus", amount=float(rnd.randint(8, 60)), candidates=("a", "b"))
    lf = tree(**shape, halls=rnd.choice([1, 2]))
    data = build_problem_data(lf.facility, [a, b], mix_varies=True, demand=demand)
    solvers = ["highs", "cbc"] if seed % 3 == 0 else ["highs"]
    for solver in solvers:
        got = {}
        for counts in (True, False):
            m = build_problem(data, demand, type_counts=counts)
            assert bool(m.n) == counts
            out = solve(m, solver, time_limit=60, gap_rel=0.0)
            got[counts] = (out.status, _objective(m) if out.has_solution else None)
            if out.has_solution and counts:
                _z, w = m.values()
                assert [round(v.value()) for v in m.n.values()] == w.sum(axis=1).tolist()
                in_hall = hall_classes(data)
                for (t, hall), v in m.n_hall.items():
                    assert round(v.value()) == w[t, in_hall[hall]].sum()
                for hall, v in m.r_hall.items():
                    assert round(v.value()) == sum(round(m.r[k].value()) for k in in_hall[hall])
        assert got[True][0] == got[False][0]
        if got[True][1] is not None:
            assert got[True][1] == pytest.approx(got[False][1], rel=1e-6, abs=1e-6)


def test_branch_and_bound_starts_again_without_presolve_and_finishes(monkeypatch):
    """The presolved first run cut to one node, which does not prove the plan: branch and bound starts
    again without presolve, from the plan found, with the node limit lifted, and proves it.
    2,404 GPUs (90 % of what fits) from mi300x-8x and h100-8x, priced, in ai-building.yaml, where
    the counts per type decide the last node (docs/formulation.md, section 7a)."""
    from pathlib import Path

    import highspy

    from planner.api import resolve_types
    from planner.inputs.facility import load_facility
    from planner.inputs.specs import load_library
    from planner.optimize import solvers
    from planner.studies.tco import plan_prices

    monkeypatch.setattr(solvers, "PRESOLVED_FIRST_NODES", 1)
    monkeypatch.setattr(solvers, "PRESOLVED_FIRST_MIN_COLUMNS", 0)  # this small model takes the first run too
    runs = []
    run = highspy.Highs.run

    def counted(h):
        out = run(h)
        runs.append((h.getOptionValue("presolve")[1], h.getOptionValue("mip_max_nodes")[1], h.getModelStatus()))
        return out

    monkeypatch.setattr(highspy.Highs, "run", counted)
    lf = load_facility(Path(__file__).resolve().parents[1] / "facilities" / "ai-building.yaml")
    demand = Demand("target", metric="gpus", amount=2_404, candidates=("mi300x-8x", "h100-8x"))
    cat, _prices = plan_prices(load_library(), demand)
    placement = optimize(lf.facility, resolve_types(cat, demand), demand, solver="highs", time_limit=60)
    assert placement.status == "optimal" and placement.outcome.status == "optimal"
    assert runs[-2:] == [("choose", 1, highspy.HighsModelStatus.kSolutionLimit),
                         ("off", solvers.MAX_NODES, highspy.HighsModelStatus.kOptimal)]


def test_a_highs_solve_elsewhere_in_the_process_does_not_stop_ours():
    """A plain pulp.HiGHS solve starts HiGHS's thread scheduler with its default threads; rackplan's runs
    (threads=1) then failed at once and the plan fell back to first fit. They must still prove it."""
    p = pulp.LpProblem("other", pulp.LpMinimize)
    x = p.add_variable("x", lowBound=0, upBound=10, cat=pulp.LpInteger)
    p += x
    p += x >= 2.5
    p.solve(pulp.HiGHS(msg=False))
    assert x.value() == 3
    lf = tree(102.0)
    demand = Demand("target", metric="gpus", amount=64.0, candidates=("cheap", "dear"))
    placement = optimize(lf.facility, [CHEAP, DEAR], demand, solver="highs", gap_rel=0.0)
    assert placement.outcome.status == "optimal" and placement.status == "optimal"
    assert placement.counts.sum(axis=0).tolist() == [7, 1]
