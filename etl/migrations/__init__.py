"""Alembic migrations of the warehouse (linear chain: 0001 core, 0002 analytics, 0003 push, ...)."""
