"""Between a database and object storage: ``SqlToObjectStorageOperator`` (Airflow's
SqlToS3Operator) and ``ObjectStorageToSqlOperator`` (Airflow's S3ToSqlOperator).

Both stream: a query's rows go from a server-side cursor to a temporary file a batch at a
time and the file is uploaded; an object is downloaded to a temporary file and inserted a
batch at a time. Neither holds a table in memory.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sluice.core.errors import DagDefinitionError
from sluice.integrations.arguments import check_bool, check_conn_id, positive_int
from sluice.integrations.errors import IntegrationError
from sluice.integrations.sql.hook import SqlHook, SqlHookError
from sluice.integrations.sql.operators import (
    check_hook_params,
    check_parameters,
    check_sql,
    make_hook,
    rendered_sql,
)
from sluice.integrations.storage.checks import (
    check_location,
    check_storage_conn_id,
    check_text,
    rendered_text,
)
from sluice.integrations.storage.errors import ObjectExists
from sluice.integrations.storage.hook import ObjectStorageHook
from sluice.integrations.storage.locations import split_location
from sluice.sdk.operator import BaseOperator, Context, task_where
from sluice.sdk.xcom_arg import XComArg

log = logging.getLogger("sluice.task")

FILE_FORMATS = ("csv", "parquet")
UI_COLOR = "#f0c9a8"


class TransferError(IntegrationError):
    """Raised when rows cannot be moved between a database and object storage."""


class SqlToObjectStorageOperator(BaseOperator):
    """Runs ``query`` on ``sql_conn_id`` and stores its rows as the object ``key``, as CSV
    or Parquet; returns ``{"bucket", "key", "rows"}``.

    Args:
        query: the SQL query, or a ``.sql`` file next to the DAG file (templated).
        bucket: the bucket (templated); None when ``key`` is a full ``s3://`` URL, or for
            the root folder of an ``fs`` connection.
        key: the key to write (templated).
        sql_conn_id: the database connection (templated).
        storage_conn_id: the storage connection.
        parameters: query parameters, in the driver's style (templated).
        file_format: ``csv`` or ``parquet`` (Parquet needs pyarrow).
        replace: overwrite an existing object (False, as Airflow).
        header: write a header line (CSV).
        delimiter: the field separator (CSV).
        batch_size: rows read from the database at a time.
        sql_hook_params: SqlHook arguments (``schema``, ``log_sql``).
    """

    template_fields: Sequence[str] = ("bucket", "key", "query", "sql_conn_id", "parameters")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"query": "sql", "parameters": "json"}
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        query: str,
        key: str,
        sql_conn_id: str,
        bucket: str | None = None,
        storage_conn_id: str | None = ObjectStorageHook.default_conn_name,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        file_format: str = "csv",
        replace: bool = False,
        header: bool = True,
        delimiter: str = ",",
        batch_size: int = 10_000,
        sql_hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.query = check_sql(where, "query", query, allow_list=False)
        self.key = check_text(where, "key", key)
        self.bucket = check_text(where, "bucket", bucket, optional=True)
        check_location(where, bucket, key, bucket_param="bucket", key_param="key")
        self.sql_conn_id = check_conn_id(where, "sql_conn_id", sql_conn_id)
        self.storage_conn_id = check_storage_conn_id(where, "storage_conn_id", storage_conn_id)
        self.parameters = check_parameters(where, parameters)
        self.file_format = _file_format(where, file_format)
        self.replace = check_bool(where, "replace", replace)
        self.header = check_bool(where, "header", header)
        self.delimiter = _delimiter(where, delimiter)
        self.batch_size = positive_int(where, "batch_size", batch_size)
        self.sql_hook_params = check_hook_params(where, "sql_hook_params", sql_hook_params)

    def execute(self, context: Context) -> dict[str, Any]:
        """Export the query to a temporary file, then upload it."""
        where = task_where(self)
        query = rendered_sql(self, "query", self.query)
        assert isinstance(query, str)  # check_sql refused lists
        bucket, key = split_location(self.bucket or None, rendered_text(where, "key", self.key))
        storage = ObjectStorageHook(self.storage_conn_id)
        if not self.replace and storage.check_for_key(bucket, key):
            # Before running the query: a long export that cannot be stored helps nobody.
            raise ObjectExists(
                f"{where}: key {key!r} already exists; pass replace=True to overwrite it"
            )
        database = make_hook(self, self.sql_conn_id, self.sql_hook_params)
        with tempfile.TemporaryDirectory(prefix="sluice-export-") as folder:
            path = Path(folder, f"export.{self.file_format}")
            try:
                rows = self._export(database, query, path)
            except SqlHookError as exc:
                raise TransferError(f"{where}: {exc}") from None
            except _statement_errors() as exc:
                raise TransferError(f"{where}: the query failed: {_said(exc)}") from exc
            log.info("exported %d row(s) (%d bytes)", rows, path.stat().st_size)
            storage.upload_file(path, bucket, key, replace=self.replace)
        return {"bucket": bucket, "key": key, "rows": rows}

    def _export(self, database: SqlHook, query: str, path: Path) -> int:
        parameters = self.parameters or None
        if self.file_format == "csv":
            with open(path, "w", encoding="utf-8", newline="") as out:
                return database.export_csv(
                    query,
                    out,
                    parameters=parameters,
                    header=self.header,
                    delimiter=self.delimiter,
                    batch_size=self.batch_size,
                )
        from sluice.integrations.storage.parquet import write_parquet

        with database.stream_rows(query, parameters, self.batch_size) as (columns, batches):
            return write_parquet(path, columns, batches)


class ObjectStorageToSqlOperator(BaseOperator):
    """Inserts the rows of the object ``key`` (CSV or Parquet) into ``table``; returns how
    many rows it inserted.

    ``preoperator`` runs first, in the same transaction as the inserts: a failure leaves
    the table as it was (a delete-and-insert by interval is idempotent).

    Args:
        bucket: the bucket (templated); None when ``key`` is a full ``s3://`` URL.
        key: the object to load (templated).
        table: the table to insert into (templated).
        sql_conn_id: the database connection (templated).
        storage_conn_id: the storage connection.
        file_format: ``csv`` or ``parquet``.
        columns: the table's columns to fill, in the file's order (default: the CSV's
            header, or the Parquet file's column names) (templated).
        preoperator: SQL run first, such as a DELETE of the interval being loaded (a
            string, split at ``;``, a list of statements, or a ``.sql`` file) (templated).
        header: the CSV's first line names its columns.
        delimiter: the CSV's field separator.
        null: the CSV field that stands for NULL (default: an empty field).
        commit_every: rows per insert batch.
        sql_hook_params: SqlHook arguments (``schema``, ``log_sql``).
    """

    template_fields: Sequence[str] = (
        "bucket",
        "key",
        "table",
        "sql_conn_id",
        "columns",
        "preoperator",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"preoperator": "sql"}
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        key: str,
        table: str,
        sql_conn_id: str,
        bucket: str | None = None,
        storage_conn_id: str | None = ObjectStorageHook.default_conn_name,
        file_format: str = "csv",
        columns: Sequence[str] | None = None,
        preoperator: str | list[str] | None = None,
        header: bool = True,
        delimiter: str = ",",
        null: str = "",
        commit_every: int = 1000,
        sql_hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.key = check_text(where, "key", key)
        self.bucket = check_text(where, "bucket", bucket, optional=True)
        check_location(where, bucket, key, bucket_param="bucket", key_param="key")
        self.table = check_text(where, "table", table)
        self.sql_conn_id = check_conn_id(where, "sql_conn_id", sql_conn_id)
        self.storage_conn_id = check_storage_conn_id(where, "storage_conn_id", storage_conn_id)
        self.file_format = _file_format(where, file_format)
        self.columns = _columns(where, columns)
        self.preoperator = (
            None if preoperator is None else check_sql(where, "preoperator", preoperator)
        )
        self.header = check_bool(where, "header", header)
        self.delimiter = _delimiter(where, delimiter)
        if not isinstance(null, str):
            raise DagDefinitionError(f"{where}: null must be a string, got {null!r}")
        self.null = null
        self.commit_every = positive_int(where, "commit_every", commit_every)
        self.sql_hook_params = check_hook_params(where, "sql_hook_params", sql_hook_params)

    def execute(self, context: Context) -> int:
        """Download the object, then insert its rows."""
        where = task_where(self)
        bucket, key = split_location(self.bucket or None, rendered_text(where, "key", self.key))
        table = rendered_text(where, "table", self.table)
        try:
            columns = None if self.columns is None else _columns(where, self.columns)
        except DagDefinitionError as exc:  # a template rendered to something else
            raise TransferError(str(exc)) from None
        database = make_hook(self, self.sql_conn_id, self.sql_hook_params)
        storage = ObjectStorageHook(self.storage_conn_id)
        with tempfile.TemporaryDirectory(prefix="sluice-load-") as folder:
            path = Path(folder, f"object.{self.file_format}")
            storage.download_file(bucket, key, path)
            try:
                preoperator = self._preoperator(database)
                if self.file_format == "csv":
                    count = self._load_csv(database, table, columns, preoperator, path)
                else:
                    count = self._load_parquet(database, table, columns, preoperator, path)
            except SqlHookError as exc:
                raise TransferError(f"{where}: {exc}") from None
            except _statement_errors() as exc:
                raise TransferError(
                    f"{where}: loading {key!r} into {table} failed, and its transaction was"
                    f" rolled back: {_said(exc)}"
                ) from exc
        log.info("inserted %d row(s) into %s", count, table)
        return count

    def _preoperator(self, database: SqlHook) -> list[str]:
        if self.preoperator is None:
            return []
        sql = rendered_sql(self, "preoperator", self.preoperator)
        return database.statements(sql, split_statements=True)

    def _load_csv(
        self,
        database: SqlHook,
        table: str,
        columns: list[str] | None,
        preoperator: list[str],
        path: Path,
    ) -> int:
        with open(path, encoding="utf-8", newline="") as source, database.transaction() as conn:
            for statement in preoperator:
                database.execute_in(conn, statement).close()
            return database.load_csv_in(
                conn,
                table,
                source,
                header=self.header,
                columns=columns,
                delimiter=self.delimiter,
                commit_every=self.commit_every,
                null=self.null,
            )

    def _load_parquet(
        self,
        database: SqlHook,
        table: str,
        columns: list[str] | None,
        preoperator: list[str],
        path: Path,
    ) -> int:
        from sluice.integrations.storage.parquet import parquet_columns, read_parquet

        names = parquet_columns(path)
        if columns is not None and len(columns) != len(names):
            raise TransferError(
                f"{task_where(self)}: columns names {len(columns)} column(s) but the Parquet"
                f" file has {len(names)}: {', '.join(names)}"
            )
        plain = database.dialect_name == "sqlite"
        rows = read_parquet(path, self.commit_every, plain_values=plain)
        with database.transaction() as conn:
            for statement in preoperator:
                database.execute_in(conn, statement).close()
            return database.insert_rows_in(
                conn, table, rows, target_fields=columns or names, commit_every=self.commit_every
            )


def _statement_errors() -> type[Exception]:
    """SQLAlchemy's error of a statement the database refused (imported when needed)."""
    from sqlalchemy.exc import StatementError

    return StatementError


def _said(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    said = str(orig if orig is not None else exc).strip()
    return f"{type(orig or exc).__name__}: {said}"


def _file_format(where: str, value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in FILE_FORMATS:
        raise DagDefinitionError(
            f"{where}: file_format must be one of {', '.join(FILE_FORMATS)}, got {value!r}"
        )
    return value.lower()


def _delimiter(where: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise DagDefinitionError(
            f"{where}: delimiter must be one character, such as ',' or '\\t', got {value!r}"
        )
    return value


def _columns(where: str, value: Any) -> Any:
    if value is None or isinstance(value, XComArg):
        return value
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not value
        or not all(isinstance(c, str) and c.strip() for c in value)
    ):
        raise DagDefinitionError(
            f"{where}: columns must be a non-empty list of column names, got {value!r}"
        )
    return list(value)
