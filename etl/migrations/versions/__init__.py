"""Alembic revision scripts; ids are fixed (``0001``, ``0002``, ...) and the chain is linear."""
