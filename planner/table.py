"""A small column table: what the plan path needs of a data frame, without importing pandas.

``rackplan plan`` keeps one row per rack (28,800 on a campus) and one per rack class. Importing pandas
alone took about 0.2 s of a 2 s budget, and the plan path used only columns as numpy arrays, row
selection and grouping by a few keys. :class:`Table` holds exactly that: named numpy columns of equal
length (text and tuples in object arrays). :meth:`Table.to_pandas` hands a table to code that wants a
data frame (the studies, the tests).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np


def column(values: Any, length: int | None = None) -> np.ndarray:
    """``values`` as a 1-D column: numbers as numpy arrays; text, tuples and mixed values as an object
    array (one element per value, never split into a second dimension); a scalar repeated ``length``
    times."""
    if isinstance(values, np.ndarray) and values.ndim == 1:
        return values
    if np.isscalar(values) or values is None:
        if length is None:
            raise ValueError("a scalar column needs a length")
        out = np.empty(length, dtype=object if isinstance(values, str) or values is None else type(values))
        out[:] = values
        return out
    items = values if isinstance(values, list) else list(values)
    if items and not isinstance(items[0], (tuple, list, dict, set)):
        kinds = {type(v) for v in items}
        if kinds <= {bool, np.bool_}:
            return np.array(items, dtype=bool)
        if kinds <= {int, float, np.int64, np.float64}:  # a bool is none of these
            return np.array(items)
        if kinds == {str}:
            return np.array(items, dtype=object)
    out = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        out[i] = v
    return out


class Table:
    """Named columns of equal length. ``t["x"]`` is a numpy array; ``t["x"] = values`` sets one;
    ``t.rows(mask_or_index)`` selects rows; ``len(t)`` counts them."""

    __slots__ = ("_cols", "_len")

    def __init__(self, columns: Mapping[str, Any] | None = None, length: int | None = None):
        self._cols: dict[str, np.ndarray] = {}
        self._len = length
        for name, values in (columns or {}).items():
            self[name] = values

    def __len__(self) -> int:
        return self._len or 0

    def __contains__(self, name: object) -> bool:
        return name in self._cols

    def __iter__(self) -> Iterator[str]:
        return iter(self._cols)

    @property
    def columns(self) -> list[str]:
        return list(self._cols)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._cols[name]

    def __setitem__(self, name: str, values: Any) -> None:
        col = column(values, self._len)
        if self._len is None:
            self._len = len(col)
        elif len(col) != self._len:
            raise ValueError(f"column {name!r} has {len(col)} values, the table {self._len} rows")
        self._cols[name] = col

    def copy(self) -> Table:
        return Table({name: col.copy() for name, col in self._cols.items()}, self._len)

    def rows(self, which: np.ndarray | Sequence[int]) -> Table:
        """The rows a boolean mask or an index array picks, in that order."""
        which = np.asarray(which)
        n = int(which.sum()) if which.dtype == bool else len(which)
        return Table({name: col[which] for name, col in self._cols.items()}, n)

    def groups(self, *keys: str) -> tuple[np.ndarray, list[tuple]]:
        """Each row's group among the distinct values of ``keys`` (numbered in order of first
        appearance), and the groups' key values."""
        return group_ids(*(self._cols[k] for k in keys))

    def to_pandas(self):  # noqa: ANN201 - pandas is imported only here
        import pandas as pd

        return pd.DataFrame({name: col for name, col in self._cols.items()})

    def __repr__(self) -> str:
        return f"Table({len(self)} rows: {', '.join(self._cols)})"


def group_ids(*arrays: Iterable[Any]) -> tuple[np.ndarray, list[tuple]]:
    """For rows given column by column: each row's group number (in order of first appearance) and the
    distinct key tuples, like ``DataFrame.groupby(keys, sort=False).ngroup()``."""
    index: dict[tuple, int] = {}
    ids = [index.setdefault(key, len(index)) for key in zip(*(np.asarray(a).tolist() for a in arrays))]
    return np.asarray(ids, dtype=np.int64), list(index)


def group_sums(ids: np.ndarray, groups: int, values: np.ndarray) -> np.ndarray:
    """Per group, the sum of ``values`` over its rows, correctly rounded (``math.fsum``), so that the
    figures a plan reports do not depend on the order racks are added in."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(ids, kind="stable")
    bounds = np.searchsorted(ids[order], np.arange(groups + 1))
    ranked = values[order].tolist()
    return np.array([math.fsum(ranked[a:b]) for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())], dtype=float)
