"""The SQL database: models, migrations, engine and the Store adapter."""
