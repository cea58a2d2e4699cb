"""The FastAPI application: routes, error handling, body limits, and the OpenAPI description."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import BaseModel

from .. import __version__
from ..core.strategic.warmup import warm_up
from ..store import schema as t
from ..store.database import migrate
from . import stream
from .bodies import AgreementIn, AreaQueryIn, CancelIn, DeclarationIn, KeyIn, PartyIn, WebhookIn
from .errors import BodyLimit, install_error_handlers
from .hub import Hub
from .routes import agreements, conflicts, declarations, notifications, parties
from .routes import hotline as hotline_routes
from .state import ServiceState

__all__ = ["create_app", "open_state"]

BODY_MODELS: tuple[type[BaseModel], ...] = (PartyIn, KeyIn, AgreementIn, DeclarationIn, AreaQueryIn, CancelIn,
                                            WebhookIn, notifications.AckIn)
BODY_MODELS += hotline_routes.BODY_MODELS


ERROR_STATUSES = {
    "400": "Malformed request: not JSON, wrong content type, bad header",
    "401": "No valid token",
    "403": "Not allowed for this party",
    "404": "No such thing, or none the caller may see",
    "409": "Conflicts with the current state: stale version, blocked by an agreement, reused idempotency key",
    "413": "Body too large",
    "422": "Invalid input; `field` names the offending field",
    "428": "If-Match required",
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                           "field": {"type": ["string", "null"]}},
        },
        "conflicts": {"type": "array", "items": {"type": "object"}},
    },
}


def open_state(state: ServiceState) -> ServiceState:
    """Migrate the store, compile the engine's kernels and build this process's engine cache from the store."""
    warm_up()
    migrate(state.db)
    with state.db.connect() as conn:
        state.cache.rebuild(conn)
    __import__("deconflict.service.ledger", fromlist=["open_ledger"]).open_ledger(state)  # key, log
    return state


def create_app(state: ServiceState) -> FastAPI:
    """An app over an opened `state` (see `open_state`)."""
    app = FastAPI(
        title="Deconflict",
        version=__version__,
        description="Multi-party airspace de-confliction: declare 4D volumes, detect conflicts across parties, "
        "disclose only what agreements allow. Authenticate with `Authorization: Bearer <token>`.",
    )
    app.state.svc = state
    app.state.hub = Hub(state)
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    for router in (parties.router, agreements.router, declarations.router, conflicts.router, stream.router,
                   notifications.router):
        app.include_router(router)
    app.include_router(hotline_routes.router)
    app.include_router(__import__("deconflict.service.routes.ledger", fromlist=["router"]).router)  # /v1/ledger
    app.include_router(__import__("deconflict.service.routes.tracks", fromlist=["router"]).router)  # issue 6
    app.include_router(__import__("deconflict.service.routes.tracks_stream", fromlist=["router"]).router)
    app.include_router(__import__("deconflict.web", fromlist=["router"]).router)  # the UI at / and /ui/
    app.include_router(__import__("deconflict.f3548", fromlist=["router"]).router)  # ASTM F3548 DSS, /dss/v1

    @app.get("/v1/health", tags=["health"], summary="Liveness (no authentication; reveals nothing)")
    def health() -> dict[str, Any]:
        with state.db.connect() as conn:
            conn.execute(sa.select(sa.func.count()).select_from(t.parties)).scalar_one()
        return {"status": "ok"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in BODY_MODELS:
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            components["Error"] = ERROR_SCHEMA
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    responses = operation.setdefault("responses", {})
                    responses.pop("422", None)
                    codes = ERROR_STATUSES if path != "/v1/health" else ()
                    for code in codes:
                        responses[code] = {"description": ERROR_STATUSES[code], "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            schema["paths"]["/v1/health"]["get"]["security"] = []  # a liveness probe needs no token
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
