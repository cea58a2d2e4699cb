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
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from uas_standards.astm.f3548.v21 import api
from uas_standards.astm.f3548.v21.api import OperationID

from ..errors import DeconflictError, InvalidInput
from ..service.bodies import strict_query
from . import constraints, logic
from .auth import Caller, authorize, config_from_env
from .logic import AirspaceConflict, F3548Context
from .parse import parse_body

__all__ = ["context", "router"]

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
router = APIRouter(prefix="/dss/v1", tags=["ASTM F3548-21 DSS"], route_class=_F3548Route,
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


# -- operational intent references -------------------------------------------------------------------------
@router.post("/operational_intent_references/query", summary="Operational intent references in an area")
async def query_oirs(request: Request) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.QueryOperationalIntentReferences)
    body = parse_body(await request.body(), api.QueryOperationalIntentReferenceParameters)
    return await run_in_threadpool(logic.query_oirs, ctx, caller, body.area_of_interest, ctx.state.clock())


@router.get("/operational_intent_references/{entityid}", summary="One operational intent reference")
async def get_oir(request: Request, entityid: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.GetOperationalIntentReference)
    return await run_in_threadpool(logic.get_oir, ctx, caller, entityid)


@router.put("/operational_intent_references/{entityid}", status_code=201,
            summary="Create an operational intent reference (the key must hold every intersecting OVN)")
async def create_oir(request: Request, entityid: str) -> JSONResponse:
    ctx, caller = _caller(request, OperationID.CreateOperationalIntentReference)
    body = parse_body(await request.body(), api.PutOperationalIntentReferenceParameters)
    status, out = await run_in_threadpool(logic.upsert_oir, ctx, caller, entityid, None, body)
    return JSONResponse(out, status_code=status)


@router.put("/operational_intent_references/{entityid}/{ovn}",
            summary="Update an operational intent reference at its current OVN")
async def update_oir(request: Request, entityid: str, ovn: str) -> JSONResponse:
    ctx, caller = _caller(request, OperationID.UpdateOperationalIntentReference)
    body = parse_body(await request.body(), api.PutOperationalIntentReferenceParameters)
    status, out = await run_in_threadpool(logic.upsert_oir, ctx, caller, entityid, ovn, body)
    return JSONResponse(out, status_code=status)


@router.delete("/operational_intent_references/{entityid}/{ovn}",
               summary="Delete an operational intent reference at its current OVN")
async def delete_oir(request: Request, entityid: str, ovn: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.DeleteOperationalIntentReference)
    return await run_in_threadpool(logic.delete_oir, ctx, caller, entityid, ovn)


# -- constraint references ---------------------------------------------------------------------------------
@router.post("/constraint_references/query", summary="Constraint references in an area")
async def query_constraints(request: Request) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.QueryConstraintReferences)
    body = parse_body(await request.body(), api.QueryConstraintReferenceParameters)
    return await run_in_threadpool(constraints.query_constraints, ctx, caller, body.area_of_interest)


@router.get("/constraint_references/{entityid}", summary="One constraint reference")
async def get_constraint(request: Request, entityid: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.GetConstraintReference)
    return await run_in_threadpool(constraints.get_constraint, ctx, caller, entityid)


@router.put("/constraint_references/{entityid}", status_code=201, summary="Create a constraint reference")
async def create_constraint(request: Request, entityid: str) -> JSONResponse:
    ctx, caller = _caller(request, OperationID.CreateConstraintReference)
    body = parse_body(await request.body(), api.PutConstraintReferenceParameters)
    status, out = await run_in_threadpool(constraints.upsert_constraint, ctx, caller, entityid, None, body)
    return JSONResponse(out, status_code=status)


@router.put("/constraint_references/{entityid}/{ovn}", summary="Update a constraint reference at its current OVN")
async def update_constraint(request: Request, entityid: str, ovn: str) -> JSONResponse:
    ctx, caller = _caller(request, OperationID.UpdateConstraintReference)
    body = parse_body(await request.body(), api.PutConstraintReferenceParameters)
    status, out = await run_in_threadpool(constraints.upsert_constraint, ctx, caller, entityid, ovn, body)
    return JSONResponse(out, status_code=status)


@router.delete("/constraint_references/{entityid}/{ovn}", summary="Delete a constraint reference at its OVN")
async def delete_constraint(request: Request, entityid: str, ovn: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.DeleteConstraintReference)
    return await run_in_threadpool(constraints.delete_constraint, ctx, caller, entityid, ovn)


# -- subscriptions -----------------------------------------------------------------------------------------
@router.post("/subscriptions/query", summary="The caller's subscriptions in an area")
async def query_subscriptions(request: Request) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.QuerySubscriptions)
    body = parse_body(await request.body(), api.QuerySubscriptionParameters)
    return await run_in_threadpool(logic.query_subscriptions, ctx, caller, body.area_of_interest)


@router.get("/subscriptions/{subscriptionid}", summary="One of the caller's subscriptions")
async def get_subscription(request: Request, subscriptionid: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.GetSubscription)
    return await run_in_threadpool(logic.get_subscription, ctx, caller, subscriptionid)


@router.put("/subscriptions/{subscriptionid}", summary="Create a subscription")
async def create_subscription(request: Request, subscriptionid: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.CreateSubscription)
    body = parse_body(await request.body(), api.PutSubscriptionParameters)
    return await run_in_threadpool(logic.put_subscription, ctx, caller, subscriptionid, None, body)


@router.put("/subscriptions/{subscriptionid}/{version}", summary="Update a subscription at its current version")
async def update_subscription(request: Request, subscriptionid: str, version: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.UpdateSubscription)
    body = parse_body(await request.body(), api.PutSubscriptionParameters)
    return await run_in_threadpool(logic.put_subscription, ctx, caller, subscriptionid, version, body)


@router.delete("/subscriptions/{subscriptionid}/{version}", summary="Delete a subscription at its version")
async def delete_subscription(request: Request, subscriptionid: str, version: str) -> dict[str, Any]:
    ctx, caller = _caller(request, OperationID.DeleteSubscription)
    return await run_in_threadpool(logic.delete_subscription, ctx, caller, subscriptionid, version)
