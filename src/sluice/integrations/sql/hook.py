"""``SqlHook``: a connection's database through SQLAlchemy, as Airflow's ``DbApiHook``.

One hook serves every database a connection can describe: ``sqlite`` (the file path in
``host``, or in ``schema`` for ``sqlite:////abs/path.db``), ``postgres`` and ``mysql``
(MariaDB too). SQL runs as the driver takes it, with its own parameter style: ``%s`` and
``%(name)s`` on PostgreSQL and MySQL, ``?`` and ``:name`` on SQLite, as in Airflow.

SQLAlchemy and the drivers are imported when the hook first connects: a DAG file that
builds SQL operators imports nothing heavy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, TextIO

from sluice.integrations.connection import Connection
from sluice.integrations.errors import IntegrationError
from sluice.integrations.hooks.base import BaseHook

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, CursorResult, Engine
    from sqlalchemy.engine import Connection as SAConnection

log = logging.getLogger("sluice.task")

Parameters = Sequence[Any] | dict[str, Any] | None
Handler = Callable[["CursorResult[Any]"], Any]

_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}
"""SQLAlchemy driver names of the connection types the hook can open."""


class SqlHookError(IntegrationError):
    """Raised when a connection cannot be opened as a database, or a statement is bad."""


def fetch_all_handler(result: CursorResult[Any]) -> list[tuple[Any, ...]] | None:
    """The rows of a statement that returns rows, else None (Airflow's handler)."""
    return [tuple(row) for row in result.fetchall()] if result.returns_rows else None


def fetch_one_handler(result: CursorResult[Any]) -> tuple[Any, ...] | None:
    """The first row of a statement that returns rows, else None."""
    if not result.returns_rows:
        return None
    row = result.fetchone()
    return None if row is None else tuple(row)


class SqlHook(BaseHook):
    """Runs SQL on the database a connection describes; every call is one transaction."""

    conn_name_attr = "conn_id"
    default_conn_name = "sql_default"

    def __init__(self, conn_id: str = default_conn_name, *, schema: str | None = None,
                 log_sql: bool = True) -> None:  # fmt: skip
        self.conn_id = conn_id
        self.schema = schema
        """Overrides the connection's schema (the database name)."""
        self.log_sql = log_sql
        self._engine: Engine | None = None

    # -- the connection and its engine ------------------------------------------------

    @cached_property
    def connection(self) -> Connection:
        """The connection ``conn_id`` (environment, then the metadata database)."""
        return self.get_connection(self.conn_id)

    @property
    def dialect_name(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql``."""
        return self.get_sqlalchemy_engine().dialect.name

    @property
    def sqlalchemy_url(self) -> URL:
        """The SQLAlchemy URL of the connection (its password in it)."""
        return connection_url(self.connection, schema=self.schema)

    def get_sqlalchemy_engine(self) -> Engine:
        """The hook's engine, made on first use (one connection at a time, none pooled)."""
        if self._engine is None:
            self._engine = _make_engine(self.sqlalchemy_url, self.connection)
        return self._engine

    def close(self) -> None:
        """Release the engine; the hook makes a new one if used again."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def transaction(self, *, autocommit: bool = False) -> Iterator[SAConnection]:
        """A SQLAlchemy connection in a transaction, committed at the end of the block and
        rolled back if it raises; with ``autocommit`` each statement commits on its own."""
        engine = self.get_sqlalchemy_engine()
        if autocommit:
            with engine.connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
            return
        with engine.begin() as conn:
            yield conn

    # -- running SQL ------------------------------------------------------------------

    def run(
        self,
        sql: str | Iterable[str],
        autocommit: bool = False,
        parameters: Parameters = None,
        handler: Handler | None = None,
        split_statements: bool = False,
        return_last: bool = True,
    ) -> Any:
        """Run one statement or several, in one transaction (or each on its own with
        ``autocommit``); ``handler`` reads each statement's result.

        Returns, as Airflow's ``DbApiHook.run``, one result when ``sql`` is a string and
        either ``return_last`` or not ``split_statements`` (the last statement's), else
        the list of every statement's result; None without a handler.
        """
        statements = self.statements(sql, split_statements)
        results: list[Any] = []
        with self.transaction(autocommit=autocommit) as conn:
            for statement in statements:
                result = self.execute_in(conn, statement, parameters)
                if handler is not None:
                    results.append(handler(result))
                result.close()
        if handler is None:
            return None
        if isinstance(sql, str) and (return_last or not split_statements):
            return results[-1]
        return results

    def get_records(self, sql: str | Iterable[str], parameters: Parameters = None) -> Any:
        """Every row of the query, as tuples (for a list of queries, a list per query)."""
        return self.run(sql, parameters=parameters, handler=fetch_all_handler)

    def get_first(self, sql: str | Iterable[str], parameters: Parameters = None) -> Any:
        """The first row of the query as a tuple, or None when it returns none (for a list
        of queries, a list per query)."""
        return self.run(sql, parameters=parameters, handler=fetch_one_handler)

    def insert_rows(
        self,
        table: str,
        rows: Iterable[Sequence[Any]],
        target_fields: Sequence[str] | None = None,
        commit_every: int = 1000,
        replace: bool = False,
    ) -> int:
        """Insert ``rows`` into ``table`` in batches of ``commit_every`` (executemany), all
        in one transaction; returns how many rows were inserted.

        ``replace`` replaces rows whose primary key exists (``REPLACE`` on MySQL, ``INSERT
        OR REPLACE`` on SQLite; PostgreSQL has no such statement: an error).
        """
        with self.transaction() as conn:
            count = self.insert_rows_in(conn, table, rows, target_fields, commit_every, replace)
        log.info("inserted %d row(s) into %s", count, table)
        return count

    def insert_rows_in(
        self,
        conn: SAConnection,
        table: str,
        rows: Iterable[Sequence[Any]],
        target_fields: Sequence[str] | None = None,
        commit_every: int = 1000,
        replace: bool = False,
    ) -> int:
        """Insert ``rows`` as :meth:`insert_rows` does, on ``conn``: inside a transaction
        that the caller opened with :meth:`transaction` and that commits or rolls back."""
        if isinstance(commit_every, bool) or not isinstance(commit_every, int) or commit_every < 1:
            raise SqlHookError(
                f"commit_every must be an integer of at least 1, got {commit_every!r}"
            )
        count = 0
        batch: list[Sequence[Any]] = []
        statement: str | None = None
        for row in rows:
            if statement is None:
                statement = self.insert_statement(table, target_fields, len(row), replace)
            batch.append(tuple(row))
            if len(batch) >= commit_every:
                conn.exec_driver_sql(statement, batch)
                count += len(batch)
                batch = []
        if batch and statement is not None:
            conn.exec_driver_sql(statement, batch)
            count += len(batch)
        return count

    # -- streaming ----------------------------------------------------------------------

    @contextmanager
    def stream_rows(
        self, sql: str, parameters: Parameters = None, batch_size: int = 10_000
    ) -> Iterator[tuple[list[str], Iterator[list[tuple[Any, ...]]]]]:
        """Run one query in a read transaction with a server-side cursor; yields its column
        names and an iterator of row batches (at most ``batch_size`` rows each).

        Only one batch is in memory at a time, so a table larger than memory can be read.
        Read the batches inside the ``with`` block: the cursor closes when it ends.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise SqlHookError(f"batch_size must be an integer of at least 1, got {batch_size!r}")
        if not isinstance(sql, str) or not sql.strip():
            raise SqlHookError(f"stream_rows needs one SQL query as a string, got {sql!r}")
        with self.transaction() as conn:
            # stream_results: a server-side cursor (a named cursor on PostgreSQL, an
            # unbuffered SSCursor on MySQL); SQLite reads rows lazily anyway.
            streaming = conn.execution_options(stream_results=True, max_row_buffer=batch_size)
            result = self.execute_in(streaming, sql, parameters)
            try:
                if not result.returns_rows:
                    raise SqlHookError(f"the statement returns no rows to read: {shorten_sql(sql)}")
                columns = list(map(str, result.keys()))

                def batches() -> Iterator[list[tuple[Any, ...]]]:
                    for partition in result.partitions(batch_size):
                        yield [tuple(row) for row in partition]

                yield columns, batches()
            finally:
                result.close()

    def export_csv(
        self,
        sql: str,
        out: TextIO,
        parameters: Parameters = None,
        header: bool = True,
        delimiter: str = ",",
        batch_size: int = 10_000,
    ) -> int:
        """Write the rows of a query to ``out`` as CSV, streamed; returns how many rows.

        None is an empty field, datetimes, dates and times are ISO 8601, Decimal is its
        text, bytes are hexadecimal; lines end with ``\\n``.
        """
        writer = _csv_writer(out, delimiter)
        count = 0
        with self.stream_rows(sql, parameters, batch_size) as (columns, batches):
            if header:
                writer.writerow(columns)
            for batch in batches:
                writer.writerows([_csv_field(value) for value in row] for row in batch)
                count += len(batch)
        log.info("exported %d row(s) as CSV", count)
        return count

    def load_csv(
        self,
        table: str,
        source: TextIO,
        header: bool = True,
        columns: Sequence[str] | None = None,
        delimiter: str = ",",
        commit_every: int = 1000,
        null: str = "",
    ) -> int:
        """Insert the rows of a CSV into ``table`` in one transaction; returns how many.

        ``columns`` names the target columns (default: the CSV's header line; without a
        header either, the table's columns in order). A field equal to ``null`` is NULL.
        A line with the wrong number of fields is an error naming it, and nothing is
        inserted.
        """
        with self.transaction() as conn:
            return self.load_csv_in(
                conn, table, source, header=header, columns=columns, delimiter=delimiter,
                commit_every=commit_every, null=null,
            )  # fmt: skip

    def load_csv_in(
        self,
        conn: SAConnection,
        table: str,
        source: TextIO,
        header: bool = True,
        columns: Sequence[str] | None = None,
        delimiter: str = ",",
        commit_every: int = 1000,
        null: str = "",
    ) -> int:
        """Load a CSV as :meth:`load_csv` does, on ``conn``: inside a transaction that the
        caller opened with :meth:`transaction` (so that a DELETE before it is undone if the
        load fails)."""
        import csv

        name = getattr(source, "name", None)
        where = f"CSV '{name}'" if isinstance(name, str) else "the CSV"
        try:
            reader = csv.reader(source, delimiter=delimiter, strict=True)
        except TypeError as exc:
            raise SqlHookError(f"load_csv: bad delimiter {delimiter!r}: {exc}") from None
        target: list[str] | None = list(columns) if columns is not None else None
        if target is not None and (not target or not all(isinstance(c, str) for c in target)):
            raise SqlHookError(
                f"load_csv: columns must be a non-empty list of names, got {columns!r}"
            )
        if header:
            first = _next_csv_row(reader, where)
            if first is None:
                raise SqlHookError(f"{where} is empty: header=True expects a header line")
            if target is None:
                target = first
        width = len(target) if target is not None else None

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal width
            while (row := _next_csv_row(reader, where)) is not None:
                if width is None:
                    width = len(row)
                if len(row) != width:
                    raise SqlHookError(
                        f"{where}, line {reader.line_num}: {len(row)} field(s), expected"
                        f" {width}; nothing was inserted into {table}"
                    )
                yield tuple(None if field == null else field for field in row)

        return self.insert_rows_in(
            conn, table, rows(), target_fields=target, commit_every=commit_every
        )

    def insert_statement(
        self, table: str, target_fields: Sequence[str] | None, width: int, replace: bool = False
    ) -> str:
        """The INSERT statement for ``width`` values per row, in the driver's paramstyle."""
        dialect = self.dialect_name
        marker = "?" if dialect == "sqlite" else "%s"
        columns = f" ({', '.join(target_fields)})" if target_fields else ""
        values = ", ".join([marker] * width)
        verb = "INSERT"
        if replace:
            if dialect == "postgresql":
                raise SqlHookError(
                    "replace=True needs a primary key to conflict on, which PostgreSQL has no"
                    " REPLACE for: delete the rows first, or use ON CONFLICT in SQL"
                )
            verb = "REPLACE" if dialect == "mysql" else "INSERT OR REPLACE"
        return f"{verb} INTO {table}{columns} VALUES ({values})"

    def test_connection(self) -> tuple[bool, str]:
        """Whether ``SELECT 1`` works, and what happened (as Airflow's Test button)."""
        try:
            self.get_first("SELECT 1")
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, "Connection successfully tested"

    def statements(self, sql: str | Iterable[str], split_statements: bool = False) -> list[str]:
        """The statements :meth:`run` would run: ``sql`` (each item of a list) cut at
        ``;`` when ``split_statements``, as the connection's database quotes strings;
        SqlHookError when there is none or a quote or comment is never closed."""
        dialect = self.dialect_name if split_statements else None
        return _statements(sql, split_statements, dialect)

    def execute_in(
        self, conn: SAConnection, statement: str, parameters: Parameters = None
    ) -> CursorResult[Any]:
        """Run one statement on ``conn`` (from :meth:`transaction`), in the driver's
        parameter style; the caller reads and closes the result."""
        if self.log_sql:
            log.info("Running statement: %s, parameters: %s", statement, parameters)
        if parameters is None or (not parameters and not isinstance(parameters, dict)):
            # No parameters: the driver must not read a literal % as a placeholder.
            literal = statement if self.dialect_name == "sqlite" else statement.replace("%", "%%")
            return conn.exec_driver_sql(literal)
        if not isinstance(parameters, dict):
            parameters = tuple(parameters)  # a list would be read as many rows
        return conn.exec_driver_sql(statement, parameters)


def connection_url(conn: Connection, *, schema: str | None = None) -> URL:
    """The SQLAlchemy URL of a database connection; SqlHookError for another type."""
    from sqlalchemy.engine import URL

    kind = conn.conn_type.lower()
    driver = _DRIVERS.get(kind)
    extra = conn.extra_dejson
    if driver is None:
        raise SqlHookError(
            f"connection '{conn.conn_id}' is of type '{conn.conn_type}', which SqlHook cannot"
            f" open: use one of {', '.join(sorted(_DRIVERS))}"
        )
    if driver == "sqlite":
        path = conn.host or (("/" + conn.schema) if conn.schema else None)
        if schema is not None:
            path = schema
        if not path:
            raise SqlHookError(
                f"connection '{conn.conn_id}' (sqlite) names no database file: put its path"
                " in host, such as sqlite://%2Ftmp%2Fwarehouse.db"
            )
        return URL.create("sqlite", database=path)
    query = {str(k): str(v) for k, v in extra.items() if isinstance(v, str | int | float)}
    return URL.create(
        driver,
        username=conn.login,
        password=conn.password,
        host=conn.host,
        port=conn.port,
        database=schema if schema is not None else conn.schema,
        query=query,
    )


def _make_engine(url: URL, conn: Connection) -> Engine:
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    try:
        if url.get_backend_name() == "sqlite":
            engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
            # pysqlite's own transaction handling commits before DDL and leaves reads
            # outside transactions: let SQLAlchemy issue BEGIN, so a block is atomic.
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        return create_engine(url, poolclass=NullPool)
    except Exception as exc:
        raise SqlHookError(
            f"connection '{conn.conn_id}' cannot be opened: {type(exc).__name__}: {exc}"
        ) from None


def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: SAConnection) -> None:
    if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        conn.exec_driver_sql("BEGIN")


def _statements(sql: str | Iterable[str], split: bool, dialect: str | None = None) -> list[str]:
    items = [sql] if isinstance(sql, str) else list(sql)
    found: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise SqlHookError(f"a SQL statement must be a string, got {type(item).__name__}")
        found.extend(split_sql_statements(item, dialect=dialect) if split else [item])
    found = [s for s in found if s.strip()]
    if not found:
        raise SqlHookError("no SQL statement to run: the SQL is empty")
    return found


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")


def split_sql_statements(sql: str, *, dialect: str | None = None) -> list[str]:
    """``sql`` cut at each ``;`` outside quotes, comments and PostgreSQL ``$tag$`` bodies
    (statements stripped, empty ones dropped); SqlHookError naming the line where a quote
    or a comment opens and never closes.

    With ``dialect="mysql"``, as MySQL reads SQL, a backslash inside quotes escapes the
    next character and ``#`` starts a comment (PostgreSQL and SQLite keep a backslash as
    it is, and PostgreSQL's ``#`` is an operator).
    """
    mysql = dialect == "mysql"
    statements: list[str] = []
    start = 0  # where the current statement begins
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"', "`"):
            i = _end_of_quote(sql, i, backslash_escapes=mysql)
            continue
        if sql.startswith("--", i) or (ch == "#" and mysql):
            end = sql.find("\n", i)
            i = n if end == -1 else end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end == -1:
                raise SqlHookError(f"cannot split the SQL: the /* comment on {_line_of(sql, i)}"
                                   " is never closed")  # fmt: skip
            i = end + 2
            continue
        if ch == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            tag = _DOLLAR_TAG.match(sql, i)
            if tag is not None:
                end = sql.find(tag.group(), tag.end())
                if end == -1:
                    raise SqlHookError(
                        f"cannot split the SQL: the {tag.group()} quote on {_line_of(sql, i)}"
                        " is never closed"
                    )
                i = end + len(tag.group())
                continue
        if ch == ";":
            statements.append(sql[start:i].strip())
            start = i + 1
        i += 1
    statements.append(sql[start:].strip())
    return [s for s in statements if s and not _only_comments(s)]


def _end_of_quote(sql: str, i: int, backslash_escapes: bool) -> int:
    """The index after the quote that closes the one at ``i`` (a doubled quote is part of
    the string)."""
    quote, j, n = sql[i], i + 1, len(sql)
    while j < n:
        ch = sql[j]
        if backslash_escapes and ch == "\\" and quote != "`":
            j += 2
            continue
        if ch == quote:
            if j + 1 < n and sql[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    raise SqlHookError(
        f"cannot split the SQL: the {quote} quote on {_line_of(sql, i)} is never closed"
    )


def _line_of(sql: str, i: int) -> str:
    return f"line {sql.count(chr(10), 0, i) + 1}"


_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/|#[^\n]*", re.DOTALL)


def _only_comments(statement: str) -> bool:
    # A string holding "--" or "/*" leaves at least its quotes behind: never empty.
    return not _COMMENT.sub("", statement).strip()


def shorten_sql(sql: str, limit: int = 200) -> str:
    """``sql`` on one line, cut at ``limit`` characters, for an error message."""
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _csv_writer(out: TextIO, delimiter: str) -> Any:
    import csv

    try:
        return csv.writer(out, delimiter=delimiter, lineterminator="\n")
    except TypeError as exc:
        raise SqlHookError(f"export_csv: bad delimiter {delimiter!r}: {exc}") from None


def _csv_field(value: Any) -> Any:
    """A value as the CSV writer should see it (None stays None: an empty field)."""
    from datetime import date, time
    from decimal import Decimal

    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def _next_csv_row(reader: Any, where: str) -> list[str] | None:
    """The next non-blank row of ``reader``, or None at the end; SqlHookError for bad CSV."""
    import csv

    try:
        for row in reader:
            if row:  # skip a blank line
                return list(row)
    except csv.Error as exc:
        raise SqlHookError(f"{where}, line {reader.line_num}: bad CSV: {exc}") from None
    return None
