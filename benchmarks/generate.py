"""Write benchmark DAG files: chains, a fan-out between a start and a join, many small files.

The Python tasks call a function that does nothing, so what a run measures is Sluice's
own overhead per task; the Bash chain adds the cost of starting ``bash -c "echo hi"``.
"""

from __future__ import annotations

from pathlib import Path

_HEADER = '''"""Benchmark sluice DAG {dag_id}: {what}.

Written by benchmarks.generate; edits are lost when the benchmark runs again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sluice import {imports}
from sluice.operators import {operators}


def noop() -> None:
    """The task's work: nothing, so that only Sluice's overhead is measured."""


with DAG(
    dag_id="{dag_id}",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    max_active_tasks={max_active_tasks},
    tags=["benchmark"],
) as dag:
'''

_CHAIN_BODY = """\
    tasks = [PythonOperator(task_id=f"task_{{i:04d}}", python_callable=noop) for i in range({n})]
    chain(*tasks)
"""

_PARALLEL_BODY = """\
    start = PythonOperator(task_id="start", python_callable=noop)
    end = PythonOperator(task_id="end", python_callable=noop)
    middle = [PythonOperator(task_id=f"task_{{i:04d}}", python_callable=noop) for i in range({n})]
    start >> middle >> end
"""


_BASH_CHAIN_BODY = """\
    tasks = [BashOperator(task_id=f"echo_{{i:04d}}", bash_command="echo hi") for i in range({n})]
    chain(*tasks)
"""


def chain_dag_id(n: int) -> str:
    """The id of the chain DAG of ``n`` tasks."""
    return f"bench_chain_{n}"


def parallel_dag_id(n: int) -> str:
    """The id of the fan-out DAG with ``n`` tasks between start and end."""
    return f"bench_parallel_{n}"


def write_chain(folder: Path, n: int) -> Path:
    """Write ``bench_chain_<n>.py``: task_0000 >> task_0001 >> ... (``n`` tasks)."""
    if n < 1:
        raise ValueError(f"a chain needs at least one task, got {n}")
    return _write_dag(
        folder, chain_dag_id(n), f"a chain of {n} no-op tasks", _CHAIN_BODY.format(n=n)
    )


def write_parallel(folder: Path, n: int) -> Path:
    """Write ``bench_parallel_<n>.py``: start >> ``n`` parallel tasks >> end (``n`` + 2 tasks)."""
    if n < 1:
        raise ValueError(f"a fan-out needs at least one parallel task, got {n}")
    return _write_dag(
        folder,
        parallel_dag_id(n),
        f"start, {n} parallel no-op tasks, end",
        _PARALLEL_BODY.format(n=n),
        imports="DAG",
        # As many as there are parallel tasks: the DAG's limit must not be what is measured.
        max_active_tasks=max(16, n),
    )


def bash_chain_dag_id(n: int) -> str:
    """The id of the chain of ``n`` Bash tasks."""
    return f"bench_bash_chain_{n}"


def write_bash_chain(folder: Path, n: int) -> Path:
    """Write ``bench_bash_chain_<n>.py``: ``n`` BashOperators running ``echo hi``, in a line."""
    if n < 1:
        raise ValueError(f"a chain needs at least one task, got {n}")
    return _write_dag(
        folder,
        bash_chain_dag_id(n),
        f"a chain of {n} `echo hi` Bash tasks",
        _BASH_CHAIN_BODY.format(n=n),
        operators="BashOperator",
    )


def many_dag_id(index: int) -> str:
    """The id of the DAG in file number ``index`` of :func:`write_many`."""
    return f"bench_many_{index:04d}"


def write_many(folder: Path, files: int, tasks: int) -> list[Path]:
    """Write ``files`` DAG files, each one DAG of ``tasks`` no-op Python tasks in a chain."""
    if files < 1 or tasks < 1:
        raise ValueError(f"need at least one file and one task, got {files} and {tasks}")
    body = _CHAIN_BODY.format(n=tasks)
    return [
        _write_dag(
            folder,
            many_dag_id(index),
            f"file {index + 1} of {files}, a chain of {tasks} no-op tasks",
            body,
        )
        for index in range(files)
    ]


def _write_dag(
    folder: Path,
    dag_id: str,
    what: str,
    body: str,
    *,
    imports: str = "DAG, chain",
    operators: str = "PythonOperator",
    max_active_tasks: int = 16,
) -> Path:
    """Write ``<dag_id>.py``: the common header, then ``body`` inside the ``with DAG``."""
    header = _HEADER.format(
        dag_id=dag_id,
        what=what,
        imports=imports,
        operators=operators,
        max_active_tasks=max_active_tasks,
    )
    path = folder / f"{dag_id}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")
    return path
