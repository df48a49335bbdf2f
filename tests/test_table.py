"""The column table of the plan path (``planner.table``), and that planning never imports pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from planner.table import Table, column, group_ids, group_sums

ROOT = Path(__file__).resolve().parents[1]


def test_columns_keep_text_tuples_and_numbers_apart():
    assert column([1, 2, 3]).dtype.kind == "i"
    assert column([1, 2.5]).dtype.kind == "f"
    assert column([True, False]).dtype == bool
    parts = column([(), ((4, 1), (2, None))])
    assert parts.dtype == object and parts.shape == (2,) and parts[1] == ((4, 1), (2, None))
    assert column(["a", "b"]).tolist() == ["a", "b"]
    assert column(0, 3).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="needs a length"):
        column(0)


def test_a_table_selects_rows_and_refuses_a_column_of_the_wrong_length():
    t = Table({"id": ["a", "b", "c"], "kw": [1.0, 2.0, 3.0]})
    assert len(t) == 3 and t.columns == ["id", "kw"] and "kw" in t
    picked = t.rows(t["kw"] > 1.5)
    assert picked["id"].tolist() == ["b", "c"] and len(picked) == 2
    assert t.rows([2, 0])["kw"].tolist() == [3.0, 1.0]
    copy = t.copy()
    copy["kw"][0] = 9.0
    assert t["kw"][0] == 1.0
    with pytest.raises(ValueError, match="has 2 values, the table 3 rows"):
        t["x"] = [1, 2]
    assert t.to_pandas()["kw"].sum() == 6.0


def test_groups_number_keys_in_order_of_first_appearance_and_sum_exactly():
    ids, keys = group_ids(["h2", "h1", "h2", "h1"], ["A", "A", "A", "B"])
    assert ids.tolist() == [0, 1, 0, 2] and keys == [("h2", "A"), ("h1", "A"), ("h1", "B")]
    # 0.1 + 0.2 + 0.3 summed left to right is 0.6000000000000001; the exact sum rounds to 0.6
    sums = group_sums(np.array([0, 0, 0, 1]), 2, np.array([0.1, 0.2, 0.3, 5.0]))
    assert sums.tolist() == [0.6, 5.0]


def test_planning_does_not_import_pandas(tmp_path):
    """pandas costs about 0.2 s to import: the plan command keeps to numpy (a fresh interpreter, since
    other tests in this process may have imported it)."""
    code = (
        "import sys\n"
        "from planner.cli import main\n"
        f"rc = main(['plan', {str(ROOT / 'facilities' / 'ai-building.yaml')!r}, '--nodes', 'b200-8x-dlc=8', '-q',"
        f" '--no-xlsx', '-o', {str(tmp_path / 'o')!r}])\n"
        "assert rc == 0, rc\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
