"""`deconflict watch` and `deconflict send`: the hotline for a liaison officer who has only a terminal.

`watch` shows, live from `/v1/stream`, the notifications addressed to the party (why, from whom, what was
declared and when, the lead time it left and whether that was late, the escalation level, how long is left to
acknowledge) and its hotline messages; a keystroke acknowledges the newest unacknowledged notification
(`a` noted, `h` request a hold, `o` object with a text), `q` quits. `send THREAD_ID TEXT` sends a hotline message.

The party's token comes from `DECONFLICT_TOKEN` or `--token-file` (never from the command line, where `ps`
would show it); the service from `DECONFLICT_URL` or `--url`.

The parts are kept apart so that each is testable on its own: `WatchState` (what was received, which notification
is current), `key_action` (what a key does, a pure function), `perform` (the one call to the service an action
makes), the `render_*` functions (rich text from the data and a given time), and the terminal I/O (`Keyboard`,
`run_watch`) around them.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.text import Text

from .client import Client, EventStream, MessageView, NotificationView, StreamEvent, ThreadView
from .core.protocol import AckReply
from .errors import DeconflictError, ServiceUnavailable

__all__ = [
    "Ack",
    "Keyboard",
    "Note",
    "Quit",
    "Select",
    "WatchState",
    "countdown",
    "key_action",
    "perform",
    "read_token_file",
    "render_message",
    "render_notification",
    "render_status",
    "run_watch",
    "send",
    "watch",
]

DEFAULT_URL = "http://127.0.0.1:8080"
KEYS_HELP = "a ack noted, h request hold, o object, n/p newer/older, q quit"
REPLY_KEYS = {"a": AckReply.NOTED, "h": AckReply.REQUEST_HOLD, "o": AckReply.OBJECT}
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# -- the state of a watch (pure) ------------------------------------------------------------------------------
@dataclass
class WatchState:
    """What a watch has received: the notifications by id (latest version), in arrival order, the thread subjects,
    and which notification the officer selected. Delivery is at-least-once: a repeat changes nothing."""

    me: str = ""
    notifications: dict[str, NotificationView] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  #: ids, oldest first
    threads: dict[str, ThreadView] = field(default_factory=dict)
    selected: str | None = None
    _seen: set[str] = field(default_factory=set)

    def add_notification(self, n: NotificationView) -> bool:
        """Keep `n` (a new notification or a new state of one); False when it was seen exactly so before."""
        key = f"n:{n['id']}:{n['escalation_level']}:{n['acked_at']}"
        if key in self._seen:
            return False
        self._seen.add(key)
        if n["id"] not in self.notifications:
            self.order.append(n["id"])
        self.notifications[n["id"]] = n
        return True

    def add_thread(self, thread: ThreadView) -> bool:
        new = thread["id"] not in self.threads
        self.threads[thread["id"]] = thread
        return new

    def receive(self, event: StreamEvent, now: datetime) -> Text | None:
        """Take in one stream event; what to print for it (None: nothing new for the officer)."""
        kind = event.get("type")
        if kind == "notification" and "notification" in event:
            n = event["notification"]
            return render_notification(n, now, self.me) if self.add_notification(n) else None
        if kind == "thread" and "thread" in event:
            return render_thread(event["thread"]) if self.add_thread(event["thread"]) else None
        if kind in ("message", "receipt") and "message" in event:
            m = event["message"]
            key = f"{kind}:{m['id']}:{json.dumps(m.get('receipts'), sort_keys=True)}"
            if key in self._seen:
                return None
            self._seen.add(key)
            if kind == "receipt":
                return render_receipt(m, self.threads)
            return render_message(m, self.threads, self.me)
        return None  # declarations and conflicts: the notifications say what concerns the officer

    def pending(self) -> list[NotificationView]:
        """Unacknowledged notifications, oldest first (by creation; by arrival among equals)."""
        waiting = [self.notifications[i] for i in self.order if self.notifications[i]["acked_at"] is None]
        return sorted(waiting, key=lambda n: _parse(n["created_at"]) or datetime.min.replace(tzinfo=UTC))

    def current(self) -> NotificationView | None:
        """The notification a key acts on: the selected one while it is pending, else the newest pending."""
        pending = self.pending()
        if not pending:
            return None
        chosen = next((n for n in pending if n["id"] == self.selected), None)
        return chosen if chosen is not None else pending[-1]


# -- what a key does (pure) ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Ack:
    """Acknowledge `notification_id` with `reply`; `needs_text`: ask the officer for a text first."""

    notification_id: str
    reply: AckReply
    needs_text: bool = False


@dataclass(frozen=True, slots=True)
class Select:
    """Make `notification_id` the current notification."""

    notification_id: str


@dataclass(frozen=True, slots=True)
class Note:
    """Nothing to send; tell the officer `text`."""

    text: str


@dataclass(frozen=True, slots=True)
class Quit:
    pass


Action = Ack | Select | Note | Quit


def key_action(state: WatchState, key: str) -> Action | None:
    """What pressing `key` does in `state` (None: the key means nothing)."""
    key = key.lower()
    if key in ("q", "\x03", "\x04"):
        return Quit()
    if key == "?":
        return Note(KEYS_HELP)
    current = state.current()
    if key in ("n", "p"):
        pending = state.pending()
        if not pending or current is None:
            return Note("nothing waits for an acknowledgement")
        at = next(i for i, n in enumerate(pending) if n["id"] == current["id"])
        at = min(at + 1, len(pending) - 1) if key == "n" else max(at - 1, 0)
        return Select(pending[at]["id"])
    if key in REPLY_KEYS:
        if current is None:
            return Note("nothing waits for an acknowledgement")
        reply = REPLY_KEYS[key]
        if current["reason"] == "escalation" and reply is not AckReply.NOTED:
            return Note("an escalation alarm is only noted: press a")
        return Ack(current["id"], reply, needs_text=reply is AckReply.OBJECT)
    return None


def perform(action: Ack, client: Client, state: WatchState, ask: Callable[[str], str] = input) -> NotificationView:
    """Send the acknowledgement `action` stands for (asking for the text when it needs one); the state keeps the
    acknowledged notification."""
    text = ask("objection (sent with the acknowledgement): ").strip() if action.needs_text else ""
    done = client.ack(action.notification_id, action.reply, text)
    state.add_notification(done)
    if state.selected == action.notification_id:
        state.selected = None
    return done


# -- rendering (pure: data and a time in, rich text out) -----------------------------------------------------
def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return None


def _clock_text(t: datetime | None, now: datetime) -> str:
    if t is None:
        return "?"
    t = t.astimezone(UTC)
    return t.strftime("%H:%MZ") if t.date() == now.astimezone(UTC).date() else t.strftime("%d %b %H:%MZ")


def duration(seconds: float) -> str:
    """`2h 05m`, `4m 07s`, `12s` (the sign dropped)."""
    s = round(abs(seconds))
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def countdown(n: NotificationView, now: datetime) -> Text:
    """How long is left to acknowledge `n` (red when overdue), or how it was acknowledged."""
    if n["acked_at"] is not None:
        return Text(f"acknowledged ({n['ack_reply']}) {_clock_text(_parse(n['acked_at']), now)}", style="green")
    deadline = _parse(n["ack_deadline_at"])
    if deadline is None:
        return Text("")
    left = (deadline - now).total_seconds()
    if left >= 0:
        return Text(f"ack within {duration(left)}", style="yellow" if left < 120 else "")
    return Text(f"ack OVERDUE by {duration(left)}", style="bold red")


def lead_time(n: NotificationView, now: datetime) -> tuple[float | None, bool]:
    """The lead time `n` left (declared start minus delivery; `now` stands for the delivery when the service has
    not recorded it yet, as for a notification being pushed) and whether that is late."""
    lead = n["lead_time_s"]
    if lead is None:
        start = _parse(n["starts_at"])
        lead = (start - now).total_seconds() if start is not None else None
    late = n["late"]
    if late is None or n["lead_time_s"] is None:
        late = lead is not None and n["min_notice_s"] is not None and lead < n["min_notice_s"]
    return lead, bool(late)


def _render_alert(n: NotificationView, now: datetime, out: Text) -> Text:
    """A tactical alert: predicted loss of separation between the party's aircraft and another."""
    payload = n["payload"]
    alert = payload.get("alert") or {}
    prediction = alert.get("prediction") or {}
    out.append(f"ALERT {str(payload.get('event', '')).upper()}", style="bold white on red")
    own, other = alert.get("own") or {}, alert.get("other") or alert.get("aircraft") or {}
    hazard = alert.get("hazard") or {}
    mine = f"your {own.get('callsign') or own.get('icao24') or own.get('asset_id') or 'aircraft'}"
    theirs = other.get("callsign") or other.get("icao24") or other.get("party") or "another aircraft"
    if alert.get("kind") == "hazard_entry":
        who = mine if own else f"aircraft {theirs}"
        out.append(f" {who} entering {hazard.get('party', '?')}'s {hazard.get('kind', 'hazard')}")
    elif alert.get("kind") == "non_conformance":
        out.append(f" {mine} outside its declared flights")
    else:
        out.append(f" {mine} and {theirs}")
    if prediction:
        details = ", ".join(f"{k} {v}" for k, v in prediction.items() if isinstance(v, (int, float, str)))
        out.append(f": {details}", style="red")
    out.append(f"  [{n['id'][:8]}]", style="dim")
    return out


def render_notification(n: NotificationView, now: datetime, me: str = "") -> Text:
    """One line (two with conflicts) for a notification: reason, sender, what and when, lead time, lateness,
    escalation and the acknowledgement deadline."""
    out = Text()
    out.append(f"{now.astimezone(UTC):%H:%M:%S} ", style="dim")
    payload = n["payload"]
    if n["reason"] == "escalation":
        level = payload.get("level", n["escalation_level"])
        out.append(f"ESCALATION L{level}", style="bold white on red")
        out.append(f" your notice to {payload.get('recipient', '?')} about declaration "
                   f"{str(n['declaration_id'] or '')[:8]} "
                   f"is unacknowledged since {_clock_text(_parse(payload.get('unacknowledged_since')), now)}")
        reached = payload.get("contacts_reached") or []
        if reached:
            out.append(f"; contacts reached: {', '.join(map(str, reached))}", style="red")
        out.append(f"  [{n['id'][:8]}]", style="dim")
        return out
    if n["reason"] == "alert":
        return _render_alert(n, now, out)
    style = {"conflict": "bold magenta", "induced": "bold red"}.get(n["reason"], "bold cyan")
    out.append(n["reason"].upper(), style=style)
    out.append(f" from {n['sender']}: ")
    decl = payload.get("declaration") or {}
    out.append(str(decl.get("kind", "declaration")), style="bold")
    title = decl.get("title")
    if title:
        out.append(f" '{title}'")
    start, end = _parse(decl.get("time_start") or n["starts_at"]), _parse(decl.get("time_end"))
    out.append(f" {_clock_text(start, now)}-{_clock_text(end, now) if end else '?'}")
    if (n["declaration_version"] or 0) > 1:
        out.append(f" (version {n['declaration_version']})", style="dim")
    lead, late = lead_time(n, now)
    if lead is not None:
        out.append(f"  lead {'-' if lead < 0 else ''}{duration(lead)}")
        if late:
            minimum = n["min_notice_s"]
            out.append(" LATE", style="bold white on red")
            if minimum is not None:
                out.append(f" (agreed notice {duration(minimum)})", style="red")
    if n["escalation_level"]:
        out.append(f"  ESCALATED L{n['escalation_level']}", style="bold red")
    out.append("  ")
    out.append_text(countdown(n, now))
    out.append(f"  [{n['id'][:8]}]", style="dim")
    for c in payload.get("conflicts") or []:
        own = c.get("declaration", {})
        out.append(f"\n      conflicts with your {own.get('kind', 'declaration')} {str(own.get('id', ''))[:8]}: "
                   f"{c.get('severity', '?')}, {_clock_text(_parse(c.get('window_start')), now)}-"
                   f"{_clock_text(_parse(c.get('window_end')), now)}, "
                   f"{round(float(c.get('lateral_distance_m', 0)))} m apart", style="magenta")
    return out


def _subject(threads: dict[str, ThreadView], thread_id: str) -> str:
    thread = threads.get(thread_id)
    return f"'{thread['subject']}'" if thread is not None and thread["subject"] else f"thread {thread_id[:8]}"


def _structured(part: dict[str, Any] | None, now: datetime) -> str:
    if not part:
        return ""
    kind = str(part.get("type", "?"))
    bits = [kind]
    if part.get("until"):
        bits.append(f"until {_clock_text(_parse(str(part['until'])), now)}")
    if kind == "position_report":
        bits.append(f"{part.get('lat')}, {part.get('lng')}")
        if part.get("altitude_m") is not None:
            bits.append(f"{part['altitude_m']} m")
    if part.get("reason"):
        bits.append(str(part["reason"]))
    return "[" + " ".join(bits) + "]"


def render_message(m: MessageView, threads: dict[str, ThreadView], me: str = "", now: datetime | None = None
                   ) -> Text:
    """A hotline message: who wrote in which thread, the text and any structured part."""
    now = now or _parse(m["created_at"]) or _utcnow()
    out = Text()
    out.append(f"{(_parse(m['created_at']) or now).astimezone(UTC):%H:%M:%S} ", style="dim")
    mine = m["sender"] == me or "receipts" in m
    out.append("SENT" if mine else "MESSAGE", style="bold green" if not mine else "green")
    out.append(f" {'you' if mine else m['sender']} in {_subject(threads, m['thread_id'])}: ")
    out.append(m["text"])
    structured = _structured(m["structured"], now)
    if structured:
        out.append(f" {structured}", style="bold yellow")
    out.append(f"  [thread {m['thread_id']}]", style="dim")
    return out


def render_receipt(m: MessageView, threads: dict[str, ThreadView]) -> Text:
    """To the sender: who has received and read its message."""
    states = [f"{r['party']} {'read' if r['read_at'] else 'received' if r['delivered_at'] else 'pending'}"
              for r in m.get("receipts", [])]
    return Text(f"      message {m['n']} in {_subject(threads, m['thread_id'])}: {', '.join(states)}", style="dim")


def render_thread(thread: ThreadView) -> Text:
    about = f", about {thread['about']['kind']} {thread['about']['id'][:8]}" if thread["about"] else ""
    return Text(f"new thread '{thread['subject']}' with {', '.join(thread['participants'])}{about} "
                f"[thread {thread['id']}]", style="green")


def render_status(state: WatchState, now: datetime, note: str = "") -> Group:
    """The footer under the live lines: the current notification, what is pending, and the keys."""
    current = state.current()
    lines: list[Text] = []
    if current is None:
        lines.append(Text("nothing waits for an acknowledgement", style="dim"))
    else:
        head = Text(f"> {len(state.pending())} pending; current: ", style="bold")
        head.append_text(render_notification(current, now, state.me))
        lines.append(head)
    if note:
        lines.append(Text(note, style="italic"))
    lines.append(Text(KEYS_HELP, style="dim"))
    return Group(*lines)


# -- terminal I/O ---------------------------------------------------------------------------------------------
class Keyboard:
    """Single keystrokes from a terminal (cbreak mode while in use; restored on exit and while prompting)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stdin
        self._saved: Any = None

    def __enter__(self) -> Keyboard:
        import termios
        import tty

        fd = self.stream.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        return self

    def __exit__(self, *exc: object) -> None:
        import termios

        if self._saved is not None:
            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)

    def read(self, timeout: float) -> str | None:
        """One key pressed within `timeout` seconds, or None."""
        ready, _, _ = select.select([self.stream], [], [], timeout)
        if not ready:
            return None
        data = os.read(self.stream.fileno(), 1)
        return data.decode(errors="replace") if data else "q"  # end of input quits

    @contextmanager
    def cooked(self) -> Iterator[None]:
        """Line input (echo on) for a prompt."""
        import termios
        import tty

        fd = self.stream.fileno()
        termios.tcsetattr(fd, termios.TCSADRAIN, self._saved)
        try:
            yield
        finally:
            tty.setcbreak(fd)


class Feed:
    """The stream with reconnection: a lost connection is reopened (after a pause that grows to 10 s) from the
    last cursor; events seen twice are dropped by `WatchState`."""

    def __init__(self, client: Client, since: int | None, say: Callable[[Text], None]) -> None:
        self.client = client
        self.say = say
        self.stream: EventStream | None = client.events(since)
        self.cursor = self.stream.cursor
        self.party = self.stream.party
        self._retry_at = 0.0
        self._pause = 0.5

    def next(self, timeout: float) -> StreamEvent | None:
        if self.stream is None:
            if time.monotonic() < self._retry_at:
                time.sleep(timeout)
                return None
            try:  # one step back: events sharing the last cursor may not all have arrived
                self.stream = self.client.events(max(self.cursor - 1, 0))
                self.say(Text("stream reconnected", style="green"))
                self._pause = 0.5
            except ServiceUnavailable:
                self._retry_at = time.monotonic() + self._pause
                self._pause = min(self._pause * 2, 10.0)
                return None
        try:
            event = self.stream.recv(timeout)
        except ServiceUnavailable as exc:
            self.say(Text(f"stream lost ({exc}); reconnecting", style="red"))
            self.stream.close()
            self.stream = None
            self._retry_at = time.monotonic() + self._pause
            return None
        if event is not None:
            self.cursor = max(self.cursor, event["cursor"])
        return event

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


def run_watch(client: Client, console: Console, *, keys: bool, count: int | None = None, as_json: bool = False,
              since: int | None = None, pending: bool = True, clock: Clock = _utcnow,
              keyboard: Keyboard | None = None) -> int:
    """Watch until `q` (or until `count` notifications and messages were printed); returns how many were."""
    from rich.live import Live

    shown = 0
    note = ""

    def show(item: Text | None, raw: Any = None) -> None:
        nonlocal shown
        if item is None:
            return
        if raw is None or raw.get("type") in ("notification", "message"):  # threads and receipts: context
            shown += 1
        if as_json:
            print(json.dumps(raw), flush=True)
        else:
            printer.print(item)

    printer = console
    feed = Feed(client, since, lambda t: printer.print(t))  # connected before the poll: nothing falls between
    state = WatchState(me=feed.party)
    try:
        for thread in client.threads():
            state.add_thread(thread)
        if not as_json:
            console.print(Text(f"watching as {feed.party} at {client.base_url} (cursor {feed.cursor})",
                               style="dim"))
        if pending:
            for n in client.notifications(pending=True):
                if state.add_notification(n):
                    show(render_notification(n, clock(), state.me), {"type": "notification", "notification": n})
                    if count is not None and shown >= count:
                        return shown
        if not keys:
            while count is None or shown < count:
                event = feed.next(1.0)
                if event is not None:
                    show(state.receive(event, clock()), event)
            return shown
        board = keyboard or Keyboard()
        with board, Live(get_renderable=lambda: render_status(state, clock(), note), console=console,
                         refresh_per_second=2, transient=True) as live:
            printer = live.console
            while count is None or shown < count:
                event = feed.next(0.05)
                if event is not None:
                    show(state.receive(event, clock()), event)
                key = board.read(0.05)
                if key is None:
                    continue
                action = key_action(state, key)
                if isinstance(action, Quit):
                    break
                if isinstance(action, Note):
                    note = action.text
                elif isinstance(action, Select):
                    state.selected, note = action.notification_id, ""
                elif isinstance(action, Ack):
                    note = _ack(action, client, state, live, board, clock)
        return shown
    finally:
        feed.close()


def _ack(action: Ack, client: Client, state: WatchState, live: Any, board: Keyboard, clock: Clock) -> str:
    def ask(prompt: str) -> str:
        live.stop()
        try:
            with board.cooked():
                return str(live.console.input(prompt))
        finally:
            live.start()

    try:
        done = perform(action, client, state, ask)
    except DeconflictError as exc:
        return f"not acknowledged: {exc}"
    live.console.print(render_notification(done, clock(), state.me))
    return f"acknowledged {done['id'][:8]} ({done['ack_reply']})"


# -- the commands ---------------------------------------------------------------------------------------------
def read_token_file(token_file: Path) -> str:
    """The token kept in `token_file` (a CLI error naming --token-file when it cannot be read or is empty)."""
    try:
        text = token_file.read_text().strip()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {token_file}: {exc.strerror or exc}",
                                 param_hint="--token-file") from None
    if not text:
        raise typer.BadParameter(f"{token_file} is empty", param_hint="--token-file")
    return text


def _party_token(token_file: Path | None) -> str:
    if token_file is not None:
        return read_token_file(token_file)
    token = os.environ.get("DECONFLICT_TOKEN", "").strip()
    if not token:
        raise typer.BadParameter("the party's token is needed: set DECONFLICT_TOKEN or give --token-file",
                                 param_hint="--token-file")
    return token


def _fail(exc: DeconflictError) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
    return typer.Exit(2)


def watch(
    url: str = typer.Option(DEFAULT_URL, envvar="DECONFLICT_URL", help="The service's base URL."),
    token_file: Path | None = typer.Option(None, help="Read the party's token from this file "
                                                      "(default: DECONFLICT_TOKEN)."),
    no_keys: bool = typer.Option(False, "--no-keys", help="Only print events (for scripts); no keystrokes."),
    count: int | None = typer.Option(None, min=1, help="Stop after this many notifications and messages."),
    as_json: bool = typer.Option(False, "--json", help="Print each item as one JSON line (implies --no-keys)."),
    since: int | None = typer.Option(None, min=0, help="Replay the stream after this cursor."),
    pending: bool = typer.Option(True, "--pending/--no-pending", help="First show what waits for an ack."),
) -> None:
    """Live notifications and hotline messages; acknowledge with a keystroke (a noted, h request hold, o object)."""
    token = _party_token(token_file)
    console = Console(highlight=False)
    keys = not (no_keys or as_json)
    if keys and not sys.stdin.isatty():
        Console(stderr=True).print("stdin is not a terminal: printing events only (--no-keys)")
        keys = False
    try:
        with Client(url, token) as client:
            run_watch(client, console, keys=keys, count=count, as_json=as_json, since=since, pending=pending)
    except DeconflictError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        pass


def send(
    thread_id: str = typer.Argument(..., help="The hotline thread (its id, as `watch` shows it)."),
    text: str = typer.Argument(..., help="The message."),
    url: str = typer.Option(DEFAULT_URL, envvar="DECONFLICT_URL", help="The service's base URL."),
    token_file: Path | None = typer.Option(None, help="Read the party's token from this file "
                                                      "(default: DECONFLICT_TOKEN)."),
    structured: str | None = typer.Option(
        None, help='A structured part as JSON, e.g. \'{"type": "request_hold", "reason": "convoy"}\'.'),
) -> None:
    """Send a hotline message to the other participants of a thread."""
    token = _party_token(token_file)
    part: dict[str, Any] | None = None
    if structured is not None:
        try:
            part = json.loads(structured)
        except ValueError as exc:
            raise typer.BadParameter(f"not JSON: {exc}", param_hint="--structured") from None
        if not isinstance(part, dict):
            raise typer.BadParameter("must be a JSON object", param_hint="--structured")
    try:
        with Client(url, token) as client:
            sent = client.send(thread_id, text, structured=part)
            thread = client.thread(thread_id)
    except DeconflictError as exc:
        raise _fail(exc) from None
    others = [r["party"] for r in sent.get("receipts", [])]
    Console(highlight=False).print(f"sent message {sent['n']} to {', '.join(others) or 'the thread'} "
                                   f"in '{escape(thread['subject'])}' [{sent['id']}]")
