"""The strategic index returns exactly the brute-force oracle's conflicts: no misses, no false conflicts.

Exactness is up to the 0.5 m at which the engine's frame and pyproj's projection may differ: a pair whose
lateral distance lies within that band of the minimum may go either way; every other pair must agree.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconflict.core.model import Declaration, SeparationMinima
from deconflict.core.strategic import ConflictSet, StrategicEngine

from .oracle import oracle_hits
from .strategies import POLAR_LATS, T0, worlds

TOLERANCE_M = 0.5
PAIRS = [("alpha", "bravo"), ("alpha", "charlie"), ("bravo", "charlie")]

minima_st = st.fixed_dictionaries(
    {
        pair: st.builds(
            SeparationMinima,
            st.sampled_from([0.0, 100.0, 1852.0, 9260.0]),
            st.sampled_from([0.0, 150.0, 300.0]),
            st.sampled_from([0.0, 60.0, 900.0]),
        )
        for pair in PAIRS
    }
)


def _engine(decls: list[Declaration], minima: dict[tuple[str, str], SeparationMinima]) -> StrategicEngine:
    engine = StrategicEngine(capacity=16)  # tiny, so the arrays grow during the test
    for (a, b), m in minima.items():
        engine.set_minima(a, b, m)
    for d in decls:
        engine.upsert(d)
    return engine


def _assert_matches_oracle(engine: StrategicEngine, query: Declaration, live: list[Declaration],
                           minima: dict[tuple[str, str], SeparationMinima],
                           renumber: dict[tuple[str, int], int] | None = None) -> None:
    found = engine.check(query)
    got = {
        (int(q), found._engine._decl_ids[int(d)], int(v)): vals
        for q, d, v, vals in zip(found.query_volume, found.other_decl, found.other_volume, found.values, strict=True)
    }
    renumber = renumber or {}
    expected = {
        (h.query_volume, h.other_declaration, renumber.get((h.other_declaration, h.other_volume), h.other_volume)): h
        for h in oracle_hits(query, live, minima, SeparationMinima())
    }
    owners = {d.id: d.owner for d in live}
    for key, hit in expected.items():
        m = minima.get((query.owner, owners[key[1]]), minima.get((owners[key[1]], query.owner)))
        assert m is not None
        if hit.lateral_m <= m.lateral_m - TOLERANCE_M:
            assert key in got, f"missed conflict {key}: oracle {hit}"
        elif hit.lateral_m > m.lateral_m + TOLERANCE_M:
            assert key not in got, f"false conflict {key}: oracle {hit}, engine {got[key]}"
    for key, vals in got.items():
        assert key in expected, f"false conflict {key} outside the time or vertical minima: {vals}"
        hit = expected[key]
        assert abs(vals[0] - hit.lateral_m) <= TOLERANCE_M, (key, vals, hit)
        assert vals[1] == hit.vertical_gap_m and vals[2] == hit.time_gap_s


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(world=worlds(), minima=minima_st)
def test_conflicts_equal_the_oracle(world: tuple[list[Declaration], Declaration],
                                    minima: dict[tuple[str, str], SeparationMinima]) -> None:
    decls, query = world
    engine = _engine(decls, minima)
    _assert_matches_oracle(engine, query, decls, minima)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(world=worlds(lats=POLAR_LATS), minima=minima_st)
def test_polar_conflicts_equal_the_oracle(world: tuple[list[Declaration], Declaration],
                                          minima: dict[tuple[str, str], SeparationMinima]) -> None:
    """Volumes at 85-90 degrees in both hemispheres: around a pole, on it (a vertex or a circle's centre there),
    and across the antimeridian next to it."""
    decls, query = world
    engine = _engine(decls, minima)
    _assert_matches_oracle(engine, query, decls, minima)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(world=worlds(), minima=minima_st, data=st.data())
def test_cancel_update_and_expiry_keep_the_index_exact(world: tuple[list[Declaration], Declaration],
                                                       minima: dict[tuple[str, str], SeparationMinima],
                                                       data: st.DataObject) -> None:
    decls, query = world
    engine = _engine(decls, minima)
    live = {d.id: d for d in decls}
    for d in decls:
        action = data.draw(st.sampled_from(["keep", "cancel", "update"]))
        if action == "cancel":
            engine.cancel(d.id)
            del live[d.id]
        elif action == "update":  # a new version: the same volumes, one hour later
            moved = tuple(type(v)(v.volume, type(v.time_start)(v.time_start.value + timedelta(hours=1)),
                                  type(v.time_end)(v.time_end.value + timedelta(hours=1))) for v in d.volumes)
            new = Declaration(d.id, d.owner, d.kind, moved, version=d.version + 1, activation=d.activation)
            engine.upsert(new)
            live[d.id] = new
    now = T0 + timedelta(minutes=data.draw(st.integers(0, 300)))
    engine.expire(now)
    remaining = []
    renumber: dict[tuple[str, int], int] = {}  # (declaration, index among the kept) -> original index
    for d in live.values():
        kept = [j for j, v in enumerate(d.volumes) if v.time_end.value >= now]
        renumber.update({(d.id, k): j for k, j in enumerate(kept)})
        if kept:
            vols = tuple(d.volumes[j] for j in kept)
            remaining.append(Declaration(d.id, d.owner, d.kind, vols, d.version, activation=d.activation))
    # expiry drops single volumes: compare against the declarations trimmed the same way
    _assert_matches_oracle(engine, query, remaining, minima, renumber)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(world=worlds(), minima=minima_st)
def test_filing_returns_what_checking_found(world: tuple[list[Declaration], Declaration],
                                            minima: dict[tuple[str, str], SeparationMinima]) -> None:
    """upsert checks and files in one kernel call for a declaration of one volume: its answer is check's."""
    decls, query = world
    engine = _engine(decls, minima)
    checked = engine.check(query)
    filed = engine.upsert(query)

    def rows(c: ConflictSet) -> list[tuple[float, ...]]:
        return sorted(zip(c.query_volume.tolist(), c.other_decl.tolist(), c.other_volume.tolist(),
                          *c.values.T.tolist(), *c.window.T.tolist(), strict=True))

    assert rows(filed) == rows(checked)
    assert [c.other_declaration_id for c in filed.conflicts()] == [c.other_declaration_id for c in checked.conflicts()]
    assert query.id in engine
