"""A sluice DAG of three BashOperators: print, sleep, print.

The sleep reads the ``sleep_seconds`` param, so a run can shorten it::

    sluice dags test example_bash_operator -c '{"sleep_seconds": 0}'
"""

from __future__ import annotations

from datetime import UTC, datetime

from sluice import DAG, Param
from sluice.operators import BashOperator

with DAG(
    dag_id="example_bash_operator",
    description="Print, sleep, print: the smallest BashOperator pipeline.",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    tags=["example", "bash"],
    params={
        "sleep_seconds": Param(
            3, type="integer", minimum=0, maximum=60, description="How long the middle task sleeps."
        ),
    },
) as dag:
    print_date = BashOperator(
        task_id="print_date",
        bash_command='echo "run {{ run_id }} for {{ ds }} starts at $(date -u +%H:%M:%S)"',
    )
    sleep = BashOperator(
        task_id="sleep",
        bash_command="sleep {{ params.sleep_seconds }} && echo 'slept {{ params.sleep_seconds }}s'",
        retries=1,
    )
    print_done = BashOperator(
        task_id="print_done",
        # The environment carries the run's identity, under Airflow's names too.
        bash_command=(
            'echo "done: $SLUICE_CTX_DAG_ID.$SLUICE_CTX_TASK_ID, try $AIRFLOW_CTX_TRY_NUMBER"'
        ),
    )

    print_date >> sleep >> print_done
