"""The warehouse: star schema, migrations, validation and loading of orders."""
