"""Benchmarks of sugar-bridge (run from the repo root: ``python -m benchmarks <name>``).

Not an installed package; see benchmarks/README.md.
"""
