"""Engines and sessions: one per process, made from the database URL in the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from sluice.core.errors import StoreError
from sluice.store.cipher import Cipher

CIPHER = "cipher"
"""The key of ``session.info`` that holds the store's Cipher (None without a Fernet key)."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL and the pragmas a busy scheduler needs."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {url!r}: {exc}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername="mysql+pymysql")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800}
    if parsed.get_backend_name() == "mysql":
        options["isolation_level"] = "READ COMMITTED"
    options.update(kwargs)
    try:
        return create_engine(parsed, **options)
    except (ArgumentError, ModuleNotFoundError) as exc:
        raise StoreError(f"cannot use database URL {parsed!r}: {exc}") from None


READ_ONLY = "sluice_read_only"
"""A connection execution option: the transaction only reads (on SQLite it then takes no
write lock)."""


def _sqlite_begin(conn: Connection) -> None:
    # Let SQLAlchemy, not the driver, open transactions: BEGIN IMMEDIATE takes the write
    # lock up front, so two writers queue instead of deadlocking.
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
    # The driver's own transaction handling is off; SQLAlchemy's "begin" event issues BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: Engine, cipher: Cipher | None = None) -> sessionmaker[Session]:
    """Sessions that keep loaded rows usable after commit (no lazy reload per attribute),
    each carrying ``cipher`` in ``session.info`` for the code that reads or writes secrets."""
    return sessionmaker(engine, expire_on_commit=False, info={CIPHER: cipher})


def session_cipher(session: Session) -> Cipher | None:
    """The Cipher of the store that made ``session`` (None without a Fernet key)."""
    cipher = session.info.get(CIPHER)
    return cipher if isinstance(cipher, Cipher) else None


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    with factory() as session, session.begin():
        yield session


class Store:
    """The database of one process: an engine and its sessions; ``cipher`` encrypts the
    secrets its sessions write (without one, writing a secret is refused)."""

    def __init__(self, url: str, *, cipher: Cipher | None = None, **engine_options: Any) -> None:
        self.url = url
        self.cipher = cipher
        self.engine = make_engine(url, **engine_options)
        self.sessions = session_factory(self.engine, cipher)

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql``."""
        return self.engine.dialect.name

    def transaction(self) -> Any:
        """A session in one transaction (a context manager)."""
        return transaction(self.sessions)

    def dispose(self) -> None:
        """Close every pooled connection (after a fork, or at exit)."""
        self.engine.dispose()

    def after_fork(self) -> None:
        """In a forked child: drop the parent's pooled connections unclosed (they are the
        parent's to close); the child opens its own."""
        self.engine.dispose(close=False)
