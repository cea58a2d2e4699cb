"""The FastAPI application: routes, error handling, body limits, and the OpenAPI description."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import BaseModel

from .. import __version__
from ..store import schema as t
from ..store.database import migrate
from .bodies import AgreementIn, AreaQueryIn, CancelIn, DeclarationIn, KeyIn, PartyIn
from .errors import BodyLimit, install_error_handlers
from .routes import agreements, conflicts, declarations, parties
from .state import ServiceState

__all__ = ["create_app", "open_state"]

BODY_MODELS: tuple[type[BaseModel], ...] = (PartyIn, KeyIn, AgreementIn, DeclarationIn, AreaQueryIn, CancelIn)


def open_state(state: ServiceState) -> ServiceState:
    """Migrate the store and build this process's engine cache from it."""
    migrate(state.db)
    with state.db.connect() as conn:
        state.cache.rebuild(conn)
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
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    for router in (parties.router, agreements.router, declarations.router, conflicts.router):
        app.include_router(router)

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
            schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
