"""The machine the benchmarks ran on, and the table of their figures."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.harness import Figure


def machine() -> str:
    """One line: CPU model and count, memory, OS, Python."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 2**20:.0f} GiB RAM"
                break
    except OSError:
        pass
    cpu = f"{os.cpu_count()} cores" + (f" ({model})" if model else "")
    return (
        f"{cpu}{memory}, {platform.system()} {platform.release()} {platform.machine()},"
        f" Python {platform.python_version()}"
    )


def table(results: Mapping[str, Sequence[Figure]]) -> str:
    """One Markdown table: a row per (workload, figure), a value column per backend."""
    backends = list(results)
    rows: dict[tuple[str, str], dict[str, str]] = {}
    airflow: dict[tuple[str, str], str] = {}
    for backend, figures in results.items():
        for figure in figures:
            key = (figure.workload, figure.name)
            rows.setdefault(key, {})[backend] = figure.value
            if figure.airflow:
                airflow[key] = figure.airflow
    header = ["workload", "figure", *backends, "Airflow 3.3.2"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|---|---|" + "---:|" * len(backends) + "---:|",
    ]
    for key, values in rows.items():
        cells = [key[0], key[1], *(values.get(b, "-") for b in backends), airflow.get(key, "")]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
