from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sluice.core.errors import SluiceError, XComError
from sluice.core.xcom_codec import decode_xcom, encode_xcom

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.datetimes(timezones=st.just(UTC))
    | st.dates(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_round_trip(value: Any) -> None:
    assert decode_xcom(encode_xcom(value, where="w")) == value


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 15, 12, 30, 1, 999, tzinfo=UTC),
        datetime(2024, 3, 15, 12, tzinfo=timezone(timedelta(hours=2))),
        datetime(2024, 3, 15),
        date(2024, 1, 1),
        timedelta(days=2, microseconds=5),
    ],
)
def test_dates_keep_their_type_and_offset(value: Any) -> None:
    back = decode_xcom(encode_xcom(value, where="w"))
    assert back == value and type(back) is type(value)
    if isinstance(value, datetime):
        assert back.utcoffset() == value.utcoffset()


def test_pendulum_datetime_round_trips_as_datetime() -> None:
    pendulum = pytest.importorskip("pendulum")
    value = pendulum.datetime(2024, 3, 15, tz="Europe/Paris")
    assert decode_xcom(encode_xcom(value, where="w")) == value


def test_tuples_become_lists() -> None:
    assert decode_xcom(encode_xcom((1, (2, 3)), where="w")) == [1, [2, 3]]


def test_encoded_text_is_compact_json() -> None:
    assert encode_xcom({"a": [1, "x"]}, where="w") == '{"a":[1,"x"]}'
    assert json.loads(encode_xcom(date(2024, 1, 1), where="w"))["value"] == "2024-01-01"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1, 2}, "task t: value is of type set"),
        (object(), "task t: value is of type object"),
        ({"a": [1, {2}]}, r"task t: value\['a'\]\[1\] is of type set"),
        ({("a",): 1}, r"value has the key \('a',\) \(tuple\)"),
        (float("inf"), "value is inf, which JSON cannot hold"),
        ([float("nan")], r"value\[0\] is nan"),
        (b"bytes", "value is of type bytes"),
    ],
)
def test_errors_name_where_and_what(value: Any, message: str) -> None:
    with pytest.raises(XComError, match=message):
        encode_xcom(value, where="task t")


def test_xcom_error_is_a_sluice_error() -> None:
    assert issubclass(XComError, SluiceError)


def test_size_limit() -> None:
    assert encode_xcom("x" * 10, where="w", max_bytes=12) == '"xxxxxxxxxx"'
    with pytest.raises(XComError, match="w: the value is 13 bytes, over the XCom limit of 12"):
        encode_xcom("x" * 11, where="w", max_bytes=12)


def test_unknown_tag_is_left_as_a_dict() -> None:
    text = '{"__sluice_type__": "mystery", "value": 1}'
    assert decode_xcom(text) == {"__sluice_type__": "mystery", "value": 1}
