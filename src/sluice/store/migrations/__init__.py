"""Alembic migrations of the metadata database, run by ``sluice.store.schema``."""
