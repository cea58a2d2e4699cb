"""Agreements: created by the admin, visible only to the parties in them."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from ...errors import InvalidInput, NotFound
from ...store import schema as t
from ...store.database import writing
from ...store.locks import lock_areas
from ..auth import current_party, require_admin
from ..bodies import AgreementIn, openapi_body, parse_body, strict_query
from ..codec import iso
from ..engine_cache import PartyInfo
from ..state import ServiceState
from ..writes import AGREEMENTS_LOCK, log_change

router = APIRouter(prefix="/v1/agreements", tags=["agreements"], dependencies=[Depends(strict_query)])


def _agreement_json(row: Any, members: list[str]) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "parties": members,
        "minima": {"lateral_m": row.lateral_m, "vertical_m": row.vertical_m, "time_s": row.time_s},
        "disclosure": row.disclosure, "policy": row.policy, "ack_deadline_s": row.ack_deadline_s,
        "min_notice_s": row.min_notice, "escalation_contacts": row.escalation_contacts,
        "created_at": iso(row.created_at),
    }


def create_agreement(state: ServiceState, body: AgreementIn) -> dict[str, Any]:
    now = state.clock()
    agreement_id = str(uuid.uuid4())
    names = list(dict.fromkeys(body.parties))
    if len(names) < 2:
        raise InvalidInput("an agreement needs at least two different parties", field="parties")
    with writing(state.db) as conn:
        lock_areas(conn, {k: True for k in AGREEMENTS_LOCK})
        rows = conn.execute(sa.select(t.parties.c.id, t.parties.c.name).where(t.parties.c.name.in_(names))).all()
        ids = {r.name: r.id for r in rows}
        missing = [n for n in names if n not in ids]
        if missing:
            raise InvalidInput(f"no party named {missing[0]!r}", field="parties")
        conn.execute(sa.insert(t.agreements).values(
            id=agreement_id, name=body.name, lateral_m=body.minima.lateral_m, vertical_m=body.minima.vertical_m,
            time_s=body.minima.time_s, disclosure=body.disclosure.value, policy=body.policy.value,
            ack_deadline_s=body.ack_deadline_s, min_notice={k.value: v for k, v in body.min_notice_s.items()},
            escalation_contacts=body.escalation_contacts, created_at=now))
        conn.execute(sa.insert(t.agreement_parties), [{"agreement_id": agreement_id, "party_id": ids[n]}
                                                      for n in names])
        log_change(conn, "agreement", agreement_id, 1, now)
        row = conn.execute(sa.select(t.agreements).where(t.agreements.c.id == agreement_id)).one()
    return _agreement_json(row, names)


def _visible(state: ServiceState, party: PartyInfo, agreement_id: str | None = None) -> list[dict[str, Any]]:
    with state.db.connect() as conn:
        members: dict[str, list[str]] = {}
        for r in conn.execute(sa.select(t.agreement_parties.c.agreement_id, t.parties.c.name, t.parties.c.id)
                              .join(t.parties, t.parties.c.id == t.agreement_parties.c.party_id)
                              .order_by(t.parties.c.name)):
            members.setdefault(r.agreement_id, []).append(r.name)
            if r.id == party.id:
                members.setdefault("_mine", []).append(r.agreement_id)
        query = sa.select(t.agreements).order_by(t.agreements.c.created_at, t.agreements.c.id)
        if agreement_id is not None:
            query = query.where(t.agreements.c.id == agreement_id)
        rows = conn.execute(query).all()
    mine = set(members.get("_mine", []))
    return [_agreement_json(r, members.get(r.id, [])) for r in rows if party.role == "admin" or r.id in mine]


@router.post("", status_code=201, openapi_extra=openapi_body(AgreementIn), summary="Create an agreement (admin)")
async def post_agreement(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    require_admin(party)
    body = await parse_body(request, AgreementIn)
    state: ServiceState = request.app.state.svc
    return {"agreement": await run_in_threadpool(create_agreement, state, body)}


@router.get("", summary="The agreements the caller is party to (admin: all)")
async def list_agreements(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    return {"agreements": await run_in_threadpool(_visible, request.app.state.svc, party)}


@router.get("/{agreement_id}", summary="One agreement the caller is party to")
async def get_agreement(agreement_id: str, request: Request,
                        party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    found = await run_in_threadpool(_visible, request.app.state.svc, party, agreement_id)
    if not found:
        raise NotFound("no such agreement", field="agreement_id")
    return {"agreement": found[0]}
