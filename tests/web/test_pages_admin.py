"""Admin pages: variables, connections, pools, users and configuration."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.web.conftest import Web, web_settings

from sluice.store.connections import ConnectionSecrets, create_connection, get_connection_secrets
from sluice.store.tables import Pool, User
from sluice.store.variables import list_variables, set_variable
from sluice.web.app import create_app

SECRET = "s3cr3t-pa55word-xyz"


def variables(web: Web) -> dict[str, str | None]:
    with web.store.transaction() as session:
        return {v.key: v.value for v in list_variables(session, limit=1000)[0]}


# --- variables ---------------------------------------------------------------------------


def test_variables_list_masks_secret_values(web: Web) -> None:
    with web.store.transaction() as session:
        set_variable(session, "api_key", SECRET)
        set_variable(session, "region", "<b>eu</b>")
    page = web.client("Op").get("/variables")
    assert page.status_code == 200
    assert SECRET not in page.text
    assert "***" in page.text
    assert "&lt;b&gt;eu&lt;/b&gt;" in page.text  # escaped, never raw HTML


def test_variables_list_searches_and_pages(web: Web) -> None:
    with web.store.transaction() as session:
        for i in range(55):
            set_variable(session, f"k{i:02d}", "v")
        set_variable(session, "other", "v")
    page = web.client("Op").get("/variables?search=k").text
    assert "Page 1 of 2 · 55 variables" in page and "/variables?search=k&amp;offset=50" in page
    assert "other" not in page


def test_variable_create_edit_delete(web: Web) -> None:
    client = web.client("Op")
    created = client.submit("/variables/new", {"key": "k", "value": "v1", "description": "d"})
    assert created.status_code == 303 and created.headers["location"] == "/variables"
    assert "Variable &#39;k&#39; created." in client.get("/variables").text
    edit = client.get("/variables/edit?key=k")
    assert "v1" in edit.text
    client.submit("/variables/edit", {"key": "k", "value": "v2", "description": ""})
    assert variables(web) == {"k": "v2"}
    client.submit("/variables/delete", {"key": "k"})
    assert variables(web) == {}


def test_secret_variable_edit_form_keeps_the_value_behind_the_mask(web: Web) -> None:
    with web.store.transaction() as session:
        set_variable(session, "token", SECRET)
    client = web.client("Admin")
    form = client.get("/variables/edit?key=token")
    assert SECRET not in form.text and "***" in form.text
    client.submit("/variables/edit", {"key": "token", "value": "***", "description": "x"})
    assert variables(web) == {"token": SECRET}
    client.submit("/variables/edit", {"key": "token", "value": "new", "description": "x"})
    assert variables(web) == {"token": "new"}


@pytest.mark.parametrize(
    ("key", "message"),
    [("", "a variable key cannot be empty"), ("taken", "variable &#39;taken&#39; already exists")],
)
def test_bad_variable_form_shows_the_error_by_the_field(web: Web, key: str, message: str) -> None:
    with web.store.transaction() as session:
        set_variable(session, "taken", "1")
    response = web.client("Op").submit("/variables/new", {"key": key, "value": "2"})
    assert response.status_code == 400
    assert 'class="field-error"' in response.text and message in response.text
    assert variables(web) == {"taken": "1"}


def test_variable_import_paste_and_upload(web: Web) -> None:
    client = web.client("Op")
    pasted = client.submit("/variables/import", {"text": '{"a": "1", "b": [1, 2]}'})
    assert pasted.status_code == 303
    assert variables(web) == {"a": "1", "b": "[1, 2]"}
    upload = client.post(
        "/variables/import",
        data={"csrf_token": client.csrf},
        files={
            "file": (
                "vars.json",
                b'{"c": {"value": "3", "description": "three"}}',
                "application/json",
            )
        },
        follow_redirects=False,
    )
    assert upload.status_code == 303
    assert variables(web)["c"] == "3"


BAD_IMPORTS = [
    ("{not json", "not valid JSON"),
    ('["a"]', "JSON object of key: value, not an array"),
    ('{"ok": "1", " bad": "2"}', "nothing was imported"),
    ("", "choose a JSON file or paste JSON"),
]


def test_bad_import_shows_the_error_and_imports_nothing(web: Web) -> None:
    client = web.client("Op")
    for text, message in BAD_IMPORTS:
        response = client.submit("/variables/import", {"text": text})
        assert response.status_code == 400, text
        assert message in response.text, text
    assert variables(web) == {}


def test_export_gives_real_values(web: Web) -> None:
    with web.store.transaction() as session:
        set_variable(session, "password", SECRET)
    response = web.client("Op").get("/variables/export")
    assert response.headers["content-disposition"] == 'attachment; filename="variables.json"'
    assert response.json() == {"password": SECRET}


# --- connections -------------------------------------------------------------------------

FORM = {"conn_id": "warehouse", "conn_type": "postgres", "host": "db.example", "schema": "dw",
        "login": "etl", "port": "5432", "extra": '{"sslmode": "require"}',
        "password": SECRET}  # fmt: skip


def stored_connection(web: Web) -> ConnectionSecrets | None:
    with web.store.transaction() as session:
        return get_connection_secrets(session, "warehouse")


def test_connection_password_never_reaches_the_browser(web: Web) -> None:
    client = web.client("Op")
    created = client.submit("/connections/new", FORM)
    assert created.status_code == 303, created.text
    for url in ("/connections", "/connections/warehouse/edit", "/connections?search=ware"):
        page = client.get(url)
        assert page.status_code == 200
        assert SECRET not in page.text, url
    edit = client.get("/connections/warehouse/edit").text
    assert 'placeholder="unchanged"' in edit and 'name="password" value=""' in edit
    row = stored_connection(web)
    assert row is not None and row.password == SECRET and row.schema == "dw"


def test_connection_edit_keeps_or_clears_the_password(web: Web) -> None:
    client = web.client("Op")
    client.submit("/connections/new", FORM)
    form = {**FORM, "password": "", "host": "db2.example"}
    assert client.submit("/connections/warehouse/edit", form).status_code == 303
    row = stored_connection(web)
    assert row is not None and row.password == SECRET and row.host == "db2.example"
    client.submit("/connections/warehouse/edit", {**form, "clear_password": "1"})
    row = stored_connection(web)
    assert row is not None and row.password is None
    client.submit("/connections/warehouse/delete")
    assert stored_connection(web) is None


BAD_CONNECTIONS = [
    ({"extra": "{oops"}, "extra is not valid JSON"),
    ({"extra": "[]"}, "extra must be a JSON object"),
    ({"conn_id": "has space"}, "may hold only letters, digits"),
    ({"port": "http"}, "port must be a number from 1 to 65535"),
    ({"conn_type": ""}, "choose a connection type"),
]


def test_bad_connection_form(web: Web) -> None:
    client = web.client("Op")
    for change, field_message in BAD_CONNECTIONS:
        response = client.submit("/connections/new", {**FORM, **change})
        assert response.status_code == 400, change
        assert field_message in response.text and 'class="field-error"' in response.text
        assert SECRET not in response.text  # the typed password is not echoed back
    assert stored_connection(web) is None


def test_duplicate_conn_id_form(web: Web) -> None:
    with web.store.transaction() as session:
        create_connection(session, "warehouse", {"conn_type": "http", "host": "h"})
    response = web.client("Op").submit("/connections/new", FORM)
    assert response.status_code == 400
    assert "connection &#39;warehouse&#39; already exists" in response.text
    row = stored_connection(web)
    assert row is not None and row.conn_type == "http"


def test_connection_form_offers_the_common_types(web: Web) -> None:
    page = web.client("Op").get("/connections/new").text
    for conn_type in ("postgres", "mysql", "sqlite", "http", "https", "aws", "smtp", "slack",
                      "generic"):  # fmt: skip
        assert f'<option value="{conn_type}"' in page


# --- pools -------------------------------------------------------------------------------


def pools(web: Web) -> dict[str, int]:
    with web.store.transaction() as session:
        return {p.pool: p.slots for p in session.scalars(select(Pool))}


def test_pools_page_and_forms(web: Web) -> None:
    client = web.client("Op")
    assert client.submit("/pools/new", {"name": "etl", "slots": "3"}).status_code == 303
    page = client.get("/pools").text
    assert "etl" in page and "default_pool" in page
    client.submit("/pools/etl/edit", {"slots": "5", "description": "d"})
    assert pools(web) == {"default_pool": 128, "etl": 5}
    client.submit("/pools/etl/delete")
    assert pools(web) == {"default_pool": 128}


def test_pools_bad_input(web: Web) -> None:
    client = web.client("Op")
    negative = client.submit("/pools/new", {"name": "p", "slots": "-2"})
    assert negative.status_code == 400
    assert "slots must be a whole number of 0 or more, not -2" in negative.text
    not_number = client.submit("/pools/default_pool/edit", {"slots": "many"})
    assert not_number.status_code == 400 and "not &#39;many&#39;" in not_number.text
    default = client.submit("/pools/default_pool/delete")
    assert default.status_code == 409 and "default_pool cannot be deleted" in default.text
    assert pools(web) == {"default_pool": 128}


def test_viewer_sees_pools_without_edit_links(web: Web) -> None:
    page = web.client("Viewer").get("/pools")
    assert page.status_code == 200
    assert "default_pool" in page.text and "/pools/new" not in page.text


# --- roles and CSRF ----------------------------------------------------------------------


GLOBAL_FORMS = [
    ("/variables/new", {"key": "k", "value": "v"}),
    ("/variables/import", {"text": '{"k": "v"}'}),
    ("/variables/delete", {"key": "k"}),
    ("/connections/new", FORM),
    ("/connections/warehouse/delete", {}),
    ("/pools/new", {"name": "p", "slots": "1"}),
    ("/pools/default_pool/edit", {"slots": "1"}),
    ("/users/new", {"username": "x"}),
]


@pytest.mark.parametrize("role", ["Viewer", "User"])
def test_viewer_and_user_cannot_change_global_things(web: Web, role: str) -> None:
    client = web.client(role)
    for url, data in GLOBAL_FORMS:
        response = client.submit(url, data)
        assert response.status_code == 403, url
        assert f"(role {role}) may not do this" in response.text
    assert variables(web) == {} and pools(web) == {"default_pool": 128}
    for url in ("/variables", "/connections", "/configuration", "/variables/export"):
        assert client.get(url).status_code == 403, url


def test_admin_form_without_csrf_token_is_refused(web: Web) -> None:
    client = web.client("Admin")
    response = client.post("/variables/new", data={"key": "k", "value": "v"})
    assert response.status_code == 403
    assert "CSRF token is missing or wrong" in response.text
    assert variables(web) == {}


# --- users -------------------------------------------------------------------------------


def users(web: Web) -> dict[str, tuple[str, bool]]:
    with web.store.transaction() as session:
        return {u.username: (u.role, u.active) for u in session.scalars(select(User))}


def test_users_pages(web: Web) -> None:
    client = web.client("Admin")
    assert "viewer" in client.get("/users").text
    new = {"username": "ann", "role": "Op", "email": "a@x.io", "password": "long enough",
           "password_again": "long enough"}  # fmt: skip
    assert client.submit("/users/new", new).status_code == 303
    assert users(web)["ann"] == ("Op", True)
    client.submit("/users/ann/edit", {"role": "Viewer", "email": ""})
    assert users(web)["ann"] == ("Viewer", False)
    reset = client.submit("/users/ann/password", {"password": "other password",
                                                  "password_again": "other password"})  # fmt: skip
    assert reset.status_code == 303
    client.submit("/users/ann/edit", {"role": "Viewer", "active": "1"})
    web.client().login("ann", "other password")  # asserts the login succeeds
    client.submit("/users/ann/delete")
    assert "ann" not in users(web)


BAD_USERS = [
    ({"password": "short", "password_again": "short"}, "at least 8 characters"),
    ({"password_again": "different!"}, "the two passwords differ"),
    ({"role": "Boss"}, "unknown role"),
    ({"username": "viewer"}, "user &#39;viewer&#39; already exists"),
    ({"username": "a b"}, "must be 1 to 256"),
]


def test_bad_new_user_form(web: Web) -> None:
    client = web.client("Admin")
    for change, message in BAD_USERS:
        new = {"username": "ann", "role": "Op", "password": "long enough",
               "password_again": "long enough", **change}  # fmt: skip
        response = client.submit("/users/new", new)
        assert response.status_code == 400, change
        assert message in response.text, change
    assert "ann" not in users(web) and len(users(web)) == 4


def test_last_admin_cannot_be_deleted_or_demoted(web: Web) -> None:
    client = web.client("Admin")
    deleted = client.submit("/users/admin/delete")
    assert deleted.status_code == 409 and "is the last Admin" in deleted.text
    demoted = client.submit("/users/admin/edit", {"role": "Op", "active": "1"})
    assert demoted.status_code == 409 and "last active Admin" in demoted.text
    assert users(web)["admin"] == ("Admin", True)


def test_op_cannot_manage_users(web: Web) -> None:
    client = web.client("Op")
    assert client.get("/users").status_code == 403
    assert client.submit("/users/viewer/delete").status_code == 403
    assert "viewer" in users(web)


# --- configuration -----------------------------------------------------------------------


def test_configuration_hides_secrets(web: Web) -> None:
    page = web.client("Op").get("/configuration")
    assert page.status_code == 200
    assert "dags_folder" in page.text and "sql_alchemy_conn" in page.text
    secret_key = web.settings.get_str("webserver", "secret_key")
    assert not secret_key or secret_key not in page.text
    fernet = web.settings.get_str("core", "fernet_key")
    assert not fernet or fernet not in page.text


def test_configuration_masks_a_configured_secret(web: Web) -> None:
    settings = web_settings(web.store, web.settings.home, **{"webserver.secret_key": SECRET})
    app = create_app(settings, web.store)
    client = Web(app=app, settings=settings, store=web.store).client("Admin")
    page = client.get("/configuration").text
    assert SECRET not in page and "***" in page
