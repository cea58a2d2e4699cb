"""Scenarios: timed drills written in YAML, played against a live service through the client.

A scenario names its parties and agreements, then lists events, each `at` seconds from the start of the run:
`declare`, `update` and `cancel`, hotline `message`s and `ack`s of notifications (docs/scenarios.md has the
format). `parse_scenario` reads and checks the whole
file before anything is sent, so a mistake is reported as `events[3].circle.radius_m: must be positive` and not
halfway through a drill. `run_scenario` creates the parties and agreements with the admin client, then plays the
events in order: a declaration that a `block` agreement refuses is an outcome of the drill, not a crash.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import yaml

from ..client import AgreementView, Client, ConflictView, NotificationView, PartyView
from ..core.model import Activation, Altitude, DeclarationKind, SeparationMinima, Volume3D, Volume4D
from ..core.protocol import AckReply, ConflictPolicy, Disclosure
from ..core.validation import validate_volume
from ..errors import Blocked, DeconflictError, InvalidInput, InvalidVolume, NotAuthenticated, ServiceUnavailable

__all__ = [
    "AckEvent",
    "AgreementSpec",
    "CancelEvent",
    "DeclareEvent",
    "Event",
    "EventOutcome",
    "MessageEvent",
    "PartySpec",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "ThreadSpec",
    "UpdateEvent",
    "VolumeSpec",
    "bundled_scenario",
    "load_scenario",
    "parse_scenario",
    "run_scenario",
]

EVENT_KINDS = ("declare", "update", "cancel", "message", "ack")  #: later: track, ...
STRUCTURED_TYPES = ("request_hold", "hold_until", "position_report")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_REFERENCE_TIME = datetime(2000, 1, 1, tzinfo=UTC)  # to check geometry before a run has a start time


class ScenarioError(InvalidInput):
    """The scenario file is wrong; `field` names the place (`events[3].circle.radius_m`)."""


# -- the parsed scenario --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """One volume of an event: a circle (lat, lng, radius_m) or a polygon, an altitude band, and a window in
    minutes from the start of the run."""

    altitude: tuple[float, float]
    minutes: tuple[float, float]
    circle: tuple[float, float, float] | None = None
    polygon: tuple[tuple[float, float], ...] | None = None
    feet: bool = False

    def at(self, start: datetime) -> Volume4D:
        """The Volume4D for a run that starts at `start`."""
        t0 = start + timedelta(minutes=self.minutes[0])
        t1 = start + timedelta(minutes=self.minutes[1])
        lo, hi = self.altitude
        if self.circle is not None:
            volume = Volume4D.circle(*self.circle, lo, hi, t0, t1)
        else:
            assert self.polygon is not None
            volume = Volume4D.polygon(self.polygon, lo, hi, t0, t1)
        if not self.feet:
            return volume
        v3 = volume.volume
        return Volume4D(volume=Volume3D(altitude_lower=Altitude.ft(lo), altitude_upper=Altitude.ft(hi),
                                        outline_polygon=v3.outline_polygon, outline_circle=v3.outline_circle),
                        time_start=volume.time_start, time_end=volume.time_end)


@dataclass(frozen=True, slots=True)
class PartySpec:
    name: str
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class AgreementSpec:
    name: str
    parties: tuple[str, ...]
    minima: SeparationMinima
    disclosure: Disclosure = Disclosure.FULL
    policy: ConflictPolicy = ConflictPolicy.INFORM
    ack_deadline_s: float = 900.0
    min_notice_s: Mapping[DeclarationKind, float] = field(default_factory=dict)
    escalation_contacts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeclareEvent:
    index: int
    at: float
    party: str
    ref: str
    kind: DeclarationKind
    volumes: tuple[VolumeSpec, ...]
    title: str = ""
    activation: Activation = Activation.ALWAYS
    extra: Mapping[str, str] = field(default_factory=dict)
    event: Literal["declare"] = "declare"


@dataclass(frozen=True, slots=True)
class UpdateEvent:
    """A new version of `ref` (kind and activation stay those it was declared with)."""

    index: int
    at: float
    party: str
    ref: str
    kind: DeclarationKind
    activation: Activation
    volumes: tuple[VolumeSpec, ...]
    title: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    event: Literal["update"] = "update"


@dataclass(frozen=True, slots=True)
class CancelEvent:
    index: int
    at: float
    party: str
    ref: str
    reason: str = ""
    event: Literal["cancel"] = "cancel"


@dataclass(frozen=True, slots=True)
class ThreadSpec:
    """A hotline thread a `message` event opens: in agreement `agreement` (its name in the scenario), between
    `participants` (None: every party of the agreement), optionally about the declaration `about` (a ref)."""

    ref: str
    agreement: str
    subject: str = ""
    about: str | None = None
    participants: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A hotline message in thread `ref`, which `opens` (the first message of a thread) creates. In `structured`,
    `declaration` (a ref) and `until_minutes` (from the run's start) become `declaration_id` and `until`."""

    index: int
    at: float
    party: str
    ref: str
    text: str = ""
    structured: Mapping[str, Any] | None = None
    opens: ThreadSpec | None = None
    event: Literal["message"] = "message"


@dataclass(frozen=True, slots=True)
class AckEvent:
    """`party` acknowledges the notification it received about declaration `ref` (its latest version)."""

    index: int
    at: float
    party: str
    ref: str
    reply: AckReply = AckReply.NOTED
    text: str = ""
    event: Literal["ack"] = "ack"


Event = DeclareEvent | UpdateEvent | CancelEvent | MessageEvent | AckEvent


@dataclass(frozen=True, slots=True)
class Scenario:
    description: str
    parties: tuple[PartySpec, ...]
    agreements: tuple[AgreementSpec, ...]
    events: tuple[Event, ...]

    @property
    def duration_s(self) -> float:
        return self.events[-1].at if self.events else 0.0


# -- reading ----------------------------------------------------------------------------------------------------
def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file (ScenarioError naming the place when it is wrong)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read {p}: {exc.strerror or exc}", field="file") from None
    return parse_scenario(text)


def bundled_scenario(name: str) -> Path | None:
    """The path of a scenario shipped with Deconflict (`demo`), or None."""
    if not NAME.match(name):
        return None
    found = resources.files(__package__).joinpath(f"{name}.yaml")
    return Path(str(found)) if found.is_file() else None


def parse_scenario(text: str) -> Scenario:
    """A scenario from its YAML text, checked in full."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{where}not valid YAML: {problem}", field="file") from None
    top = _mapping(data, "scenario", {"description", "parties", "agreements", "events"})
    description = _text(top, "description", "scenario", "")
    parties = tuple(_party(item, f"parties[{i}]") for i, item in enumerate(_list(top, "parties", "scenario")))
    names = [p.name for p in parties]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ScenarioError(f"party {name!r} is listed twice", field=f"parties[{i}].name")
    agreements = tuple(_agreement(item, f"agreements[{i}]", names)
                       for i, item in enumerate(_list(top, "agreements", "scenario", required=False)))
    events: list[Event] = []
    declared: dict[str, DeclareEvent] = {}
    threads: dict[str, ThreadSpec] = {}
    members = {a.name: a.parties for a in agreements}
    for i, item in enumerate(_list(top, "events", "scenario")):
        event = _event(item, i, names, declared, threads, members)
        if events and event.at < events[-1].at:
            raise ScenarioError(f"events must be in time order: {event.at:g} s comes after {events[-1].at:g} s",
                                field=f"events[{i}].at")
        if isinstance(event, DeclareEvent):
            declared[event.ref] = event
        if isinstance(event, MessageEvent) and event.opens is not None:
            threads[event.ref] = event.opens
        events.append(event)
    return Scenario(description, parties, agreements, tuple(events))


def _party(item: Any, where: str) -> PartySpec:
    if isinstance(item, str):
        item = {"name": item}
    m = _mapping(item, where, {"name", "display_name"})
    name = _text(m, "name", where)
    if not NAME.match(name):
        raise ScenarioError("a party name is lower-case letters, digits, '-' or '_' (at most 64)",
                            field=f"{where}.name")
    return PartySpec(name, _text(m, "display_name", where, ""))


def _agreement(item: Any, where: str, parties: list[str]) -> AgreementSpec:
    m = _mapping(item, where, {"name", "parties", "minima", "disclosure", "policy", "ack_deadline_s",
                               "min_notice_s", "escalation_contacts"})
    members = _list(m, "parties", where)
    for j, name in enumerate(members):
        _known_party(name, parties, f"{where}.parties[{j}]")
    if len(set(members)) < 2:
        raise ScenarioError("an agreement needs at least two different parties", field=f"{where}.parties")
    mwhere = f"{where}.minima"
    mm = _mapping(m.get("minima"), mwhere, {"lateral_m", "vertical_m", "time_s"})
    minima = SeparationMinima(*(_number(mm, k, mwhere, minimum=0.0) for k in ("lateral_m", "vertical_m", "time_s")))
    notice_where = f"{where}.min_notice_s"
    notice = _mapping(m.get("min_notice_s", {}), notice_where, None)
    return AgreementSpec(
        name=_text(m, "name", where, "+".join(members)),
        parties=tuple(members),
        minima=minima,
        disclosure=_choice(m, "disclosure", where, Disclosure, Disclosure.FULL),
        policy=_choice(m, "policy", where, ConflictPolicy, ConflictPolicy.INFORM),
        ack_deadline_s=_number(m, "ack_deadline_s", where, 900.0, minimum=0.0, strict=True),
        min_notice_s={_enum(k, f"{notice_where}.{k}", DeclarationKind): _number(notice, k, notice_where, minimum=0.0)
                      for k in notice},
        escalation_contacts=tuple(_text({"c": c}, "c", f"{where}.escalation_contacts[{j}]")
                                  for j, c in enumerate(_list(m, "escalation_contacts", where, required=False))),
    )


_GEOMETRY = {"circle", "polygon", "altitude_m", "altitude_ft", "minutes"}
_EVENT_FIELDS: dict[str, set[str]] = {
    "declare": {"at", "event", "as", "ref", "kind", "title", "activation", "extra", "volumes"} | _GEOMETRY,
    "update": {"at", "event", "as", "ref", "title", "extra", "volumes"} | _GEOMETRY,
    "cancel": {"at", "event", "as", "ref", "reason"},
    "message": {"at", "event", "as", "thread", "text", "structured"},
    "ack": {"at", "event", "as", "ref", "reply", "text"},
}
MAX_MESSAGE = 4000
MAX_ACK_TEXT = 2000


def _event(item: Any, index: int, parties: list[str], declared: dict[str, DeclareEvent],
           threads: dict[str, ThreadSpec], members: Mapping[str, tuple[str, ...]]) -> Event:
    where = f"events[{index}]"
    m = _mapping(item, where, None)
    kind_of_event = _text(m, "event", where)
    if kind_of_event not in _EVENT_FIELDS:
        raise ScenarioError(f"unknown event {kind_of_event!r} (known: {', '.join(EVENT_KINDS)})",
                            field=f"{where}.event")
    _mapping(m, where, _EVENT_FIELDS[kind_of_event])  # unknown fields
    at = _number(m, "at", where, minimum=0.0)
    party = _known_party(_text(m, "as", where), parties, f"{where}.as")
    if kind_of_event == "message":
        return _message(m, where, index, at, party, declared, threads, members)
    ref = _text(m, "ref", where)
    if not ref:
        raise ScenarioError("must name the declaration (any short name, used by later events)", field=f"{where}.ref")
    if kind_of_event == "declare":
        if ref in declared:
            raise ScenarioError(f"{ref!r} was declared before, by events[{declared[ref].index}]; use update",
                                field=f"{where}.ref")
        kind = _choice(m, "kind", where, DeclarationKind)
        activation = _choice(m, "activation", where, Activation, Activation.ALWAYS)
        if activation is Activation.INDUCED and kind is not DeclarationKind.HAZARD:
            raise ScenarioError("only a hazard can be induced", field=f"{where}.activation")
        return DeclareEvent(index, at, party, ref, kind, _volumes(m, where), _text(m, "title", where, ""),
                            activation, _extra(m, where))
    original = declared.get(ref)
    if original is None:
        raise ScenarioError(f"no earlier declare event has ref {ref!r}", field=f"{where}.ref")
    if kind_of_event == "update":
        return UpdateEvent(index, at, party, ref, original.kind, original.activation, _volumes(m, where),
                           _text(m, "title", where, original.title), _extra(m, where, original.extra))
    if kind_of_event == "ack":
        if original.party == party:
            raise ScenarioError(f"{party} declared {ref!r} itself; the notifications about it go to its partners",
                                field=f"{where}.as")
        text = _text(m, "text", where, "")
        if len(text) > MAX_ACK_TEXT:
            raise ScenarioError(f"at most {MAX_ACK_TEXT} characters, got {len(text)}", field=f"{where}.text")
        return AckEvent(index, at, party, ref, _choice(m, "reply", where, AckReply, AckReply.NOTED), text)
    return CancelEvent(index, at, party, ref, _text(m, "reason", where, ""))


def _message(m: dict[str, Any], where: str, index: int, at: float, party: str, declared: dict[str, DeclareEvent],
             threads: dict[str, ThreadSpec], members: Mapping[str, tuple[str, ...]]) -> MessageEvent:
    twhere = f"{where}.thread"
    if "thread" not in m:
        raise ScenarioError("is required: the ref of an earlier thread, or {ref, agreement, subject, about} to "
                            "open one", field=twhere)
    opens: ThreadSpec | None = None
    if isinstance(m["thread"], dict):
        t = _mapping(m["thread"], twhere, {"ref", "agreement", "subject", "about", "participants"})
        ref = _text(t, "ref", twhere)
        if ref in threads:
            raise ScenarioError(f"thread {ref!r} was opened before; name it by its ref", field=f"{twhere}.ref")
        agreement = _text(t, "agreement", twhere)
        if agreement not in members:
            raise ScenarioError(f"{agreement!r} is not one of the scenario's agreements "
                                f"({', '.join(members) or 'none'})", field=f"{twhere}.agreement")
        if party not in members[agreement]:
            raise ScenarioError(f"{party} is not a party to {agreement!r}", field=f"{where}.as")
        participants: tuple[str, ...] | None = None
        if "participants" in t:
            listed = _list(t, "participants", twhere)
            for j, name in enumerate(listed):
                _known_party(name, list(members[agreement]), f"{twhere}.participants[{j}]")
            participants = tuple(dict.fromkeys([party, *listed]))
            if len(participants) < 2:
                raise ScenarioError("a thread needs another participant besides the sender",
                                    field=f"{twhere}.participants")
        about = _text(t, "about", twhere, "") or None
        if about is not None and about not in declared:
            raise ScenarioError(f"no earlier declare event has ref {about!r}", field=f"{twhere}.about")
        subject = _text(t, "subject", twhere, "")
        if len(subject) > 200:
            raise ScenarioError(f"at most 200 characters, got {len(subject)}", field=f"{twhere}.subject")
        opens = ThreadSpec(ref, agreement, subject, about, participants)
    else:
        ref = _text(m, "thread", where)
        spec = threads.get(ref)
        if spec is None:
            raise ScenarioError(f"no earlier message event opens thread {ref!r}", field=twhere)
        if party not in (spec.participants or members[spec.agreement]):
            raise ScenarioError(f"{party} does not take part in thread {ref!r}", field=f"{where}.as")
    text = _text(m, "text", where, "")
    if len(text) > MAX_MESSAGE:
        raise ScenarioError(f"at most {MAX_MESSAGE} characters, got {len(text)}", field=f"{where}.text")
    structured = _structured(m, f"{where}.structured", declared) if "structured" in m else None
    if not text and structured is None:
        raise ScenarioError("a message needs text, structured, or both", field=f"{where}.text")
    return MessageEvent(index, at, party, ref, text, structured, opens)


def _structured(m: dict[str, Any], where: str, declared: dict[str, DeclareEvent]) -> dict[str, Any]:
    s = _mapping(m["structured"], where, None)
    kind = _text(s, "type", where)
    if kind not in STRUCTURED_TYPES:
        raise ScenarioError(f"{kind!r} is not one of {', '.join(STRUCTURED_TYPES)}", field=f"{where}.type")
    if "declaration" in s:
        ref = _text(s, "declaration", where)
        if ref not in declared:
            raise ScenarioError(f"no earlier declare event has ref {ref!r}", field=f"{where}.declaration")
    if "until_minutes" in s:
        if "until" in s:
            raise ScenarioError("give until or until_minutes, not both", field=f"{where}.until_minutes")
        _number(s, "until_minutes", where)
    return dict(s)


def _volumes(m: dict[str, Any], where: str) -> tuple[VolumeSpec, ...]:
    inline = _GEOMETRY & m.keys()
    if "volumes" in m:
        if inline:
            raise ScenarioError(f"give either volumes or {sorted(inline)[0]} here, not both",
                                field=f"{where}.{sorted(inline)[0]}")
        items = _list(m, "volumes", where)
        if not items:
            raise ScenarioError("at least one volume is needed", field=f"{where}.volumes")
        return tuple(_volume(_mapping(v, f"{where}.volumes[{j}]", _GEOMETRY), f"{where}.volumes[{j}]")
                     for j, v in enumerate(items))
    return (_volume(m, where),)


def _volume(m: dict[str, Any], where: str) -> VolumeSpec:
    if ("circle" in m) == ("polygon" in m):
        raise ScenarioError("give exactly one of circle or polygon", field=f"{where}.circle")
    if ("altitude_m" in m) == ("altitude_ft" in m):
        raise ScenarioError("give exactly one of altitude_m or altitude_ft: [lower, upper]",
                            field=f"{where}.altitude_m")
    alt_key = "altitude_m" if "altitude_m" in m else "altitude_ft"
    lo, hi = _pair(m, alt_key, where)
    if lo >= hi:
        raise ScenarioError(f"the lower altitude {lo:g} must be below the upper {hi:g}", field=f"{where}.{alt_key}")
    start, end = _pair(m, "minutes", where)
    if end <= start:
        raise ScenarioError(f"the window must end after it starts ({start:g} -> {end:g})", field=f"{where}.minutes")
    spec: VolumeSpec
    if "circle" in m:
        cwhere = f"{where}.circle"
        c = _mapping(m["circle"], cwhere, {"lat", "lng", "radius_m"})
        radius = _number(c, "radius_m", cwhere, minimum=0.0, strict=True)
        spec = VolumeSpec((lo, hi), (start, end), circle=(_lat(c, cwhere), _lng(c, cwhere), radius),
                          feet=alt_key == "altitude_ft")
    else:
        pwhere = f"{where}.polygon"
        points = _list(m, "polygon", where)
        if len(points) < 3:
            raise ScenarioError("a polygon needs at least three [lat, lng] vertices", field=pwhere)
        vertices = []
        for j, point in enumerate(points):
            lat, lng = _pair({"p": point}, "p", f"{pwhere}[{j}]", what="[lat, lng]")
            _lat({"lat": lat}, f"{pwhere}[{j}]")
            _lng({"lng": lng}, f"{pwhere}[{j}]")
            vertices.append((lat, lng))
        spec = VolumeSpec((lo, hi), (start, end), polygon=tuple(vertices), feet=alt_key == "altitude_ft")
    try:  # the geometric rules (crossing edges, limits), named in this file's terms
        validate_volume(spec.at(_REFERENCE_TIME), field=where)
    except InvalidVolume as exc:
        raise ScenarioError(exc.message, field=_yaml_field(exc.field or where, where, alt_key)) from None
    return spec


def _yaml_field(f3548: str, where: str, alt_key: str) -> str:
    rest = f3548.removeprefix(where)
    for old, new in ((".volume.outline_polygon.vertices", ".polygon"), (".volume.outline_polygon", ".polygon"),
                     (".volume.outline_circle.radius.value", ".circle.radius_m"),
                     (".volume.outline_circle.center", ".circle"), (".volume.outline_circle", ".circle"),
                     (".volume.altitude_lower", f".{alt_key}"), (".volume.altitude_upper", f".{alt_key}"),
                     (".time_start", ".minutes"), (".time_end", ".minutes")):
        if rest.startswith(old):
            return where + new + rest[len(old):]
    return f3548


# -- small typed readers, each naming the place -----------------------------------------------------------------
def _mapping(value: Any, where: str, allowed: set[str] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"must be a mapping, not {_what(value)}", field=where)
    for key in value:
        if not isinstance(key, str):
            raise ScenarioError(f"keys must be text, not {_what(key)}", field=where)
        if allowed is not None and key not in allowed:
            raise ScenarioError(f"unknown field {key!r} (known: {', '.join(sorted(allowed))})", field=f"{where}.{key}")
    return value


def _list(m: dict[str, Any], key: str, where: str, required: bool = True) -> list[Any]:
    here = key if where == "scenario" else f"{where}.{key}"
    if key not in m:
        if required:
            raise ScenarioError("is required", field=here)
        return []
    value = m[key]
    if not isinstance(value, list):
        raise ScenarioError(f"must be a list, not {_what(value)}", field=here)
    return value


_MISSING: Any = object()
E = TypeVar("E", Disclosure, ConflictPolicy, DeclarationKind, Activation, AckReply)


def _text(m: dict[str, Any], key: str, where: str, default: str = _MISSING) -> str:
    here = key if where == "scenario" else f"{where}.{key}"
    if key not in m or m[key] is None:
        if default is _MISSING:
            raise ScenarioError("is required", field=here)
        return default
    value = m[key]
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ScenarioError(f"must be text, not {_what(value)}", field=here)
    return str(value)


def _number(m: dict[str, Any], key: str, where: str, default: float = _MISSING, *, minimum: float | None = None,
            strict: bool = False) -> float:
    here = f"{where}{key}" if key.startswith("[") else f"{where}.{key}"
    if key not in m:
        if default is _MISSING:
            raise ScenarioError("is required", field=here)
        return default
    value = m[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"must be a number, not {_what(value)}", field=here)
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ScenarioError(f"must be {'above' if strict else 'at least'} {minimum:g}, got {value:g}", field=here)
    return float(value)


def _pair(m: dict[str, Any], key: str, where: str, what: str = "[lower, upper]") -> tuple[float, float]:
    here = f"{where}.{key}" if key != "p" else where
    value = m.get(key, _MISSING)
    if value is _MISSING:
        raise ScenarioError(f"is required: {what}", field=here)
    if not isinstance(value, list) or len(value) != 2:
        raise ScenarioError(f"must be {what}, not {_what(value)}", field=here)
    a, b = (_number({f"[{i}]": v}, f"[{i}]", here) for i, v in enumerate(value))
    return a, b


def _lat(m: dict[str, Any], where: str) -> float:
    lat = _number(m, "lat", where)
    if not -90.0 <= lat <= 90.0:
        raise ScenarioError(f"a latitude is within [-90, 90], got {lat:g}", field=f"{where}.lat")
    return lat


def _lng(m: dict[str, Any], where: str) -> float:
    lng = _number(m, "lng", where)
    if not -180.0 <= lng <= 180.0:
        raise ScenarioError(f"a longitude is within [-180, 180], got {lng:g}", field=f"{where}.lng")
    return lng


def _choice(m: dict[str, Any], key: str, where: str, enum: type[E], default: E | None = None) -> E:
    if key not in m:
        if default is None:
            raise ScenarioError(f"is required (one of {', '.join(e.value for e in enum)})", field=f"{where}.{key}")
        return default
    return _enum(m[key], f"{where}.{key}", enum)


def _enum(value: Any, here: str, enum: type[E]) -> E:
    try:
        return enum(value)
    except ValueError:
        raise ScenarioError(f"{value!r} is not one of {', '.join(e.value for e in enum)}", field=here) from None


def _extra(m: dict[str, Any], where: str, default: Mapping[str, str] | None = None) -> dict[str, str]:
    if "extra" not in m:
        return dict(default or {})
    extra = _mapping(m["extra"], f"{where}.extra", None)
    return {k: _text(extra, k, f"{where}.extra") for k in extra}


def _known_party(name: Any, parties: list[str], here: str) -> str:
    if not isinstance(name, str) or name not in parties:
        raise ScenarioError(f"{name!r} is not one of the scenario's parties ({', '.join(parties)})", field=here)
    return name


def _what(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "nothing"}.get(
        type(value), f"{value!r}")


# -- running ----------------------------------------------------------------------------------------------------
Status = Literal["declared", "updated", "cancelled", "sent", "acknowledged", "blocked", "skipped", "failed"]


@dataclass
class EventOutcome:
    """What one event did. `blocked`: refused by a `block` agreement (`conflicts` say why); `skipped`: its
    declaration (or thread) was never filed; `failed`: the service refused it for another reason (`message`).
    A declaration's `notices` are the notifications it sent, `late_notice` the recipients told with less than
    the agreed notice; a `message` records its thread and message ids, an `ack` the acknowledged notification."""

    index: int
    at: float
    event: str
    party: str
    ref: str
    status: Status
    declaration_id: str | None = None
    version: int | None = None
    conflicts: list[ConflictView] = field(default_factory=list)
    message: str = ""
    notices: list[NotificationView] = field(default_factory=list)
    late_notice: list[str] = field(default_factory=list)
    thread_id: str | None = None
    message_id: str | None = None
    notification: NotificationView | None = None


@dataclass
class ScenarioResult:
    started_at: datetime
    tokens: dict[str, str] = field(repr=False)  #: party name -> its token (shown once by the service)
    parties: dict[str, PartyView]
    agreements: dict[str, AgreementView]
    refs: dict[str, str]  #: ref -> declaration id
    outcomes: list[EventOutcome]
    threads: dict[str, str] = field(default_factory=dict)  #: thread ref -> thread id

    def by_status(self, status: Status) -> list[EventOutcome]:
        return [o for o in self.outcomes if o.status == status]


Progress = Callable[[int, int, EventOutcome], None]


def run_scenario(
    scenario: Scenario,
    admin: Client,
    *,
    now: datetime,
    speed: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: Progress | None = None,
) -> ScenarioResult:
    """Create the parties and agreements, then play the events at `at / speed` seconds after the start.

    Volumes' `minutes` count from `now`. `sleep` and `clock` are injected so that a test plays a scenario at once.
    Errors while setting up, an unreachable service and a refused token raise; an event the service refuses
    becomes an outcome (`blocked`, or `failed` with the reason) and the drill goes on.
    """
    if not speed > 0:
        raise ScenarioError(f"speed must be above 0, got {speed:g}", field="speed")
    tokens: dict[str, str] = {}
    parties: dict[str, PartyView] = {}
    for i, p in enumerate(scenario.parties):
        with _setting_up(f"parties[{i}] ({p.name})"):
            created = admin.create_party(p.name, p.display_name)
        tokens[p.name], parties[p.name] = created.token, created.party
    agreements: dict[str, AgreementView] = {}
    for i, a in enumerate(scenario.agreements):
        with _setting_up(f"agreements[{i}] ({a.name})"):
            agreements[a.name] = admin.create_agreement(a.name, a.parties, a.minima, a.disclosure, a.policy,
                                                        a.ack_deadline_s, dict(a.min_notice_s),
                                                        a.escalation_contacts)
    clients = {name: admin.with_token(token) for name, token in tokens.items()}
    result = ScenarioResult(now, tokens, parties, agreements, {}, [])
    versions: dict[str, int] = {}
    blocked_at: dict[str, int] = {}
    t0 = clock()
    for done, event in enumerate(scenario.events, start=1):
        delay = t0 + event.at / speed - clock()
        if delay > 0:
            sleep(delay)
        if isinstance(event, MessageEvent | AckEvent):
            outcome = _talk(event, clients[event.party], now, result)
        else:
            outcome = _play(event, clients[event.party], now, result.refs, versions, blocked_at)
        result.outcomes.append(outcome)
        if progress is not None:
            progress(done, len(scenario.events), outcome)
    return result


def _play(event: DeclareEvent | UpdateEvent | CancelEvent, client: Client, now: datetime, refs: dict[str, str],
          versions: dict[str, int], blocked_at: dict[str, int]) -> EventOutcome:
    out = EventOutcome(event.index, event.at, event.event, event.party, event.ref, "failed",
                       declaration_id=refs.get(event.ref))
    if not isinstance(event, DeclareEvent) and event.ref not in refs:
        out.status = "skipped"
        out.message = f"{event.ref!r} was never filed (blocked at events[{blocked_at.get(event.ref, '?')}])"
        return out
    try:
        if isinstance(event, DeclareEvent):
            made = client.declare(event.kind, [v.at(now) for v in event.volumes], title=event.title,
                                  activation=event.activation, extra=dict(event.extra))
            refs[event.ref] = out.declaration_id = made["declaration"]["id"]
            out.status = "declared"
        elif isinstance(event, UpdateEvent):
            made = client.update(refs[event.ref], versions[event.ref], event.kind, [v.at(now) for v in event.volumes],
                                 title=event.title, activation=event.activation, extra=dict(event.extra))
            out.status = "updated"
        else:
            made = client.cancel(refs[event.ref], versions[event.ref], reason=event.reason)
            out.status = "cancelled"
        versions[event.ref] = out.version = made["version"]
        out.conflicts = made["conflicts"]
        if not isinstance(event, CancelEvent):
            out.notices = [n for n in client.notifications(box="sent", pending=False)
                           if n["declaration_id"] == out.declaration_id and n["declaration_version"] == out.version]
            out.late_notice = sorted(n["recipient"] for n in out.notices if _late_when_sent(n))
            if out.late_notice:
                out.message = "late notice to " + ", ".join(
                    f"{n['recipient']} ({_minutes(_lead_when_sent(n))} of {_minutes(n['min_notice_s'] or 0)})"
                    for n in sorted(out.notices, key=lambda n: n["recipient"]) if _late_when_sent(n))
    except Blocked as exc:
        out.status, out.message = "blocked", exc.message
        out.conflicts = cast(list[ConflictView], exc.conflicts)
        if isinstance(event, DeclareEvent):
            blocked_at[event.ref] = event.index
    except (ServiceUnavailable, NotAuthenticated):
        raise
    except DeconflictError as exc:
        out.message = str(exc)
    return out


def _lead_when_sent(n: NotificationView) -> float:
    """The notice a notification gave when it was sent: the declared start minus its creation."""
    return (datetime.fromisoformat(n["starts_at"]) - datetime.fromisoformat(n["created_at"])).total_seconds()


def _late_when_sent(n: NotificationView) -> bool:
    return n["min_notice_s"] is not None and _lead_when_sent(n) < n["min_notice_s"]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if abs(seconds) >= 60 else f"{seconds:.0f} s"


def _talk(event: MessageEvent | AckEvent, client: Client, now: datetime, result: ScenarioResult) -> EventOutcome:
    """Play a hotline message or an acknowledgement."""
    out = EventOutcome(event.index, event.at, event.event, event.party, event.ref, "failed")
    try:
        if isinstance(event, AckEvent):
            declaration_id = result.refs.get(event.ref)
            if declaration_id is None:
                out.status, out.message = "skipped", f"{event.ref!r} was never filed"
                return out
            out.declaration_id = declaration_id
            told = [n for n in client.notifications(box="inbox", pending=False)
                    if n["declaration_id"] == declaration_id and n["reason"] != "escalation"]
            if not told:
                out.message = f"no notification about {event.ref!r} reached {event.party}"
                return out
            latest = max(told, key=lambda n: (n["declaration_version"], n["created_at"]))
            out.notification = client.ack(latest["id"], event.reply, event.text)
            out.version = latest["declaration_version"]
            out.status = "acknowledged"
            lead = out.notification["lead_time_s"]
            timing = f", read {_minutes(lead)} ahead" if lead is not None else ""
            late = " (late)" if out.notification["late"] else ""
            out.message = f"{event.reply.value}{timing}{late}" + (f": {event.text}" if event.text else "")
            return out
        if event.opens is not None:
            spec = event.opens
            about_id = result.refs.get(spec.about) if spec.about is not None else None
            if spec.about is not None and about_id is None:
                out.status, out.message = "skipped", f"{spec.about!r} was never filed; thread not opened"
                return out
            thread = client.create_thread(
                result.agreements[spec.agreement]["id"], list(spec.participants) if spec.participants else None,
                spec.subject, {"kind": "declaration", "id": about_id} if about_id is not None else None)
            result.threads[spec.ref] = thread["id"]
        thread_id = result.threads.get(event.ref)
        if thread_id is None:
            out.status, out.message = "skipped", f"thread {event.ref!r} was never opened"
            return out
        out.thread_id = thread_id
        sent = client.send(thread_id, event.text, structured=_resolve(event.structured, now, result.refs))
        out.message_id, out.status = sent["id"], "sent"
        kind = f"[{event.structured['type']}] " if event.structured else ""
        out.message = kind + event.text
    except (ServiceUnavailable, NotAuthenticated):
        raise
    except DeconflictError as exc:
        out.message = str(exc)
    return out


def _resolve(structured: Mapping[str, Any] | None, now: datetime, refs: Mapping[str, str]
             ) -> dict[str, Any] | None:
    """A structured part as the service takes it: `declaration` (a ref) -> `declaration_id`, `until_minutes`
    -> `until` (RFC 3339, from the run's start)."""
    if structured is None:
        return None
    part = dict(structured)
    if "declaration" in part:
        ref = str(part.pop("declaration"))
        if ref in refs:
            part["declaration_id"] = refs[ref]
    if "until_minutes" in part:
        until = now + timedelta(minutes=float(part.pop("until_minutes")))
        part["until"] = until.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return part


@contextmanager
def _setting_up(where: str) -> Iterator[None]:
    """Re-raise a service error during set-up with the scenario's place in front of its message."""
    try:
        yield
    except (ServiceUnavailable, NotAuthenticated):
        raise
    except DeconflictError as exc:
        raise ScenarioError(f"{where}: {exc.message}", field=exc.field) from None
