"""Params in a sluice DAG: typed, validated run arguments with defaults.

A run's conf overrides the defaults; a value that breaks a Param's schema is
refused before any task runs::

    sluice dags test example_params -c '{"name": "Ada", "repeat": 2, "language": "fr"}'

Templates read ``{{ params.name }}``; Python callables take a ``params`` argument.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sluice import DAG, Param
from sluice.operators import BashOperator, PythonOperator

GREETINGS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo", "es": "Hola"}


def greet(params: dict[str, Any]) -> list[str]:
    """Params arrive validated: repeat is an int in [1, 5], language one of the enum."""
    line = f"{GREETINGS[params['language']]}, {params['name']}!"
    if params["shout"]:
        line = line.upper()
    lines = [line] * params["repeat"]
    for text in lines:
        print(text)
    return lines


with DAG(
    dag_id="example_params",
    description="Params with a type, an enum, bounds and descriptions.",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    tags=["example", "params"],
    params={
        "name": Param("world", type="string", minLength=1, description="Who to greet."),
        "repeat": Param(
            1, type="integer", minimum=1, maximum=5, description="How many times to greet."
        ),
        "language": Param(
            "en", type="string", enum=sorted(GREETINGS), description="The greeting's language."
        ),
        "shout": Param(False, type="boolean", description="Greet in capitals."),
    },
) as dag:
    in_bash = BashOperator(
        task_id="greet_in_bash",
        bash_command=(
            "{% set text = 'greeting ' ~ params.name ~ ' ' ~ params.repeat ~ ' time(s) in '"
            " ~ params.language %}"
            "echo '{{ text | upper if params.shout else text }}'"
        ),
    )
    in_python = PythonOperator(task_id="greet_in_python", python_callable=greet)

    in_bash >> in_python
