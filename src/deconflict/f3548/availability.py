"""F3548 USS availability (get, set by a USS with availability arbitration) and DSS reports.

Availability is per USS (`sub`): Unknown until a USS with `utm.availability_arbitration` sets it, at version ""
then. A set must present the current version as `old_version` ("" for a USS never set); a stale one is 409. Every
operational intent and constraint reference the DSS returns carries its manager's availability.

Reports (`POST /dss/v1/reports`, an ErrorReport) are logged as JSON, as the reference DSS does, and returned with
the `report_id` the DSS gives them.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import sqlalchemy as sa
from uas_standards.astm.f3548.v21 import api

from ..errors import Conflict
from ..store import schema as t
from ..store.database import writing
from .auth import Caller
from .logic import F3548Context
from .parse import BadRequest

__all__ = ["fill_availability", "get_availability", "make_report", "set_availability"]

REPORTS = logging.getLogger("deconflict.f3548.reports")
_A = t.f3548_uss_availability.c
_REFERENCE_LISTS = ("operational_intent_references", "constraint_references", "missing_operational_intents",
                    "missing_constraints")
_REFERENCES = ("operational_intent_reference", "constraint_reference")


def _check_uss(uss_id: str) -> str:
    if not uss_id.strip() or len(uss_id) > 255:
        raise BadRequest("uss_id: must be a USS's client id (1 to 255 characters)", field="uss_id")
    return uss_id


def _status(uss_id: str, row: Any) -> dict[str, Any]:
    return {"version": "" if row is None else str(row.version),
            "status": {"uss": uss_id, "availability": "Unknown" if row is None else row.availability}}


def get_availability(ctx: F3548Context, caller: Caller, uss_id: str) -> dict[str, Any]:
    uss_id = _check_uss(uss_id)
    with ctx.state.db.connect() as conn:
        row = conn.execute(sa.select(t.f3548_uss_availability).where(_A.uss == uss_id)).first()
    return _status(uss_id, row)


def set_availability(ctx: F3548Context, caller: Caller, uss_id: str,
                     params: api.SetUssAvailabilityStatusParameters) -> dict[str, Any]:
    uss_id = _check_uss(uss_id)
    availability = params.availability.value if hasattr(params.availability, "value") else str(params.availability)
    old_version = params.old_version or ""
    now = ctx.state.clock()
    with writing(ctx.state.db) as conn:
        row = conn.execute(sa.select(t.f3548_uss_availability).where(_A.uss == uss_id)).first()
        current = "" if row is None else str(row.version)
        if old_version != current:
            raise Conflict(f"old_version {old_version!r} is not the current version {current!r}",
                           field="old_version")
        values = {"availability": availability, "updated_by": caller.sub[:255], "updated_at": now}
        if row is None:
            try:
                conn.execute(sa.insert(t.f3548_uss_availability).values(uss=uss_id, version=1, **values))
            except sa.exc.IntegrityError:
                raise Conflict("the availability was set meanwhile; read it and retry", field="old_version") from None
        else:
            done = conn.execute(sa.update(t.f3548_uss_availability).where(_A.uss == uss_id,
                                                                          _A.version == row.version)
                                .values(version=row.version + 1, **values))
            if done.rowcount != 1:
                raise Conflict("the availability was set meanwhile; read it and retry", field="old_version")
        row = conn.execute(sa.select(t.f3548_uss_availability).where(_A.uss == uss_id)).one()
    return _status(uss_id, row)


def fill_availability(ctx: F3548Context, body: dict[str, Any]) -> dict[str, Any]:
    """Set `uss_availability` of every reference in a response (or AirspaceConflictResponse) body."""
    refs = [body[k] for k in _REFERENCES if isinstance(body.get(k), dict)]
    for k in _REFERENCE_LISTS:
        refs.extend(r for r in body.get(k) or () if isinstance(r, dict))
    managers = {r["manager"] for r in refs if "manager" in r}
    if not managers:
        return body
    with ctx.state.db.connect() as conn:
        found = dict(conn.execute(sa.select(_A.uss, _A.availability).where(_A.uss.in_(sorted(managers)))).all())
    for r in refs:
        r["uss_availability"] = found.get(r.get("manager"), "Unknown")
    return body


def make_report(ctx: F3548Context, caller: Caller, report: api.ErrorReport) -> dict[str, Any]:
    """Log the report (with its reporter) and return it with the id given to it."""
    out = json.loads(json.dumps(report, default=str))
    out["report_id"] = str(uuid.uuid4())
    REPORTS.warning("F3548 DSS report %s from %s: %s", out["report_id"], caller.sub, json.dumps(out, sort_keys=True))
    return out
