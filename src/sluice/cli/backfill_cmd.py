"""sluice dags backfill and sluice backfills: backfills the scheduler carries out."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
"""Top-level commands this module adds to `sluice`; subcommands attach to their groups."""
