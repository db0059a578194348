"""Fixtures for DAG processor tests: a DAGs folder, a writer of DAG files, a processor."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sluice.processor.options import ProcessorOptions
from sluice.processor.processor import DagProcessor
from sluice.store.engine import Store

WriteDag = Callable[..., Path]
MakeProcessor = Callable[..., DagProcessor]

DAILY = """
from datetime import datetime
from sluice import DAG
from sluice.operators import EmptyOperator

with DAG("{dag_id}", schedule="@daily", start_date=datetime(2024, 1, 1), tags=["t"]) as dag:
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""


@pytest.fixture
def dags_dir(tmp_path: Path) -> Path:
    """An empty DAGs folder."""
    folder = tmp_path / "dags"
    folder.mkdir()
    return folder


@pytest.fixture
def write_dag(dags_dir: Path) -> WriteDag:
    """Write a DAG file (dedented) into the DAGs folder, with a new mtime each time."""
    counter = iter(range(1, 1_000_000))

    def write(name: str, source: str, **fields: Any) -> Path:
        path = dags_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(source)
        path.write_text(text.format(**fields) if fields else text)
        # Filesystems with coarse timestamps must still see an edit as an edit.
        stamp = 1_700_000_000_000_000_000 + next(counter) * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))
        return path

    return write


@pytest.fixture
def make_processor(store: Store, dags_dir: Path) -> Iterator[MakeProcessor]:
    """Build a started DagProcessor over the DAGs folder; every one is closed at the end."""
    made: list[DagProcessor] = []

    def make(**overrides: Any) -> DagProcessor:
        options = replace(ProcessorOptions(folders=(dags_dir,), parsing_processes=1), **overrides)
        processor = DagProcessor(options, store).__enter__()
        made.append(processor)
        return processor

    yield make
    for processor in made:
        processor.close()


MANY = '''"""Generated DAG file {index} for the DAG processor's scale test."""
from datetime import datetime

from sluice import DAG
from sluice.operators import PythonOperator


def noop():
    pass


with DAG("many_{index:04d}", schedule="@daily", start_date=datetime(2024, 1, 1), tags=["many"]):
    tasks = [PythonOperator(task_id=f"task_{{i}}", python_callable=noop) for i in range({tasks})]
    for upstream, downstream in zip(tasks, tasks[1:]):
        upstream >> downstream
'''


def write_many(folder: Path, count: int, tasks: int) -> list[Path]:
    """Write ``count`` DAG files of one daily DAG of ``tasks`` chained Python tasks each."""
    paths = []
    for index in range(count):
        path = folder / f"many_{index:04d}.py"
        path.write_text(MANY.format(index=index, tasks=tasks))
        paths.append(path)
    return paths
