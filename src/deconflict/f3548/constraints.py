"""F3548 constraint references: query, get, create, update at the current OVN, delete at the current OVN.

A constraint reference is stored beside the operational intent references, in `f3548_oirs`, with the state
`Constraint` (not an F3548 operational intent state; every OIR read leaves these rows out, every constraint read
keeps only them). Entity IDs are UUIDs, so one table holds both kinds of reference without a clash in practice;
an ID already taken by the other kind is refused with 409.

Each constraint is also a `restriction` declaration of the party standing for the managing USS, filed through
the one write path, so its conflicts with flights, activities and protected sites reach that party (and the
other side) like any other; a `block` agreement that refuses the declaration refuses the constraint (409).

Writes hold the same area locks as OIR writes (see `logic`), so an OIR's key check and a constraint write in
the same place are serialised: an intent whose key is checked against the constraints never misses one being
written. Subscriptions that notify for constraints are the subscribers; their notification indexes rise.
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from uas_standards.astm.f3548.v21 import api

from ..core.footprint import FootprintBatch
from ..core.model import DeclarationKind, Volume4D
from ..errors import Conflict, Forbidden, NotFound
from ..service.bodies import DeclarationIn
from ..service.codec import volumes_from_json, volumes_json
from ..service.engine_cache import PartyInfo
from ..store import schema as t
from .auth import Caller
from .logic import (
    CONSTRAINT,
    F3548Context,
    _notify,
    _window,
    cancel_quietly,
    constraint_json,
    file_declaration,
    intersecting_oirs,
)
from .parse import BadRequest

__all__ = ["delete_constraint", "get_constraint", "query_constraints", "upsert_constraint"]

_C = t.f3548_oirs.c


def query_constraints(ctx: F3548Context, caller: Caller, aoi: api.Volume4D | None) -> dict[str, Any]:
    if aoi is None:
        raise BadRequest("area_of_interest: required", field="area_of_interest")
    now = ctx.state.clock()
    volumes = ctx.volumes([aoi], "area_of_interest", now, query=True)
    with ctx.state.db.connect() as conn:
        rows = intersecting_oirs(ctx, conn, FootprintBatch.of(volumes), now, constraints=True)
    return {"constraint_references": [constraint_json(r, caller) for r in rows]}


def get_constraint(ctx: F3548Context, caller: Caller, entity_id: str) -> dict[str, Any]:
    entity_id = ctx.check_id(entity_id)
    with ctx.state.db.connect() as conn:
        row = conn.execute(sa.select(t.f3548_oirs).where(_C.id == entity_id, _C.state == CONSTRAINT)).first()
    if row is None:
        raise NotFound(f"no constraint reference {entity_id}", field="entityid")
    return {"constraint_reference": constraint_json(row, caller)}


def _file_restriction(ctx: F3548Context, party: PartyInfo, entity_id: str, old: Any, volumes: list[Volume4D],
                      caller: Caller) -> str:
    """The constraint's `restriction` declaration through the normal write path; BlockedWrite -> 409."""
    body = DeclarationIn(kind=DeclarationKind.RESTRICTION, volumes=volumes,
                         title=f"F3548 constraint {entity_id}",
                         extra={"f3548_constraint": entity_id, "f3548_uss": caller.sub[:200]})
    return file_declaration(ctx, party, old, body)


def _check(conn: sa.Connection, caller: Caller, entity_id: str, ovn: str | None, before: Any) -> Any:
    """Under the area locks: the current constraint, checked against the caller's OVN. Writes nothing."""
    old = conn.execute(sa.select(t.f3548_oirs).where(_C.id == entity_id)).first()
    if (old is None) != (before is None) or (old is not None and old.ovn != before.ovn):
        raise Conflict("the constraint changed meanwhile; retry", field="ovn")
    if old is not None:
        if old.state != CONSTRAINT:
            raise Conflict(f"{entity_id} is the id of an operational intent reference", field="entityid")
        if old.manager != caller.sub:
            raise Forbidden("the constraint is managed by another USS", field="entityid")
        if ovn is None:
            raise Conflict(f"constraint {entity_id} exists; update it with its OVN", field="ovn")
        if old.ovn != ovn:
            raise Conflict(f"OVN {ovn} is not current", field="ovn")
    elif ovn is not None:
        raise BadRequest(f"no constraint reference {entity_id} (so not at OVN {ovn})", field="entityid")
    return old


def upsert_constraint(ctx: F3548Context, caller: Caller, entity_id: str, ovn: str | None,
                      params: api.PutConstraintReferenceParameters) -> tuple[int, dict[str, Any]]:
    """Create (ovn None) or update a constraint reference; (status, ChangeConstraintReferenceResponse)."""
    state = ctx.state
    now = state.clock()
    entity_id = ctx.check_id(entity_id)
    ctx.check_base_url(params.uss_base_url, "uss_base_url")
    volumes = ctx.volumes(list(params.extents), "extents", now)
    batch = FootprintBatch.of(volumes)
    party = ctx.uss_party(caller.sub)
    with state.db.connect() as conn:
        before = conn.execute(sa.select(t.f3548_oirs).where(_C.id == entity_id)).first()
    if before is not None and before.state != CONSTRAINT:
        raise Conflict(f"{entity_id} is the id of an operational intent reference", field="entityid")
    batches = [batch] + ([FootprintBatch.of(volumes_from_json(before.extents))] if before is not None else [])
    with ctx.area_locked(batches) as held:
        with ctx.write_tx(held) if held is not None else state.db.connect() as conn:
            old = _check(conn, caller, entity_id, ovn, before)
        decl_id = _file_restriction(ctx, party, entity_id, old, volumes, caller)
        try:
            with ctx.write_tx(held) as conn:
                start, end, lo, hi = _window(volumes)
                row = {"manager": caller.sub, "party_id": party.id, "declaration_id": decl_id,
                       "ovn": secrets.token_urlsafe(24), "state": CONSTRAINT, "uss_base_url": params.uss_base_url,
                       "subscription_id": None, "extents": volumes_json(volumes), "time_start": start,
                       "time_end": end, "altitude_lower": lo, "altitude_upper": hi, "updated_at": now}
                if old is None:
                    conn.execute(sa.insert(t.f3548_oirs).values(id=entity_id, version=1, created_at=now, **row))
                    notify_volumes = volumes
                else:
                    done = conn.execute(sa.update(t.f3548_oirs).where(_C.id == entity_id, _C.ovn == old.ovn)
                                        .values(version=old.version + 1, **row))
                    if done.rowcount != 1:
                        raise Conflict("the constraint changed meanwhile; retry", field="ovn")
                    notify_volumes = volumes + volumes_from_json(old.extents)
                subscribers = _notify(conn, FootprintBatch.of(notify_volumes), notify_volumes, now,
                                      "notify_for_constraints")
                written = conn.execute(sa.select(t.f3548_oirs).where(_C.id == entity_id)).one()
                response = {"subscribers": subscribers, "constraint_reference": constraint_json(written, caller)}
        except BaseException:
            if old is None:
                cancel_quietly(ctx, party, decl_id)
            raise
    return (201 if old is None else 200), response


def delete_constraint(ctx: F3548Context, caller: Caller, entity_id: str, ovn: str) -> dict[str, Any]:
    state = ctx.state
    now = state.clock()
    entity_id = ctx.check_id(entity_id)
    with state.db.connect() as conn:
        before = conn.execute(sa.select(t.f3548_oirs).where(_C.id == entity_id, _C.state == CONSTRAINT)).first()
    if before is None:
        raise NotFound(f"no constraint reference {entity_id}", field="entityid")
    volumes = volumes_from_json(before.extents)
    batch = FootprintBatch.of(volumes)
    party = ctx.uss_party(caller.sub)
    with ctx.area_locked([batch]) as held, ctx.write_tx(held) as conn:
        old = conn.execute(sa.select(t.f3548_oirs).where(_C.id == entity_id, _C.state == CONSTRAINT)).first()
        if old is None:
            raise NotFound(f"no constraint reference {entity_id}", field="entityid")
        if old.manager != caller.sub:
            raise Forbidden("the constraint is managed by another USS", field="entityid")
        if old.ovn != ovn:
            raise Conflict(f"OVN {ovn} is not current", field="ovn")
        subscribers = _notify(conn, batch, volumes, now, "notify_for_constraints")
        conn.execute(sa.delete(t.f3548_oirs).where(_C.id == entity_id))
        response = {"subscribers": subscribers, "constraint_reference": constraint_json(old, caller)}
    cancel_quietly(ctx, party, old.declaration_id, "F3548 constraint deleted")  # after the commit
    return response
