"""The ledger (issue 5): the service's public key, the latest signed tree head, entries with inclusion proofs
(need-to-know: a party fetches only entries it is party to; the administrator all), consistency proofs.

Bytes (entries, hashes, keys, signatures) are standard base64."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from ...core.ledger import SignedTreeHead, key_id
from ...errors import NotFound
from ..auth import current_party
from ..bodies import strict_query
from ..engine_cache import PartyInfo
from ..ledger import consistency, entry_with_proof, latest_head, public_key
from ..state import ServiceState

router = APIRouter(prefix="/v1/ledger", tags=["ledger"], dependencies=[Depends(strict_query)])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def head_json(head: SignedTreeHead) -> dict[str, Any]:
    return {"size": head.size, "root": b64(head.root), "timestamp_ms": head.timestamp_ms,
            "key_id": b64(head.key_id), "signature": b64(head.signature)}


@router.get("/key", summary="The service's Ed25519 public key, which signs the tree heads")
async def get_key(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = await run_in_threadpool(public_key, request.app.state.svc)
    return {"algorithm": "Ed25519", "key_id": b64(key_id(key)),
            "public_key": b64(key.public_bytes(Encoding.Raw, PublicFormat.Raw)),
            "public_key_pem": key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")}


@router.get("/tree-head", summary="The latest signed tree head")
async def get_tree_head(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    state: ServiceState = request.app.state.svc

    def read() -> SignedTreeHead | None:
        with state.db.connect() as conn:
            return latest_head(conn)

    head = await run_in_threadpool(read)
    if head is None:
        raise NotFound("no tree head has been signed yet", field="tree_head")
    return {"tree_head": head_json(head)}


@router.get("/entries/{idx}", summary="One entry the caller is party to, with its inclusion proof against the "
            "latest signed tree head")
async def get_entry(idx: int, request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    found = await run_in_threadpool(entry_with_proof, request.app.state.svc, party.id, party.role == "admin", idx)
    if found is None:
        raise NotFound("no such entry in a signed tree head, or none the caller may see", field="idx")
    return {"index": found.index, "entry": b64(found.entry), "tree_head": head_json(found.head),
            "proof": [b64(h) for h in found.proof]}


@router.get("/consistency", summary="Proof that the tree of `first` entries is a prefix of the tree of `second`")
async def get_consistency(
    request: Request, party: PartyInfo = Depends(current_party),
    first: int = Query(..., ge=0, description="The older tree size"),
    second: int | None = Query(None, ge=0, description="The newer tree size (default: the latest head's)"),
) -> dict[str, Any]:
    found = await run_in_threadpool(consistency, request.app.state.svc, first, second)
    if found is None:
        raise NotFound("no such pair of tree sizes: second beyond the latest signed head, or first above second",
                       field="second")
    old, new, proof, old_head, new_head = found
    return {"first": old, "second": new, "proof": [b64(h) for h in proof],
            "first_tree_head": head_json(old_head) if old_head is not None else None,
            "second_tree_head": head_json(new_head) if new_head is not None else None}
