"""``GenericTransfer``: copy a query's rows from one database connection into a table of
another, streamed, with Airflow's names."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import closing
from typing import Any

from sluice.core.errors import DagDefinitionError
from sluice.integrations.arguments import check_callable, check_conn_id, check_dict, positive_int
from sluice.integrations.sql.hook import SqlHook, SqlHookError
from sluice.integrations.sql.operators import (
    SqlOperatorError,
    check_hook_params,
    check_sql,
    make_hook,
    rendered_sql,
)
from sluice.sdk.operator import BaseOperator, Context, task_where

log = logging.getLogger("sluice.task")

INSERT_ARGS = ("target_fields", "commit_every", "replace", "executemany", "fast_executemany")
"""The keys ``insert_args`` accepts (the last two, Airflow's, change nothing here: rows
are always sent with executemany)."""
DEFAULT_PAGE_SIZE = 10_000
"""Rows read from the source at a time when ``page_size`` is not set."""


class GenericTransfer(BaseOperator):
    """Copies the rows of ``sql`` on ``source_conn_id`` into ``destination_table`` on
    ``destination_conn_id``.

    The rows are streamed from a server-side cursor, ``page_size`` at a time (10,000 when
    unset), so a large table never sits in memory. On the destination, ``preoperator``
    and every insert run in one transaction: a failure anywhere leaves the destination
    as it was.

    Args:
        sql: the query (or a list of queries, or a ``.sql`` file) to read rows with.
        destination_table: the table to insert into.
        source_conn_id: the connection to read from.
        destination_conn_id: the connection to write to.
        preoperator: SQL run on the destination first, in the same transaction (a
            string, split at ``;``, or a list of statements), such as a DELETE.
        insert_args: ``target_fields`` (the destination columns, default: the table's
            in order), ``commit_every`` (rows per executemany, default 1000) and
            ``replace`` (REPLACE on MySQL, INSERT OR REPLACE on SQLite).
        page_size: rows read at a time.
        source_hook_params, destination_hook_params: SqlHook arguments of each side.
        rows_processor: called as ``rows_processor(rows, **context)`` on each page; it
            returns the rows to insert.
    """

    template_fields: Sequence[str] = (
        "source_conn_id",
        "destination_conn_id",
        "sql",
        "destination_table",
        "preoperator",
        "insert_args",
        "page_size",
    )
    template_ext: Sequence[str] = (".sql", ".hql")
    template_fields_renderers = {"sql": "sql", "preoperator": "sql"}
    ui_color = "#b0f07c"

    def __init__(
        self,
        *,
        sql: str | list[str],
        destination_table: str,
        source_conn_id: str,
        destination_conn_id: str,
        preoperator: str | list[str] | None = None,
        insert_args: Mapping[str, Any] | None = None,
        page_size: int | str | None = None,
        source_hook_params: Mapping[str, Any] | None = None,
        destination_hook_params: Mapping[str, Any] | None = None,
        rows_processor: Callable[..., list[Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.sql = check_sql(where, "sql", sql)
        if not isinstance(destination_table, str) or not destination_table.strip():
            raise DagDefinitionError(
                f"{where}: destination_table must be a table name, got {destination_table!r}"
            )
        self.destination_table = destination_table
        self.source_conn_id = check_conn_id(where, "source_conn_id", source_conn_id)
        self.destination_conn_id = check_conn_id(where, "destination_conn_id", destination_conn_id)
        self.preoperator = (
            None if preoperator is None else check_sql(where, "preoperator", preoperator)
        )
        self.insert_args = _check_insert_args(where, insert_args)
        if page_size is not None and not isinstance(page_size, str):
            positive_int(where, "page_size", page_size)
        self.page_size = page_size
        self.source_hook_params = check_hook_params(where, "source_hook_params", source_hook_params)
        self.destination_hook_params = check_hook_params(
            where, "destination_hook_params", destination_hook_params
        )
        self.rows_processor = check_callable(where, "rows_processor", rows_processor)

    def execute(self, context: Context) -> None:
        """Run the preoperator and copy the rows, in one destination transaction."""
        from sqlalchemy.exc import StatementError

        where = task_where(self)
        queries = rendered_sql(self, "sql", self.sql)
        queries = [queries] if isinstance(queries, str) else queries
        # Templated fields come back as text: as Airflow, read numbers from it.
        page_size = DEFAULT_PAGE_SIZE
        if self.page_size is not None:
            page_size = positive_int(
                where, "page_size", self.page_size, text=True, error=SqlOperatorError
            )
        insert_args = dict(self.insert_args)
        if insert_args.get("commit_every") is not None:
            insert_args["commit_every"] = positive_int(
                where,
                "insert_args['commit_every']",
                insert_args["commit_every"],
                text=True,
                error=SqlOperatorError,
            )
        for ignored in ("executemany", "fast_executemany"):
            insert_args.pop(ignored, None)
        source = make_hook(self, self.source_conn_id, self.source_hook_params)
        destination = make_hook(self, self.destination_conn_id, self.destination_hook_params)
        preoperator = self._preoperator(destination)
        count = 0
        statement = "?"
        try:
            with destination.transaction() as conn:
                for statement in preoperator:
                    log.info("Running preoperator: %s", statement)
                    destination.execute_in(conn, statement).close()
                for query in queries:
                    statement = query
                    log.info("Extracting data from %s: %s", self.source_conn_id, query)
                    with closing(self._rows(source, query, page_size, context)) as rows:
                        count += destination.insert_rows_in(
                            conn, self.destination_table, rows, **insert_args
                        )
        except StatementError as exc:
            said = str(exc.orig if exc.orig is not None else exc).strip()
            failed = exc.statement or statement
            raise SqlOperatorError(
                f"{where}: the transfer into {self.destination_table} failed, nothing was "
                f"written: {type(exc).__name__}: {said}\nstatement: {failed}"
            ) from exc
        except SqlHookError as exc:
            raise SqlOperatorError(f"{where}: {exc}") from None
        log.info("copied %d row(s) into %s", count, self.destination_table)

    def _preoperator(self, destination: SqlHook) -> list[str]:
        if self.preoperator is None:
            return []
        sql = rendered_sql(self, "preoperator", self.preoperator)
        try:
            return destination.statements(sql, split_statements=True)
        except SqlHookError as exc:
            raise SqlOperatorError(f"{task_where(self)}: preoperator: {exc}") from None

    def _rows(
        self, source: SqlHook, query: str, page_size: int, context: Context
    ) -> Generator[Sequence[Any], None, None]:
        """The rows of ``query``, read ``page_size`` at a time (through rows_processor)."""
        with source.stream_rows(query, batch_size=page_size) as (_, pages):
            for page in pages:
                if self.rows_processor is None:
                    yield from page
                    continue
                rows = self.rows_processor(page, **context)
                if not isinstance(rows, Sequence) or isinstance(rows, str):
                    raise SqlOperatorError(
                        f"{task_where(self)}: rows_processor must return a list of rows, got "
                        f"{type(rows).__name__}"
                    )
                yield from rows


def _check_insert_args(where: str, value: Any) -> dict[str, Any]:
    insert_args = check_dict(where, "insert_args", value)
    unknown = sorted(str(k) for k in insert_args if k not in INSERT_ARGS)
    if unknown:
        raise DagDefinitionError(
            f"{where}: insert_args has unknown key(s) {', '.join(unknown)}; it takes "
            f"{', '.join(INSERT_ARGS)}"
        )
    fields = insert_args.get("target_fields")
    if fields is not None and (
        isinstance(fields, str) or not all(isinstance(f, str) and f for f in fields)
    ):
        raise DagDefinitionError(
            f"{where}: insert_args['target_fields'] must be a list of column names, got {fields!r}"
        )
    every = insert_args.get("commit_every")
    if every is not None and not isinstance(every, str):
        positive_int(where, "insert_args['commit_every']", every)
    return insert_args
