"""Exceptions of the warehouse / ETL package.

EtlError                        base; ``transient`` says whether retrying later may help
├── WarehouseUnavailable        cannot connect to the warehouse (transient)
├── WarehouseNotCurrent         schema older/newer than this code; run ``sugar-bridge db upgrade``
├── MigrationError              a migration failed (the warehouse stays at its last revision)
└── LoadError                   a batch could not be written (its transaction was rolled back)

Rejected rows are not exceptions: they are data (``etl_reject``) counted in the run summary.
"""

from __future__ import annotations


class EtlError(Exception):
    """Base of every error raised by the ETL package."""

    transient = False


class WarehouseUnavailable(EtlError):
    """The warehouse database cannot be reached (network, server down, locked file)."""

    transient = True


class WarehouseNotCurrent(EtlError):
    """The warehouse schema is not at the revision this code expects."""


class MigrationError(EtlError):
    """Applying a migration failed; its transaction was rolled back where the engine allows."""


class LoadError(EtlError):
    """Writing a batch failed; nothing of that batch was kept."""
