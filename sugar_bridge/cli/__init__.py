"""The ``sugar-bridge`` command line (Typer): one module per command group."""
