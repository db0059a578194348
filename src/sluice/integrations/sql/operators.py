"""SQL operators with Airflow's common.sql names: ``BaseSQLOperator`` (the base of every
operator that runs SQL on one connection) and ``SQLExecuteQueryOperator``.

Importing this module imports no SQLAlchemy: the hook connects when a task runs.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from sluice.core.errors import DagDefinitionError, FailTask
from sluice.integrations.arguments import check_conn_id, check_dict
from sluice.integrations.errors import IntegrationError
from sluice.integrations.sql.hook import (
    Handler,
    SqlHook,
    SqlHookError,
    fetch_all_handler,
    shorten_sql,
)
from sluice.sdk.operator import BaseOperator, Context, task_where
from sluice.sdk.xcom_arg import XComArg

if TYPE_CHECKING:
    from sqlalchemy.exc import StatementError

log = logging.getLogger("sluice.task")

HOOK_PARAMS = tuple(
    name
    for name in inspect.signature(SqlHook.__init__).parameters
    if name not in ("self", "conn_id")
)
"""The ``hook_params`` a SQL operator accepts: SqlHook's keyword arguments."""


class SqlOperatorError(IntegrationError):
    """Raised when a SQL operator's statement fails or its SQL cannot be run."""


class BaseSQLOperator(BaseOperator):
    """The base of operators that run SQL on the connection ``conn_id``, as Airflow's.

    Args:
        conn_id: the connection of the database (a type SqlHook opens: sqlite, postgres,
            mysql, mariadb).
        database: a database name (or SQLite file) used instead of the connection's schema.
        hook_params: keyword arguments of :class:`SqlHook` (``schema``, ``log_sql``).
        retry_on_failure: whether :meth:`_raise_exception` lets the task retry; when False
            the task fails at once (Airflow's AirflowFailException).

    Subclasses call :meth:`get_db_hook` in ``execute`` and raise with
    :meth:`_raise_exception` when the data is not as expected.
    """

    template_fields: Sequence[str] = ("conn_id", "database", "hook_params")
    ui_color = "#cdaaed"
    conn_id_field = "conn_id"

    def __init__(
        self,
        *,
        conn_id: str | None = None,
        database: str | None = None,
        hook_params: Mapping[str, Any] | None = None,
        retry_on_failure: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        if conn_id is None:
            raise DagDefinitionError(f"{where}: conn_id is required: name a database connection")
        self.conn_id = check_conn_id(where, "conn_id", conn_id)
        if database is not None and (not isinstance(database, str) or not database.strip()):
            raise DagDefinitionError(
                f"{where}: database must be a non-empty string or None, got {database!r}"
            )
        self.database = database
        self.hook_params = check_hook_params(where, "hook_params", hook_params)
        self.retry_on_failure = retry_on_failure
        self._hook: SqlHook | None = None

    def get_db_hook(self) -> SqlHook:
        """The hook on ``conn_id`` (``database`` overriding the connection's schema), made
        once; SqlHookError naming the task when the connection is not a database."""
        if self._hook is None:
            self._hook = make_hook(self, self.conn_id, self.hook_params, self.database)
        return self._hook

    def _raise_exception(self, exception_string: str) -> NoReturn:
        """Fail the task with ``exception_string``: retried (``retry_on_failure``) or not."""
        if self.retry_on_failure:
            raise SqlOperatorError(exception_string)
        raise FailTask(exception_string)


class SQLExecuteQueryOperator(BaseSQLOperator):
    """Runs SQL on a database; the rows it returns go to XCom.

    Args:
        sql: one statement, a list of statements, or the path of a ``.sql`` file (found
            next to the DAG file or in the DAG's ``template_searchpath``), rendered with
            Jinja.
        autocommit: commit each statement on its own instead of all in one transaction.
        parameters: the driver's query parameters (``%s``/``%(name)s`` on PostgreSQL and
            MySQL, ``?``/``:name`` on SQLite), given to every statement.
        handler: reads each statement's result (default: every row).
        split_statements: cut a string at its ``;`` into statements.
        return_last: with a string of several statements, return only the last result.
        show_return_value_in_logs: log the result (avoid for large results).

    The XCom value is the rows as lists, JSON-safe: Decimal becomes an int (no fraction)
    or a float, a time and a UUID become text, datetimes and dates stay as they are. It
    is one statement's result when ``sql`` is a string and either ``return_last`` or not
    ``split_statements``; otherwise a list with one result per statement (as Airflow).
    """

    template_fields: Sequence[str] = ("sql", "parameters", *BaseSQLOperator.template_fields)
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "parameters": "json"}

    def __init__(
        self,
        *,
        sql: str | list[str],
        autocommit: bool = False,
        parameters: Mapping[str, Any] | Iterable[Any] | None = None,
        handler: Handler = fetch_all_handler,
        split_statements: bool = False,
        return_last: bool = True,
        show_return_value_in_logs: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.sql = check_sql(where, "sql", sql)
        self.autocommit = autocommit
        self.parameters = check_parameters(where, parameters)
        if not callable(handler):
            raise DagDefinitionError(f"{where}: handler must be callable, got {handler!r}")
        self.handler = handler
        self.split_statements = split_statements
        self.return_last = return_last
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: Context) -> Any:
        """Run the statements (one transaction unless ``autocommit``); return the results
        to push to XCom, or None when ``do_xcom_push`` is off."""
        hook = self.get_db_hook()
        sql = rendered_sql(self, "sql", self.sql)
        try:
            statements = hook.statements(sql, self.split_statements)
        except SqlHookError as exc:
            raise SqlOperatorError(f"{task_where(self)}: {exc}") from None
        log.info("Executing: %s", sql)
        handler = None
        if self.do_xcom_push:
            user_handler = self.handler

            def handler(result: Any) -> Any:
                # Made JSON-safe inside the transaction: a value XCom cannot hold rolls
                # the statements back instead of failing after they were committed.
                return to_xcom_value(user_handler(result), task_where(self))

        results = run_statements(
            self,
            hook,
            statements,
            autocommit=self.autocommit,
            parameters=self.parameters,
            handler=handler,
        )
        if not self.do_xcom_push:
            return None
        single = isinstance(sql, str) and (self.return_last or not self.split_statements)
        output = results[-1] if single else results
        if self.show_return_value_in_logs:
            log.info("Operator output is: %s", output)
        return output


def run_statements(
    task: BaseOperator,
    hook: SqlHook,
    statements: list[str],
    *,
    autocommit: bool = False,
    parameters: Any = None,
    handler: Handler | None = None,
) -> list[Any]:
    """Run ``statements`` through ``hook.run`` and return every result; a statement the
    database refuses is a SqlOperatorError naming the task and the statement."""
    from sqlalchemy.exc import StatementError

    try:
        results = hook.run(
            statements,
            autocommit=autocommit,
            parameters=parameters,
            handler=handler,
            return_last=False,
        )
    except StatementError as exc:
        raise statement_error(task, exc, statements, autocommit) from exc
    return results if isinstance(results, list) else []


def statement_error(
    task: BaseOperator, exc: StatementError, statements: Sequence[str], autocommit: bool
) -> SqlOperatorError:
    """The error of a statement the database refused: which task, which statement (its
    number among ``statements``), what the database said, and what was kept."""
    failed = exc.statement or ""
    number = next(
        (i for i, s in enumerate(statements, 1) if failed in (s, s.replace("%", "%%"))), None
    )
    which = f"statement {number} of {len(statements)}" if number else "a statement"
    said = str(exc.orig if exc.orig is not None else exc).strip()
    if autocommit:
        kept = "the statements before it were committed (autocommit=True)"
    else:
        kept = "the transaction was rolled back: nothing was committed"
    return SqlOperatorError(
        f"{task_where(task)}: {which} failed: {type(exc).__name__}: {said}\n"
        f"statement: {shorten_sql(failed, 300)}\n{kept}"
    )


def to_xcom_value(value: Any, where: str) -> Any:
    """A query result as XCom stores it: rows (tuples) as lists, Decimal as int or float
    (as Airflow serializes it), times and UUIDs as text; XCom takes the rest or names
    what it cannot hold."""
    from datetime import date, time, timedelta
    from decimal import Decimal
    from uuid import UUID

    if value is None or isinstance(value, bool | int | float | str | date | timedelta):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, time | UUID):
        return value.isoformat() if isinstance(value, time) else str(value)
    if isinstance(value, Mapping):
        return {k: to_xcom_value(v, where) for k, v in value.items()}
    if isinstance(value, bytes | bytearray | memoryview):
        raise SqlOperatorError(
            f"{where}: the result holds binary data ({len(bytes(value))} bytes), which XCom"
            " cannot hold: convert it in SQL (hex, base64) or set do_xcom_push=False"
        )
    if isinstance(value, Iterable):
        return [to_xcom_value(v, where) for v in value]
    return value  # XCom names its type if it cannot hold it


# -- checks shared by the SQL operators and the SQL sensor --------------------------------


def check_hook_params(where: str, name: str, params: Any) -> dict[str, Any]:
    """``params`` as a dict of SqlHook keyword arguments, else DagDefinitionError."""
    checked = check_dict(where, name, params)
    unknown = sorted(str(k) for k in checked if k not in HOOK_PARAMS)
    if unknown:
        raise DagDefinitionError(
            f"{where}: {name} has unknown key(s) {', '.join(unknown)}; SqlHook takes "
            f"{', '.join(HOOK_PARAMS)}"
        )
    return checked


def check_sql(where: str, name: str, sql: Any, *, allow_list: bool = True) -> Any:
    """``sql`` if it is a non-empty string (or list of them), else DagDefinitionError; an
    XComArg or other template value is left to be rendered."""
    if isinstance(sql, XComArg):
        return sql
    kinds = "a string or a list of strings" if allow_list else "a string"
    if isinstance(sql, str):
        if not sql.strip():
            raise DagDefinitionError(f"{where}: {name} is empty: give the SQL to run")
        return sql
    if allow_list and isinstance(sql, list | tuple):
        if not sql:
            raise DagDefinitionError(f"{where}: {name} is an empty list: give the SQL to run")
        for i, item in enumerate(sql):
            if isinstance(item, XComArg):
                continue
            if not isinstance(item, str) or not item.strip():
                raise DagDefinitionError(
                    f"{where}: {name}[{i}] must be a non-empty SQL string, got {item!r}"
                )
        return list(sql)
    raise DagDefinitionError(f"{where}: {name} must be {kinds}, got {type(sql).__name__}")


def check_parameters(where: str, parameters: Any) -> Any:
    """``parameters`` if a dict, a list or a tuple (or None or a template value)."""
    if parameters is None or isinstance(parameters, Mapping | list | tuple | XComArg):
        return parameters
    raise DagDefinitionError(
        f"{where}: parameters must be a dict (named) or a list (positional), got "
        f"{type(parameters).__name__}"
    )


def rendered_sql(task: BaseOperator, name: str, sql: Any) -> str | list[str]:
    """The rendered ``sql`` field, checked again: a template may render to nothing."""
    if isinstance(sql, str) and sql.strip():
        return sql
    if isinstance(sql, list) and sql and all(isinstance(s, str) and s.strip() for s in sql):
        return sql
    raise SqlOperatorError(
        f"{task_where(task)}: {name} rendered to {sql!r}, which is no SQL to run"
    )


def make_hook(
    task: BaseOperator, conn_id: str, hook_params: Mapping[str, Any], database: str | None = None
) -> SqlHook:
    """A SqlHook on ``conn_id``; SqlOperatorError naming the task when the connection
    cannot be opened as a database (its type, its fields)."""
    params = dict(hook_params)
    if database is not None:
        params["schema"] = database
    hook = SqlHook(conn_id, **params)
    try:
        hook.sqlalchemy_url  # noqa: B018 - reads the connection and checks its type now
    except SqlHookError as exc:
        raise SqlOperatorError(f"{task_where(task)}: {exc}") from None
    return hook
