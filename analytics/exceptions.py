"""Exceptions of the analytics package.

Every error carries ``transient``; all of these are terminal (the same data fails the same way).

AnalyticsError          base of everything raised here (bad input, bad config)    terminal
└── ConvergenceError    a model fit did not converge                              terminal
"""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base of every error raised by the analytics package."""

    transient = False


class ConvergenceError(AnalyticsError):
    """A maximum-likelihood fit failed to converge (the message says which model and why)."""
