"""Extract, transform, load: a daily orders file into SQLite, one sluice DAG run per day.

``example_etl_data.csv`` (next to this file) stands in for the file a shop's system
exports every day. Each run reads it as the orders of its logical date (``ds``),
totals them per product with plain Python, and loads both into a SQLite file.
The load deletes the day's rows before inserting them, in one transaction, so
running the same day twice leaves the same rows: the run is idempotent.

Try it::

    sluice dags test example_etl 2024-01-01
    sluice dags test example_etl 2024-01-01 -c '{"db_path": "/tmp/orders.db"}'
"""

from __future__ import annotations

import contextlib
import csv
import os
import sqlite3
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sluice import Param, dag, task

DATA_FILE = Path(__file__).with_name("example_etl_data.csv")
DEFAULT_DB_PATH = os.path.join(tempfile.gettempdir(), "sluice_example_etl.db")

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    day TEXT NOT NULL,
    order_id INTEGER NOT NULL,
    order_time TEXT NOT NULL,
    customer TEXT NOT NULL,
    product TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    PRIMARY KEY (day, order_id)
);
CREATE TABLE IF NOT EXISTS daily_product_totals (
    day TEXT NOT NULL,
    product TEXT NOT NULL,
    orders INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    revenue_cents INTEGER NOT NULL,
    PRIMARY KEY (day, product)
);
"""


def money(cents: int) -> str:
    """Cents as a price: 71935 -> '719.35'."""
    return f"{cents / 100:,.2f}"


@task
def extract(ds: str | None = None) -> list[dict[str, Any]]:
    """Read the CSV; amounts become integer cents so that totals are exact."""
    orders = []
    with DATA_FILE.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            quantity = int(row["quantity"])
            orders.append(
                {
                    "day": ds,
                    "order_id": int(row["order_id"]),
                    "order_time": row["order_time"],
                    "customer": row["customer"],
                    "product": row["product"],
                    "quantity": quantity,
                    "amount_cents": int(quantity * Decimal(row["unit_price"]) * 100),
                }
            )
    print(f"extract: read {len(orders)} orders for {ds} from {DATA_FILE.name}")
    return orders


@task
def transform(orders: list[dict[str, Any]], ds: str | None = None) -> dict[str, Any]:
    """Totals per product for the day, and for the whole day."""
    per_product: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"orders": 0, "quantity": 0, "revenue_cents": 0}
    )
    for order in orders:
        totals = per_product[order["product"]]
        totals["orders"] += 1
        totals["quantity"] += order["quantity"]
        totals["revenue_cents"] += order["amount_cents"]
    products = [{"day": ds, "product": name, **per_product[name]} for name in sorted(per_product)]
    revenue = sum(p["revenue_cents"] for p in products)
    print(
        f"transform: {ds}: {len(orders)} orders of {len(products)} products, "
        f"revenue {money(revenue)}"
    )
    return {"products": products, "orders": len(orders), "revenue_cents": revenue}


@task
def load(
    orders: list[dict[str, Any]],
    totals: dict[str, Any],
    ds: str | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replace the day's rows in one transaction: delete, then insert."""
    assert params is not None
    db_path = params["db_path"]
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.executescript(SCHEMA)
        deleted = conn.execute("DELETE FROM orders WHERE day = ?", (ds,)).rowcount
        conn.execute("DELETE FROM daily_product_totals WHERE day = ?", (ds,))
        conn.executemany(
            "INSERT INTO orders VALUES "
            "(:day, :order_id, :order_time, :customer, :product, :quantity, :amount_cents)",
            orders,
        )
        conn.executemany(
            "INSERT INTO daily_product_totals VALUES "
            "(:day, :product, :orders, :quantity, :revenue_cents)",
            totals["products"],
        )
    again = f", replacing {deleted} orders of an earlier run" if deleted else ""
    print(
        f"load: wrote {len(orders)} orders and {len(totals['products'])} product totals "
        f"for {ds} to {db_path}{again}"
    )
    return {"db_path": db_path, "orders": len(orders), "replaced": deleted}


@task
def report(ds: str | None = None, params: dict[str, Any] | None = None) -> int:
    """Read back what was loaded, as a check and a summary."""
    assert params is not None
    with contextlib.closing(sqlite3.connect(params["db_path"])) as conn:
        rows = conn.execute(
            "SELECT product, orders, quantity, revenue_cents FROM daily_product_totals "
            "WHERE day = ? ORDER BY revenue_cents DESC",
            (ds,),
        ).fetchall()
        days = conn.execute("SELECT COUNT(DISTINCT day) FROM orders").fetchone()[0]
    print(f"report: revenue per product on {ds}")
    print(f"  {'product':<15} {'orders':>6} {'qty':>5} {'revenue':>9}")
    for product, n, quantity, cents in rows:
        print(f"  {product:<15} {n:>6} {quantity:>5} {money(cents):>9}")
    n, quantity, cents = (sum(r[i] for r in rows) for i in (1, 2, 3))
    print(f"  {'total':<15} {n:>6} {quantity:>5} {money(cents):>9}")
    print(f"report: {params['db_path']} now holds {days} day(s) of orders")
    return cents


@dag(
    dag_id="example_etl",
    description="Daily orders CSV -> totals per product -> SQLite, idempotent per day.",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "etl"],
    params={
        "db_path": Param(
            DEFAULT_DB_PATH,
            type="string",
            minLength=1,
            description="The SQLite file to load into; created if missing.",
        ),
    },
)
def example_etl() -> None:
    """Daily orders CSV -> totals per product -> SQLite (delete-then-insert per day)."""
    orders = extract()
    totals = transform(orders)
    load(orders, totals) >> report()


example_etl_dag = example_etl()
