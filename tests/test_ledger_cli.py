"""Export and offline verification of a party's ledger bundle (issue 5): `deconflict export` from a live service's
store, `deconflict verify` with the key files only, the first break named after a one-byte change anywhere,
need-to-know in the bundle, and witnessing (a party cosigns a head; verify with its key requires the cosignature).
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner, Result

from deconflict.cli import app
from deconflict.cli_ledger import bundle_from_json
from deconflict.core.ledger import SignedTreeHead, TreeHead, cosign
from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService
from deconflict.store import schema as t

from .service_helpers import Api, vol, world

PAIRS = [
    {"parties": ["air", "ngo"], "disclosure": "full", "policy": "require_ack", "ack_deadline_s": 300,
     "min_notice_s": {"activity": 1800}},
    {"parties": ["heli", "farm"], "disclosure": "full", "policy": "require_ack", "ack_deadline_s": 300},
]

runner = CliRunner()


def _cli(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def _db(service: RunningService) -> str:
    return service.state.db.url.render_as_string(hide_password=False)


def _activity(service: RunningService) -> tuple[Api, dict[str, Api]]:
    """Two pairs of parties, each declaring where the other is, over two scheduler ticks (so two signed heads)."""
    assert service.admin_token is not None
    admin, apis = world(service.url, service.admin_token, ["air", "ngo", "heli", "farm"], PAIRS)
    assert apis["air"].declare("activity", vol(35.0, 36.0), title="live firing").status_code == 201
    assert apis["heli"].declare("flight", vol(40.0, 10.0)).status_code == 201
    assert apis["ngo"].get("/v1/notifications").status_code == 200  # delivered on read
    tick(service.state)
    assert apis["ngo"].declare("flight", vol(35.0, 36.0)).status_code == 201
    assert apis["farm"].declare("flight", vol(40.0, 10.0)).status_code == 201
    assert apis["air"].declare("activity", vol(35.5, 36.0)).status_code == 201
    for name in ("air", "heli", "farm"):
        assert apis[name].get("/v1/notifications").status_code == 200
    tick(service.state)
    return admin, apis


def _export(service: RunningService, party: str, out: Path, *extra: str) -> dict[str, Any]:
    result = _cli("export", "--party", party, "-o", out, "--db", _db(service), *extra)
    assert result.exit_code == 0, (result.output, result.exception)
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def _service_key(service: RunningService, tmp_path: Path) -> Path:
    path = tmp_path / "service.pub"
    result = _cli("ledger", "key", "--db", _db(service), "-o", path)
    assert result.exit_code == 0, (result.output, result.exception)
    return path


def _verify(bundle: dict[str, Any], tmp_path: Path, *keys: Path) -> Result:
    path = tmp_path / "check.json"
    path.write_text(json.dumps(bundle))
    args: list[str | Path] = ["verify", path]
    for k in keys:
        args += ["--key", k]
    return _cli(*args)


def _flip(text: str, at: int = 0) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[at % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _party_id(service: RunningService, name: str) -> str:
    with service.state.db.connect() as conn:
        return str(conn.execute(sa.select(t.parties.c.id).where(t.parties.c.name == name)).scalar_one())


def test_export_verifies_and_one_byte_changes_are_named_at_the_first_break(
        service: RunningService, tmp_path: Path) -> None:
    _activity(service)
    key = _service_key(service, tmp_path)
    doc = _export(service, "air", tmp_path / "air.json")
    assert doc["format"] == "deconflict.ledger.bundle" and doc["version"] == 1 and doc["party"] == "air"
    bundle = bundle_from_json(doc)
    assert len(bundle.heads) >= 2 and len(bundle.consistency) == len(bundle.heads) - 1
    assert len(bundle.entries) >= 3
    ok = _verify(doc, tmp_path, key)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK:") and f"{len(bundle.entries)} entries verified" in ok.output

    entries = doc["entries"]
    k = len(entries) // 2
    cases: list[tuple[str, Any, str]] = [
        ("first entry data", ("entries", 0, "entry", None), f"entry {entries[0]['index']} (bundle entry 0): "),
        ("middle entry data", ("entries", k, "entry", None), f"entry {entries[k]['index']} (bundle entry {k}): "),
        ("last entry data", ("entries", -1, "entry", None),
         f"entry {entries[-1]['index']} (bundle entry {len(entries) - 1}): "),
        ("a proof hash", ("entries", k, "proof", 0), f"entry {entries[k]['index']} (bundle entry {k}): "),
        ("a head signature", ("heads", 0, "signature", None), "head 0: head_invalid: bad_signature"),
        ("a root", ("heads", -1, "root", None), f"head {len(doc['heads']) - 1}: head_invalid: bad_signature"),
        ("a consistency hash", ("consistency", 0, "proof", 0), "consistency 0: not_consistent"),
    ]
    last = len(doc["heads"]) - 1
    for what, field, delta in (("a head timestamp", "timestamp_ms", 1), ("a head size", "size", 1)):
        changed = copy.deepcopy(doc)
        changed["heads"][last][field] += delta
        if field == "size" and last:
            changed["consistency"][last - 1]["second"] += delta  # keep the document well-formed
        result = _verify(changed, tmp_path, key)
        assert result.output.startswith(f"BROKEN: head {last}: head_invalid: bad_signature"), (what, result.output)
    for what, (part, pos, name, item), expected in cases:
        changed = copy.deepcopy(doc)
        target = changed[part][pos]
        if item is None:
            target[name] = _flip(target[name], 5)
        else:
            if not target[name]:
                continue
            target[name][item] = _flip(target[name][item], 7)
        result = _verify(changed, tmp_path, key)
        assert result.exit_code == 1, (what, result.output)
        assert result.output.startswith("BROKEN: " + expected), (what, result.output)

    # two changes: the first is the one named
    changed = copy.deepcopy(doc)
    for pos in (k, len(entries) - 1):
        changed["entries"][pos]["entry"] = _flip(changed["entries"][pos]["entry"], 9)
    assert _verify(changed, tmp_path, key).output.startswith(f"BROKEN: entry {entries[k]['index']} ")
    # a changed index, and text that is not base64, are named too
    changed = copy.deepcopy(doc)
    changed["entries"][k]["index"] += 1
    assert _verify(changed, tmp_path, key).exit_code == 1
    changed = copy.deepcopy(doc)
    changed["heads"][0]["root"] = "!" + changed["heads"][0]["root"][1:]
    bad = _verify(changed, tmp_path, key)
    assert bad.exit_code == 1 and bad.output.startswith("BROKEN: bundle: malformed: $.heads[0].root"), bad.output
    # another service key: every head fails
    other = tmp_path / "other.pub"
    other.write_text(base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)).decode())
    assert _verify(doc, tmp_path, other).output.startswith("BROKEN: head 0: head_invalid: unknown_key")

    # a one-byte change in the stored log: the next export no longer verifies, at that entry
    idx = entries[k]["index"]
    e = t.ledger_entries.c
    with service.state.db.begin() as conn:
        stored = bytearray(conn.execute(sa.select(e.entry).where(e.idx == idx)).scalar_one())
        stored[-2] ^= 0x01
        conn.execute(sa.update(t.ledger_entries).where(e.idx == idx).values(entry=bytes(stored)))
    exported = _cli("export", "--party", "air", "-o", tmp_path / "tampered.json", "--db", _db(service))
    assert exported.exit_code == 0, exported.output
    assert "does not match its signed head" in exported.output  # the operator is told, with the range
    lo, hi = (int(n) for n in exported.output.split("an entry in ")[1].split(" ")[0].split(".."))
    assert lo <= idx <= hi
    result = _verify(json.loads((tmp_path / "tampered.json").read_text()), tmp_path, key)
    # the changed entry breaks the first head above it: the consistency proof to it, or its own inclusion proof
    assert result.exit_code == 1, result.output
    assert result.output.startswith(("BROKEN: consistency ", f"BROKEN: entry {idx} ")), result.output


def test_a_party_bundle_holds_only_its_own_entries(service: RunningService, tmp_path: Path) -> None:
    _activity(service)
    air, heli = _party_id(service, "air"), _party_id(service, "heli")
    with service.state.db.connect() as conn:
        rows = conn.execute(sa.select(t.ledger_entries.c.idx, t.ledger_entries.c.parties)).all()
    airs = {int(r.idx) for r in rows if air in r.parties}
    others = {int(r.idx) for r in rows if air not in r.parties}
    assert others and {int(r.idx) for r in rows if heli in r.parties} <= others

    doc = _export(service, "air", tmp_path / "air.json")
    exported = {e["index"] for e in doc["entries"]}
    assert exported == airs and not exported & others
    heli_doc = _export(service, "heli", tmp_path / "heli.json")
    assert not {e["index"] for e in heli_doc["entries"]} & airs

    # a range ending before anything happened has no head; one ending now has every entry
    early = _cli("export", "--party", "air", "--to", "2000-01-01T00:00:00Z", "-o", tmp_path / "x.json",
                 "--db", _db(service))
    assert early.exit_code != 0
    assert _cli("export", "--party", "nobody", "-o", tmp_path / "x.json", "--db", _db(service)).exit_code != 0


def test_a_cosigned_head_round_trip(service: RunningService, tmp_path: Path) -> None:
    _, apis = _activity(service)
    air = apis["air"]
    party_key = Ed25519PrivateKey.generate()
    public_b64 = base64.b64encode(party_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    assert air.put("/v1/parties/me/key", json={"public_key": public_b64}).status_code == 200
    body = air.get("/v1/ledger/tree-head").json()["tree_head"]
    assert "cosignatures" not in body
    head = SignedTreeHead(TreeHead(body["size"], base64.b64decode(body["root"]), body["timestamp_ms"]),
                          base64.b64decode(body["key_id"]), base64.b64decode(body["signature"]))
    at_ms = body["timestamp_ms"] + 1500
    signature = cosign(head, party_key, at_ms).cosignatures[-1].signature
    url = f"/v1/ledger/tree-head/{head.size}/cosign"

    wrong = air.post(url, json={"cosigned_at_ms": at_ms + 1, "signature": base64.b64encode(signature).decode()})
    assert wrong.status_code == 422, wrong.text  # signed another time than it claims
    no_key = apis["ngo"].post(url, json={"cosigned_at_ms": at_ms, "signature": base64.b64encode(signature).decode()})
    assert no_key.status_code == 409, no_key.text
    assert air.post(f"/v1/ledger/tree-head/{head.size + 99}/cosign",
                    json={"cosigned_at_ms": at_ms, "signature": base64.b64encode(signature).decode()}
                    ).status_code == 404
    done = air.post(url, json={"cosigned_at_ms": at_ms, "signature": base64.b64encode(signature).decode()})
    assert done.status_code == 201, done.text
    again = air.post(url, json={"cosigned_at_ms": at_ms, "signature": base64.b64encode(signature).decode()})
    assert again.status_code == 409, again.text
    served = air.get("/v1/ledger/tree-head").json()["tree_head"]["cosignatures"]
    assert served == [{"key_id": done.json()["tree_head"]["cosignatures"][0]["key_id"], "cosigned_at_ms": at_ms,
                       "signature": base64.b64encode(signature).decode()}]

    key = _service_key(service, tmp_path)
    air_pub = tmp_path / "air.pub"
    air_pub.write_text(party_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode())
    ngo_pub = tmp_path / "ngo.pub"
    ngo_pub.write_text(base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)).decode())
    doc = _export(service, "air", tmp_path / "air.json")
    last = len(doc["heads"]) - 1
    assert doc["heads"][last]["size"] == head.size and len(doc["heads"][last]["cosignatures"]) == 1
    ok = _verify(doc, tmp_path, key, air_pub)
    assert ok.exit_code == 0 and "1 cosignatures" in ok.output, ok.output
    plain = _verify(doc, tmp_path, key)  # without the party's key the cosignature is reported unchecked
    assert plain.exit_code == 0 and "1 cosignatures by keys not given were not checked" in plain.output
    missing = _verify(doc, tmp_path, key, ngo_pub)  # a party key given must have cosigned
    assert missing.exit_code == 1 and "cosignature_missing" in missing.output, missing.output

    changed = copy.deepcopy(doc)
    cos = changed["heads"][last]["cosignatures"][0]
    cos["signature"] = _flip(cos["signature"], 3)
    broken = _verify(changed, tmp_path, key, air_pub)
    assert broken.exit_code == 1
    assert broken.output.startswith(f"BROKEN: head {last}: head_invalid: cosignature 0: cosignature_bad"), \
        broken.output
    changed = copy.deepcopy(doc)
    changed["heads"][last]["cosignatures"][0]["cosigned_at_ms"] += 1
    assert "cosignature_bad" in _verify(changed, tmp_path, key, air_pub).output
    # stripping the cosignature is caught when the party's key is given
    changed = copy.deepcopy(doc)
    changed["heads"][last]["cosignatures"] = []
    assert "cosignature_missing" in _verify(changed, tmp_path, key, air_pub).output


@pytest.mark.parametrize("text", ["not a key", '{"x": 1}'])
def test_verify_refuses_a_key_file_that_is_not_a_key(tmp_path: Path, text: str) -> None:
    (tmp_path / "k.pub").write_text(text)
    (tmp_path / "b.json").write_text("{}")
    result = _cli("verify", tmp_path / "b.json", "--key", tmp_path / "k.pub")
    assert result.exit_code != 0
