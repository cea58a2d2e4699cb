"""A typed, synchronous client for the Deconflict HTTP API, for parties that integrate it.

    from deconflict.client import Client
    from deconflict.core.model import DeclarationKind, Volume4D

    with Client("https://deconflict.example", token) as dc:
        result = dc.declare(DeclarationKind.FLIGHT, [Volume4D.circle(35.3, 36.2, 3000, 0, 150, start, end)])
        for conflict in result["conflicts"]:
            print(conflict["other"]["party"], conflict["severity"])

Every method is one request (the listing of declarations pages through them all). An error response raises the
matching class of `deconflict.errors` with the service's message and field: 400 MalformedRequest,
401 NotAuthenticated, 403 Forbidden, 404 NotFound, 409 StaleVersion / Blocked (with `.conflicts`) / Conflict,
413 and 422 InvalidInput, 428 PreconditionRequired; a service that cannot be reached raises ServiceUnavailable.
Tokens are sent in the Authorization header only; they never appear in a repr, a message or a log line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, NotRequired, Required, Self, TypedDict, cast
from urllib.parse import quote

import httpx

from .core.model import Activation, DeclarationKind, DeclarationState, SeparationMinima, Volume4D
from .core.protocol import AckReply, ConflictPolicy, Disclosure
from .errors import (
    Blocked,
    Conflict,
    DeconflictError,
    Forbidden,
    InvalidDeclaration,
    InvalidInput,
    InvalidVolume,
    MalformedRequest,
    NotAuthenticated,
    NotFound,
    PreconditionRequired,
    ServiceUnavailable,
    StaleVersion,
)
from .service.codec import volume_json

__all__ = [
    "AgreementView",
    "Client",
    "CoarseJSON",
    "ConflictOther",
    "ConflictOwn",
    "ConflictView",
    "CreatedParty",
    "DeclarationResult",
    "DeclarationView",
    "MessagePage",
    "MessageView",
    "Minima",
    "PartyView",
    "ReadResult",
    "Receipt",
    "ThreadAbout",
    "ThreadView",
]

ConflictState = Literal["open", "superseded", "closed", "all"]
Scope = Literal["own", "all"]
PAGE_SIZE = 500


# -- what the service returns -------------------------------------------------------------------------------
class PartyView(TypedDict):
    """A party; `public_key` and `created_at` only for oneself (and for the admin)."""

    id: str
    name: str
    display_name: str
    role: str
    public_key: NotRequired[str | None]
    created_at: NotRequired[str]


class Minima(TypedDict):
    lateral_m: float
    vertical_m: float
    time_s: float


class AgreementView(TypedDict):
    id: str
    name: str
    parties: list[str]
    minima: Minima
    disclosure: str
    policy: str
    ack_deadline_s: float
    min_notice_s: dict[str, float]
    escalation_contacts: list[str]
    created_at: str


class CoarseJSON(TypedDict):
    """A volume disclosed only coarsely: the grid cells it touches, altitudes and times rounded outward."""

    cell_deg: float
    cells: list[dict[str, float]]
    altitude_lower_m: float
    altitude_upper_m: float
    time_start: str
    time_end: str


class DeclarationView(TypedDict):
    """A declaration as the caller may see it. `disclosure` is `own`, `full` or `coarse`: a coarse view carries
    `coarse` instead of `volumes`, `title`, `extra` and the timestamps."""

    id: str
    owner: str
    kind: str
    activation: str
    state: str
    version: int
    disclosure: str
    time_start: str
    time_end: str
    title: NotRequired[str]
    extra: NotRequired[dict[str, str]]
    volumes: NotRequired[list[dict[str, Any]]]
    created_at: NotRequired[str]
    updated_at: NotRequired[str]
    coarse: NotRequired[list[CoarseJSON]]


class ConflictOwn(TypedDict):
    """The caller's side of a conflict."""

    id: str
    version: int
    kind: str


class ConflictOther(TypedDict):
    """The other side, as disclosed: `volumes` (full), `area` (conflict_area) or `coarse`."""

    party: str
    declaration_id: str
    version: int
    kind: str
    disclosure: str
    volumes: NotRequired[list[dict[str, Any]]]
    area: NotRequired[list[dict[str, Any]]]
    coarse: NotRequired[list[CoarseJSON]]


class ConflictView(TypedDict):
    id: str
    state: str
    severity: str
    policy: str
    window_start: str
    window_end: str
    lateral_distance_m: float
    vertical_gap_m: float
    time_gap_s: float
    detected_at: str
    declaration: ConflictOwn
    other: ConflictOther


class SentNotice(TypedDict):
    """Who a declaration notified, and whether the notice was already short of the agreed minimum."""

    id: str
    recipient: str
    reason: str
    min_notice_s: float | None
    lead_time_s: float
    late: bool
    ack_deadline_at: str


class InducedHazardNotice(TypedDict):
    """An induced hazard the declaration touches, and when it is live."""

    hazard_id: str
    owner: str
    live: list[dict[str, str]]


class DeclarationResult(TypedDict):
    """A write's outcome: the declaration, the conflicts it found, its version (the ETag), who it notified
    (`late_notice`: the recipients told with less than the agreed notice) and the induced hazards it touches."""

    declaration: DeclarationView
    conflicts: list[ConflictView]
    version: int
    notifications: list[SentNotice]
    late_notice: list[str]
    induced_hazards: list[InducedHazardNotice]


@dataclass(frozen=True, slots=True)
class CreatedParty:
    """A new party and its token (the service shows the token only this once)."""

    party: PartyView
    token: str

    def __repr__(self) -> str:  # never show the token
        return f"CreatedParty(party={self.party!r}, token=<hidden>)"


class ThreadAbout(TypedDict):
    """What a hotline thread is about: `kind` `declaration` or `conflict`, and its id."""

    kind: str
    id: str


class ThreadView(TypedDict):
    """A hotline thread the caller takes part in; `about` is shown only to participants who may see the item;
    `unread` counts the messages sent to the caller that it has not marked read."""

    id: str
    agreement_id: str
    subject: str
    participants: list[str]
    created_by: str
    created_at: str
    about: ThreadAbout | None
    message_count: int
    last_message_at: str | None
    unread: int


class Receipt(TypedDict):
    """One recipient's receipt for a message, shown to its sender (RFC 3339 times; None: not yet)."""

    party: str
    delivered_at: str | None
    read_at: str | None


class MessageView(TypedDict):
    """A hotline message. Its sender sees `receipts` (one per recipient); a recipient its own `delivered_at` and
    `read_at`. `structured`, when given, has a `type`: `request_hold`, `hold_until` or `position_report`."""

    id: str
    thread_id: str
    n: int
    sender: str
    text: str
    structured: dict[str, Any] | None
    created_at: str
    receipts: NotRequired[list[Receipt]]
    delivered_at: NotRequired[str | None]
    read_at: NotRequired[str | None]


class MessagePage(TypedDict):
    """A page of a thread's history, oldest first; `next` is the `after` of the next page (None on the last)."""

    messages: list[MessageView]
    next: str | None


class ReadResult(TypedDict):
    """The thread after marking messages read, and how many were newly marked."""

    thread: ThreadView
    read: int


# -- errors -------------------------------------------------------------------------------------------------
_BY_CODE: dict[str, type[DeconflictError]] = {
    "stale_version": StaleVersion,
    "blocked": Blocked,
    "invalid_volume": InvalidVolume,
    "invalid_declaration": InvalidDeclaration,
}
_BY_STATUS: dict[int, type[DeconflictError]] = {
    400: MalformedRequest,
    401: NotAuthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: InvalidInput,
    422: InvalidInput,
    428: PreconditionRequired,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def error_from_response(response: httpx.Response) -> DeconflictError:
    """The `deconflict.errors` exception an error response stands for, with its message and field."""
    try:
        data = response.json()
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code, message, field = str(error.get("code", "")), str(error.get("message", "")), error.get("field")
    else:
        code, message, field = "", response.text[:200] or response.reason_phrase, None
    field = field if isinstance(field, str) else None
    cls = _BY_STATUS.get(response.status_code, DeconflictError)
    special = _BY_CODE.get(code)
    if special is not None and issubclass(special, cls):
        cls = special
    if cls is Blocked:
        found = data.get("conflicts") if isinstance(data, dict) else None
        return Blocked(message, field=field, conflicts=found if isinstance(found, list) else [])
    exc = cls(message or f"HTTP {response.status_code}", field=field)
    exc.status_code = response.status_code  # as answered (413 stays 413, though InvalidInput says 422)
    return exc


# -- the client ---------------------------------------------------------------------------------------------
class Client:
    """One party's connection to a Deconflict service (`token=None` reaches only `health`)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"Accept": "application/json"})
        self._owner = True

    def with_token(self, token: str) -> Client:
        """A client for another party over the same connections (close the original; this one follows it)."""
        other = Client.__new__(Client)
        other.base_url, other._token, other._http, other._owner = self.base_url, token, self._http, False
        return other

    def close(self) -> None:
        """Close the connections (a client made by `with_token` leaves them to its original)."""
        if self._owner:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r}, token={'<hidden>' if self._token else None})"

    # -- plumbing -------------------------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, str | int | bool] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if self._token is not None:
            sent["Authorization"] = f"Bearer {self._token}"
        try:
            response = self._http.request(method, path, json=json, params=params, headers=sent)
        except httpx.TimeoutException as exc:
            raise ServiceUnavailable(f"{method} {self.base_url}{path} timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"cannot reach {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return _body(self._request(method, path, **kwargs), method, path)

    def _write(self, method: str, path: str, body: dict[str, Any], headers: Mapping[str, str]) -> DeclarationResult:
        response = self._request(method, path, json=body, headers=headers)
        data = _body(response, method, path)
        declaration = cast(DeclarationView, data["declaration"])
        return DeclarationResult(
            declaration=declaration, conflicts=cast(list[ConflictView], data["conflicts"]),
            version=_etag_version(response.headers.get("etag"), declaration["version"]),
            notifications=cast(list[SentNotice], data.get("notifications", [])),
            late_notice=cast(list[str], data.get("late_notice", [])),
            induced_hazards=cast(list[InducedHazardNotice], data.get("induced_hazards", [])))

    # -- health and parties ---------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """`{"status": "ok"}` when the service and its store answer (no token needed)."""
        return self._json("GET", "/v1/health")

    def me(self) -> PartyView:
        return cast(PartyView, self._json("GET", "/v1/parties/me")["party"])

    def replace_token(self, party_id: str | None = None) -> str:
        """A new token for the caller (or, for the administrator, for `party_id`), returned once; the old one stops
        working. This client keeps using the token it was made with: make a new one with the result."""
        path = "/v1/parties/me/token" if party_id is None else f"/v1/parties/{party_id}/token"
        return str(self._json("POST", path)["token"])

    def parties(self) -> list[PartyView]:
        """The caller and its partners (the admin: every party)."""
        return cast(list[PartyView], self._json("GET", "/v1/parties")["parties"])

    def create_party(self, name: str, display_name: str = "", public_key: str | None = None) -> CreatedParty:
        """(admin) A new party; keep `.token`, it is shown only once."""
        body: dict[str, Any] = {"name": name, "display_name": display_name}
        if public_key is not None:
            body["public_key"] = public_key
        data = self._json("POST", "/v1/parties", json=body)
        return CreatedParty(party=cast(PartyView, data["party"]), token=str(data["token"]))

    def register_key(self, public_key: str) -> PartyView:
        """Register the caller's Ed25519 public key (32 bytes, base64)."""
        return cast(PartyView, self._json("PUT", "/v1/parties/me/key", json={"public_key": public_key})["party"])

    # -- agreements -----------------------------------------------------------------------------------------
    def create_agreement(
        self,
        name: str,
        parties: Sequence[str],
        minima: SeparationMinima,
        disclosure: Disclosure | str,
        policy: ConflictPolicy | str,
        ack_deadline_s: float,
        min_notice_s: Mapping[DeclarationKind, float] | Mapping[str, float] | None = None,
        escalation_contacts: Sequence[str] = (),
    ) -> AgreementView:
        """(admin) An agreement between parties named by party name."""
        body = {
            "name": name,
            "parties": list(parties),
            "minima": {"lateral_m": float(minima.lateral_m), "vertical_m": float(minima.vertical_m),
                       "time_s": float(minima.time_s)},
            "disclosure": str(disclosure),
            "policy": str(policy),
            "ack_deadline_s": float(ack_deadline_s),
            "min_notice_s": {str(k): float(v) for k, v in (min_notice_s or {}).items()},
            "escalation_contacts": list(escalation_contacts),
        }
        return cast(AgreementView, self._json("POST", "/v1/agreements", json=body)["agreement"])

    def agreements(self) -> list[AgreementView]:
        """The agreements the caller is party to (the admin: all)."""
        return cast(list[AgreementView], self._json("GET", "/v1/agreements")["agreements"])

    def agreement(self, agreement_id: str) -> AgreementView:
        return cast(AgreementView, self._json("GET", f"/v1/agreements/{_seg(agreement_id)}")["agreement"])

    # -- declarations ---------------------------------------------------------------------------------------
    def declare(
        self,
        kind: DeclarationKind | str,
        volumes: Sequence[Volume4D],
        *,
        title: str = "",
        activation: Activation | str = Activation.ALWAYS,
        extra: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> DeclarationResult:
        """File a new declaration. Raises Blocked (with `.conflicts`) when a `block` agreement refuses it; with an
        `idempotency_key`, a retry of the same request returns the first answer instead of declaring twice."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        return self._write("POST", "/v1/declarations", _declaration_body(kind, volumes, title, activation, extra),
                           headers)

    def declaration(self, declaration_id: str) -> DeclarationView:
        return cast(DeclarationView, self._json("GET", f"/v1/declarations/{_seg(declaration_id)}")["declaration"])

    def update(
        self,
        declaration_id: str,
        version: int,
        kind: DeclarationKind | str,
        volumes: Sequence[Volume4D],
        *,
        title: str = "",
        activation: Activation | str = Activation.ALWAYS,
        extra: Mapping[str, str] | None = None,
    ) -> DeclarationResult:
        """Replace version `version` with a new one (StaleVersion when that is no longer the current version)."""
        return self._write("PUT", f"/v1/declarations/{_seg(declaration_id)}",
                           _declaration_body(kind, volumes, title, activation, extra), {"If-Match": f'"{version}"'})

    def cancel(self, declaration_id: str, version: int | None = None, reason: str = "") -> DeclarationResult:
        """Cancel; with `version`, only if that is still the current one."""
        headers = {"If-Match": f'"{version}"'} if version is not None else {}
        return self._write("POST", f"/v1/declarations/{_seg(declaration_id)}/cancel", {"reason": reason}, headers)

    def declarations(
        self,
        scope: Scope = "all",
        kind: DeclarationKind | str | None = None,
        state: DeclarationState | str | None = None,
        live: bool = True,
        *,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[DeclarationView]:
        """Every declaration the caller may see (own, or own and partners' as disclosed), page after page.

        `live` keeps the declared and active ones; a `state` overrides it."""
        params: dict[str, str | int | bool] = {"scope": scope, "live": "true" if live else "false",
                                               "limit": page_size}
        if kind is not None:
            params["kind"] = str(kind)
        if state is not None:
            params["state"] = str(state)
        after: str | None = None
        while True:
            page = self._json("GET", "/v1/declarations", params=params if after is None else {**params, "after": after})
            yield from cast(list[DeclarationView], page["declarations"])
            after = page.get("next")
            if not after:
                return

    def query(self, area: Volume4D, kind: DeclarationKind | str | None = None) -> list[DeclarationView]:
        """Live declarations the caller may see that share a point with `area`."""
        body: dict[str, Any] = {"area": volume_json(area)}
        if kind is not None:
            body["kind"] = str(kind)
        return cast(list[DeclarationView], self._json("POST", "/v1/declarations/query", json=body)["declarations"])

    # -- conflicts ------------------------------------------------------------------------------------------
    def conflicts(self, declaration_id: str | None = None, state: ConflictState = "open") -> list[ConflictView]:
        """Conflicts involving the caller's declarations (the admin: all), as disclosed."""
        params: dict[str, str | int | bool] = {"state": state, "limit": 500}
        if declaration_id is not None:
            params["declaration_id"] = declaration_id
        return cast(list[ConflictView], self._json("GET", "/v1/conflicts", params=params)["conflicts"])

    def conflict(self, conflict_id: str) -> ConflictView:
        return cast(ConflictView, self._json("GET", f"/v1/conflicts/{_seg(conflict_id)}")["conflict"])


    # -- the hotline ----------------------------------------------------------------------------------------
    def create_thread(
        self,
        agreement_id: str,
        participants: Sequence[str] | None = None,
        subject: str = "",
        about: ThreadAbout | None = None,
    ) -> ThreadView:
        """A thread in one of the caller's agreements, with `participants` (party names; the caller is added) or
        every party of it; optionally `about` a declaration or conflict the caller can see."""
        body: dict[str, Any] = {"agreement_id": agreement_id, "subject": subject}
        if participants is not None:
            body["participants"] = list(participants)
        if about is not None:
            body["about"] = {"kind": about["kind"], "id": about["id"]}
        return cast(ThreadView, self._json("POST", "/v1/threads", json=body)["thread"])

    def threads(self, agreement_id: str | None = None, *, page_size: int = PAGE_SIZE) -> list[ThreadView]:
        """Every thread the caller takes part in (optionally in one agreement), page after page."""
        params: dict[str, str | int | bool] = {"limit": page_size}
        if agreement_id is not None:
            params["agreement_id"] = agreement_id
        found: list[ThreadView] = []
        after: str | None = None
        while True:
            page = self._json("GET", "/v1/threads", params=params if after is None else {**params, "after": after})
            found.extend(cast(list[ThreadView], page["threads"]))
            after = page.get("next")
            if not after:
                return found

    def thread(self, thread_id: str) -> ThreadView:
        return cast(ThreadView, self._json("GET", f"/v1/threads/{_seg(thread_id)}")["thread"])

    def send(
        self,
        thread_id: str,
        text: str = "",
        *,
        structured: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> MessageView:
        """Send a message (text, a structured part, or both); with an `idempotency_key`, a retry of the same
        request returns the first answer instead of sending twice."""
        body: dict[str, Any] = {"text": text}
        if structured is not None:
            body["structured"] = dict(structured)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        return cast(MessageView, self._json("POST", f"/v1/threads/{_seg(thread_id)}/messages", json=body,
                                            headers=headers)["message"])

    def messages(self, thread_id: str, after: str | None = None, limit: int = 200) -> MessagePage:
        """One page of the thread's history after message `after`, oldest first (fetching it delivers it)."""
        params: dict[str, str | int | bool] = {"limit": limit}
        if after is not None:
            params["after"] = after
        page = self._json("GET", f"/v1/threads/{_seg(thread_id)}/messages", params=params)
        return MessagePage(messages=cast(list[MessageView], page["messages"]), next=page.get("next"))

    def mark_read(self, thread_id: str, up_to: str) -> ReadResult:
        """Mark read every message sent to the caller in the thread up to and including message `up_to`."""
        data = self._json("POST", f"/v1/threads/{_seg(thread_id)}/read", json={"up_to": up_to})
        return ReadResult(thread=cast(ThreadView, data["thread"]), read=int(data["read"]))

    # -- notifications, webhooks and the stream -------------------------------------------------------------
    def notifications(self, box: Literal["inbox", "sent"] = "inbox", pending: bool = True, *,
                      page_size: int = PAGE_SIZE) -> list[NotificationView]:
        """The caller's notifications, page after page: its `inbox` (reading delivers them, recording the lead
        time they left) or those it `sent` (with their delivery and acknowledgement); `pending`: unacknowledged
        only."""
        params: dict[str, str | int | bool] = {"box": box, "pending": "true" if pending else "false",
                                               "limit": page_size}
        found: list[NotificationView] = []
        after: str | None = None
        while True:
            page = self._json("GET", "/v1/notifications",
                              params=params if after is None else {**params, "after": after})
            found.extend(cast(list[NotificationView], page["notifications"]))
            after = page.get("next")
            if not after:
                return found

    def notification(self, notification_id: str) -> NotificationView:
        """One notification the caller received or sent (NotFound otherwise)."""
        return cast(NotificationView,
                    self._json("GET", f"/v1/notifications/{_seg(notification_id)}")["notification"])

    def ack(self, notification_id: str, reply: AckReply | str = AckReply.NOTED, text: str = "") -> NotificationView:
        """Acknowledge a notification the caller received, with a reply (`noted`, `request_hold`, `object`) and
        optional text; idempotent (a second ack returns the first unchanged). Forbidden for the sender."""
        body = {"reply": str(reply), "text": text}
        return cast(NotificationView, self._json("POST", f"/v1/notifications/{_seg(notification_id)}/ack",
                                                 json=body)["notification"])

    def register_webhook(self, url: str) -> WebhookView:
        """Have the caller's notifications posted to `url`, signed with HMAC-SHA256; keep `secret`, it is shown
        only this once (registering again replaces the URL and the secret)."""
        return cast(WebhookView, self._json("PUT", "/v1/parties/me/webhook", json={"url": url})["webhook"])

    def post_tracks(self, reports: list[dict[str, Any]], source: str = "http") -> dict[str, Any]:
        """Send a batch of position reports (at most 5,000; `POST /v1/tracks`): the answer counts what was
        received, accepted and refused by reason, and the source's running totals."""
        return self._json("POST", "/v1/tracks", json={"source": source, "reports": reports})

    def events(self, since: int | None = None, *, open_timeout: float = 10.0) -> EventStream:
        """Open `/v1/stream` as the caller: an iterator of the events pushed to it (`notification`, `message`,
        `thread`, `receipt`, `declaration`, `conflict`), after `since` (a `cursor` of an earlier event) or from
        now. Use it as a context manager; `recv(timeout)` waits for one event at most `timeout` seconds."""
        if self._token is None:
            raise NotAuthenticated("the stream needs a token", field="token")
        return EventStream(_ws_url(self.base_url) + "/v1/stream", self._token, since, open_timeout)

def _body(response: httpx.Response, method: str, path: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise DeconflictError(f"{method} {path}: the service answered {response.status_code} without JSON"
                              ) from None
    if not isinstance(data, dict):
        raise DeconflictError(f"{method} {path}: the service answered a JSON {type(data).__name__}, "
                              "not an object")
    return data


def _declaration_body(
    kind: DeclarationKind | str, volumes: Sequence[Volume4D], title: str, activation: Activation | str,
    extra: Mapping[str, str] | None,
) -> dict[str, Any]:
    return {"kind": str(kind), "volumes": [volume_json(v) for v in volumes], "activation": str(activation),
            "title": title, "extra": dict(extra or {})}


def _etag_version(etag: str | None, fallback: int) -> int:
    text = (etag or "").strip().removeprefix("W/").strip('"')
    return int(text) if text.isdigit() else fallback


def _seg(value: str) -> str:
    """An id as one path segment (an id with '/' must not reach another route)."""
    return quote(value, safe="")


# -- notifications and the stream -----------------------------------------------------------------------------
__all__ += ["EventStream", "NotificationView", "StreamEvent", "WebhookView"]


class NotificationView(TypedDict):
    """A notification as its recipient (or sender) sees it.

    `reason`: `notice` (a partner announced an activity), `conflict`, `induced` or, to the sender of one that went
    unanswered, `escalation`. `payload` is what was disclosed: `{"reason", "sender", "declaration", "conflicts"}`,
    or for an escalation alarm `{"notification_id", "recipient", "level", "contacts_reached", ...}`.
    `lead_time_s` and `late` are measured at the first delivery (None until then); `escalation_level` counts the
    escalations so far."""

    id: str
    reason: str
    sender: str
    recipient: str
    declaration_id: str | None  #: None for a tactical alert
    declaration_version: int | None
    conflict_id: str | None
    agreements: list[str]
    payload: dict[str, Any]
    starts_at: str
    min_notice_s: float | None
    created_at: str
    delivered_at: str | None
    delivered_via: str | None
    lead_time_s: float | None
    late: bool | None
    ack_deadline_at: str
    acked_at: str | None
    ack_reply: str | None
    ack_text: str | None
    escalation_level: int
    escalated: bool


class WebhookView(TypedDict):
    """A registered webhook: its URL and the HMAC-SHA256 secret (shown only when registered)."""

    url: str
    secret: str


class StreamEvent(TypedDict, total=False):
    """One event of `/v1/stream`: `type` and `cursor` (resume after it with `since`), and the item its type
    names: `notification`, `message` (also `receipt`), `thread`, `declaration` or `conflict`."""

    type: Required[str]
    cursor: Required[int]
    notification: NotificationView
    message: MessageView
    thread: ThreadView
    declaration: DeclarationView
    conflict: ConflictView


class EventStream:
    """A party's live connection to `/v1/stream` (see `Client.events`): connected and authenticated when made;
    `party` is the caller's name and `cursor` the position of the last event received (pass it as `since` to
    resume; delivery is at-least-once, so de-duplicate notifications and messages by id)."""

    def __init__(self, url: str, token: str, since: int | None, open_timeout: float) -> None:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        self.url = url
        self._closed: Exception | None = None
        try:
            # entered as a context manager (closed by `close`): websockets 17.1+ warns on a bare connection
            self._ws = connect(url, open_timeout=open_timeout, max_size=16 * 2**20).__enter__()
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise ServiceUnavailable(f"cannot open the stream at {url}: {exc}") from None
        try:
            hello: dict[str, Any] = {"token": token}
            if since is not None:
                hello["since"] = since
            self._ws.send(json.dumps(hello))
            first = self._receive(open_timeout)
        except BaseException:
            self._ws.close()
            raise
        if first is None or first.get("type") != "hello":
            self._ws.close()
            error = first.get("error") if first is not None else None
            message = str(error.get("message", "")) if isinstance(error, dict) else ""
            if first is not None and first.get("type") == "error":
                raise NotAuthenticated(message or "the stream refused the token", field="token")
            raise ServiceUnavailable(f"the stream at {url} did not answer hello")
        self.party = str(first.get("party", ""))
        self.cursor = int(first.get("cursor", since or 0))

    def _receive(self, timeout: float | None) -> dict[str, Any] | None:
        from websockets.exceptions import ConnectionClosed

        try:
            raw = self._ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            self._closed = exc
            raise ServiceUnavailable(f"the stream at {self.url} closed ({exc})") from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise DeconflictError("the stream sent something that is not JSON") from None
        if not isinstance(data, dict):
            raise DeconflictError(f"the stream sent a JSON {type(data).__name__}, not an object")
        return data

    def recv(self, timeout: float | None = None) -> StreamEvent | None:
        """The next event, or None when none came within `timeout` seconds (None: wait for ever). Raises
        ServiceUnavailable when the connection is lost."""
        event = self._receive(timeout)
        if event is None:
            return None
        cursor = event.get("cursor")
        if isinstance(cursor, int) and cursor > self.cursor:
            self.cursor = cursor
        return cast(StreamEvent, event)

    def __iter__(self) -> Iterator[StreamEvent]:
        """Every event as it comes, until the connection closes (ServiceUnavailable if it breaks)."""
        from websockets.exceptions import ConnectionClosedOK

        while True:
            try:
                event = self.recv()
            except ServiceUnavailable:
                if isinstance(self._closed, ConnectionClosedOK):
                    return
                raise
            if event is not None:
                yield event

    def close(self) -> None:
        self._ws.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EventStream({self.url!r}, cursor={self.cursor})"


def _ws_url(base_url: str) -> str:
    """The WebSocket URL of a service at `base_url` (http -> ws, https -> wss; a path prefix kept)."""
    url = httpx.URL(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(url.scheme, url.scheme)
    return str(url.copy_with(scheme=scheme)).rstrip("/")
