"""The ``sluice`` command and its entry point."""

from __future__ import annotations

from typing import Any

import click

from sluice import __version__
from sluice.cli.config_cmd import config_group
from sluice.cli.dags import dags_group
from sluice.cli.lazy import LazyGroup
from sluice.cli.tasks import tasks_group
from sluice.core.errors import SluiceError


class _SluiceGroup(LazyGroup):
    """The top-level group: a SluiceError becomes one red line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SluiceError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            raise click.exceptions.Exit(1) from None


@click.group(
    cls=_SluiceGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy={
        "backfills": "sluice.cli.backfill_cmd:backfills_group",
        "connections": "sluice.cli.connections_cmd:connections_group",
        "dag-processor": "sluice.cli.processor_cmd:dag_processor",
        "db": "sluice.cli.db_cmd:db_group",
        "pools": "sluice.cli.db_cmd:pools_group",
        "rotate-fernet-key": "sluice.cli.fernet_cmd:rotate_fernet_key",
        "scheduler": "sluice.cli.scheduler_cmd:scheduler",
        "standalone": "sluice.cli.scheduler_cmd:standalone",
        "users": "sluice.cli.users_cmd:users_group",
        "variables": "sluice.cli.variables_cmd:variables_group",
        "webserver": "sluice.cli.web_cmd:webserver",
    },
)
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


def main() -> None:
    """Entry point of the ``sluice`` console script."""
    cli(prog_name="sluice")
