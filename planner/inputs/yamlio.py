"""Safe, bounded reading of input files and atomic writing of output files.

Input files are untrusted. They are read with PyYAML's *safe* loader only (no tag ever constructs a
Python object), their size is bounded, alias expansion is bounded (a "billion laughs" file is refused
before anything walks it), mapping keys must be unique, and nothing in a file is ever executed or
fetched. Every problem becomes a :class:`~planner.errors.Problem` that names the file, the path of the
field inside it and, where known, its line.

Outputs are written to a temporary file in the destination directory and renamed into place, so an
interrupted run leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import difflib
import os
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import InputError, Problem

MAX_FILE_BYTES = 8 * 1024 * 1024
"""Largest YAML input file read [bytes]; the 28,800-rack campus descriptor is 53 kB."""
MAX_JSON_BYTES = 128 * 1024 * 1024
"""Largest JSON document read back [bytes]: a plan.json rackplan wrote for the 28,800-rack campus is
16 MB. JSON has no aliases, so its size bounds the work of parsing it."""
MAX_EXPANDED_NODES = 500_000
"""Largest number of YAML nodes after alias expansion; more is refused as an alias bomb."""
MAX_DEPTH = 64
"""Deepest nesting of YAML collections accepted."""

LineMap = dict[tuple, int]
"""Path of a field (tuple of keys and list indices) -> 1-based line where it starts."""


def format_path(loc: Iterable[Any]) -> str:
    """``('halls', 0, 'rows', 2, 'name')`` -> ``halls[0].rows[2].name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def line_for(lines: LineMap, loc: Iterable[Any]) -> int | None:
    """Line of the deepest known prefix of ``loc``."""
    loc = tuple(loc)
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def read_text(path: str | os.PathLike, display: str | None = None, limit: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 text file with the checks every input gets (exists, is a file, at most ``limit``
    bytes, text)."""
    name = display or str(path)
    p = Path(path)
    if not p.exists():
        raise InputError.one(name, "", "no such file")
    if p.is_dir():
        raise InputError.one(name, "", "is a directory, not a file")
    if not p.is_file():
        raise InputError.one(name, "", "is not a regular file")
    size = p.stat().st_size
    if size > limit:
        raise InputError.one(name, "", f"file is {size:,} bytes; the limit is {limit:,}")
    raw = p.read_bytes()
    if b"\x00" in raw:
        raise InputError.one(name, "", "binary file (contains NUL bytes); expected YAML text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError.one(
            name, "", f"not UTF-8 text (invalid byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    return text


_SafeBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (about 50x faster than the pure-Python one and
it caps nesting itself), else the pure-Python safe loader. Both construct plain data only."""


class _Loader(_SafeBase):  # type: ignore[misc,valid-type]
    """The safe loader; its only difference is that we compose and check before constructing."""


def _mark_line(mark: Any) -> int | None:
    return None if mark is None else mark.line + 1


_COLLECTION_START = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_COLLECTION_END = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
_VALUE = (yaml.ScalarEvent, yaml.AliasEvent)


def _check_events(text: str, name: str) -> None:
    """Count the file's YAML values and nesting from the parser's events, before any node is built,
    and stop as soon as either bound is passed: a file of millions of tiny values (within the byte
    limit) would otherwise take minutes and gigabytes to compose."""
    loader = _Loader(text)
    try:
        values = depth = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, _VALUE):
                values += 1
            elif isinstance(event, _COLLECTION_START):
                values += 1
                depth += 1
                if depth > MAX_DEPTH:
                    raise InputError.one(name, "", f"nesting deeper than {MAX_DEPTH} levels",
                                         _mark_line(event.start_mark))
            elif isinstance(event, _COLLECTION_END):
                depth -= 1
            if values > MAX_EXPANDED_NODES:
                raise InputError.one(name, "", f"more than {MAX_EXPANDED_NODES:,} YAML values in the file",
                                     _mark_line(event.start_mark))
    finally:
        loader.dispose()


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> str:
    """``context problem``, with the offending character where libyaml's message leaves it out."""
    what = " ".join(x for x in (exc.context, exc.problem) if x)
    mark = exc.problem_mark
    index = getattr(mark, "index", None)
    if "cannot start any token" in what and "'" not in what and index is not None and index < len(text):
        what += f" ({text[index]!r})"
    return what


def _check_graph(node: yaml.Node, name: str) -> None:
    """Refuse recursive aliases, alias bombs and absurd nesting, before anything walks the data."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(n: yaml.Node, depth: int) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if depth > MAX_DEPTH:
            raise InputError.one(name, "", f"nesting deeper than {MAX_DEPTH} levels", _mark_line(n.start_mark))
        if key in visiting:
            raise InputError.one(name, "", "recursive YAML alias", _mark_line(n.start_mark))
        visiting.add(key)
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(c, depth + 1) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        visiting.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise InputError.one(
                name, "", f"YAML expands to more than {MAX_EXPANDED_NODES:,} values (alias bomb?)"
            )
        sizes[key] = total
        return total

    size(node, 0)


def _walk(node: yaml.Node, path: tuple, lines: LineMap, problems: list[Problem], name: str,
          seen: set[int], shown: str = "") -> None:
    """Record the line of every field and flag duplicate mapping keys. ``shown`` is ``path`` as the
    user reads it (a mapping key that is a number is still a key, ``nodes.1``, not an index)."""
    lines.setdefault(path, _mark_line(node.start_mark) or 0)
    if id(node) in seen:  # an alias: its fields were recorded where the anchor is
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _walk(child, path + (i,), lines, problems, name, seen, f"{shown}[{i}]")
    elif isinstance(node, yaml.MappingNode):
        keys: set[Any] = set()
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                problems.append(Problem(name, shown, "mapping keys must be plain values",
                                        _mark_line(k.start_mark)))
                continue
            if k.tag == "tag:yaml.org,2002:merge":
                continue
            key: Any = k.value
            if k.tag == "tag:yaml.org,2002:int":
                try:
                    key = int(k.value)
                except ValueError:
                    pass
            key_shown = f"{shown}.{k.value}" if shown else str(k.value)
            if key in keys:
                problems.append(Problem(name, key_shown, "duplicate key", _mark_line(k.start_mark)))
            keys.add(key)
            line = _mark_line(k.start_mark) or 0  # the key's line, not its value's
            lines.setdefault(path + (key,), line)
            if not isinstance(key, str):  # also as a string: how a pydantic error on the key names it
                lines.setdefault(path + (str(key),), line)
            _walk(v, path + (key,), lines, problems, name, seen, key_shown)


def parse_yaml(text: str, name: str) -> tuple[Any, LineMap]:
    """Parse one YAML document safely. Returns the data and a map from field path to line."""
    loader = _Loader(text)
    try:
        try:
            _check_events(text, name)
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise InputError.one(name, "", f"malformed YAML: {_syntax_problem(exc, text)}",
                                 _mark_line(mark)) from None
        except yaml.YAMLError as exc:
            raise InputError.one(name, "", f"malformed YAML: {exc}") from None
        except RecursionError:
            raise InputError.one(name, "", "nesting too deep") from None
        if node is None:
            return None, {}
        _check_graph(node, name)
        lines: LineMap = {}
        problems: list[Problem] = []
        _walk(node, (), lines, problems, name, set())
        if problems:
            raise InputError(problems)
        try:
            data = loader.construct_document(node)
        except yaml.constructor.ConstructorError as exc:
            raise InputError.one(
                name, "", f"unsupported YAML: {exc.problem} (only plain data is accepted)",
                _mark_line(exc.problem_mark),
            ) from None
        except yaml.YAMLError as exc:
            raise InputError.one(name, "", f"malformed YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, lines


def load_yaml(path: str | os.PathLike, display: str | None = None) -> tuple[Any, LineMap]:
    """Read and parse a YAML input file (bounded, safe). Returns the data and its line map."""
    name = display or str(path)
    return parse_yaml(read_text(path, name), name)


# --- pydantic errors -> problems ------------------------------------------------------------------

def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model inside a field annotation, and whether it sits in a list or dict."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _inner_model(args[0])
    if origin in (list, dict):
        return _inner_model(args[-1])[0], True
    if origin is not None:  # Optional / Union: the first branch that holds a model
        for arg in args:
            model, container = _inner_model(arg)
            if model is not None:
                return model, container
        return None, False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model whose fields sit at ``loc`` (to list the keys allowed there)."""
    current: type[BaseModel] | None = model
    i = 0
    while i < len(loc) and current is not None:
        field = current.model_fields.get(loc[i]) if isinstance(loc[i], str) else None
        if field is None:
            return None
        current, container = _inner_model(field.annotation)
        i += 2 if container else 1  # a container's next element is the index or key
    return current


def _message(err: dict, model: type[BaseModel] | None) -> str:
    kind = err.get("type", "")
    loc = tuple(err.get("loc", ()))
    if kind == "extra_forbidden" and loc:
        key = loc[-1]
        parent = _model_at(model, loc[:-1]) if model else None
        if parent is not None:
            allowed = sorted(parent.model_fields)
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            return f"unknown key '{key}' (allowed: {', '.join(allowed)}){hint}"
        return f"unknown key '{key}'"
    if kind == "missing":
        return "required field is missing"
    msg = err.get("msg", "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind not in ("value_error", "assertion_error") and "input" in err and not isinstance(err["input"], (dict, list)):
        shown = repr(err["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg = f"{msg[0].lower()}{msg[1:]} (got {shown})"
    return msg[0].lower() + msg[1:] if msg else msg


def problems_from_validation(exc: ValidationError, name: str, lines: LineMap,
                             model: type[BaseModel] | None = None, prefix: tuple = ()) -> list[Problem]:
    """Turn a pydantic ValidationError into one problem per error, with paths and lines."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        raw = tuple(err.get("loc", ()))
        # a mapping key that is itself wrong ('[key]' follows it) is a key, not a list index
        raw = tuple(str(p) if isinstance(p, int) and raw[i + 1:i + 2] == ("[key]",) else p
                    for i, p in enumerate(raw))
        loc = prefix + tuple(p for p in raw if not (isinstance(p, str) and p.startswith("function-")))
        # drop pydantic's union/tag noise ('list[...]', 'literal[...]')
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("int", "float", "str"))))
        out.append(Problem(name, format_path(loc), _message({**err, "loc": loc[len(prefix):]}, model),
                           line_for(lines, loc)))
    # one line per problem: the same path and message twice (union branches) is reported once
    unique: dict[tuple, Problem] = {}
    for p in out:
        unique.setdefault((p.path, p.message), p)
    return list(unique.values())


def validate(model: type[BaseModel], data: Any, name: str, lines: LineMap) -> Any:
    """Validate ``data`` against ``model``; raise :class:`InputError` with every problem found."""
    if data is None:
        raise InputError.one(name, "", "file is empty; expected a YAML mapping")
    if not isinstance(data, dict):
        raise InputError.one(name, "", f"expected a YAML mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, name, lines, model)) from None
