"""The warm parsing processes: time limits, hung and dying processes, results as plain data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.processor.conftest import DAILY

from sluice.processor.options import ParseOptions
from sluice.processor.pool import ParserPool

NOW = datetime(2024, 3, 15, tzinfo=UTC)


@pytest.fixture
def pool() -> Iterator[ParserPool]:
    """Two parsing processes with a half-second import limit and a short grace."""
    parser = ParserPool(2, ParseOptions(import_timeout=0.5), grace=0.5)
    parser.start()
    yield parser
    parser.close()


def _write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def test_a_slow_file_hits_the_import_time_limit(tmp_path: Path, pool: ParserPool) -> None:
    slow = _write(tmp_path, "slow.py", "import time  # sluice dag\ntime.sleep(30)\n")
    good = _write(tmp_path, "good.py", DAILY.format(dag_id="good"))

    results = pool.parse([slow, good], NOW)

    error = results[slow].error
    assert error is not None
    assert "DAG file took longer than 0.5 s to import" in error.message
    assert [d.record.dag_id for d in results[good].dags] == ["good"]


def test_a_file_that_ignores_the_time_limit_is_killed(tmp_path: Path, pool: ParserPool) -> None:
    stuck = _write(
        tmp_path,
        "stuck.py",
        "import signal, time  # sluice dag\n"
        "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "time.sleep(30)\n",
    )

    results = pool.parse([stuck], NOW)
    again = pool.parse([_write(tmp_path, "good.py", DAILY.format(dag_id="good"))], NOW)

    error = results[stuck].error
    assert error is not None
    assert "ignored the time limit; its parsing process was killed" in error.message
    assert [d.record.dag_id for d in next(iter(again.values())).dags] == ["good"]


def test_a_result_is_plain_data_with_a_first_run(tmp_path: Path, pool: ParserPool) -> None:
    path = _write(tmp_path, "good.py", DAILY.format(dag_id="good"))

    [parsed] = pool.parse([path], NOW).values()

    [dag] = parsed.dags
    assert dag.record.fileloc == path
    assert dag.task_count == 2
    assert dag.first_run.logical_date == datetime(2024, 3, 14, tzinfo=UTC)
    assert dag.first_run.create_after == NOW
