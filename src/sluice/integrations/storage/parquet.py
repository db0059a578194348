"""Rows to a Parquet file and back, a batch at a time, with pyarrow.

pyarrow is an optional dependency (``pip install 'sluice[parquet]'``), imported when a
file is written or read. A column's type is inferred from its first non-null values
(rows are held until every column has shown one, or ``INFER_ROWS`` have been read); a
column that never holds a value is written as text. Decimals are widened to 38 digits so
that later, larger values fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sluice.integrations.errors import IntegrationError

INFER_ROWS = 100_000
"""At most this many rows are held while looking for a value of every column."""
Row = tuple[Any, ...]


class ParquetError(IntegrationError):
    """Raised when rows cannot be written as Parquet or a Parquet file cannot be read."""


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ParquetError(
            "file_format 'parquet' needs pyarrow, which is not installed: pip install"
            " 'sluice[parquet]'"
        ) from None
    return pyarrow, pyarrow.parquet


def write_parquet(path: Path, columns: Sequence[str], batches: Iterable[list[Row]]) -> int:
    """Write the row batches to ``path`` as one Parquet file; returns how many rows."""
    pa, pq = _pyarrow()
    held: list[list[Row]] = []
    held_rows = 0
    writer: Any = None
    schema: Any = None
    count = 0
    try:
        for batch in batches:
            if not batch:
                continue
            if writer is None:
                held.append(batch)
                held_rows += len(batch)
                if held_rows < INFER_ROWS and not _every_column_known(len(columns), held):
                    continue
                schema = _schema(pa, columns, held)
                writer = pq.ParquetWriter(str(path), schema)
                for kept in held:
                    count += _write(pa, writer, schema, kept, count)
                held = []
                continue
            count += _write(pa, writer, schema, batch, count)
        if writer is None:
            schema = _schema(pa, columns, held)
            writer = pq.ParquetWriter(str(path), schema)
            for kept in held:
                count += _write(pa, writer, schema, kept, count)
    finally:
        if writer is not None:
            writer.close()
    return count


def _every_column_known(width: int, held: list[list[Row]]) -> bool:
    known = [False] * width
    for batch in held:
        for row in batch:
            for i, value in enumerate(row):
                if value is not None:
                    known[i] = True
    return all(known)


def _schema(pa: Any, columns: Sequence[str], held: list[list[Row]]) -> Any:
    fields = []
    for i, name in enumerate(columns):
        values = [row[i] for batch in held for row in batch if row[i] is not None]
        fields.append(pa.field(name, _arrow_type(pa, name, values[:1000])))
    return pa.schema(fields)


def _arrow_type(pa: Any, name: str, values: list[Any]) -> Any:
    if not values:
        return pa.string()
    try:
        inferred = pa.array(values).type
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ParquetError(
            f"column {name!r} mixes values Parquet cannot hold in one column"
            f" ({_kinds(values)}): {exc}; CAST it to one type in the query"
        ) from None
    if pa.types.is_decimal(inferred):
        scale = max(inferred.scale, 0)
        return pa.decimal128(38, scale) if inferred.precision <= 38 else inferred
    return inferred


def _write(pa: Any, writer: Any, schema: Any, batch: list[Row], before: int) -> int:
    arrays = []
    for i, field in enumerate(schema):
        values = [row[i] for row in batch]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise ParquetError(
                f"column {field.name!r}, in rows {before + 1} to {before + len(batch)}: a value"
                f" does not fit the column's type {field.type}, inferred from its first"
                f" values: {exc}; CAST the column to one type in the query"
            ) from None
    writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
    return len(batch)


def _kinds(values: list[Any]) -> str:
    return ", ".join(sorted({type(v).__name__ for v in values}))


def parquet_columns(path: Path) -> list[str]:
    """The column names of a Parquet file."""
    _, pq = _pyarrow()
    try:
        return list(pq.ParquetFile(str(path)).schema_arrow.names)
    except Exception as exc:
        raise ParquetError(f"cannot read {path} as Parquet: {exc}") from None


def read_parquet(path: Path, batch_size: int, *, plain_values: bool = False) -> Iterator[Row]:
    """The rows of a Parquet file, read ``batch_size`` at a time.

    ``plain_values`` turns Decimal into text and dates and times into ISO 8601 text, for a
    driver that cannot bind them (SQLite's).
    """
    _, pq = _pyarrow()
    try:
        source = pq.ParquetFile(str(path))
    except Exception as exc:
        raise ParquetError(f"cannot read {path} as Parquet: {exc}") from None
    try:
        for batch in source.iter_batches(batch_size=batch_size):
            columns = [column.to_pylist() for column in batch.columns]
            for row in zip(*columns, strict=True):
                yield tuple(_plain(v) for v in row) if plain_values else row
    finally:
        source.close()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value
