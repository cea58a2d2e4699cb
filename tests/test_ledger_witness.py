"""`deconflict ledger cosign` (issue 5): a party witnesses the log of a running service. It cosigns the latest
head after checking the service's signature and the consistency proof from the last head it witnessed; it refuses
(exit 1, nothing signed, state unchanged) a head that does not extend that one, an older head, or a head signed by
another key than the one pinned."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from deconflict.core.ledger import key_id
from deconflict.errors import InvalidInput
from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService

from .service_helpers import vol
from .test_ledger_cli import _activity, _cli


def _key_file(tmp_path: Path) -> tuple[Ed25519PrivateKey, Path]:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "party_ed25519.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return key, path


def _cosigners(api, size: int) -> list[str]:  # type: ignore[no-untyped-def]
    head = api.get("/v1/ledger/tree-head").json()["tree_head"]
    assert head["size"] == size
    return [c["key_id"] for c in head.get("cosignatures", [])]


def test_witness_cosigns_heads_that_extend_what_it_witnessed(service: RunningService, tmp_path: Path) -> None:
    _, apis = _activity(service)
    air = apis["air"]
    key, pem = _key_file(tmp_path)
    state = tmp_path / "state.json"
    args = ["ledger", "cosign", "--url", service.url, "--token", air.token, "--key", pem, "--state", state]

    unregistered = _cli(*args)
    assert isinstance(unregistered.exception, InvalidInput) and "register" in str(unregistered.exception)
    assert not state.exists()
    first = _cli(*args, "--register")
    assert first.exit_code == 0, (first.output, first.exception)
    witnessed = json.loads(state.read_text())
    kid = base64.b64encode(key_id(key)).decode()
    assert _cosigners(air, witnessed["size"]) == [kid]
    assert _cli(*args).exit_code == 0  # the same head again: already cosigned, not an error

    assert air.declare("flight", vol(50.0, 10.0)).status_code == 201
    tick(service.state)
    second = _cli(*args)
    assert second.exit_code == 0, (second.output, second.exception)
    later = json.loads(state.read_text())
    assert later["size"] > witnessed["size"] and _cosigners(air, later["size"]) == [kid]


def test_witness_refuses_a_log_that_does_not_extend_what_it_witnessed(service: RunningService,
                                                                      tmp_path: Path) -> None:
    _, apis = _activity(service)
    air = apis["air"]
    key, pem = _key_file(tmp_path)
    public = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    assert air.put("/v1/parties/me/key", json={"public_key": public}).status_code == 200
    size = air.get("/v1/ledger/tree-head").json()["tree_head"]["size"]
    state = tmp_path / "state.json"
    args = ["ledger", "cosign", "--url", service.url, "--token", air.token, "--key", pem, "--state", state]

    # the party witnessed a head of an earlier size whose root the log no longer has: a rewritten history
    forked = {"size": size - 1, "root": base64.b64encode(b"\x07" * 32).decode(), "timestamp_ms": 0}
    state.write_text(json.dumps(forked))
    refused = _cli(*args)
    assert refused.exit_code == 1 and "REFUSED: consistency proof" in refused.output, refused.output
    assert json.loads(state.read_text()) == forked and _cosigners(air, size) == []
    # the same size with another root
    state.write_text(json.dumps({**forked, "size": size}))
    assert "REFUSED: consistency proof" in _cli(*args).output
    # a head older than one already witnessed
    state.write_text(json.dumps({**forked, "size": size + 5}))
    older = _cli(*args)
    assert older.exit_code == 1 and "older than the head" in older.output
    # a head signed by another key than the pinned one
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    state.write_text(json.dumps({"service_key": base64.b64encode(other).decode()}))
    wrong = _cli(*args)
    assert wrong.exit_code == 1 and "is not signed by the service key" in wrong.output
    assert _cosigners(air, size) == []
    state.unlink()
    assert _cli(*args).exit_code == 0 and len(_cosigners(air, size)) == 1
