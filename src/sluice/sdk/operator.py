"""BaseOperator: the arguments every task shares, default_args, and dependencies."""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from sluice.core.errors import DagDefinitionError
from sluice.sdk import definition_context
from sluice.sdk.abstract_operator import (
    AbstractOperator,
    Callback,
    Context,
    Task,
    collect_default_args,
)
from sluice.sdk.mapping import OperatorPartial
from sluice.sdk.params import ParamsDict
from sluice.sdk.trigger_rules import TriggerRule, parse_trigger_rule
from sluice.sdk.xcom_arg import XComArg, find_xcom_args

if TYPE_CHECKING:
    from sluice.sdk.dag import DAG
    from sluice.sdk.taskgroup import TaskGroup

WEIGHT_RULES = ("downstream", "upstream", "absolute")
DEFAULT_RETRY_DELAY = timedelta(seconds=300)
MAX_RETRY_DELAY_SECONDS = 24 * 60 * 60
"""The longest exponential backoff, as Airflow's default ``core.max_task_retry_delay``."""


def next_retry_delay(
    retry_delay: timedelta,
    *,
    backoff: bool,
    max_retry_delay: timedelta | None,
    try_number: int,
    ti_identity: str,
) -> timedelta:
    """Wait before the next try after try ``try_number`` failed, as Airflow computes it.

    With exponential ``backoff`` the delay is at least ``retry_delay * 2**(try-1)`` and
    below twice that, the jitter drawn deterministically from the task instance's
    identity (Airflow hashes ``dag_id#task_id#logical_date#try``); it is capped by
    ``max_retry_delay`` and, as Airflow's ``core.max_task_retry_delay``, by 24 hours.
    """
    if not backoff:
        return retry_delay
    try:
        min_backoff = math.ceil(retry_delay.total_seconds() * (2 ** (try_number - 1)))
    except OverflowError:
        min_backoff = MAX_RETRY_DELAY_SECONDS
    min_backoff = max(1, min_backoff)
    digest = hashlib.sha1(f"{ti_identity}#{try_number}".encode()).hexdigest()
    seconds = min_backoff + int(digest, 16) % min_backoff
    delay = timedelta(seconds=min(seconds, MAX_RETRY_DELAY_SECONDS))
    if max_retry_delay:
        delay = min(max_retry_delay, delay)
    return delay


class BaseOperator(AbstractOperator):
    """The base of every operator; subclasses implement ``execute(context)``."""

    template_fields: Sequence[str] = ()
    template_ext: Sequence[str] = ()
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    ui_color: str = "#fff"
    ui_fgcolor: str = "#000"
    # Names of __init__ parameters across the class hierarchy, filled per subclass.
    _init_params: ClassVar[frozenset[str]] = frozenset()
    # Arguments the class's own __init__ requires (checked before it runs, for a clear error).
    _required_params: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: set[str] = set()
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None or klass is object:
                continue
            for name, param in inspect.signature(init).parameters.items():
                if param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
                    names.add(name)
        names.discard("self")
        cls._init_params = frozenset(names)
        own = inspect.signature(cls.__init__).parameters.values()
        cls._required_params = tuple(
            p.name
            for p in own
            if p.name != "self"
            and p.default is p.empty
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
        # Wrap even an inherited __init__: the flag in the wrapper keeps it to one pass.
        cls.__init__ = _apply_default_args(cls.__init__)  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        task_id: str,
        owner: str = "sluice",
        email: str | Sequence[str] | None = None,
        email_on_failure: bool = True,
        email_on_retry: bool = True,
        retries: int | None = 0,
        retry_delay: timedelta | float = DEFAULT_RETRY_DELAY,
        retry_exponential_backoff: bool = False,
        max_retry_delay: timedelta | float | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        depends_on_past: bool = False,
        wait_for_downstream: bool = False,
        dag: DAG | None = None,
        params: dict[str, Any] | None = None,
        default_args: dict[str, Any] | None = None,
        priority_weight: int = 1,
        weight_rule: str = "downstream",
        queue: str = "default",
        pool: str | None = None,
        pool_slots: int = 1,
        execution_timeout: timedelta | float | None = None,
        on_execute_callback: Callback | list[Callback] | None = None,
        on_failure_callback: Callback | list[Callback] | None = None,
        on_success_callback: Callback | list[Callback] | None = None,
        on_retry_callback: Callback | list[Callback] | None = None,
        trigger_rule: str = TriggerRule.ALL_SUCCESS,
        max_active_tis_per_dag: int | None = None,
        do_xcom_push: bool = True,
        multiple_outputs: bool = False,
        doc_md: str | None = None,
        doc: str | None = None,
        task_group: TaskGroup | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            names = ", ".join(sorted(kwargs))
            raise DagDefinitionError(
                f"invalid arguments were passed to {type(self).__name__} "
                f"(task_id: {task_id}): {names}"
            )
        self.owner = owner
        self.email = email
        self.email_on_failure = email_on_failure
        self.email_on_retry = email_on_retry
        self.start_date = start_date
        self.end_date = end_date
        self.depends_on_past = depends_on_past or wait_for_downstream
        self.wait_for_downstream = wait_for_downstream
        self.priority_weight = priority_weight
        self.queue = queue
        self.pool = pool or "default_pool"
        self.do_xcom_push = do_xcom_push
        self.multiple_outputs = multiple_outputs
        self.doc_md = doc_md
        self.doc = doc
        self.max_active_tis_per_dag = max_active_tis_per_dag
        self.on_execute_callback = on_execute_callback
        self.on_failure_callback = on_failure_callback
        self.on_success_callback = on_success_callback
        self.on_retry_callback = on_retry_callback
        self.params = ParamsDict(params)
        self._attach(task_id, dag, task_group)
        where = task_where(self)
        self.trigger_rule = _checked(
            where, "trigger_rule", lambda: parse_trigger_rule(trigger_rule)
        )
        self.retries = _checked(where, "retries", lambda: _non_negative_int(retries or 0))
        self.retry_delay = _checked(where, "retry_delay", lambda: _as_timedelta(retry_delay))
        self.retry_exponential_backoff = retry_exponential_backoff
        self.max_retry_delay = _checked(
            where, "max_retry_delay", lambda: _optional_timedelta(max_retry_delay)
        )
        self.execution_timeout = _checked(
            where, "execution_timeout", lambda: _optional_timedelta(execution_timeout)
        )
        if weight_rule not in WEIGHT_RULES:
            raise DagDefinitionError(
                f"{where}: weight_rule '{weight_rule}' is not one of {', '.join(WEIGHT_RULES)}"
            )
        self.weight_rule = weight_rule
        if not isinstance(pool_slots, int) or pool_slots < 1:
            raise DagDefinitionError(
                f"{where}: pool_slots must be an integer >= 1, got {pool_slots!r}"
            )
        self.pool_slots = pool_slots
        if not isinstance(priority_weight, int):
            raise DagDefinitionError(
                f"{where}: priority_weight must be an integer, got {priority_weight!r}"
            )

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:
        """Fix some arguments; ``.expand(...)`` then maps over the others."""
        return OperatorPartial(cls, kwargs)

    def execute(self, context: Context) -> Any:
        """Do the task's work; the return value goes to XCom as ``return_value``."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute()")

    def pre_execute(self, context: Context) -> None:
        """Called right before ``execute``."""

    def post_execute(self, context: Context, result: Any = None) -> None:
        """Called right after ``execute`` succeeded."""

    def on_kill(self) -> None:
        """Called when the task is killed (timeout); release external resources here."""

    @property
    def output(self) -> XComArg:
        """This task's return value, to pass to another task."""
        return XComArg(self)

    def retry_delay_after(self, try_number: int, ti_identity: str) -> timedelta:
        """Wait before the next try after try ``try_number`` failed (``next_retry_delay``)."""
        return next_retry_delay(
            self.retry_delay,
            backoff=self.retry_exponential_backoff,
            max_retry_delay=self.max_retry_delay,
            try_number=try_number,
            ti_identity=ti_identity,
        )

    def iter_xcom_dependencies(self) -> Iterator[XComArg]:
        """XComArgs anywhere in the template fields."""
        for name in self.template_fields:
            yield from find_xcom_args(getattr(self, name, None))

    def _finish_init(self) -> None:
        """Wire XComArg arguments as dependencies, once the outermost __init__ is done."""
        if definition_context.is_detached():
            # One map index of a mapped task, built at run time: the mapped task
            # already has these dependencies, and this copy must not join the DAG.
            return
        for arg in self.iter_xcom_dependencies():
            if arg.operator is not self:
                self.set_upstream(arg.operator)


def task_where(task: AbstractOperator) -> str:
    """``task 'id' of DAG 'dag'``: how error messages name a task."""
    dag = getattr(task, "dag", None)
    return f"task '{task.task_id}'" + (f" of DAG '{dag.dag_id}'" if dag is not None else "")


def _apply_default_args(init: Callable[..., None]) -> Callable[..., None]:
    """Fill arguments not passed explicitly from the DAG's and groups' default_args."""

    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if args:
            raise DagDefinitionError(
                f"{type(self).__name__} takes keyword arguments only (got {len(args)} positional)"
            )
        outermost = not self.__dict__.get("_initialising", False)
        if outermost:
            self.__dict__["_initialising"] = True
            defaults = collect_default_args(kwargs)
            for name, value in defaults.items():
                if name in type(self)._init_params and name not in kwargs:
                    kwargs[name] = value
            if (
                "params" in defaults
                and "params" in kwargs
                and kwargs["params"] is not defaults["params"]
            ):
                kwargs["params"] = {**defaults["params"], **(kwargs["params"] or {})}
            kwargs.pop("default_args", None)
            _check_required(type(self), kwargs)
        try:
            init(self, **kwargs)
        finally:
            if outermost:
                self.__dict__["_initialising"] = False
        if outermost:
            self._finish_init()

    return wrapper


def _check_required(cls: type[BaseOperator], kwargs: dict[str, Any]) -> None:
    """A missing required argument is a DagDefinitionError naming the task (and typos)."""
    missing = [name for name in ("task_id", *cls._required_params) if name not in kwargs]
    if not missing:
        return
    unknown = sorted(set(kwargs) - cls._init_params)
    text = ", ".join(repr(m) for m in dict.fromkeys(missing))
    message = (
        f"{cls.__name__} (task_id: {kwargs.get('task_id', '?')}) is missing the required "
        f"argument(s) {text}"
    )
    if unknown:
        message += f"; invalid arguments were passed: {', '.join(unknown)}"
    raise DagDefinitionError(message)


def _checked(where: str, name: str, convert: Callable[[], Any]) -> Any:
    try:
        return convert()
    except (TypeError, ValueError, DagDefinitionError) as exc:
        raise DagDefinitionError(f"{where}: invalid {name}: {exc}") from None


def _non_negative_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, got {value!r}")
    number = int(value)
    if number < 0:
        raise ValueError(f"must be >= 0, got {number}")
    return number


def _as_timedelta(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise TypeError(f"expected a timedelta or seconds, got {value!r}")


def _optional_timedelta(value: object) -> timedelta | None:
    return None if value is None else _as_timedelta(value)


__all__ = ["AbstractOperator", "BaseOperator", "Callback", "Context", "Task", "task_where"]
