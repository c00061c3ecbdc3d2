"""Query results streamed into typed pandas columns, a chunk of rows at a time.

``Result.all()`` holds every row as a Python tuple of Python objects (a ``Decimal`` per amount, a
new ``str`` per repeated label) and ``pd.DataFrame(rows)`` then copies them into object columns:
at a million customers that is gigabytes for a few hundred megabytes of numbers. Reading with
``fetchmany`` and converting each chunk at once to ``float64``/``int64``/``datetime64`` arrays (and
labels to shared ``str`` objects) keeps one chunk of Python rows alive at a time. The values are
the ones the ``Result.all()`` route gives after its own ``astype(float)``: ``float(Decimal)``,
``None`` → NaN/NaT.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

Kind = Literal["int", "float", "datetime", "label", "text"]
CHUNK_ROWS = 50_000


def _convert(values: tuple[Any, ...], kind: Kind, labels: dict[Any, Any]) -> np.ndarray[Any, Any]:
    """One chunk of one column as a typed array (``labels`` interns repeated strings)."""
    if kind == "int":
        return np.array(values, dtype=np.int64)
    if kind == "float":
        return np.array(values, dtype=np.float64)  # Decimal → float(), None → NaN
    if kind == "datetime":
        return np.array(values, dtype="datetime64[us]")  # None → NaT
    out = np.empty(len(values), dtype=object)
    out[:] = [labels.setdefault(v, v) for v in values] if kind == "label" else values
    return out


def read_frame(
    conn: Connection,
    query: Any,
    kinds: Mapping[str, Kind],
    *,
    index: str | None = None,
    default: Kind | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> pd.DataFrame:
    """Run ``query`` and return its rows as a frame with one typed column per ``kinds`` entry.

    ``kinds`` names every column of the query (in any order): ``int`` (no NULLs), ``float``
    (NULL → NaN), ``datetime`` (``datetime64[us]``, NULL → NaT), ``label`` (few distinct
    strings, stored once each) or ``text`` (object column as fetched); columns it does not name
    are read as ``default``. Row order is the query's.
    """
    result = conn.execute(query)
    names = list(result.keys())
    if default is not None:
        kinds = {name: kinds.get(name, default) for name in names}
    parts: dict[str, list[np.ndarray[Any, Any]]] = {name: [] for name in names}
    labels: dict[str, dict[Any, Any]] = {name: {} for name in names}
    while rows := result.fetchmany(chunk_rows):
        for name, values in zip(names, zip(*rows, strict=True), strict=True):
            parts[name].append(_convert(values, kinds[name], labels[name]))
        del rows
    frame = pd.DataFrame(
        {
            name: (np.concatenate(chunks) if chunks else _convert((), kinds[name], labels[name]))
            for name, chunks in parts.items()
        },
        columns=names,
    )
    return frame.set_index(index) if index is not None else frame
