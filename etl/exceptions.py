"""Exceptions of the warehouse / ETL package.

EtlError
"""

from __future__ import annotations


class EtlError(Exception):
    """Base of every error raised by the ETL package."""

    transient = False
