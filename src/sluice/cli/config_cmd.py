"""``sluice config``: the settings in effect and where each came from."""

from __future__ import annotations

import click

from sluice.cli.loading import cli_settings
from sluice.cli.output import output_option, print_rows


@click.group("config")
def config_group() -> None:
    """Show the settings in effect and where each came from."""


@config_group.command("list")
@output_option()
def list_config(output: str) -> None:
    """List every setting, its value (secrets masked) and its source."""
    settings = cli_settings()
    rows = [
        {
            "section": section,
            "key": key,
            "value": settings.display_value(section, key),
            "source": source,
        }
        for section, key, _, source in settings.items()
    ]
    title = f"Settings of {settings.home} (file {settings.config_file})"
    print_rows(rows, ["section", "key", "value", "source"], output, empty="", title=title)


@config_group.command("get")
@click.argument("section")
@click.argument("key")
def get_config(section: str, key: str) -> None:
    """Print the value of one setting, unmasked (for scripts)."""
    click.echo(str(cli_settings().get(section.lower(), key.lower())))
