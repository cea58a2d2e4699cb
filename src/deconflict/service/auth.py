"""Bearer tokens: random, shown once, stored as SHA-256 (they carry 256 bits, so no slow hash is needed).

A token is replaced (`rotate_token`: by its party, or by the administrator when it may be compromised) and the old
one stops working at once in the process that replaced it, and within TOKEN_RECHECK_S in every other process
sharing the store: each process trusts a token it has looked up for that long only. Held WebSockets re-check
their token on the same schedule and are closed (4401) when it was replaced."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Request

from ..errors import Forbidden, InvalidInput, NotAuthenticated
from ..store import schema as t
from ..store.database import writing
from .engine_cache import PartyInfo
from .state import ServiceState

__all__ = ["TOKEN_RECHECK_S", "current_party", "hash_token", "new_token", "party_of_token", "require_admin",
           "rotate_token", "valid_public_key"]

TOKEN_PREFIX = "dcf_"
TOKEN_RECHECK_S = 10.0  #: how long a process trusts a token it looked up (a replaced token's longest afterlife)
TOKEN_CACHE_MAX = 10_000


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
    return party_of_token(request.app.state.svc, token.strip(), "authorization")


def party_of_token(state: ServiceState, token: str, field: str) -> PartyInfo:
    """The party holding `token` (NotAuthenticated naming `field` when none does: unknown or replaced)."""
    digest = hash_token(token)
    now = time.monotonic()
    cached = state.token_cache.get(digest)
    if cached is not None and cached[1] > now:
        return cached[0]
    with state.db.connect() as conn:
        row = conn.execute(
            sa.select(t.parties.c.id, t.parties.c.name, t.parties.c.role).where(t.parties.c.token_hash == digest)
        ).first()
    if row is None:
        state.token_cache.pop(digest, None)
        raise NotAuthenticated("unknown or revoked token", field=field)
    party = PartyInfo(row.id, row.name, row.role)
    if len(state.token_cache) >= TOKEN_CACHE_MAX:
        state.token_cache.clear()
    state.token_cache[digest] = (party, now + TOKEN_RECHECK_S)
    return party


def rotate_token(state: ServiceState, party_id: str) -> str | None:
    """Give `party_id` a new token (returned, to be shown once) in place of its current one; None: no such party."""
    token = new_token()
    with writing(state.db) as conn:
        done = conn.execute(sa.update(t.parties).where(t.parties.c.id == party_id)
                            .values(token_hash=hash_token(token)))
        if done.rowcount != 1:
            return None
    for digest, (party, _) in list(state.token_cache.items()):
        if party.id == party_id:
            state.token_cache.pop(digest, None)
    return token


def require_admin(party: PartyInfo) -> None:
    if party.role != "admin":
        raise Forbidden("only the service administrator may do this")
