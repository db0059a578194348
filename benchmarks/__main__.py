"""``python -m benchmarks``: generate the workloads, time them, print a table."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from benchmarks.dags_test import format_table, measure, summary


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and print the results as Markdown."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--chain", type=int, default=100, help="tasks in the chain (100)")
    parser.add_argument(
        "--parallel", type=int, default=500, help="parallel tasks in the fan-out (500)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="tries per figure; best kept (3)")
    args = parser.parse_args(argv)

    print(
        f"Sluice benchmarks, {datetime.now(UTC):%Y-%m-%d}: Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores; "
        f"best of {args.repeat}\n",
        flush=True,
    )
    startup, timings = measure(args.chain, args.parallel, args.repeat)
    print(format_table(startup, timings))
    print()
    print(summary(timings))
    return 0 if all(t.cli is not None for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
