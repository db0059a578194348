"""``sluice users``: create, list, delete, token; the standalone admin."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.cli_db.conftest import Sluice
from tests.cli_db.helpers import audit_events, error_line, ok

from sluice.cli.web_cmd import ADMIN_PASSWORD_FILE, ensure_admin
from sluice.config import load_settings
from sluice.store.engine import Store
from sluice.store.users import authenticate, user_by_token


def test_create_list_delete(sluice: Sluice, store: Store) -> None:
    created = ok(sluice("users", "create", "-u", "ann", "-r", "op", "-p", "long enough"))
    assert created.output == "User 'ann' created with role Op.\n"
    ok(sluice("users", "create", "-u", "bob", "-r", "Admin", "-p", "long enough", "-e", "b@x.io"))
    rows = json.loads(ok(sluice("users", "list", "-o", "json")).output)
    assert [(r["username"], r["role"], r["email"]) for r in rows] == [
        ("ann", "Op", None),
        ("bob", "Admin", "b@x.io"),
    ]
    assert all("password_hash" not in row for row in rows)
    with store.transaction() as session:
        assert authenticate(session, "ann", "long enough") is not None
        assert authenticate(session, "ann", "wrong one") is None
    assert ok(sluice("users", "delete", "-u", "ann")).output == "User 'ann' deleted.\n"
    assert ("cli_users_create", None) in audit_events(store)
    assert ("cli_users_delete", None) in audit_events(store)


def test_password_is_prompted_hidden(sluice: Sluice) -> None:
    result = sluice("users", "create", "-u", "cat", "-r", "viewer", input="s3cret-pw\ns3cret-pw\n")
    ok(result)
    assert "s3cret-pw" not in result.output


def test_bad_input(sluice: Sluice) -> None:
    short = sluice("users", "create", "-u", "dan", "-r", "User", "-p", "short")
    assert error_line(short) == "Error: a password needs at least 8 characters"
    role = sluice("users", "create", "-u", "dan", "-r", "boss", "-p", "long enough")
    assert role.exit_code == 2 and "'boss' is not one of" in role.output
    name = sluice("users", "create", "-u", "d an", "-r", "User", "-p", "long enough")
    assert "username 'd an' must be" in error_line(name)
    ok(sluice("users", "create", "-u", "dan", "-r", "User", "-p", "long enough"))
    again = sluice("users", "create", "-u", "dan", "-r", "User", "-p", "long enough")
    assert error_line(again) == "Error: user 'dan' already exists"
    assert error_line(sluice("users", "delete", "-u", "nobody")) == "Error: no user 'nobody'"
    assert json.loads(ok(sluice("users", "list", "-o", "json")).output)[0]["username"] == "dan"


def test_the_last_admin_stays(sluice: Sluice) -> None:
    ok(sluice("users", "create", "-u", "root", "-r", "Admin", "-p", "long enough"))
    refused = sluice("users", "delete", "-u", "root")
    assert error_line(refused) == (
        "Error: user 'root' is the last Admin; create another Admin first"
    )


def test_token(sluice: Sluice, store: Store) -> None:
    ok(sluice("users", "create", "-u", "bot", "-r", "User", "-p", "long enough"))
    token = ok(sluice("users", "token", "-u", "bot")).output.strip()
    with store.transaction() as session:
        user = user_by_token(session, token)
        assert user is not None and user.username == "bot"
        assert user_by_token(session, token + "x") is None
        assert user_by_token(session, "garbage") is None


def test_standalone_admin_is_made_once(store: Store, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, env={})
    password = ensure_admin(settings, store)
    assert password
    path = tmp_path / ADMIN_PASSWORD_FILE
    assert path.read_text().strip() == password
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ensure_admin(settings, store) == password  # printed again while the file exists
    with store.transaction() as session:
        user = authenticate(session, "admin", password)
        assert user is not None and user.role == "Admin"
    path.unlink()
    assert ensure_admin(settings, store) is None  # never a second admin, nor a new password
