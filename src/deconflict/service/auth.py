"""Bearer tokens: random, shown once, stored as SHA-256 (they carry 256 bits, so no slow hash is needed)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Request

from ..errors import Forbidden, InvalidInput, NotAuthenticated
from ..store import schema as t
from .engine_cache import PartyInfo

__all__ = ["current_party", "hash_token", "new_token", "require_admin", "valid_public_key"]

TOKEN_PREFIX = "dcf_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def valid_public_key(value: str, field: str = "public_key") -> str:
    """An Ed25519 public key as 32 bytes of base64; returned normalised."""
    try:
        raw = base64.b64decode(value, validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise InvalidInput("must be an Ed25519 public key: 32 bytes in base64", field=field) from None
    return base64.b64encode(raw).decode()


def current_party(request: Request) -> PartyInfo:
    """The party whose token the request carries (FastAPI dependency). The token itself is never logged."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send 'Authorization: Bearer <token>'", field="authorization")
    state = request.app.state.svc
    digest = hash_token(token.strip())
    cached = state.token_cache.get(digest)
    if cached is not None:
        return cached
    with state.db.connect() as conn:
        row = conn.execute(
            sa.select(t.parties.c.id, t.parties.c.name, t.parties.c.role).where(t.parties.c.token_hash == digest)
        ).first()
    if row is None:
        raise NotAuthenticated("unknown or revoked token", field="authorization")
    party = PartyInfo(row.id, row.name, row.role)
    if len(state.token_cache) > 10_000:
        state.token_cache.clear()
    state.token_cache[digest] = party
    return party


def require_admin(party: PartyInfo) -> None:
    if party.role != "admin":
        raise Forbidden("only the service administrator may do this")
