"""The rules of the data-quality check operators, without any database: what a check
definition may say (checked when the DAG is defined), what SQL it becomes, and how a value
the database returned is judged against it.

The shapes are Airflow's (``column_mapping`` of ``SQLColumnCheckOperator``, ``checks`` of
``SQLTableCheckOperator``), with one addition: a ``severity`` of ``error`` (the default: a
failure fails the task) or ``warn`` (a failure is recorded and logged, the task goes on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sluice.core.errors import DagDefinitionError

SEVERITIES = ("error", "warn")
COMPARISONS = ("equal_to", "greater_than", "geq_to", "less_than", "leq_to")
COLUMN_CHECKS = ("null_check", "distinct_check", "unique_check", "min", "max")
COUNT_CHECKS = frozenset({"null_check", "distinct_check", "unique_check"})
"""Column checks whose result is a count: only numbers compare with it."""
COLUMN_CHECK_KEYS = (*COMPARISONS, "tolerance", "partition_clause", "severity")
TABLE_CHECK_KEYS = ("check_statement", "partition_clause", "severity")
MAX_OBSERVED = 1000
"""Characters of an observed value kept for the record (a long text is cut)."""

Number = int | float
Bound = Number | str


@dataclass(frozen=True)
class CheckOutcome:
    """How one check went: what it saw and what it wanted, for the log, the XCom summary
    and the stored results."""

    name: str
    check_type: str
    """column, table, sql, value, threshold or interval."""
    table: str | None
    column: str | None
    observed: str | None
    """The value seen, as text (None: SQL NULL)."""
    expectation: str
    passed: bool
    severity: str

    @property
    def outcome(self) -> str:
        """``pass``, ``fail``, or ``warn`` (failed, but only a warning)."""
        if self.passed:
            return "pass"
        return "warn" if self.severity == "warn" else "fail"

    def describe(self) -> str:
        """``null_check on orders.customer_id: observed 2, expected null_check equal_to 0``."""
        where = ".".join(part for part in (self.table, self.column) if part)
        on = f" on {where}" if where else ""
        observed = "NULL" if self.observed is None else self.observed
        return f"{self.name}{on}: observed {observed}, expected {self.expectation}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready summary pushed to XCom."""
        return {
            "name": self.name, "type": self.check_type, "table": self.table,
            "column": self.column, "observed": self.observed,
            "expectation": self.expectation, "passed": self.passed,
            "severity": self.severity, "outcome": self.outcome,
        }  # fmt: skip


# -- definitions --------------------------------------------------------------------------


def severity_of(where: str, value: object, what: str = "severity") -> str:
    """A severity argument, checked: ``error`` or ``warn``."""
    if value not in SEVERITIES:
        raise DagDefinitionError(f"{where}: {what} must be 'error' or 'warn', got {value!r}")
    return str(value)


def partition_clause_of(where: str, value: object, what: str = "partition_clause") -> str | None:
    """A partition clause, checked: text for a WHERE clause, one statement (no ``;``), as
    Airflow requires."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DagDefinitionError(
            f"{where}: {what} must be a non-empty SQL condition, got {value!r}"
        )
    if ";" in value:
        raise DagDefinitionError(
            f"{where}: {what} may not hold ';' (one condition, not statements)"
        )
    return value


def number_of(value: object) -> float | None:
    """``value`` as a number when it is one (or a numeric text, a Decimal or a boolean, as
    Airflow's float() reads them); else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def tolerance_of(where: str, value: object) -> float | None:
    """A tolerance, checked: a fraction >= 0 (0.1 is 10%)."""
    if value is None:
        return None
    number = None if isinstance(value, bool) else number_of(value)
    if number is None or number < 0:
        raise DagDefinitionError(
            f"{where}: tolerance must be a number >= 0 (0.1 means 10%), got {value!r}"
        )
    return number


@dataclass(frozen=True)
class ColumnRule:
    """One check of one column of ``SQLColumnCheckOperator``."""

    column: str
    check: str
    bounds: tuple[tuple[str, Bound], ...]
    """(comparison, value) pairs, such as ("geq_to", 5)."""
    tolerance: float | None
    partition_clause: str | None
    severity: str

    @property
    def expectation(self) -> str:
        """``min greater_than 5 and leq_to 10 (tolerance 20%)``."""
        text = f"{self.check} " + " and ".join(f"{op} {show_bound(v)}" for op, v in self.bounds)
        if self.tolerance is not None:
            text += f" (tolerance {self.tolerance:.0%})"
        return text


def column_rules(where: str, column_mapping: object, severity: str) -> tuple[ColumnRule, ...]:
    """Every check of a ``column_mapping``, in order; DagDefinitionError naming the column
    and the check for anything Airflow would refuse, and for unknown keys."""
    if not isinstance(column_mapping, Mapping) or not column_mapping:
        raise DagDefinitionError(
            f"{where}: column_mapping must be a non-empty dict of column -> checks, such as"
            " {'id': {'null_check': {'equal_to': 0}}}; got " + repr(column_mapping)
        )
    rules = []
    for column, checks in column_mapping.items():
        if not isinstance(column, str) or not column.strip():
            raise DagDefinitionError(f"{where}: column names must be text, got {column!r}")
        if not isinstance(checks, Mapping) or not checks:
            raise DagDefinitionError(
                f"{where}: column '{column}' needs a non-empty dict of checks, got {checks!r}"
            )
        for check, values in checks.items():
            rules.append(_column_rule(f"{where}: column '{column}' check '{check}'", column,
                                      check, values, severity))  # fmt: skip
    return tuple(rules)


def _column_rule(
    where: str, column: str, check: object, values: object, severity: str
) -> ColumnRule:
    if check not in COLUMN_CHECKS:
        raise DagDefinitionError(f"{where}: unknown check; use one of {', '.join(COLUMN_CHECKS)}")
    if not isinstance(values, Mapping):
        raise DagDefinitionError(f"{where}: needs a dict such as {{'equal_to': 0}}, got {values!r}")
    unknown = [key for key in values if key not in COLUMN_CHECK_KEYS]
    if unknown:
        raise DagDefinitionError(
            f"{where}: unknown comparison {', '.join(map(repr, unknown))}; use"
            f" {', '.join(COLUMN_CHECK_KEYS)}"
        )
    bounds = tuple((op, _bound(where, op, values[op], str(check))) for op in COMPARISONS
                   if op in values)  # fmt: skip
    if not bounds:
        raise DagDefinitionError(
            f"{where}: give one or more of less_than, leq_to, greater_than, geq_to, equal_to"
        )
    _check_combination(where, dict(bounds))
    tolerance = tolerance_of(where, values.get("tolerance"))
    if tolerance is not None and any(isinstance(v, str) for _, v in bounds):
        raise DagDefinitionError(f"{where}: tolerance applies to numbers only, not to text")
    return ColumnRule(
        column=column,
        check=str(check),
        bounds=bounds,
        tolerance=tolerance,
        partition_clause=partition_clause_of(where, values.get("partition_clause")),
        severity=severity_of(where, values.get("severity", severity)),
    )


def _bound(where: str, op: str, value: object, check: str) -> Bound:
    if isinstance(value, datetime | date):
        value = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str) and check not in COUNT_CHECKS:
        return value
    kind = "a number" if check in COUNT_CHECKS else "a number or a text"
    raise DagDefinitionError(f"{where}: {op} must be {kind}, got {value!r}")


def _check_combination(where: str, bounds: dict[str, Bound]) -> None:
    """Airflow's rules for which comparisons go together."""
    if "equal_to" in bounds and len(bounds) > 1:
        raise DagDefinitionError(
            f"{where}: equal_to cannot be combined with greater or less than; use geq_to or leq_to"
        )
    if "greater_than" in bounds and "geq_to" in bounds:
        raise DagDefinitionError(f"{where}: give only one of greater_than and geq_to")
    if "less_than" in bounds and "leq_to" in bounds:
        raise DagDefinitionError(f"{where}: give only one of less_than and leq_to")
    lower = [(op, bounds[op]) for op in ("greater_than", "geq_to") if op in bounds]
    upper = [(op, bounds[op]) for op in ("less_than", "leq_to") if op in bounds]
    if not lower or not upper:
        return
    (low_op, low), (high_op, high) = lower[0], upper[0]
    if isinstance(low, str) != isinstance(high, str):
        raise DagDefinitionError(
            f"{where}: {low_op} and {high_op} must both be numbers or both text"
        )
    both_inclusive = low_op == "geq_to" and high_op == "leq_to"
    if low > high or (low == high and not both_inclusive):  # type: ignore[operator]
        raise DagDefinitionError(
            f"{where}: {low_op} {low!r} and {high_op} {high!r} leave no value that passes"
        )


@dataclass(frozen=True)
class TableRule:
    """One check of ``SQLTableCheckOperator``: a condition per row or on aggregates."""

    name: str
    check_statement: str
    partition_clause: str | None
    severity: str


def table_rules(where: str, checks: object, severity: str) -> tuple[TableRule, ...]:
    """Every check of a ``checks`` dict, in order, checked."""
    if not isinstance(checks, Mapping) or not checks:
        raise DagDefinitionError(
            f"{where}: checks must be a non-empty dict of name -> check, such as"
            " {'row_count_check': {'check_statement': 'COUNT(*) > 0'}}; got " + repr(checks)
        )
    rules = []
    for name, check in checks.items():
        here = f"{where}: check '{name}'"
        if not isinstance(name, str) or not name.strip():
            raise DagDefinitionError(f"{where}: check names must be text, got {name!r}")
        if not isinstance(check, Mapping):
            raise DagDefinitionError(f"{here}: needs a dict with a check_statement, got {check!r}")
        unknown = [key for key in check if key not in TABLE_CHECK_KEYS]
        if unknown:
            raise DagDefinitionError(
                f"{here}: unknown key {', '.join(map(repr, unknown))}; use"
                f" {', '.join(TABLE_CHECK_KEYS)}"
            )
        statement = check.get("check_statement")
        if not isinstance(statement, str) or not statement.strip():
            raise DagDefinitionError(
                f"{here}: check_statement must be a SQL condition such as 'COUNT(*) > 0',"
                f" got {statement!r}"
            )
        rules.append(
            TableRule(
                name=name,
                check_statement=statement,
                partition_clause=partition_clause_of(here, check.get("partition_clause")),
                severity=severity_of(here, check.get("severity", severity)),
            )
        )
    return tuple(rules)


# -- SQL ----------------------------------------------------------------------------------


def _and(*clauses: str | None) -> str | None:
    present = [f"({clause})" for clause in clauses if clause]
    return " AND ".join(present) if present else None


def column_check_sql(table: str, rules: Sequence[ColumnRule], partition_clause: str | None) -> str:
    """One query for every column check of a table: one aggregate per check, a check's own
    partition clause applied inside its aggregate (so that one scan serves them all)."""
    where = f" WHERE {partition_clause}" if partition_clause else ""
    parts = [f"{_aggregate(rule)} AS c{i}" for i, rule in enumerate(rules)]
    return f"SELECT {', '.join(parts)} FROM {table}{where}"


def _aggregate(rule: ColumnRule) -> str:
    column, scope = rule.column, rule.partition_clause
    scoped = f"CASE WHEN ({scope}) THEN {column} END" if scope else column
    if rule.check == "null_check":
        condition = _and(scope, f"{column} IS NULL")
        return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"
    if rule.check == "distinct_check":
        return f"COUNT(DISTINCT {scoped})"
    if rule.check == "unique_check":
        return f"COUNT({scoped}) - COUNT(DISTINCT {scoped})"
    return f"{rule.check.upper()}({scoped})"  # min, max


def table_check_sql(table: str, rules: Sequence[TableRule], partition_clause: str | None) -> str:
    """One query for every table check, as Airflow builds it: per check, the minimum over
    the rows of ``CASE WHEN statement THEN 1 ELSE 0 END`` (a row-level condition must hold
    on every row; an aggregate one is one row), numbered by the check's position."""
    parts = []
    for i, rule in enumerate(rules):
        condition = _and(partition_clause, rule.partition_clause)
        where = f" WHERE {condition}" if condition else ""
        parts.append(
            f"SELECT {i} AS check_index, MIN(check_passed) AS check_result FROM"
            f" (SELECT CASE WHEN {rule.check_statement} THEN 1 ELSE 0 END AS check_passed"
            f" FROM {table}{where}) AS check_{i}"
        )
    return " UNION ALL ".join(parts)


# -- judging values -----------------------------------------------------------------------


def show(value: object) -> str | None:
    """A value the database returned, as text (None stays None: SQL NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).hex()
    else:
        text = str(value)
    return text if len(text) <= MAX_OBSERVED else text[: MAX_OBSERVED - 1] + "…"


def show_bound(value: object) -> str:
    """A bound as the expectation shows it: numbers bare, text quoted."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def judge_column(rule: ColumnRule, value: object, accept_none: bool) -> bool:
    """Whether a column check's result meets its bounds, with Airflow's tolerance: the
    lower bounds are widened to ``bound * (1 - tolerance)``, the upper ones to ``bound *
    (1 + tolerance)``; a NULL result counts as 0 with ``accept_none``."""
    numeric = not any(isinstance(bound, str) for _, bound in rule.bounds)
    if value is None:
        if not (accept_none and numeric):
            return False
        value = 0
    observed: float | str | None
    if numeric:
        observed = number_of(value)
        if observed is None:
            return False
    else:
        observed = show(value)
    return all(_meets(op, observed, bound, rule.tolerance) for op, bound in rule.bounds)


def _meets(op: str, observed: Any, bound: Any, tolerance: float | None) -> bool:
    low = bound * (1 - tolerance) if tolerance is not None else bound
    high = bound * (1 + tolerance) if tolerance is not None else bound
    if op == "equal_to":
        return bool(low <= observed <= high) if tolerance is not None else bool(observed == bound)
    if op == "greater_than":
        return bool(observed > low)
    if op == "geq_to":
        return bool(observed >= low)
    if op == "less_than":
        return bool(observed < high)
    return bool(observed <= high)  # leq_to


def judge_table(result: object) -> bool | None:
    """A table check's result: 1 passed, 0 failed, None when there was no row to judge."""
    if result is None:
        return None
    return bool(int(result))  # type: ignore[call-overload]


def within(value: float, expected: float, tolerance: float | None) -> bool:
    """``value`` equals ``expected``, or is within ``tolerance`` of it (a ratio)."""
    if tolerance is None:
        return value == expected
    return expected * (1 - tolerance) <= value <= expected * (1 + tolerance)


RATIO_FORMULAS = ("max_over_min", "relative_diff")


def ratio(formula: str, current: float, reference: float) -> float:
    """Airflow's ratio of today's metric to the past one: ``max_over_min`` is
    max(cur, ref) / min(cur, ref), ``relative_diff`` is abs(cur - ref) / ref."""
    if formula == "max_over_min":
        return max(current, reference) / min(current, reference)
    return abs(current - reference) / reference
