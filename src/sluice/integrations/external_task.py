"""ExternalTaskSensor and ExternalTaskMarker: one DAG waiting for another, and clearing it.

The sensor reads the metadata database (the task run's store, in read-only transactions)
for the states of another DAG's run, tasks or task group at one or more logical dates.
The marker does nothing when it runs: clearing it (``sluice.actions.clearing``) also
clears the task it names in the other DAG.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sluice.core.errors import DagDefinitionError, SkipTask
from sluice.core.states import DagRunState, TaskInstanceState
from sluice.integrations.arguments import check_bool, check_callable
from sluice.integrations.errors import IntegrationError, NoMetadataDatabase
from sluice.integrations.runtime import current_store
from sluice.sdk.operator import Context, task_where
from sluice.sdk.operators.empty import EmptyOperator
from sluice.sdk.operators.python import context_kwargs
from sluice.sdk.sensors.base import BaseSensorOperator
from sluice.sdk.xcom_arg import XComArg

if TYPE_CHECKING:  # the store (and SQLAlchemy) is imported when the sensor pokes
    from sqlalchemy.orm import Session

log = logging.getLogger("sluice.task")

TASK_STATES: tuple[str, ...] = tuple(s.value for s in TaskInstanceState)
RUN_STATES: tuple[str, ...] = tuple(s.value for s in DagRunState)

Units = list[tuple[str | None, list[str | None]]]
"""What one logical date holds: per task waited for, its id and the states of its
instances; or one unit (no task id) holding the run's state when the sensor waits for a
whole DAG run."""


class ExternalTaskError(IntegrationError):
    """Raised when what an ExternalTaskSensor waits for failed, or does not exist."""


class ExternalTaskSensor(BaseSensorOperator):
    """Waits for a task, several tasks, a task group, or a whole run of another DAG.

    It looks at the other DAG's run whose logical date is this run's logical date, minus
    ``execution_delta``, or at each date ``execution_date_fn`` returns (all must be
    done). Done: every instance of every task waited for (each map index of a mapped
    task) is in ``allowed_states`` (default ``["success"]``); with no task and no group,
    the run's state is. Any instance (or run) in ``failed_states`` fails the sensor
    (skips it with ``soft_fail``); any in ``skipped_states`` skips it.
    """

    template_fields = (
        "external_dag_id",
        "external_task_id",
        "external_task_ids",
        "external_task_group_id",
    )
    ui_color = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str | None = None,
        external_task_ids: Collection[str] | None = None,
        external_task_group_id: str | None = None,
        allowed_states: Iterable[str] | None = None,
        skipped_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        execution_delta: timedelta | None = None,
        execution_date_fn: Callable[..., Any] | None = None,
        check_existence: bool = False,
        poll_interval: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.external_dag_id = _id(where, "external_dag_id", external_dag_id)
        self.external_task_id = _optional_id(where, "external_task_id", external_task_id)
        ids = _id_list(where, external_task_ids)
        if self.external_task_id is not None and ids is not None:
            raise DagDefinitionError(
                f"{where}: give external_task_id or external_task_ids, not both"
            )
        if self.external_task_id is not None:
            ids = [self.external_task_id]
        self.external_task_ids: list[str] | None = ids
        self.external_task_group_id = _optional_id(
            where, "external_task_group_id", external_task_group_id
        )
        if self.external_task_group_id is not None and ids is not None:
            raise DagDefinitionError(
                f"{where}: give external_task_group_id or external_task_id(s), not both"
            )
        valid = TASK_STATES if self.waits_for_tasks else RUN_STATES
        kind = "task instance" if self.waits_for_tasks else "DAG run (no task or group given)"
        self.allowed_states = state_list(where, "allowed_states", allowed_states, valid, kind)
        if not self.allowed_states:
            self.allowed_states = [TaskInstanceState.SUCCESS.value]
        self.skipped_states = state_list(where, "skipped_states", skipped_states, valid, kind)
        self.failed_states = state_list(where, "failed_states", failed_states, valid, kind)
        every = [*self.allowed_states, *self.skipped_states, *self.failed_states]
        if len(set(every)) != len(every):
            raise DagDefinitionError(
                f"{where}: a state appears more than once across allowed_states "
                f"{self.allowed_states}, skipped_states {self.skipped_states} and "
                f"failed_states {self.failed_states}"
            )
        if execution_delta is not None and not isinstance(execution_delta, timedelta):
            raise DagDefinitionError(
                f"{where}: execution_delta must be a timedelta, got {execution_delta!r}"
            )
        check_callable(where, "execution_date_fn", execution_date_fn)
        if execution_delta is not None and execution_date_fn is not None:
            raise DagDefinitionError(
                f"{where}: give execution_delta or execution_date_fn, not both"
            )
        self.execution_delta = execution_delta
        self.execution_date_fn = execution_date_fn
        self.check_existence = check_bool(where, "check_existence", check_existence)
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float):
            raise DagDefinitionError(
                f"{where}: poll_interval must be a number of seconds, got {poll_interval!r}"
            )
        # Airflow polls at this interval only when deferred; without a triggerer Sluice
        # pokes every poke_interval, as Airflow does when the sensor is not deferrable.
        self.poll_interval = float(poll_interval)
        self._has_checked_existence = False

    @property
    def waits_for_tasks(self) -> bool:
        """Whether the sensor waits for tasks or a group (else for a whole DAG run)."""
        return self.external_task_ids is not None or self.external_task_group_id is not None

    def poke(self, context: Context) -> bool:
        """Read the states once: fail, skip, or say whether everything is done."""
        if not isinstance(self.external_dag_id, str) or not self.external_dag_id:
            raise ExternalTaskError(
                f"{task_where(self)}: external_dag_id must be a non-empty string, got"
                f" {self.external_dag_id!r}"
            )
        dates = self.logical_dates(context)
        task_ids = self._rendered_task_ids()
        shown = ", ".join(d.isoformat() for d in dates) or "(no dates)"
        if self.external_task_group_id is not None:
            log.info(
                "Poking for task group '%s' in DAG '%s' on %s ...",
                self.external_task_group_id, self.external_dag_id, shown,
            )  # fmt: skip
        elif task_ids is not None:
            log.info(
                "Poking for tasks %s in DAG '%s' on %s ...", task_ids, self.external_dag_id, shown
            )
        else:
            log.info("Poking for DAG '%s' on %s ...", self.external_dag_id, shown)
        store = current_store()
        if store is None:
            raise NoMetadataDatabase(
                f"{task_where(self)}: ExternalTaskSensor reads the metadata database, and none"
                " is open; run it in a task that Sluice runs (or give `sluice dags test` a"
                " configured database)"
            )
        from sluice.store.engine import READ_ONLY

        with store.transaction() as session:
            session.connection(execution_options={READ_ONLY: True})
            if self.check_existence and not self._has_checked_existence:
                self._check_existence(session, task_ids)
            units = self._read_units(session, dates, task_ids)
        return self._judge(dates, units)

    def logical_dates(self, context: Context) -> list[datetime]:
        """The other DAG's logical dates to look at (aware), as Airflow computes them."""
        logical: datetime = context["logical_date"]
        if self.execution_delta is not None:
            return [logical - self.execution_delta]
        if self.execution_date_fn is None:
            return [logical]
        fn = self.execution_date_fn
        # As Airflow: the logical date first, then the context values the function
        # names, and "context" itself for functions written for Airflow 1.
        rest = {k: v for k, v in context.items() if k not in ("logical_date", "execution_date")}
        rest["context"] = context
        result = fn(logical, **context_kwargs(fn, rest, [logical], {}))
        dates = list(result) if isinstance(result, list | tuple) else [result]
        for value in dates:
            if not isinstance(value, datetime):
                raise ExternalTaskError(
                    f"{task_where(self)}: execution_date_fn must return a datetime or a list of"
                    f" datetimes, got {value!r}"
                )
            if value.tzinfo is None or value.utcoffset() is None:
                raise ExternalTaskError(
                    f"{task_where(self)}: execution_date_fn returned the naive datetime"
                    f" {value.isoformat()}; return timezone-aware datetimes (logical dates"
                    " are instants)"
                )
        return dates

    def _rendered_task_ids(self) -> list[str] | None:
        ids = self.external_task_ids
        if ids is None:
            return None
        # Templates (and XComArgs) are only known now: check them as the constructor does.
        try:
            checked = _id_list(task_where(self), ids)
        except DagDefinitionError as exc:
            raise ExternalTaskError(str(exc)) from None
        if not checked:
            raise ExternalTaskError(f"{task_where(self)}: external_task_ids is empty")
        return list(checked)

    def _check_existence(self, session: Session, task_ids: list[str] | None) -> None:
        from sluice.actions.common import load_stored_dag
        from sluice.core.errors import SluiceError
        from sluice.store.run_queries import get_dag

        where = task_where(self)
        try:
            row = get_dag(session, self.external_dag_id)
        except SluiceError as exc:
            raise ExternalTaskError(f"{where}: the external DAG does not exist: {exc}") from None
        if not row.is_active:
            raise ExternalTaskError(
                f"{where}: the external DAG '{self.external_dag_id}' was deleted (its file is"
                f" gone: {row.fileloc})"
            )
        if task_ids is not None or self.external_task_group_id is not None:
            try:
                dag = load_stored_dag(session, self.external_dag_id)
                for task_id in task_ids or ():
                    dag.get_task(task_id)
                if self.external_task_group_id is not None:
                    dag.get_group(self.external_task_group_id)
            except SluiceError as exc:  # DagNotFound, TaskNotFound, ParsingError
                raise ExternalTaskError(f"{where}: check_existence: {exc}") from None
        self._has_checked_existence = True

    def _group_task_ids(self, session: Session) -> list[str]:
        """The tasks of the external group, from the DAG's stored form; none when the DAG
        or the group is unknown (the sensor then waits, as Airflow's does)."""
        from sluice.actions.common import load_stored_dag
        from sluice.core.errors import SluiceError

        assert self.external_task_group_id is not None
        try:
            dag = load_stored_dag(session, self.external_dag_id)
            return list(dag.get_group(self.external_task_group_id).iter_task_ids())
        except SluiceError:
            return []

    def _read_units(
        self, session: Session, dates: Sequence[datetime], task_ids: list[str] | None
    ) -> dict[datetime, Units]:
        from sluice.store import external_states

        if self.external_task_group_id is not None:
            task_ids = self._group_task_ids(session)
        if task_ids is None:
            runs = external_states.run_states(session, self.external_dag_id, dates)
            return {when: [(None, [runs[when]] if when in runs else [])] for when in dates}
        found = external_states.instance_states(session, self.external_dag_id, task_ids, dates)
        return {
            when: [(task_id, found.get(when, {}).get(task_id, [])) for task_id in task_ids]
            for when in dates
        }

    def _judge(self, dates: Sequence[datetime], units: dict[datetime, Units]) -> bool:
        """Fail, skip, or whether every date is done (as Airflow: failed first)."""
        for states, react in ((self.failed_states, self._fail), (self.skipped_states, self._skip)):
            if not states:
                continue
            for when in dates:
                for task_id, found in units[when]:
                    hit = next((s for s in found if s in states), None)
                    if hit is not None:
                        react(f"{self._name(task_id)} is {hit} at logical date {when.isoformat()}")
        allowed = set(self.allowed_states)
        return all(
            units[when]
            and all(found and all(s in allowed for s in found) for _, found in units[when])
            for when in dates
        )

    def _name(self, task_id: str | None) -> str:
        if task_id is None:
            return f"the run of DAG '{self.external_dag_id}'"
        group = self.external_task_group_id
        of_group = f" (of group '{group}')" if group is not None else ""
        return f"task '{task_id}'{of_group} of DAG '{self.external_dag_id}'"

    def _fail(self, what: str) -> None:
        message = f"{task_where(self)}: {what}, one of failed_states {self.failed_states}"
        if self.soft_fail:
            raise SkipTask(f"{message}; skipping (soft_fail)")
        raise ExternalTaskError(message)

    def _skip(self, what: str) -> None:
        raise SkipTask(f"{task_where(self)}: {what}, one of skipped_states; skipping")


class ExternalTaskMarker(EmptyOperator):
    """Marks that a task of another DAG depends on this one: clearing this task (with
    its downstream, or as part of its run) also clears ``external_task_id`` and its
    downstream tasks in ``external_dag_id``'s run at ``logical_date``, and so on through
    the markers there, up to ``recursion_depth`` DAGs deep. Running it does nothing."""

    # recursion_depth is a template field so that the stored DAG, which keeps the
    # template fields' values, tells the clearing action how deep it may go.
    template_fields = ("external_dag_id", "external_task_id", "logical_date", "recursion_depth")
    ui_color = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str,
        logical_date: str | datetime = "{{ logical_date.isoformat() }}",
        recursion_depth: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.external_dag_id = _id(where, "external_dag_id", external_dag_id)
        self.external_task_id = _id(where, "external_task_id", external_task_id)
        if isinstance(logical_date, datetime):
            logical_date = logical_date.isoformat()
        if not isinstance(logical_date, str) or not logical_date.strip():
            raise DagDefinitionError(
                f"{where}: logical_date must be a datetime or text (an ISO date or a template),"
                f" got {logical_date!r}"
            )
        self.logical_date = logical_date
        if (
            isinstance(recursion_depth, bool)
            or not isinstance(recursion_depth, int)
            or recursion_depth <= 0
        ):
            raise DagDefinitionError(
                f"{where}: recursion_depth must be a positive integer, got {recursion_depth!r}"
            )
        self.recursion_depth = recursion_depth


def _id(where: str, name: str, value: Any) -> Any:
    if isinstance(value, XComArg):
        return value  # another task's output: checked once rendered
    if not isinstance(value, str) or not value:
        raise DagDefinitionError(f"{where}: {name} must be a non-empty string, got {value!r}")
    return value


def _optional_id(where: str, name: str, value: Any) -> Any:
    return None if value is None else _id(where, name, value)


def _id_list(where: str, value: Any) -> Any:
    """Task ids as a list (None for None or empty, as Airflow); duplicates refused."""
    if value is None or isinstance(value, XComArg):
        return value
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise DagDefinitionError(
            f"{where}: external_task_ids must be a list of task ids, got {value!r}"
        )
    ids = [_id(where, "each of external_task_ids", item) for item in value]
    if len(set(ids)) != len(ids):
        raise DagDefinitionError(f"{where}: external_task_ids holds a task id twice: {ids}")
    return ids or None


def state_list(
    where: str, name: str, value: object, valid: tuple[str, ...], kind: str
) -> list[str]:
    """A list-of-states argument, checked against ``valid`` (``kind`` names them in the
    error: "task" or "DAG run"); None is an empty list."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise DagDefinitionError(f"{where}: {name} must be a list of states, got {value!r}")
    states = [str.__str__(s) if isinstance(s, str) else s for s in value]
    bad = [s for s in states if s not in valid]
    if bad:
        raise DagDefinitionError(
            f"{where}: {name} holds {', '.join(map(repr, bad))}, not a {kind} state; the"
            f" valid ones are {', '.join(valid)}"
        )
    return states


__all__ = ["ExternalTaskError", "ExternalTaskMarker", "ExternalTaskSensor"]
