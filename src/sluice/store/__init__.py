"""The metadata database: tables, sessions, migrations, queries, and the one state writer."""
