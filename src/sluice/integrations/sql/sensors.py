"""``SqlSensor``: wait until a query's first cell says so, with Airflow's names."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sluice.integrations.arguments import check_callable, check_conn_id
from sluice.integrations.errors import IntegrationError
from sluice.integrations.sql.hook import SqlHookError
from sluice.integrations.sql.operators import (
    check_hook_params,
    check_parameters,
    check_sql,
    make_hook,
    rendered_sql,
    run_statements,
)
from sluice.sdk.operator import Context, task_where
from sluice.sdk.sensors.base import BaseSensorOperator

log = logging.getLogger("sluice.task")


class SqlSensorFailure(IntegrationError):
    """Raised when a SqlSensor's ``failure`` criteria is met or ``fail_on_empty`` finds no
    row (a failure the task's retries apply to, as Airflow's AirflowException)."""


class SqlSensor(BaseSensorOperator):
    """Runs ``sql`` at each poke until its first row's first cell meets the criteria.

    Without ``success``, the sensor is done when the cell is truthy and not the string
    ``"0"`` (so ``0``, ``"0"``, ``""`` and None keep it waiting, as Airflow documents).
    ``failure`` is checked first: when it returns True, the sensor fails.

    Args:
        conn_id: the database connection.
        sql: one query (or a ``.sql`` file), rendered with Jinja.
        parameters: the driver's query parameters.
        success: called with the cell; the sensor is done when it returns True.
        failure: called with the cell; the sensor fails when it returns True.
        selector: picks the value from the first row (default: its first cell).
        fail_on_empty: fail when the query returns no row, instead of waiting.
        hook_params: SqlHook arguments (``schema``, ``log_sql``).
    """

    template_fields: Sequence[str] = ("sql", "hook_params", "parameters")
    template_ext: Sequence[str] = (".hql", ".sql")
    template_fields_renderers = {"sql": "sql", "parameters": "json"}
    ui_color = "#7c7287"

    def __init__(
        self,
        *,
        conn_id: str,
        sql: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        success: Callable[[Any], bool] | None = None,
        failure: Callable[[Any], bool] | None = None,
        selector: Callable[[tuple[Any, ...]], Any] = itemgetter(0),
        fail_on_empty: bool = False,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.conn_id = check_conn_id(where, "conn_id", conn_id)
        self.sql = check_sql(where, "sql", sql, allow_list=False)
        self.parameters = check_parameters(where, parameters)
        self.success = check_callable(where, "success", success)
        self.failure = check_callable(where, "failure", failure)
        self.selector = check_callable(where, "selector", selector)
        self.fail_on_empty = fail_on_empty
        self.hook_params = check_hook_params(where, "hook_params", hook_params)

    def poke(self, context: Context) -> bool:
        """Run the query once; whether its first cell meets the criteria."""
        where = task_where(self)
        sql = rendered_sql(self, "sql", self.sql)
        hook = make_hook(self, self.conn_id, self.hook_params)
        log.info("Poking: %s (with parameters %s)", sql, self.parameters)
        try:
            (first,) = run_statements(
                self, hook, hook.statements(sql), parameters=self.parameters, handler=_first_row
            )
        except SqlHookError as exc:
            raise SqlSensorFailure(f"{where}: {exc}") from None
        if first is None:
            if self.fail_on_empty:
                raise SqlSensorFailure(
                    f"{where}: no rows returned, raising as per fail_on_empty flag"
                )
            return False
        condition = self.selector(first)
        if self.failure is not None and self.failure(condition):
            raise SqlSensorFailure(
                f"{where}: failure criteria met: failure({condition!r}) returned True"
            )
        if self.success is not None:
            return bool(self.success(condition))
        return bool(condition) and condition != "0"


def _first_row(result: Any) -> tuple[Any, ...] | None:
    """The first row, or None; a statement that returns no rows is an error."""
    if not result.returns_rows:
        raise SqlHookError("the SQL returns no rows: a SqlSensor needs a query")
    row = result.fetchone()
    return None if row is None else tuple(row)
