"""`deconflict report`: an incident briefing of what a party knew at a time (docs/ledger.md, Reconstruction).

Two sources, one picture (core.ledger.reconstruct) and one renderer (deconflict.report):

- `--db URL`: the operator's offline tool; reads the ledger entries from the store (no service needs to run,
  nothing is written). `--party` names the party.
- `--url U --token TOK`: a party's own briefing through GET /v1/ledger/picture with its token (an
  administrator's token with `--party`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .errors import InvalidInput, NotFound

__all__ = ["picture_from_store", "report"]


def picture_from_store(db: str, party: str, at_text: str) -> dict[str, Any]:
    """The picture of `party` (name) at `at_text`, from the store's ledger entries."""
    import sqlalchemy as sa

    from .bundle import parse_time
    from .core.ledger.reconstruct import picture_at
    from .service.ledger import picture_entries
    from .store import schema as t
    from .store.database import open_database

    at = parse_time(at_text, "--at")
    engine = open_database(db, pool_size=1)
    try:
        with engine.connect() as conn:
            party_id = conn.execute(sa.select(t.parties.c.id).where(t.parties.c.name == party)).scalar_one_or_none()
            if party_id is None:
                raise NotFound(f"no party named {party!r}", field="--party")
            entries, size = picture_entries(conn, party_id, at)
    finally:
        engine.dispose()
    return {**picture_at(entries, party_id, at), "tree_size": size, "party_name": party}


def _picture_from_api(url: str, token: str, party: str | None, at: str) -> dict[str, Any]:
    from .cli_http import get_json

    body = get_json(url, token, "/v1/ledger/picture", {"at": at, **({"party": party} if party else {})})
    return {**body, "party_name": party or body.get("party_id")}


def report(
    at: str = typer.Option(..., "--at", help="The time T (RFC 3339; UTC if naive)."),
    output: Path = typer.Option(..., "-o", "--output", help="The directory for report.html and map.png."),
    party: str | None = typer.Option(None, "--party", help="The party's name (with --db; or an admin's --url)."),
    db: str | None = typer.Option(None, help="Read the store directly: a SQLite file or a postgresql:// URL."),
    url: str | None = typer.Option(None, help="Or ask a running service (GET /v1/ledger/picture)."),
    token: str | None = typer.Option(None, envvar="DECONFLICT_TOKEN", help="The bearer token for --url."),
) -> None:
    """Write DIR/report.html (map and timeline, inline SVG, offline) and DIR/map.png: what PARTY knew at T."""
    from .report import write_report

    if (db is None) == (url is None):
        raise InvalidInput("give exactly one of --db (the store) or --url (a running service)", field="--db")
    if db is not None:
        if party is None:
            raise InvalidInput("--db needs --party", field="--party")
        picture = picture_from_store(db, party, at)
    else:
        assert url is not None
        if not token:
            raise InvalidInput("--url needs --token (or DECONFLICT_TOKEN)", field="--token")
        picture = _picture_from_api(url, token, party, at)
    page, image = write_report(picture, output)
    late = sum(1 for n in picture["notifications"] if n.get("late"))
    typer.echo(f"wrote {page} and {image}: {len(picture['declarations'])} declarations, "
               f"{len(picture['notifications'])} notifications ({late} late), {len(picture['alerts'])} alerts, "
               f"{len(picture['tracks'])} tracks")
