"""What every data-quality check operator shares: the connection (Airflow's
``BaseSQLOperator``), ``severity``, running its queries with clear errors, and finishing:
its outcomes logged, stored for the try and returned to XCom, the task failed for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sluice.core.errors import DagDefinitionError
from sluice.integrations.sql.check_results import finish_checks
from sluice.integrations.sql.check_rules import CheckOutcome, severity_of, show
from sluice.integrations.sql.hook import Handler, fetch_all_handler, fetch_one_handler
from sluice.integrations.sql.operators import BaseSQLOperator, run_statements
from sluice.sdk.operator import task_where

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

    from sluice.sdk.abstract_operator import Context

NO_ROWS = "no rows"
Row = tuple[list[str], tuple[Any, ...] | None]
"""A query's column names and its first row (None: no row)."""


class BaseCheckOperator(BaseSQLOperator):
    """The base of the check operators: ``conn_id``, ``database``, ``hook_params`` and
    ``retry_on_failure`` as Airflow's ``BaseSQLOperator``, and ``severity``: ``error``
    (a failed check fails the task) or ``warn`` (it is recorded and logged; the task
    succeeds)."""

    ui_color = "#fff7e6"
    check_type = "sql"
    """How the stored results name this operator's checks."""

    def __init__(self, *, severity: str = "error", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.severity = severity_of(self.where, severity)

    @property
    def where(self) -> str:
        """``task 't' of DAG 'd'``: how errors name this task."""
        return task_where(self)

    def query(self, sql: str, handler: Handler, parameters: Any = None) -> Any:
        """One statement's result read by ``handler``; a statement the database refuses
        is an error naming the task and the statement."""
        hook = self.get_db_hook()
        results = run_statements(self, hook, [sql], parameters=parameters, handler=handler)
        return results[-1] if results else None

    def first(self, sql: str, parameters: Any = None) -> tuple[Any, ...] | None:
        """The first row of a query (None: no row)."""
        return self.query(sql, fetch_one_handler, parameters)  # type: ignore[no-any-return]

    def records(self, sql: str) -> list[tuple[Any, ...]]:
        """Every row of a query."""
        return self.query(sql, fetch_all_handler) or []

    def first_with_names(self, sql: str, parameters: Any = None) -> Row:
        """A query's column names and first row."""
        return self.query(sql, first_row, parameters)  # type: ignore[no-any-return]

    def outcome(
        self,
        name: str,
        observed: str | None,
        expectation: str,
        passed: bool,
        *,
        table: str | None = None,
        column: str | None = None,
        severity: str | None = None,
    ) -> CheckOutcome:
        """One check's outcome, with this operator's type and severity by default."""
        return CheckOutcome(
            name=name,
            check_type=self.check_type,
            table=table,
            column=column,
            observed=observed,
            expectation=expectation,
            passed=passed,
            severity=severity or self.severity,
        )

    def finish(self, context: Context, outcomes: Sequence[CheckOutcome]) -> list[dict[str, Any]]:
        """Log and store the outcomes, fail for failed errors; the XCom summary."""
        return finish_checks(
            context, self.task_id, outcomes, retry_on_failure=self.retry_on_failure
        )


def first_row(result: CursorResult[Any]) -> Row:
    """A statement's column names and first row (a handler of :meth:`SqlHook.run`)."""
    if not result.returns_rows:
        return [], None
    row = result.fetchone()
    return list(result.keys()), None if row is None else tuple(row)


def value_names(columns: Sequence[str], width: int) -> list[str]:
    """A name per value of a row: its column's label, made unique; ``value N`` for a
    column without a usable label (PostgreSQL's ``?column?``)."""
    names: list[str] = []
    for i in range(width):
        label = columns[i] if i < len(columns) else ""
        name = label if label and label != "?column?" else f"value {i + 1}"
        if name in names:
            name = f"{name} ({i + 1})"
        names.append(name)
    return names


def shown(value: object) -> str:
    """A value as text, NULL for None."""
    text = show(value)
    return "NULL" if text is None else text


def scope(*clauses: str | None) -> str:
    """`` where <clause>`` for an expectation, when partition clauses narrow the rows."""
    present = [clause for clause in clauses if clause]
    return f" where {' AND '.join(present)}" if present else ""


def sql_text(where: str, value: object, what: str) -> str:
    """``value`` if it is non-empty text (SQL, a table or column name), else
    DagDefinitionError naming the argument."""
    if not isinstance(value, str) or not value.strip():
        raise DagDefinitionError(f"{where}: {what} must be non-empty text, got {value!r}")
    return value
