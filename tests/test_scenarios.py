"""Scenarios: the YAML format's checks, the demo drill played against a live service, and `scenario run`."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deconflict.cli import app
from deconflict.client import Client
from deconflict.core.model import Activation, DeclarationKind
from deconflict.core.protocol import AckReply, ConflictPolicy, Disclosure
from deconflict.scenarios.runner import (
    AckEvent,
    CancelEvent,
    DeclareEvent,
    MessageEvent,
    ScenarioError,
    ThreadSpec,
    UpdateEvent,
    bundled_scenario,
    load_scenario,
    parse_scenario,
    run_scenario,
)
from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService, start_in_thread

from .service_helpers import ManualClock

DEMO = Path(__file__).parents[1] / "src" / "deconflict" / "scenarios" / "demo.yaml"
runner = CliRunner()

SMALL = """
parties: [alpha, bravo]
agreements:
  - {name: ab, parties: [alpha, bravo], minima: {lateral_m: 500, vertical_m: 50, time_s: 60}, policy: block}
events:
  - {at: 0, event: declare, as: alpha, ref: a1, kind: activity,
     circle: {lat: 35.0, lng: 36.0, radius_m: 2000}, altitude_m: [0, 1000], minutes: [10, 70]}
  - {at: 1, event: declare, as: bravo, ref: b1, kind: flight,
     circle: {lat: 35.0, lng: 36.01, radius_m: 500}, altitude_m: [0, 300], minutes: [20, 40]}
  - {at: 2, event: update, as: bravo, ref: b1,
     circle: {lat: 36.0, lng: 36.0, radius_m: 500}, altitude_m: [0, 300], minutes: [20, 40]}
  - {at: 3, event: cancel, as: bravo, ref: b1}
  - {at: 4, event: cancel, as: bravo, ref: a1, reason: not mine}
  - {at: 5, event: update, as: alpha, ref: a1, title: moved,
     volumes: [{circle: {lat: 35.5, lng: 36.0, radius_m: 2000}, altitude_m: [0, 1000], minutes: [10, 70]}]}
"""


class FakeTime:
    """A clock that stands still and a sleep that only records: the drill's pacing without waiting."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def clock(self) -> float:
        return 100.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


# -- the format -------------------------------------------------------------------------------------------------
def test_demo_parses_into_typed_events() -> None:
    scenario = load_scenario(DEMO)
    assert [p.name for p in scenario.parties] == ["coalition-air", "relief-ngo", "drone-ops", "air-defence",
                                                   "civil-authority"]
    by_name = {a.name: a for a in scenario.agreements}
    assert (by_name["air-drones"].policy, by_name["air-drones"].disclosure) == (ConflictPolicy.BLOCK,
                                                                                Disclosure.CONFLICT_AREA)
    assert by_name["civil-coordination"].disclosure is Disclosure.COARSE
    assert by_name["air-relief"].min_notice_s == {DeclarationKind.ACTIVITY: 1800, DeclarationKind.FLIGHT: 900}
    declares = [e for e in scenario.events if isinstance(e, DeclareEvent)]
    assert {e.kind for e in declares} == set(DeclarationKind)
    sam = next(e for e in declares if e.ref == "sam-site")
    assert sam.activation is Activation.INDUCED
    survey = next(e for e in declares if e.ref == "survey-drone")
    assert len(survey.volumes) == 2 and survey.volumes[1].feet and survey.extra == {"operator_ref": "DS-114"}
    (update,) = [e for e in scenario.events if isinstance(e, UpdateEvent)]
    assert (update.ref, update.kind, update.at) == ("medevac-route", DeclarationKind.FLIGHT, 60)
    (cancel,) = [e for e in scenario.events if isinstance(e, CancelEvent)]
    assert (cancel.ref, cancel.reason, cancel.at) == ("survey-drone", "weather", 90)
    assert scenario.duration_s == 120
    assert bundled_scenario("demo") == DEMO.resolve() or bundled_scenario("demo") == DEMO
    assert bundled_scenario("no-such-drill") is None


def _event_yaml(**fields: object) -> str:
    base: dict[str, object] = {"at": 0, "event": "declare", "as": "alpha", "ref": "x", "kind": "flight",
                               "circle": {"lat": 35.0, "lng": 36.0, "radius_m": 1000}, "altitude_m": [0, 100],
                               "minutes": [0, 30]}
    for key, value in fields.items():
        key = key.rstrip("_")
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return json.dumps(base)


def _scenario(*events: str, agreements: str = "[]") -> str:
    return f"parties: [alpha, bravo]\nagreements: {agreements}\nevents:\n" + "".join(f"  - {e}\n" for e in events)


OK_EVENT = _event_yaml()


@pytest.mark.parametrize(("text", "field", "message"), [
    (_scenario(OK_EVENT, '{"at": 5, "event": "track", "as": "alpha", "ref": "x", "text": "hi"}'),
     "events[1].event", "unknown event 'track' (known: declare, update, cancel, message, ack)"),
    (_scenario(_event_yaml(circle={"lat": 35, "lng": 36})), "events[0].circle.radius_m", "is required"),
    (_scenario(_event_yaml(circle={"lat": 35, "lng": 36, "radius_m": -1})), "events[0].circle.radius_m",
     "must be above 0"),
    (_scenario(_event_yaml(circle={"lat": 95, "lng": 36, "radius_m": 10})), "events[0].circle.lat", "[-90, 90]"),
    (_scenario(_event_yaml(altitude_m=[500, 100])), "events[0].altitude_m", "must be below the upper"),
    (_scenario(_event_yaml(altitude_m="high")), "events[0].altitude_m", "must be [lower, upper]"),
    (_scenario(_event_yaml(altitude_m=[0, "high"])), "events[0].altitude_m[1]", "must be a number, not text"),
    (_scenario(_event_yaml(minutes=[30, 10])), "events[0].minutes", "must end after it starts"),
    (_scenario(_event_yaml(circle=None, polygon=[[35, 36], [35.1, 36.1], [35, 36.1], [35.1, 36]])),
     "events[0].polygon", "cross"),
    (_scenario(_event_yaml(circle=None, polygon=[[35, 36], [35.1, 36.1]])), "events[0].polygon",
     "at least three"),
    (_scenario(_event_yaml(circle=None)), "events[0].circle", "exactly one of circle or polygon"),
    (_scenario(_event_yaml(radius=5)), "events[0].radius", "unknown field 'radius'"),
    (_scenario(_event_yaml(as_="zulu")), "events[0].as", "'zulu' is not one of the scenario's parties"),
    (_scenario(_event_yaml(kind="rocket")), "events[0].kind", "'rocket' is not one of flight"),
    (_scenario(_event_yaml(activation="induced")), "events[0].activation", "only a hazard can be induced"),
    (_scenario(_event_yaml(at=-1)), "events[0].at", "at least 0"),
    (_scenario(_event_yaml(at=10), _event_yaml(at=5, ref="y")), "events[1].at", "in time order"),
    (_scenario(OK_EVENT, _event_yaml(at=1)), "events[1].ref", "'x' was declared before, by events[0]"),
    (_scenario(OK_EVENT, '{"at": 1, "event": "update", "as": "alpha", "ref": "y"}'), "events[1].ref",
     "no earlier declare event has ref 'y'"),
    (_scenario(OK_EVENT, '{"at": 1, "event": "cancel", "as": "alpha", "ref": "x", "kind": "flight"}'),
     "events[1].kind", "unknown field 'kind'"),
    (_scenario(_event_yaml(volumes=[{"circle": {"lat": 35, "lng": 36, "radius_m": 1}, "altitude_m": [0, 1],
                                     "minutes": [0, 1]}])), "events[0].altitude_m", "either volumes or"),
    (_scenario(_event_yaml(circle=None, altitude_m=None, minutes=None, volumes=[
        {"circle": {"lat": 35, "lng": 36, "radius_m": 1}, "altitude_m": [0, 1], "minutes": [0, 1]},
        {"circle": {"lat": 35, "lng": 36, "radius_m": 1}, "altitude_m": [0, 1], "minutes": [5, 1]}])),
     "events[0].volumes[1].minutes", "must end after it starts"),
    (_scenario(OK_EVENT, agreements='[{parties: [alpha, zulu], minima: {lateral_m: 1, vertical_m: 1, time_s: 1}}]'),
     "agreements[0].parties[1]", "'zulu' is not one"),
    (_scenario(OK_EVENT, agreements='[{parties: [alpha, bravo], minima: {lateral_m: 1, vertical_m: 1, time_s: 1},'
                                    ' disclosure: secret}]'),
     "agreements[0].disclosure", "'secret' is not one of full, conflict_area, coarse"),
    (_scenario(OK_EVENT, agreements='[{parties: [alpha, bravo], minima: {lateral_m: -1, vertical_m: 1, time_s: 1}}]'),
     "agreements[0].minima.lateral_m", "at least 0"),
    ("parties: [alpha, alpha]\nevents: []\n", "parties[1].name", "listed twice"),
    ("parties: [Alpha]\nevents: []\n", "parties[0].name", "lower-case"),
    ("parties: [alpha]\n", "events", "is required"),
    ("parties: [alpha]\nevents: []\nschedule: {}\n", "scenario.schedule", "unknown field 'schedule'"),
    ("parties: [alpha\nevents: []\n", "file", "line 2"),
    ("- just a list\n", "scenario", "must be a mapping"),
])
def test_mistakes_name_the_event_and_field(text: str, field: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text)
    assert err.value.field == field
    assert message in err.value.message
    assert str(err.value).startswith(f"{field}: ")


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.yaml")


# -- playing against the service ------------------------------------------------------------------------------
def test_demo_drill_plays_through_with_its_conflicts_and_the_block(service: RunningService) -> None:
    scenario = load_scenario(DEMO)
    fake = FakeTime()
    seen: list[tuple[int, int, str]] = []
    with Client(service.url, service.admin_token) as admin:
        result = run_scenario(scenario, admin, now=datetime.now(UTC), speed=10, sleep=fake.sleep,
                              clock=fake.clock, progress=lambda done, total, o: seen.append((done, total, o.status)))
        # paced at `at / speed` from the start, without waiting in this test
        assert fake.slept == pytest.approx([e.at / 10 for e in scenario.events if e.at > 0])
        assert [s[:2] for s in seen] == [(i, len(scenario.events)) for i in range(1, len(scenario.events) + 1)]

        by_ref = {(o.ref, o.event): o for o in result.outcomes}
        assert [o.status for o in result.outcomes] == ["declared"] * 6 + [
            "blocked", "declared", "acknowledged", "sent", "sent", "sent", "updated", "cancelled", "declared"]
        names = {decl_id: ref for ref, decl_id in result.refs.items()}

        def found(ref: str) -> set[tuple[str, str, str, str, str]]:
            return {(names[c["other"]["declaration_id"]], c["other"]["party"], c["severity"], c["policy"],
                     c["other"]["disclosure"]) for c in by_ref[ref, "declare"].conflicts}

        assert found("medevac-route") == {("strike-north", "coalition-air", "overlap", "require_ack", "full")}
        assert found("field-hospital") == {("strike-north", "coalition-air", "proximity", "require_ack", "full")}
        assert found("nfz-city") == {("survey-drone", "drone-ops", "overlap", "inform", "coarse")}
        assert found("strike-north") == found("sam-site") == found("survey-drone") == set()

        recce = by_ref["recce-drone", "declare"]
        assert "recce-drone" not in result.refs and "block" in recce.message
        (why,) = recce.conflicts
        assert (why["policy"], why["other"]["party"], why["other"]["disclosure"]) == (
            "block", "coalition-air", "conflict_area")
        assert why["other"]["declaration_id"] == result.refs["strike-north"] and why["other"]["area"]

        assert by_ref["medevac-route", "update"].version == 2 and by_ref["medevac-route", "update"].conflicts == []
        assert by_ref["survey-drone", "cancel"].version == 2

        # the service's record agrees
        states = {(names[c["declaration"]["id"]], names[c["other"]["declaration_id"]]): c["state"]
                  for c in admin.conflicts(state="all")}
        assert states == {("medevac-route", "strike-north"): "superseded",
                          ("field-hospital", "strike-north"): "open",
                          ("nfz-city", "survey-drone"): "closed"}
        assert {a["name"] for a in admin.agreements()} == set(result.agreements)
        ngo = admin.with_token(result.tokens["relief-ngo"])
        assert ngo.me()["name"] == "relief-ngo"
        medevac = ngo.declaration(result.refs["medevac-route"])
        assert (medevac["version"], medevac.get("title")) == (2, "Medevac helicopter corridor (moved west)")
        drones = admin.with_token(result.tokens["drone-ops"])
        assert drones.declaration(result.refs["survey-drone"])["state"] == "cancelled"
        assert admin.declaration(result.refs["sam-site"])["activation"] == "induced"
        assert {d["kind"] for d in admin.declarations(live=False)} == {k.value for k in DeclarationKind}
        assert all(t not in repr(result) for t in result.tokens.values())


def test_refused_events_are_outcomes_and_the_drill_goes_on(service: RunningService) -> None:
    fake = FakeTime()
    with Client(service.url, service.admin_token) as admin:
        result = run_scenario(parse_scenario(SMALL), admin, now=datetime.now(UTC), sleep=fake.sleep,
                              clock=fake.clock)
    statuses = [(o.event, o.ref, o.status) for o in result.outcomes]
    assert statuses == [("declare", "a1", "declared"), ("declare", "b1", "blocked"), ("update", "b1", "skipped"),
                        ("cancel", "b1", "skipped"), ("cancel", "a1", "failed"), ("update", "a1", "updated")]
    skipped = result.outcomes[2]
    assert skipped.message == "'b1' was never filed (blocked at events[1])"
    failed = result.outcomes[4]
    assert failed.message == "only the declaring party may change a declaration"  # bravo may not cancel a1
    assert result.outcomes[5].version == 2 and result.by_status("failed") == [failed]


def test_setup_errors_name_the_scenario_part(service: RunningService) -> None:
    text = "parties: [alpha, admin]\nevents: []\n"
    with Client(service.url, service.admin_token) as admin, pytest.raises(ScenarioError) as err:
        run_scenario(parse_scenario(text), admin, now=datetime.now(UTC))
    assert err.value.message == "parties[1] (admin): a party named 'admin' exists" and err.value.field == "name"
    with Client(service.url, service.admin_token) as admin, pytest.raises(ScenarioError, match="speed"):
        run_scenario(parse_scenario(SMALL), admin, now=datetime.now(UTC), speed=0)


# -- the command ------------------------------------------------------------------------------------------------
def test_scenario_run_command_plays_the_demo(service: RunningService) -> None:
    assert service.admin_token is not None
    out = runner.invoke(app, ["scenario", "run", "demo", "--url", service.url, "--token", service.admin_token,
                              "--speed", "1000000"], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    assert "Traceback" not in out.output
    for text in ("strike-north", "recce-drone", "blocked", "updated", "cancelled", "require_ack", "Tokens"):
        assert text in out.output
    tokens = {line.split()[1]: line.split()[3] for line in out.output.splitlines()
              if "dcf_" in line and line.startswith("│")}
    assert set(tokens) == {"coalition-air", "relief-ngo", "drone-ops", "air-defence", "civil-authority"}
    with Client(service.url, tokens["drone-ops"]) as drones:
        assert drones.me()["name"] == "drone-ops"
        assert {d.get("title") for d in drones.declarations(scope="own", live=False)} == {
            "Damage survey drones (two areas)", "Reconnaissance drone, replanned for after the strike"}


def test_scenario_run_with_token_file_and_tokens_out(service: RunningService, tmp_path: Path) -> None:
    assert service.admin_token is not None
    (tmp_path / "admin.token").write_text(service.admin_token + "\n")
    (tmp_path / "small.yaml").write_text(SMALL)
    tokens_out = tmp_path / "tokens.json"
    out = runner.invoke(app, ["scenario", "run", str(tmp_path / "small.yaml"), "--url", service.url,
                              "--token-file", str(tmp_path / "admin.token"), "--speed", "1000000",
                              "--tokens-out", str(tokens_out)], env={"COLUMNS": "250"})
    assert out.exit_code == 1, out.output  # bravo's cancel of alpha's declaration failed: the drill says so
    assert "1 event(s) failed" in out.output and "events[4]" in out.output and "Traceback" not in out.output
    tokens = json.loads(tokens_out.read_text())
    assert set(tokens) == {"alpha", "bravo"} and all(t not in out.output for t in tokens.values())
    assert stat.S_IMODE(tokens_out.stat().st_mode) == 0o600
    with Client(service.url, tokens["alpha"]) as alpha:
        assert alpha.me()["name"] == "alpha"


def test_scenario_run_errors_are_messages(service: RunningService, tmp_path: Path) -> None:
    assert service.admin_token is not None
    bad = tmp_path / "bad.yaml"
    bad.write_text(_scenario(OK_EVENT, '{"at": 5, "event": "track", "as": "alpha", "ref": "x"}'))
    cases = [
        (["scenario", "run", str(bad), "--url", service.url, "--token", service.admin_token],
         "events[1].event: unknown event 'track'"),
        (["scenario", "run", "demo", "--url", service.url, "--token", "dcf_wrong"], "unknown or revoked token"),
        (["scenario", "run", "demo", "--url", "http://127.0.0.1:9", "--token", "x"], "cannot reach"),
        (["scenario", "run", str(tmp_path / "missing.yaml"), "--url", service.url, "--token", "x"], "cannot read"),
        (["scenario", "run", "demo", "--url", service.url], "an admin token is needed"),
    ]
    for args, message in cases:
        out = runner.invoke(app, args, env={"COLUMNS": "250", "DECONFLICT_TOKEN": ""})
        assert out.exit_code == 2, (args, out.output)
        assert message in " ".join(out.output.split()), (args, out.output)
        assert "Traceback" not in out.output
        assert out.exception is None or isinstance(out.exception, SystemExit), (args, out.exception)


def test_the_documented_example_is_a_valid_scenario() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "scenarios.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = parse_scenario(example)
    assert [e.event for e in scenario.events] == ["declare", "declare", "update", "cancel"]
    medevac = scenario.events[1]
    assert isinstance(medevac, DeclareEvent) and len(medevac.volumes) == 2


# -- acknowledgements and the hotline ----------------------------------------------------------------------------
AB = '[{name: ab, parties: [alpha, bravo], minima: {lateral_m: 1, vertical_m: 1, time_s: 1}}]'
OPEN: dict[str, object] = {"at": 1, "event": "message", "as": "bravo",
                           "thread": {"ref": "t", "agreement": "ab", "about": "x"}, "text": "hi"}


def _talk_yaml(base: dict[str, object], **fields: object) -> str:
    event = dict(base)
    for key, value in fields.items():
        key = key.rstrip("_")
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return json.dumps(event)


ACK: dict[str, object] = {"at": 1, "event": "ack", "as": "bravo", "ref": "x", "reply": "request_hold"}


@pytest.mark.parametrize(("events", "field", "message"), [
    ([_talk_yaml(OPEN, thread=None)], "events[1].thread", "is required"),
    ([_talk_yaml(OPEN, thread="nope")], "events[1].thread", "no earlier message event opens thread 'nope'"),
    ([_talk_yaml(OPEN, thread={"ref": "t", "agreement": "zz"})], "events[1].thread.agreement",
     "'zz' is not one of the scenario's agreements (ab)"),
    ([_talk_yaml(OPEN, thread={"ref": "t", "agreement": "ab", "about": "y"})], "events[1].thread.about",
     "no earlier declare event has ref 'y'"),
    ([_talk_yaml(OPEN, thread={"ref": "t", "agreement": "ab", "participants": ["zulu"]})],
     "events[1].thread.participants[0]", "'zulu' is not one"),
    ([_talk_yaml(OPEN, thread={"ref": "t", "agreement": "ab", "participants": ["bravo"]})],
     "events[1].thread.participants", "another participant"),
    ([_talk_yaml(OPEN, thread={"ref": "t", "agreement": "ab", "topic": "x"})], "events[1].thread.topic",
     "unknown field 'topic'"),
    ([_talk_yaml(OPEN), _talk_yaml(OPEN, at=2)], "events[2].thread.ref", "thread 't' was opened before"),
    ([_talk_yaml(OPEN, text=None)], "events[1].text", "needs text, structured, or both"),
    ([_talk_yaml(OPEN, text="x" * 4001)], "events[1].text", "at most 4000 characters"),
    ([_talk_yaml(OPEN, structured={"type": "wave"})], "events[1].structured.type", "'wave' is not one of"),
    ([_talk_yaml(OPEN, structured={"type": "request_hold", "declaration": "y"})],
     "events[1].structured.declaration", "no earlier declare event has ref 'y'"),
    ([_talk_yaml(OPEN, structured={"type": "hold_until", "until": "2030-01-01T00:00:00Z", "until_minutes": 5})],
     "events[1].structured.until_minutes", "not both"),
    ([_talk_yaml(OPEN, structured={"type": "hold_until", "until_minutes": "soon"})],
     "events[1].structured.until_minutes", "must be a number"),
    ([_talk_yaml(OPEN, ref="t")], "events[1].ref", "unknown field 'ref'"),
    ([_talk_yaml(ACK, ref="y")], "events[1].ref", "no earlier declare event has ref 'y'"),
    ([_talk_yaml(ACK, as_="alpha")], "events[1].as", "alpha declared 'x' itself"),
    ([_talk_yaml(ACK, reply="maybe")], "events[1].reply", "'maybe' is not one of noted, request_hold, object"),
    ([_talk_yaml(ACK, text="x" * 2001)], "events[1].text", "at most 2000 characters"),
    ([_talk_yaml(ACK, structured={"type": "request_hold"})], "events[1].structured", "unknown field"),
])
def test_message_and_ack_mistakes_name_the_event_and_field(events: list[str], field: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(_scenario(OK_EVENT, *events, agreements=AB))
    assert err.value.field == field
    assert message in err.value.message


def test_message_and_ack_events_parse_into_typed_events() -> None:
    scenario = load_scenario(DEMO)
    (ack,) = [e for e in scenario.events if isinstance(e, AckEvent)]
    assert (ack.party, ack.ref, ack.reply, ack.at) == ("relief-ngo", "gunship-sweep", AckReply.REQUEST_HOLD, 45)
    messages = [e for e in scenario.events if isinstance(e, MessageEvent)]
    assert [(m.party, m.ref) for m in messages] == [("relief-ngo", "sweep-hold"), ("coalition-air", "sweep-hold"),
                                                    ("relief-ngo", "sweep-hold")]
    assert messages[0].opens == ThreadSpec("sweep-hold", "air-relief", "Gunship sweep south-east: hold request",
                                           "gunship-sweep", None)
    assert messages[1].opens is None and messages[1].structured == {
        "type": "hold_until", "declaration": "gunship-sweep", "until_minutes": 25}
    assert scenario.duration_s / 30 < 10  # the demo plays at --speed 30: the drill is over in seconds


def test_the_documented_hotline_example_is_a_valid_scenario() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "scenarios.md").read_text()
    example = doc.split("## Acknowledgements and the hotline", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = parse_scenario(example)
    assert [e.event for e in scenario.events] == ["declare", "ack", "message", "message"]
    opening = scenario.events[2]
    assert isinstance(opening, MessageEvent) and opening.opens is not None
    assert opening.opens.participants == ("relief-ngo", "coalition-air")


TALK = """
parties: [alpha, bravo]
agreements:
  - {name: ab, parties: [alpha, bravo], minima: {lateral_m: 500, vertical_m: 50, time_s: 60}, policy: block}
events:
  - {at: 0, event: declare, as: alpha, ref: a1, kind: activity,
     circle: {lat: 35.0, lng: 36.0, radius_m: 2000}, altitude_m: [0, 1000], minutes: [60, 120]}
  - {at: 1, event: declare, as: bravo, ref: b1, kind: flight,
     circle: {lat: 35.0, lng: 36.01, radius_m: 500}, altitude_m: [0, 300], minutes: [70, 80]}
  - {at: 2, event: ack, as: bravo, ref: a1, text: seen}
  - {at: 3, event: ack, as: alpha, ref: b1}
  - {at: 4, event: message, as: bravo, thread: {ref: t, agreement: ab, about: b1}, text: about my flight}
  - {at: 5, event: message, as: alpha, thread: t, text: "and?"}
  - {at: 6, event: declare, as: alpha, ref: a2, kind: flight,
     circle: {lat: 36.0, lng: 36.0, radius_m: 500}, altitude_m: [0, 300], minutes: [0, 30]}
  - {at: 7, event: ack, as: bravo, ref: a2}
  - {at: 8, event: message, as: alpha, thread: {ref: u, agreement: ab, subject: coordination}, text: hello}
  - {at: 9, event: message, as: bravo, thread: u,
     structured: {type: position_report, lat: 35.1, lng: 36.1, altitude_m: 120, asset: medevac-1}}
"""


def test_acks_and_messages_are_outcomes_and_the_drill_goes_on(service: RunningService) -> None:
    fake = FakeTime()
    with Client(service.url, service.admin_token) as admin:
        result = run_scenario(parse_scenario(TALK), admin, now=datetime.now(UTC), sleep=fake.sleep,
                              clock=fake.clock)
        statuses = [(o.event, o.ref, o.status) for o in result.outcomes]
        assert statuses == [("declare", "a1", "declared"), ("declare", "b1", "blocked"),
                            ("ack", "a1", "acknowledged"), ("ack", "b1", "skipped"), ("message", "t", "skipped"),
                            ("message", "t", "skipped"), ("declare", "a2", "declared"), ("ack", "a2", "failed"),
                            ("message", "u", "sent"), ("message", "u", "sent")]
        assert result.outcomes[0].late_notice == [] and [n["recipient"] for n in result.outcomes[0].notices] == [
            "bravo"]
        acked = result.outcomes[2].notification
        assert acked is not None and (acked["ack_reply"], acked["ack_text"]) == ("noted", "seen")
        assert result.outcomes[4].message == "'b1' was never filed; thread not opened"
        assert result.outcomes[5].message == "thread 't' was never opened"
        assert result.outcomes[7].message == "no notification about 'a2' reached bravo"
        assert set(result.threads) == {"u"}
        bravo = admin.with_token(result.tokens["bravo"])
        (thread,) = bravo.threads()
        assert (thread["subject"], thread["participants"], thread["unread"]) == ("coordination", ["alpha", "bravo"], 1)
        hello, report = bravo.messages(result.threads["u"])["messages"]
        assert (hello["sender"], hello["text"]) == ("alpha", "hello")
        assert report["structured"] == {"type": "position_report", "lat": 35.1, "lng": 36.1, "altitude_m": 120.0,
                                        "at": None, "asset": "medevac-1", "ground_speed_mps": None,
                                        "track_deg": None} or report["structured"]["asset"] == "medevac-1"
        assert report["id"] == result.outcomes[9].message_id


def test_demo_drill_shows_a_late_notice_an_escalation_and_a_hotline_exchange(db_url: str) -> None:
    """The demo on a service whose clock the test moves: the short-notice sweep is late, the civil authority's
    unanswered notices escalate level by level, and the NGO and the coalition talk the hold through."""
    clock = ManualClock(datetime(2030, 6, 1, 8, 0, tzinfo=UTC))
    running = start_in_thread(db_url, clock=clock, scheduler=False)
    try:
        fake = FakeTime()
        with Client(running.url, running.admin_token) as admin:
            result = run_scenario(load_scenario(DEMO), admin, now=clock(), speed=30, sleep=fake.sleep,
                                  clock=fake.clock)
            assert result.by_status("failed") == [] and result.by_status("skipped") == []
            refs, by_ref = result.refs, {(o.ref, o.event): o for o in result.outcomes}
            air = admin.with_token(result.tokens["coalition-air"])
            ngo = admin.with_token(result.tokens["relief-ngo"])
            civil = admin.with_token(result.tokens["civil-authority"])

            # the late notice: 10 minutes where 30 are agreed, told to the declaring party, marked on delivery
            sweep = by_ref["gunship-sweep", "declare"]
            assert sweep.late_notice == ["relief-ngo"]
            assert sweep.message == "late notice to relief-ngo (10 min of 30 min)"
            assert {n["recipient"] for n in sweep.notices} == {"relief-ngo", "drone-ops", "air-defence",
                                                               "civil-authority"}
            sent = {(n["recipient"], n["declaration_id"]): n for n in air.notifications(box="sent", pending=False)}
            late = sent["relief-ngo", refs["gunship-sweep"]]
            assert (late["late"], late["lead_time_s"], late["min_notice_s"]) == (True, 600.0, 1800.0)
            assert (late["ack_reply"], late["delivered_via"]) == ("request_hold", "poll")
            assert late["ack_text"].startswith("Medevac convoy")
            assert by_ref["gunship-sweep", "ack"].message.startswith("request_hold, read 10 min ahead (late)")

            # the hotline exchange, about the sweep
            (thread,) = ngo.threads()
            assert thread["id"] == result.threads["sweep-hold"]
            assert thread["participants"] == ["coalition-air", "relief-ngo"]
            assert thread["about"] == {"kind": "declaration", "id": refs["gunship-sweep"]}
            messages = air.messages(thread["id"])["messages"]
            assert [(m["sender"], (m["structured"] or {}).get("type")) for m in messages] == [
                ("relief-ngo", "request_hold"), ("coalition-air", "hold_until"), ("relief-ngo", None)]
            hold = messages[1]["structured"]
            assert hold is not None and hold["declaration_id"] == refs["gunship-sweep"]
            assert datetime.fromisoformat(hold["until"]) == clock() + timedelta(minutes=25)
            assert all(r["delivered_at"] is None for r in messages[1]["receipts"])  # the NGO has not read it yet

            # the escalation: the civil authority must answer within 60 s and never does
            clock.advance(59)
            assert tick(running.state) == 0
            clock.advance(2)
            assert tick(running.state) == 2  # the strike's and the sweep's notices
            told = civil.notifications()
            assert {(n["declaration_id"], n["escalation_level"]) for n in told} == {
                (refs["strike-north"], 1), (refs["gunship-sweep"], 1)}
            alarms = [n for n in air.notifications() if n["reason"] == "escalation"]
            assert {(a["payload"]["recipient"], a["payload"]["level"]) for a in alarms} == {("civil-authority", 1)}
            assert len(alarms) == 2 and all(a["payload"]["contacts_reached"] == [] for a in alarms)
            clock.advance(60)
            assert tick(running.state) == 2
            clock.advance(60)
            assert tick(running.state) == 2
            reached = {a["payload"]["level"]: a["payload"]["contacts_reached"] for a in air.notifications()
                       if a["reason"] == "escalation"}
            assert reached == {1: [], 2: ["civil-authority duty desk +90 555 0300"],
                               3: ["civil-authority duty desk +90 555 0300",
                                   "civil-authority head of operations +90 555 0301"]}
            clock.advance(3600)
            tick(running.state)  # the other partners' unanswered notices escalate too; this chain has ended
            assert {n["escalation_level"] for n in civil.notifications()
                    if n["declaration_id"] in (refs["strike-north"], refs["gunship-sweep"])} == {3}
    finally:
        running.stop()
