"""``python -m benchmarks``: generate the workloads, time them, print Markdown tables.

Sections: "dags test" (``sluice dags test`` of a chain and a fan-out, no database), then
one table of the workloads that run the real commands against a fresh SLUICE_HOME and
database each: W1-W3 through ``sluice scheduler`` and its LocalExecutor, W4 the DAG
processor, S ``sluice standalone``. On SQLite always; on PostgreSQL too when
``--postgres URL`` or SLUICE_BENCH_POSTGRES_URL names a server (each workload gets a
database of its own there, dropped afterwards). ``--only web`` (not in the default run)
times the web pages on a seeded store: ``benchmarks.web_pages``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

from benchmarks import dags_test, parse_files, report, scheduler_runs, standalone, web_pages
from benchmarks.harness import POSTGRES, POSTGRES_ENV, SQLITE, Figure

DAGS_TEST = "dags-test"
WEB = "web"
"""Web pages on a seeded store: opt-in (``--only web``), several minutes at full size."""
WEB_SIZES = (2000, 10000)
WEB_QUICK_SIZES = (20,)


@dataclass(frozen=True)
class Sizes:
    chain: int = 100
    parallel: int = 500
    bash_chain: int = 20
    files: int = 200
    file_tasks: int = 10
    idle: float = 5.0
    repeat: int = 3


QUICK = Sizes(chain=5, parallel=10, bash_chain=3, files=10, file_tasks=10, idle=1.0, repeat=1)

# Seconds each workload may take, at full size, before it is stopped and reported failed.
TIMEOUTS = {"W1": 300.0, "W2": 600.0, "W3": 120.0, "W4": 300.0, "S": 120.0}
QUICK_TIMEOUT = 120.0

Measure = Callable[[str, "str | None", Sizes, float], list[Figure]]

WORKLOADS: dict[str, tuple[str, Measure]] = {
    "W1": ("W1 chain", lambda b, pg, z, t: scheduler_runs.w1(b, pg, z.chain, t)),
    "W2": ("W2 fan-out", lambda b, pg, z, t: scheduler_runs.w2(b, pg, z.parallel, t)),
    "W3": ("W3 Bash chain", lambda b, pg, z, t: scheduler_runs.w3(b, pg, z.bash_chain, t)),
    "W4": ("W4 parsing", lambda b, pg, z, t: parse_files.w4(b, pg, z.files, z.file_tasks, t)),
    "S": ("S standalone", lambda b, pg, z, t: standalone.s(b, pg, z.idle, t)),
}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default = [DAGS_TEST, *WORKLOADS]
    names = [*default, WEB]
    parser.add_argument(
        "--only",
        default=",".join(default),
        help=f"comma-separated workloads to run, of {', '.join(names)}"
        f" (all but {WEB}: see python -m benchmarks.web_pages)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, one try: checks that everything runs"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get(POSTGRES_ENV) or None,
        help=f"also run on this PostgreSQL server, which must allow CREATE DATABASE"
        f" (default: ${POSTGRES_ENV})",
    )
    parser.add_argument("--chain", type=int, help="tasks in the chains of dags test and W1 (100)")
    parser.add_argument("--parallel", type=int, help="parallel tasks of dags test and W2 (500)")
    parser.add_argument("--bash-chain", type=int, help="Bash tasks in W3's chain (20)")
    parser.add_argument("--files", type=int, help="DAG files in W4 (200)")
    parser.add_argument("--file-tasks", type=int, help="tasks per DAG file in W4 (10)")
    parser.add_argument("--idle", type=float, help="seconds S idles before measuring memory (5)")
    parser.add_argument("--repeat", type=int, help="tries per dags-test figure; best kept (3)")
    parser.add_argument(
        "--timeout", type=float, help="seconds each workload may take (W1 300, W2 600, ...)"
    )
    args = parser.parse_args(argv)
    chosen = [n.strip() for n in args.only.split(",") if n.strip()]
    by_lower = {n.lower(): n for n in names}
    unknown = [n for n in chosen if n.lower() not in by_lower]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(names)}")
    args.only = [by_lower[n.lower()] for n in chosen]
    base = QUICK if args.quick else Sizes()
    args.sizes = Sizes(
        **{
            field: getattr(args, field) if getattr(args, field) is not None else default
            for field, default in vars(base).items()
        }
    )
    return args


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so that every workload's cleanup runs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and print the results as Markdown; 1 when any workload failed."""
    args = _parse_args(argv)
    sizes: Sizes = args.sizes
    signal.signal(signal.SIGTERM, _raise_interrupt)
    backends = [SQLITE] + ([POSTGRES] if args.postgres else [])
    print(
        f"Sluice benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, on {report.machine()}"
        + (" (--quick)" if args.quick else ""),
        flush=True,
    )
    ok = True

    if DAGS_TEST in args.only:
        print(f"\n## dags test\n\nIn one process, no database; best of {sizes.repeat}.\n")
        startup, timings = dags_test.measure(sizes.chain, sizes.parallel, sizes.repeat)
        print(dags_test.format_table(startup, timings))
        print()
        print(dags_test.summary(timings), flush=True)
        ok = ok and all(t.cli is not None for t in timings)

    chosen = [name for name in WORKLOADS if name in args.only]
    if chosen:
        results: dict[str, list[Figure]] = {backend: [] for backend in backends}
        for name in chosen:
            label, measure = WORKLOADS[name]
            timeout = args.timeout or (QUICK_TIMEOUT if args.quick else TIMEOUTS[name])
            for backend in backends:
                print(f"{name} on {backend}...", end=" ", file=sys.stderr, flush=True)
                started = time.monotonic()
                try:
                    figures = measure(backend, args.postgres, sizes, timeout)
                except Exception as exc:  # any failure is reported in the table; cleanup ran
                    ok = False
                    figures = [Figure(label, "failed", str(exc) or type(exc).__name__)]
                elapsed = time.monotonic() - started
                print(f"{elapsed:.1f} s", file=sys.stderr, flush=True)
                results[backend] += figures
        print(
            "\n## Scheduler, executor, DAG processor, standalone\n\n"
            "Each workload in a fresh SLUICE_HOME and database, LocalExecutor with the"
            " default parallelism.\n"
        )
        print(report.table(results), flush=True)

    if WEB in args.only:
        print()
        sizes_web = WEB_QUICK_SIZES if args.quick else WEB_SIZES
        repeat = 3 if args.quick else 20
        ok = web_pages.run(backends, args.postgres, sizes_web, repeat=repeat) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
