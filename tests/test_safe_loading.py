"""Input files are untrusted (issue #5): only safe YAML loading, bounded size, bounded alias
expansion, bounded nesting, unique keys; nothing in a file is executed or fetched; and whatever the
bytes, loading either succeeds or raises :class:`InputError` (never another exception).

The loader is exercised both as shipped (libyaml's safe loader where PyYAML has it) and with the
pure-Python safe loader that is used where libyaml is missing.
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
import os
import socket
import subprocess
import sys
import tracemalloc
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.inputs import yamlio
from planner.inputs.demand import load_demand
from planner.errors import InputError
from planner.inputs.facility import load_facility
from planner.inputs.specs import load_catalogue, load_library
from planner.inputs.yamlio import MAX_DEPTH, MAX_EXPANDED_NODES, MAX_FILE_BYTES, load_yaml, parse_yaml

REPO = Path(__file__).resolve().parents[1]
GOOD_FACILITY = REPO / "facilities" / "contract-example.yaml"
FUZZ = os.environ.get("RACKPLAN_FUZZ") == "1"


class _PurePythonLoader(yaml.SafeLoader):
    """What ``planner.inputs.yamlio`` falls back to without libyaml."""


@pytest.fixture(params=["shipped", "pure-python"])
def loader(request, monkeypatch):
    """Run a test with the loader rackplan ships with, and again with the pure-Python fallback."""
    if request.param == "pure-python":
        monkeypatch.setattr(yamlio, "_Loader", _PurePythonLoader)
    return request.param


def problems_of(exc: InputError) -> list[str]:
    return [str(p) for p in exc.problems]


# --- only safe loading: no tag constructs an object, runs or fetches anything ----------------------

UNSAFE = [
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/apply:subprocess.check_output [["touch", "{marker}"]]',
    '!!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
    "!!python/name:os.system",
    "!!python/module:os",
    '!!python/object:builtins.dict {{a: "{marker}"}}',
    '!include "http://127.0.0.1:9/{marker}"',
    '!<tag:yaml.org,2002:python/object/apply:os.system> ["touch {marker}"]',
]


@pytest.mark.parametrize("tag", UNSAFE)
def test_python_tags_are_refused_and_nothing_runs(tag, tmp_path, loader, monkeypatch):
    marker = tmp_path / "pwned"

    def no_network(*args, **kwargs):
        raise AssertionError("loading a file tried to open a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    text = f"version: 1\nname: {tag.format(marker=marker)}\n"
    with pytest.raises(InputError) as info:
        parse_yaml(text, "unsafe.yaml")
    (problem,) = info.value.problems
    assert problem.file == "unsafe.yaml" and problem.line == 2
    assert "unsupported YAML" in problem.message and "only plain data" in problem.message
    assert not marker.exists()


def test_python_tag_in_facility_file_through_the_cli_runs_nothing(tmp_path, rackplan):
    marker = tmp_path / "pwned"
    path = tmp_path / "facility.yaml"
    path.write_text(GOOD_FACILITY.read_text().replace(
        "name:", f'name: !!python/object/apply:os.system ["touch {marker}"]\nx:', 1))
    proc = rackplan("validate", path)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"rackplan: {path}:") and "unsupported YAML" in line and "only plain data" in line
    assert not marker.exists()


def test_standard_tags_give_plain_data_that_the_schema_then_refuses(tmp_path, loader):
    """``!!binary`` and ``!!set`` are safe (bytes, a set) but no field takes them."""
    path = tmp_path / "f.yaml"
    path.write_text(GOOD_FACILITY.read_text().replace("name:", "name: !!binary aGVsbG8=\nx:", 1))
    with pytest.raises(InputError) as info:
        load_facility(path)
    assert any(p.path == "name" for p in info.value.problems)


# --- size ------------------------------------------------------------------------------------------

def test_file_over_the_limit_is_refused_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as fh:  # sparse: 64 GB on paper, nothing on disk
        fh.truncate(64 * 1024**3)

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened: its size alone must refuse it")

    with monkeypatch.context() as m:  # the size is all the loader may look at
        m.setattr(Path, "open", no_reading)
        m.setattr(builtins, "open", no_reading)
        with pytest.raises(InputError, match="limit is") as info:
            load_yaml(path)
    assert f"file is {64 * 1024**3:,} bytes; the limit is {MAX_FILE_BYTES:,}" in str(info.value)


def test_file_just_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * MAX_FILE_BYTES)
    with pytest.raises(InputError, match="the limit is"):
        load_yaml(path)


def test_many_tiny_values_within_the_byte_limit_are_refused_fast_and_small(tmp_path):
    """Just under the byte limit, 2 million one-character values: refused once the value count passes
    its bound, without composing them all (that took minutes and over a gigabyte before). Checked by
    where it stops (the value that passes the bound, a quarter of the way into the file), that no node
    was composed, and the peak memory of a fresh interpreter doing it; not by a clock."""
    path = tmp_path / "many.yaml"
    lines = (MAX_FILE_BYTES - 100) // 4
    text = "existing:\n" + "- 1\n" * lines
    path.write_text(text)
    assert path.stat().st_size < MAX_FILE_BYTES
    probe = (
        "import resource, sys\n"
        "from planner.errors import InputError\n"
        "from planner.inputs import yamlio\n"
        "from planner.inputs.facility import load_facility\n"
        "def composed(*args, **kwargs):\n"
        "    raise AssertionError('a node was composed')\n"
        "yamlio._Loader.get_single_node = composed\n"
        "try:\n"
        "    load_facility(sys.argv[1])\n"
        "except InputError as exc:\n"
        "    (problem,) = exc.problems\n"
        "    print(problem.line, problem.message)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    problem, figure = proc.stdout.strip().rsplit("\n", 1)
    line, message = problem.split(" ", 1)
    assert message == f"more than {MAX_EXPANDED_NODES:,} YAML values in the file"
    # the top-level mapping, its key and the list are three values: the bound passes on the list's
    # value MAX_EXPANDED_NODES - 2, on line MAX_EXPANDED_NODES - 1 of more than 2 million
    assert int(line) == MAX_EXPANDED_NODES - 1 and lines > 4 * MAX_EXPANDED_NODES
    assert int(figure) < 400_000, f"peak memory {int(figure) / 1024:.0f} MB"


# --- alias expansion -------------------------------------------------------------------------------

def billion_laughs(levels: int = 9, width: int = 10) -> str:
    lines = ['a0: &a0 [' + ",".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\nversion: 1\nname: *a{levels - 1}\n"


def _never_constructed(*args, **kwargs):
    raise AssertionError("the document was constructed: the alias bomb was walked")


def test_billion_laughs_is_refused_fast_with_little_memory(loader, monkeypatch):
    """Refused from the composed graph (each anchor sized once), before anything expands it: nothing
    is constructed, and the peak memory stays small."""
    text = billion_laughs()
    monkeypatch.setattr(yamlio._Loader, "construct_document", _never_constructed)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="alias bomb"):
            parse_yaml(text, "bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024**2, f"peak {peak / 1024**2:.1f} MB"


def test_alias_bomb_through_the_facility_loader(tmp_path, loader, monkeypatch):
    """20^12 values once expanded: refused by the size of the graph, never constructed (an expansion
    would not finish at all)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(levels=12, width=20))
    monkeypatch.setattr(yamlio._Loader, "construct_document", _never_constructed)
    with pytest.raises(InputError, match="alias bomb"):
        load_facility(path)


def test_modest_aliases_are_fine(loader):
    text = "base: &b {u: 42, cooling: air}\nrack_types:\n  x: *b\n  y: *b\n"
    data, lines = parse_yaml(text, "ok.yaml")
    assert data["rack_types"]["x"] == data["rack_types"]["y"] == {"u": 42, "cooling": "air"}
    assert lines[("rack_types", "y")] == 4


def test_recursive_alias_is_refused(loader):
    with pytest.raises(InputError, match="recursive YAML alias"):
        parse_yaml("a: &x [1, *x]\n", "loop.yaml")


# --- nesting ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
@pytest.mark.parametrize("style", ["flow-list", "flow-map", "block"])
def test_deep_nesting_is_refused_without_recursion_error(depth, style, loader):
    if style == "flow-list":
        text = "a: " + "[" * depth + "]" * depth + "\n"
    elif style == "flow-map":
        text = "a: " + "{b: " * depth + "1" + "}" * depth + "\n"
    else:  # block nesting n deep takes n^2/2 bytes of indentation: stop at 3,000 levels (4.5 MB)
        depth = min(depth, 3_000)
        text = "".join(" " * i + "k:\n" for i in range(depth)) + " " * depth + "v\n"
    with pytest.raises(InputError) as info:
        parse_yaml(text, "deep.yaml")
    (problem,) = info.value.problems
    assert problem.file == "deep.yaml" and "nesting" in problem.message


def test_nesting_at_the_limit_is_accepted(loader):
    text = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    data, _ = parse_yaml(text, "ok.yaml")
    assert isinstance(data["a"], list)


def test_deep_nesting_through_the_cli_has_no_traceback(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("version: 1\nname: " + "[" * 200_000 + "]" * 200_000 + "\n")
    # a real process: a recursion that ran away could crash the interpreter, not just raise
    proc = subprocess.run([sys.executable, "-m", "planner.cli", "validate", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"rackplan: {path}:") and "nesting" in line


# --- duplicate keys --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, path, line", [
    ("a: 1\nb: 2\na: 3\n", "a", 3),
    ("site:\n  derate: 0.8\n  derate: 1.0\n", "site.derate", 3),
    ("x: {u: 1, u: 2}\n", "x.u", 1),
    ("x:\n  - {name: A}\n  - {name: B, name: C}\n", "x[1].name", 3),
    ("'a': 1\na: 2\n", "a", 2),                     # quoted and plain spell the same key
    ("1: x\n1: y\n", "1", 2),
    ("a: &r {k: 1}\nb: *r\nc: {k: 1, k: 2}\n", "c.k", 3),
])
def test_duplicate_keys_are_refused_with_path_and_line(text, path, line, loader):
    with pytest.raises(InputError) as info:
        parse_yaml(text, "dup.yaml")
    (problem,) = info.value.problems
    assert (problem.path, problem.line, problem.message) == (path, line, "duplicate key")


def test_every_duplicate_key_is_reported():
    with pytest.raises(InputError) as info:
        parse_yaml("a: 1\na: 2\nb: {c: 1, c: 2}\nb: 3\n", "dup.yaml")
    assert sorted(p.path for p in info.value.problems) == ["a", "b", "b.c"]


def test_merge_keys_are_not_duplicates(loader):
    data, _ = parse_yaml("base: &b {u: 42, air_kw: 35}\nrack: {<<: *b, air_kw: 40}\n", "merge.yaml")
    assert data["rack"] == {"u": 42, "air_kw": 40}


# --- lines name the key, not the value below it ----------------------------------------------------

def test_problem_line_is_the_line_of_the_key(tmp_path, loader):
    path = tmp_path / "d.yaml"
    path.write_text("# comment\nnode:\n  b200-8x-air: 4\n")
    with pytest.raises(InputError) as info:
        load_demand(str(path), load_library())
    assert [(p.path, p.line) for p in info.value.problems] == [("node", 2)]


# --- whatever the bytes: a result or an InputError, never another exception ------------------------

YAMLISH = st.text(
    alphabet=st.sampled_from(list("abcxyz019 -:.,[]{}&*!|>'\"#%@`?\n\t\\") + ["\x00", "\xe9", "\u2028", "\ufeff"]),
    max_size=200,
)
SETTINGS = settings(max_examples=2000 if FUZZ else 150, deadline=None, derandomize=not FUZZ, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
"""150 derandomized examples per loader in ``make test`` (a second or two each); ``make fuzz``
(``RACKPLAN_FUZZ=1``) runs 2,000, randomized."""


@SETTINGS
@given(text=YAMLISH)
def test_any_text_parses_or_raises_input_error(text):
    try:
        parse_yaml(text, "fuzz.yaml")
    except InputError as exc:
        assert all(p.file == "fuzz.yaml" and p.message for p in exc.problems)


_BASE_FACILITY = yaml.safe_load(GOOD_FACILITY.read_text())
_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                              max_size=2),
)


def _leaves(data, path=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _leaves(v, path + (i,))
    yield path


def _set(data, path, value):
    if not path:
        return value
    data = copy.deepcopy(data)
    holder = data
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = value
    return data


_PATHS = list(_leaves(_BASE_FACILITY))


def _edited(data, edits):
    """``data`` with each (path, value) edit applied where the path still exists."""
    for path, value in edits:
        try:
            data = _set(data, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    return data


@SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(_PATHS), _SCALAR), min_size=1, max_size=3))
def test_mutated_facility_loads_or_raises_input_error(tmp_path_factory, edits):
    """Replace up to three values anywhere in a valid facility with values of any type: loading gives
    a facility or an InputError whose every problem names the file; no other exception, ever."""
    data = _edited(_BASE_FACILITY, edits)
    target = tmp_path_factory.mktemp("mut") / "facility.yaml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        loaded = load_facility(target)
    except InputError as exc:
        assert all(p.file == str(target) and p.message for p in exc.problems)
        return
    assert len(loaded.facility.racks) > 0


_DEMANDS = st.fixed_dictionaries({}, optional={
    "nodes": st.one_of(_SCALAR, st.dictionaries(st.sampled_from(["b200-8x-air", "mi400-8x", "b200-8x", "", "1"]),
                                                _SCALAR, max_size=3)),
    "target": st.one_of(_SCALAR, st.dictionaries(st.sampled_from(["gpus", "fp8_pflops", "hbm_tb", "tflops"]),
                                                 _SCALAR, max_size=2)),
    "candidates": st.one_of(_SCALAR, st.lists(st.sampled_from(["mi400-8x", "b200-8x-air", "x"]), max_size=3)),
    "fill": _SCALAR,
    "tdp": st.one_of(_SCALAR, st.dictionaries(st.sampled_from(["b200", "mi400", "nope"]), _SCALAR, max_size=2)),
})


@SETTINGS
@given(demand=_DEMANDS)
def test_any_demand_file_loads_or_raises_input_error(tmp_path_factory, demand):
    target = tmp_path_factory.mktemp("dem") / "demand.yaml"
    target.write_text(yaml.safe_dump(demand))
    try:
        load_demand(str(target), _library())
    except InputError as exc:
        assert all(p.file == str(target) and p.message for p in exc.problems)


_SPEC_NODE = {"name": "N", "vendor": "V", "accelerator": "b200", "gpus": 8, "u": 4, "cooling": "liquid",
              "liquid_fraction": 0.8, "power": {"basis": "derived", "overhead_kw": 3}, "weight_kg": 90,
              "status": "shipping", "confidence": "C"}


@SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(list(_leaves(_SPEC_NODE))), _SCALAR), min_size=1, max_size=2))
def test_any_spec_file_loads_or_raises_input_error(tmp_path_factory, edits):
    """``load_catalogue`` of a user spec file with up to two values replaced by values of any type.
    The bundled library it starts from is read once for all examples (a fresh copy of its tables each
    time: merging a user file only replaces entries, so the copy is what reading it again gives)."""
    node = _edited(_SPEC_NODE, edits)
    target = tmp_path_factory.mktemp("spec") / "specs.yaml"
    target.write_text(yaml.safe_dump({"schema": "rackplan.specs/1", "nodes": {"my-node": node}}))
    try:
        with mock.patch("planner.inputs.specs.load_library", _fresh_library):
            cat = load_catalogue([target])
    except InputError as exc:
        assert all(p.file == str(target) and p.message for p in exc.problems)
        return
    assert cat.origin["node:my-node"] == str(target) and set(_library().nodes) < set(cat.nodes)


_LIB = []


def _library():
    if not _LIB:
        _LIB.append(load_library())
    return _LIB[0]


def _fresh_library():
    """The bundled library as ``load_library`` gives it, from the copy read once."""
    lib = _library()
    return dataclasses.replace(lib, sources=dict(lib.sources), accelerators=dict(lib.accelerators),
                               nodes=dict(lib.nodes), origin=dict(lib.origin))


def test_fresh_library_is_the_library():
    assert _fresh_library() == load_library()
