"""split_sql_statements cuts SQL at ``;`` the way each database reads it."""

from __future__ import annotations

import re

import pytest

from sluice.integrations.sql.hook import SqlHookError, split_sql_statements


def test_semicolons_inside_quotes_and_comments_do_not_split() -> None:
    sql = """
        -- a comment; not a statement
        INSERT INTO t VALUES ('a;b', "c;d", `e;f`);  /* also; a comment */
        SELECT 'it''s; fine';
        ;
        -- only a comment at the end;
    """
    assert split_sql_statements(sql) == [
        "-- a comment; not a statement\n        INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`)",
        "/* also; a comment */\n        SELECT 'it''s; fine'",
    ]


def test_postgresql_dollar_quoted_bodies_stay_whole() -> None:
    sql = (
        "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;"
        " SELECT $$a;b$$; SELECT price$1 FROM t"
    )
    assert split_sql_statements(sql) == [
        "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql",
        "SELECT $$a;b$$",
        "SELECT price$1 FROM t",
    ]


def test_mysql_backslash_escapes_and_hash_comments() -> None:
    sql = "SELECT 'it\\'s; one'; # a comment; here\nSELECT 2"
    assert split_sql_statements(sql, dialect="mysql") == [
        "SELECT 'it\\'s; one'",
        "# a comment; here\nSELECT 2",
    ]
    # Elsewhere a backslash is a plain character: 'C:\' is a whole string.
    assert split_sql_statements("SELECT 'C:\\'; SELECT 2") == ["SELECT 'C:\\'", "SELECT 2"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 1;\nSELECT 'open", "the ' quote on line 2 is never closed"),
        ('SELECT "x', 'the " quote on line 1 is never closed'),
        ("SELECT 1; /* open\n;", "the /* comment on line 1 is never closed"),
        ("SELECT 1;\n\nDO $fn$ BEGIN; END;", "the $fn$ quote on line 3 is never closed"),
    ],
)
def test_an_unclosed_quote_or_comment_is_an_error(sql: str, message: str) -> None:
    with pytest.raises(SqlHookError, match=re.escape("cannot split the SQL: " + message)):
        split_sql_statements(sql)


def test_only_comments_and_blanks_give_no_statement() -> None:
    assert split_sql_statements(" ; -- nothing\n /* at all */ ;") == []
