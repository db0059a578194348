"""Time every web page and list endpoint on a store with a long history.

For each size (``--sizes 2000,10000``: runs of the ``big`` DAG, 50 task instances each,
so 100,000 and 500,000 task instances) and each database (SQLite; PostgreSQL too with
``--postgres URL`` or SLUICE_BENCH_POSTGRES_URL), in a fresh home and database:
``benchmarks.web_seed`` fills the store, the app is built in this process
(``create_app``) and driven by Starlette's TestClient, logged in as an Admin through the
login form (a session cookie, as a browser). Each page is requested twice to warm up, then
``--repeat`` times (fewer when a page has used up ``--page-budget`` seconds); the table
shows the median and p95 (nearest rank), then the SQL statements of one more request, the
time they took and the size of its body. A page that does not answer 200 shows its status
instead: the table is still printed, so that it can be run again as pages are written.

``--explain N`` prints the query plans (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL
``EXPLAIN (ANALYZE)``) of the slowest statements of the N slowest pages.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from benchmarks import report
from benchmarks.harness import POSTGRES, POSTGRES_ENV, SQLITE, Database, percentile, workspace
from benchmarks.web_seed import ADMIN, ADMIN_PASSWORD, Seeded, seed
from sluice.config import Settings, load_settings
from sluice.store.cipher import Cipher, generate_key
from sluice.store.engine import Store
from sluice.web.app import create_app

# (label, path): <run> and <task> become the seeded run and task ids, <week ago> the
# midnight a week before today.
PAGES: tuple[tuple[str, str], ...] = (
    ("DAG list", "/"),
    ("grid", "/dags/big/grid"),
    ("graph", "/dags/big/graph"),
    ("gantt", "/dags/big/gantt"),
    ("durations", "/dags/big/durations"),
    ("calendar", "/dags/big/calendar"),
    ("code", "/dags/big/code"),
    ("details", "/dags/big/details"),
    ("trigger form", "/dags/big/trigger"),
    ("run", "/dags/big/runs/<run>"),
    ("task instance", "/dags/big/runs/<run>/tasks/<task>"),
    ("runs (browse)", "/runs"),
    ("task instances (browse)", "/task-instances"),
    ("task instances of big", "/task-instances?dag_id=big"),
    ("task instances, big failed", "/task-instances?dag_id=big&state=failed"),
    ("import errors", "/import-errors"),
    ("audit log", "/audit-log"),
    ("variables", "/variables"),
    ("connections", "/connections"),
    ("pools", "/pools"),
    ("users", "/users"),
    ("API DAGs", "/api/v1/dags"),
    ("API runs of big", "/api/v1/dags/big/dagRuns"),
    ("API task instances, all", "/api/v1/dags/~/dagRuns/~/taskInstances"),
    ("API task instances of a run", "/api/v1/dags/big/dagRuns/<run>/taskInstances"),
    ("API task instances of big", "/api/v1/dags/big/dagRuns/~/taskInstances"),
    (
        "API task instances of big, last week",
        "/api/v1/dags/big/dagRuns/~/taskInstances?logical_date_gte=<week ago>",
    ),
    ("API import errors", "/api/v1/importErrors"),
    ("API variables", "/api/v1/variables"),
    ("API pools", "/api/v1/pools"),
)

AIRFLOW_NOTE = """\
For scale (issue 4): Apache Airflow 3.3.2's API answers its DAG list, run list and grid
endpoints in 5-60 ms on such a store; its cross-run task-instance list takes 194 ms at
100,000 task instances and 1.1 s at 500,000 (no index serves its sort). Sluice's target:
every page and list endpoint under 100 ms median at 100,000, and no slower at 500,000."""

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_QUIET = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE", "SET ")


@dataclass(frozen=True)
class Statement:
    """One SQL statement a request ran, with its parameters and how long it took."""

    sql: str
    parameters: Any
    seconds: float


@dataclass
class PageTiming:
    """One page at one size."""

    label: str
    path: str
    status: int = 0
    times: list[float] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    size: int = 0
    """Bytes of the response body."""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def sql_seconds(self) -> float:
        return sum(s.seconds for s in self.statements)


@dataclass(frozen=True)
class SizeResult:
    """Every page at one size on one database."""

    backend: str
    seeded: Seeded
    pages: list[PageTiming]
    plans: list[str]
    app_error: str = ""
    """Why the app could not be built or logged in to, if it could not."""


def web_settings(home: Path, url: str) -> Settings:
    """A web server's settings: its home, the seeded database and DAGs folder."""
    overrides: dict[tuple[str, str], object] = {
        ("database", "sql_alchemy_conn"): url,
        ("core", "load_examples"): False,
        ("core", "dags_folder"): str(home / "dags"),
        ("logging", "base_log_folder"): str(home / "logs"),
    }
    return load_settings(home=home, env={}, overrides=overrides)


def logged_in_client(store: Store, settings: Settings) -> TestClient:
    """A TestClient on a new app, logged in as the seeded Admin through the login form."""
    client = TestClient(create_app(settings, store), base_url="http://testserver")
    form = client.get("/login")
    token = _CSRF.search(form.text)
    if token is None:
        raise RuntimeError(f"no CSRF token on /login (status {form.status_code})")
    done = client.post(
        "/login",
        data={"username": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    if done.status_code != 303:
        raise RuntimeError(f"logging in answered {done.status_code}: {done.text[:200]}")
    return client


@contextmanager
def recording(engine: Engine) -> Iterator[list[Statement]]:
    """The statements ``engine`` runs inside the block (not BEGIN, PRAGMA and the like)."""
    found: list[Statement] = []

    def before(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        elapsed = time.perf_counter() - conn.info["bench_started"].pop()
        if not sql.lstrip().upper().startswith(_QUIET):
            found.append(Statement(sql, params, elapsed))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def time_page(
    client: TestClient,
    engine: Engine,
    page: tuple[str, str],
    *,
    repeat: int,
    budget: float,
    warmup: int = 2,
) -> PageTiming:
    """Warm up, time up to ``repeat`` requests (stopping after ``budget`` seconds, with
    three at least), then record one more request's statements."""
    timing = PageTiming(*page)
    path = timing.path
    try:
        for _ in range(warmup):
            timing.status = client.get(path).status_code
        spent = 0.0
        while len(timing.times) < repeat and (spent < budget or len(timing.times) < 3):
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            spent += elapsed
            timing.times.append(elapsed)
            timing.status = response.status_code
            if response.status_code != 200:
                break  # a failing page: its status is what the table shows
        with recording(engine) as statements:
            timing.size = len(client.get(path).content)
        timing.statements = statements
    except Exception as exc:  # a page that raises out of the app: reported, not fatal
        timing.error = f"{type(exc).__name__}: {exc}"[:120]
    return timing


def measure(
    backend: str,
    postgres_url: str | None,
    runs: int,
    *,
    repeat: int,
    budget: float,
    explain: int,
    warmup: int = 2,
    progress: bool = True,
) -> SizeResult:
    """Seed a fresh store with ``runs`` runs of ``big`` and time every page on it."""
    with workspace(backend, postgres_url) as (home, database):
        store = Store(database.url, cipher=Cipher(generate_key()))
        try:
            seeded = seed(store, home, runs)
            if progress:
                print(
                    f"  {backend}, {runs} runs: seeded {seeded.task_instances:,} task instances"
                    f" and {seeded.task_tries:,} tries in {seeded.seconds:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            values = {
                "<run>": seeded.run_id,
                "<task>": seeded.task_id,
                "<week ago>": (midnight - timedelta(days=7)).isoformat(),
            }
            paths = [(label, _fill(template, values)) for label, template in PAGES]
            try:
                client = logged_in_client(store, web_settings(home, database.url))
            except Exception as exc:  # the app itself is broken: every row says why
                pages = [PageTiming(*p, error="no app") for p in paths]
                return SizeResult(backend, seeded, pages, [], f"{type(exc).__name__}: {exc}")
            with client:
                pages = [
                    time_page(client, store.engine, p, repeat=repeat, budget=budget, warmup=warmup)
                    for p in paths
                ]
            plans = explain_slowest(store, database, pages, explain)
        finally:
            store.dispose()
    return SizeResult(backend, seeded, pages, plans)


def _fill(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace(name, quote(value, safe=""))
    return template


def explain_slowest(
    store: Store, database: Database, pages: list[PageTiming], count: int
) -> list[str]:
    """The query plans of the three slowest statements of the ``count`` slowest pages."""
    slowest = sorted((p for p in pages if p.ok), key=lambda p: p.median, reverse=True)[:count]
    out = []
    for page in slowest:
        out.append(f"#### {page.label}: `{page.path}` ({_ms(page.median)} median)\n")
        worst = sorted(page.statements, key=lambda s: s.seconds, reverse=True)[:3]
        for statement in worst:
            plan = _plan(store, database, statement)
            sql = " ".join(statement.sql.split())
            out.append(f"{_ms(statement.seconds)}: `{sql[:600]}`\n\n```\n{plan}\n```\n")
    return out


def _plan(store: Store, database: Database, statement: Statement) -> str:
    if not statement.sql.lstrip().upper().startswith(("SELECT", "WITH")):
        return "(not a query)"
    prefix = "EXPLAIN QUERY PLAN " if database.backend == SQLITE else "EXPLAIN (ANALYZE) "
    try:
        with store.engine.connect() as connection:
            rows = connection.exec_driver_sql(prefix + statement.sql, statement.parameters).all()
    except Exception as exc:  # a plan is a diagnosis: never fatal
        return f"(no plan: {type(exc).__name__}: {exc})"
    if database.backend == SQLITE:  # (id, parent, notused, detail)
        depth: dict[int, int] = {0: 0}
        lines = []
        for row in rows:
            depth[row[0]] = depth.get(row[1], 0) + 1
            lines.append("  " * (depth[row[0]] - 1) + str(row[3]))
        return "\n".join(lines)
    return "\n".join(str(row[0]) for row in rows)


def _ms(seconds: float) -> str:
    milliseconds = seconds * 1000
    return f"{milliseconds:.2f} ms" if milliseconds < 1 else f"{milliseconds:.1f} ms"


def _cell(page: PageTiming) -> tuple[str, str, str, str]:
    """Median, p95, SQL and size cells: the status instead of times when the page did not
    answer 200."""
    sql = f"{len(page.statements)} / {_ms(page.sql_seconds)}" if page.statements else "-"
    size = f"{page.size / 1000:.0f} kB" if page.size else "-"
    if page.error:
        return (f"error: {page.error}", "", sql, size)
    if not page.ok:
        return (f"HTTP {page.status}", "", sql, size)
    return (_ms(page.median), _ms(percentile(page.times, 0.95)), sql, size)


def format_table(results: Sequence[SizeResult]) -> str:
    """One Markdown table for one database: a row per page, columns per size."""
    sizes = [f"{r.seeded.task_instances // 1000}k TIs" for r in results]
    header = ["page", "path"]
    for size in sizes:
        header += [f"{size} median", "p95", "SQL stmts / time", "body"]
    if len(results) > 1:
        header.append(f"{sizes[-1]} / {sizes[0]}")
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for row, (label, template) in enumerate(PAGES):
        pages = [r.pages[row] for r in results]
        cells = [label, f"`{template}`"]
        for page in pages:
            cells += _cell(page)
        if len(results) > 1:
            first, last = pages[0], pages[-1]
            cells.append(f"{last.median / first.median:.2f}x" if first.ok and last.ok else "")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.web_pages",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, help="one size: runs of 'big' (50 TIs each)")
    parser.add_argument(
        "--sizes", default="2000,10000", help="comma-separated sizes in runs (2000,10000)"
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page (20)")
    parser.add_argument(
        "--page-budget", type=float, default=10.0, help="seconds of timed requests per page (10)"
    )
    parser.add_argument(
        "--explain", type=int, default=5, metavar="N", help="query plans of the N slowest (5)"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get(POSTGRES_ENV) or None,
        help=f"also run on this PostgreSQL server (CREATE DATABASE needed; ${POSTGRES_ENV})",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args(argv)
    text = str(args.runs) if args.runs is not None else args.sizes
    try:
        args.size_list = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes takes whole numbers of runs, not {text!r}")
    if not args.size_list or min(args.size_list) < 1:
        parser.error("each size needs at least one run")
    if args.no_sqlite and not args.postgres:
        parser.error("--no-sqlite needs --postgres URL")
    return args


def run(
    backends: Sequence[str],
    postgres_url: str | None,
    sizes: Sequence[int],
    *,
    repeat: int = 20,
    budget: float = 10.0,
    explain: int = 0,
) -> bool:
    """Print a table per database (and the plans asked for); False when a page failed."""
    all_ok = True
    for backend in backends:
        results = []
        for runs in sizes:
            result = measure(
                backend, postgres_url, runs, repeat=repeat, budget=budget, explain=explain
            )
            results.append(result)
            all_ok = all_ok and all(p.ok for p in result.pages)
        seeds = ", ".join(
            f"{r.seeded.task_instances:,} TIs seeded in {r.seeded.seconds:.1f} s" for r in results
        )
        print(f"## Web pages, {backend}\n\n{seeds}; median and p95 of up to {repeat} requests.\n")
        for result in results:
            if result.app_error:
                print(f"No app at {result.seeded.task_instances:,} TIs: {result.app_error}\n")
        print(format_table(results))
        for result in results:
            if result.plans:
                size = f"{result.seeded.task_instances:,} task instances"
                print(f"\n### Query plans of the slowest pages, {backend}, {size}\n")
                print("\n".join(result.plans))
        print(flush=True)
    print(AIRFLOW_NOTE, flush=True)
    return all_ok


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, time and print the tables; 1 when a page did not answer 200."""
    args = _parse_args(argv)
    backends = ([] if args.no_sqlite else [SQLITE]) + ([POSTGRES] if args.postgres else [])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Sluice web pages, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, on {report.machine()};"
        f" load average {load}\n"
    )
    ok = run(
        backends,
        args.postgres,
        args.size_list,
        repeat=args.repeat,
        budget=args.page_budget,
        explain=args.explain,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
