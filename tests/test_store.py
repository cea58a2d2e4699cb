"""The store: migrations match the schema the code uses, and an acknowledged write survives a hard kill."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from deconflict.store.database import migrate, open_database
from deconflict.store.schema import metadata

from .service_helpers import vol
from .test_concurrency import _start


def test_migrations_build_exactly_the_schema_in_code(db_url: str) -> None:
    engine = open_database(db_url)
    try:
        migrate(engine)
        migrate(engine)  # idempotent: a second start changes nothing
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        assert diff == []
        assert version == "0011"
    finally:
        engine.dispose()


def test_an_acknowledged_declaration_survives_kill_9(db_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "admin"
    proc, url = _start(db_url, token_file)
    try:
        admin = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        party = httpx.post(url + "/v1/parties", json={"name": "air"}, headers=admin).json()
        air = {"Authorization": f"Bearer {party['token']}"}
        created = httpx.post(url + "/v1/declarations", json={"kind": "flight", "volumes": [vol(35.0, 36.0)]},
                             headers=air)
        assert created.status_code == 201
    finally:
        proc.send_signal(signal.SIGKILL)  # no shutdown, no flush: only what was committed remains
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
    proc, url = _start(db_url, tmp_path / "unused")
    try:
        again = httpx.get(url + f"/v1/declarations/{created.json()['declaration']['id']}", headers=air)
        assert again.status_code == 200
        assert again.json()["declaration"]["volumes"] == created.json()["declaration"]["volumes"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
