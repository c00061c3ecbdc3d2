"""Exceptions of the order sources.

SourceError                   base; ``transient`` says whether retrying later may help
├── SourceUnavailable         the source cannot be reached right now (database down) — transient
└── SourceConfigError         the source's settings cannot work (missing folder, bad table/query)

Bad rows are not exceptions: sources report them as ``Problem`` records that end in etl_reject.
"""

from __future__ import annotations


class SourceError(Exception):
    """Base of every error raised by an order source."""

    transient = False


class SourceUnavailable(SourceError):
    """The source cannot be reached (database down, network)."""

    transient = True


class SourceConfigError(SourceError):
    """The source's configuration cannot work (missing path, unknown table, bad query)."""
