"""Alert lifecycle: raised once, updated while it lasts (rate-limited, material changes only), cleared after a
quiet period; a pair oscillating around the threshold does not flap."""

from __future__ import annotations

import numpy as np
import pytest

from deconflict.core.tactical import AlertBook, AlertPolicy, PairFinding, pair_findings
from deconflict.core.tactical.screen import Findings


def finding(h: float = 5_000.0, v: float = 0.0, t_in: float = 60.0, a: str = "icao:aaaaaa",
            b: str = "icao:bbbbbb") -> PairFinding:
    return PairFinding(a, b, 120.0, h, v, t_in, 180.0)


def kinds(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.kind.value for e in events]


def test_raised_once_updated_then_cleared_after_quiet_period() -> None:
    book = AlertBook(AlertPolicy(clear_after_s=30.0, update_interval_s=5.0))
    assert kinds(book.update(0.0, [finding()])) == ["raised"]
    assert kinds(book.update(1.0, [finding()])) == []  # nothing changed
    assert kinds(book.update(2.0, [finding(h=3_000.0)])) == []  # changed, but within the update interval
    ev = book.update(6.0, [finding(h=3_000.0)])
    assert kinds(ev) == ["updated"] and ev[0].finding.horizontal_m == 3_000.0 and ev[0].raised_at == 0.0
    assert kinds(book.update(7.0, [])) == []
    assert kinds(book.update(35.0, [])) == []  # 29 s quiet since the last finding
    ev = book.update(36.0, [])
    assert kinds(ev) == ["cleared"] and ev[0].finding.horizontal_m == 3_000.0
    assert book.active == {}
    again = book.update(37.0, [finding()])
    assert kinds(again) == ["raised"] and again[0].alert_id != ev[0].alert_id


def test_loss_becoming_current_updates_at_once() -> None:
    book = AlertBook(AlertPolicy(update_interval_s=60.0))
    book.update(0.0, [finding(t_in=5.0)])
    ev = book.update(1.0, [finding(t_in=0.0)])
    assert kinds(ev) == ["updated"] and ev[0].finding.t_in_s == 0.0


@pytest.mark.parametrize("period", [1, 2, 3, 5, 10])
def test_no_flapping_when_oscillating_around_the_threshold(period: int) -> None:
    """A pair whose predicted CPA wobbles across 5 NM: found on some ticks, not on others, for 10 minutes."""
    book = AlertBook(AlertPolicy(clear_after_s=30.0))
    events = []
    for tick in range(600):
        inside = (tick // period) % 2 == 0
        events += book.update(float(tick), [finding(h=9_200.0)] if inside else [])
    for tick in range(600, 700):
        events += book.update(float(tick), [])
    assert kinds(events) == ["raised", "cleared"]
    last_found = max(t for t in range(600) if (t // period) % 2 == 0)
    assert events[1].at == last_found + 30


def test_raise_after_consecutive_ticks() -> None:
    book = AlertBook(AlertPolicy(raise_after=3))
    assert kinds(book.update(0.0, [finding()])) == []
    assert kinds(book.update(1.0, [finding()])) == []
    assert kinds(book.update(2.0, [])) == []  # the run is broken: start again
    assert kinds(book.update(3.0, [finding()])) == []
    assert kinds(book.update(4.0, [finding()])) == []
    assert kinds(book.update(5.0, [finding()])) == ["raised"]


def test_pairs_are_independent_and_keyed_by_sorted_track_keys() -> None:
    book = AlertBook()
    ev = book.update(0.0, [finding(), finding(a="icao:cccccc", b="icao:dddddd"), finding()])
    assert kinds(ev) == ["raised", "raised"]
    findings = Findings(0.0, np.array([0]), np.array([1]), np.array([10.0]), np.array([1.0]), np.array([2.0]),
                        np.array([0.0]), np.array([10.0]), 1, 1, 1.0)
    named = pair_findings(["icao:bbbbbb", "icao:aaaaaa"], findings)
    assert named[0].pair == ("icao:aaaaaa", "icao:bbbbbb")
    assert kinds(book.update(1.0, named)) == ["updated"]  # t_in 60 -> 0: the loss is current


def test_time_must_not_go_backwards() -> None:
    book = AlertBook()
    book.update(10.0, [])
    with pytest.raises(ValueError, match="backwards"):
        book.update(9.0, [])
