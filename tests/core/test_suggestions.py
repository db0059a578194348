from __future__ import annotations

import inspect

import pytest

from sluice.core import errors
from sluice.core.suggestions import close_matches, unknown_id_message


def test_close_matches_best_first() -> None:
    assert close_matches("extrac", ["transform", "extract", "load"]) == ["extract"]
    assert set(close_matches("load", ["load_a", "load_b", "unload", "x"])) == {
        "load_a",
        "load_b",
        "unload",
    }


def test_substring_matches_are_suggested() -> None:
    assert "example_bash_operator" in close_matches("bash", ["example_bash_operator", "etl"])


def test_close_matches_limit() -> None:
    assert len(close_matches("t", [f"t{i}" for i in range(10)], limit=3)) == 3


def test_unknown_id_message_with_suggestion() -> None:
    message = unknown_id_message("DAG", "exmple", ["example", "other"])
    assert message == "DAG 'exmple' not found. Did you mean: 'example'?"


def test_unknown_id_message_lists_known_ids() -> None:
    message = unknown_id_message("task", "zzz", ["b", "a"])
    assert message == "task 'zzz' not found. Known: a, b"


def test_unknown_id_message_truncates_long_lists() -> None:
    message = unknown_id_message("task", "zzz", [f"t{i:02d}" for i in range(12)])
    assert message.endswith("t09, ...")


def test_unknown_id_message_when_nothing_exists() -> None:
    assert unknown_id_message("DAG", "x", []) == "DAG 'x' not found; there are none."


@pytest.mark.parametrize(
    "cls",
    [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.SluiceError)
    ],
)
def test_every_sluice_error_explains_when_it_is_raised(cls: type) -> None:
    assert cls.__doc__ and cls.__doc__.startswith("Raised when")


def test_task_signals_are_not_sluice_errors() -> None:
    # Users raise these inside tasks; they must not be caught as Sluice's own errors.
    for cls in (errors.SkipTask, errors.FailTask, errors.DownstreamTasksSkipped):
        assert not issubclass(cls, errors.SluiceError)


def test_downstream_tasks_skipped_message() -> None:
    signal = errors.DownstreamTasksSkipped(["a", "b"], return_value="x")
    assert str(signal) == "skipping downstream tasks: a, b"
    assert (signal.tasks, signal.return_value) == (["a", "b"], "x")
    assert str(errors.DownstreamTasksSkipped([])) == "skipping downstream tasks: (none)"
