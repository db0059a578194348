"""Check operators that judge what a query returns: ``SQLCheckOperator`` (truth),
``SQLValueCheckOperator`` (a value, with a tolerance), ``SQLThresholdCheckOperator`` (a
range) and ``SQLIntervalCheckOperator`` (metrics of today against ``days_back`` ago).

Import them from :mod:`sluice.integrations.sql.checks`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, SupportsAbs

from sluice.core.errors import DagDefinitionError
from sluice.integrations.sql.check_base import (
    NO_ROWS,
    BaseCheckOperator,
    Row,
    shown,
    sql_text,
    value_names,
)
from sluice.integrations.sql.check_rules import (
    RATIO_FORMULAS,
    CheckOutcome,
    number_of,
    ratio,
    show,
    show_bound,
    tolerance_of,
    within,
)
from sluice.integrations.sql.operators import check_parameters, rendered_sql
from sluice.sdk.templating import is_template

if TYPE_CHECKING:
    from sluice.sdk.abstract_operator import Context

log = logging.getLogger("sluice.task")

TRUTHY = "truthy (not 0, empty, NULL or false)"


class SQLCheckOperator(BaseCheckOperator):
    """Runs ``sql`` and fails when its first row is missing or any value of it is falsy
    (0, empty, NULL, false); each value is one check, named after its column.

    ``table`` (a Sluice addition) names the table the query is about, for the /checks pages.
    """

    template_fields: Sequence[str] = ("sql", "parameters", *BaseCheckOperator.template_fields)
    template_ext: Sequence[str] = (".hql", ".sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    check_type = "sql"

    def __init__(
        self,
        *,
        sql: str,
        conn_id: str | None = None,
        database: str | None = None,
        parameters: Iterable[Any] | Mapping[str, Any] | None = None,
        table: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.sql = sql_text(self.where, sql, "sql")
        self.parameters = check_parameters(self.where, parameters)
        self.table = None if table is None else sql_text(self.where, table, "table")

    def fetch(self) -> Row:
        """The rendered query's column names and first row."""
        sql = str(rendered_sql(self, "sql", self.sql))
        log.info("Executing SQL check: %s", sql)
        return self.first_with_names(sql, self.parameters)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Judge each value of the first row by its truth."""
        columns, row = self.fetch()
        if not row:
            missing = self.outcome("first row", NO_ROWS, f"a row, every value {TRUTHY}", False,
                                   table=self.table)  # fmt: skip
            return self.finish(context, [missing])
        outcomes = [
            self.outcome(name, show(value), TRUTHY, bool(value), table=self.table)
            for name, value in zip(value_names(columns, len(row)), row, strict=True)
        ]
        return self.finish(context, outcomes)


class SQLValueCheckOperator(SQLCheckOperator):
    """Runs ``sql`` and compares each value of its first row with ``pass_value``: numbers
    within ``tolerance`` (a ratio: 0.1 is ±10%), text exactly."""

    template_fields: Sequence[str] = (
        "sql", "pass_value", "parameters", *BaseCheckOperator.template_fields,
    )  # fmt: skip
    check_type = "value"

    def __init__(
        self,
        *,
        sql: str,
        pass_value: Any,
        tolerance: Any = None,
        conn_id: str | None = None,
        database: str | None = None,
        parameters: Iterable[Any] | Mapping[str, Any] | None = None,
        table: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(sql=sql, conn_id=conn_id, database=database, parameters=parameters,
                         table=table, **kwargs)  # fmt: skip
        if pass_value is None:
            raise DagDefinitionError(f"{self.where}: pass_value is None; give the value to expect")
        # As Airflow: kept as text (a template may render it), read as a number if it is one.
        self.pass_value = str(pass_value)
        self.tolerance = tolerance_of(self.where, tolerance)
        if not is_template(self.pass_value):
            self.expected()

    def expected(self) -> float | None:
        """``pass_value`` as a number, or None to compare text; a tolerance on text is a
        DagDefinitionError (raised at run time when a template rendered the text)."""
        number = number_of(self.pass_value)
        if number is None and self.tolerance is not None:
            raise DagDefinitionError(
                f"{self.where}: tolerance applies to a numeric pass_value, not to"
                f" {self.pass_value!r}"
            )
        return number

    def expectation(self, expected: float | None) -> str:
        """``= 42 ± 10% (between 37.8 and 46.2)``, ``= 42`` or ``= 'text'``."""
        if expected is None:
            return f"= {self.pass_value!r}"
        if self.tolerance is None:
            return f"= {show_bound(expected)}"
        low, high = expected * (1 - self.tolerance), expected * (1 + self.tolerance)
        return (f"= {show_bound(expected)} ± {self.tolerance:.0%} (between {show_bound(low)}"
                f" and {show_bound(high)})")  # fmt: skip

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Judge each value of the first row against ``pass_value``."""
        expected = self.expected()
        expectation = self.expectation(expected)
        columns, row = self.fetch()
        if not row:
            missing = self.outcome("first row", NO_ROWS, expectation, False, table=self.table)
            return self.finish(context, [missing])
        outcomes = []
        for name, value in zip(value_names(columns, len(row)), row, strict=True):
            observed = show(value)
            if expected is None:
                passed = observed == self.pass_value
            else:
                number = number_of(value)
                passed = number is not None and within(number, expected, self.tolerance)
                if number is None and value is not None:
                    observed = f"{observed} (not a number)"
            outcomes.append(self.outcome(name, observed, expectation, passed, table=self.table))
        return self.finish(context, outcomes)


class SQLThresholdCheckOperator(SQLCheckOperator):
    """Runs ``sql`` and checks that its first value lies between ``min_threshold`` and
    ``max_threshold`` (inclusive); each threshold is a number or SQL returning one."""

    template_fields: Sequence[str] = (
        "sql", "min_threshold", "max_threshold", *BaseCheckOperator.template_fields,
    )  # fmt: skip
    check_type = "threshold"

    def __init__(
        self,
        *,
        sql: str,
        min_threshold: Any,
        max_threshold: Any,
        conn_id: str | None = None,
        database: str | None = None,
        table: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(sql=sql, conn_id=conn_id, database=database, table=table, **kwargs)
        self.min_threshold = _threshold(self.where, "min_threshold", min_threshold)
        self.max_threshold = _threshold(self.where, "max_threshold", max_threshold)
        low, high = number_of(self.min_threshold), number_of(self.max_threshold)
        if low is not None and high is not None and low > high:
            raise DagDefinitionError(
                f"{self.where}: min_threshold {show_bound(low)} is above max_threshold"
                f" {show_bound(high)}: no value can pass"
            )

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Judge the first value against the two thresholds (read from SQL if need be)."""
        low, low_note = self._bound("min_threshold", self.min_threshold)
        high, high_note = self._bound("max_threshold", self.max_threshold)
        expectation = f"between {_or_unknown(low)} and {_or_unknown(high)}"
        notes = [note for note in (low_note, high_note) if note]
        if notes:
            expectation += f" ({'; '.join(notes)})"
        columns, row = self.fetch()
        if not row:
            missing = self.outcome("result", NO_ROWS, expectation, False, table=self.table)
            return self.finish(context, [missing])
        (name,) = value_names(columns, 1)
        value, observed = number_of(row[0]), show(row[0])
        if value is None and row[0] is not None:
            observed = f"{observed} (not a number)"
        passed = None not in (value, low, high) and low <= value <= high  # type: ignore[operator]
        return self.finish(context, [self.outcome(name, observed, expectation, passed,
                                                  table=self.table)])  # fmt: skip

    def _bound(self, what: str, threshold: Any) -> tuple[float | None, str]:
        """A threshold's value, and a note when SQL gave it (or gave no number)."""
        number = None if isinstance(threshold, bool) else number_of(threshold)
        if number is not None:
            return number, ""
        sql = str(rendered_sql(self, what, threshold))
        log.info("Executing %s SQL: %s", what, sql)
        row = self.first(sql)
        value = number_of(row[0]) if row else None
        if value is None:
            return None, f"{what} SQL gave {shown(row[0]) if row else NO_ROWS}, not a number"
        return value, f"{what} from SQL"


class SQLIntervalCheckOperator(BaseCheckOperator):
    """Compares metrics of ``table`` on the run's ``ds`` with the same metrics
    ``days_back`` days earlier: each metric's ratio (``ratio_formula``) must stay below
    its threshold in ``metrics_thresholds``."""

    template_fields: Sequence[str] = ("sql1", "sql2", *BaseCheckOperator.template_fields)
    template_ext: Sequence[str] = (".hql", ".sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql1": "sql", "sql2": "sql"}
    check_type = "interval"

    def __init__(
        self,
        *,
        table: str,
        metrics_thresholds: dict[str, int | float],
        date_filter_column: str | None = "ds",
        days_back: SupportsAbs[int] = -7,
        ratio_formula: str | None = "max_over_min",
        ignore_zero: bool = True,
        conn_id: str | None = None,
        database: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.table = sql_text(self.where, table, "table")
        self.metrics_thresholds = _metrics(self.where, metrics_thresholds)
        self.metrics_sorted = sorted(self.metrics_thresholds)
        if ratio_formula not in RATIO_FORMULAS:
            raise DagDefinitionError(
                f"{self.where}: ratio_formula {ratio_formula!r} is not one of"
                f" {', '.join(RATIO_FORMULAS)}"
            )
        self.ratio_formula: str = ratio_formula
        self.ignore_zero = ignore_zero
        self.date_filter_column = sql_text(self.where, date_filter_column, "date_filter_column")
        if isinstance(days_back, bool) or not isinstance(days_back, int):
            raise DagDefinitionError(
                f"{self.where}: days_back must be a whole number of days, got {days_back!r}"
            )
        self.days_back = -abs(days_back)
        select = f"SELECT {', '.join(self.metrics_sorted)} FROM {self.table}"
        where = f" WHERE {self.date_filter_column}="
        self.sql1 = f"{select}{where}'{{{{ ds }}}}'"
        self.sql2 = f"{select}{where}'{{{{ macros.ds_add(ds, {self.days_back}) }}}}'"

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Judge each metric's ratio between the two days."""
        log.info("Using ratio formula: %s", self.ratio_formula)
        log.info("Executing SQL check: %s", self.sql2)
        reference = self.first(self.sql2)
        log.info("Executing SQL check: %s", self.sql1)
        current = self.first(self.sql1)
        days = abs(self.days_back)
        outcomes = []
        for i, metric in enumerate(self.metrics_sorted):
            threshold = self.metrics_thresholds[metric]
            expectation = (f"{self.ratio_formula} of now to {days} day(s) before <"
                           f" {show_bound(threshold)}")  # fmt: skip
            if self.ignore_zero:
                expectation += " (a zero passes)"
            if not current or not reference:
                missing = "now" if not current else f"{days} day(s) before"
                outcomes.append(self.outcome(metric, f"{NO_ROWS} {missing}", expectation, False,
                                             table=self.table))  # fmt: skip
                continue
            outcomes.append(self._judge(metric, current[i], reference[i], threshold, expectation))
        return self.finish(context, outcomes)

    def _judge(
        self, metric: str, now: Any, before: Any, threshold: float, expectation: str
    ) -> CheckOutcome:
        seen = f"now {shown(now)}, before {shown(before)}"
        cur, ref = number_of(now), number_of(before)
        if (now is not None and cur is None) or (before is not None and ref is None):
            return self.outcome(metric, f"not a number ({seen})", expectation, False,
                                table=self.table)  # fmt: skip
        # A NULL metric (SUM of no rows) counts as a zero: neither has a ratio.
        if not cur or not ref:
            return self.outcome(metric, f"no ratio: a zero ({seen})", expectation,
                                bool(self.ignore_zero), table=self.table)  # fmt: skip
        value = ratio(self.ratio_formula, cur, ref)
        return self.outcome(metric, f"{value:.4g} ({seen})", expectation, value < threshold,
                            table=self.table)  # fmt: skip


def _or_unknown(value: float | None) -> str:
    return "?" if value is None else show_bound(value)


def _threshold(where: str, what: str, value: object) -> Any:
    """A threshold: a number, or SQL that returns one (kept as given: it is templated)."""
    if isinstance(value, bool) or value is None:
        raise DagDefinitionError(f"{where}: {what} must be a number or SQL, got {value!r}")
    if isinstance(value, int | float):
        return value
    return sql_text(where, value, what)


def _metrics(where: str, value: object) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value:
        raise DagDefinitionError(
            f"{where}: metrics_thresholds must be a non-empty dict of SQL metric -> ratio,"
            f" such as {{'COUNT(*)': 1.5}}; got {value!r}"
        )
    metrics: dict[str, float] = {}
    for metric, threshold in value.items():
        sql_text(where, metric, "each metric of metrics_thresholds")
        number = None if isinstance(threshold, bool | str) else number_of(threshold)
        if number is None or number <= 0:
            raise DagDefinitionError(
                f"{where}: the threshold of metric '{metric}' must be a number > 0, got"
                f" {threshold!r}"
            )
        metrics[str(metric)] = number
    return metrics
