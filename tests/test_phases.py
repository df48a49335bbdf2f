"""``rackplan phases`` end to end, in process: hand-checked strategy costs on a tiny facility, the
refused wave whose nodes are not yet available (exit 2), waves that do not fit (exit 1, saying which
wave and what runs out), nodes that stay in their racks, every wave checked, same inputs -> same
phases.json, and the report's structure.

The tiny facility (tests/helpers.py): three 42U air racks, 32.78 kW feeds, 35 kW of air, 9,000 USD a
rack-year; electricity 0.08 USD/kWh at a load factor of 0.8; air pPUE 1.45. Two node profiles of our
own (:data:`SPECS`): ``tb200`` (8 x B200, 10 kW, 10U, air, rent 1,000 USD a month, shipping) and
``tmi400`` (8 x MI400, 9-10-11 kW, rent 400-500-600 USD a month, available 2027-02..2027-04..2027-06,
projected). Three of either fit a rack (3 x 10 kW of 32.78 kW; 35 kW of air).

A node-year's energy: 10 kW x 0.8 x 8,760 h x 0.08 = 5,606.40 USD; its air cooling 0.45 x that =
2,522.88; so tb200 costs 12,000 + 8,129.28 = 20,129.28 a year and tmi400 6,000 + 8,129.28 = 14,129.28.
A rack of three: 69,387.84 a year (tb200), 51,387.84 (tmi400)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from planner.cli import main
from planner.errors import NoPlanError
from tests.helpers import facility_dict

SPECS = """\
schema: rackplan.specs/1
sources:
  test-figures: {title: "Figures made up for the tests", kind: user}
nodes:
  tb200:
    name: Test B200 box (10 kW, air)
    vendor: Test
    accelerator: b200
    gpus: 8
    u: 10
    cooling: air
    liquid_fraction: 0
    power: {basis: vendor_max, max_kw: 10}
    weight_kg: 100
    rent_usd_month: 1000
    status: shipping
    confidence: B
  tmi400:
    name: Test MI400 box (projected)
    vendor: Test
    accelerator: mi400
    gpus: 8
    u: 10
    cooling: air
    liquid_fraction: {nominal: 0, status: shipping}
    power: {basis: vendor_max, max_kw: {nominal: 10, low: 9, high: 11}}
    weight_kg: {nominal: 100, status: shipping}
    rent_usd_month: {nominal: 500, low: 400, high: 600}
    available: {nominal: "2027-04", low: "2027-02", high: "2027-06"}
    status: projected
    confidence: C
"""

WAVES = """\
description: B200 now, MI400 three months later
horizon: 2028-01
discount_rate: 0
value_per_gpu_hour_usd: 1
waves:
  - name: now
    date: 2027-01
    target: {gpus: 24}
    candidates: [tb200]
  - name: later
    date: 2027-04
    target: {gpus: 24}
    candidates: [tmi400]
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    fac = tmp_path / "tiny.yaml"
    fac.write_text(yaml.safe_dump(facility_dict()))
    specs = tmp_path / "specs.yaml"
    specs.write_text(SPECS)
    waves = tmp_path / "waves.yaml"
    waves.write_text(WAVES)
    return {"facility": str(fac), "specs": str(specs), "waves": str(waves), "dir": str(tmp_path)}


def phases(files: dict[str, str], *extra: str, out: str = "out") -> tuple[int, Path]:
    target = Path(files["dir"]) / out
    code = main(["phases", files["facility"], "--specs", files["specs"], "-o", str(target), *extra])
    return code, target


def strategies(doc: dict) -> dict[str, dict]:
    return {s["key"]: s for s in doc["strategies"]}


def test_strategies_hand_checked(files, capsys):
    """No discounting, a horizon of 2028-01, a GPU-hour not delivered worth 1 USD.

    * hybrid (the waves as given): three tb200 in a rack for 12 months (69,387.84) and three tmi400 in
      another from 2027-04, 9 months (51,387.84 x 0.75 = 38,540.88): 107,928.72, nothing late;
    * all B200 now: both racks of tb200 from 2027-01: 2 x 69,387.84 = 138,775.68;
    * B200 only, on schedule: 69,387.84 + 69,387.84 x 0.75 = 121,428.72;
    * wait for MI400 (2027-04): both racks of tmi400 for 9 months, 2 x 38,540.88 = 77,081.76, but the
      first 24 GPUs come 3 months late: 24 x 3 x 730 h = 52,560 GPU-hours x 1 USD: 129,641.76.
    The hybrid wins, by 13,500.00 over on schedule."""
    code, out = phases(files, "--waves", files["waves"], "--no-sensitivity")
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / "phases.json").read_text())
    assert doc["schema"] == "rackplan.phases/1"
    s = strategies(doc)
    assert list(s) == ["now", "schedule", "wait", "hybrid", "wave_by_wave"]
    assert s["hybrid"]["pv_usd"] == pytest.approx(107_928.72, abs=0.01)
    assert s["hybrid"]["delay_usd"] == 0
    assert s["now"]["total_usd"] == pytest.approx(138_775.68, abs=0.01)
    assert s["schedule"]["total_usd"] == pytest.approx(121_428.72, abs=0.01)
    assert s["wait"]["pv_usd"] == pytest.approx(77_081.76, abs=0.01)
    assert s["wait"]["short_gpu_hours"] == pytest.approx(52_560)
    assert s["wait"]["delay_usd"] == pytest.approx(52_560.00, abs=0.01)
    assert s["wait"]["total_usd"] == pytest.approx(129_641.76, abs=0.01)
    assert s["wave_by_wave"]["pv_usd"] == pytest.approx(107_928.72, abs=0.01)
    assert doc["best"] == {"key": "hybrid", "label": "Hybrid: the waves as given", "total_usd": 107_928.72,
                           "runner_up": "schedule", "margin_usd": 13_500.0}
    assert s["now"]["label"] == "All B200 now" and s["wait"]["label"] == "Wait for MI400"
    # GPU-hours by date: the hybrid has 24 GPUs for 3 months by 2027-04, then 48 for 9 more
    assert s["hybrid"]["gpu_hours_by"]["2027-04"] == 24 * 3 * 730
    assert s["hybrid"]["gpu_hours_by"]["2028-01"] == (24 * 3 + 48 * 9) * 730
    assert s["wait"]["gpu_hours_by"]["2027-04"] == 0
    # stranded: a rack of three 10 kW nodes leaves 2.7773 kW of its feed and 5 kW of air
    wave = s["hybrid"]["waves"][0]
    assert wave["stranded"]["rack_power_kw"] == pytest.approx(2.777, abs=0.001)
    assert wave["stranded"]["rack_cooling_kw"] == pytest.approx(5.0)
    err = capsys.readouterr().err
    assert "Hybrid: the waves as given" in err and "<- best" in err


def test_every_wave_is_checked_and_written(files):
    code, out = phases(files, "--waves", files["waves"], "--no-sensitivity")
    assert code == 0
    doc = json.loads((out / "phases.json").read_text())
    for s in doc["strategies"]:
        assert s["status"] == "ok"
        assert [w["check"]["passed"] for w in s["waves"]] == [True] * len(s["waves"])
    assert sorted(p.name for p in (out / "waves").iterdir()) == ["01-now.csv", "02-later.csv"]
    assert sorted(p.name for p in (out / "plans").iterdir()) == ["01-now.json", "02-later.json"]
    # each wave's plan is a plan.json that `rackplan check` re-verifies (against the facility inside it)
    assert main(["check", str(out / "plans" / "02-later.json"), "--specs", files["specs"]]) == 0
    later = (out / "waves" / "02-later.csv").read_text().splitlines()
    assert later[0].startswith("id,hall,row,rack_type,filled_by,nodes_added,nodes_installed")
    assert sorted(line.split(",")[4] for line in later[1:]) == ["later", "now"]


def test_nodes_of_the_first_wave_stay_in_their_racks(files):
    """Three waves (the first retiring never): the racks the first wave filled hold the same nodes at
    every later wave."""
    waves = ["--wave", "2027-01:gpus=16:tb200:name=first", "--wave", "2027-03:tb200=2:name=second",
             "--wave", "2027-04:gpus=24:tmi400:name=third"]
    code, out = phases(files, *waves, "--horizon", "2028-01", "--no-sensitivity")
    assert code == 0
    plans = [json.loads((out / "plans" / f"{i:02d}-{n}.json").read_text())
             for i, n in ((1, "first"), (2, "second"), (3, "third"))]
    first = {r["id"]: r["nodes"] for r in plans[0]["racks"]}
    assert sum(n["tb200"] for n in first.values()) == 2
    for later in plans[1:]:
        racks = {r["id"]: r["nodes"] for r in later["racks"]}
        for rid, nodes in first.items():
            assert racks[rid] == nodes
    doc = json.loads((out / "phases.json").read_text())
    hybrid = strategies(doc)["hybrid"]
    filled = [set(w["racks_filled"]) for w in hybrid["waves"]]
    assert not (filled[0] & filled[1]) and not (filled[0] & filled[2]) and not (filled[1] & filled[2])


def test_a_wave_before_its_nodes_ship_is_refused(files, capsys):
    code, out = phases(files, "--wave", "2027-01:gpus=24:tmi400", "--wave", "2027-06:gpus=24:tb200")
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rackplan: <command line>: --wave 2027-01:gpus=24:tmi400: tmi400 is not available until "
                   "2027-04 (projected), after the wave's date 2027-01"]
    assert not out.exists()


def test_a_wave_before_its_nodes_ship_is_refused_in_a_file(files, capsys):
    path = Path(files["dir"]) / "early.yaml"
    path.write_text(WAVES.replace("date: 2027-04", "date: 2027-03"))
    code, out = phases(files, "--waves", str(path))
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"rackplan: {path}:10: waves[1]: tmi400 is not available until 2027-04 (projected), after the "
        "wave's date 2027-03")
    assert not out.exists()


@pytest.mark.parametrize("text, message", [
    ("waves: []", "waves: list should have at least 1 item after validation, not 0"),
    ("waves: [{date: 2027-1, nodes: {tb200: 1}}]", "waves[0].date: date must be a month written YYYY-MM, got '2027-1'"),
    ("waves: [{date: 2027-01, nodes: {tb200: 1}, target: {gpus: 8}, candidates: [tb200]}]",
     "waves[0]: a wave holds exactly one of nodes or target (with candidates); got nodes, target"),
    ("waves: [{date: 2027-01, nodes: {tb20: 1}}]", "waves[0].nodes.tb20: unknown node id 'tb20'"),
    ("waves: [{date: 2027-01, nodes: {tb200: 1}}]\ncolour: red", "unknown key 'colour'"),
    ("waves: [{date: 2027-02, nodes: {tb200: 1}}, {date: 2027-01, nodes: {tb200: 1}}]",
     "waves[1].date: 2027-01 is before the wave before it (2027-02)"),
    ("waves: [{date: 2027-01, nodes: {tb200: 1}, retire: 2026-12}]",
     "waves[0].retire: 2026-12 is not after the wave's date 2027-01"),
    ("horizon: 2027-01\nwaves: [{date: 2027-01, nodes: {tb200: 1}}]", "horizon: 2027-01 must come after every wave"),
    ("value_per_gpu_hour_usd: 2\nwaves: [{date: 2027-01, target: {hbm_tb: 1}, candidates: [tb200]}]",
     "the cost of delay (value_per_gpu_hour_usd) counts GPUs"),
    ("waves: [{name: a b, date: 2027-01, nodes: {tb200: 1}}]", "waves[0].name: a wave's name is 1-40 letters"),
])
def test_bad_waves_files_are_one_line_each(files, capsys, text, message):
    path = Path(files["dir"]) / "bad.yaml"
    path.write_text(text + "\n")
    code, out = phases(files, "--waves", str(path))
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rackplan: {path}") and message in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("flags, message", [
    (["--wave", "2027-01"], "--wave 2027-01: expected DATE:gpus=N:ID[,ID...]"),
    (["--wave", "2027-01:gpus=x:tb200"], "--wave 2027-01:gpus=x:tb200: 'x' is not a whole number"),
    (["--wave", "2027-01:gpus=8"], "--wave 2027-01:gpus=8: a target needs candidates"),
    (["--wave", "2027-01:tb200=1", "--discount-rate", "2"], "--discount-rate: input should be less than or equal to 1"),
    ([], "no waves: give --waves FILE or --wave"),
])
def test_bad_wave_flags(files, capsys, flags, message):
    code, _ = phases(files, *flags)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_same_inputs_same_phases_json_apart_from_timestamps(files):
    def load(out: Path) -> dict:
        doc = json.loads((out / "phases.json").read_text())

        def strip(x):
            if isinstance(x, dict):
                return {k: strip(v) for k, v in x.items() if k not in ("made_at", "seconds")}
            if isinstance(x, list):
                return [strip(v) for v in x]
            return x
        return strip(doc)

    assert phases(files, "--waves", files["waves"], out="a")[0] == 0
    assert phases(files, "--waves", files["waves"], out="b")[0] == 0
    a, b = load(Path(files["dir"]) / "a"), load(Path(files["dir"]) / "b")
    assert a == b
    assert a["sensitivity"] is not None


def test_sensitivity_says_where_waiting_pays_off(files):
    """The grid: MI400 shipping 2027-02..2027-12 (its range, 2027-02..2027-06, and six months more) at
    900-2,000 W a GPU (its range, 900-1,100 W, and 1.5 and 2 x nominal: 9.2-18 kW a node, the vendor
    maximum's 2 kW of platform kept). Only shipping in 2027-02, one month late for the first wave, does
    waiting win; at 1,500 W two fit a rack and at 2,000 W one, and the three racks no longer hold it."""
    code, out = phases(files, "--waves", files["waves"])
    assert code == 0
    sens = json.loads((out / "phases.json").read_text())["sensitivity"]
    assert sens["nodes"] == ["tmi400"] and sens["accelerator"] == "mi400"
    assert sens["tdp_w"] == [900, 1000, 1100, 1500, 2000]
    assert sens["findings"][0] == "Waiting for MI400 pays off only if it ships by 2027-02 and draws at most 1,100 W per GPU."
    first = sens["grid"][0][0]
    assert first["available"] == "2027-02" and first["winner"] == "wait"
    # at 900 W a tmi400 draws 9.2 kW: 9.2 x 0.8 x 8,760 x 0.08 = 5,157.89 of energy, 2,321.05 of cooling,
    # 6,000 of rent: 13,478.94 a node-year, 49,436.81 a rack of three. Waiting: the first rack from
    # 2027-02 (11 months), the second from 2027-04 (9): 49,436.81 x 20 / 12 = 82,394.69, plus one month of
    # 24 GPUs late (17,520): 99,914.69. The hybrid: a rack of tb200 for 12 months (69,387.84) and one of
    # tmi400 for 9 (37,077.61): 106,465.45.
    assert first["totals"]["wait"] == pytest.approx(99_914.69, abs=0.01)
    assert first["delay_usd"]["wait"] == pytest.approx(17_520.0)
    assert first["totals"]["hybrid"] == pytest.approx(106_465.45, abs=0.01)
    assert sens["dates"] == ["2027-02", "2027-04", "2027-06", "2027-08", "2027-10", "2027-12"]
    html = (out / "phases.html").read_text()
    assert "Waiting for MI400 pays off only if it ships by 2027-02" in html


def test_report_structure(files):
    code, out = phases(files, "--waves", files["waves"])
    assert code == 0
    html = (out / "phases.html").read_text()
    assert "<script" not in html and "http://" not in html.replace('http://www.w3.org/2000/svg', "")
    for section in ('id="strategies"', 'id="timeline"', 'id="sensitivity"', 'id="waves"', 'id="assumptions"'):
        assert section in html
    # a timeline of racks and one of MW, each with a line per strategy
    assert html.count('class="rp-chart rp-timeline"') == 2
    assert html.count('data-series="Hybrid: the waves as given"') == 2
    # a floor per wave; at the second wave, the first wave's rack keeps its colour
    assert html.count('class="rp-floor"') == 2
    second = html.split('class="rp-floor"')[2]
    assert second.count('class="w0"') == 1 and second.count('class="w1"') == 1


def test_waves_examples_validate():
    """Every examples/waves-*.yaml loads against the bundled library and its nodes ship by their waves."""
    from planner.inputs.specs import load_catalogue, resolve
    from planner.inputs.waves import load_waves

    cat = load_catalogue()
    root = Path(__file__).resolve().parents[1]
    found = sorted((root / "examples").glob("waves-*.yaml"))
    assert found
    for path in found:
        spec = load_waves(str(path), cat)
        spec.check({i: resolve(cat, i) for i in spec.node_ids})


def test_retired_wave_frees_its_racks_in_the_report(files):
    """A first wave retiring when the second comes: the second may reuse its rack, and the GPU-hours
    stop at the retirement."""
    waves = ["--wave", "2027-01:tb200=3:retire=2027-06:name=old", "--wave", "2027-06:tb200=9:name=new"]
    code, out = phases(files, *waves, "--horizon", "2028-01", "--discount-rate", "0", "--no-sensitivity")
    assert code == 0
    doc = json.loads((out / "phases.json").read_text())
    hybrid = strategies(doc)["hybrid"]
    assert [w["racks_used"] for w in hybrid["waves"]] == [1, 3]
    assert hybrid["timeline"] == [{"date": "2027-01", "racks": 1, "gpus": 24, "it_kw": 30.0},
                                  {"date": "2027-06", "racks": 3, "gpus": 72, "it_kw": 90.0}]
    assert hybrid["gpu_hours_by"]["2028-01"] == (24 * 5 + 72 * 7) * 730
    assert copy.deepcopy(hybrid["waves"][1]["nodes_installed"]) == {"tb200": 9}


def _grid(dates: list[str], rows: dict[float, str]) -> dict:
    """A sensitivity document whose grid has a row per TDP; each letter of the row's string is the winner
    in that month: w (wait), h (hybrid), n (now; in a month with no wait strategy: '-')."""
    names = {"w": ("wait", "Wait for MI400"), "h": ("hybrid", "Hybrid: the waves as given"),
             "n": ("now", "All B200 now"), "-": ("now", "All B200/MI400 now")}
    grid = []
    for tdp, text in rows.items():
        row = []
        for d, ch in zip(dates, text):
            key, label = names[ch]
            labels = {"now": "All B200 now", "hybrid": "x"} | ({} if ch == "-" else {"wait": "Wait for MI400"})
            row.append({"available": d, "tdp_w": tdp, "winner": key, "winner_label": label, "labels": labels})
        grid.append(row)
    return {"label": "MI400", "dates": dates, "grid": grid}


D = ["2027-01", "2027-03", "2027-05", "2027-07"]


@pytest.mark.parametrize("rows, sentence", [
    ({900: "-www", 1100: "-wwh", 1500: "-hhh"},
     "Waiting for MI400 pays off at 900 W whenever it ships in the months swept (2027-03..2027-07); at 1,100 W "
     "only if it ships by 2027-05; at 1,500 W never (if it ships by 2027-01, with the first wave, there is "
     "nothing to wait for: All B200/MI400 now)."),
    ({900: "wwhh", 1100: "wwhh", 1500: "hhhh"},
     "Waiting for MI400 pays off only if it ships by 2027-03 and draws at most 1,100 W per GPU."),
    ({900: "wwww", 1100: "wwww", 1500: "nnnn"},
     "Waiting for MI400 pays off in every month swept (2027-01..2027-07) as long as it draws at most 1,100 W "
     "per GPU, and never above that."),
    ({900: "hhhh", 1100: "nnnn"},
     "Waiting for MI400 never pays off in the cases swept (it ships in 2027-01..2027-07 and draws 900-1,100 W "
     "per GPU)."),
    ({900: "wwww"}, "Waiting for MI400 pays off in every case swept (it ships in 2027-01..2027-07 and draws 900 W per GPU)."),
    ({900: "whwh"}, "Waiting for MI400 pays off at 900 W if it ships in 2027-01, 2027-05."),
    ({None: "wwhh"}, "Waiting for MI400 pays off only if it ships by 2027-03."),
])
def test_where_waiting_pays_off_in_words(rows, sentence):
    from planner.studies.phases import wait_finding

    assert wait_finding(_grid(D, rows)) == sentence


RACKS_SHORT = ("racks: 3 of 12 tb200 (30 kW) cannot be placed in any rack even with every limit above the racks "
               "lifted; binding: rack power, heat, space, weight and form factor together")
MOST_THAT_FITS = "  at most 9 tb200 fit (72 GPUs); binding: rack power (feeds)"


def test_waves_that_do_not_fit_exit_1(files, capsys):
    """Twelve 10 kW nodes need four racks; the facility has three (three nodes a rack). Exit 1 says of
    the wave what ``plan`` says of its nodes: what runs out, how many cannot be placed, how many fit."""
    code, out = phases(files, "--wave", "2027-01:tb200=12", "-q")
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"rackplan: no plan: wave wave-1 (2027-01) does not fit: {RACKS_SHORT}", MOST_THAT_FITS]
    assert not out.exists()
    assert main(["plan", files["facility"], "--specs", files["specs"], "--nodes", "tb200=12", "-q",
                 "-o", str(Path(files["dir"]) / "plan")]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"rackplan: no plan: {RACKS_SHORT}", MOST_THAT_FITS]


@pytest.mark.parametrize("first, chose", [("tb200=6", ""), ("gpus=48:tb200", " (with what wave-1 chose)")])
def test_waves_that_fit_alone_but_not_together_say_which_wave_breaks_it(first, chose, files, capsys):
    """Six nodes now (exact, or a GPU target of 48 GPUs of tb200, taken as its plan chose) and six more
    later: each wave fits alone (two racks), the second not beside the first. Exit 1 names the second
    wave, and what runs out for all twelve nodes together."""
    code, out = phases(files, "--wave", f"2027-01:{first}", "--wave", "2027-04:tb200=6", "-q")
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "rackplan: no plan: wave wave-2 (2027-04) fits alone but not beside the 1 wave installed then (wave-1); "
        f"all 12 x tb200 together{chose}: {RACKS_SHORT}", MOST_THAT_FITS]
    assert not out.exists()


@pytest.mark.parametrize("stops", ["the prefix solve", "the diagnosis"])
def test_a_diagnosis_the_time_limit_stops_says_so_and_blames_no_wave(stops, files, capsys, monkeypatch):
    """When a solve of the diagnosis stops at its time limit without a verdict (whether the first waves
    fit together, or what plan says of a wave), phases says the diagnosis ran out of time: it names no
    wave, and gives no count that fits, rather than blaming a wave it did not prove."""
    from planner.optimize import placement, waves as waves_mod

    if stops == "the prefix solve":
        monkeypatch.setattr(waves_mod._Model, "solve", lambda self, *a, **k: ("no_solution", None, None)
                            if self.V < 2 else ("infeasible", None, None))
    else:
        def timed_out(*a, **k):
            raise NoPlanError("the time limit ran out before any plan was found; raise --time-limit")
        monkeypatch.setattr(placement, "optimize", timed_out)
    code, out = phases(files, "--wave", "2027-01:tb200=6", "--wave", "2027-04:tb200=6", "-q")
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "rackplan: no plan: the waves do not fit together; the time limit ran out before the diagnosis could say "
        "which wave does not fit (raise --time-limit)"]
    assert not out.exists()


def test_a_facility_whose_striping_is_to_be_chosen_is_refused(files, capsys):
    """Waves do not choose striping (rows with panels: auto): plan the facility once, then plan the waves
    on its facility.striped.yaml. Bad input, exit 2."""
    from tests.test_power_tree import AUTO_ROWS, THREE_UPS, big_rack, hall

    path = Path(files["dir"]) / "auto.yaml"
    path.write_text(yaml.safe_dump(facility_dict(rack_types={"r": big_rack()}, power=THREE_UPS, halls=hall(AUTO_ROWS))))
    code = main(["phases", str(path), "--specs", files["specs"], "--wave", "2027-01:tb200=1",
                 "-o", str(Path(files["dir"]) / "out")])
    assert code == 2
    assert "waves do not choose striping" in capsys.readouterr().err
