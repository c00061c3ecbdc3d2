"""The offline demo: a generated order history for the seed company, and ``sugar-bridge demo``."""
