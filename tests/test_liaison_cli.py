"""The liaison officer's terminal: `deconflict watch` and `deconflict send`, their key handling and rendering, and
the client's notification methods and stream reader they stand on."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from deconflict.cli import app
from deconflict.cli_liaison import (
    Ack,
    Keyboard,
    Note,
    Quit,
    Select,
    WatchState,
    countdown,
    duration,
    key_action,
    perform,
    render_message,
    render_notification,
    run_watch,
)
from deconflict.client import Client, NotificationView
from deconflict.core.model import DeclarationKind, SeparationMinima, Volume4D
from deconflict.core.protocol import AckReply
from deconflict.errors import Forbidden, NotAuthenticated, NotFound
from deconflict.service.server import RunningService

runner = CliRunner()


def _in(minutes: float, length: float = 60) -> tuple[datetime, datetime]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes)
    return start, start + timedelta(minutes=length)


def _activity(api: Client, minutes: float, title: str, lat: float = 35.0) -> str:
    t0, t1 = _in(minutes)
    made = api.declare(DeclarationKind.ACTIVITY, [Volume4D.circle(lat, 36.0, 3000, 0, 2000, t0, t1)], title=title)
    return made["declaration"]["id"]


@pytest.fixture
def world(service: RunningService) -> Iterator[dict[str, Any]]:
    """`air` and `ngo` under one agreement (activities need 30 minutes' notice); `stranger` under none."""
    assert service.admin_token is not None
    with Client(service.url, service.admin_token) as admin:
        tokens = {name: admin.create_party(name).token for name in ("air", "ngo", "stranger")}
        agreement = admin.create_agreement("air-ngo", ["air", "ngo"], SeparationMinima(1000, 150, 60), "full",
                                           "require_ack", 600, {"activity": 1800}, ["ngo duty officer"])
        yield {"url": service.url, "tokens": tokens, "agreement": agreement["id"],
               **{name: admin.with_token(tok) for name, tok in tokens.items()}}


# -- the client ---------------------------------------------------------------------------------------------------
def test_client_notifications_ack_webhook_and_stream(world: dict[str, Any]) -> None:
    air, ngo, stranger = world["air"], world["ngo"], world["stranger"]
    with ngo.events() as stream:
        assert stream.party == "ngo" and stream.recv(timeout=0.05) is None
        decl = _activity(air, 10, "short-notice sweep")
        pushed = None
        while pushed is None:
            event = stream.recv(timeout=10)
            assert event is not None, "no event within 10 s"
            if event["type"] == "notification":
                pushed = event["notification"]
        assert stream.cursor == event["cursor"]
    assert pushed["declaration_id"] == decl and pushed["reason"] == "notice"
    (sent,) = air.notifications(box="sent", pending=False)
    assert sent["id"] == pushed["id"] and sent["delivered_via"] == "ws" and sent["late"] is True
    assert ngo.notifications() == [] or ngo.notifications()[0]["id"] == pushed["id"]
    with pytest.raises(Forbidden):
        air.ack(pushed["id"])
    with pytest.raises(NotFound):
        stranger.notification(pushed["id"])
    done = ngo.ack(pushed["id"], AckReply.REQUEST_HOLD, "convoy on the road until 10:40")
    assert done["ack_reply"] == "request_hold" and done["acked_at"] is not None
    assert ngo.ack(pushed["id"], "object") == done  # idempotent
    assert ngo.notifications(pending=True) == [] and ngo.notification(pushed["id"])["ack_text"].startswith("convoy")
    hook = ngo.register_webhook("http://127.0.0.1:9/hook")
    assert hook["url"] == "http://127.0.0.1:9/hook" and len(hook["secret"]) > 20
    with pytest.raises(NotAuthenticated):
        Client(world["url"], "dcf_wrong").events()


def test_stream_replays_from_a_cursor(world: dict[str, Any]) -> None:
    air, ngo = world["air"], world["ngo"]
    with ngo.events() as stream:
        start = stream.cursor
    _activity(air, 120, "planned exercise")
    with ngo.events(since=start) as replay:
        seen = []
        while not any(e["type"] == "notification" for e in seen):
            event = replay.recv(timeout=10)
            assert event is not None
            seen.append(event)
    assert {e["type"] for e in seen} >= {"declaration", "notification"}


# -- the pure parts: state, keys, rendering ----------------------------------------------------------------------
NOW = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)


def _note(i: str, *, reason: str = "notice", acked: bool = False, level: int = 0, lead: float | None = 600.0,
          deadline_s: float = 300, payload: dict[str, Any] | None = None) -> NotificationView:
    start = NOW + timedelta(seconds=lead if lead is not None else 600)
    return NotificationView(
        id=i, reason=reason, sender="air", recipient="ngo", declaration_id="d-" + i, declaration_version=1,
        conflict_id=None, agreements=["g"],
        payload=payload or {"reason": reason, "sender": "air", "declaration": {
            "kind": "activity", "title": "gunship sweep", "time_start": start.isoformat(),
            "time_end": (start + timedelta(hours=1)).isoformat()}, "conflicts": []},
        starts_at=start.isoformat(), min_notice_s=1800.0, created_at=NOW.isoformat(),
        delivered_at=NOW.isoformat() if lead is not None else None, delivered_via="poll" if lead is not None else None,
        lead_time_s=lead, late=(lead < 1800) if lead is not None else None,
        ack_deadline_at=(NOW + timedelta(seconds=deadline_s)).isoformat(),
        acked_at=NOW.isoformat() if acked else None, ack_reply="noted" if acked else None, ack_text=None,
        escalation_level=level, escalated=level > 0)


def _plain(text: Any) -> str:
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(text)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return " ".join(out.split())


def test_rendering_shows_reason_sender_window_lead_lateness_escalation_and_deadline() -> None:
    late = _plain(render_notification(_note("n1"), NOW))
    for part in ("NOTICE from air", "activity 'gunship sweep'", "08:10Z-09:10Z", "lead 10m 00s", "LATE",
                 "agreed notice 30m 00s", "ack within 5m 00s"):
        assert part in late, (part, late)
    timely = _plain(render_notification(_note("n2", lead=7200.0, level=2, deadline_s=-65), NOW))
    assert " LATE" not in timely and "lead 2h 00m" in timely and "ESCALATED L2" in timely
    assert "ack OVERDUE by 1m 05s" in timely
    pushed = _plain(render_notification(_note("n3", lead=None), NOW))  # not yet recorded: measured on arrival
    assert "lead 10m 00s LATE" in pushed
    alarm = _plain(render_notification(_note("n4", reason="escalation", level=2, payload={
        "level": 2, "recipient": "ngo", "contacts_reached": ["ngo duty officer"],
        "unacknowledged_since": NOW.isoformat()}), NOW))
    assert "ESCALATION L2" in alarm and "contacts reached: ngo duty officer" in alarm
    assert _plain(countdown(_note("n5", acked=True), NOW)) == "acknowledged (noted) 08:00Z"
    assert duration(59.6) == "1m 00s" and duration(-3725) == "1h 02m" and duration(5) == "5s"
    message = _plain(render_message({"id": "m1", "thread_id": "t1", "n": 1, "sender": "air", "text": "holding",
                                     "structured": {"type": "hold_until", "until": "2030-06-01T08:30:00Z"},
                                     "created_at": NOW.isoformat()}, {}, me="ngo"))
    assert "MESSAGE air in thread t1: holding [hold_until until 08:30Z]" in message


def test_keys_act_on_the_newest_unacknowledged_notification() -> None:
    state = WatchState(me="ngo")
    assert key_action(state, "a") == Note("nothing waits for an acknowledgement")
    assert key_action(state, "q") == Quit() and key_action(state, "z") is None
    for n in (_note("old"), _note("done", acked=True), _note("new")):
        state.add_notification(n)
    assert not state.add_notification(_note("new"))  # a repeat (at-least-once delivery) changes nothing
    assert [n["id"] for n in state.pending()] == ["old", "new"]
    assert key_action(state, "a") == Ack("new", AckReply.NOTED)
    assert key_action(state, "H") == Ack("new", AckReply.REQUEST_HOLD)
    assert key_action(state, "o") == Ack("new", AckReply.OBJECT, needs_text=True)
    assert key_action(state, "p") == Select("old")
    state.selected = "old"
    assert key_action(state, "a") == Ack("old", AckReply.NOTED)
    assert key_action(state, "n") == Select("new")
    state.add_notification(_note("alarm", reason="escalation", level=1,
                                 payload={"level": 1, "recipient": "air", "contacts_reached": []}))
    state.selected = None
    assert key_action(state, "h") == Note("an escalation alarm is only noted: press a")
    assert key_action(state, "a") == Ack("alarm", AckReply.NOTED)
    # an escalation re-sends the same notification: it is shown again, at its new level
    assert state.add_notification(_note("old", level=1))
    assert state.notifications["old"]["escalation_level"] == 1 and state.order.count("old") == 1


def test_pressing_a_key_acknowledges_on_the_service(world: dict[str, Any]) -> None:
    air, ngo = world["air"], world["ngo"]
    first = _activity(air, 120, "exercise one", lat=35.0)
    second = _activity(air, 10, "short-notice sweep", lat=36.0)
    state = WatchState(me="ngo")
    for n in ngo.notifications():
        state.add_notification(n)
    action = key_action(state, "a")
    assert isinstance(action, Ack) and state.notifications[action.notification_id]["declaration_id"] == second
    perform(action, ngo, state, ask=lambda prompt: pytest.fail("noted needs no text"))
    assert ngo.notification(action.notification_id)["ack_reply"] == "noted"
    objection = key_action(state, "o")
    assert isinstance(objection, Ack) and objection.needs_text
    assert state.notifications[objection.notification_id]["declaration_id"] == first
    perform(objection, ngo, state, ask=lambda prompt: "  range overlaps our supply route  ")
    acked = ngo.notification(objection.notification_id)
    assert (acked["ack_reply"], acked["ack_text"]) == ("object", "range overlaps our supply route")
    assert {n["ack_reply"] for n in air.notifications(box="sent", pending=False)} == {"noted", "object"}
    assert state.pending() == [] and key_action(state, "a") == Note("nothing waits for an acknowledgement")


class ScriptedKeys(Keyboard):
    """Keys pressed by the test, one per read once the watch has printed what it waits for."""

    def __init__(self, keys: list[str], ready: Any) -> None:
        super().__init__(io.StringIO())
        self.keys, self.ready = keys, ready

    def __enter__(self) -> ScriptedKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def read(self, timeout: float) -> str | None:
        return self.keys.pop(0) if self.keys and self.ready() else None


def test_watch_with_keys_acknowledges_a_pushed_notification(world: dict[str, Any]) -> None:
    air, ngo = world["air"], world["ngo"]
    out = io.StringIO()
    console = Console(file=out, width=300, color_system=None)
    _activity(air, 10, "short-notice sweep")
    keys = ScriptedKeys(["h", "q"], ready=lambda: "short-notice sweep" in out.getvalue())
    run_watch(ngo, console, keys=True, keyboard=keys)
    (sent,) = air.notifications(box="sent", pending=False)
    assert sent["ack_reply"] == "request_hold"
    text = " ".join(out.getvalue().split())
    assert "NOTICE from air" in text and "LATE" in text and "acknowledged (request_hold)" in text


# -- the commands ---------------------------------------------------------------------------------------------------
def test_watch_no_keys_prints_a_notification_pushed_after_a_declaration(world: dict[str, Any]) -> None:
    env = {**os.environ, "DECONFLICT_TOKEN": world["tokens"]["ngo"], "DECONFLICT_URL": world["url"],
           "COLUMNS": "300"}
    proc = subprocess.Popen([sys.executable, "-m", "deconflict.cli", "watch", "--no-keys", "--count", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "watching as ngo" in first, first
        _activity(world["air"], 10, "short-notice sweep")
        thread = world["air"].create_thread(world["agreement"], subject="sweep timing")
        world["air"].send(thread["id"], "sweep starts in ten minutes")
        rest = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, rest
    text = " ".join(rest.split())
    assert "NOTICE from air: activity 'short-notice sweep'" in text and "LATE" in text, text
    assert "ack within" in text and "Traceback" not in text
    assert "MESSAGE air in 'sweep timing': sweep starts in ten minutes" in text, text


def test_watch_json_prints_one_event_per_line(world: dict[str, Any]) -> None:
    _activity(world["air"], 10, "short-notice sweep")
    out = runner.invoke(app, ["watch", "--json", "--count", "1", "--url", world["url"]],
                        env={"DECONFLICT_TOKEN": world["tokens"]["ngo"]})
    assert out.exit_code == 0, out.output
    (line,) = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    assert line["type"] == "notification" and line["notification"]["payload"]["declaration"]["title"] == (
        "short-notice sweep")


def test_send_delivers_a_message_the_other_party_reads(world: dict[str, Any], tmp_path: Any) -> None:
    thread = world["ngo"].create_thread(world["agreement"], subject="convoy crossing")
    token_file = tmp_path / "air.token"
    token_file.write_text(world["tokens"]["air"] + "\n")
    out = runner.invoke(app, ["send", thread["id"], "holding the sweep until 10:40", "--url", world["url"],
                              "--token-file", str(token_file), "--structured",
                              '{"type": "hold_until", "until": "2030-01-01T10:40:00Z"}'],
                        env={"DECONFLICT_TOKEN": "", "COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "sent message 1 to ngo in 'convoy crossing'" in out.output
    (message,) = world["ngo"].messages(thread["id"])["messages"]
    assert message["sender"] == "air" and message["text"] == "holding the sweep until 10:40"
    assert message["structured"] == {"type": "hold_until", "until": "2030-01-01T10:40:00Z"}
    assert message["delivered_at"] is not None


def test_command_errors_are_messages_without_a_traceback(world: dict[str, Any], tmp_path: Any) -> None:
    thread = world["ngo"].create_thread(world["agreement"], subject="private")
    cases = [
        (["send", thread["id"], "hello", "--url", world["url"]], {"DECONFLICT_TOKEN": world["tokens"]["stranger"]},
         "error:"),
        (["send", "no-such-thread", "hello", "--url", world["url"]], {"DECONFLICT_TOKEN": world["tokens"]["air"]},
         "error:"),
        (["send", thread["id"], "hello", "--url", world["url"]], {"DECONFLICT_TOKEN": ""}, "DECONFLICT_TOKEN"),
        (["send", thread["id"], "hello", "--url", world["url"], "--structured", "[1]"],
         {"DECONFLICT_TOKEN": world["tokens"]["air"]}, "must be a JSON object"),
        (["watch", "--no-keys", "--url", world["url"]], {"DECONFLICT_TOKEN": "dcf_wrong"}, "unknown or revoked"),
        (["watch", "--no-keys", "--url", "http://127.0.0.1:9"], {"DECONFLICT_TOKEN": "x"}, "cannot"),
        (["watch", "--no-keys", "--token-file", str(tmp_path / "missing")], {}, "cannot read"),
    ]
    for args, env, message in cases:
        out = runner.invoke(app, args, env={"COLUMNS": "250", **env})
        assert out.exit_code == 2, (args, out.output)
        assert message in " ".join(out.output.split()), (args, out.output)
        assert "Traceback" not in out.output
        assert out.exception is None or isinstance(out.exception, SystemExit), (args, out.exception)


def test_keyboard_reads_single_keys_from_a_terminal() -> None:
    import pty
    import termios

    master, slave = pty.openpty()
    with os.fdopen(slave, "rb", buffering=0) as tty_in:
        before = termios.tcgetattr(slave)
        with Keyboard(tty_in) as keys:
            assert termios.tcgetattr(slave)[3] & termios.ICANON == 0  # no line buffering: a key is a key
            assert keys.read(0.01) is None
            os.write(master, b"h")
            assert keys.read(1.0) == "h"
            with keys.cooked():
                assert termios.tcgetattr(slave)[3] & termios.ICANON
        assert termios.tcgetattr(slave) == before  # the terminal is given back as it was
    os.close(master)


def test_watch_without_a_terminal_prints_events_only(world: dict[str, Any]) -> None:
    _activity(world["air"], 120, "planned exercise")
    out = runner.invoke(app, ["watch", "--count", "1", "--url", world["url"]],
                        env={"DECONFLICT_TOKEN": world["tokens"]["ngo"], "COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "stdin is not a terminal" in text and "NOTICE from air: activity 'planned exercise'" in text
    assert " LATE" not in text


def test_a_tactical_alert_renders_without_a_declaration() -> None:
    alert = _note("n9", reason="alert", payload={"reason": "alert", "event": "raised", "alert": {
        "prediction": {"t_cpa_s": 42.0, "horizontal_m": 900.0},
        "own": {"callsign": "MEDEVAC7"}, "other": {"icao24": "4ca1f3"}}})
    alert["declaration_id"] = None
    alert["declaration_version"] = None
    shown = _plain(render_notification(alert, NOW))
    assert "ALERT RAISED" in shown and "MEDEVAC7" in shown and "4ca1f3" in shown and "t_cpa_s 42.0" in shown
