"""Exceptions of the ``sugar_bridge`` package (the wiring layer).

SugarBridgeError
├── ConfigError            a settings or config problem; nothing was done (CLI exit code 2)
├── LockHeldError          another run holds the job's lock
├── PipelineStepFailed     a step of a pipeline failed; ``step`` names it, ``cause`` is the error
├── RunCancelled           a run was asked to stop (SIGTERM) and stopped between two steps
└── WarehouseMissing       a read-only command found no warehouse (it never creates one)

Errors of the other packages have their own trees (``connectors.sugar.exceptions``,
``etl.exceptions``, ``analytics.exceptions``); each marks what is transient.
"""

from __future__ import annotations


class SugarBridgeError(Exception):
    """Base of every error raised by the ``sugar_bridge`` package."""

    transient = False


class ConfigError(SugarBridgeError):
    """Settings or a config file are invalid; the message names the file, path and problem."""


class LockHeldError(SugarBridgeError):
    """Another process holds the lock of the job we were asked to run."""

    transient = True


class PipelineStepFailed(SugarBridgeError):
    """A pipeline step failed. ``step`` is its name, ``cause`` the original exception."""

    def __init__(self, step: str, cause: BaseException) -> None:
        self.step = step
        self.cause = cause
        self.transient = bool(getattr(cause, "transient", False))
        super().__init__(f"step '{step}' failed: {cause}")


class RunCancelled(SugarBridgeError):
    """A run stopped between two steps because a stop was requested (SIGTERM, Ctrl-C)."""


class WarehouseMissing(SugarBridgeError):
    """A command that only reads found no warehouse: it never creates one (``sync`` does)."""
