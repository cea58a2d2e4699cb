"""Opening the store: SQLite (embedded default, WAL, durable on commit) or PostgreSQL (psycopg 3); migrations.

`--db` takes a file path (SQLite), `sqlite:///path`, or `postgresql://...`. Write transactions on SQLite begin
IMMEDIATE, so a check-and-write holds the single writer lock from its first read; with `synchronous=FULL` a
commit that returned is on disk (the WAL is fsynced), which is what "durable once acknowledged" asks.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event

from ..errors import InvalidInput

__all__ = ["after_commit", "database_url", "is_postgres", "migrate", "open_database", "writing"]

_WRITE_LOCKS: weakref.WeakKeyDictionary[sa.Engine, threading.Lock] = weakref.WeakKeyDictionary()
_LISTENERS: weakref.WeakKeyDictionary[sa.Engine, list[Callable[[], None]]] = weakref.WeakKeyDictionary()
WRITE = {"deconflict_write": True}  #: execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)


def database_url(db: str) -> str:
    """A SQLAlchemy URL from what a user types: a path, or a sqlite:// / postgresql:// URL."""
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    if db.startswith(("postgresql+psycopg://", "sqlite://")):
        return db
    if "://" in db:
        raise InvalidInput("only SQLite files and postgresql:// URLs are supported", field="--db")
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def is_postgres(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


def open_database(db: str, *, pool_size: int = 8) -> sa.Engine:
    """An engine for `db` with the pragmas and pool this service relies on."""
    url = database_url(db)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                  pool_size=pool_size, max_overflow=pool_size)
        _sqlite_hooks(engine)
        _WRITE_LOCKS[engine] = threading.Lock()
        return engine
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_hooks(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        writes = conn.get_execution_options().get("deconflict_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction; after it commits, this process's `after_commit` listeners run (the stream hub wakes).

    On SQLite, this process's writers queue on a lock first: SQLite has one writer, and a writer that finds it
    busy sleeps in growing steps (up to 100 ms) instead of queueing, which ruins p99."""
    lock = _WRITE_LOCKS.get(engine)
    if lock is None:
        with engine.connect().execution_options(**WRITE) as conn, conn.begin():
            yield conn
    else:
        with lock, engine.connect().execution_options(**WRITE) as conn, conn.begin():
            yield conn
    for listener in _LISTENERS.get(engine, ()):
        listener()


def after_commit(engine: sa.Engine, listener: Callable[[], None]) -> None:
    """Call `listener` (from the committing thread) after every write transaction through `writing`."""
    _LISTENERS.setdefault(engine, []).append(listener)


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("deconflict.store") / "migrations"))
    config.attributes["connection"] = connection
    return config


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (idempotent; safe to run at every start)."""
    with engine.connect() as connection:
        if is_postgres(engine):  # several processes may start at once
            connection.execute(sa.text("SELECT pg_advisory_lock(7262018)"))
        try:
            command.upgrade(_alembic_config(connection), "head")
            connection.commit()
        finally:
            if is_postgres(engine):
                connection.execute(sa.text("SELECT pg_advisory_unlock(7262018)"))
                connection.commit()
