"""A conflict's figures under coarse disclosure are no more precise than the coarse view: exact windows and gaps
would give away the other side's exact times and boundary (one probe above a volume gives its ceiling)."""

from __future__ import annotations

from datetime import datetime

import pytest

from deconflict.service.server import RunningService

from .service_helpers import vol, world

SECRET_TOP_M = 1234.5  # the hidden volume's ceiling; a probe 65.5 m above it is inside the 150 m minimum
PROBE = vol(35.0, 36.0, 2000, (1.5, 2.5), (1300.0, 2000.0))


def _on_quarter_hours(text: str) -> bool:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.timestamp() % 900 == 0


@pytest.mark.parametrize("disclosure", ["coarse", "full"])
def test_a_probe_above_a_coarse_partners_volume_learns_no_exact_ceiling_or_times(service: RunningService,
                                                                                 disclosure: str) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air", "ngo"], [
        {"parties": ["air", "ngo"], "disclosure": disclosure, "policy": "inform"}])
    hidden = apis["ngo"].declare("activity", vol(35.0, 36.0, 3000, (1.0123, 2.987), (0.0, SECRET_TOP_M)))
    assert hidden.status_code == 201, hidden.text
    preview = apis["air"].post("/v1/declarations/preview", json={"kind": "flight", "volumes": [PROBE]})
    filed = apis["air"].declare("flight", PROBE)
    assert preview.status_code == 200 and filed.status_code == 201, filed.text
    for response in (preview.json(), filed.json()):
        (conflict,) = response["conflicts"]
        if disclosure == "full":  # the control: a full partner is told the exact figures
            assert conflict["vertical_gap_m"] == pytest.approx(1300.0 - SECRET_TOP_M, abs=0.01)
            assert not _on_quarter_hours(conflict["window_end"])
            continue
        assert conflict["other"]["disclosure"] == "coarse"
        assert conflict["vertical_gap_m"] == 0.0  # 65.5 m, floored to the coarse altitude step
        assert conflict["lateral_distance_m"] % 10_000 == 0 and conflict["time_gap_s"] % 900 == 0
        assert _on_quarter_hours(conflict["window_start"]) and _on_quarter_hours(conflict["window_end"])
        assert conflict["severity"] == "proximity"  # still told it is close, not how close
    # the hidden side is told of the conflict as coarsely as the prober
    inbox = apis["ngo"].get("/v1/conflicts").json()["conflicts"]
    (theirs,) = [c for c in inbox if c["other"]["declaration_id"] == filed.json()["declaration"]["id"]]
    assert _on_quarter_hours(theirs["window_start"]) == (disclosure == "coarse")
