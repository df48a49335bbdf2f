"""The commands the README and docs show are commands rackplan takes: every ``rackplan ...`` line of a
shell block parses with rackplan's own argument parser (no flag renamed or dropped under the docs),
and the ones that run on bundled files alone (validate, specs, plan) run and exit 0."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from planner.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown_commands() -> list[tuple[str, list[str]]]:
    """(where, argv after ``rackplan``) for every command line in the docs' shell blocks."""
    out = []
    for doc in DOCS:
        in_block, pending, start = False, "", 0
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                in_block = line.strip() in ("```sh", "```bash", "```console", "```shell")
                continue
            if not in_block:
                continue
            text = re.sub(r"\s+#.*$", "", line).rstrip()  # a trailing comment
            if pending:
                pending += " " + text.strip()
            elif re.match(r"^(\.venv/bin/)?rackplan\s", text.strip()):
                pending, start = text.strip(), n
            else:
                continue
            if pending.endswith("\\"):
                pending = pending[:-1].rstrip()
                continue
            argv = shlex.split(pending.split(" > ")[0].split(" | ")[0])
            out.append((f"{doc.relative_to(ROOT)}:{start}", argv[1:]))
            pending = ""
    return out


COMMANDS = shown_commands()


def test_the_docs_show_commands():
    where = {w.split(":")[0] for w, _ in COMMANDS}
    assert {"README.md", "docs/netbox.md"} <= where and len(COMMANDS) >= 20


@pytest.mark.parametrize("argv", [a for _, a in COMMANDS], ids=[w for w, _ in COMMANDS])
def test_every_shown_command_parses(argv):
    args = build_parser().parse_args(argv)  # argparse exits 2 on an unknown flag or a bad choice
    assert args.command == argv[0]


RUNNABLE = [(w, a) for w, a in COMMANDS if a[0] in ("validate", "specs", "plan")
            and all(not x.endswith(".yaml") or (ROOT / x).is_file() for x in a)]


@pytest.mark.parametrize("argv", [a for _, a in RUNNABLE], ids=[w for w, _ in RUNNABLE])
def test_shown_commands_on_bundled_files_run(argv, rackplan, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    extra = ["--no-xlsx", "-q", "-o", str(tmp_path / "out")] if argv[0] == "plan" else []
    ran = rackplan(*argv, *extra)
    assert ran.returncode == 0, ran.stderr
    if argv[0] == "plan":
        assert (tmp_path / "out" / "plan.json").is_file() and "independent check" not in ran.stderr  # -q
