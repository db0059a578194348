from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from sluice import DAG, BaseOperator, TaskGroup, XComArg
from sluice.core.errors import DagDefinitionError
from sluice.operators import BashOperator, EmptyOperator, PythonOperator
from sluice.sdk.operator import Context


class Greet(BaseOperator):
    template_fields: Sequence[str] = ("name", "extra")
    template_ext: Sequence[str] = (".txt",)

    def __init__(self, *, name: str, extra: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.extra = extra

    def execute(self, context: Context) -> str:
        return f"hello {self.name}"


def test_custom_operator_arguments_and_default_args() -> None:
    with DAG("d", default_args={"name": "from defaults", "retries": 2}):
        g = Greet(task_id="g")
        h = Greet(task_id="h", name="explicit")
    assert (g.name, g.retries) == ("from defaults", 2)
    assert h.name == "explicit"
    assert Greet.template_fields == ("name", "extra")


def test_missing_required_argument_names_operator_and_task() -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match=r"Greet \(task_id: g\).*'name'"):
        Greet(task_id="g")  # type: ignore[call-arg]


def test_missing_argument_with_a_typo_mentions_both() -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match=r"'bash_command'.*invalid.*bash_cmd"):
        BashOperator(task_id="t", bash_cmd="echo")  # type: ignore[call-arg]


def test_missing_task_id() -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match="'task_id'"):
        EmptyOperator()  # type: ignore[call-arg]


def test_execute_must_be_implemented() -> None:
    class Nothing(BaseOperator):
        pass

    with pytest.raises(NotImplementedError, match="Nothing must implement execute"):
        Nothing(task_id="n").execute({})


def test_xcomarg_in_template_field_makes_dependency() -> None:
    with DAG("d") as dag:
        a = EmptyOperator(task_id="a")
        g = Greet(task_id="g", name="x", extra={"in": [a.output]})
    assert g.upstream_task_ids == {"a"}
    assert dag.get_task("a").downstream_task_ids == {"g"}


def test_output_is_an_xcomarg() -> None:
    with DAG("d"):
        a = EmptyOperator(task_id="a")
    out = a.output
    assert isinstance(out, XComArg)
    assert (out.operator, out.key) == (a, "return_value")
    assert out["k"].key == "k"
    with pytest.raises(TypeError, match="only known when it runs"):
        list(out)


def test_repr_and_label() -> None:
    with DAG("d"), TaskGroup("g"):
        t = EmptyOperator(task_id="t")
    assert repr(t) == "<Task(EmptyOperator): g.t>"
    assert t.label == "t"
    assert t.dag_id == "d"


def test_max_tries_is_the_number_of_retries_as_in_airflow() -> None:
    assert EmptyOperator(task_id="t", retries=3).max_tries == 3


def test_email_and_callbacks_are_kept() -> None:
    def cb(context: Context) -> None:
        pass

    t = EmptyOperator(task_id="t", email=["a@x"], on_failure_callback=[cb], on_success_callback=cb)
    assert t.email == ["a@x"]
    assert t.on_failure_callback == [cb]
    assert t.on_success_callback is cb


def test_wait_for_downstream_implies_depends_on_past() -> None:
    t = EmptyOperator(task_id="t", wait_for_downstream=True)
    assert t.depends_on_past is True


def test_python_callable_must_be_callable() -> None:
    with pytest.raises(DagDefinitionError, match="python_callable must be callable"):
        PythonOperator(task_id="p", python_callable="nope")  # type: ignore[arg-type]


# -- retry delays -----------------------------------------------------------------------


def airflow_backoff(delay: timedelta, identity: str, try_number: int) -> timedelta:
    """Airflow's next_retry_datetime delay (3.x numbering: the try that just failed)."""
    min_backoff = max(1, math.ceil(delay.total_seconds() * (2 ** (try_number - 1))))
    ti_hash = int(hashlib.sha1(f"{identity}#{try_number}".encode()).hexdigest(), 16)
    return timedelta(seconds=min(min_backoff + ti_hash % min_backoff, 24 * 60 * 60))


IDENTITY = "d#t#2024-03-15T00:00:00+00:00"


def test_retry_delay_without_backoff_is_constant() -> None:
    t = EmptyOperator(task_id="t", retry_delay=timedelta(seconds=42))
    assert [t.retry_delay_after(n, IDENTITY) for n in (1, 2, 5)] == [timedelta(seconds=42)] * 3


@pytest.mark.parametrize("try_number", [1, 2, 3, 4, 8])
def test_exponential_backoff_matches_airflow(try_number: int) -> None:
    t = EmptyOperator(task_id="t", retry_delay=10, retry_exponential_backoff=True)
    got = t.retry_delay_after(try_number, IDENTITY)
    assert got == airflow_backoff(timedelta(seconds=10), IDENTITY, try_number)
    low = 10 * 2 ** (try_number - 1)
    assert timedelta(seconds=low) <= got < timedelta(seconds=2 * low)


def test_exponential_backoff_concrete_values() -> None:
    # 1 s base: try 1 waits exactly 1 s (min_backoff 1, jitter modulo 1 is 0).
    one = EmptyOperator(task_id="one", retry_delay=1, retry_exponential_backoff=True)
    assert one.retry_delay_after(1, IDENTITY) == timedelta(seconds=1)
    assert one.retry_delay_after(2, IDENTITY) in (timedelta(seconds=2), timedelta(seconds=3))
    # A zero delay still backs off by at least one second (Airflow's lower bound).
    zero = EmptyOperator(task_id="zero", retry_delay=0, retry_exponential_backoff=True)
    assert zero.retry_delay_after(1, IDENTITY) == timedelta(seconds=1)


def test_exponential_backoff_is_deterministic_per_identity() -> None:
    t = EmptyOperator(task_id="t", retry_delay=100, retry_exponential_backoff=True)
    assert t.retry_delay_after(3, IDENTITY) == t.retry_delay_after(3, IDENTITY)
    other = {t.retry_delay_after(3, f"d#t#2024-03-{day:02d}") for day in range(1, 29)}
    assert len(other) > 1  # the jitter spreads different task instances


def test_max_retry_delay_caps_backoff() -> None:
    t = EmptyOperator(
        task_id="t",
        retry_delay=timedelta(minutes=1),
        retry_exponential_backoff=True,
        max_retry_delay=timedelta(minutes=5),
    )
    # try 5: at least 60 * 16 = 960 s, capped to 300 s.
    assert t.retry_delay_after(5, IDENTITY) == timedelta(minutes=5)
    # try 1: between 60 and 120 s, under the cap.
    assert timedelta(minutes=1) <= t.retry_delay_after(1, IDENTITY) < timedelta(minutes=2)


def test_max_retry_delay_without_backoff_is_ignored() -> None:
    t = EmptyOperator(task_id="t", retry_delay=600, max_retry_delay=60)
    assert t.retry_delay_after(3, IDENTITY) == timedelta(seconds=600)


def test_backoff_is_capped_at_24_hours_and_never_overflows() -> None:
    t = EmptyOperator(task_id="t", retry_delay=timedelta(hours=1), retry_exponential_backoff=True)
    assert t.retry_delay_after(6, IDENTITY) == timedelta(hours=24)  # 32 h uncapped
    assert t.retry_delay_after(5000, IDENTITY) == timedelta(hours=24)
