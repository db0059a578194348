from __future__ import annotations

import itertools
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pendulum
import pytest

from sluice import DAG, Param, TaskGroup, dag, task
from sluice.core.errors import (
    CycleError,
    DagDefinitionError,
    DuplicateTaskIdError,
    TaskNotFound,
)
from sluice.operators import BashOperator, EmptyOperator, PythonOperator
from sluice.sdk import definition_context
from sluice.sdk.trigger_rules import TriggerRule

START = datetime(2024, 1, 1, tzinfo=UTC)


# -- three ways to attach tasks -------------------------------------------------------


def test_with_block_attaches_tasks() -> None:
    with DAG("d", schedule=None, start_date=START) as d:
        a = EmptyOperator(task_id="a")
    assert a.dag is d
    assert d.task_ids == ["a"]
    assert d.get_task("a") is a


def test_dag_argument_attaches_tasks() -> None:
    d = DAG("d", schedule=None, start_date=START)
    a = EmptyOperator(task_id="a", dag=d)
    assert a.dag is d and d.has_task("a")


def test_task_outside_any_dag_has_none() -> None:
    a = EmptyOperator(task_id="a")
    assert a.dag is None and a.dag_id is None


def test_with_block_restores_context_after_exception() -> None:
    with pytest.raises(RuntimeError), DAG("d", schedule=None):
        raise RuntimeError("boom")
    assert definition_context.current_dag() is None


def test_dag_decorator_builds_dag_with_params_from_arguments() -> None:
    @dag(schedule=None, start_date=START, params={"extra": 1})
    def my_pipeline(greeting: str = "hello", times: int = 2) -> None:
        """The docs."""

        @task
        def hello(greeting: str) -> str:
            return greeting

        hello(greeting)

    built = my_pipeline()
    assert built.dag_id == "my_pipeline"
    assert dict(built.params) == {"extra": 1, "greeting": "hello", "times": 2}
    assert built.doc_md == "The docs."
    assert built.task_ids == ["hello"]
    assert built.fileloc == __file__


def test_dag_decorator_call_arguments_override_defaults() -> None:
    @dag(dag_id="named", schedule=None)
    def pipeline(n: int = 1) -> None:
        EmptyOperator(task_id="t")

    built = pipeline(n=5)
    assert built.dag_id == "named"
    assert built.params["n"] == 5


def test_dag_decorator_without_parentheses() -> None:
    @dag
    def bare() -> None:
        EmptyOperator(task_id="t")

    assert bare().dag_id == "bare"


def test_dag_decorator_param_value_reaches_task(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    seen = []

    @dag(schedule=None, start_date=START)
    def pipeline(n: int = 3) -> None:
        @task
        def show(value: int) -> None:
            seen.append(value)

        show(n)

    result = run_dag(pipeline(), conf={"n": 7})
    assert result.state == "success"
    assert seen == [7]


# -- schedule / schedule_interval --------------------------------------------------------


def test_schedule_interval_is_deprecated_but_works() -> None:
    with pytest.warns(DeprecationWarning, match="schedule_interval is deprecated"):
        d = DAG("d", schedule_interval="@daily", start_date=START)
    assert d.schedule == "@daily"


def test_schedule_interval_warning_points_at_the_callers_line() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        DAG("d", schedule_interval="@daily", start_date=START)
    line = sys._getframe().f_lineno - 1
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)


def test_schedule_interval_warning_of_at_dag_points_at_the_callers_line() -> None:
    @dag(schedule_interval="@daily", start_date=START)
    def pipeline() -> None:
        EmptyOperator(task_id="t")

    with pytest.warns(DeprecationWarning) as caught:
        pipeline()
    line = sys._getframe().f_lineno - 1
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)


def test_schedule_and_schedule_interval_together_is_an_error() -> None:
    with pytest.raises(DagDefinitionError, match="not both"):
        DAG("d", schedule="@daily", schedule_interval="@daily", start_date=START)


def test_schedule_defaults_to_none() -> None:
    assert DAG("d").schedule is None


def test_catchup_defaults_to_false() -> None:
    assert DAG("d").catchup is False


# -- ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["has space", "slash/no", "", "é" * 0 + "semi;colon"])
def test_invalid_dag_id(bad: str) -> None:
    with pytest.raises(DagDefinitionError, match="dag_id"):
        DAG(bad)


def test_dag_id_too_long() -> None:
    with pytest.raises(DagDefinitionError, match="longer than 250"):
        DAG("x" * 251)


def test_dag_id_must_be_a_string() -> None:
    with pytest.raises(DagDefinitionError, match="must be a string"):
        DAG(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("good", ["a", "a.b", "a-b_c", "A1"])
def test_valid_ids(good: str) -> None:
    with DAG(good):
        EmptyOperator(task_id=good)


def test_invalid_task_id_names_dag_and_task() -> None:
    with DAG("pipe"), pytest.raises(DagDefinitionError, match=r"task id in DAG 'pipe'.*'bad id'"):
        EmptyOperator(task_id="bad id")


def test_duplicate_task_id_names_dag_and_task() -> None:
    with DAG("pipe"):
        EmptyOperator(task_id="t")
        with pytest.raises(DuplicateTaskIdError, match=r"DAG 'pipe'.*'t'"):
            EmptyOperator(task_id="t")


def test_duplicate_task_id_is_a_definition_error() -> None:
    assert issubclass(DuplicateTaskIdError, DagDefinitionError)


def test_task_in_two_dags_is_an_error() -> None:
    first = DAG("first")
    second = DAG("second")
    t = EmptyOperator(task_id="t", dag=first)
    with pytest.raises(DagDefinitionError, match=r"already in DAG 'first'.*'second'"):
        second.add_task(t)


def test_dependencies_across_dags_are_an_error() -> None:
    a = EmptyOperator(task_id="a", dag=DAG("one"))
    b = EmptyOperator(task_id="b", dag=DAG("two"))
    with pytest.raises(DagDefinitionError, match="different DAGs"):
        a >> b


def test_dependency_adopts_a_task_without_dag() -> None:
    d = DAG("d")
    a = EmptyOperator(task_id="a", dag=d)
    b = EmptyOperator(task_id="b")
    a >> b
    assert b.dag is d and d.has_task("b")


def test_task_cannot_depend_on_itself() -> None:
    with DAG("d"):
        a = EmptyOperator(task_id="a")
        with pytest.raises(DagDefinitionError, match="itself"):
            a >> a


def test_unknown_operator_argument_is_an_error() -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match=r"BashOperator.*t.*bash_cmd"):
        BashOperator(task_id="t", bash_cmd="echo")  # type: ignore[call-arg]


def test_positional_arguments_are_refused() -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match="keyword arguments only"):
        EmptyOperator("t")  # type: ignore[misc]


# -- dates -----------------------------------------------------------------------------


def test_naive_and_aware_dates_mix_is_an_error() -> None:
    with pytest.raises(DagDefinitionError, match=r"DAG 'd'.*naive"):
        DAG("d", start_date=datetime(2024, 1, 1), end_date=datetime(2024, 2, 1, tzinfo=UTC))


def test_end_date_before_start_date() -> None:
    with pytest.raises(DagDefinitionError, match=r"end_date .* is before start_date"):
        DAG("d", start_date=START, end_date=START - timedelta(days=1))


def test_start_date_must_be_a_datetime() -> None:
    with pytest.raises(DagDefinitionError, match="start_date must be a datetime"):
        DAG("d", start_date="2024-01-01")  # type: ignore[arg-type]


def test_start_date_from_default_args() -> None:
    d = DAG("d", default_args={"start_date": START})
    assert d.start_date == START


def test_timezone_comes_from_start_date() -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    d = DAG("d", start_date=datetime(2024, 1, 1, tzinfo=zone))
    assert d.timezone is zone
    assert DAG("e").timezone is UTC


def test_pendulum_start_date_works() -> None:
    start = pendulum.datetime(2024, 1, 1, tz="Europe/Paris")
    d = DAG("d", schedule="@daily", start_date=start)
    assert d.start_date_utc == datetime(2023, 12, 31, 23, tzinfo=UTC)
    d.validate()


def test_naive_start_date_is_read_as_utc() -> None:
    d = DAG("d", start_date=datetime(2024, 1, 1))
    assert d.start_date_utc == START


def test_apply_default_timezone_reads_naive_dates_in_it() -> None:
    paris = ZoneInfo("Europe/Paris")
    with DAG("d", start_date=datetime(2024, 1, 1), end_date=datetime(2024, 6, 1)) as d:
        own = EmptyOperator(task_id="own", start_date=datetime(2024, 2, 1, 6))
        EmptyOperator(task_id="inherits")

    d.apply_default_timezone(paris)

    assert d.timezone is paris
    assert d.start_date == datetime(2024, 1, 1, tzinfo=paris)
    assert d.end_date == datetime(2024, 6, 1, tzinfo=paris)
    assert d.start_date_utc == datetime(2023, 12, 31, 23, tzinfo=UTC)
    assert own.start_date == datetime(2024, 2, 1, 6, tzinfo=paris)
    assert d.get_task("inherits").start_date == d.start_date  # type: ignore[attr-defined]


def test_apply_default_timezone_keeps_an_aware_start_date_and_its_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    start = datetime(2024, 1, 1, tzinfo=tokyo)
    with DAG("d", start_date=start) as d:
        # A naive task date is read in the default timezone, as Airflow's operators do.
        late = EmptyOperator(task_id="late", start_date=datetime(2024, 3, 1))

    d.apply_default_timezone(ZoneInfo("Europe/Paris"))

    assert d.timezone is tokyo and d.start_date == start
    assert late.start_date == datetime(2024, 3, 1, tzinfo=ZoneInfo("Europe/Paris"))


def test_apply_default_timezone_gives_its_zone_to_a_dag_without_start_date() -> None:
    d = DAG("d")
    d.apply_default_timezone(ZoneInfo("America/New_York"))
    assert d.timezone == ZoneInfo("America/New_York")


# -- task dates: Airflow's rule in DAG.add_task ---------------------------------------------


def test_task_start_date_is_the_later_of_its_own_and_the_dags() -> None:
    with DAG("d", start_date=START) as d:
        early = EmptyOperator(task_id="early", start_date=START - timedelta(days=30))
        late = EmptyOperator(task_id="late", start_date=START + timedelta(days=30))
        none = EmptyOperator(task_id="none")
    assert early.start_date == START
    assert late.start_date == START + timedelta(days=30)
    assert none.start_date == START
    assert d.get_task("early").start_date == START  # type: ignore[attr-defined]


def test_task_end_date_is_the_earlier_of_its_own_and_the_dags() -> None:
    end = START + timedelta(days=10)
    with DAG("d", start_date=START, end_date=end):
        long = EmptyOperator(task_id="long", end_date=end + timedelta(days=5))
        short = EmptyOperator(task_id="short", end_date=end - timedelta(days=5))
        none = EmptyOperator(task_id="none")
    assert long.end_date == end
    assert short.end_date == end - timedelta(days=5)
    assert none.end_date == end


def test_task_dates_without_dag_dates_are_kept() -> None:
    with DAG("d"):
        t = EmptyOperator(task_id="t", start_date=START, end_date=START + timedelta(days=1))
    assert (t.start_date, t.end_date) == (START, START + timedelta(days=1))


def test_task_dates_from_default_args_are_bounded_too() -> None:
    args = {"start_date": START - timedelta(days=1)}
    with DAG("d", start_date=START, default_args=args):
        t = EmptyOperator(task_id="t")
    assert t.start_date == START


def test_naive_and_aware_task_dates_are_bounded_once_the_timezone_is_known() -> None:
    with DAG("d", start_date=datetime(2024, 1, 1)) as d:
        aware_early = EmptyOperator(task_id="t", start_date=START - timedelta(days=5))
    # Not comparable yet: the task keeps its date until parsing gives naive dates a zone.
    assert aware_early.start_date == START - timedelta(days=5)
    d.apply_default_timezone(UTC)
    assert aware_early.start_date == START


# -- run settings -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["max_active_runs", "max_active_tasks"])
@pytest.mark.parametrize("value", [0, -1, True, "3"])
def test_concurrency_limits_must_be_positive_ints(name: str, value: object) -> None:
    with pytest.raises(DagDefinitionError, match=name):
        DAG("d", **{name: value})  # type: ignore[arg-type]


def test_dagrun_timeout_must_be_timedelta() -> None:
    with pytest.raises(DagDefinitionError, match="dagrun_timeout"):
        DAG("d", dagrun_timeout=60)  # type: ignore[arg-type]


def test_dag_attributes() -> None:
    d = DAG(
        "d",
        description="desc",
        tags=["b", "a", "b"],
        template_searchpath="/tmp",
        max_active_runs=2,
        doc_md="# doc",
    )
    assert d.description == "desc"
    assert d.tags == ["a", "b"]
    assert d.template_searchpath == ["/tmp"]
    assert d.max_active_runs == 2
    assert d.max_active_tasks == 16
    assert d.doc_md == "# doc"
    assert repr(d) == "<DAG: d>"


def test_fileloc_is_the_defining_file() -> None:
    assert DAG("d").fileloc == __file__


# -- default_args ----------------------------------------------------------------------


def test_default_args_fill_any_base_operator_argument() -> None:
    cb = print
    defaults = {
        "owner": "data",
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(hours=1),
        "execution_timeout": timedelta(minutes=10),
        "trigger_rule": "all_done",
        "depends_on_past": True,
        "pool": "p",
        "pool_slots": 2,
        "priority_weight": 5,
        "weight_rule": "absolute",
        "queue": "q",
        "email": "a@example.com",
        "email_on_failure": False,
        "email_on_retry": False,
        "on_failure_callback": cb,
        "on_success_callback": cb,
        "on_retry_callback": cb,
        "on_execute_callback": cb,
        "do_xcom_push": False,
        "doc_md": "task doc",
        "start_date": START,
        "end_date": START + timedelta(days=30),
    }
    with DAG("d", default_args=defaults):
        t = EmptyOperator(task_id="t")
    for name, value in defaults.items():
        actual = getattr(t, name)
        assert actual == value, name
    assert t.trigger_rule is TriggerRule.ALL_DONE


def test_explicit_arguments_beat_default_args() -> None:
    with DAG("d", default_args={"retries": 3, "owner": "data", "trigger_rule": "all_done"}):
        t = EmptyOperator(task_id="t", retries=0, owner="me", trigger_rule="one_success")
    assert (t.retries, t.owner, t.trigger_rule) == (0, "me", TriggerRule.ONE_SUCCESS)


def test_default_args_reach_subclass_arguments() -> None:
    with DAG("d", default_args={"append_env": True, "bash_command": "echo hi"}):
        b = BashOperator(task_id="b")
        e = EmptyOperator(task_id="e")  # does not take bash_command: ignored
    assert b.append_env is True and b.bash_command == "echo hi"
    assert not hasattr(e, "bash_command")


def test_default_args_with_dag_argument() -> None:
    d = DAG("d", default_args={"retries": 4})
    assert EmptyOperator(task_id="t", dag=d).retries == 4


def test_operator_default_args_argument() -> None:
    with DAG("d", default_args={"retries": 4, "owner": "x"}):
        t = EmptyOperator(task_id="t", default_args={"retries": 1})
    assert (t.retries, t.owner) == (1, "x")


def test_defaults_without_default_args() -> None:
    t = EmptyOperator(task_id="t")
    assert t.owner == "sluice"
    assert t.retries == 0
    assert t.retry_delay == timedelta(seconds=300)
    assert t.trigger_rule is TriggerRule.ALL_SUCCESS
    assert t.pool == "default_pool"
    assert t.pool_slots == 1
    assert t.priority_weight == 1
    assert t.weight_rule == "downstream"
    assert t.do_xcom_push is True
    assert t.max_tries == 0


def test_task_group_default_args_override_dag_default_args() -> None:
    with DAG("d", default_args={"retries": 1, "owner": "dag"}):
        with TaskGroup("g", default_args={"retries": 2}):
            with TaskGroup("inner", default_args={"owner": "inner"}):
                t = EmptyOperator(task_id="t")
            u = EmptyOperator(task_id="u", retries=7)
        v = EmptyOperator(task_id="v")
    assert (t.retries, t.owner) == (2, "inner")
    assert (u.retries, u.owner) == (7, "dag")
    assert (v.retries, v.owner) == (1, "dag")


def test_dag_params_reach_task_params() -> None:
    with DAG("d", params={"a": 1, "b": 2}):
        t = EmptyOperator(task_id="t", params={"b": 3, "c": 4})
    assert dict(t.params) == {"a": 1, "b": 3, "c": 4}


@pytest.mark.parametrize(
    ("arg", "value", "match"),
    [
        ("trigger_rule", "sometimes", "trigger_rule"),
        ("retries", -1, "retries"),
        ("retries", "x", "retries"),
        ("retry_delay", "soon", "retry_delay"),
        ("execution_timeout", "1h", "execution_timeout"),
        ("weight_rule", "heaviest", "weight_rule"),
        ("pool_slots", 0, "pool_slots"),
        ("priority_weight", "high", "priority_weight"),
    ],
)
def test_bad_operator_arguments_name_task_and_argument(arg: str, value: object, match: str) -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match=f"task 't' of DAG 'd'.*{match}"):
        EmptyOperator(task_id="t", **{arg: value})  # type: ignore[arg-type]


def test_numbers_as_timedeltas() -> None:
    t = EmptyOperator(task_id="t", retry_delay=30, execution_timeout=5.5, max_retry_delay=60)
    assert t.retry_delay == timedelta(seconds=30)
    assert t.execution_timeout == timedelta(seconds=5.5)
    assert t.max_retry_delay == timedelta(minutes=1)


def test_retries_none_means_zero() -> None:
    assert EmptyOperator(task_id="t", retries=None).retries == 0


# -- structure --------------------------------------------------------------------------


def test_topological_sort_puts_upstream_first() -> None:
    with DAG("d") as d:
        a, b, c, e = (EmptyOperator(task_id=x) for x in "abce")
        e >> c
        c >> b
        b >> a
    assert [t.task_id for t in d.topological_sort()] == ["e", "c", "b", "a"]


def test_cycle_error_names_the_cycle() -> None:
    with DAG("d") as d:
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        x = EmptyOperator(task_id="x")
        x >> a >> b >> c >> a
    with pytest.raises(CycleError, match=r"DAG 'd' has a cycle: a >> b >> c >> a"):
        d.topological_sort()
    with pytest.raises(CycleError):
        d.validate()


def test_two_task_cycle() -> None:
    with DAG("d") as d:
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        a >> b >> a
    with pytest.raises(CycleError, match="a >> b >> a"):
        d.topological_sort()


def test_long_chain_sorts_without_recursion() -> None:
    with DAG("long") as d:
        tasks = [EmptyOperator(task_id=f"t{i}") for i in range(10_000)]
        for up, down in itertools.pairwise(tasks):
            up >> down
    order = d.topological_sort()
    assert [t.task_id for t in order] == [f"t{i}" for i in range(10_000)]
    tasks[-1] >> tasks[0]
    with pytest.raises(CycleError, match="t0 >> t1 >> t2"):
        d.topological_sort()


def test_roots_and_leaves() -> None:
    with DAG("d") as d:
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        EmptyOperator(task_id="e")
        a >> [b, c]
    assert {t.task_id for t in d.roots} == {"a", "e"}
    assert {t.task_id for t in d.leaves} == {"b", "c", "e"}


def test_upstream_and_downstream_lists_and_relatives() -> None:
    with DAG("d"):
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        a >> b >> c
    assert b.upstream_list == [a]
    assert b.downstream_list == [c]
    assert a.get_flat_relative_ids() == {"b", "c"}
    assert c.get_flat_relative_ids(upstream=True) == {"a", "b"}


def test_get_task_suggests_close_ids() -> None:
    with DAG("d") as d:
        EmptyOperator(task_id="extract")
        EmptyOperator(task_id="transform")
    with pytest.raises(TaskNotFound, match=r"'extrac' not found.*DAG 'd'.*Did you mean: 'extract'"):
        d.get_task("extrac")


def test_get_task_lists_known_ids_when_nothing_is_close() -> None:
    with DAG("d") as d:
        EmptyOperator(task_id="extract")
    with pytest.raises(TaskNotFound, match="Known: extract"):
        d.get_task("zzz")


def test_validate_requires_start_date_for_a_schedule() -> None:
    with DAG("d", schedule="@daily") as d:
        EmptyOperator(task_id="t")
    with pytest.raises(DagDefinitionError, match=r"DAG 'd'.*no start_date"):
        d.validate()


def test_validate_accepts_start_date_on_every_task() -> None:
    with DAG("d", schedule="@daily") as d:
        EmptyOperator(task_id="t", start_date=START)
    d.validate()


def test_validate_without_schedule_needs_no_start_date() -> None:
    with DAG("d", schedule=None) as d:
        EmptyOperator(task_id="t")
    d.validate()


def test_validate_catches_bad_param_default() -> None:
    with DAG("d", params={"n": Param("x", type="integer")}) as d:
        EmptyOperator(task_id="t")
    with pytest.raises(DagDefinitionError, match=r"DAG 'd'.*param 'n'.*not of type integer"):
        d.validate()


def test_task_ids_keep_insertion_order_and_tasks_match() -> None:
    with DAG("d") as d:
        for name in "cab":
            EmptyOperator(task_id=name)
    assert d.task_ids == ["c", "a", "b"]
    assert [t.task_id for t in d.tasks] == ["c", "a", "b"]


def test_owner_summary() -> None:
    with DAG("d") as d:
        EmptyOperator(task_id="a", owner="x")
        EmptyOperator(task_id="b", owner="y")
    assert d.owner == "x, y"


def test_task_python_operator_in_dag() -> None:
    with DAG("d") as d:
        PythonOperator(task_id="p", python_callable=lambda: 1)
    assert d.get_task("p").task_id == "p"


def test_dag_decorator_argument_without_default_must_be_given() -> None:
    @dag(schedule=None)
    def pipeline(n: int) -> None:
        EmptyOperator(task_id="t")

    with pytest.raises(DagDefinitionError, match="DAG 'pipeline': missing a required argument"):
        pipeline()
    assert pipeline(3).params["n"] == 3


def test_dag_decorator_keeps_declared_param_schema() -> None:
    @dag(schedule=None, params={"n": Param(1, type="integer", minimum=1)})
    def pipeline(n: int = 5) -> None:
        EmptyOperator(task_id="t")

    built = pipeline(n=7)
    assert built.params["n"] == 7
    assert built.params.get_param("n").schema == {"type": "integer", "minimum": 1}
    assert pipeline().params["n"] == 5
    bad = pipeline(n=0)
    with pytest.raises(DagDefinitionError, match="param 'n': 0 is less than the minimum"):
        bad.validate()
