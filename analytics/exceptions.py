"""Exceptions of the analytics package.

AnalyticsError
└── ConvergenceError    a model fit did not converge
"""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base of every error raised by the analytics package."""

    transient = False


class ConvergenceError(AnalyticsError):
    """A maximum-likelihood fit failed to converge (the message says which model and why)."""
