"""``sluice users``: the people who log in to the web UI and the REST API."""

from __future__ import annotations

import dataclasses

import click

from sluice.cli.output import output_option, print_rows
from sluice.cli.stored_dags import opened_store, record_action
from sluice.core.roles import Role
from sluice.store.users import create_user, delete_user, info, list_users, new_api_token

ROLES = [role.value for role in Role]


@click.group("users")
def users_group() -> None:
    """Create, list and delete users of the web UI and the REST API.

    Roles: Admin (everything), Op (everything but users), User (trigger, clear and pause
    DAGs), Viewer (read only).
    """


@users_group.command("create")
@click.option("--username", "-u", required=True, help="The name to log in with.")
@click.option(
    "--role", "-r", required=True, type=click.Choice(ROLES, case_sensitive=False), help="Role."
)
@click.option(
    "--password",
    "-p",
    default=None,
    help="The password (at least 8 characters); asked for, hidden, when not given.",
)
@click.option("--email", "-e", default=None, help="An email address (optional).")
def create(username: str, role: str, password: str | None, email: str | None) -> None:
    """Create a user."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with opened_store() as (_, store), store.transaction() as session:
        user = create_user(session, username, password, role, email)
        record_action(session, "users_create", extra={"username": username, "role": user.role})
    click.echo(f"User '{username}' created with role {user.role}.")


@users_group.command("list")
@output_option()
def list_command(output: str) -> None:
    """List the users (never their passwords)."""
    with opened_store() as (_, store), store.transaction() as session:
        rows = [dataclasses.asdict(info(user)) for user in list_users(session)]
    columns = ["username", "role", "email", "active", "created_at", "last_login"]
    print_rows(rows, columns, output, empty="No users yet: `sluice users create`.")


@users_group.command("delete")
@click.option("--username", "-u", required=True, help="The user to delete.")
def delete(username: str) -> None:
    """Delete a user (not the last Admin)."""
    with opened_store() as (_, store), store.transaction() as session:
        delete_user(session, username)
        record_action(session, "users_delete", extra={"username": username})
    click.echo(f"User '{username}' deleted.")


@users_group.command("token")
@click.option("--username", "-u", required=True, help="The user the token acts as.")
def token(username: str) -> None:
    """Make a new API token for a user (the old one stops working) and print it once.

    Scripts send it as ``Authorization: Bearer <token>``.
    """
    with opened_store() as (_, store), store.transaction() as session:
        value = new_api_token(session, username)
        record_action(session, "users_token", extra={"username": username})
    click.echo(value)
