"""Connectors: everything that speaks to the outside (Sugar's REST API, order sources)."""
