"""Build order sources from the ``sources:`` config section."""

from __future__ import annotations

from connectors.orders.base import OrderSource
from connectors.orders.config import CsvSourceConfig, SourceConfig, SourcesConfig, SqlSourceConfig
from connectors.orders.csv_source import CsvSource
from connectors.orders.exceptions import SourceConfigError
from connectors.orders.sql_source import SqlSource


def make_source(spec: SourceConfig) -> OrderSource:
    """The source object for one configured input."""
    if isinstance(spec, CsvSourceConfig):
        return CsvSource(spec)
    if isinstance(spec, SqlSourceConfig):
        return SqlSource(spec)
    raise SourceConfigError(f"unknown source type {type(spec).__name__}")


def make_sources(config: SourcesConfig, names: list[str] | None = None) -> list[OrderSource]:
    """Sources of the config, all or those named (SourceConfigError for an unknown name)."""
    if not names:
        return [make_source(spec) for spec in config.inputs]
    out: list[OrderSource] = []
    for name in names:
        try:
            out.append(make_source(config.get(name)))
        except KeyError as exc:
            raise SourceConfigError(str(exc.args[0])) from None
    return out
