"""Dynamic task mapping in a sluice DAG: one task instance per element of an upstream's list.

``multiply.partial(factor=10).expand(number=numbers)`` becomes as many task
instances as ``make_numbers`` returned elements, known only at run time; ``total``
receives their results as one list, in map index order (map-reduce). ``describe``
returns a dict with ``multiple_outputs=True``, so each key is its own XCom that a
downstream task can take alone (``stats["count"]``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sluice import dag, task
from sluice.operators import BashOperator


@dag(
    dag_id="example_taskflow_mapping",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    tags=["example", "taskflow", "mapping"],
)
def example_taskflow_mapping() -> None:
    """Map over an upstream's list, reduce the results, and use multiple_outputs."""

    @task
    def make_numbers() -> list[int]:
        return [1, 2, 3, 4, 5]

    @task
    def multiply(number: int, factor: int) -> int:
        return number * factor

    @task
    def total(values: list[int]) -> int:
        result = sum(values)
        print(f"the {len(values)} mapped results {values} add up to {result}")
        return result

    @task(multiple_outputs=True)
    def describe(values: list[int]) -> dict[str, int]:
        return {"count": len(values), "smallest": min(values), "largest": max(values)}

    @task
    def announce(count: int, largest: int) -> str:
        message = f"{count} numbers, the largest is {largest}"
        print(message)
        return message

    numbers = make_numbers()
    products = multiply.partial(factor=10).expand(number=numbers)
    total(products)

    stats = describe(numbers)
    announce(count=stats["count"], largest=stats["largest"])

    # Classic operators map too: one BashOperator instance per command.
    BashOperator.partial(task_id="echo").expand(bash_command=["echo one", "echo two", "echo three"])


example_taskflow_mapping_dag = example_taskflow_mapping()
