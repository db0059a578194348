"""Fill a store with the history the web benchmark reads: 100 DAGs, one with long history.

``big``: 50 tasks in TaskGroups (one nested), daily, with ``--runs`` runs (2,000 runs are
100,000 task instances): mostly success, one run in 25 failed (a task failed after a
retry, its downstream tasks upstream_failed), an optional check skipped in every third
run, a retry that succeeded here and there, and the newest run still running. 99 small
DAGs of 5 tasks with a few runs each, a few broken DAG files (import errors), variables,
connections, pools, users and audit log rows.

The DAG files are real files in a dags folder (the Code page reads them); they are
imported in this process and stored serialized, as the DAG processor would. History goes
in with SQLAlchemy Core, many rows per statement, a chunk of runs at a time: it is made
up, never scheduled, so states are written directly, not through
``sluice.store.transitions`` (which moves one live instance at a time).

``python -m benchmarks.web_seed --home DIR [--runs N]`` seeds a SQLite store in DIR (with
an ``admin`` user, password ``admin-password``) to look at with ``sluice webserver``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from benchmarks.dags_test import load_dag
from sluice import DAG
from sluice.config import load_settings
from sluice.config.fernet import fernet_keys
from sluice.parsing.serialize import dag_hash, dag_to_json, deserialize_dag
from sluice.parsing.serialized import SerializedDag
from sluice.store import schema
from sluice.store.cipher import Cipher
from sluice.store.dags import path_hash
from sluice.store.engine import Store
from sluice.store.tables import (
    AuditLog,
    Dag,
    DagFile,
    DagRun,
    ImportErrorRow,
    Pool,
    SerializedDagRow,
    TaskInstance,
    TaskTry,
    Variable,
    XCom,
)
from sluice.store.tables import (
    Connection as ConnectionRow,
)
from sluice.store.users import create_user

BIG = "big"
ADMIN = "admin"
ADMIN_PASSWORD = "admin-password"
SMALL_DAGS = 99
SMALL_TASKS = 5
SMALL_RUNS = 5
IMPORT_ERRORS = 5
RUNS_PER_CHUNK = 200
"""Runs whose rows are built and inserted together: 10,000 task instances of ``big``."""

_BIG_SOURCE = '''"""Web benchmark DAG: 50 tasks in task groups, daily.

Written by benchmarks.web_seed; edits are lost when the benchmark runs again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sluice import DAG, Param, TaskGroup
from sluice.operators import EmptyOperator

with DAG(
    dag_id="big",
    description="Web benchmark: 50 tasks in task groups, a long daily history",
    schedule="@daily",
    start_date=datetime({start:%Y, %-m, %-d}, tzinfo=UTC),
    catchup=False,
    tags=["benchmark", "web", "finance"],
    default_args={{"owner": "data-eng", "retries": 1}},
    params={{
        "limit": Param(1000, type="integer", minimum=1, description="Rows per batch"),
        "region": Param("eu", enum=["eu", "us", "apac"], description="Which region"),
    }},
) as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("extract") as extract:
        sources = [EmptyOperator(task_id=f"source_{{i:02d}}") for i in range(12)]
    with TaskGroup("transform") as transform:
        for branch in range(4):
            steps = [EmptyOperator(task_id=f"branch_{{branch}}_step_{{s}}") for s in range(3)]
            steps[0] >> steps[1] >> steps[2]
    with TaskGroup("quality") as quality:
        with TaskGroup("checks") as checks:
            tests = [EmptyOperator(task_id=f"check_{{i:02d}}") for i in range(11)]
        summary = EmptyOperator(task_id="summary")
        checks >> summary
    with TaskGroup("load") as load:
        tables = [EmptyOperator(task_id=f"table_{{i:02d}}") for i in range(12)]
    end = EmptyOperator(task_id="end")
    start >> extract >> transform >> quality >> load >> end
'''

_SMALL_SOURCE = '''"""Web benchmark DAG {dag_id}: a chain of {tasks} tasks."""

from __future__ import annotations

from datetime import UTC, datetime

from sluice import DAG, chain
from sluice.operators import EmptyOperator

with DAG(
    dag_id="{dag_id}",
    description="Small DAG number {number} of the web benchmark",
    schedule={schedule!r},
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags={tags!r},
    default_args={{"owner": "{owner}"}},
) as dag:
    chain(*[EmptyOperator(task_id=f"step_{{i}}") for i in range({tasks})])
'''

_SCHEDULES = ("@daily", "@hourly", "0 3 * * *", None, "@weekly", "*/30 * * * *")
_TAGS = ("sales", "finance", "marketing", "ml", "reporting", "ops")
_OWNERS = ("data-eng", "analytics", "ml-team", "platform")
SKIPPED_TASK = "quality.checks.check_10"
"""Skipped in every third run of ``big`` (an optional check)."""


@dataclass(frozen=True)
class Seeded:
    """What the seed wrote, and the ids a benchmark requests pages of."""

    runs: int
    task_instances: int
    task_tries: int
    seconds: float
    run_id: str
    """A finished run of ``big`` with a retried task: the run and task instance pages."""
    task_id: str
    """A task of ``run_id`` with two tries."""
    dags_folder: Path
    logs_folder: Path


@dataclass
class _Counts:
    runs: int = 0
    task_instances: int = 0
    task_tries: int = 0


@dataclass(frozen=True)
class _TaskPlan:
    """Where a task of ``big`` sits in a run: seconds after the run starts, and how long."""

    task_id: str
    offset: float
    duration: float
    priority_weight: int
    downstream: frozenset[str] = field(default_factory=frozenset)


def write_dag_files(folder: Path, runs: int, today: datetime) -> dict[str, Path]:
    """Write ``big`` and the small DAGs' files into ``folder``; their paths by DAG id."""
    folder.mkdir(parents=True, exist_ok=True)
    start = today - timedelta(days=runs + 1)
    paths = {BIG: folder / "big.py"}
    paths[BIG].write_text(_BIG_SOURCE.format(start=start))
    for number in range(SMALL_DAGS):
        dag_id = small_dag_id(number)
        paths[dag_id] = folder / f"{dag_id}.py"
        paths[dag_id].write_text(
            _SMALL_SOURCE.format(
                dag_id=dag_id,
                number=number,
                tasks=SMALL_TASKS,
                schedule=_SCHEDULES[number % len(_SCHEDULES)],
                tags=[_TAGS[number % len(_TAGS)], _TAGS[(number // 6) % len(_TAGS)]],
                owner=_OWNERS[number % len(_OWNERS)],
            )
        )
    for number in range(IMPORT_ERRORS):
        (folder / f"broken_{number}.py").write_text(f"import no_such_module_{number}\n")
    return paths


def small_dag_id(number: int) -> str:
    """The id of small DAG ``number``."""
    return f"dag_{number:03d}"


def seed(store: Store, home: Path, runs: int, *, today: datetime | None = None) -> Seeded:
    """Migrate the store and fill it (it must be empty); DAG files go into ``home/dags``,
    the logs of the run the benchmark opens into ``home/logs``."""
    started = time.perf_counter()
    folder, logs = home / "dags", home / "logs"
    today = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    schema.migrate(store)
    paths = write_dag_files(folder, runs, today)
    dags = {dag_id: load_dag(path, dag_id) for dag_id, path in paths.items()}
    counts = _Counts()
    with store.transaction() as session:
        create_user(session, ADMIN, ADMIN_PASSWORD, "Admin")
        for role in ("Op", "User", "Viewer"):
            create_user(session, role.lower(), ADMIN_PASSWORD, role)
    with store.engine.begin() as connection:
        serialized = _insert_dags(connection, dags, today)
        _insert_import_errors(connection, folder, today)
        _insert_admin_rows(connection, store.cipher)
    plan = _big_plan(dags[BIG], serialized[BIG])
    history = _History(plan, runs, today, logs, random.Random(42))
    for first in range(0, runs, RUNS_PER_CHUNK):
        rows = _Rows()
        for index in range(first, min(first + RUNS_PER_CHUNK, runs)):
            _big_run(history, index, rows)
        with store.engine.begin() as connection:
            rows.insert(connection, counts)
    chosen_run = history.run_id(history.chosen)
    rows = _Rows()
    for number in range(SMALL_DAGS):
        _small_runs(serialized[small_dag_id(number)], today, rows)
    with store.engine.begin() as connection:
        rows.insert(connection, counts)
        _insert_audit_log(connection, runs * 2, today, history.rng)
        _insert_xcoms(connection, plan, chosen_run, today)
    if store.backend == "postgresql":
        # Autovacuum vacuums and analyzes a table soon after many inserts: do it now, as it
        # would (the visibility map lets counts use index-only scans, the statistics plans).
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return Seeded(
        runs=counts.runs,
        task_instances=counts.task_instances,
        task_tries=counts.task_tries,
        seconds=time.perf_counter() - started,
        run_id=chosen_run,
        task_id=_RETRIED_TASK,
        dags_folder=folder,
        logs_folder=logs,
    )


def _insert_dags(
    connection: Connection, dags: dict[str, DAG], today: datetime
) -> dict[str, SerializedDag]:
    serialized: dict[str, SerializedDag] = {}
    dag_rows, serialized_rows, file_rows = [], [], []
    for number, (dag_id, dag) in enumerate(dags.items()):
        text = dag_to_json(dag)
        stored = deserialize_dag(text)
        serialized[dag_id] = stored
        dag_rows.append(
            {
                "dag_id": dag_id,
                "fileloc": dag.fileloc,
                "is_paused": number % 7 == 3,
                "is_active": True,
                "owners": stored.owner,
                "tags": json.dumps(list(stored.tags)),
                "description": stored.description,
                "schedule": stored.schedule_summary,
                "timetable_description": stored.timetable_description,
                "max_active_runs": stored.max_active_runs,
                "max_active_tasks": stored.max_active_tasks,
                "next_dagrun": today if stored.schedule_summary != "None" else None,
                "next_dagrun_data_interval_start": today,
                "next_dagrun_data_interval_end": today + timedelta(days=1),
                "next_dagrun_create_after": today + timedelta(days=1),
                "last_parsed_at": today,
            }
        )
        serialized_rows.append(
            {
                "dag_id": dag_id,
                "fileloc": dag.fileloc,
                "data": text,
                "dag_hash": dag_hash(text),
                "updated_at": today,
            }
        )
        file_rows.append(_file_row(dag.fileloc, today, task_count=len(stored.tasks)))
    connection.execute(insert(Dag), dag_rows)
    connection.execute(insert(SerializedDagRow), serialized_rows)
    connection.execute(insert(DagFile), file_rows)
    return serialized


def _file_row(
    path: str, today: datetime, *, task_count: int, error: bool = False
) -> dict[str, Any]:
    return {
        "path": path,
        "path_hash": path_hash(path),
        "mtime": today.timestamp(),
        "content_hash": path_hash(path),
        "last_parsed_at": today,
        "duration": 0.01,
        "dag_count": 0 if error else 1,
        "task_count": task_count,
        "has_error": error,
        "is_present": True,
    }


def _insert_import_errors(connection: Connection, folder: Path, today: datetime) -> None:
    rows, files = [], []
    for number in range(IMPORT_ERRORS):
        path = str(folder / f"broken_{number}.py")
        message = f"ModuleNotFoundError: No module named 'no_such_module_{number}'"
        rows.append(
            {
                "filename": path,
                "path_hash": path_hash(path),
                "line": 1,
                "message": message,
                "stacktrace": f'Traceback (most recent call last):\n  File "{path}", line 1, in'
                f" <module>\n    import no_such_module_{number}\n{message}\n",
                "timestamp": today,
            }
        )
        files.append(_file_row(path, today, task_count=0, error=True))
    connection.execute(insert(ImportErrorRow), rows)
    connection.execute(insert(DagFile), files)


def _insert_admin_rows(connection: Connection, cipher: Cipher | None) -> None:
    # Values encrypted at rest as the store writes them (plain text without a key).
    values = [json.dumps({"n": i}) for i in range(50)]
    connection.execute(
        insert(Variable),
        [
            {
                "key": f"var_{i:02d}",
                "val": cipher.encrypt(value) if cipher else value,
                "is_encrypted": cipher is not None,
                "description": None,
            }
            for i, value in enumerate(values)
        ],
    )
    connection.execute(
        insert(ConnectionRow),
        [
            {"conn_id": f"conn_{i:02d}", "conn_type": "postgres", "host": f"db{i}.example"}
            for i in range(20)
        ],
    )
    connection.execute(
        insert(Pool),
        [{"pool": f"pool_{i}", "slots": 8 * (i + 1), "description": "benchmark"} for i in range(5)],
    )


def _big_plan(dag: DAG, stored: SerializedDag) -> list[_TaskPlan]:
    """Each task's start offset (after its upstream tasks end) and base duration, in order."""
    rng = random.Random(7)
    ends: dict[str, float] = {}
    plan = []
    for task in stored.topological_order():
        offset = max((ends[u] for u in dag.get_task(task.task_id).upstream_task_ids), default=0.0)
        duration = rng.uniform(2.0, 60.0)
        ends[task.task_id] = offset + duration + 1.0  # a second from one task to the next
        plan.append(
            _TaskPlan(
                task.task_id,
                offset,
                duration,
                stored.priority_weight_total(task.task_id),
                frozenset(_downstream(dag, task.task_id)),
            )
        )
    return plan


def _downstream(dag: DAG, task_id: str) -> set[str]:
    found: set[str] = set()
    todo = [task_id]
    while todo:
        for child in dag.get_task(todo.pop()).downstream_task_ids:
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


_RETRIED_TASK = "transform.branch_1_step_1"
"""Retried once (then succeeded) in the run the benchmark opens."""


@dataclass(frozen=True)
class _History:
    """How the runs of ``big`` are made up."""

    plan: Sequence[_TaskPlan]
    runs: int
    today: datetime
    logs: Path
    rng: random.Random

    @property
    def chosen(self) -> int:
        """The run the benchmark opens: ten days old, finished, with a retried task."""
        return max(0, self.runs - 10)

    def logical_date(self, index: int) -> datetime:
        return self.today - timedelta(days=self.runs - index)

    def run_id(self, index: int) -> str:
        kind = "manual" if index % 50 == 20 else "scheduled"
        return f"{kind}__{self.logical_date(index).isoformat()}"


@dataclass
class _Rows:
    """Rows to insert together."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    instances: list[dict[str, Any]] = field(default_factory=list)
    tries: list[dict[str, Any]] = field(default_factory=list)

    def insert(self, connection: Connection, counts: _Counts) -> None:
        for table, rows in ((DagRun, self.runs), (TaskInstance, self.instances)):
            _insert_many(connection, table, rows)
        _insert_many(connection, TaskTry, self.tries)
        counts.runs += len(self.runs)
        counts.task_instances += len(self.instances)
        counts.task_tries += len(self.tries)


def _big_run(history: _History, index: int, rows: _Rows) -> None:
    """Add run ``index`` of ``big`` (0 is the oldest) with its task instances and tries."""
    rng, run_id = history.rng, history.run_id(index)
    newest = index == history.runs - 1
    started = history.logical_date(index) + timedelta(days=1, seconds=rng.uniform(1, 20))
    speed = rng.uniform(0.7, 1.5)
    plan = history.plan
    failing = plan[rng.randrange(1, len(plan) - 1)] if index % 25 == 24 else None
    states = _task_states(plan, failing, skip=index % 3 == 0)
    if newest:  # still running: the first half done, a few running, the rest waiting
        states = {
            p.task_id: "success" if i < 24 else "running" if i < 28 else None
            for i, p in enumerate(plan)
        }
    run_end = started
    for task in plan:
        state = states[task.task_id]
        retried = (task.task_id == _RETRIED_TASK and index == history.chosen) or (
            state == "success" and rng.random() < 0.02
        )
        tries = 0 if state in ("skipped", "upstream_failed", None) else 1
        if tries and (retried or state == "failed"):
            tries = 2
        start = started + timedelta(seconds=task.offset * speed)
        end = None
        if state not in ("running", None):
            end = start + timedelta(seconds=task.duration * speed)
            run_end = max(run_end, end)
        rows.instances.append(_ti_row(run_id, task, state, tries, start, end))
        made = list(_try_rows(history.logs, run_id, task, state, tries, start, end))
        if index == history.chosen:
            _write_logs(made)
        rows.tries.extend(made)
    rows.runs.append(
        _run_row(
            BIG,
            run_id,
            history.logical_date(index),
            "running" if newest else "failed" if failing else "success",
            started,
            None if newest else run_end,
        )
    )


def _run_row(
    dag_id: str,
    run_id: str,
    logical: datetime,
    state: str,
    start: datetime,
    end: datetime | None,
) -> dict[str, Any]:
    manual = run_id.startswith("manual__")
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "logical_date": logical,
        "data_interval_start": logical,
        "data_interval_end": logical + timedelta(days=1),
        "run_after": logical + timedelta(days=1),
        "run_type": "manual" if manual else "scheduled",
        "state": state,
        "conf": json.dumps({"region": "eu"} if manual else {}),
        "queued_at": start - timedelta(seconds=1),
        "start_date": start,
        "end_date": end,
        "clear_number": 0,
        "needs_scheduling": state == "running",
        "updated_at": end or start,
    }


def _task_states(
    plan: Sequence[_TaskPlan], failing: _TaskPlan | None, *, skip: bool
) -> dict[str, str | None]:
    states: dict[str, str | None] = {p.task_id: "success" for p in plan}
    if skip:
        states[SKIPPED_TASK] = "skipped"
    if failing is not None:
        states[failing.task_id] = "failed"
        for task_id in failing.downstream:
            states[task_id] = "upstream_failed"
    return states


def _ti_row(
    run_id: str,
    task: _TaskPlan,
    state: str | None,
    tries: int,
    start: datetime,
    end: datetime | None,
) -> dict[str, Any]:
    ran = tries > 0
    return {
        "dag_id": BIG,
        "run_id": run_id,
        "task_id": task.task_id,
        "map_index": -1,
        "state": state,
        "try_number": tries,
        "max_tries": 1,
        "hostname": "worker-1" if ran else "",
        "pid": 4242 if ran else None,
        "queued_dttm": start - timedelta(seconds=0.5) if ran else None,
        "start_date": start if ran else None,
        "end_date": end if ran else None,
        "duration": (end - start).total_seconds() if ran and end else None,
        "pool": "default_pool",
        "pool_slots": 1,
        "priority_weight": task.priority_weight,
        "queue": "default",
        "operator": "EmptyOperator",
        "updated_at": end or start,
    }


def _try_rows(
    logs: Path,
    run_id: str,
    task: _TaskPlan,
    state: str | None,
    tries: int,
    start: datetime,
    end: datetime | None,
) -> Iterator[dict[str, Any]]:
    """One row per try; the first of two tries failed (a retry), started a minute earlier."""
    for number in range(1, tries + 1):
        last = number == tries
        begin = start if last else start - timedelta(minutes=1)
        stop = end if last else begin + timedelta(seconds=task.duration / 2)
        failed_try = state == "failed" or not last
        yield {
            "dag_id": BIG,
            "run_id": run_id,
            "task_id": task.task_id,
            "map_index": -1,
            "try_number": number,
            "state": "failed" if failed_try else state,
            "start_date": begin,
            "end_date": stop,
            "duration": (stop - begin).total_seconds() if stop else None,
            "hostname": "worker-1",
            "pid": 4242,
            "exit_code": (1 if failed_try else 0) if stop else None,
            "log_path": str(
                logs / f"dag_id={BIG}" / f"run_id={run_id}" / f"task_id={task.task_id}"
                f"/attempt={number}.log"
            ),
            "error": "ValueError: the source was not ready" if failed_try else None,
        }


def _write_logs(tries: Sequence[dict[str, Any]]) -> None:
    """A few lines of log for each try, as a runner would have written."""
    for row in tries:
        path = Path(row["log_path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            f"[{row['start_date'].isoformat()}] {{taskinstance.py:1}} INFO - Starting try"
            f" {row['try_number']} of {row['task_id']}",
            *(
                f"[{row['start_date'].isoformat()}] {{bench.py:{n}}} INFO - step {n}"
                for n in range(20)
            ),
            f"[{row['start_date'].isoformat()}] {{taskinstance.py:2}} INFO - {row['state']}",
        ]
        if row["error"]:
            lines.append(f"Traceback (most recent call last):\n{row['error']}")
        path.write_text("\n".join(lines) + "\n")


def _small_runs(dag: SerializedDag, today: datetime, rows: _Rows) -> None:
    """Add the last SMALL_RUNS daily runs of a small DAG (the newest fails for a few)."""
    for days in range(SMALL_RUNS, 0, -1):
        logical = today - timedelta(days=days)
        run_id = f"scheduled__{logical.isoformat()}"
        state = "failed" if days == 1 and dag.dag_id.endswith("7") else "success"
        start = logical + timedelta(days=1, seconds=5)
        end = start + timedelta(minutes=3)
        rows.runs.append(_run_row(dag.dag_id, run_id, logical, state, start, end))
        for number, task in enumerate(dag.topological_order()):
            rows.instances.append(
                {
                    "dag_id": dag.dag_id,
                    "run_id": run_id,
                    "task_id": task.task_id,
                    "state": state if number == SMALL_TASKS - 1 else "success",
                    "try_number": 1,
                    "hostname": "worker-2",
                    "start_date": start + timedelta(seconds=30 * number),
                    "end_date": start + timedelta(seconds=30 * number + 20),
                    "duration": 20.0,
                    "operator": task.operator,
                    "updated_at": end,
                }
            )


def _insert_audit_log(
    connection: Connection, rows: int, today: datetime, rng: random.Random
) -> None:
    events = ("trigger", "clear", "pause", "unpause", "mark_success", "variable_set")
    sources = ("cli", "ui", "api")
    values = []
    for number in range(rows):
        event = events[number % len(events)]
        values.append(
            {
                "dttm": today - timedelta(minutes=number * 7),
                "event": f"{sources[number % 3]}_{event}",
                "owner": ("admin", "op", "user")[rng.randrange(3)],
                "dag_id": BIG if number % 2 else small_dag_id(number % SMALL_DAGS),
                "extra": json.dumps({"n": number}),
            }
        )
    _insert_many(connection, AuditLog, values)


def _insert_xcoms(
    connection: Connection, plan: Sequence[_TaskPlan], run_id: str, today: datetime
) -> None:
    """A return value for each task of the run the benchmark opens."""
    if not run_id:
        return
    dag_run_pk = connection.execute(
        select(DagRun.id).where(DagRun.dag_id == BIG, DagRun.run_id == run_id)
    ).scalar_one()
    rows = [
        {
            "dag_run_id": dag_run_pk,
            "task_id": task.task_id,
            "key": "return_value",
            "dag_id": BIG,
            "run_id": run_id,
            "value": json.dumps({"rows": 1000 + i}),
            "timestamp": today,
        }
        for i, task in enumerate(plan)
    ]
    connection.execute(insert(XCom), rows)


def _insert_many(connection: Connection, table: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert in statements of at most 5,000 rows (every row names the same columns)."""
    for start in range(0, len(rows), 5000):
        connection.execute(insert(table), rows[start : start + 5000])


def main(argv: Sequence[str] | None = None) -> int:
    """Seed a SQLite store in ``--home`` (or the database of ``--database``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.web_seed", description=__doc__)
    parser.add_argument("--home", type=Path, required=True, help="SLUICE_HOME to fill (new)")
    parser.add_argument("--runs", type=int, default=2000, help="runs of 'big' (2000)")
    parser.add_argument("--database", help="database URL (default: SQLite in --home)")
    args = parser.parse_args(argv)
    args.home.mkdir(parents=True, exist_ok=True)
    url = args.database or f"sqlite:///{args.home / 'sluice.db'}"
    # The key `sluice webserver` on this home will read the variables with.
    cipher = Cipher(fernet_keys(load_settings(home=args.home, env={})))
    store = Store(url, cipher=cipher)
    try:
        seeded = seed(store, args.home, args.runs)
    finally:
        store.dispose()
    print(
        f"{seeded.runs:,} runs, {seeded.task_instances:,} task instances,"
        f" {seeded.task_tries:,} tries in {seeded.seconds:.1f} s; database {url};"
        f" log in as {ADMIN} / {ADMIN_PASSWORD}; e.g. SLUICE_HOME={args.home}"
        f" SLUICE__DATABASE__SQL_ALCHEMY_CONN={url} sluice webserver"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
