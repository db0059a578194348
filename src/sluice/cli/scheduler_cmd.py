"""sluice scheduler and sluice standalone."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
"""Top-level commands this module adds to `sluice`; subcommands attach to their groups."""
