"""Client-habit statistics, RFM, lifecycle, CLV models and the report (pure computation)."""
