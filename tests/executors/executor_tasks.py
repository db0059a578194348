"""Real functions the executors under test run: each records what it saw in a marker file.

A workload's ``dag_file`` is the test's temporary folder and its task id names what the
child does (``ok-1``, ``fail-2``, ``sleep-1``...), so one module-level ``run_task`` serves
every test without mocks.
"""

from __future__ import annotations

import ctypes
import faulthandler
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from sluice.core.messages import CallbackWorkload, TaskInstanceKey, TaskWorkload

PREPARED: dict[str, int] = {}
"""What ``prepare`` cached, by DAG file: the pid of the process that ran it."""

INITIALISED: list[int] = []
"""Pids of the processes where ``worker_init`` ran."""


def workload(folder: Path, task_id: str, priority: int = 1, try_number: int = 1) -> TaskWorkload:
    """A workload whose child does what ``task_id`` says and writes to ``folder``."""
    key = TaskInstanceKey("dag", "run", task_id)
    return TaskWorkload(key, try_number, str(folder), priority=priority)


def write_marker(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically, so that a test polling for the file never reads half of it."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def read_marker(path: Path, timeout: float = 5.0) -> dict[str, Any]:
    """Wait for a marker file that a child writes, then read it."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} was never written")
        time.sleep(0.005)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def is_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_dead(pid: int, timeout: float = 5.0) -> bool:
    """Wait until a process is gone (killing is asynchronous); False if it outlives timeout."""
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def children_of(pid: int) -> dict[int, str]:
    """The child processes of ``pid`` and their states (``Z`` for a zombie), from /proc."""
    children: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            children[int(entry.name)] = fields[0]
    return children


def run_task(item: TaskWorkload) -> int:
    """Do what the task id says; record pid, parent pid, cache and start time first."""
    folder = Path(item.dag_file)
    action = item.key.task_id.split("-")[0]
    record: dict[str, Any] = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "pgid": os.getpgid(0),
        "prepared_by": PREPARED.get(item.dag_file),
        "generation": PREPARED.get("generation"),
        "child_init_ns": PREPARED.get("child_init_ns"),
        "initialised": list(INITIALISED),
        "start_ns": time.perf_counter_ns(),
    }
    marker = folder / f"{item.key.task_id}.json"
    if action == "sleep":
        grandchild = subprocess.Popen(["sleep", "60"])
        record["grandchild"] = grandchild.pid
        write_marker(marker, record)
        time.sleep(60)
    if action == "slow":
        time.sleep(0.15)
    record["end_ns"] = time.perf_counter_ns()
    write_marker(marker, record)
    with (folder / "order.txt").open("a") as order:
        order.write(item.key.task_id + "\n")
    if action == "fail":
        return 3
    if action == "raise":
        raise RuntimeError("the task failed")
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "segfault":
        faulthandler.disable()  # pytest's handler would print a traceback into the test output
        ctypes.string_at(0)
    return 0


def run_callback(item: CallbackWorkload) -> int:
    """Record that the callback ran, in the child."""
    write_marker(Path(item.dag_file) / f"callback-{item.kind}.json", {"pid": os.getpid()})
    return 0


def prepare(item: TaskWorkload) -> bool:
    """Cache something by DAG file, as the CLI caches imports; False when already cached."""
    if item.dag_file in PREPARED:
        return False
    PREPARED[item.dag_file] = os.getpid()
    return True


def prepare_always_new(item: TaskWorkload) -> bool:
    """A prepare that loads something new every time (a DAG file that keeps changing)."""
    PREPARED["generation"] = PREPARED.get("generation", 0) + 1
    PREPARED[item.dag_file] = os.getpid()
    return True


def worker_init() -> None:
    """Remember that this process was initialised."""
    INITIALISED.append(os.getpid())


def failing_worker_init() -> None:
    """A worker_init that cannot work."""
    raise RuntimeError("no database here")


def child_init() -> None:
    """Record when the child was initialised (before the workload, for a pre-forked one)."""
    PREPARED["child_init_ns"] = time.perf_counter_ns()
