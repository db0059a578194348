"""The calendar's cells: a DAG's expected data intervals over a range, next to its runs.

The expected intervals come from the DAG's timetable, walked as a backfill walks it (the
intervals with a logical date in the range that have ended); a cell is a day (daily or
slower schedules: weeks as columns, weekdays as rows) or an hour (faster schedules:
days as columns, hours as rows), in the DAG's timezone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sluice.actions.run_plans import first_start
from sluice.core.errors import ScheduleError
from sluice.parsing.serialized import SerializedDag
from sluice.sdk.schedules import DagRunInfo, iter_dagrun_infos
from sluice.sdk.timetables.zones import parse_timezone
from sluice.store.dag_history import RunSummary
from sluice.web.pages.dag_header import color, worst_state
from sluice.web.svg.calendar import MISSING, NO_INTERVAL, RUN, CalendarCell

WEEKS = 13
"""About three months of days."""
HOURLY_DAYS = 7
MAX_INTERVALS = 2_500
"""Most intervals one calendar walks (a per-minute schedule shows fewer days)."""
WEEKDAYS = ("Mon", "", "Wed", "", "Fri", "", "Sun")

RunsFor = Callable[[datetime, datetime], Sequence[RunSummary]]
"""Reads a DAG's runs with a logical date in [start, end]."""


@dataclass(frozen=True)
class CalendarView:
    """What the calendar shows: the range, the cells, and counts for the summary."""

    hourly: bool
    first_day: date
    last_day: date
    start: datetime
    end: datetime
    """The range in UTC: the first day's midnight to the end of the last day."""
    cells: list[CalendarCell]
    column_labels: list[str]
    row_labels: list[str]
    expected: int
    missing: int
    failed: int


def dag_zone(dag: SerializedDag) -> tzinfo:
    """The timezone the DAG's schedule is read in (UTC if it cannot be read)."""
    try:
        return parse_timezone(dag.timezone)
    except ScheduleError:
        return UTC


def day_range(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """From ``first``'s midnight to the last instant of ``last``, in UTC."""
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end - timedelta(microseconds=1)


CACHED_WALKS = 64
"""Timetable walks kept: walking a cron schedule costs about a millisecond a step, and a
calendar asks for the same range again and again (its cells refresh with the page)."""

_walks: dict[tuple[str, str, datetime, datetime], list[DagRunInfo]] = {}


def cached_intervals(
    dag: SerializedDag, version: str, start: datetime, end: datetime
) -> list[DagRunInfo]:
    """The DAG's intervals with a logical date in [start, end], whether ended or not,
    walked once per version of the DAG (``version``: its hash) and range."""
    key = (dag.dag_id, version, start, end)
    found = _walks.get(key)
    if found is None:
        try:
            found = iter_dagrun_infos(
                dag.timetable, start_date=start, end_date=end, limit=MAX_INTERVALS
            )
        except ScheduleError:
            found = []
        if len(_walks) >= CACHED_WALKS:
            _walks.clear()
        _walks[key] = found
    return found


def schedule_step(dag: SerializedDag, now: datetime) -> timedelta | None:
    """The time between two consecutive runs of the schedule, near ``now``."""
    try:
        infos = iter_dagrun_infos(dag.timetable, start_date=now - timedelta(days=40), limit=2)
    except ScheduleError:
        return None
    if len(infos) < 2:
        return None
    return infos[1].logical_date - infos[0].logical_date


def build_calendar(
    dag: SerializedDag,
    runs_for: RunsFor,
    *,
    last_day: date,
    now: datetime,
    version: str,
) -> CalendarView:
    """The cells ending with ``last_day``; ``runs_for(start, end)`` reads the runs there;
    ``version`` (the DAG's hash) keys the walks of its timetable kept between requests."""
    zone = dag_zone(dag)
    step = schedule_step(dag, now) or timedelta(days=1)
    hourly = step < timedelta(hours=23)
    if hourly:
        days = max(1, min(HOURLY_DAYS, int(MAX_INTERVALS * step / timedelta(days=1))))
        first_day = last_day - timedelta(days=days - 1)
        columns, rows = days, 24
    else:
        first_day = last_day - timedelta(days=last_day.weekday()) - timedelta(weeks=WEEKS - 1)
        columns, rows = WEEKS, 7
    start, end = day_range(first_day, last_day, zone)
    infos = _expected(dag, version, start, end, now)
    runs = {r.logical_date: r for r in runs_for(start, end)}

    def slot(moment: datetime) -> tuple[int, int]:
        local = moment.astimezone(zone)
        offset = (local.date() - first_day).days
        return (offset, local.hour) if hourly else (offset // 7, offset % 7)

    expected: dict[tuple[int, int], list[DagRunInfo]] = defaultdict(list)
    for info in infos:
        expected[slot(info.logical_date)].append(info)
    others: dict[tuple[int, int], list[RunSummary]] = defaultdict(list)
    expected_dates = {info.logical_date for info in infos}
    for run in runs.values():
        if run.logical_date not in expected_dates:
            others[slot(run.logical_date)].append(run)
    cells = []
    for column in range(columns):
        for row in range(rows):
            day = first_day + timedelta(days=column if hourly else column * 7 + row)
            if day > last_day:
                continue
            label = f"{day.isoformat()} {row:02d}:00" if hourly else f"{day:%Y-%m-%d (%a)}"
            found = expected.get((column, row), [])
            cells.append(_cell(column, row, day, label, found, runs, others.get((column, row), [])))
    missing = sum(1 for i in infos if i.logical_date not in runs)
    failed = sum(1 for i in infos if (r := runs.get(i.logical_date)) and r.state == "failed")
    if hourly:
        column_labels = [f"{first_day + timedelta(days=c):%m-%d}" for c in range(columns)]
        row_labels = [f"{h:02d}" if h % 6 == 0 else "" for h in range(24)]
    else:
        column_labels = [_month_label(first_day, c) for c in range(columns)]
        row_labels = list(WEEKDAYS)
    return CalendarView(hourly, first_day, last_day, start, end, cells, column_labels,
                        row_labels, len(infos), missing, failed)  # fmt: skip


def _expected(
    dag: SerializedDag, version: str, start: datetime, end: datetime, now: datetime
) -> list[DagRunInfo]:
    """The intervals a backfill of [start, end] would cover: from the DAG's start, to its
    end_date, ended by ``now``."""
    begin = first_start(dag)
    if begin is None or not dag.timetable.periodic:
        return []
    start = max(start, begin)
    if dag.end_date is not None:
        end = min(end, dag.end_date)
    if end < start:
        return []
    return [i for i in cached_intervals(dag, version, start, end) if i.data_interval.end <= now]


def _month_label(first_day: date, column: int) -> str:
    monday = first_day + timedelta(weeks=column)
    previous = monday - timedelta(weeks=1)
    return f"{monday:%b}" if column == 0 or monday.month != previous.month else ""


def _cell(
    column: int,
    row: int,
    day: date,
    label: str,
    found: list[DagRunInfo],
    runs: dict[datetime, RunSummary],
    others: list[RunSummary],
) -> CalendarCell:
    lines = [label]
    if not found:
        if not others:
            lines.append("no interval of the schedule")
            return CalendarCell(column, row, NO_INTERVAL, None, "\n".join(lines), day.isoformat())
        state = worst_state(r.state for r in others)
        lines += [f"{r.run_type} run {r.run_id}: {r.state}" for r in others]
        return CalendarCell(column, row, RUN, color(state), "\n".join(lines), day.isoformat())
    states: list[str | None] = []
    absent = 0
    for info in found:
        run = runs.get(info.logical_date)
        start, end = info.data_interval
        interval = f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"
        if run is None:
            absent += 1
            lines.append(f"{interval}: no run (missing)")
        else:
            states.append(run.state)
            lines.append(f"{interval}: {run.run_id} {run.state}")
    lines += [f"{r.run_type} run {r.run_id}: {r.state}" for r in others]
    if absent:
        return CalendarCell(column, row, MISSING, None, "\n".join(lines), day.isoformat())
    return CalendarCell(column, row, RUN, color(worst_state(states)), "\n".join(lines),
                        day.isoformat())  # fmt: skip
