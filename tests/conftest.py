"""Fixtures for service tests: a real uvicorn server on a real store, SQLite and PostgreSQL alike.

Every test that takes `service` runs once per backend. PostgreSQL tests use the local server
(DECONFLICT_TEST_PG, default postgresql://postgres@127.0.0.1:5432/test), each in its own schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from deconflict.service.server import RunningService, start_in_thread

from .service_helpers import T0, ManualClock

PG_URL = os.environ.get("DECONFLICT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield str(tmp_path / "deconflict.sqlite")
        return
    with _pg_schema() as url:
        yield url


@pytest.fixture
def pg_db_url() -> Iterator[str]:
    """A fresh PostgreSQL schema, for what only PostgreSQL offers (several processes with advisory locks)."""
    with _pg_schema() as url:
        yield url


@contextmanager
def _pg_schema() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine("postgresql+psycopg://" + PG_URL.split("://", 1)[1])
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _close_http_clients() -> Iterator[None]:
    yield
    from .service_helpers import Api

    Api.close_all()


@pytest.fixture
def service(db_url: str) -> Iterator[RunningService]:
    running = start_in_thread(db_url)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def clock() -> ManualClock:
    """Time that moves only when the test says (start: T0)."""
    return ManualClock(T0)


@pytest.fixture
def timed(db_url: str, clock: ManualClock) -> Iterator[RunningService]:
    """A service on `clock`, with no scheduler thread: the test calls `scheduler.tick` itself."""
    running = start_in_thread(db_url, clock=clock, scheduler=False)
    try:
        yield running
    finally:
        running.stop()
