"""Outputs written all or nothing: files staged next to their destination and renamed into place.

An interrupted run leaves either the old file or the new one, never half of one; an output that
cannot be written is reported like bad input (the user's ``-o`` is wrong), not as a bug.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from planner.errors import InputError


@contextmanager
def atomic_outputs(directory: str | os.PathLike) -> Iterator["OutputSet"]:
    """Collect output files and move them into ``directory`` only if the whole block succeeds."""
    out = OutputSet(Path(directory))
    try:
        yield out
        out.commit()
    except BaseException:
        out.discard()
        raise


def _unwritable(path: Path, exc: OSError) -> InputError:
    """An output that cannot be written is the user's to fix (``-o`` names a file, a read-only or
    missing place), not a bug: it is reported like bad input."""
    return InputError.one("<command line>", "-o", f"cannot write '{path}': {exc.strerror or exc}")


def check_out_dir(directory: str | os.PathLike) -> None:
    """Refuse at once an output directory that cannot be written (before a long solve, not after)."""
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise InputError.one("<command line>", "-o", f"'{path}' is a file, not a directory")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError.one("<command line>", "-o", f"cannot write '{path}': '{probe}' is not writable")


class OutputSet:
    """Files staged in a temporary directory next to the destination, moved into place on commit.

    The commit is all or nothing: files it replaces are first set aside, and if any move fails every
    file already moved is taken back and the set-aside ones restored. A subdirectory declared with
    :meth:`replace_dir` is replaced as a whole, so files from an earlier run do not linger in it, and a
    file declared with :meth:`retire` is removed.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self._staged: list[tuple[Path, Path]] = []
        self._whole: list[str] = []
        self._retired: list[str] = []
        self._tmpdir: Path | None = None

    def _stage_dir(self) -> Path:
        if self._tmpdir is None:
            if self.directory.exists() and not self.directory.is_dir():
                raise InputError.one("<command line>", "-o", f"'{self.directory}' is a file, not a directory")
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._tmpdir = Path(tempfile.mkdtemp(prefix=".rackplan-", dir=self.directory))
                (self._tmpdir / ".new").mkdir()
                (self._tmpdir / ".old").mkdir()
            except OSError as exc:
                raise _unwritable(self.directory, exc) from None
        return self._tmpdir / ".new"

    def replace_dir(self, relative: str) -> None:
        """Replace the subdirectory ``relative`` as a whole on commit (an empty one if nothing is written)."""
        (self._stage_dir() / relative).mkdir(parents=True, exist_ok=True)
        self._whole.append(relative)

    def retire(self, relative: str) -> None:
        """Remove the file ``relative`` on commit if an earlier run left it there: an output this run does
        not write (``power.csv`` of a facility without a power tree, ``racks.xlsx`` with ``--no-xlsx``)
        must not linger beside the new ones as if it belonged to them. Restored if the commit fails."""
        self._retired.append(relative)

    def write_text(self, relative: str, text: str) -> Path:
        return self.write_bytes(relative, text.encode("utf-8"))

    def write_bytes(self, relative: str, data: bytes) -> Path:
        target = self.directory / relative
        staged = self._stage_dir() / relative
        try:
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(data)
        except OSError as exc:
            raise _unwritable(target, exc) from None
        if not any(relative.startswith(w.rstrip("/") + "/") for w in self._whole):
            self._staged.append((staged, target))
        return target

    def write_json(self, relative: str, obj: Any) -> Path:
        return self.write_bytes(relative, json_bytes(obj))

    def commit(self) -> None:
        if self._tmpdir is None:
            return
        moves = self._staged + [(self._stage_dir() / w, self.directory / w) for w in self._whole]
        for staged, target in moves:  # never put a file where a directory is, or the other way round
            if target.exists() and target.is_dir() != staged.is_dir():
                self.discard()
                kind = "a directory" if target.is_dir() else "a file"
                raise InputError.one("<command line>", "-o", f"cannot write '{target}': it is {kind}")
        old = self._tmpdir / ".old"
        done: list[tuple[Path, Path, Path | None]] = []  # (staged, target, set-aside copy)
        retired: list[tuple[Path, Path]] = []  # (target, set-aside copy)
        try:
            for i, relative in enumerate(self._retired):
                target = self.directory / relative
                if target.is_file() and not any(t == target for _, t in moves):
                    os.replace(target, old / f"retired-{i}")
                    retired.append((target, old / f"retired-{i}"))
            for i, (staged, target) in enumerate(moves):
                target.parent.mkdir(parents=True, exist_ok=True)
                aside = None
                if target.exists():
                    aside = old / str(i)
                    os.replace(target, aside)
                done.append((staged, target, aside))
                os.replace(staged, target)
        except OSError as exc:
            for staged, target, aside in reversed(done):
                if target.exists() and not staged.exists():
                    os.replace(target, staged)
                if aside is not None and aside.exists():
                    os.replace(aside, target)
            for target, aside in retired:
                os.replace(aside, target)
            self.discard()
            raise _unwritable(moves[len(done) - 1][1] if done else self.directory, exc) from None
        self.discard()

    def discard(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def json_bytes(obj: Any) -> bytes:
    """A document as indented UTF-8 JSON (orjson: numpy numbers and arrays written directly)."""
    import orjson

    return orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n"


def write_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write one file atomically (temporary file in the same directory, then rename)."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise _unwritable(target, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise _unwritable(target, exc) from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target
