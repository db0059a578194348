"""Airflow's two text forms of a connection: the URI and the JSON object."""

from __future__ import annotations

import json

import pytest

from sluice.integrations.connection import Connection
from sluice.integrations.errors import ConnectionDefinitionError


def test_a_postgresql_uri_gives_every_field() -> None:
    conn = Connection.from_uri("db", "postgresql://user:pa%40ss@db.example:5432/wh?sslmode=disable")
    assert conn == Connection(
        conn_id="db",
        conn_type="postgres",
        host="db.example",
        schema="wh",
        login="user",
        password="pa@ss",
        port=5432,
        extra='{"sslmode": "disable"}',
    )
    assert conn.extra_dejson == {"sslmode": "disable"}


def test_hyphens_in_the_scheme_are_underscores() -> None:
    assert Connection.from_uri("x", "google-cloud-platform://").conn_type == "google_cloud_platform"


@pytest.mark.parametrize(
    "conn",
    [
        Connection("a", "postgres", "h", "db", "us er", "p@ss:w/rd?#%", 5432),
        Connection("b", "mysql", "Host.Mixed", "my/db", "root", None, 3306, '{"charset": "utf8"}'),
        Connection("c", "http", "https://api.example.com", None, "u", "p", None, None),
        Connection("d", "google_cloud_platform", None, None, None, None, None, '{"a": {"b": 1}}'),
        Connection("e", "sqlite", "/tmp/x.db", None, None, None, None, None),
        Connection("f", "postgres", None, None, None, None, 5432, '{"k": "v with space&="}'),
        Connection("g", "generic", "h", None, "", "", None, "[1, 2]"),
    ],
)
def test_get_uri_round_trips(conn: Connection) -> None:
    again = Connection.from_uri(conn.conn_id, conn.get_uri())
    expected = {**conn.__dict__, "login": conn.login or None, "password": conn.password or None}
    if conn.extra:
        assert json.loads(again.extra or "") == json.loads(conn.extra)
        expected["extra"] = again.extra
    assert again.__dict__ == expected


def test_the_password_is_percent_encoded_in_the_uri() -> None:
    uri = Connection("a", "postgres", "h", login="me", password="p@ss/w:rd").get_uri()
    assert uri == "postgres://me:p%40ss%2Fw%3Ard@h"


def test_extra_that_is_not_flat_text_goes_in_extra_query_param() -> None:
    uri = Connection("a", "aws", extra='{"region": "eu", "retries": 3}').get_uri()
    assert "__extra__=" in uri
    assert Connection.from_uri("a", uri).extra_dejson == {"region": "eu", "retries": 3}


def test_extra_query_param_holds_the_whole_extra() -> None:
    conn = Connection.from_uri("a", "http://h/?__extra__=%7B%22x%22%3A+%5B1%5D%7D")
    assert conn.extra_dejson == {"x": [1]}


def test_a_host_with_its_own_scheme() -> None:
    conn = Connection.from_uri("api", "http://https://u:p@api.example.com:8443/v1")
    assert (conn.conn_type, conn.host, conn.port, conn.schema) == (
        "http",
        "https://api.example.com",
        8443,
        "v1",
    )
    assert (conn.login, conn.password) == ("u", "p")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("just-a-host", "'just-a-host' is not a connection URI: it needs a scheme"),
        ("postgres://h:notaport/db", "the port of 'postgres://h:notaport/db' must be a number"),
        ("postgres://h:70000/db", "must be a number from 1 to 65535"),
        ("://h", "has an empty scheme"),
        ("a://b://c://d", "holds '://' more than twice"),
        ("http://u:p@https://host", "the host is a URL"),
    ],
)
def test_bad_uris_are_refused_naming_the_conn_id(uri: str, message: str) -> None:
    with pytest.raises(ConnectionDefinitionError) as caught:
        Connection.from_uri("my_conn", uri)
    assert str(caught.value).startswith("connection 'my_conn': ")
    assert message in str(caught.value)


def test_an_error_never_shows_the_password() -> None:
    with pytest.raises(ConnectionDefinitionError) as caught:
        Connection.from_uri("c", "postgres://u:secret@h:bad/db")
    assert "secret" not in str(caught.value)


def test_json_form_with_extra_as_object_or_text() -> None:
    text = json.dumps(
        {"conn_type": "postgresql", "host": "h", "login": "u", "password": "p", "schema": "db",
         "port": "5432", "extra": {"sslmode": "require"}}
    )  # fmt: skip
    conn = Connection.from_json("j", text)
    assert (conn.conn_type, conn.port, conn.extra_dejson) == (
        "postgres",
        5432,
        {"sslmode": "require"},
    )
    again = Connection.from_json("j", conn.to_json())
    assert again == conn
    as_text = Connection.from_json("k", '{"conn_type": "http", "extra": "{\\"a\\": 1}"}')
    assert as_text.extra_dejson == {"a": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "the JSON form must be an object"),
        ('{"host": "h"}', "conn_type is missing"),
        ('{"conn_type": "x", "hots": "h"}', "unknown fields hots"),
        ('{"conn_type": "x", "port": "eighty"}', "port must be a number from 1 to 65535"),
        ('{"conn_type": "x", "host": 5}', "host must be text"),
    ],
)
def test_bad_json_is_refused_naming_the_conn_id(text: str, message: str) -> None:
    with pytest.raises(ConnectionDefinitionError, match=message) as caught:
        Connection.from_json("my_conn", text)
    assert "'my_conn'" in str(caught.value)


def test_from_text_reads_json_or_a_uri() -> None:
    assert Connection.from_text("a", ' {"conn_type": "http"}').conn_type == "http"
    assert Connection.from_text("a", "mysql://h").conn_type == "mysql"
