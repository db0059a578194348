"""Branching in a sluice DAG: weekdays and weekends take different paths, then join.

``BranchPythonOperator`` returns the task id to follow; its other direct
downstream tasks are skipped. The join uses ``none_failed_min_one_success``: it
runs when nothing upstream failed and at least one branch succeeded. With the
default ``all_success`` it would be skipped, as the branch not taken is.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sluice import DAG, TriggerRule
from sluice.operators import BranchPythonOperator, EmptyOperator, PythonOperator


def choose_path(logical_date: datetime) -> str:
    """Monday is 0, Sunday is 6."""
    weekday = logical_date.weekday()
    chosen = "weekend_cleanup" if weekday >= 5 else "weekday_report"
    print(f"{logical_date:%A %Y-%m-%d}: following {chosen}")
    return chosen


def weekday_report(ds: str) -> str:
    print(f"building the weekday report for {ds}")
    return f"report for {ds}"


def weekend_cleanup(ds: str) -> str:
    print(f"cleaning up after the week ending {ds}")
    return f"cleanup for {ds}"


with DAG(
    dag_id="example_branch",
    description="Branch on the weekday of the logical date, then join.",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    tags=["example", "branching"],
) as dag:
    start = EmptyOperator(task_id="start")
    branch = BranchPythonOperator(task_id="choose_path", python_callable=choose_path)
    weekday = PythonOperator(task_id="weekday_report", python_callable=weekday_report)
    weekend = PythonOperator(task_id="weekend_cleanup", python_callable=weekend_cleanup)
    join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)

    start >> branch >> [weekday, weekend] >> join
