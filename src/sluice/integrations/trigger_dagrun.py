"""TriggerDagRunOperator: start a run of another DAG, and optionally wait for its end.

The run is made by ``sluice.actions.runs.trigger_run``, the function behind the UI's,
the API's and the CLI's trigger: the same checks (the DAG's params, the run id's
characters, a clash with an existing run) and the same audit row, whose actor is the
triggering task.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sluice.core.errors import DagDefinitionError, SkipTask
from sluice.core.states import DagRunState
from sluice.integrations.arguments import check_bool
from sluice.integrations.errors import IntegrationError, NoMetadataDatabase
from sluice.integrations.external_task import state_list
from sluice.integrations.runtime import current_store
from sluice.sdk.operator import BaseOperator, Context, task_where
from sluice.sdk.params import DagParam
from sluice.sdk.sensors.base import seconds_argument
from sluice.sdk.sensors.time import check_moment, dag_timezone, to_moment
from sluice.sdk.xcom_arg import XComArg

if TYPE_CHECKING:  # the store and the actions (and SQLAlchemy) load when the task runs
    from sqlalchemy.orm import Session

    from sluice.actions.common import Actor
    from sluice.store.engine import Store
    from sluice.store.tables import DagRun

log = logging.getLogger("sluice.task")

XCOM_RUN_ID = "trigger_run_id"
XCOM_DAG_ID = "trigger_dag_id"
XCOM_LOGICAL_DATE_ISO = "trigger_logical_date_iso"
"""The XCom keys the task pushes, as Airflow's TriggerDagRunOperator."""

RUN_STATES: tuple[str, ...] = tuple(s.value for s in DagRunState)
AUDIT_VIA = "task"
"""The audit rows of runs a task triggers read ``task_dags_trigger``."""


class TriggerDagRunError(IntegrationError):
    """Raised when a TriggerDagRunOperator cannot start its run, or the run failed."""


class TriggerDagRunOperator(BaseOperator):
    """Triggers a run of ``trigger_dag_id`` with ``conf``, at ``logical_date`` (default:
    now), named ``trigger_run_id`` (default: ``manual__<logical date>``).

    A run that already exists (same run id or logical date) fails the task, unless
    ``reset_dag_run`` (clear that run so that it runs again) or
    ``skip_when_already_exists`` (skip the task). With ``wait_for_completion`` the task
    checks the run's state every ``poke_interval`` seconds until it is in
    ``allowed_states`` (success) or ``failed_states`` (fail).
    """

    template_fields = ("trigger_dag_id", "trigger_run_id", "logical_date", "conf")
    template_fields_renderers = {"conf": "py"}
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        logical_date: str | datetime | None = None,
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: float | timedelta = 60,
        allowed_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        skip_when_already_exists: bool = False,
        fail_when_dag_is_paused: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        if not _deferred(trigger_dag_id) and (
            not isinstance(trigger_dag_id, str) or not trigger_dag_id
        ):
            raise DagDefinitionError(
                f"{where}: trigger_dag_id must be a non-empty string, got {trigger_dag_id!r}"
            )
        self.trigger_dag_id = trigger_dag_id
        if trigger_run_id is not None and not (
            _deferred(trigger_run_id) or (isinstance(trigger_run_id, str) and trigger_run_id)
        ):
            raise DagDefinitionError(
                f"{where}: trigger_run_id must be a non-empty string, got {trigger_run_id!r}"
            )
        self.trigger_run_id = trigger_run_id
        if conf is not None and not (_deferred(conf) or isinstance(conf, dict)):
            raise DagDefinitionError(
                f"{where}: conf must be a dict (the triggered run's conf), got {conf!r}"
            )
        self.conf = conf
        if logical_date is not None:
            deferred = _deferred(logical_date)
            check_moment(where, "logical_date", logical_date, deferred=deferred)
        self.logical_date = logical_date
        self.reset_dag_run = check_bool(where, "reset_dag_run", reset_dag_run)
        self.wait_for_completion = check_bool(where, "wait_for_completion", wait_for_completion)
        self.skip_when_already_exists = check_bool(
            where, "skip_when_already_exists", skip_when_already_exists
        )
        self.fail_when_dag_is_paused = check_bool(
            where, "fail_when_dag_is_paused", fail_when_dag_is_paused
        )
        self.poke_interval = seconds_argument(where, "poke_interval", poke_interval)
        # As Airflow: no allowed states means success; failed_states=[] means none.
        self.allowed_states = _run_states(where, "allowed_states", allowed_states) or ["success"]
        self.failed_states = (
            ["failed"]
            if failed_states is None
            else _run_states(where, "failed_states", failed_states)
        )
        overlap = sorted(set(self.allowed_states) & set(self.failed_states))
        if overlap:
            raise DagDefinitionError(
                f"{where}: {', '.join(overlap)} is both in allowed_states and in failed_states"
            )

    def execute(self, context: Context) -> None:
        """Trigger the run (or find the one there, to reset or skip), push its ids to
        XCom, and wait for it if asked."""
        dag_id = self._checked_dag_id()
        when = self._moment()
        conf = self._checked_conf()
        store = current_store()
        if store is None:
            raise NoMetadataDatabase(
                f"{task_where(self)}: TriggerDagRunOperator writes to the metadata database, and"
                " none is open; run it in a task that Sluice runs"
            )
        with store.transaction() as session:
            run = self._start_run(session, dag_id, when, conf)
            run_id, logical_date = run.run_id, run.logical_date
        log.info("Triggered DAG '%s': run '%s' at %s", dag_id, run_id, logical_date.isoformat())
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(XCOM_RUN_ID, run_id)
            ti.xcom_push(XCOM_DAG_ID, dag_id)
            ti.xcom_push(XCOM_LOGICAL_DATE_ISO, logical_date.isoformat())
        if self.wait_for_completion:
            self._wait(store, dag_id, run_id)

    def _start_run(
        self, session: Session, dag_id: str, when: datetime, conf: dict[str, Any] | None
    ) -> DagRun:
        from sluice.actions.clearing import apply_clear, plan_clear
        from sluice.actions.common import ActionRefused
        from sluice.actions.runs import trigger_run
        from sluice.core.errors import DagNotFound, ParamValidationError
        from sluice.store.run_queries import find_clash, get_dag

        where = task_where(self)
        try:
            dag_row = get_dag(session, dag_id)
        except DagNotFound as exc:
            raise TriggerDagRunError(f"{where}: cannot trigger: {exc}") from None
        if self.fail_when_dag_is_paused and dag_row.is_paused:
            raise TriggerDagRunError(f"{where}: DAG '{dag_id}' is paused")
        # An empty run id matches no run: without trigger_run_id only the date can clash.
        clash = find_clash(session, dag_id, self.trigger_run_id or "", when)
        actor = self._actor()
        if clash is None:
            try:
                return trigger_run(
                    session, actor, dag_id, conf=conf, logical_date=when,
                    run_id=self.trigger_run_id,
                )  # fmt: skip
            except (ActionRefused, ParamValidationError) as exc:
                raise TriggerDagRunError(f"{where}: cannot trigger DAG '{dag_id}': {exc}") from None
        same = "run id" if clash.run_id == self.trigger_run_id else "logical date"
        exists = (
            f"DAG '{dag_id}' already has a run with this {same}: '{clash.run_id}'"
            f" at {clash.logical_date.isoformat()} ({clash.state})"
        )
        if self.reset_dag_run:
            # As Airflow: the run is cleared and runs again, its conf unchanged.
            log.info("%s; clearing it (reset_dag_run)", exists)
            apply_clear(session, actor, plan_clear(session, dag_id, run_id=clash.run_id))
            return clash
        if self.skip_when_already_exists:
            raise SkipTask(f"{exists}; skipping (skip_when_already_exists)")
        raise TriggerDagRunError(
            f"{where}: {exists}; set reset_dag_run=True to run it again, or"
            " skip_when_already_exists=True to skip"
        )

    def _wait(self, store: Store, dag_id: str, run_id: str) -> None:
        """Check the run's state every poke_interval until it ends one way or the other."""
        from sluice.store.engine import READ_ONLY
        from sluice.store.external_states import run_state

        while True:
            log.info(
                "Waiting for DAG '%s' run '%s' to reach one of %s ...",
                dag_id, run_id, self.allowed_states,
            )  # fmt: skip
            time.sleep(self.poke_interval)
            with store.transaction() as session:
                session.connection(execution_options={READ_ONLY: True})
                state = run_state(session, dag_id, run_id)
            if state is None:
                raise TriggerDagRunError(
                    f"{task_where(self)}: run '{run_id}' of DAG '{dag_id}' was deleted while"
                    " the task waited for it"
                )
            if state in self.failed_states:
                raise TriggerDagRunError(
                    f"{task_where(self)}: run '{run_id}' of DAG '{dag_id}' ended {state}, one"
                    f" of failed_states {self.failed_states}"
                )
            if state in self.allowed_states:
                log.info("DAG '%s' run '%s' finished %s", dag_id, run_id, state)
                return

    def _actor(self) -> Actor:
        from sluice.actions.common import Actor

        # Who triggered, in the audit log: this task (the owner column holds 500).
        return Actor(f"{self.dag_id}.{self.task_id}"[:500], AUDIT_VIA)

    def _checked_dag_id(self) -> str:
        value = self.trigger_dag_id
        if not isinstance(value, str) or not value.strip():
            raise TriggerDagRunError(
                f"{task_where(self)}: trigger_dag_id rendered as {value!r}, not a DAG id"
            )
        return value.strip()

    def _moment(self) -> datetime:
        """The triggered run's logical date: the rendered value, or now."""
        if self.logical_date is None or self.logical_date == "":
            return datetime.now(UTC)
        try:
            return to_moment(self.logical_date, dag_timezone(self), "logical_date")
        except ValueError as exc:
            raise TriggerDagRunError(f"{task_where(self)}: {exc}") from None

    def _checked_conf(self) -> dict[str, Any] | None:
        conf = self.conf
        if conf is None:
            return None
        if not isinstance(conf, Mapping):
            raise TriggerDagRunError(
                f"{task_where(self)}: conf must be a dict, got {type(conf).__name__} {conf!r:.200}"
            )
        try:
            # The run's conf is stored as JSON: refuse what JSON cannot hold, as Airflow.
            json.dumps(conf, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TriggerDagRunError(
                f"{task_where(self)}: conf must be JSON-serializable: {exc}"
            ) from None
        return dict(conf)


def _deferred(value: object) -> bool:
    """Whether an argument is only known at run time (another task's output, a param)."""
    return isinstance(value, XComArg | DagParam)


def _run_states(where: str, name: str, value: object) -> list[str]:
    return state_list(where, name, value, RUN_STATES, "DAG run")


__all__ = ["TriggerDagRunError", "TriggerDagRunOperator"]
