"""Tactical alerts with hysteresis: raised once, updated while they last, cleared after a quiet period.

`AlertBook` is a pure state machine fed each tick's findings with the tick's time (`now`, epoch seconds); it
returns the events that tick causes. A pair is named by the two tracks' keys (`TrackBatch.keys`), sorted, so an
alert survives the tracks' indices changing from tick to tick.

Hysteresis, so that a pair hovering around a threshold does not flap:
- raise: after a finding in `raise_after` consecutive ticks (1: at once);
- update: while raised, at most once per `update_interval_s`, and only when the prediction moved materially
  (CPA distances by `update_distance_m`/`update_vertical_m`, time of loss by `update_time_s`), or when the loss
  starts being current (t_in reaches 0: separation is lost now);
- clear: only after `clear_after_s` without any finding for the pair. A pair found again before then keeps
  its alert (no new RAISED); after a clear, a new finding raises a new alert with a new id.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ...errors import InvalidInput
from .screen import Findings

__all__ = ["AlertBook", "AlertEvent", "AlertPolicy", "EventKind", "PairFinding", "pair_findings"]


class EventKind(enum.StrEnum):
    RAISED = "raised"
    UPDATED = "updated"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """The hysteresis of `AlertBook` (seconds and metres)."""

    raise_after: int = 1
    clear_after_s: float = 30.0
    update_interval_s: float = 5.0
    update_distance_m: float = 500.0
    update_vertical_m: float = 60.0
    update_time_s: float = 10.0


DEFAULT_ALERT_POLICY = AlertPolicy()


@dataclass(frozen=True, slots=True)
class PairFinding:
    """One pair's prediction at one tick (see `Findings`); a < b are the two tracks' keys."""

    a: str
    b: str
    t_cpa_s: float
    horizontal_m: float
    vertical_m: float
    t_in_s: float
    t_out_s: float

    @property
    def pair(self) -> tuple[str, str]:
        return self.a, self.b


def pair_findings(keys: Sequence[str], findings: Findings) -> list[PairFinding]:
    """A tick's `Findings` named by track keys (keys[i] is the key of the screened track i)."""
    out = []
    for k in range(len(findings)):
        a, b = keys[int(findings.i[k])], keys[int(findings.j[k])]
        if b < a:
            a, b = b, a
        out.append(PairFinding(a, b, float(findings.t_cpa_s[k]), float(findings.horizontal_m[k]),
                               float(findings.vertical_m[k]), float(findings.t_in_s[k]), float(findings.t_out_s[k])))
    return out


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """What changed about an alert at `at`; `finding` is the latest prediction (for CLEARED: the last one seen)."""

    kind: EventKind
    alert_id: str
    pair: tuple[str, str]
    at: float
    raised_at: float
    finding: PairFinding


@dataclass(slots=True)
class _Alert:
    alert_id: str
    raised_at: float
    last_seen: float
    last_sent_at: float
    sent: PairFinding  # the prediction last raised or updated
    latest: PairFinding


@dataclass(slots=True)
class AlertBook:
    """Active alerts by pair, and pairs seen but not yet raised (`raise_after` > 1)."""

    policy: AlertPolicy = DEFAULT_ALERT_POLICY
    active: dict[tuple[str, str], _Alert] = field(default_factory=dict)
    _pending: dict[tuple[str, str], int] = field(default_factory=dict)
    _now: float = -math.inf
    _serial: int = 0

    def _material(self, old: PairFinding, new: PairFinding) -> bool:
        p = self.policy
        if (old.t_in_s > 0.0) != (new.t_in_s > 0.0):
            return True
        return (abs(new.horizontal_m - old.horizontal_m) >= p.update_distance_m
                or abs(new.vertical_m - old.vertical_m) >= p.update_vertical_m
                or abs(new.t_in_s - old.t_in_s) >= p.update_time_s)

    def update(self, now: float, findings: Iterable[PairFinding]) -> list[AlertEvent]:
        """Feed one tick; returns its events: RAISED and UPDATED in the findings' order, then CLEARED."""
        if now < self._now:
            raise InvalidInput(f"time went backwards: {now} after {self._now}", field="now")
        self._now = now
        p = self.policy
        events: list[AlertEvent] = []
        seen: set[tuple[str, str]] = set()
        for f in findings:
            key = f.pair
            if key in seen:
                continue
            seen.add(key)
            alert = self.active.get(key)
            if alert is None:
                count = self._pending.get(key, 0) + 1
                if count < p.raise_after:
                    self._pending[key] = count
                    continue
                self._pending.pop(key, None)
                self._serial += 1
                alert = _Alert(f"{f.a}~{f.b}#{self._serial}", now, now, now, f, f)
                self.active[key] = alert
                events.append(AlertEvent(EventKind.RAISED, alert.alert_id, key, now, now, f))
                continue
            alert.last_seen = now
            alert.latest = f
            urgent = (alert.sent.t_in_s > 0.0) and f.t_in_s <= 0.0
            if (urgent or now - alert.last_sent_at >= p.update_interval_s) and self._material(alert.sent, f):
                alert.sent = f
                alert.last_sent_at = now
                events.append(AlertEvent(EventKind.UPDATED, alert.alert_id, key, now, alert.raised_at, f))
        for key in [k for k in self._pending if k not in seen]:
            del self._pending[key]
        for key in [k for k, a in self.active.items() if k not in seen and now - a.last_seen >= p.clear_after_s]:
            alert = self.active.pop(key)
            events.append(AlertEvent(EventKind.CLEARED, alert.alert_id, key, now, alert.raised_at, alert.latest))
        return events
