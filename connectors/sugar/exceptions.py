"""Exceptions of the Sugar connector (filled in with the client).

SugarError (transient = False unless marked)
"""

from __future__ import annotations


class SugarError(Exception):
    """Base of every error raised by the Sugar connector."""

    transient = False
