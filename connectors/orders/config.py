"""The ``sources:`` section: order sources (CSV folders/files, SQL databases).

```yaml
sources:
  batch_lines: 50000            # order lines per load transaction (whole orders only)
  inputs:
    - name: shop_exports        # the natural key of every order is (name, order_id)
      type: csv
      path: data/orders         # a file, or a folder read in name order (pattern below)
      pattern: "*.csv"
      delimiter: ";"
      decimal: ","
      encoding: cp1252
      date_format: "%d/%m/%Y"
      columns: {order_id: "N° commande", ordered_at: "Date"}   # canonical -> file column
      values: {payment_method: {CB: card, VIR: transfer}}     # file value -> canonical value
    - name: erp
      type: sql
      url: mysql+pymysql://reader:secret@erp/shop
      table: order_lines        # or query: "SELECT ... "
      cursor_column: updated_at
```
An empty section is valid (no configured source; ``etl run --csv PATH`` still works).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from connectors.orders.canonical import CANONICAL_COLUMNS, DEFAULT_BATCH_LINES

_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


def _check_mapping_keys(mapping: dict[str, object], what: str) -> None:
    unknown = sorted(set(mapping) - set(CANONICAL_COLUMNS))
    if unknown:
        raise ValueError(
            f"{what}: unknown canonical column(s) {', '.join(unknown)}; "
            f"known: {', '.join(CANONICAL_COLUMNS)}"
        )


class _SourceBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME, description="Source name; part of every order's natural key.")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Canonical column -> column name in the source."
    )
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per canonical column, source value -> canonical value (enumerations).",
    )
    defaults: dict[str, str] = Field(
        default_factory=dict, description="Canonical column -> value when the source has none."
    )
    timezone: str = Field(default="UTC", description="Zone that aware datetimes are stored in.")

    @field_validator("columns", "values", "defaults")
    @classmethod
    def _known_columns(cls, value: dict[str, object]) -> dict[str, object]:
        _check_mapping_keys(value, "mapping")
        return value


class CsvSourceConfig(_SourceBase):
    """A CSV file or a folder of CSV files (canonical layout, or mapped with ``columns``)."""

    type: Literal["csv"] = "csv"
    path: Path
    pattern: str = "*.csv"
    encoding: str = "utf-8"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    decimal: Literal[".", ","] = "."
    thousands: str | None = Field(default=None, max_length=1)
    date_format: str | None = None
    datetime_format: str | None = None

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _separators_differ(self) -> CsvSourceConfig:
        if self.decimal == self.delimiter:
            raise ValueError("decimal and delimiter are the same character: use delimiter ';'")
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError("thousands and decimal separators are the same character")
        return self


class SqlSourceConfig(_SourceBase):
    """A table or query in any database SQLAlchemy can reach, read in chunks."""

    type: Literal["sql"] = "sql"
    url: SecretStr = Field(
        description="SQLAlchemy URL of the source database (may hold a password)."
    )
    table: str | None = None
    query: str | None = None
    cursor_column: str | None = Field(
        default=None, description="An updated_at-like column: only rows changed since last run."
    )
    overlap_minutes: int = Field(
        default=60, ge=0, description="Re-read this far before the watermark (late updates)."
    )
    chunk_orders: int = Field(default=5000, ge=1, description="Orders fetched per query.")

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSourceConfig:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table or query")
        return self


def _source_type(value: Any) -> str:
    # `type` may be left out for CSV sources, the common case.
    if isinstance(value, dict):
        return str(value.get("type", "csv"))
    return str(getattr(value, "type", "csv"))


SourceConfig = Annotated[
    Annotated[CsvSourceConfig, Tag("csv")] | Annotated[SqlSourceConfig, Tag("sql")],
    Discriminator(_source_type),
]


class SourcesConfig(BaseModel):
    """The ``sources:`` section: order sources (CSV folders/files, SQL databases)."""

    model_config = ConfigDict(extra="forbid")

    batch_lines: int = Field(
        default=DEFAULT_BATCH_LINES,
        ge=1,
        description="Order lines per load transaction (whole orders only).",
    )
    default_currency: str | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="Currency of lines without one (default: SUGAR_BRIDGE_DEFAULT_CURRENCY).",
    )
    inputs: list[SourceConfig] = Field(default_factory=list)

    @field_validator("inputs")
    @classmethod
    def _unique_names(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        seen: set[str] = set()
        for spec in value:
            if spec.name in seen:
                raise ValueError(f"two sources are named {spec.name!r}")
            seen.add(spec.name)
        return value

    def get(self, name: str) -> SourceConfig:
        """The source called ``name`` (KeyError naming the known ones otherwise)."""
        for spec in self.inputs:
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.inputs) or "none configured"
        raise KeyError(f"no source named {name!r} (known: {known})")
