"""Serializing DAGs to JSON and back: round trips, stored values, helpers, bad input."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
import pytest

from sluice import DAG, Param, TaskGroup, TriggerRule, dag, task
from sluice.core.errors import CycleError, ParsingError, TaskNotFound
from sluice.core.states import TaskInstanceState
from sluice.operators import (
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from sluice.parsing import serialize as ser
from sluice.parsing.json_values import json_safe
from sluice.parsing.serialize import (
    SERIALIZATION_VERSION,
    SerializedDag,
    SerializedTask,
    SerializedTaskGroup,
    dag_hash,
    dag_to_json,
    deserialize_dag,
    serialize_dag,
    serialized_dag_to_dict,
)
from sluice.sdk.readiness import decide
from sluice.sdk.schedules import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DataInterval,
    DeltaDataIntervalTimetable,
    TimeRestriction,
    Timetable,
    iter_dagrun_infos,
)

PARIS_START = pendulum.datetime(2024, 3, 1, tz="Europe/Paris")
NOW = datetime(2024, 3, 30, 12, 34, tzinfo=UTC)


def on_failure(context: dict[str, Any]) -> None:
    """A callback; only its presence is stored."""


def double(x: int) -> int:
    return 2 * x


def pick() -> str:
    return "left"


# --- DAGs to round-trip ----------------------------------------------------------------


def operators_dag() -> DAG:
    with DAG(
        "operators",
        schedule="@daily",
        start_date=PARIS_START,
        end_date=pendulum.datetime(2025, 1, 1, tz="Europe/Paris"),
        description="every built-in operator",
        doc_md="# Operators",
        dagrun_timeout=timedelta(hours=2),
        tags=["b", "a"],
        owner_links={"ops": "https://example.com"},
        default_args={"owner": "data", "retries": 2, "on_failure_callback": on_failure},
        template_searchpath="/opt/templates",
        on_success_callback=on_failure,
        is_paused_upon_creation=False,
        max_active_runs=3,
        max_active_tasks=7,
        fileloc="/dags/operators.py",
    ) as d:
        start = EmptyOperator(task_id="start", priority_weight=5, weight_rule="absolute")
        bash = BashOperator(
            task_id="bash",
            bash_command="echo {{ ds }}",
            env={"A": "1"},
            cwd="/tmp",
            execution_timeout=timedelta(minutes=5),
            retry_delay=timedelta(seconds=30),
            retry_exponential_backoff=True,
            max_retry_delay=600,
            email="a@example.com; b@example.com",
            email_on_retry=False,
            pool="etl",
            pool_slots=2,
            queue="heavy",
            max_active_tis_per_dag=4,
            depends_on_past=True,
        )
        python = PythonOperator(
            task_id="python",
            python_callable=double,
            op_kwargs={"x": bash.output, "when": datetime(2024, 1, 1, tzinfo=UTC)},
            templates_dict={"q": "select {{ ds }}"},
            on_retry_callback=on_failure,
            on_execute_callback=[on_failure],
            wait_for_downstream=True,
        )
        branch = BranchPythonOperator(task_id="branch", python_callable=pick)
        left = ShortCircuitOperator(task_id="left", python_callable=lambda: True)
        right = EmptyOperator(task_id="right")
        join = EmptyOperator(
            task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, doc_md="joins"
        )
        start >> bash >> python >> branch >> [left, right] >> join
    return d


def taskflow_dag() -> DAG:
    with DAG("taskflow", schedule=None, fileloc="/dags/taskflow.py") as d:

        @task(multiple_outputs=True)  # type: ignore[untyped-decorator]
        def extract() -> dict[str, int]:
            """Pull the numbers."""
            return {"a": 1, "b": 2}

        @task
        def add(a: int, b: int) -> int:
            return a + b

        @task.branch
        def choose(total: int) -> str:
            return "report"

        @task.short_circuit
        def worth_it(total: int) -> bool:
            return total > 0

        @task.bash
        def report(total: int) -> str:
            return f"echo {total}"

        numbers = extract()
        total = add(numbers["a"], numbers["b"])
        choice = choose(total)
        choice >> [report(total), worth_it(total)]
    return d


def groups_dag() -> DAG:
    with DAG("groups", schedule="@hourly", start_date=PARIS_START, fileloc="/g.py") as d:
        first = EmptyOperator(task_id="first")
        with TaskGroup("outer", tooltip="the outer box", ui_color="#abcdef") as outer:
            EmptyOperator(task_id="a")
            with TaskGroup("flat", prefix_group_id=False):
                EmptyOperator(task_id="b")
                with TaskGroup("inner"):
                    EmptyOperator(task_id="c")
        with TaskGroup("loose", prefix_group_id=False, default_args={"retries": 4}):
            last = EmptyOperator(task_id="last")
        first >> outer >> last
    return d


def mapped_dag() -> DAG:
    with DAG("mapped", schedule=timedelta(hours=6), start_date=PARIS_START, fileloc="/m.py") as d:
        source = PythonOperator(task_id="source", python_callable=lambda: [1, 2])
        PythonOperator.partial(task_id="literal", python_callable=double, retries=3).expand(
            op_args=[[1], [2], [3]]
        )
        BashOperator.partial(task_id="from_xcom", retry_delay=12).expand(bash_command=source.output)
        BashOperator.partial(task_id="over_dict").expand(env={"a": "1", "b": "2"})
        BashOperator.partial(task_id="kwargs_list", pool="p").expand_kwargs(
            [{"bash_command": "echo 1"}, {"bash_command": source.output["cmd"]}]
        )
        BashOperator.partial(task_id="kwargs_xcom").expand_kwargs(source.output)

        @task
        def scale(x: int, factor: int) -> int:
            return x * factor

        scale.partial(factor=10).expand(x=[1, 2])
        scale.partial(factor=2).expand(x=source.output)
        scale.expand_kwargs([{"x": 1, "factor": 2}])
    return d


def params_dag() -> DAG:
    params = {
        "text": Param("hi", type="string", minLength=1, description="a string"),
        "count": Param(3, type="integer", minimum=0, maximum=10),
        "ratio": Param(0.5, type="number"),
        "flag": Param(True, type="boolean"),
        "items": Param([1, 2], type="array", items={"type": "integer"}),
        "config": Param({"k": "v"}, type="object"),
        "nothing": Param(None, type="null"),
        "either": Param(None, type=["null", "string"]),
        "choice": Param("a", enum=("a", "b")),
        "day": Param("2024-01-01", type="string", format="date"),
        "required": Param(type="string"),
        "plain": 42,
    }
    with DAG("params", params=params, schedule="@once", fileloc="/p.py") as d:
        EmptyOperator(task_id="t", params={"extra": Param(1, type="integer")})
    return d


def decorated_dag() -> DAG:
    @dag(schedule="0 3 * * 1-5", start_date=datetime(2024, 1, 1), fileloc="/d.py")  # type: ignore[untyped-decorator]
    def decorated(who: str = "world") -> None:
        BashOperator(task_id="hello", bash_command=f"echo hello {who}")

    built: DAG = decorated()
    return built


DAG_BUILDERS: dict[str, Callable[[], DAG]] = {
    "operators": operators_dag,
    "taskflow": taskflow_dag,
    "groups": groups_dag,
    "mapped": mapped_dag,
    "params": params_dag,
    "decorated": decorated_dag,
}

SCHEDULES: dict[str, Any] = {
    "none": None,
    "once": "@once",
    "continuous": "@continuous",
    "hourly": "@hourly",
    "daily": "@daily",
    "weekly": "@weekly",
    "monthly": "@monthly",
    "quarterly": "@quarterly",
    "yearly": "@yearly",
    "cron": "*/15 3 * * 1-5",
    "timedelta": timedelta(hours=6),
    "cron_trigger": CronTriggerTimetable(
        "0 2 * * *", timezone="Europe/Paris", interval=timedelta(hours=1)
    ),
    "cron_trigger_run_immediately": CronTriggerTimetable(
        "30 * * * *", timezone="UTC", run_immediately=timedelta(minutes=10)
    ),
    "delta_timetable": DeltaDataIntervalTimetable(timedelta(days=1)),
    "cron_data_interval": CronDataIntervalTimetable("0 0 * * 0", "America/New_York"),
}


def schedule_dag(schedule: Any) -> DAG:
    with DAG(
        "scheduled", schedule=schedule, start_date=PARIS_START, catchup=True, fileloc="/s.py"
    ) as d:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    return d


# --- round trips -----------------------------------------------------------------------


def assert_round_trip(source: DAG) -> SerializedDag:
    data = serialize_dag(source)
    assert json.loads(json.dumps(data)) == data  # JSON-ready, nothing lost on the way
    restored = deserialize_dag(data)
    assert serialized_dag_to_dict(restored) == data
    assert deserialize_dag(dag_to_json(source)) == restored
    assert dag_to_json(source) == dag_to_json(source)
    assert restored.task_nodes() == source.task_nodes()
    assert restored.timetable == source.timetable
    assert restored.task_ids == [t.task_id for t in restored.topological_order()]
    assert set(restored.tasks) == set(source.task_dict)
    return restored


@pytest.mark.parametrize("name", sorted(DAG_BUILDERS))
def test_round_trip(name: str) -> None:
    assert_round_trip(DAG_BUILDERS[name]())


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_round_trip_of_every_schedule_keeps_the_next_runs(name: str) -> None:
    source = schedule_dag(SCHEDULES[name])
    restored = assert_round_trip(source)
    assert restored.schedule_summary == source.timetable.summary
    assert restored.timetable_description == source.timetable.description
    assert restored.timezone == "Europe/Paris"
    assert restored.start_date == datetime(2024, 2, 29, 23, tzinfo=UTC)
    assert restored.start_date is not None
    for catchup in (True, False):
        expected = iter_dagrun_infos(
            source.timetable, start_date=PARIS_START, catchup=catchup, limit=5, now=NOW
        )
        got = iter_dagrun_infos(
            restored.timetable, start_date=restored.start_date, catchup=catchup, limit=5, now=NOW
        )
        assert got == expected
    manual = datetime(2024, 3, 31, 1, 30, tzinfo=UTC)  # the night Paris moves to summer time
    assert restored.timetable.infer_manual_data_interval(
        run_after=manual
    ) == source.timetable.infer_manual_data_interval(run_after=manual)


def test_field_tables_cover_every_dataclass_field() -> None:
    assert list(ser._TASK_FIELDS) == [f.name for f in dataclasses.fields(SerializedTask)]
    assert list(ser._DAG_FIELDS) == [f.name for f in dataclasses.fields(SerializedDag)]
    group_fields = [f.name for f in dataclasses.fields(SerializedTaskGroup)]
    assert [*ser._GROUP_FIELDS, "children"] == group_fields


# --- what is stored --------------------------------------------------------------------


def test_dag_settings_are_stored_in_utc_and_seconds() -> None:
    s = deserialize_dag(serialize_dag(operators_dag()))
    assert s.dag_id == "operators"
    assert s.fileloc == "/dags/operators.py"
    assert s.description == "every built-in operator"
    assert s.doc_md == "# Operators"
    assert s.start_date == datetime(2024, 2, 29, 23, tzinfo=UTC)
    assert s.end_date == datetime(2024, 12, 31, 23, tzinfo=UTC)
    assert s.start_date is not None and s.start_date.utcoffset() == timedelta(0)
    assert s.timezone == "Europe/Paris"
    assert s.timetable == CronDataIntervalTimetable("@daily", "Europe/Paris")
    assert s.dagrun_timeout == 7200.0
    assert s.tags == ("a", "b")
    assert s.owner == "data"
    assert s.owner_links == {"ops": "https://example.com"}
    assert s.template_searchpath == ("/opt/templates",)
    assert s.default_args == {
        "owner": "data",
        "retries": 2,
        "on_failure_callback": f"{__name__}.on_failure",
    }
    assert (s.max_active_runs, s.max_active_tasks) == (3, 7)
    assert s.is_paused_upon_creation is False
    assert s.has_on_success_callback and not s.has_on_failure_callback
    assert s.catchup is False and s.catchup_given is False


def test_operator_settings_are_stored() -> None:
    s = deserialize_dag(serialize_dag(operators_dag()))
    bash = s.get_task("bash")
    assert (bash.operator, bash.operator_module) == ("BashOperator", "sluice.sdk.operators.bash")
    assert (bash.retries, bash.retry_delay, bash.max_retry_delay) == (2, 30.0, 600.0)
    assert bash.retry_exponential_backoff and bash.max_tries == 2
    assert bash.execution_timeout == 300.0
    assert bash.email == ("a@example.com", "b@example.com")
    assert (bash.email_on_failure, bash.email_on_retry) == (True, False)
    assert (bash.pool, bash.pool_slots, bash.queue) == ("etl", 2, "heavy")
    assert bash.max_active_tis_per_dag == 4 and bash.depends_on_past
    assert bash.owner == "data" and bash.has_on_failure_callback
    assert bash.template_fields == ("bash_command", "env", "cwd")
    assert bash.template_ext == (".sh", ".bash")
    assert bash.template_fields_renderers["bash_command"] == "bash"
    assert bash.template_values == {
        "bash_command": "echo {{ ds }}",
        "env": {"A": "1"},
        "cwd": "/tmp",
    }
    assert bash.ui_color == BashOperator.ui_color
    assert bash.upstream_task_ids == {"start"} and bash.downstream_task_ids == {"python"}

    python = s.get_task("python")
    assert python.python_callable == f"{__name__}.double"
    assert python.template_values["op_kwargs"] == {
        "x": {"__xcomarg__": {"task_id": "bash", "key": "return_value"}},
        "when": "2024-01-01T00:00:00+00:00",
    }
    assert python.wait_for_downstream and python.depends_on_past
    assert python.has_on_retry_callback and python.has_on_execute_callback
    assert not python.has_on_success_callback
    assert s.get_task("branch").operator == "BranchPythonOperator"
    assert s.get_task("left").python_callable == f"{__name__}.operators_dag.<locals>.<lambda>"
    join = s.get_task("join")
    assert join.trigger_rule is TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    assert join.doc_md == "joins"
    start = s.get_task("start")
    assert (start.priority_weight, start.weight_rule) == (5, "absolute")


def test_taskflow_tasks_keep_their_decorator_names() -> None:
    s = deserialize_dag(serialize_dag(taskflow_dag()))
    assert {tid: t.operator for tid, t in s.tasks.items()} == {
        "extract": "@task",
        "add": "@task",
        "choose": "@task.branch",
        "report": "@task.bash",
        "worth_it": "@task.short_circuit",
    }
    assert s.get_task("extract").multiple_outputs
    assert s.get_task("extract").doc_md == "Pull the numbers."
    assert not s.get_task("add").multiple_outputs
    assert s.get_task("add").template_values["op_args"] == [
        {"__xcomarg__": {"task_id": "extract", "key": "a"}},
        {"__xcomarg__": {"task_id": "extract", "key": "b"}},
    ]
    assert s.get_task("report").python_callable == f"{__name__}.taskflow_dag.<locals>.report"
    assert s.get_task("report").operator_module == "sluice.sdk.taskflow"


def test_task_groups_keep_ids_labels_and_structure() -> None:
    s = deserialize_dag(serialize_dag(groups_dag()))
    assert s.get_task("outer.a").label == "a"
    assert s.get_task("outer.a").group_id == "outer"
    for source_task in groups_dag().tasks:  # prefix_group_id=False ids come from the sdk
        stored = s.get_task(source_task.task_id)
        assert stored.label == source_task.label
        assert source_task.task_group is not None
        assert stored.group_id == source_task.task_group.group_id
    assert s.get_task("last").group_id == "loose"
    assert s.get_task("last").retries == 4
    outer = s.get_group("outer")
    assert (outer.tooltip, outer.ui_color, outer.label) == ("the outer box", "#abcdef", "outer")
    assert [g.label for g in s.task_group.iter_groups()] == ["loose", "outer", "flat", "inner"]
    assert not s.get_group("outer.flat").prefix_group_id
    assert sorted(s.task_group.iter_task_ids()) == sorted(s.tasks)
    assert s.task_group.group_id is None and s.task_group.label is None
    with pytest.raises(TaskNotFound, match="Did you mean"):
        s.get_group("outr")


def test_mapped_tasks_keep_their_expansion() -> None:
    s = deserialize_dag(serialize_dag(mapped_dag()))
    ref = {"__xcomarg__": {"task_id": "source", "key": "return_value"}}
    literal = s.get_task("literal")
    assert literal.is_mapped and literal.operator == "PythonOperator"
    assert literal.retries == 3 and literal.python_callable == f"{__name__}.double"
    assert literal.mapping == {"expand": {"op_args": [[1], [2], [3]]}, "expand_kwargs": None,
                               "mapped_into": None}  # fmt: skip
    from_xcom = s.get_task("from_xcom")
    assert from_xcom.mapping is not None and from_xcom.mapping["expand"] == {"bash_command": ref}
    assert from_xcom.retry_delay == 12.0 and from_xcom.upstream_task_ids == {"source"}
    assert from_xcom.template_ext == (".sh", ".bash")
    assert s.get_task("over_dict").mapping["expand"] == {"env": {"a": "1", "b": "2"}}  # type: ignore[index]
    kwargs_list = s.get_task("kwargs_list")
    assert kwargs_list.pool == "p"
    assert kwargs_list.mapping == {
        "expand": None,
        "expand_kwargs": [
            {"bash_command": "echo 1"},
            {"bash_command": {"__xcomarg__": {"task_id": "source", "key": "cmd"}}},
        ],
        "mapped_into": None,
    }
    assert s.get_task("kwargs_xcom").mapping["expand_kwargs"] == ref  # type: ignore[index]
    scale = s.get_task("scale")
    assert scale.operator == "@task" and scale.is_mapped
    assert scale.mapping == {"expand": {"x": [1, 2]}, "expand_kwargs": None,
                             "mapped_into": "op_kwargs"}  # fmt: skip
    assert scale.template_values["op_kwargs"] == {"factor": 10}
    assert s.get_task("scale__1").mapping["expand"] == {"x": ref}  # type: ignore[index]
    assert s.get_task("scale__2").mapping["expand_kwargs"] == [{"x": 1, "factor": 2}]  # type: ignore[index]
    assert not s.get_task("source").is_mapped and s.get_task("source").mapping is None


def test_params_of_every_type_round_trip_as_params() -> None:
    source = params_dag()
    s = deserialize_dag(dag_to_json(source))
    assert set(s.params) == set(source.params)
    restored = s.params_dict()
    for name in source.params:
        original = source.params.get_param(name)
        again = restored.get_param(name)
        assert again.value == original.value or (not again.has_value and not original.has_value)
        assert again.description == original.description
        assert again.schema == json_safe(original.schema)
    assert s.params["required"]["has_default"] is False
    assert restored.resolve({"required": "x"})["count"] == 3
    assert set(s.get_task("t").params) == {*source.params, "extra"}
    assert s.get_task("t").params_dict().resolve({"required": "x"})["extra"] == 1


def test_dag_param_in_a_template_is_kept_as_its_template() -> None:
    s = deserialize_dag(serialize_dag(decorated_dag()))
    assert s.get_task("hello").template_values["bash_command"] == "echo hello {{ params.who }}"
    assert s.params["who"]["default"] == "world"
    assert s.start_date == datetime(2024, 1, 1, tzinfo=UTC)  # naive read as UTC
    assert s.timezone == "UTC"


# --- determinism and hashes ------------------------------------------------------------


def test_the_same_dag_always_gives_the_same_json_and_hash() -> None:
    first, second = dag_to_json(operators_dag()), dag_to_json(operators_dag())
    assert first == second
    assert dag_hash(first) == dag_hash(second)
    assert len(dag_hash(first)) == 64
    assert json.loads(first) == serialize_dag(operators_dag())


def test_order_of_definition_does_not_change_the_hash() -> None:
    def build(order: list[str]) -> DAG:
        with DAG("order", fileloc="/o.py") as d:
            tasks = {tid: EmptyOperator(task_id=tid) for tid in order}
            tasks["a"] >> [tasks["b"], tasks["c"]]
        return d

    one, two = dag_to_json(build(["a", "b", "c"])), dag_to_json(build(["c", "b", "a"]))
    assert one == two


def test_a_change_changes_the_hash() -> None:
    def build(retries: int) -> DAG:
        with DAG("change", fileloc="/c.py") as d:
            EmptyOperator(task_id="a", retries=retries)
        return d

    assert dag_hash(dag_to_json(build(1))) != dag_hash(dag_to_json(build(2)))


def test_reprs_without_memory_addresses_keep_hashes_stable() -> None:
    class Thing:
        pass

    first, second = json_safe(Thing()), json_safe(Thing())
    assert first == second
    assert "0x" not in first


def test_json_safe_handles_odd_values() -> None:
    nested: list[Any] = []
    nested.append(nested)
    assert json_safe({1: "a", None: "b", (1, 2): "c"}) == {"1": "a", "null": "b", "(1, 2)": "c"}
    assert json_safe({3, 1, 2}) == [1, 2, 3]
    assert json_safe(float("nan")) == "nan"
    assert json_safe(TriggerRule.ALL_DONE) == "all_done"
    assert type(json_safe(TriggerRule.ALL_DONE)) is str
    assert json_safe(timedelta(minutes=1)) == 60.0
    assert json_safe(double) == f"{__name__}.double"
    json.dumps(json_safe(nested))  # a self-referencing list ends as text, not a crash


# --- helpers ---------------------------------------------------------------------------


def test_graph_helpers() -> None:
    s = deserialize_dag(serialize_dag(operators_dag()))
    assert [t.task_id for t in s.roots] == ["start"]
    assert [t.task_id for t in s.leaves] == ["join"]
    order = s.task_ids
    for tid, t in s.tasks.items():
        assert all(order.index(up) < order.index(tid) for up in t.upstream_task_ids)
    assert s.get_flat_relative_ids("branch") == {"left", "right", "join"}
    assert s.get_flat_relative_ids("bash", upstream=True) == {"start"}
    assert s.priority_weight_total("start") == 5  # absolute
    assert s.priority_weight_total("branch") == 4  # itself and three downstream
    assert s.has_task("join") and not s.has_task("nope")
    with pytest.raises(TaskNotFound, match="Did you mean: 'bash'"):
        s.get_task("bsh")


def test_task_nodes_feed_the_readiness_function() -> None:
    s = deserialize_dag(serialize_dag(operators_dag()))
    decisions = decide(s.task_nodes(), {"start": [TaskInstanceState.SUCCESS]})
    assert decisions["bash"] == "run"
    assert decisions["python"] == "wait"


# --- errors ----------------------------------------------------------------------------


def good() -> dict[str, Any]:
    return serialize_dag(operators_dag())


def broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(good())
    change(data)
    return data


@pytest.mark.parametrize("version", [1, 3, 0, "2", True, None])
def test_an_unknown_version_is_refused(version: Any) -> None:
    data = good()
    data["version"] = version
    with pytest.raises(ParsingError, match=r"format version .* reads version 2"):
        deserialize_dag(data)


def test_a_missing_version_is_refused() -> None:
    data = good()
    del data["version"]
    with pytest.raises(ParsingError, match="format version None"):
        deserialize_dag(data)


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", "null"])
def test_text_that_is_not_a_json_object_is_refused(text: str) -> None:
    with pytest.raises(ParsingError, match="serialized DAG"):
        deserialize_dag(text)


def _del_task_key(d: dict[str, Any]) -> None:
    del d["dag"]["tasks"][1]["retries"]


def _swap_tasks(d: dict[str, Any]) -> None:
    tasks = d["dag"]["tasks"]
    tasks[0], tasks[1] = tasks[1], tasks[0]


def _unknown_upstream(d: dict[str, Any]) -> None:
    d["dag"]["tasks"][1]["upstream_task_ids"].append("ghost")


def _one_sided_edge(d: dict[str, Any]) -> None:
    d["dag"]["tasks"][0]["downstream_task_ids"] = []


def _ungrouped_task(d: dict[str, Any]) -> None:
    d["dag"]["task_group"]["children"].pop()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["dag"].pop("schedule_summary"), r"dag: missing key\(s\) 'schedule_summary'"),
        (_del_task_key, r"dag.tasks\[1\]: missing key\(s\) 'retries'"),
        (lambda d: d["dag"].update(extra=1), r"unknown key\(s\) 'extra'"),
        (lambda d: d.update(extra=1), "unexpected keys"),
        (lambda d: d.update(dag=[]), "dag: expected an object"),
        (lambda d: d["dag"].update(max_active_runs="3"), "max_active_runs: expected an integer"),
        (lambda d: d["dag"].update(catchup=1), "catchup: expected a boolean"),
        (lambda d: d["dag"]["tasks"][0].update(retries=True), "retries: expected an integer"),
        (lambda d: d["dag"].update(start_date="yesterday"), "is not an ISO datetime"),
        (lambda d: d["dag"].update(start_date="2024-01-01T00:00:00"), "has no UTC offset"),
        (lambda d: d["dag"]["tasks"][0].update(trigger_rule="sometimes"), "unknown trigger rule"),
        (lambda d: d["dag"].update(timetable={"type": "Nope"}), "unknown timetable type"),
        (lambda d: d["dag"]["timetable"].pop("expression"), "invalid serialized timetable"),
        (lambda d: d["dag"]["params"].update(p={"schema": {"type": "x"}}), "not a Param"),
        (lambda d: d["dag"]["tags"].append(3), r"dag.tags\[2\]: expected a string"),
        (lambda d: d["dag"]["task_group"]["children"].append(["x", 1]), "children"),
        (lambda d: d["dag"]["task_group"].pop("children"), r"missing key\(s\) 'children'"),
        (_swap_tasks, "listed before its upstream task"),
        (_unknown_upstream, "upstream task 'ghost' does not exist"),
        (_one_sided_edge, "does not list it as"),
        (_ungrouped_task, "each task exactly once"),
    ],
)
def test_malformed_data_names_the_dag_and_the_bad_value(
    change: Callable[[dict[str, Any]], Any], message: str
) -> None:
    with pytest.raises(ParsingError, match=message) as info:
        deserialize_dag(broken(change))
    if "unexpected keys" not in message and "dag: expected" not in message:
        assert "serialized DAG 'operators' is malformed" in str(info.value)


def test_a_timetable_that_cannot_be_stored_is_refused() -> None:
    class EveryMinute(Timetable):
        def next_dagrun_info(
            self,
            *,
            last_automated_data_interval: DataInterval | None,
            restriction: TimeRestriction,
            now: datetime | None = None,
        ) -> None:
            return None

        def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
            return DataInterval.exact(run_after)

    with DAG("custom", schedule=EveryMinute(), start_date=PARIS_START, fileloc="/c.py") as d:
        EmptyOperator(task_id="a")
    with pytest.raises(ParsingError, match="DAG 'custom': its timetable EveryMinute cannot"):
        serialize_dag(d)


def test_a_cycle_is_refused() -> None:
    with DAG("cycle", fileloc="/c.py") as d:
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        a >> b >> a
    with pytest.raises(CycleError, match="a >> b >> a"):
        serialize_dag(d)


def test_the_version_is_written() -> None:
    assert serialize_dag(operators_dag())["version"] == SERIALIZATION_VERSION == 2


# --- size ------------------------------------------------------------------------------


def test_a_thousand_task_dag_serializes_quickly() -> None:
    with DAG("big", schedule="@daily", start_date=PARIS_START, fileloc="/big.py") as d:
        previous: list[BashOperator] = []
        for i in range(1000):
            current = BashOperator(task_id=f"t{i:04d}", bash_command=f"echo {i}", retries=1)
            if previous:
                previous[-1] >> current
                if i % 10 == 0:
                    previous[i // 2] >> current
            previous.append(current)
    started = time.perf_counter()
    text = dag_to_json(d)
    serialized = time.perf_counter()
    restored = deserialize_dag(text)
    done = time.perf_counter()
    print(
        f"1,000 tasks: serialize {1000 * (serialized - started):.1f} ms, "
        f"deserialize {1000 * (done - serialized):.1f} ms, {len(text) / 1e6:.2f} MB"
    )
    assert len(restored.tasks) == 1000
    assert serialized_dag_to_dict(restored) == json.loads(text)
