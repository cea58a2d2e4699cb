"""The typed client against a live service (SQLite and PostgreSQL): every endpoint, and errors as exceptions."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from deconflict.client import Client, error_from_response
from deconflict.core.model import Activation, DeclarationKind, SeparationMinima, Volume4D
from deconflict.errors import (
    Blocked,
    Conflict,
    DeconflictError,
    Forbidden,
    InvalidInput,
    InvalidVolume,
    MalformedRequest,
    NotAuthenticated,
    NotFound,
    PreconditionRequired,
    ServiceUnavailable,
    StaleVersion,
)
from deconflict.service.server import RunningService

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)


def circle(lat: float, lng: float, radius_m: float = 1000, minutes: tuple[int, int] = (0, 60),
           alt: tuple[float, float] = (0, 1000)) -> Volume4D:
    return Volume4D.circle(lat, lng, radius_m, alt[0], alt[1], T0 + timedelta(minutes=minutes[0]),
                           T0 + timedelta(minutes=minutes[1]))


def public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


class CountingTransport(httpx.BaseTransport):
    """The real HTTP transport, counting the requests that go through it."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class World:
    admin: Client
    alpha: Client
    bravo: Client
    charlie: Client
    tokens: dict[str, str]
    transport: CountingTransport


@pytest.fixture
def world(service: RunningService) -> Iterator[World]:
    """alpha-bravo: full disclosure, inform; alpha-charlie: conflict_area, block. charlie and bravo: nothing."""
    assert service.admin_token is not None
    transport = CountingTransport()
    with Client(service.url, service.admin_token, transport=transport) as admin:
        tokens = {n: admin.create_party(n, display_name=n.title()).token for n in ("alpha", "bravo", "charlie")}
        admin.create_agreement("alpha-bravo", ["alpha", "bravo"], SeparationMinima(1000, 100, 60), "full",
                               "inform", 600, min_notice_s={DeclarationKind.FLIGHT: 300},
                               escalation_contacts=["ops@alpha.example"])
        admin.create_agreement("alpha-charlie", ["alpha", "charlie"], SeparationMinima(2000, 150, 120),
                               "conflict_area", "block", 300)
        yield World(admin, admin.with_token(tokens["alpha"]), admin.with_token(tokens["bravo"]),
                    admin.with_token(tokens["charlie"]), tokens, transport)


# -- parties and agreements ---------------------------------------------------------------------------------
def test_health_needs_no_token(service: RunningService) -> None:
    with Client(service.url) as anonymous:
        assert anonymous.health() == {"status": "ok"}
        with pytest.raises(NotAuthenticated) as err:
            anonymous.me()
    assert err.value.field == "authorization"


def test_parties_me_and_keys(world: World) -> None:
    me = world.alpha.me()
    assert (me["name"], me["display_name"], me["role"], me.get("public_key")) == ("alpha", "Alpha", "party", None)
    assert {p["name"] for p in world.admin.parties()} == {"admin", "alpha", "bravo", "charlie"}
    world.alpha.declare("flight", [circle(10.0, 10.0)])  # a write brings the service's cache up to date (below)
    # alpha knows its partners; bravo and charlie share no agreement, so they do not know each other
    assert {p["name"] for p in world.alpha.parties()} == {"alpha", "bravo", "charlie"}
    assert {p["name"] for p in world.bravo.parties()} == {"alpha", "bravo"}
    partner = next(p for p in world.bravo.parties() if p["name"] == "alpha")
    assert "public_key" not in partner  # a partner's key details are not listed in full

    key = public_key()
    assert world.alpha.register_key(key)["public_key"] == key
    assert world.alpha.me()["public_key"] == key
    with pytest.raises(InvalidInput) as err:
        world.alpha.register_key("not-a-key")
    assert err.value.field == "public_key"

    other_key = public_key()
    created = world.admin.create_party("delta", "Delta Ops", public_key=other_key)
    assert created.party["public_key"] == other_key and created.party["display_name"] == "Delta Ops"
    assert created.token.startswith("dcf_")
    assert world.admin.with_token(created.token).me()["name"] == "delta"
    assert created.token not in repr(created)


def test_partners_are_known_as_soon_as_the_agreement_exists(world: World) -> None:
    assert {p["name"] for p in world.bravo.parties()} == {"alpha", "bravo"}


def test_agreements_are_seen_by_their_parties_only(world: World) -> None:
    everything = world.admin.agreements()
    assert [a["name"] for a in everything] == ["alpha-bravo", "alpha-charlie"]
    ab = everything[0]
    assert ab["parties"] == ["alpha", "bravo"]
    assert ab["minima"] == {"lateral_m": 1000.0, "vertical_m": 100.0, "time_s": 60.0}
    assert (ab["disclosure"], ab["policy"], ab["ack_deadline_s"]) == ("full", "inform", 600.0)
    assert ab["min_notice_s"] == {"flight": 300.0} and ab["escalation_contacts"] == ["ops@alpha.example"]
    assert [a["name"] for a in world.alpha.agreements()] == ["alpha-bravo", "alpha-charlie"]
    assert [a["name"] for a in world.bravo.agreements()] == ["alpha-bravo"]
    assert world.bravo.agreement(ab["id"]) == ab
    with pytest.raises(NotFound) as err:
        world.bravo.agreement(everything[1]["id"])
    assert err.value.field == "agreement_id"


# -- declarations -------------------------------------------------------------------------------------------
def test_declare_read_update_cancel(world: World) -> None:
    made = world.alpha.declare(DeclarationKind.FLIGHT, [circle(35.0, 36.0)], title="Patrol",
                               extra={"callsign": "ALPHA1"})
    d = made["declaration"]
    assert made["version"] == 1 and made["conflicts"] == []
    assert (d["owner"], d["kind"], d["state"], d["title"], d.get("extra")) == (
        "alpha", "flight", "declared", "Patrol", {"callsign": "ALPHA1"})
    assert world.alpha.declaration(d["id"]) == d
    assert world.bravo.declaration(d["id"])["disclosure"] == "full"  # a partner under full disclosure

    moved = world.alpha.update(d["id"], 1, DeclarationKind.FLIGHT, [circle(35.1, 36.0), circle(35.2, 36.0)],
                               title="Patrol (moved)")
    assert moved["version"] == 2 and moved["declaration"]["title"] == "Patrol (moved)"
    assert len(moved["declaration"].get("volumes", [])) == 2
    with pytest.raises(StaleVersion) as stale:
        world.alpha.update(d["id"], 1, DeclarationKind.FLIGHT, [circle(35.3, 36.0)])
    assert stale.value.field == "if-match" and "current is 2" in stale.value.message
    with pytest.raises(StaleVersion):
        world.alpha.cancel(d["id"], version=1)

    cancelled = world.alpha.cancel(d["id"], version=2, reason="weather")
    assert cancelled["version"] == 3 and cancelled["declaration"]["state"] == "cancelled"
    assert world.alpha.declaration(d["id"])["state"] == "cancelled"
    with pytest.raises(Conflict) as again:
        world.alpha.cancel(d["id"])
    assert type(again.value) is Conflict and again.value.field == "state"


def test_conflicts_are_reported_and_listed(world: World) -> None:
    mine = world.alpha.declare("activity", [circle(35.0, 36.0, 2000)])["declaration"]
    theirs = world.bravo.declare("flight", [circle(35.0, 36.06, 1000)])  # 2.5 km apart: outside the 1 km minima
    assert theirs["conflicts"] == []
    close = world.bravo.declare("flight", [circle(35.0, 36.01, 1000)], title="Close")
    (found,) = close["conflicts"]
    assert found["other"]["party"] == "alpha" and found["other"]["declaration_id"] == mine["id"]
    assert found["other"]["disclosure"] == "full" and "volumes" in found["other"]
    assert (found["severity"], found["policy"], found["state"]) == ("overlap", "inform", "open")
    assert found["declaration"] == {"id": close["declaration"]["id"], "version": 1, "kind": "flight"}

    # alpha sees the same conflict from its side
    (seen,) = world.alpha.conflicts()
    assert seen["id"] == found["id"] and seen["declaration"]["id"] == mine["id"]
    assert seen["other"]["party"] == "bravo"
    assert world.alpha.conflict(found["id"])["id"] == found["id"]
    assert [c["id"] for c in world.bravo.conflicts(declaration_id=close["declaration"]["id"])] == [found["id"]]
    assert world.bravo.conflicts(declaration_id=theirs["declaration"]["id"]) == []
    with pytest.raises(NotFound):
        world.charlie.conflict(found["id"])  # not charlie's business

    # moving away supersedes it; it stays on record
    world.bravo.update(close["declaration"]["id"], 1, "flight", [circle(35.5, 36.5, 1000)])
    assert world.alpha.conflicts() == []
    assert [c["state"] for c in world.alpha.conflicts(state="superseded")] == ["superseded"]
    assert [c["id"] for c in world.admin.conflicts(state="all")] == [found["id"]]


def test_block_agreement_refuses_with_the_conflicts(world: World) -> None:
    hazard = world.alpha.declare(DeclarationKind.HAZARD, [circle(34.0, 35.0, 3000)], activation=Activation.ALWAYS)
    with pytest.raises(Blocked) as err:
        world.charlie.declare(DeclarationKind.FLIGHT, [circle(34.0, 35.02, 500, alt=(0, 300))])
    blocked = err.value
    assert blocked.status_code == 409 and blocked.field == "volumes"
    (reason,) = blocked.conflicts
    assert reason["policy"] == "block" and reason["other"]["declaration_id"] == hazard["declaration"]["id"]
    assert reason["other"]["disclosure"] == "conflict_area" and reason["other"]["area"]
    assert "volumes" not in reason["other"]  # only the overlap is disclosed
    assert list(world.charlie.declarations(scope="own")) == []  # nothing was filed


def test_idempotency_key_replays_the_first_answer(world: World) -> None:
    first = world.alpha.declare("flight", [circle(33.0, 36.0)], idempotency_key="k-1")
    again = world.alpha.declare("flight", [circle(33.0, 36.0)], idempotency_key="k-1")
    assert again["declaration"]["id"] == first["declaration"]["id"] and again["version"] == 1
    with pytest.raises(Conflict) as err:
        world.alpha.declare("flight", [circle(33.5, 36.0)], idempotency_key="k-1")
    assert err.value.field == "idempotency-key"
    assert len(list(world.alpha.declarations(scope="own"))) == 1


def test_query_finds_what_the_caller_may_see(world: World) -> None:
    flight = world.alpha.declare("flight", [circle(36.0, 37.0)])["declaration"]
    zone = world.alpha.declare("restriction", [circle(36.0, 37.02, 1500)])["declaration"]
    world.alpha.declare("flight", [circle(37.0, 38.0)])
    area = circle(36.0, 37.01, 2000)
    assert [d["id"] for d in world.bravo.query(area)] == sorted([flight["id"], zone["id"]])
    assert [d["id"] for d in world.bravo.query(area, kind="restriction")] == [zone["id"]]
    assert world.charlie.query(area) == []  # conflict-area disclosure does not list


def test_declarations_page_through_everything(world: World) -> None:
    ids = {world.alpha.declare("flight", [circle(30.0 + i, 30.0)])["declaration"]["id"] for i in range(7)}
    world.bravo.declare("flight", [circle(20.0, 20.0)])
    before = len(world.transport.requests)
    own = list(world.alpha.declarations(scope="own", page_size=3))
    pages = [r for r in world.transport.requests[before:] if r.url.path == "/v1/declarations"]
    assert len(pages) == 3 and pages[1].url.params["after"] and pages[0].url.params["limit"] == "3"
    assert [d["id"] for d in own] == sorted(ids)
    assert len(list(world.alpha.declarations(page_size=2))) == 8  # own + the partner's (full disclosure)
    assert len(list(world.charlie.declarations())) == 0

    gone = sorted(ids)[0]
    world.alpha.cancel(gone)
    assert gone not in {d["id"] for d in world.alpha.declarations(scope="own")}
    assert [d["id"] for d in world.alpha.declarations(scope="own", state="cancelled")] == [gone]
    assert len(list(world.alpha.declarations(scope="own", live=False))) == 7
    assert list(world.alpha.declarations(scope="own", kind="hazard")) == []


# -- errors -------------------------------------------------------------------------------------------------
def test_errors_map_to_the_deconflict_classes(world: World, service: RunningService) -> None:
    d = world.alpha.declare("flight", [circle(31.0, 31.0)])["declaration"]
    with Client(service.url, "dcf_wrong") as stranger, pytest.raises(NotAuthenticated) as unauth:
        stranger.me()
    assert unauth.value.status_code == 401 and "dcf_wrong" not in str(unauth.value)
    with pytest.raises(Forbidden):
        world.alpha.create_party("eve")
    with pytest.raises(Forbidden):
        world.bravo.update(d["id"], 1, "flight", [circle(31.0, 31.0)])  # bravo sees it, but may not change it
    with pytest.raises(NotFound) as missing:
        world.alpha.declaration("no-such-id")
    assert missing.value.field == "declaration_id"
    with pytest.raises(NotFound):
        world.charlie.cancel(d["id"])  # charlie may not even know it exists

    with pytest.raises(InvalidVolume) as bad:
        world.alpha.declare("flight", [circle(31.0, 31.0, radius_m=-5)])
    assert bad.value.status_code == 422
    assert bad.value.field == "volumes[0].volume.outline_circle.radius.value"
    with pytest.raises(InvalidInput) as bad_name:
        world.admin.create_party("Not A Name")
    assert bad_name.value.field == "name"
    with pytest.raises(InvalidInput) as bad_kind:
        world.alpha.declare("rocket", [circle(31.0, 31.0)])
    assert bad_kind.value.field == "kind"
    with pytest.raises(Conflict) as taken:
        world.admin.create_party("alpha")
    assert taken.value.field == "name"


def test_tokens_never_reach_logs_or_messages(world: World, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        world.alpha.me()
        with pytest.raises(NotFound) as err:
            world.alpha.declaration("nope")
    assert caplog.records  # httpx did log the requests
    text = "\n".join(r.getMessage() for r in caplog.records) + str(err.value) + repr(world.alpha)
    assert all(token not in text for token in world.tokens.values())


def test_unreachable_service_raises_service_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with Client("http://deconflict.invalid", "dcf_secret", transport=httpx.MockTransport(refuse)) as client, \
            pytest.raises(ServiceUnavailable) as err:
        client.health()
    assert err.value.status_code == 503 and "deconflict.invalid" in str(err.value)
    assert "dcf_secret" not in str(err.value)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with Client("http://x.invalid", transport=httpx.MockTransport(slow)) as client, \
            pytest.raises(ServiceUnavailable, match="timed out"):
        client.health()


@pytest.mark.parametrize(("status", "code", "expected"), [
    (400, "malformed_request", MalformedRequest),
    (413, "too_large", InvalidInput),
    (422, "invalid_declaration", InvalidInput),
    (428, "precondition_required", PreconditionRequired),
    (409, "stale_version", StaleVersion),
    (409, "conflict", Conflict),
    (503, "unavailable", ServiceUnavailable),
    (500, "internal", DeconflictError),
])
def test_error_responses_by_status_and_code(status: int, code: str, expected: type[DeconflictError]) -> None:
    response = httpx.Response(status, json={"error": {"code": code, "message": "why", "field": "here"}})
    err = error_from_response(response)
    assert type(err) is expected or (expected is InvalidInput and isinstance(err, InvalidInput))
    assert (err.message, err.field, err.status_code) == ("why", "here", status)


def test_error_responses_without_json_keep_the_status() -> None:
    err = error_from_response(httpx.Response(502, text="Bad Gateway"))
    assert isinstance(err, ServiceUnavailable) and err.message == "Bad Gateway"
    err = error_from_response(httpx.Response(418, text=""))
    assert type(err) is DeconflictError and err.status_code == 418


def test_a_success_without_json_is_an_error_not_a_crash() -> None:
    def proxy_page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>captive portal</html>")

    with Client("http://x.invalid", transport=httpx.MockTransport(proxy_page)) as client, \
            pytest.raises(DeconflictError, match="GET /v1/health: the service answered 200 without JSON"):
        client.health()
