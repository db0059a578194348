"""The checks a DAG passes after its file imported: settings applied, validation, unique ids."""

from __future__ import annotations

from datetime import UTC, tzinfo

from sluice.sdk.dag import DAG


def finalize_dag(
    dag: DAG,
    *,
    cron_data_intervals: bool,
    catchup_by_default: bool,
    default_timezone: tzinfo = UTC,
) -> None:
    """Apply the deployment's settings to a freshly imported DAG, then validate it.

    Naive dates are read in ``default_timezone`` ([core] default_timezone), which also
    becomes the timezone of a DAG whose start_date is naive or missing, as in Airflow. The
    timetable is re-resolved because that timezone, and how a cron string is read (data
    intervals or trigger times), are deployment settings the DAG file cannot know. Raises
    DagDefinitionError (missing start_date, bad param defaults, a cycle, a bad schedule).
    """
    dag.apply_default_timezone(default_timezone)
    dag.timetable = dag.make_timetable(cron_data_intervals=cron_data_intervals)
    if not dag.catchup_given:
        dag.catchup = catchup_by_default
    # Linear in tasks and edges, and iterative: a 10,000-task chain does not recurse.
    dag.validate()


class DagIdOwners:
    """Which file defined each dag_id first, so that a second definition is reported."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[str, str]] = {}

    def claim(self, dag_id: str, file: str, label: str) -> str | None:
        """Record that ``file`` (shown as ``label``) defines ``dag_id``; the error if one did."""
        first_file, first_label = self._first.setdefault(dag_id, (file, label))
        if first_file == file:
            return None
        return f"DAG '{dag_id}' is defined in both {first_label} and {label}"
