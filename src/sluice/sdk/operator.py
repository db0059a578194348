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
from sluice.sdk.dependencies import DependencyMixin, as_list
from sluice.sdk.ids import validate_key
from sluice.sdk.params import ParamsDict
from sluice.sdk.trigger_rules import TriggerRule, parse_trigger_rule

if TYPE_CHECKING:
    from sluice.sdk.dag import DAG
    from sluice.sdk.mapping import OperatorPartial
    from sluice.sdk.taskgroup import TaskGroup
    from sluice.sdk.xcom_arg import XComArg

Context = dict[str, Any]
Callback = Callable[[Context], Any]

WEIGHT_RULES = ("downstream", "upstream", "absolute")
DEFAULT_RETRY_DELAY = timedelta(seconds=300)
MAX_RETRY_DELAY_SECONDS = 24 * 60 * 60
"""The longest exponential backoff, as Airflow's default ``core.max_task_retry_delay``."""


class AbstractOperator(DependencyMixin):
    """What plain and mapped tasks share: identity, place in the DAG, dependencies."""

    task_id: str
    dag: DAG | None
    task_group: TaskGroup | None
    trigger_rule: TriggerRule
    upstream_task_ids: set[str]
    downstream_task_ids: set[str]
    is_mapped: ClassVar[bool] = False

    @property
    def max_tries(self) -> int:
        """How many tries in total: the first one plus the retries."""
        return int(getattr(self, "retries", 0) or 0) + 1

    def _attach(self, task_id: str, dag: DAG | None, task_group: TaskGroup | None) -> None:
        """Give the task its full id and register it with its DAG and group."""
        self.upstream_task_ids = set()
        self.downstream_task_ids = set()
        dag = dag or (task_group.dag if task_group else None) or definition_context.current_dag()
        if task_group is None and dag is not None:
            task_group = definition_context.current_group(dag) or dag.task_group
        where = f"DAG '{dag.dag_id}'" if dag else "a DAG"
        validate_key(task_id, f"task id in {where}")
        self.task_id = task_group.child_id(task_id) if task_group else task_id
        self.task_group = task_group
        self.dag = None
        if dag is not None:
            dag.add_task(self)
            if task_group is not None:
                task_group.add(self)

    @property
    def dag_id(self) -> str | None:
        """The id of the DAG this task is in."""
        return self.dag.dag_id if self.dag else None

    @property
    def label(self) -> str:
        """The id without its TaskGroup prefix."""
        group = self.task_group
        if group is not None and group.group_id and group.prefix_group_id:
            return self.task_id[len(group.group_id) + 1 :]
        return self.task_id

    @property
    def upstream_list(self) -> list[AbstractOperator]:
        """Direct upstream tasks."""
        dag = self._require_dag()
        return [dag.task_dict[t] for t in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[AbstractOperator]:
        """Direct downstream tasks."""
        dag = self._require_dag()
        return [dag.task_dict[t] for t in sorted(self.downstream_task_ids)]

    def get_flat_relative_ids(self, *, upstream: bool = False) -> set[str]:
        """Every task id reachable downstream (or upstream) of this one."""
        dag = self._require_dag()
        seen: set[str] = set()
        todo = list(self.upstream_task_ids if upstream else self.downstream_task_ids)
        while todo:
            tid = todo.pop()
            if tid in seen:
                continue
            seen.add(tid)
            task = dag.task_dict[tid]
            todo.extend(task.upstream_task_ids if upstream else task.downstream_task_ids)
        return seen

    def _require_dag(self) -> DAG:
        if self.dag is None:
            raise DagDefinitionError(f"task '{self.task_id}' is not in a DAG")
        return self.dag

    def set_upstream(self, other: DependencyMixin | Sequence[DependencyMixin]) -> None:
        """Make ``other`` run before this task."""
        for item in as_list(other):
            if isinstance(item, AbstractOperator):
                self._link(item, self)
            else:
                item.set_downstream(self)

    def set_downstream(self, other: DependencyMixin | Sequence[DependencyMixin]) -> None:
        """Make ``other`` run after this task."""
        for item in as_list(other):
            if isinstance(item, AbstractOperator):
                self._link(self, item)
            else:
                item.set_upstream(self)

    @staticmethod
    def _link(up: AbstractOperator, down: AbstractOperator) -> None:
        if up is down:
            raise DagDefinitionError(f"task '{up.task_id}' cannot depend on itself")
        dag = up.dag or down.dag
        if dag is None:
            raise DagDefinitionError(
                f"cannot link '{up.task_id}' and '{down.task_id}': neither is in a DAG"
            )
        for task in (up, down):
            if task.dag is None:
                dag.add_task(task)
            elif task.dag is not dag:
                raise DagDefinitionError(
                    f"tasks '{up.task_id}' and '{down.task_id}' are in different DAGs "
                    f"('{up.dag.dag_id if up.dag else None}' and "
                    f"'{down.dag.dag_id if down.dag else None}')"
                )
        up.downstream_task_ids.add(down.task_id)
        down.upstream_task_ids.add(up.task_id)

    def iter_xcom_dependencies(self) -> Iterator[XComArg]:
        """XComArgs in the arguments, each making its task an upstream of this one."""
        return iter(())

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {getattr(self, 'task_id', '?')}>"


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
        where = f"task '{self.task_id}'" + (f" of DAG '{self.dag.dag_id}'" if self.dag else "")
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
        from sluice.sdk.mapping import OperatorPartial

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
        from sluice.sdk.xcom_arg import XComArg

        return XComArg(self)

    def retry_delay_after(self, try_number: int, ti_identity: str) -> timedelta:
        """Wait before the next try after try ``try_number`` failed, as Airflow computes it.

        With exponential backoff the delay is at least ``retry_delay * 2**(try-1)`` and
        below twice that, the jitter drawn deterministically from the task instance's
        identity (Airflow hashes ``dag_id#task_id#logical_date#try``); it is capped by
        ``max_retry_delay`` and, as Airflow's ``core.max_task_retry_delay``, by 24 hours.
        """
        delay: timedelta = self.retry_delay
        if self.retry_exponential_backoff:
            try:
                min_backoff = math.ceil(delay.total_seconds() * (2 ** (try_number - 1)))
            except OverflowError:
                min_backoff = MAX_RETRY_DELAY_SECONDS
            min_backoff = max(1, min_backoff)
            digest = hashlib.sha1(f"{ti_identity}#{try_number}".encode()).hexdigest()
            seconds = min_backoff + int(digest, 16) % min_backoff
            delay = timedelta(seconds=min(seconds, MAX_RETRY_DELAY_SECONDS))
            if self.max_retry_delay:
                delay = min(self.max_retry_delay, delay)
        return delay

    def iter_xcom_dependencies(self) -> Iterator[XComArg]:
        """XComArgs anywhere in the template fields."""
        from sluice.sdk.xcom_arg import find_xcom_args

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
            defaults = _collect_default_args(kwargs)
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


def _collect_default_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    dag = kwargs.get("dag")
    group = kwargs.get("task_group")
    dag = dag or (group.dag if group else None) or definition_context.current_dag()
    merged: dict[str, Any] = {}
    if dag is not None:
        merged.update(dag.default_args)
        group = group or definition_context.current_group(dag)
    chain: list[TaskGroup] = []
    while group is not None:
        chain.append(group)
        group = group.parent_group
    for g in reversed(chain):
        merged.update(g.default_args)
    merged.update(kwargs.get("default_args") or {})
    if dag is not None and dag.params:
        merged["params"] = {**dag.params.as_plain(), **merged.get("params", {})}
    return merged


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


Task = AbstractOperator
"""Anything that is a node of a DAG: a BaseOperator or a mapped task."""
