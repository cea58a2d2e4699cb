"""`deconflict ledger cosign`: a party witnesses the service's log (docs/ledger.md, Witnessing).

It fetches the latest signed tree head, checks the service's signature (the service key is pinned in the state
file on first use, or given with --service-key; a rotated key is followed only through rotation records that
both keys signed, and the pin moves to it), and checks the consistency proof from the last head this party
witnessed (kept in --state) to the new one: the new head must extend every head the party has cosigned. Only then
does it sign the head with the party's Ed25519 key and post the cosignature. A head that does not extend the last
one witnessed (a forked or rewritten log), a head older than it, or a bad signature: refused, nothing is signed,
the exit status is 1 and the state file is left as it was.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from .cli_http import bearer, error_message
from .core.ledger import (
    KeyRotation,
    SignedTreeHead,
    TreeHead,
    check_consistency,
    check_signed_tree_head,
    cosign,
    key_id,
    trusted_service_keys,
)
from .errors import InvalidInput

__all__ = ["cosign_latest"]


def _b(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("not valid base64", field=what) from None


def _private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInput(f"{path} is not an unencrypted PEM private key ({exc})", field="--key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{path} is not an Ed25519 key", field="--key")
    return key


class _Service:
    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=bearer(token), timeout=60)

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise InvalidInput(f"cannot reach the service: {exc}", field="--url") from None

    def json(self, path: str, **params: Any) -> dict[str, Any]:
        r = self.call("GET", path, params=params)
        if r.status_code != 200:
            raise InvalidInput(f"GET {path} answered {r.status_code}: {error_message(r)}", field="--url")
        body: dict[str, Any] = r.json()
        return body


def _head(body: dict[str, Any]) -> SignedTreeHead:
    return SignedTreeHead(TreeHead(int(body["size"]), _b(body["root"], "root"), int(body["timestamp_ms"])),
                          _b(body["key_id"], "key_id"), _b(body["signature"], "signature"))


class Refused(InvalidInput):
    """The head must not be cosigned (the message says why)."""


def cosign_latest(url: str, token: str, key: Ed25519PrivateKey, state: dict[str, Any],
                  service_key: Ed25519PublicKey | None, register: bool, now_ms: int) -> tuple[dict[str, Any], str]:
    """Witness the latest head: check it, cosign and post it; returns the new state and what was done. Raises
    Refused when the head must not be cosigned."""
    svc = _Service(url, token)
    try:
        served = svc.json("/v1/ledger/key")
        current = Ed25519PublicKey.from_public_bytes(_b(served["public_key"], "public_key"))
        pinned = service_key
        if pinned is None and state.get("service_key"):
            pinned = Ed25519PublicKey.from_public_bytes(_b(state["service_key"], "state.service_key"))
        trusted = pinned or current
        if pinned is not None and key_id(pinned) != key_id(current):  # rotated: follow the signed hand-overs
            history = [KeyRotation(_b(r["old_key"], "old_key"), _b(r["new_key"], "new_key"), int(r["rotated_at_ms"]),
                                   _b(r["old_signature"], "old_signature"), _b(r["new_signature"], "new_signature"))
                       for r in served.get("rotations", [])]
            ring, bad = trusted_service_keys([pinned], history)
            if bad is None and key_id(current) in ring:
                trusted = current
        head = _head(svc.json("/v1/ledger/tree-head")["tree_head"])
        problem = check_signed_tree_head(head, trusted)
        if problem is not None:
            raise Refused(f"the head of size {head.size} is not signed by the service key "
                          f"{key_id(trusted).hex()[:16]}… ({problem.reason.value}: {problem.detail})", field="head")
        if "size" in state:
            old_size, old_root = int(state["size"]), _b(state["root"], "state.root")
            if head.size < old_size:
                raise Refused(f"the service shows a head of size {head.size}, older than the head of size "
                              f"{old_size} already witnessed", field="head")
            proof = svc.json("/v1/ledger/consistency", first=old_size, second=head.size)
            failure = check_consistency(old_size, head.size, old_root, head.root,
                                        [_b(h, "proof") for h in proof.get("proof", [])])
            if failure is not None:
                raise Refused(f"consistency proof from the witnessed head of size {old_size} to the head of size "
                              f"{head.size} fails ({failure.value}): the log does not extend what was witnessed",
                              field="consistency")
        signature = cosign(head, key, now_ms).cosignatures[-1].signature
        public = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
        body = {"cosigned_at_ms": now_ms, "signature": base64.b64encode(signature).decode()}
        r = svc.call("POST", f"/v1/ledger/tree-head/{head.size}/cosign", json=body)
        if r.status_code == 409 and register and "register" in error_message(r):
            put = svc.call("PUT", "/v1/parties/me/key", json={"public_key": public})
            if put.status_code != 200:
                raise InvalidInput(f"registering the key answered {put.status_code}: {error_message(put)}",
                                   field="--key")
            r = svc.call("POST", f"/v1/ledger/tree-head/{head.size}/cosign", json=body)
        if r.status_code == 409 and "already cosigned" in error_message(r):
            done = f"the head of size {head.size} was already cosigned with this key"
        elif r.status_code != 201:
            raise InvalidInput(f"posting the cosignature answered {r.status_code}: {error_message(r)}", field="--url")
        else:
            done = f"cosigned the head of size {head.size}"
    finally:
        svc.http.close()
    new_state = {"service_key": base64.b64encode(trusted.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode(),
                 "size": head.size, "root": base64.b64encode(head.root).decode(), "timestamp_ms": head.timestamp_ms}
    return new_state, done


def cosign_command(
    url: str = typer.Option(..., help="The service's base URL."),
    token: str = typer.Option(..., envvar="DECONFLICT_TOKEN", help="The party's bearer token."),
    key: Path = typer.Option(..., "--key", help="The party's Ed25519 private key (PEM, unencrypted)."),
    state_file: Path = typer.Option(Path("witness-state.json"), "--state",
                                    help="The last head witnessed (read, then updated after a cosignature)."),
    service_key: Path | None = typer.Option(None, "--service-key", help="Pin the service's public key (a file as "
                                            "`deconflict verify --key` takes); default: pinned on first use."),
    register: bool = typer.Option(False, "--register", help="Register the key's public half first if needed."),
) -> None:
    """Witness the latest signed tree head: verify it extends the last one witnessed, then cosign it."""
    from .cli_ledger import load_public_key

    private = _private_key(key)
    pinned = load_public_key(service_key) if service_key is not None else None
    state: dict[str, Any] = {}
    if state_file.exists():
        try:
            state = json.loads(state_file.read_text())
        except ValueError:
            raise InvalidInput(f"{state_file} is not a witness state file (JSON)", field="--state") from None
    try:
        new_state, done = cosign_latest(url, token, private, state, pinned, register,
                                        int(datetime.now(UTC).timestamp() * 1000))
    except Refused as exc:
        typer.echo(f"REFUSED: {exc.message}", err=True)
        raise typer.Exit(1) from None
    state_file.write_text(json.dumps(new_state, indent=1) + "\n")
    typer.echo(f"{done}; witnessed state in {state_file}")
