"""The ``sluice`` command and its entry point."""

from __future__ import annotations

from typing import Any

import click

from sluice import __version__
from sluice.cli import (
    backfill_cmd,
    db_cmd,
    processor_cmd,
    runs_cmd,
    scheduler_cmd,
    task_state_cmd,
    tasks_run_cmd,
)
from sluice.cli.config_cmd import config_group
from sluice.cli.dags import dags_group
from sluice.cli.tasks import tasks_group
from sluice.core.errors import SluiceError


class _SluiceGroup(click.Group):
    """The top-level group: a SluiceError becomes one red line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SluiceError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            raise click.exceptions.Exit(1) from None


@click.group(cls=_SluiceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="sluice", message="%(prog)s %(version)s")
def cli() -> None:
    """Sluice: a workflow orchestrator for data pipelines.

    Settings come from $SLUICE_HOME/sluice.toml (SLUICE_HOME defaults to ~/sluice) and
    SLUICE__SECTION__KEY env vars.
    """


@cli.command("version")
def version() -> None:
    """Print Sluice's version."""
    click.echo(__version__)


cli.add_command(config_group)
cli.add_command(dags_group)
cli.add_command(tasks_group)
for _module in (
    db_cmd,
    runs_cmd,
    backfill_cmd,
    task_state_cmd,
    tasks_run_cmd,
    processor_cmd,
    scheduler_cmd,
):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Entry point of the ``sluice`` console script."""
    cli(prog_name="sluice")
