"""A try's log file gets each line once, whatever handlers the process has."""

from __future__ import annotations

import logging
from pathlib import Path

from sluice.runner.task_logs import capture_to_log


def test_a_process_stderr_handler_does_not_double_the_lines(tmp_path: Path) -> None:
    # As under `sluice standalone`: logging.basicConfig put a stderr handler on the root,
    # and a task's descriptor 2 points at its log file.
    root = logging.getLogger()
    descriptor_2 = open(2, "w", closefd=False)  # noqa: SIM115 - what basicConfig's stream writes to
    stderr_handler = logging.StreamHandler(descriptor_2)
    root.addHandler(stderr_handler)
    path = tmp_path / "attempt=1.log"
    try:
        with capture_to_log(path):
            logging.getLogger("sluice.task").info("only once")
            print("printed once")
        assert stderr_handler in root.handlers
    finally:
        root.removeHandler(stderr_handler)
        descriptor_2.close()
    text = path.read_text()
    assert text.count("only once") == 1, text
    assert text.count("printed once") == 1, text
