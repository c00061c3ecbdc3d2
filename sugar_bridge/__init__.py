"""sugar-bridge: integration and ETL layer around SugarCRM CE / SuiteCRM 7.

The package wires the three others together: ``connectors`` (Sugar's REST API, order sources),
``etl`` (the warehouse) and ``analytics`` (pure computation). See README.md.
"""

__version__ = "0.1.0"
