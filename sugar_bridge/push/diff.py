"""What to send: the values an account should have, against the last values that stuck (pure).

The warehouse row of a customer (a ``customer_habits`` row) becomes ``{sugar_field: value}``
normalised as Sugar stores it; comparing that with the snapshot of the last verified push gives
the fields to write. A night where nothing changed gives no change at all, hence no write.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sugar_bridge.push.config import FieldMap, PushConfig
from sugar_bridge.push.values import Kind, kind_of, normalise


@dataclass(frozen=True)
class FieldSpec:
    """A mapped column resolved against Sugar: where it goes and how Sugar stores it."""

    column: str
    field: str
    kind: Kind
    precision: int = 2
    values: Mapping[str, str] = dataclasses.field(default_factory=dict)
    min_change: float = 0.0
    min_change_pct: float = 0.0

    def matters(self, old: str | None, new: str) -> bool:
        """Whether moving from the last pushed ``old`` to ``new`` is worth a write: any change,
        except a numeric one smaller than ``min_change`` / ``min_change_pct``."""
        if old == new:
            return False
        if old is None or not (self.min_change or self.min_change_pct):
            return True
        try:  # Decimal: the values are Sugar's decimal strings, compared exactly
            before, after = Decimal(old), Decimal(new)
        except InvalidOperation:  # empty or not a number: a real change
            return True
        threshold = max(
            Decimal(str(self.min_change)), abs(before) * Decimal(str(self.min_change_pct)) / 100
        )
        return abs(after - before) >= threshold

    def sugar_value(self, raw: Any) -> str:
        """The normalised Sugar value of a warehouse value (value map applied first)."""
        if isinstance(raw, str) and raw in self.values:
            raw = self.values[raw]
        return normalise(raw, self.kind, self.precision)

    options: Mapping[str, str] = dataclasses.field(default_factory=dict)  # dropdown key: label

    def label(self, sugar_value: str) -> str:
        """What a person calls a Sugar value: the warehouse value behind it (inverse value map),
        else the dropdown label Sugar shows, else the value itself."""
        for label, key in self.values.items():
            if key == sugar_value:
                return label
        return self.options.get(sugar_value, sugar_value)


def resolve_fields(
    config: PushConfig, sugar_fields: Mapping[str, Mapping[str, Any]]
) -> list[FieldSpec]:
    """Resolve ``push.fields`` with Sugar's field definitions (get_module_fields: type and
    dropdown options); a type given in config wins."""
    return [
        _spec(column, fmap, sugar_fields.get(fmap.field, {}))
        for column, fmap in config.fields.items()
    ]


def _options(meta: Mapping[str, Any]) -> dict[str, str]:
    # get_module_fields: {"key": {"name": "key", "value": "Label"}}, or [] when there are none.
    raw = meta.get("options")
    if not isinstance(raw, Mapping):
        return {}
    out = {}
    for key, item in raw.items():
        label = item.get("value") if isinstance(item, Mapping) else item
        if key and label is not None:
            out[str(key)] = str(label)
    return out


def _spec(column: str, fmap: FieldMap, meta: Mapping[str, Any]) -> FieldSpec:
    sugar_type = meta.get("type")
    kind = kind_of(fmap.type or (str(sugar_type) if sugar_type else None))
    return FieldSpec(
        column,
        fmap.field,
        kind,
        fmap.precision,
        dict(fmap.values),
        fmap.min_change,
        fmap.min_change_pct,
        _options(meta),
    )


def habit_value(row: Mapping[str, Any], column: str) -> Any:
    """A column of a ``customer_habits`` row; ``rfm_score`` is derived from the three scores."""
    if column == "rfm_score" and "rfm_score" not in row:
        scores = [row.get(c) for c in ("r_score", "f_score", "m_score")]
        if any(s is None or s != s for s in scores):
            return None
        return int(scores[0]) * 100 + int(scores[1]) * 10 + int(scores[2])  # type: ignore[arg-type]
    return row.get(column)


def desired_values(row: Mapping[str, Any], specs: Sequence[FieldSpec]) -> dict[str, str]:
    """``{sugar_field: normalised value}`` for one customer. Raises ValueError on a bad value."""
    out = {}
    for spec in specs:
        try:
            out[spec.field] = spec.sugar_value(habit_value(row, spec.column))
        except ValueError as exc:
            raise ValueError(f"{spec.column} → {spec.field}: {exc}") from None
    return out


def changed_fields(
    desired: Mapping[str, str],
    snapshot: Mapping[str, str] | None,
    *,
    full: bool = False,
    specs: Mapping[str, FieldSpec] | None = None,
) -> dict[str, tuple[str | None, str]]:
    """``{field: (old, new)}`` of the fields to write; all of them with ``full``.

    ``old`` is the last pushed value, ``None`` when that field was never pushed. A field with a
    spec in ``specs`` is written only when its change matters (``FieldSpec.matters``); the
    snapshot keeps the last value sent, so small moves add up until they are worth a write.
    """
    snapshot = snapshot or {}
    specs = specs or {}
    out = {}
    for name, value in desired.items():
        old = snapshot.get(name)
        spec = specs.get(name)
        if full or (spec.matters(old, value) if spec is not None else old != value):
            out[name] = (old, value)
    return out


@dataclass(frozen=True)
class Transition:
    """A field that moves from ``old`` (``""``/None = nothing pushed yet) to ``new``."""

    field: str
    old: str | None
    new: str


def transitions(
    changes: Iterable[Mapping[str, tuple[str | None, str]]], field_name: str
) -> Counter[tuple[str, str]]:
    """Counts of ``(old, new)`` values of one field over many accounts' changes (dry run)."""
    counts: Counter[tuple[str, str]] = Counter()
    for change in changes:
        if field_name in change:
            old, new = change[field_name]
            if old != new:
                counts[(old or "", new)] += 1
    return counts
