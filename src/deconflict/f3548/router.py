"""`/dss/v1`: the F3548-21 DSS operations served so far (operational intent references, constraint references and
subscriptions).

Errors take the F3548 shape, `{"message": ...}` (the message names the field), with the statuses the standard
lists: 400 for any invalid input (Deconflict's 422s become 400 here), 401/403 for tokens and scopes, 404, and 409
with an AirspaceConflictResponse when the key is incomplete or a `block` agreement refuses the declaration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from uas_standards.astm.f3548.v21 import api
from uas_standards.astm.f3548.v21.api import OperationID

from ..errors import DeconflictError, InvalidInput
from ..service.bodies import strict_query
from . import availability, constraints, logic
from .auth import Caller, authorize, config_from_env
from .logic import AirspaceConflict, F3548Context
from .parse import parse_body

__all__ = ["context", "dss", "router"]

_CONTEXT_LOCK = threading.Lock()


class _F3548Route(APIRoute):
    """Every error on these routes answered in the F3548 ErrorResponse shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except AirspaceConflict as exc:
                return JSONResponse(exc.body, status_code=409)
            except DeconflictError as exc:
                status = 400 if isinstance(exc, InvalidInput) else exc.status_code
                message = exc.message
                if exc.field and not message.startswith(exc.field):
                    message = f"{exc.field}: {message}"
                return JSONResponse({"message": message}, status_code=status)

        return answer


#: Left out of /openapi.json: the app documents every path with Deconflict's error shape and statuses, which
#: these routes do not use; the F3548 OpenAPI (the standard's own) is their description.
dss = APIRouter(prefix="/dss/v1", tags=["ASTM F3548-21 DSS"], route_class=_F3548Route,
                dependencies=[Depends(strict_query)], include_in_schema=False)


def context(request: Request) -> F3548Context:
    """This app's F3548 context, made on first use (configuration: `app.state.f3548_config`, else the env)."""
    app_state = request.app.state
    found: F3548Context | None = getattr(app_state, "f3548", None)
    if found is None:
        with _CONTEXT_LOCK:
            found = getattr(app_state, "f3548", None)
            if found is None:
                config = getattr(app_state, "f3548_config", None) or config_from_env()
                found = F3548Context(app_state.svc, config)
                app_state.f3548 = found
    return found


def _caller(request: Request, operation: OperationID) -> tuple[F3548Context, Caller]:
    ctx = context(request)
    return ctx, authorize(request.headers.get("authorization"), operation, ctx.config, ctx.state.clock())


def _filled(ctx: F3548Context, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(ctx, *args)` with its references' (and a 409's missing references') `uss_availability` filled in."""
    try:
        out = fn(ctx, *args)
    except AirspaceConflict as exc:
        availability.fill_availability(ctx, exc.body)
        raise
    if isinstance(out, tuple):
        return out[0], availability.fill_availability(ctx, out[1])
    return availability.fill_availability(ctx, out)


# -- operational intent references -------------------------------------------------------------------------
@dss.post("/operational_intent_references/query", summary="Operational intent references in an area")
async def query_oirs(request: Request) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.QueryOperationalIntentReferences)
    body = parse_body(await request.body(), api.QueryOperationalIntentReferenceParameters)
    return await run_in_threadpool(_filled, ctx, logic.query_oirs, caller, body.area_of_interest, ctx.state.clock())


@dss.get("/operational_intent_references/{entityid}", summary="One operational intent reference")
async def get_oir(request: Request, entityid: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.GetOperationalIntentReference)
    return await run_in_threadpool(_filled, ctx, logic.get_oir, caller, entityid)


@dss.put("/operational_intent_references/{entityid}", status_code=201,
            summary="Create an operational intent reference (the key must hold every intersecting OVN)")
async def create_oir(request: Request, entityid: str) -> JSONResponse:
    ctx, caller = _caller(request, OperationID.CreateOperationalIntentReference)
    body = parse_body(await request.body(), api.PutOperationalIntentReferenceParameters)
    status, out = await run_in_threadpool(_filled, ctx, logic.upsert_oir, caller, entityid, None, body)
    return JSONResponse(out, status_code=status)


@dss.put("/operational_intent_references/{entityid}/{ovn}",
            summary="Update an operational intent reference at its current OVN")
async def update_oir(request: Request, entityid: str, ovn: str) -> JSONResponse:
    ctx, caller = _caller(request, OperationID.UpdateOperationalIntentReference)
    body = parse_body(await request.body(), api.PutOperationalIntentReferenceParameters)
    status, out = await run_in_threadpool(_filled, ctx, logic.upsert_oir, caller, entityid, ovn, body)
    return JSONResponse(out, status_code=status)


@dss.delete("/operational_intent_references/{entityid}/{ovn}",
               summary="Delete an operational intent reference at its current OVN")
async def delete_oir(request: Request, entityid: str, ovn: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.DeleteOperationalIntentReference)
    return await run_in_threadpool(_filled, ctx, logic.delete_oir, caller, entityid, ovn)


# -- constraint references ---------------------------------------------------------------------------------
@dss.post("/constraint_references/query", summary="Constraint references in an area")
async def query_constraints(request: Request) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.QueryConstraintReferences)
    body = parse_body(await request.body(), api.QueryConstraintReferenceParameters)
    return await run_in_threadpool(_filled, ctx, constraints.query_constraints, caller, body.area_of_interest)


@dss.get("/constraint_references/{entityid}", summary="One constraint reference")
async def get_constraint(request: Request, entityid: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.GetConstraintReference)
    return await run_in_threadpool(_filled, ctx, constraints.get_constraint, caller, entityid)


@dss.put("/constraint_references/{entityid}", status_code=201, summary="Create a constraint reference")
async def create_constraint(request: Request, entityid: str) -> JSONResponse:
    ctx, caller = _caller(request, OperationID.CreateConstraintReference)
    body = parse_body(await request.body(), api.PutConstraintReferenceParameters)
    status, out = await run_in_threadpool(_filled, ctx, constraints.upsert_constraint, caller, entityid, None, body)
    return JSONResponse(out, status_code=status)


@dss.put("/constraint_references/{entityid}/{ovn}", summary="Update a constraint reference at its current OVN")
async def update_constraint(request: Request, entityid: str, ovn: str) -> JSONResponse:
    ctx, caller = _caller(request, OperationID.UpdateConstraintReference)
    body = parse_body(await request.body(), api.PutConstraintReferenceParameters)
    status, out = await run_in_threadpool(_filled, ctx, constraints.upsert_constraint, caller, entityid, ovn, body)
    return JSONResponse(out, status_code=status)


@dss.delete("/constraint_references/{entityid}/{ovn}", summary="Delete a constraint reference at its OVN")
async def delete_constraint(request: Request, entityid: str, ovn: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.DeleteConstraintReference)
    return await run_in_threadpool(_filled, ctx, constraints.delete_constraint, caller, entityid, ovn)


# -- subscriptions -----------------------------------------------------------------------------------------
@dss.post("/subscriptions/query", summary="The caller's subscriptions in an area")
async def query_subscriptions(request: Request) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.QuerySubscriptions)
    body = parse_body(await request.body(), api.QuerySubscriptionParameters)
    return await run_in_threadpool(logic.query_subscriptions, ctx, caller, body.area_of_interest)


@dss.get("/subscriptions/{subscriptionid}", summary="One of the caller's subscriptions")
async def get_subscription(request: Request, subscriptionid: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.GetSubscription)
    return await run_in_threadpool(logic.get_subscription, ctx, caller, subscriptionid)


@dss.put("/subscriptions/{subscriptionid}", summary="Create a subscription")
async def create_subscription(request: Request, subscriptionid: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.CreateSubscription)
    body = parse_body(await request.body(), api.PutSubscriptionParameters)
    return await run_in_threadpool(_filled, ctx, logic.put_subscription, caller, subscriptionid, None, body)


@dss.put("/subscriptions/{subscriptionid}/{version}", summary="Update a subscription at its current version")
async def update_subscription(request: Request, subscriptionid: str, version: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.UpdateSubscription)
    body = parse_body(await request.body(), api.PutSubscriptionParameters)
    return await run_in_threadpool(_filled, ctx, logic.put_subscription, caller, subscriptionid, version, body)


@dss.delete("/subscriptions/{subscriptionid}/{version}", summary="Delete a subscription at its version")
async def delete_subscription(request: Request, subscriptionid: str, version: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.DeleteSubscription)
    return await run_in_threadpool(logic.delete_subscription, ctx, caller, subscriptionid, version)


# -- USS availability and reports -------------------------------------------------------------------------
@dss.get("/uss_availability/{uss_id}", summary="A USS's availability (Unknown until arbitrated)")
async def get_uss_availability(request: Request, uss_id: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.GetUssAvailability)
    return await run_in_threadpool(availability.get_availability, ctx, caller, uss_id)


@dss.put("/uss_availability/{uss_id}", summary="Set a USS's availability at its current version")
async def set_uss_availability(request: Request, uss_id: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.SetUssAvailability)
    body = parse_body(await request.body(), api.SetUssAvailabilityStatusParameters)
    return await run_in_threadpool(availability.set_availability, ctx, caller, uss_id, body)


@dss.post("/reports", status_code=201, summary="Report a communication problem to the DSS (logged)")
async def make_report(request: Request) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.MakeDssReport)
    body = parse_body(await request.body(), api.ErrorReport)
    return availability.make_report(ctx, caller, body)


#: What the app includes: the DSS operations under /dss/v1, and `GET /healthy` answering "ok" without a token
#: (where the reference DSS answers its health checks).
router = APIRouter(include_in_schema=False)


@router.get("/healthy", summary="Liveness of the DSS (no token)")
def healthy() -> PlainTextResponse:
    return PlainTextResponse("ok")


router.include_router(dss)
