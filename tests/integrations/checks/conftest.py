"""The check tests: a small ``orders`` table on each database, and the ``stored`` fixture
(tasks run through the real task runner and metadata database)."""

from __future__ import annotations

import pytest
from tests.integrations.conftest import SqlConn
from tests.runner.conftest import stored  # noqa: F401

ORDERS = [
    # id, customer_id, amount, status, ds
    (1, 10, 5.0, "paid", "2024-03-15"),
    (2, 11, 20.5, "paid", "2024-03-15"),
    (3, None, 7.25, "open", "2024-03-15"),
    (4, 11, 100.0, "paid", "2024-03-08"),
]
"""Three orders on the run's ds (2024-03-15), one a week before; order 3 has no customer."""


def create_orders(sql_conn: SqlConn) -> None:
    """The ``orders`` table with ORDERS in it."""
    hook = sql_conn.hook()
    hook.run(
        "CREATE TABLE orders (id INTEGER, customer_id INTEGER, amount NUMERIC(10, 2),"
        " status VARCHAR(20), ds VARCHAR(10))"
    )
    hook.insert_rows("orders", ORDERS)


@pytest.fixture
def orders(sql_conn: SqlConn) -> SqlConn:
    """The connection ``warehouse`` with the ``orders`` table."""
    create_orders(sql_conn)
    return sql_conn
