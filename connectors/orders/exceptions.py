"""Exceptions of the order sources.

SourceError
"""

from __future__ import annotations


class SourceError(Exception):
    """Base of every error raised by an order source."""

    transient = False
