"""`deconflict export`, `deconflict verify` and `deconflict ledger key`: the tamper-evident record, offline.

`export` writes what one party may see over a time range as a JSON bundle (deconflict.bundle, docs/ledger.md),
either as the operator's offline tool (`--db`, SQLite file or postgresql:// URL: reads the store directly; no
service needs to run, nothing is written) or as the party itself (`--url --token`: GET /v1/ledger/export):
the entries listing the party, in full, each with its inclusion proof against a signed tree head of the bundle;
the signed heads (with their stored cosignatures) and a consistency proof between each head and the next.
Leaf hashes and proofs are recomputed from the stored entry bytes, so a stored entry changed after it was signed
yields a bundle that fails verification rather than a bundle that hides the change.

`verify` needs no database and no network: the bundle and public key files. The first `--key` is the service's;
every further `--key` is a party's, whose cosignatures are checked and which must have cosigned at least one
head of the bundle. It prints the first break (which part, its position, the entry's log index, what failed)
and exits 1, or prints what it verified and exits 0.

`ledger key` writes the service's public key (PEM) from the store; `GET /v1/ledger/key` serves the same key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from .bundle import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    BundleFormatError,
    bundle_from_json,
    bundle_to_json,
    export_bundle,
)
from .bundle import parse_time as _parse_time
from .core.ledger import key_id, verify_bundle
from .errors import InvalidInput, NotFound

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "BundleFormatError", "bundle_from_json", "bundle_to_json",
           "export", "export_bundle", "ledger_app", "load_public_key", "verify"]

ledger_app = typer.Typer(no_args_is_help=True, help="The tamper-evident record (keys).")


def export(
    party: str | None = typer.Option(None, "--party", help="The party's name: the bundle holds the entries listing "
                                     "it (with --db; with --url only for an administrator's token)."),
    start: str = typer.Option("1970-01-01T00:00:00Z", "--from", help="Start of the range (RFC 3339; UTC if naive)."),
    end: str | None = typer.Option(None, "--to", help="End of the range (RFC 3339; default: now)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the bundle (JSON)."),
    db: str = typer.Option("deconflict.sqlite", help="The store: a SQLite file, or a postgresql:// URL."),
    url: str | None = typer.Option(None, help="Instead of the store: a running service (GET /v1/ledger/export)."),
    token: str | None = typer.Option(None, envvar="DECONFLICT_TOKEN", help="The party's bearer token for --url."),
) -> None:
    """Write what PARTY may see between --from and --to as a verifiable bundle: read from the store (offline,
    the operator's tool) or, with --url and the party's --token, fetched from the service."""
    t1 = _parse_time(start, "--from")
    t2 = datetime.now(UTC) if end is None else _parse_time(end, "--to")
    if t2 < t1:
        raise InvalidInput("--to is before --from", field="--to")
    if url is not None:
        doc, notes = _fetch_bundle(url, token, party, t1, t2)
    else:
        from .store.database import open_database

        if party is None:
            raise InvalidInput("--db needs --party", field="--party")
        engine = open_database(db, pool_size=1)
        try:
            bundle, labels, notes = export_bundle(engine, party, t1, t2)
        finally:
            engine.dispose()
        doc = bundle_to_json(bundle, labels)
    output.write_text(json.dumps(doc, indent=1) + "\n")
    heads = doc["heads"]
    typer.echo(f"wrote {output}: {len(doc['entries'])} entries, {len(heads)} signed heads "
               f"(sizes {heads[0]['size']}..{heads[-1]['size']}), {len(doc['consistency'])} consistency proofs")
    for note in notes:
        typer.echo(f"warning: {note}", err=True)


def _fetch_bundle(url: str, token: str | None, party: str | None, start: datetime, end: datetime
                  ) -> tuple[dict[str, Any], list[str]]:
    """The bundle GET /v1/ledger/export answers (the same document `export_bundle` builds), and its notes."""
    from .cli_http import get_json

    if not token:
        raise InvalidInput("--url needs --token (or DECONFLICT_TOKEN)", field="--token")
    params = {"from": start.isoformat(), "to": end.isoformat(), **({"party": party} if party else {})}
    doc = get_json(url, token, "/v1/ledger/export", params, timeout=300)
    notes = doc.pop("notes", [])
    return doc, [str(n) for n in notes]


# -- keys and verification -------------------------------------------------------------------------------------

def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key file: PEM (SubjectPublicKeyInfo), the raw 32 bytes in base64 (as registered with
    PUT /v1/parties/me/key), or the JSON GET /v1/ledger/key answers."""
    text = path.read_text().strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode("ascii"))
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not an Ed25519 key")
            return key
        if text.startswith("{"):
            text = str(json.loads(text)["public_key"])
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInput(f"{path} is not an Ed25519 public key ({exc})", field="--key") from None


def _pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def verify(
    bundle_file: Path = typer.Argument(..., help="The bundle (JSON) written by `deconflict export`."),
    keys: list[Path] = typer.Option(..., "--key", help="The service's public key, then any parties' keys whose "
                                    "cosignatures must be present and valid."),
) -> None:
    """Check every signature and proof of a bundle with no database and no network; report the first break."""
    service, *parties = [load_public_key(k) for k in keys]
    broken = _verify(bundle_file, service, parties)
    if broken is not None:
        typer.echo(f"BROKEN: {broken}")
        raise typer.Exit(1)


def _verify(bundle_file: Path, service: Ed25519PublicKey, parties: Sequence[Ed25519PublicKey]) -> str | None:
    try:
        doc = json.loads(bundle_file.read_bytes())
        bundle = bundle_from_json(doc)
    except (ValueError, UnicodeDecodeError) as exc:  # JSON errors, and BundleFormatError (an InvalidInput)
        where = f"{exc.field}: " if isinstance(exc, InvalidInput) and exc.field else ""
        message = exc.message if isinstance(exc, InvalidInput) else str(exc)
        return f"bundle: malformed: {where}{message}"
    ring = {key_id(k): k for k in parties}
    report = verify_bundle(bundle, service, ring, ignore_unknown_cosigners=True, check_canonical=True)
    if report.first_break is not None:
        return str(report.first_break)
    for kid in ring:
        if not any(c.key_id == kid for h in bundle.heads for c in h.cosignatures):
            return (f"bundle: cosignature_missing: party key {kid.hex()[:16]}… cosigned none of the "
                    f"{len(bundle.heads)} heads")
    unchecked = sum(1 for h in bundle.heads for c in h.cosignatures if c.key_id not in ring)
    typer.echo(f"OK: {report.heads} signed heads (sizes {bundle.heads[0].size}..{bundle.heads[-1].size}), "
               f"{report.cosignatures} cosignatures, {report.consistency_proofs} consistency proofs, "
               f"{report.entries} entries verified"
               + (f"; {unchecked} cosignatures by keys not given were not checked" if unchecked else ""))
    return None


@ledger_app.command("key")
def key(
    db: str = typer.Option("deconflict.sqlite", help="The store: a SQLite file, or a postgresql:// URL."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the key (PEM) here (default: print)."),
) -> None:
    """The service's current public ledger key (PEM), read from the store; GET /v1/ledger/key serves the same."""
    from .store import schema as t
    from .store.database import open_database

    engine = open_database(db, pool_size=1)
    try:
        with engine.connect() as conn:
            k = t.service_keys.c
            raw = conn.execute(sa.select(k.public_key).where(k.retired_at.is_(None)).order_by(k.created_at.desc())
                               .limit(1)).scalar_one_or_none()
    finally:
        engine.dispose()
    if raw is None:
        raise NotFound("the store has no ledger key yet (the service creates it on first start)", field="--db")
    pem = _pem(Ed25519PublicKey.from_public_bytes(bytes(raw)))
    if output is None:
        typer.echo(pem, nl=False)
    else:
        output.write_text(pem)
        typer.echo(f"wrote {output} (key id {key_id(Ed25519PublicKey.from_public_bytes(bytes(raw))).hex()})")


@ledger_app.command("audit")
def audit(
    db: str = typer.Option("deconflict.sqlite", help="The store: a SQLite file, or a postgresql:// URL."),
) -> None:
    """Recompute the Merkle tree from the stored entries and check it against every signed tree head (and the
    stored cosignatures); prints OK, or BROKEN with each problem found, and exits 1."""
    from .ledger_audit import audit_store
    from .store.database import open_database

    engine = open_database(db, pool_size=1)
    try:
        report = audit_store(engine)
    finally:
        engine.dispose()
    if not report.ok:
        for problem in report.problems:
            typer.echo(f"BROKEN: {problem}")
        raise typer.Exit(1)
    typer.echo(f"OK: {report.entries} entries, {report.heads} signed heads match the stored log, "
               f"{report.cosignatures} cosignatures verified"
               + (f", {report.unchecked_cosignatures} by keys no longer registered not checked"
                  if report.unchecked_cosignatures else "")
               + (f"; {report.unsigned} entries not yet in a signed head" if report.unsigned else ""))


@ledger_app.command("rotate-key")
def rotate_key_command(
    db: str = typer.Option("deconflict.sqlite", help="The store: a SQLite file, or a postgresql:// URL."),
) -> None:
    """Retire the service's ledger key for a new one (a running service signs its next head with the new key; the
    rotation record, signed by both keys, keeps the old heads verifiable). POST /v1/ledger/key/rotate does the
    same for the administrator."""
    from .service.ledger import rotate_key
    from .store.database import open_database

    engine = open_database(db, pool_size=1)
    try:
        rotation = rotate_key(engine, datetime.now(UTC))
    finally:
        engine.dispose()
    old, new = (Ed25519PublicKey.from_public_bytes(k) for k in (rotation.old_key, rotation.new_key))
    typer.echo(f"rotated the service key {key_id(old).hex()[:16]}… -> {key_id(new).hex()[:16]}…")


ledger_app.command("cosign")(__import__("deconflict.cli_witness", fromlist=["*"]).cosign_command)
