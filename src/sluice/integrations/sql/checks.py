"""Data-quality check operators, as Airflow's ``common.sql`` ones: the same names,
arguments and verdicts, over :class:`~sluice.integrations.sql.hook.SqlHook`.

Every operator turns what it saw into one outcome per check, logs them, stores them for
the try (shown on the task instance page and at ``/checks``), pushes them to XCom as a
list of dicts, and fails the task with one message listing every failed check. A check of
severity ``warn`` (the operator's ``severity="warn"``, or ``"severity": "warn"`` in one
entry of ``column_mapping`` or ``checks``) is recorded and logged when it fails, and the
task still succeeds.

This module holds the table-level operators (``SQLColumnCheckOperator``,
``SQLTableCheckOperator``) and re-exports the query-level ones. Nothing heavy is imported
here: SQLAlchemy and the drivers load when a check runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sluice.integrations.sql.check_base import NO_ROWS, BaseCheckOperator, scope, sql_text
from sluice.integrations.sql.check_results import (
    DataQualityCheckFailed,
    DataQualityCheckFailedNoRetry,
)
from sluice.integrations.sql.check_rules import (
    CheckOutcome,
    column_check_sql,
    column_rules,
    judge_column,
    judge_table,
    partition_clause_of,
    show,
    table_check_sql,
    table_rules,
)
from sluice.integrations.sql.query_checks import (
    SQLCheckOperator,
    SQLIntervalCheckOperator,
    SQLThresholdCheckOperator,
    SQLValueCheckOperator,
)

if TYPE_CHECKING:
    from sluice.sdk.abstract_operator import Context

log = logging.getLogger("sluice.task")


class SQLColumnCheckOperator(BaseCheckOperator):
    """Checks columns of ``table`` as ``column_mapping`` says (Airflow's shape): per
    column, ``null_check``, ``distinct_check``, ``unique_check``, ``min`` and ``max``, each
    with ``equal_to``, ``greater_than``, ``geq_to``, ``less_than``, ``leq_to``, a
    ``tolerance`` and a ``partition_clause``; all of them in one query."""

    template_fields: Sequence[str] = (
        "table", "partition_clause", "sql", *BaseCheckOperator.template_fields,
    )  # fmt: skip
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    check_type = "column"

    def __init__(
        self,
        *,
        table: str,
        column_mapping: dict[str, dict[str, Any]],
        partition_clause: str | None = None,
        conn_id: str | None = None,
        database: str | None = None,
        accept_none: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.table = sql_text(self.where, table, "table")
        self.column_mapping = column_mapping
        self.partition_clause = partition_clause_of(self.where, partition_clause)
        self.accept_none = accept_none
        self.rules = column_rules(self.where, column_mapping, self.severity)
        self.sql = column_check_sql(self.table, self.rules, self.partition_clause)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Run the one query and judge each check's aggregate."""
        log.info("Executing column checks: %s", self.sql)
        # Aggregates always give a row; a driver that gives none leaves every value NULL.
        row = self.first(self.sql) or (None,) * len(self.rules)
        outcomes = [
            self.outcome(
                rule.check,
                show(value),
                rule.expectation + scope(self.partition_clause, rule.partition_clause),
                judge_column(rule, value, self.accept_none),
                table=self.table,
                column=rule.column,
                severity=rule.severity,
            )
            for rule, value in zip(self.rules, row, strict=True)
        ]
        return self.finish(context, outcomes)


class SQLTableCheckOperator(BaseCheckOperator):
    """Checks ``table`` with SQL conditions: ``checks`` is ``{name: {"check_statement":
    ..., "partition_clause": ...}}``; a row-level condition must hold on every row, an
    aggregate one (``COUNT(*) > 0``) once. All checks run in one query."""

    template_fields: Sequence[str] = (
        "table", "partition_clause", "sql", *BaseCheckOperator.template_fields,
    )  # fmt: skip
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    check_type = "table"

    def __init__(
        self,
        *,
        table: str,
        checks: dict[str, dict[str, Any]],
        partition_clause: str | None = None,
        conn_id: str | None = None,
        database: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.table = sql_text(self.where, table, "table")
        self.checks = checks
        self.partition_clause = partition_clause_of(self.where, partition_clause)
        self.rules = table_rules(self.where, checks, self.severity)
        self.sql = table_check_sql(self.table, self.rules, self.partition_clause)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Run the one query and judge each check's result (no row to judge fails it)."""
        log.info("Executing table checks: %s", self.sql)
        results = {int(index): result for index, result in self.records(self.sql)}
        outcomes: list[CheckOutcome] = []
        for i, rule in enumerate(self.rules):
            verdict = judge_table(results.get(i))
            observed = NO_ROWS if verdict is None else ("true" if verdict else "false")
            expectation = rule.check_statement + scope(self.partition_clause, rule.partition_clause)
            outcomes.append(
                self.outcome(
                    rule.name,
                    observed,
                    expectation,
                    bool(verdict),
                    table=self.table,
                    severity=rule.severity,
                )
            )
        return self.finish(context, outcomes)


__all__ = [
    "BaseCheckOperator",
    "DataQualityCheckFailed",
    "DataQualityCheckFailedNoRetry",
    "SQLCheckOperator",
    "SQLColumnCheckOperator",
    "SQLIntervalCheckOperator",
    "SQLTableCheckOperator",
    "SQLThresholdCheckOperator",
    "SQLValueCheckOperator",
]
