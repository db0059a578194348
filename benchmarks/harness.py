"""What the scheduler, parsing and standalone workloads share.

A fresh database per workload (a SQLite file in a fresh SLUICE_HOME, or a database of
its own on a PostgreSQL server), the environment of the ``sluice`` commands, running
them with a time limit, reading the store without taking its write lock, and the
figures a workload reports.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

SQLITE = "SQLite"
POSTGRES = "PostgreSQL"
POSTGRES_ENV = "SLUICE_BENCH_POSTGRES_URL"

T = TypeVar("T")
_database_numbers = itertools.count(1)


class WorkloadError(RuntimeError):
    """A workload could not be measured: a command failed, or a time limit passed."""


@dataclass(frozen=True)
class Figure:
    """One row of the table: a workload, what is measured, the value, Airflow's figure."""

    workload: str
    name: str
    value: str
    airflow: str = ""


@dataclass(frozen=True)
class Database:
    """A fresh, empty metadata database for one workload."""

    backend: str
    url: str

    def reader(self) -> Engine:
        """An engine for polling the store from the benchmark.

        Not ``sluice.store``'s: that one opens SQLite transactions with BEGIN IMMEDIATE,
        which would make each poll queue for the write lock behind the scheduler.
        """
        url = make_url(self.url)
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        if url.get_backend_name() == "sqlite":
            return create_engine(url, connect_args={"timeout": 30})
        return create_engine(url, pool_pre_ping=True)


@contextmanager
def fresh_database(backend: str, home: Path, postgres_url: str | None = None) -> Iterator[Database]:
    """A SQLite file in ``home``, or a new database on the server of ``postgres_url``,
    dropped afterwards."""
    if backend == SQLITE:
        yield Database(SQLITE, f"sqlite:///{home / 'sluice.db'}")
        return
    if postgres_url is None:
        raise ValueError("PostgreSQL needs a server URL")
    name = f"sluice_bench_{os.getpid()}_{next(_database_numbers)}"
    server = make_url(postgres_url)
    admin_url = (
        server.set(drivername="postgresql+psycopg") if server.drivername == "postgresql" else server
    )
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield Database(
                POSTGRES, server.set(database=name).render_as_string(hide_password=False)
            )
        finally:
            with admin.connect() as connection:
                # FORCE: a process of the workload that was killed may still hold a session.
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def workspace(backend: str, postgres_url: str | None = None) -> Iterator[tuple[Path, Database]]:
    """A fresh SLUICE_HOME, removed afterwards, and a fresh database (SQLite: in that home)."""
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        home = Path(tmp)
        with fresh_database(backend, home, postgres_url) as database:
            yield home, database


def sluice_command() -> list[str]:
    """How to start the ``sluice`` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "sluice"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from sluice.cli.main import main; main()"]


def sluice_env(
    home: Path, database: Database, *, load_examples: bool = False, **settings: str
) -> dict[str, str]:
    """The environment of a ``sluice`` command: this one without any SLUICE setting, then
    a fresh home, the workload's database and ``settings`` (``core__parallelism="4"``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE")}
    env["SLUICE_HOME"] = str(home)
    env["SLUICE__DATABASE__SQL_ALCHEMY_CONN"] = database.url
    env["SLUICE__CORE__LOAD_EXAMPLES"] = "true" if load_examples else "false"
    for key, value in settings.items():
        env[f"SLUICE__{key.upper()}"] = value
    return env


def run_sluice(args: Sequence[str], env: Mapping[str, str], timeout: float) -> float:
    """Run ``sluice ARGS`` to completion; its wall time. WorkloadError if it fails."""
    command = [*sluice_command(), *args]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise WorkloadError(f"`sluice {' '.join(args)}` took more than {timeout:g} s") from None
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        why = last_line(done.stderr or done.stdout)
        raise WorkloadError(f"`sluice {' '.join(args)}` exited {done.returncode}: {why}")
    return elapsed


def start_sluice(
    args: Sequence[str], env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start ``sluice ARGS`` in its own session (a Ctrl-C at the terminal is the runner's
    to pass on), its output going to ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [*sluice_command(), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def exited(process: subprocess.Popen[bytes], name: str, log_path: Path) -> str | None:
    """None while ``process`` runs; once it has exited, why, from its log's last line."""
    code = process.poll()
    if code is None:
        return None
    return f"{name} exited {code}: {last_line(log_path.read_text(errors='replace'))}"


def last_line(output: str) -> str:
    """The last non-empty line of a command's output, shortened for the table."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "no output")[:160]


def poll(
    check: Callable[[], T | None],
    *,
    deadline: float,
    what: str,
    interval: float = 0.05,
    alive: Callable[[], str | None] = lambda: None,
) -> T:
    """Call ``check`` until it returns something not None; WorkloadError at ``deadline``
    (a ``time.monotonic()`` value) or when ``alive`` reports why the process it watches died.
    """
    while True:
        result = check()
        if result is not None:
            return result
        dead = alive()
        if dead is not None:
            raise WorkloadError(f"while waiting for {what}: {dead}")
        if time.monotonic() >= deadline:
            raise WorkloadError(f"timed out waiting for {what}")
        time.sleep(interval)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value at or above ``fraction`` of them."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(round(len(ordered) * fraction, 9)))  # 20 * 0.95 is 19, not 19.0001
    return ordered[rank - 1]


def seconds(value: float) -> str:
    """Seconds for the table: milliseconds shown as such, longer times to 2 decimals."""
    if value < 1.0:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"
