"""The bundled GPU spec library (gpu_specs/*.yaml): completeness, provenance and grading,
hand-computed node figures, whole-rack systems and rack form factors, prices and availability, the
recorded disagreements, ``rackplan specs show``, and user spec files."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from planner.errors import InputError
from planner.inputs import spec_listing
from planner.inputs.specs import (
    FIGURES_ACC,
    FIGURES_NODE,
    FIGURES_POWER,
    LIBRARY_DATE,
    LIBRARY_VERSION,
    Availability,
    Catalogue,
    Figure,
    load_catalogue,
    load_library,
    node_overhead_kw,
    resolve,
)

SPEC_DIR = Path(__file__).resolve().parents[1] / "gpu_specs"

REQUIRED_NODES = ("h100-8x", "h200-8x", "b200-8x-air", "b200-8x-dlc", "gb200-nvl4", "gb200-nvl72",
                  "mi300x-8x", "mi355x-8x-dlc", "mi400-8x", "mi400-4x")
"""CONTRACT.md, "Node ids the spec library must have"."""
EXTRA_NODES = ("b300-8x-air", "b300-8x-mgx", "b300-8x-hgx-air", "b300-8x-dlc", "gb300-nvl72", "vr-nvl72",
               "rubin-ultra-nvl576", "mi325x-8x", "mi350x-8x", "mi355x-8x-air", "mi455x-4x", "mi455x-helios",
               "gaudi3-8x", "gaudi3-8x-dlc")
ACCELERATORS = ("h100", "h200", "b200", "gb200", "b300", "gb300", "rubin", "rubin-ultra", "mi300x", "mi325x",
                "mi350x", "mi355x", "mi400", "mi455x", "gaudi3", "gaudi3-liquid")
WHOLE_RACK = {"gb200-nvl72": ("orv3", 48, 72), "gb300-nvl72": ("orv3", 48, 72), "vr-nvl72": ("orv3", 48, 72),
              "rubin-ultra-nvl576": ("orv3", 48, 144), "mi455x-helios": ("orw", 44, 72)}
"""Whole-rack systems: (rack form factor, U that fills the rack type, GPUs)."""


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_library()


def all_figures(cat: Catalogue):
    """(label, Figure) for every figure of every accelerator and node in the catalogue."""
    for aid, acc in cat.accelerators.items():
        for f in FIGURES_ACC:
            fig = getattr(acc, f)
            if fig is not None:
                yield f"accelerators.{aid}.{f}", fig
    for nid, node in cat.nodes.items():
        for f in FIGURES_NODE:
            fig = getattr(node, f)
            if fig is not None:
                yield f"nodes.{nid}.{f}", fig
        for f in FIGURES_POWER:
            fig = getattr(node.power, f[6:])
            if fig is not None:
                yield f"nodes.{nid}.{f}", fig


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- completeness ----------------------------------------------------------------------------------

def test_library_has_the_contract_node_ids(cat):
    missing = [n for n in REQUIRED_NODES + EXTRA_NODES if n not in cat.nodes]
    assert not missing


def test_library_has_the_accelerator_ids(cat):
    assert set(ACCELERATORS) <= set(cat.accelerators)


@pytest.mark.parametrize("node_id", REQUIRED_NODES + EXTRA_NODES)
def test_every_node_resolves_at_each_of_its_points(cat, node_id):
    for point in cat.points(node_id):
        nt = resolve(cat, node_id, point)
        assert nt.id == node_id and nt.point == point
        assert nt.max_kw > 0 and nt.u > 0 and nt.gpus > 0 and nt.weight_kg > 0
        assert nt.fp8_pflops > 0 and nt.hbm_tb > 0
        assert 0.0 <= nt.liquid_fraction <= 1.0


def test_gpu_counts_and_rack_scale_systems(cat):
    assert cat.nodes["gb200-nvl4"].gpus == 4
    assert cat.nodes["mi400-4x"].gpus == 4
    assert cat.nodes["mi455x-4x"].gpus == 4
    for rack, (form, u, gpus) in WHOLE_RACK.items():
        node = cat.nodes[rack]
        assert (node.form_factor, node.u, node.gpus, node.cooling) == (form, u, gpus, "liquid"), rack
    for nid in ("h100-8x", "h200-8x", "b200-8x-air", "b200-8x-dlc", "mi300x-8x", "mi355x-8x-dlc", "mi400-8x"):
        assert cat.nodes[nid].gpus == 8


def test_rack_form_factors(cat):
    """Every node has one of the contract's form factors; only whole-rack systems and the DGX B300
    busbar version (NVIDIA MGX racks) leave eia-19; the resolved node type carries it."""
    forms = {nid: node.form_factor for nid, node in cat.nodes.items()}
    assert set(forms.values()) <= {"eia-19", "orv3", "orw"}
    assert {n for n, f in forms.items() if f != "eia-19"} == set(WHOLE_RACK) | {"b300-8x-mgx"}
    assert resolve(cat, "mi455x-helios").form_factor == "orw"
    assert resolve(cat, "b200-8x-air").contract_dict()["form_factor"] == "eia-19"
    for nid in forms:
        assert cat.nodes[nid].chassis, nid          # the chassis description moved from form_factor


def test_ids_are_short_lowercase(cat):
    pattern = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
    bad = [i for i in list(cat.nodes) + list(cat.accelerators) + list(cat.sources) if not pattern.match(i)]
    assert not bad


def test_library_gives_prices_and_rents_but_no_annual_cost(cat):
    """The library records purchase prices and rents with their sources; turning them into the plan's
    annual ``nodes`` cost (capital recovery, rent or buy) is the comparison's job, so no bundled node
    sets ``annual_cost_usd`` and plans cost nodes at 0 unless the user gives one."""
    assert [n for n, node in cat.nodes.items() if node.annual_cost_usd is not None] == []
    priced = {n for n, node in cat.nodes.items() if node.price_usd is not None}
    rented = {n for n, node in cat.nodes.items() if node.rent_usd_month is not None}
    assert {"b200-8x-air", "gb200-nvl72", "gb300-nvl72"} <= priced
    assert {"h100-8x", "h200-8x", "b200-8x-air", "b200-8x-dlc", "mi300x-8x", "mi400-8x", "mi400-4x"} <= rented
    for nid in priced | rented:
        for fig in (cat.nodes[nid].price_usd, cat.nodes[nid].rent_usd_month):
            if fig is not None:
                assert fig.sources and fig.note and fig.confidence == "C", nid   # market figures, never A/B
    nt = resolve(cat, "b200-8x-air")
    assert (nt.price_usd, nt.rent_usd_month, nt.annual_cost_usd) == (515000, 35200, 0.0)
    # a projected product's rent moves with the spec point: the circulated $10K-15K per 4-GPU month
    assert [resolve(cat, "mi400-4x", p).rent_usd_month for p in ("low", "nominal", "high")] == [10000, 12500, 15000]
    assert [resolve(cat, "mi400-8x", p).rent_usd_month for p in ("low", "nominal", "high")] == [20000, 25000, 30000]


def test_availability(cat):
    """Shipping nodes are available now (no date); every other node has a sourced month, with a range
    where projected; the resolved node type gives the month at its spec point."""
    for nid, node in cat.nodes.items():
        if node.status == "shipping":
            assert node.available is None and resolve(cat, nid).available_from is None, nid
        else:
            av = node.available
            assert isinstance(av, Availability) and av.sources and av.note, nid
            assert av.status == "projected" and av.low <= av.nominal <= av.high, nid
            assert av.low >= LIBRARY_DATE, nid
    assert [resolve(cat, "mi400-8x", p).available_from for p in ("low", "nominal", "high")] == [
        "2027-01", "2027-04", "2027-06"]
    assert resolve(cat, "vr-nvl72").available_from == "2026-12"
    assert resolve(cat, "rubin-ultra-nvl576", "high").available_from == "2028-03"


def test_library_version(cat):
    assert cat.version == LIBRARY_VERSION and re.fullmatch(r"\d{4}\.\d{2}\.\d+", LIBRARY_VERSION)
    assert LIBRARY_VERSION.startswith(LIBRARY_DATE.replace("-", "."))


# --- provenance ------------------------------------------------------------------------------------

def test_every_figure_has_sources_status_and_confidence(cat):
    figures = list(all_figures(cat))
    assert len(figures) > 100
    no_source = [label for label, fig in figures if not fig.sources]
    no_status = [label for label, fig in figures if fig.status is None]
    no_conf = [label for label, fig in figures if fig.confidence is None]
    assert no_source == [] and no_status == [] and no_conf == []


def test_every_source_id_resolves(cat):
    dangling = [(label, sid) for label, fig in all_figures(cat) for sid in fig.sources if sid not in cat.sources]
    dangling += [(f"accelerators.{a}", s) for a, acc in cat.accelerators.items() for s in acc.sources
                 if s not in cat.sources]
    dangling += [(f"nodes.{n}", s) for n, node in cat.nodes.items() for s in node.sources if s not in cat.sources]
    assert dangling == []


def test_every_projected_figure_has_an_ordered_range(cat):
    projected = [(label, fig) for label, fig in all_figures(cat) if fig.status == "projected"]
    assert len(projected) >= 10
    for label, fig in projected:
        assert fig.low is not None and fig.high is not None, label
        assert fig.low <= fig.nominal <= fig.high, label


def test_every_vendor_file_defines_the_sources_it_cites():
    """Each vendor file is self-contained: every source id it uses is defined in that file."""
    files = sorted(SPEC_DIR.glob("*.yaml"))
    assert {p.name for p in files} >= {"amd.yaml", "intel.yaml", "nvidia.yaml"}
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        defined = set(data.get("sources", {}))
        used: set[str] = set()

        def collect(obj):
            if isinstance(obj, dict):
                for key, value in obj.items():
                    if key == "sources" and isinstance(value, list):
                        used.update(value)
                    else:
                        collect(value)
            elif isinstance(obj, list):
                for item in obj:
                    collect(item)

        collect({k: v for k, v in data.items() if k != "sources"})
        assert used - defined == set(), path.name
        assert used, path.name


def test_sources_are_described(cat):
    for sid, src in cat.sources.items():
        assert src.title.strip(), sid
        if src.kind in ("vendor", "mlperf"):
            assert src.url, sid  # primary sources always have an address
        if src.kind not in ("estimate", "user"):
            assert src.url or src.via, sid  # every other source can be located: an address or what carried it


def test_grades_follow_how_a_figure_was_read(cat):
    """A: at least one vendor document or vendor MLPerf file read directly. A figure whose vendor
    sources were read only through a third party (``via``) is at most B; one resting on third parties,
    press or estimates alone is not A."""
    for label, fig in all_figures(cat):
        if fig.confidence != "A":
            continue
        direct = [s for s in fig.sources if cat.sources[s].kind in ("vendor", "mlperf") and not cat.sources[s].via]
        assert direct, label


def test_node_power_is_the_vendor_maximum_and_typical_draw_is_beside_it(cat):
    """Node power is the design load; a typical draw, where recorded, is below it and never planned."""
    for nid, node in cat.nodes.items():
        typical = node.power.typical_kw
        if typical is not None:
            assert typical.nominal < resolve(cat, nid).max_kw, nid
            assert resolve(cat, nid).max_kw != typical.nominal
    assert cat.nodes["b300-8x-air"].power.typical_kw.nominal == 15.0       # NVIDIA's estimated system power
    assert cat.nodes["gb200-nvl72"].power.typical_kw.nominal == 120       # NVIDIA's "approximately 120 kW"


def test_node_disagreements_say_which_figure_plans_use(cat):
    for nid, words in (("b300-8x-air", ("14.5", "19.7")), ("gb300-nvl72", ("142", "155", "132")),
                       ("gb200-nvl72", ("120", "132")), ("mi355x-8x-dlc", ("12.5", "14")),
                       ("mi455x-helios", ("245",)), ("vr-nvl72", ("187", "227"))):
        text = cat.nodes[nid].disagreement
        assert text and "Plans use" in text, nid
        for w in words:
            assert w in text, (nid, w)
    for nid, node in cat.nodes.items():
        assert all(other in cat.nodes for other in node.see_also), nid


def test_estimates_are_confidence_c_and_cite_an_estimate_source(cat):
    """A figure citing rackplan's own derivation is marked C and says how in its note."""
    for label, fig in all_figures(cat):
        if any(cat.sources[s].kind == "estimate" for s in fig.sources):
            assert fig.confidence == "C", label
            assert fig.note, label


def test_derived_nodes_say_how_their_overhead_was_obtained(cat):
    derived = {n: node for n, node in cat.nodes.items() if node.power.basis == "derived"}
    assert {"b200-8x-dlc", "mi300x-8x", "mi355x-8x-dlc", "mi400-8x", "mi400-4x", "mi455x-helios"} <= set(derived)
    for nid, node in derived.items():
        assert node.power.overhead_kw is not None and node.power.overhead_kw.note, nid


def test_air_nodes_have_no_liquid_and_liquid_nodes_follow_the_reference(cat):
    for nid, node in cat.nodes.items():
        if node.cooling == "air":
            assert node.liquid_fraction.nominal == 0, nid
        else:
            assert 0.70 <= node.liquid_fraction.nominal <= 0.95, nid
    assert cat.nodes["b200-8x-dlc"].liquid_fraction.nominal == 0.80
    assert cat.nodes["gb200-nvl72"].liquid_fraction.nominal == 0.85
    assert cat.nodes["gb300-nvl72"].liquid_fraction.nominal == 0.90      # Lenovo: ~90 % liquid
    assert cat.nodes["mi455x-4x"].liquid_fraction.nominal == 0.90


# --- hand-computed figures -------------------------------------------------------------------------

@pytest.mark.parametrize("node_id, point, max_kw", [
    ("h100-8x", "nominal", 10.2),
    ("h200-8x", "nominal", 10.2),
    ("b200-8x-air", "nominal", 14.3),
    ("b200-8x-dlc", "nominal", 12.0),            # 8 x 1.0 + 4.0
    ("b300-8x-air", "nominal", 19.7),            # NVIDIA's estimated peak, AC version
    ("b300-8x-mgx", "nominal", 19.0),            # NVIDIA's estimated peak, DC busbar version
    ("b300-8x-hgx-air", "nominal", 19.7),        # 8 x 1.1 + 10.9
    ("b300-8x-dlc", "nominal", 13.2),            # PSU-limited: 2+2 x 6.6
    ("gb200-nvl4", "nominal", 6.667),            # NVIDIA DPS compute-tray maximum
    ("gb200-nvl72", "nominal", 132.0),           # 8 x 33 kW shelves, N+N
    ("gb300-nvl72", "nominal", 142.0),           # NVIDIA: up to 142 kW
    ("vr-nvl72", "low", 187.0),                  # Max-Q
    ("vr-nvl72", "nominal", 227.0),              # Max-P
    ("vr-nvl72", "high", 240.0),                 # EDP
    ("rubin-ultra-nvl576", "nominal", 600.0),
    ("mi355x-8x-air", "nominal", 14.2),          # 8 x 1.4 + 3.0
    ("gaudi3-8x-dlc", "nominal", 12.6),          # 8 x 1.2 + 3.0
    ("mi455x-helios", "low", 208.8),             # 72 x 2.0 + 64.8
    ("mi455x-helios", "nominal", 244.8),         # 72 x 2.3 + 79.2
    ("mi455x-helios", "high", 273.6),            # 72 x 2.5 + 93.6
    ("mi300x-8x", "nominal", 9.0),               # 8 x 0.75 + 3.0
    ("mi325x-8x", "nominal", 11.0),              # 8 x 1.0 + 3.0
    ("mi350x-8x", "nominal", 11.0),              # 8 x 1.0 + 3.0
    ("mi355x-8x-dlc", "nominal", 14.0),          # 8 x 1.4 + 2.8
    ("gaudi3-8x", "nominal", 10.2),              # 8 x 0.9 + 3.0
    ("mi400-8x", "low", 9.6),                    # 8 x 0.9 + 2.4
    ("mi400-8x", "nominal", 11.0),               # 8 x 1.0 + 3.0
    ("mi400-8x", "high", 12.4),                  # 8 x 1.1 + 3.6
    ("mi400-4x", "low", 4.8),                    # 4 x 0.9 + 1.2
    ("mi400-4x", "nominal", 5.5),
    ("mi400-4x", "high", 6.2),                   # 4 x 1.1 + 1.8
    ("mi455x-4x", "low", 11.6),                  # 4 x 2.0 + 3.6
    ("mi455x-4x", "nominal", 13.6),              # 4 x 2.3 + 4.4
    ("mi455x-4x", "high", 15.2),                 # 4 x 2.5 + 5.2
])
def test_node_max_kw(cat, node_id, point, max_kw):
    assert resolve(cat, node_id, point).max_kw == pytest.approx(max_kw, abs=1e-9)


def test_spec_points(cat):
    assert cat.points("b200-8x-air") == ("nominal",)
    assert cat.points("gb200-nvl72") == ("nominal",)
    assert cat.points("mi400-8x") == ("low", "nominal", "high")
    assert cat.points("mi400-4x") == ("low", "nominal", "high")
    assert cat.points("mi455x-4x") == ("low", "nominal", "high")   # its TDP and overhead are projected
    shipping = [n for n, node in cat.nodes.items() if node.status == "shipping"]
    assert all(cat.points(n) == ("nominal",) for n in shipping)


def test_performance_and_memory_per_node(cat):
    b200 = resolve(cat, "b200-8x-air")
    assert b200.fp8_pflops == pytest.approx(8 * 4500 / 1000)      # 36.0
    assert b200.hbm_tb == pytest.approx(8 * 180 / 1000)           # 1.44, usable not 192 GB
    assert b200.weight_kg == 142.4 and b200.u == 10 and b200.liquid_fraction == 0.0
    nvl72 = resolve(cat, "gb200-nvl72")
    assert nvl72.fp8_pflops == pytest.approx(72 * 5000 / 1000)    # 360
    assert nvl72.hbm_tb == pytest.approx(72 * 186 / 1000)         # 13.392
    low, nom, high = (resolve(cat, "mi400-8x", p) for p in ("low", "nominal", "high"))
    assert (low.fp8_pflops, nom.fp8_pflops, high.fp8_pflops) == pytest.approx((64.0, 72.0, 80.0))
    assert (low.hbm_tb, nom.hbm_tb, high.hbm_tb) == pytest.approx((2.304, 2.688, 3.072))
    assert (low.tdp_w, nom.tdp_w, high.tdp_w) == (900, 1000, 1100)
    helios = resolve(cat, "mi455x-4x", "high")
    assert helios.fp8_pflops == pytest.approx(4 * 20130 / 1000)  # announced: same at every point
    assert helios.hbm_tb == pytest.approx(4 * 432 / 1000)


def test_tdp_override_rederives_power(cat):
    # vendor_max: overhead = 14.3 - 8 x 1.0 = 6.3 kW, kept; the GPUs go to 1.2 kW each
    assert node_overhead_kw(cat, cat.nodes["b200-8x-air"], "nominal") == pytest.approx(6.3)
    over = resolve(cat, "b200-8x-air", tdp_override_w={"b200": 1200})
    assert over.max_kw == pytest.approx(14.3 + 8 * 0.2)          # 15.9
    assert over.tdp_overridden and over.tdp_w == 1200
    # derived: the projection's node at AMD-like module power
    assert resolve(cat, "mi400-8x", tdp_override_w={"mi400": 2300}).max_kw == pytest.approx(8 * 2.3 + 3.0)
    # another accelerator's override leaves a node alone
    assert resolve(cat, "h100-8x", tdp_override_w={"b200": 1200}).max_kw == pytest.approx(10.2)


def test_dense_not_sparse_flops_and_usable_memory(cat):
    acc = cat.accelerators
    assert acc["h100"].fp8_tflops_dense.nominal == pytest.approx(1978.9)   # not the 3,958 sparse headline
    assert acc["b200"].fp4_tflops_dense.nominal == 9000                      # not 18,000
    assert acc["mi355x"].fp4_tflops_dense.nominal == pytest.approx(10066)   # not the 20.1 PF press figure
    assert acc["mi350x"].fp4_tflops_dense.nominal == 9200                   # not 18.45 PF
    assert acc["mi300x"].fp4_tflops_dense is None                           # CDNA 3 has no FP4
    assert acc["h100"].fp4_tflops_dense is None
    assert acc["b200"].hbm_gb.nominal == 180 and "192" in acc["b200"].hbm_gb.note
    for aid, a in acc.items():
        if a.bf16_tflops_dense and a.fp8_tflops_dense:
            assert a.fp8_tflops_dense.nominal >= a.bf16_tflops_dense.nominal, aid


def test_decided_node_figures(cat):
    n = cat.nodes
    assert (n["h100-8x"].u, n["h100-8x"].weight_kg.nominal, n["h100-8x"].cooling) == (8, 130.45, "air")
    assert n["h100-8x"].power.basis == n["h200-8x"].power.basis == "vendor_max"
    assert (n["b200-8x-dlc"].u, n["b200-8x-dlc"].weight_kg.nominal) == (4, 85)
    assert n["b200-8x-dlc"].power.overhead_kw.confidence == "C"
    assert n["b200-8x-dlc"].power.overhead_kw.status == "shipping"        # an estimate, not projected
    assert n["gb200-nvl72"].weight_kg.nominal == 1360
    assert n["gb200-nvl4"].u == 1
    assert n["mi455x-4x"].u == 3 and 18 * n["mi455x-4x"].weight_kg.nominal == pytest.approx(3168, abs=10)
    assert 48 // n["mi455x-4x"].u * n["mi455x-4x"].gpus <= n["mi455x-helios"].gpus   # no denser than Helios
    assert (n["b300-8x-air"].u, n["b300-8x-air"].weight_kg.nominal) == (10, 168)
    assert n["vr-nvl72"].status == "announced" and n["rubin-ultra-nvl576"].status == "projected"
    assert (n["mi400-8x"].u, n["mi400-4x"].u) == (4, 2)
    assert n["mi400-8x"].status == n["mi400-4x"].status == "projected"
    assert n["mi455x-4x"].status == "announced"
    assert n["mi400-8x"].power.overhead_kw.status == "projected"
    assert n["mi455x-4x"].power.overhead_kw.status == "projected"


# --- the MI400 disagreement ------------------------------------------------------------------------

def test_mi400_disagreement_is_recorded(cat):
    mi400, mi455x = cat.accelerators["mi400"], cat.accelerators["mi455x"]
    assert mi400.status == "projected" and mi455x.status == "announced"
    assert mi400.disagreement and "mi455x" in mi400.disagreement
    assert "mi455x" in mi400.see_also and "mi400" in mi455x.see_also
    assert mi455x.disagreement and "mi400" in mi455x.disagreement
    for figure in ("432", "23.3", "20.13", "2 kW"):
        assert figure in mi400.disagreement, figure
    # AMD's published figures lie above the projection's whole range
    assert mi455x.fp8_tflops_dense.nominal == 20130 > mi400.fp8_tflops_dense.high == 10000
    assert mi455x.fp4_tflops_dense.nominal == 40260 > mi400.fp4_tflops_dense.high
    assert mi455x.hbm_gb.nominal == 432 > mi400.hbm_gb.high == 384
    assert mi455x.mem_bw_tbps.nominal == pytest.approx(23.3)
    assert mi455x.mem_bw_tbps.nominal > mi400.mem_bw_tbps.high == 12
    assert (mi400.tdp_w.low, mi400.tdp_w.nominal, mi400.tdp_w.high) == (900, 1000, 1100)
    assert (mi400.hbm_gb.low, mi400.hbm_gb.nominal, mi400.hbm_gb.high) == (288, 336, 384)
    # MI455X power is undisclosed: projected inside an announced entry, confidence B
    tdp = mi455x.tdp_w
    assert (tdp.status, tdp.confidence, tdp.low, tdp.nominal, tdp.high) == ("projected", "B", 2000, 2300, 2500)
    assert mi400.tdp_w.high < tdp.low
    assert mi455x.hbm_gb.status == "announced"


def test_readme_documents_every_node_and_the_disagreements(cat):
    text = (SPEC_DIR / "README.md").read_text(encoding="utf-8")
    assert "## Where sources disagree" in text
    for nid in cat.nodes:
        assert f"`{nid}`" in text, nid
    for phrase in ("max_kw = gpus x tdp_w / 1000 + overhead_kw", "--specs FILE", "192", "120 kW", "sparse",
                   "## Rules", "design load", "usable", "## Confidence", "## Adding a node", "price_usd",
                   "rent_usd_month", "available", "## Published rack designs", "form_factor", LIBRARY_VERSION):
        assert phrase in text, phrase


# --- user spec files -------------------------------------------------------------------------------

USER_NODE = """\
    schema: rackplan.specs/1
    nodes:
      our-b200-5u:
        name: Our 8x B200 liquid server
        vendor: Example OEM
        accelerator: b200
        gpus: 8
        u: 5
        cooling: liquid
        liquid_fraction: 0.75
        power: {basis: vendor_max, max_kw: 12.8}
        weight_kg: 95
        annual_cost_usd: 210000
        status: shipping
        confidence: A
      b200-8x-air:
        name: DGX B200 capped at 12 kW
        vendor: NVIDIA
        accelerator: b200
        gpus: 8
        u: 10
        cooling: air
        liquid_fraction: 0
        power: {basis: vendor_max, max_kw: 12.0}
        weight_kg: 142.4
        status: shipping
        confidence: A
"""


def test_user_file_adds_a_node_with_bare_numbers_and_replaces_a_library_id(tmp_path):
    path = write(tmp_path, "my-specs.yaml", USER_NODE)
    cat = load_catalogue([path])
    ours = resolve(cat, "our-b200-5u")
    assert (ours.max_kw, ours.liquid_fraction, ours.weight_kg, ours.annual_cost_usd) == (12.8, 0.75, 95, 210000)
    assert ours.fp8_pflops == pytest.approx(36.0)          # the library's b200
    assert resolve(cat, "b200-8x-air").max_kw == 12.0       # replaced
    assert cat.origin["node:b200-8x-air"] == str(path)
    # entries without sources are attributed to the user's file
    node = cat.nodes["our-b200-5u"]
    assert node.sources == [f"user:{path}"] and node.weight_kg.sources == [f"user:{path}"]
    assert cat.sources[f"user:{path}"].kind == "user" and str(path) in cat.sources[f"user:{path}"].title
    assert node.weight_kg.status == "shipping" and node.weight_kg.confidence == "A"
    # the library itself is unchanged
    assert resolve(load_library(), "b200-8x-air").max_kw == 14.3


def test_user_file_with_a_projected_accelerator_gets_three_points(tmp_path):
    path = write(tmp_path, "future.yaml", """\
        accelerators:
          xpu:
            name: Future XPU
            vendor: Example
            status: projected
            confidence: C
            tdp_w: {nominal: 1500, low: 1200, high: 1800}
            hbm_gb: {nominal: 256, low: 192, high: 288}
            fp8_tflops_dense: {nominal: 6000, low: 5000, high: 7000}
        nodes:
          xpu-8x:
            name: 8x XPU
            vendor: Example
            accelerator: xpu
            gpus: 8
            u: 4
            cooling: liquid
            liquid_fraction: 0.8
            power: {basis: derived, overhead_kw: {nominal: 3, status: shipping}}
            weight_kg: 100
            status: shipping
            confidence: C
    """)
    cat = load_catalogue([path])
    assert cat.points("xpu-8x") == ("low", "nominal", "high")
    assert resolve(cat, "xpu-8x", "low").max_kw == pytest.approx(8 * 1.2 + 3)
    assert resolve(cat, "xpu-8x", "high").max_kw == pytest.approx(8 * 1.8 + 3)


def _user_node(**override) -> str:
    fields = {
        "accelerator": "b200",
        "liquid_fraction": "0.8",
        "power": "{basis: derived, overhead_kw: 3}",
        "status": "shipping",
    }
    fields.update(override)
    return textwrap.dedent(f"""\
        nodes:
          my-node:
            name: My node
            vendor: Me
            accelerator: {fields['accelerator']}
            gpus: 8
            u: 4
            cooling: liquid
            liquid_fraction: {fields['liquid_fraction']}
            power: {fields['power']}
            weight_kg: 90
            status: {fields['status']}
            confidence: C
        """)


@pytest.mark.parametrize("override, field_path, words", [
    ({"power": "{basis: derived, overhead_kw: {nominal: 3, sources: [no-such-source]}}"},
     "nodes.my-node.power.overhead_kw.sources", "unknown source id 'no-such-source'"),
    ({"power": "{basis: derived, overhead_kw: {nominal: 3, status: projected}}"},
     "nodes.my-node.power.overhead_kw", "needs both low and high"),
    ({"accelerator": "b2000"},
     "nodes.my-node.accelerator", "unknown accelerator 'b2000'"),
])
def test_bad_user_file_names_the_file_and_the_field(tmp_path, override, field_path, words):
    path = write(tmp_path, "bad-specs.yaml", _user_node(**override))
    with pytest.raises(InputError) as info:
        load_catalogue([path])
    message = str(info.value)
    assert str(path) in message
    assert field_path in message
    assert words in message
    assert all(p.file == str(path) for p in info.value.problems)


def test_unknown_accelerator_suggests_close_ids(tmp_path):
    path = write(tmp_path, "bad-specs.yaml", _user_node(accelerator="b2000"))
    with pytest.raises(InputError, match="did you mean.*b200"):
        load_catalogue([path])


def test_projected_entry_needs_ranges_on_inherited_figures(tmp_path):
    """A projected node makes its bare-number figures projected, and those have no range."""
    path = write(tmp_path, "bad-specs.yaml", _user_node(status="projected"))
    with pytest.raises(InputError) as info:
        load_catalogue([path])
    message = str(info.value)
    assert str(path) in message and "nodes.my-node" in message and "needs both low and high" in message


def test_projected_entry_error_names_the_figure(tmp_path):
    path = write(tmp_path, "bad-specs.yaml", _user_node(status="projected"))
    with pytest.raises(InputError) as info:
        load_catalogue([path])
    assert "nodes.my-node.liquid_fraction" in str(info.value) or "nodes.my-node.weight_kg" in str(info.value)


def test_bare_number_figure_is_read_as_nominal():
    assert Figure.model_validate(12.5).nominal == 12.5
    with pytest.raises(ValueError):
        Figure.model_validate({"nominal": 5, "low": 6, "high": 7})


# --- unknown ids -----------------------------------------------------------------------------------

def test_unknown_node_id_suggests_close_ids(cat):
    with pytest.raises(InputError) as info:
        cat.node("b200-8x")
    message = str(info.value)
    assert "unknown node id 'b200-8x'" in message
    assert "b200-8x-air" in message and "b200-8x-dlc" in message


def test_unknown_node_id_in_resolve(cat):
    with pytest.raises(InputError, match="mi400-8x"):
        resolve(cat, "mi400-8", "nominal")


# --- rackplan specs show ---------------------------------------------------------------------------

def test_specs_show_prints_every_figure_with_its_sources_for_every_node(cat):
    for nid, node in cat.nodes.items():
        text = spec_listing.show(cat, nid)
        flat = " ".join(text.split())
        assert text.startswith(f"{nid}: {node.name}")
        assert f"rack form factor {node.form_factor}" in flat and f"spec library {LIBRARY_VERSION}" in flat
        for sid in node.sources:
            assert f"  {sid}: " in text, (nid, sid)           # every cited source is listed with its title
        for point in cat.points(nid):
            assert f"  {point:<8} max_kw " in text, (nid, point)
        assert "design load" in text or "platform overhead" in text
        if node.disagreement:
            assert "Where sources disagree (node)" in text
    b300 = spec_listing.show(cat, "b300-8x-air")
    assert "19.7 kW" in b300 and "typical draw (not planned at)" in b300 and "15 kW" in b300
    assert "https://docs.nvidia.com/dgx-pdf/data-center-best-practices-with-dgx-b300-v1.pdf" in b300
    assert "read via:" in b300                                # read through a third party, and says so
    mi400 = spec_listing.show(cat, "mi400-8x")
    assert "2027-04 (range 2027-01 .. 2027-06)" in mi400 and "rent 25,000 USD/month" in mi400
    assert "0.8 (range 0.7-0.95, shown, not planned at)" in mi400   # the liquid share is not planned at its ends


def test_specs_show_json_and_listing(cat):
    doc = spec_listing.node_json(cat, "gb300-nvl72")
    assert doc["form_factor"] == "orv3" and doc["from"] == "gpu_specs/nvidia.yaml"
    assert doc["points"]["nominal"]["max_kw"] == 142.0 and doc["points"]["nominal"]["form_factor"] == "orv3"
    listing = spec_listing.listing_json(cat)
    assert listing["library_version"] == LIBRARY_VERSION and set(listing["nodes"]) == set(cat.nodes)
    assert "mi455x-helios" in spec_listing.table(cat)


def test_specs_show_unknown_id_suggests(cat):
    with pytest.raises(InputError, match="did you mean.*gb300-nvl72"):
        spec_listing.show(cat, "gb300-nvl7")


# --- the new fields in user files ------------------------------------------------------------------

def _minimal(extra: str) -> str:
    return textwrap.dedent("""\
        nodes:
          my-node:
            name: My node
            vendor: Me
            accelerator: b200
            gpus: 8
            u: 4
            cooling: air
            liquid_fraction: 0
            power: {basis: vendor_max, max_kw: 12}
            weight_kg: 90
            status: shipping
            confidence: C
        """) + textwrap.indent(textwrap.dedent(extra), "    ")


def test_user_file_prices_availability_and_form_factor(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(_minimal("""\
        form_factor: orv3
        chassis: our 4U tray
        price_usd: 400000
        rent_usd_month: {nominal: 30000, low: 25000, high: 35000}
        available: "2027-02"
        """), encoding="utf-8")
    cat = load_catalogue([path])
    nt = resolve(cat, "my-node")
    assert (nt.form_factor, nt.price_usd, nt.rent_usd_month, nt.available_from) == ("orv3", 400000, 30000, "2027-02")
    assert cat.nodes["my-node"].available.sources == [f"user:{path}"]
    assert cat.points("my-node") == ("nominal",)       # a shipping node's ranges are shown, not planned at


@pytest.mark.parametrize("extra, field_path, words", [
    ("form_factor: 8U air-cooled chassis\n", "nodes.my-node.form_factor", "describe the chassis under 'chassis'"),
    ('available: "2027-13"\n', "nodes.my-node.available", "YYYY-MM"),
    ('available: {nominal: "2027-05", low: "2027-06", high: "2027-09"}\n', "nodes.my-node.available",
     "low <= nominal <= high"),
    ("see_also: [no-such-node]\n", "nodes.my-node.see_also", "unknown node id 'no-such-node'"),
    ("price_usd: -5\n", "nodes.my-node", "price_usd must be at least 0"),
])
def test_user_file_errors_on_the_new_fields(tmp_path, extra, field_path, words):
    path = tmp_path / "bad.yaml"
    path.write_text(_minimal(extra), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_catalogue([path])
    message = str(info.value)
    assert field_path in message and words in message, message


def test_typical_draw_above_the_maximum_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(_minimal("").replace("power: {basis: vendor_max, max_kw: 12}",
                                         "power: {basis: vendor_max, max_kw: 12, typical_kw: 13}"), encoding="utf-8")
    with pytest.raises(InputError, match="the design load is the maximum"):
        load_catalogue([path])


def test_cli_specs_show(tmp_path, rackplan):
    import json

    out = rackplan("specs", "show", "gb200-nvl72")
    assert out.returncode == 0, out.stderr
    flat = " ".join(out.stdout.split())
    assert "132 kW" in flat and "nvidia-bcm-powershelf" in flat and "rack form factor orv3" in flat
    shown = rackplan("specs", "show", "mi455x-helios", "--json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["form_factor"] == "orw" and set(doc["points"]) == {"low", "nominal", "high"}
    bad = rackplan("specs", "show", "gb200-nvl73")
    assert bad.returncode == 2 and not bad.stdout
    (line,) = bad.stderr.splitlines()
    assert line.startswith("rackplan: <command line>: unknown node id 'gb200-nvl73'; did you mean gb200-nvl72")
    table = rackplan("specs")
    assert table.returncode == 0 and "spec library 2026.10" in table.stdout and "11.0 (9.6-12.4)" in table.stdout
