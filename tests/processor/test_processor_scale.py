"""Two hundred DAG files: parsed once in a batch, then left alone while they do not change."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from tests.processor.conftest import MakeProcessor, write_many

from sluice.store.engine import Store
from sluice.store.tables import Dag, DagFile, SerializedDagRow


def test_a_folder_of_200_files_is_parsed_once_then_only_stat(
    store: Store, dags_dir: Path, make_processor: MakeProcessor
) -> None:
    paths = write_many(dags_dir, 200, tasks=10)
    processor = make_processor(parsing_processes=2)

    cold = processor.run_once()
    warm = processor.run_once()
    paths[7].write_text(paths[7].read_text() + "\n# edited\n")
    edited = processor.run_once()

    assert (len(cold.parsed), len(cold.added), cold.errors) == (200, 200, {})
    assert not warm.changed
    assert edited.parsed == (str(paths[7]),)
    assert edited.updated == ()  # a comment does not change the serialized DAG
    assert processor.files_imported == 201
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Dag)) == 200
        assert session.scalar(select(func.count()).select_from(SerializedDagRow)) == 200
        assert session.scalar(select(func.sum(DagFile.task_count))) == 2000
