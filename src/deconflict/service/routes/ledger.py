"""The ledger (issue 5): the service's public key, the latest signed tree head with its cosignatures, witnessing
(a party countersigns a head with its registered Ed25519 key), entries with inclusion proofs (need-to-know: a
party fetches only entries it is party to; the administrator all), consistency proofs.

Bytes (entries, hashes, keys, signatures) are standard base64."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Annotated, Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ...core.ledger import Cosignature, KeyRotation, SignedTreeHead, check_cosignature, key_id
from ...core.ledger.reconstruct import parse_time
from ...errors import Conflict, Forbidden, InvalidInput, MalformedRequest, NotFound
from ...store import schema as t
from ...store.database import writing
from ..auth import current_party
from ..bodies import parse_body, strict_query
from ..engine_cache import PartyInfo
from ..ledger import (
    consistency,
    entry_with_proof,
    head_of_size,
    latest_head,
    picture,
    public_key,
    rotate_key,
    rotations,
)
from ..state import ServiceState

router = APIRouter(prefix="/v1/ledger", tags=["ledger"], dependencies=[Depends(strict_query)])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def head_json(head: SignedTreeHead) -> dict[str, Any]:
    out: dict[str, Any] = {"size": head.size, "root": b64(head.root), "timestamp_ms": head.timestamp_ms,
                           "key_id": b64(head.key_id), "signature": b64(head.signature)}
    if head.cosignatures:
        out["cosignatures"] = [{"key_id": b64(c.key_id), "cosigned_at_ms": c.cosigned_at_ms,
                                "signature": b64(c.signature)} for c in head.cosignatures]
    return out


def with_cosignatures(conn: sa.Connection, head: SignedTreeHead) -> SignedTreeHead:
    """`head` with the cosignatures stored for it, in the order they were stored."""
    c = t.tree_head_cosignatures.c
    rows = conn.execute(sa.select(c.key_id, c.cosigned_at_ms, c.signature).where(c.size == head.size)
                        .order_by(c.created_at, c.key_id)).all()
    return replace(head, cosignatures=tuple(Cosignature(bytes(r.key_id), int(r.cosigned_at_ms), bytes(r.signature))
                                            for r in rows))


MAX_INDEX = 2**62  #: sizes and indices beyond any log (the store's integers are 64-bit signed)


class CosignIn(BaseModel):
    """A party's cosignature of a tree head: its Ed25519 signature over the cosignature bytes of the head
    (core.ledger.tree_head: b"deconflict/cosignature/v1\\x00", the head's signed bytes, u64 cosigned_at_ms)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    cosigned_at_ms: int = Field(ge=0, le=2**62, description="When the party saw the head (ms since epoch).")
    signature: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{86}==$")] = Field(
        description="Ed25519 signature: 64 bytes in base64.")


def _cosign(state: ServiceState, party_id: str, size: int, body: CosignIn) -> SignedTreeHead:
    """Verify the party's cosignature of the head of `size` against its registered key and store it."""
    try:
        signature = base64.b64decode(body.signature, validate=True)
    except binascii.Error:
        raise InvalidInput("must be 64 bytes in base64", field="signature") from None
    with writing(state.db) as conn:
        registered = conn.execute(sa.select(t.parties.c.public_key).where(t.parties.c.id == party_id)
                                  ).scalar_one_or_none()
        if registered is None:
            raise Conflict("register an Ed25519 public key first (PUT /v1/parties/me/key)", field="public_key")
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(registered))
        head = head_of_size(conn, size)
        if head is None:
            raise NotFound(f"no signed tree head of size {size}", field="size")
        cos = Cosignature(key_id(key), body.cosigned_at_ms, signature)
        problem = check_cosignature(head.head, cos, {cos.key_id: key})
        if problem is not None:
            raise InvalidInput(f"the cosignature does not verify with the caller's registered key "
                               f"({problem.reason.value})", field="signature")
        c = t.tree_head_cosignatures.c
        if conn.execute(sa.select(c.size).where(c.size == size, c.key_id == cos.key_id)).first() is not None:
            raise Conflict("this key has already cosigned this tree head", field="size")
        conn.execute(sa.insert(t.tree_head_cosignatures).values(
            size=size, key_id=cos.key_id, party_id=party_id, cosigned_at_ms=cos.cosigned_at_ms,
            signature=signature, created_at=state.clock()))
        return with_cosignatures(conn, head)


def rotation_json(r: KeyRotation) -> dict[str, Any]:
    return {"old_key": b64(r.old_key), "new_key": b64(r.new_key), "rotated_at_ms": r.rotated_at_ms,
            "old_signature": b64(r.old_signature), "new_signature": b64(r.new_signature)}


def _key_json(state: ServiceState) -> dict[str, Any]:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = public_key(state)
    with state.db.connect() as conn:
        history = rotations(conn)
    return {"algorithm": "Ed25519", "key_id": b64(key_id(key)),
            "public_key": b64(key.public_bytes(Encoding.Raw, PublicFormat.Raw)),
            "public_key_pem": key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii"),
            "rotations": [rotation_json(r) for r in history]}


@router.get("/key", summary="The service's Ed25519 public key, which signs the tree heads, and its rotations")
async def get_key(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    return await run_in_threadpool(_key_json, request.app.state.svc)


@router.post("/key/rotate", status_code=201, summary="Administrator: retire the service key for a new one "
             "(heads from now on are signed by the new key; the rotation record, signed by both, ties them)")
async def post_rotate(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    if party.role != "admin":
        raise Forbidden("only the administrator rotates the service key", field="authorization")
    state: ServiceState = request.app.state.svc

    def rotate() -> dict[str, Any]:
        rotate_key(state.db, state.clock())
        return _key_json(state)

    return await run_in_threadpool(rotate)


@router.get("/tree-head", summary="The latest signed tree head")
async def get_tree_head(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    state: ServiceState = request.app.state.svc

    def read() -> SignedTreeHead | None:
        with state.db.connect() as conn:
            head = latest_head(conn)
            return None if head is None else with_cosignatures(conn, head)

    head = await run_in_threadpool(read)
    if head is None:
        raise NotFound("no tree head has been signed yet", field="tree_head")
    return {"tree_head": head_json(head)}


@router.post("/tree-head/{size}/cosign", status_code=201,
             summary="Witness a signed tree head: countersign it with the caller's registered Ed25519 key",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": CosignIn.model_json_schema()}}}})
async def post_cosign(request: Request, size: Annotated[int, Path(ge=0, le=MAX_INDEX)],
                      party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    body = await parse_body(request, CosignIn)
    head = await run_in_threadpool(_cosign, request.app.state.svc, party.id, size, body)
    return {"tree_head": head_json(head)}


@router.get("/entries/{idx}", summary="One entry the caller is party to, with its inclusion proof against the "
            "latest signed tree head")
async def get_entry(idx: Annotated[int, Path(ge=0, le=MAX_INDEX)], request: Request,
                    party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    found = await run_in_threadpool(entry_with_proof, request.app.state.svc, party.id, party.role == "admin", idx)
    if found is None:
        raise NotFound("no such entry in a signed tree head, or none the caller may see", field="idx")
    return {"index": found.index, "entry": b64(found.entry), "tree_head": head_json(found.head),
            "proof": [b64(h) for h in found.proof]}


@router.get("/consistency", summary="Proof that the tree of `first` entries is a prefix of the tree of `second`")
async def get_consistency(
    request: Request, party: PartyInfo = Depends(current_party),
    first: int = Query(..., ge=0, le=MAX_INDEX, description="The older tree size"),
    second: int | None = Query(None, ge=0, le=MAX_INDEX,
                               description="The newer tree size (default: the latest head's)"),
) -> dict[str, Any]:
    found = await run_in_threadpool(consistency, request.app.state.svc, first, second)
    if found is None:
        raise NotFound("no such pair of tree sizes: second beyond the latest signed head, or first above second",
                       field="second")
    old, new, proof, old_head, new_head = found
    return {"first": old, "second": new, "proof": [b64(h) for h in proof],
            "first_tree_head": head_json(old_head) if old_head is not None else None,
            "second_tree_head": head_json(new_head) if new_head is not None else None}


def _viewer(state: ServiceState, caller: PartyInfo, party: str | None) -> str:
    """Whose picture: the caller's own; the administrator names a party (by name or id)."""
    if party is None:
        if caller.role == "admin":
            raise MalformedRequest("the administrator names the party whose picture to draw", field="party")
        return caller.id
    if caller.role != "admin":
        if party not in (caller.id, caller.name):
            raise Forbidden("a party sees only its own picture", field="party")
        return caller.id
    p = t.parties.c
    with state.db.connect() as conn:
        found = conn.execute(sa.select(p.id).where(sa.or_(p.name == party, p.id == party))).scalar()
    if found is None:
        raise NotFound(f"no party {party!r}", field="party")
    return str(found)


@router.get("/picture", summary="What a party knew at a time, reconstructed from the ledger entries it may see")
async def get_picture(
    request: Request, party: PartyInfo = Depends(current_party),
    at: str = Query(..., max_length=64, description="The time (RFC 3339; UTC when it has no offset)"),
    of: str | None = Query(None, alias="party", max_length=200,
                           description="Administrator only: the party (name or id) whose picture to draw"),
) -> dict[str, Any]:
    when = parse_time(at)
    if when is None:
        raise MalformedRequest(f"{at!r} is not an RFC 3339 time", field="at")
    state: ServiceState = request.app.state.svc
    viewer = await run_in_threadpool(_viewer, state, party, of)
    return await run_in_threadpool(picture, state, viewer, when)


@router.get("/export", summary="The caller's ledger bundle for a time range: its entries with inclusion proofs, "
            "the signed heads and consistency proofs (the format `deconflict export` writes; docs/ledger.md)")
async def get_export(
    request: Request, party: PartyInfo = Depends(current_party),
    start: str = Query("1970-01-01T00:00:00Z", alias="from", max_length=64,
                       description="Start of the range (RFC 3339; UTC when it has no offset)"),
    end: str | None = Query(None, alias="to", max_length=64, description="End of the range (default: now)"),
    of: str | None = Query(None, alias="party", max_length=200,
                           description="Administrator only: the party (name or id) whose bundle to export"),
) -> dict[str, Any]:
    from ...bundle import bundle_to_json, export_bundle

    state: ServiceState = request.app.state.svc
    t1 = parse_time(start)
    if t1 is None:
        raise MalformedRequest(f"{start!r} is not an RFC 3339 time", field="from")
    t2 = state.clock() if end is None else parse_time(end)
    if t2 is None:
        raise MalformedRequest(f"{end!r} is not an RFC 3339 time", field="to")
    if t2 < t1:
        raise InvalidInput("`to` is before `from`", field="to")
    viewer = await run_in_threadpool(_viewer, state, party, of)

    def build() -> dict[str, Any]:
        try:
            bundle, labels, notes = export_bundle(state.db, viewer, t1, t2)
        except NotFound as exc:
            raise NotFound(exc.message, field="from" if exc.field == "--from" else "party") from None
        return {**bundle_to_json(bundle, labels), "notes": notes}

    return await run_in_threadpool(build)
