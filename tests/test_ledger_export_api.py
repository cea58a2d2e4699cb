"""A party's own bundle over the API (issue 5): GET /v1/ledger/export with its token answers the document
`deconflict export --db` writes for it (one builder), `deconflict export --url --token` saves it, and
`deconflict verify` passes on it with the key GET /v1/ledger/key serves; need-to-know and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deconflict.service.server import RunningService

from .service_helpers import Api
from .test_ledger_cli import _activity, _cli, _db, _export


def _labels_off(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("exported_at", "from", "to", "notes")}


def test_export_over_the_api_round_trips_through_verify(service: RunningService, tmp_path: Path) -> None:
    _, apis = _activity(service)
    ngo = apis["ngo"]
    out = tmp_path / "ngo.json"
    fetched = _cli("export", "--url", service.url, "--token", ngo.token, "--to", "2100-01-01T00:00:00Z", "-o", out)
    assert fetched.exit_code == 0, (fetched.output, fetched.exception)
    doc = json.loads(out.read_text())
    assert doc["party"] == "ngo" and doc["entries"] and "notes" not in doc
    offline = _export(service, "ngo", tmp_path / "offline.json", "--to", "2100-01-01T00:00:00Z")
    assert _labels_off(doc) == _labels_off(offline)  # the same bundle, whichever way it was made

    key = tmp_path / "service.json"
    key.write_text(ngo.get("/v1/ledger/key").text)  # the key as the API serves it
    ok = _cli("verify", out, "--key", key)
    assert ok.exit_code == 0 and ok.output.startswith("OK:"), ok.output
    doc["entries"][0]["entry"] = doc["entries"][0]["entry"][:-4] + ("AAA=" if doc["entries"][0]["entry"][-4:]
                                                                    != "AAA=" else "AQA=")
    out.write_text(json.dumps(doc))
    broken = _cli("verify", out, "--key", key)
    assert broken.exit_code == 1 and broken.output.startswith(f"BROKEN: entry {doc['entries'][0]['index']} ")


def test_export_over_the_api_is_the_callers_own(service: RunningService) -> None:
    admin, apis = _activity(service)
    air = apis["air"].get("/v1/ledger/export").json()
    heli = apis["heli"].get("/v1/ledger/export").json()
    assert air["party"] == "air" and heli["party"] == "heli"
    assert not {e["index"] for e in air["entries"]} & {e["index"] for e in heli["entries"]}
    assert "live firing" not in json.dumps(heli)  # air's activity was never disclosed to heli
    assert apis["heli"].get("/v1/ledger/export", params={"party": "air"}).status_code == 403
    as_admin = admin.get("/v1/ledger/export", params={"party": "air"})
    assert as_admin.status_code == 200 and as_admin.json()["entries"] == air["entries"]
    assert admin.get("/v1/ledger/export").status_code == 400
    for params, field in (({"from": "soon"}, "from"), ({"to": "2026-02-30T00:00:00Z"}, "to"),
                          ({"from": "0001-01-01T00:00:00+01:00"}, "from"), ({"to": "9999-12-31T23:59:59-01:00"}, "to")):
        r = apis["air"].get("/v1/ledger/export", params=params)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
    r = apis["air"].get("/v1/ledger/export", params={"to": "2000-01-01T00:00:00Z"})
    assert r.status_code == 404, r.text  # no signed head in that range
    assert Api(service.url, "nope").get("/v1/ledger/export").status_code == 401
    assert _cli("export", "--db", _db(service), "-o", "x.json").exit_code != 0  # --db needs --party
