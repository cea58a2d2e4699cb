"""Request bodies, parsed strictly from the raw JSON (no coercion of "12" to 12, unknown fields refused).

FastAPI validates bodies in Python mode, where strict pydantic would refuse RFC 3339 strings for datetimes; we
parse the bytes in JSON mode instead and publish the same schemas in the OpenAPI description (`openapi_body`).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..core.model import Activation, DeclarationKind, Volume4D
from ..core.protocol import ConflictPolicy, Disclosure
from ..errors import InvalidInput, MalformedRequest

__all__ = [
    "AgreementIn",
    "AreaQueryIn",
    "DeclarationIn",
    "KeyIn",
    "WebhookIn",
    "PartyIn",
    "openapi_body",
    "parse_body",
    "validate_json",
]

M = TypeVar("M", bound=BaseModel)
MAX_VOLUMES = 100
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Text = Annotated[str, StringConstraints(max_length=200)]
Ed25519Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$"),
                       Field(description="Ed25519 public key: 32 bytes in base64.")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class PartyIn(_Strict):
    """An organisation that declares and is notified. `name`: lower-case, digits, '-' or '_'."""

    name: Name
    display_name: Text = ""
    public_key: Ed25519Key | None = None


class KeyIn(_Strict):
    public_key: Ed25519Key


class WebhookIn(_Strict):
    """Where to post the party's notifications (http or https); the response carries the signing secret once."""

    url: Annotated[str, StringConstraints(min_length=8, max_length=2000, pattern=r"^https?://[^\s]+$")]


class MinimaIn(_Strict):
    lateral_m: float = Field(ge=0, le=100_000)
    vertical_m: float = Field(ge=0, le=10_000)
    time_s: float = Field(ge=0, le=86_400)


class AgreementIn(_Strict):
    """The mechanism between two or more parties (named by party name)."""

    name: Text
    parties: list[Name] = Field(min_length=2, max_length=64)
    minima: MinimaIn
    disclosure: Disclosure
    policy: ConflictPolicy
    ack_deadline_s: float = Field(gt=0, le=7 * 86_400)
    min_notice_s: dict[DeclarationKind, Annotated[float, Field(ge=0, le=30 * 86_400)]] = Field(default_factory=dict)
    escalation_contacts: list[Text] = Field(default_factory=list, max_length=32)


class DeclarationIn(_Strict):
    """What a party declares: a kind and one or more 4D volumes (the F3548 Volume4D shape)."""

    kind: DeclarationKind
    volumes: list[Volume4D] = Field(min_length=1, max_length=MAX_VOLUMES)
    activation: Activation = Activation.ALWAYS
    title: Text = ""
    extra: dict[Annotated[str, StringConstraints(max_length=64)], Text] = Field(default_factory=dict, max_length=32)


class AreaQueryIn(_Strict):
    """Declarations visible to the caller that share a point with `area`."""

    area: Volume4D
    kind: DeclarationKind | None = None


class CancelIn(_Strict):
    reason: Text = ""


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


async def parse_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as `model`, or InvalidInput naming the first offending field."""
    raw = await request.body()
    if request.headers.get("content-type", "application/json").split(";")[0].strip() != "application/json":
        raise MalformedRequest("the body must be application/json", field="content-type")
    return validate_json(raw, model)


def validate_json(raw: bytes | str, model: type[M]) -> M:
    """JSON text as `model` (a body, or a WebSocket message), or InvalidInput naming the first offending field."""
    try:
        return model.model_validate_json(raw or b"")
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            raise MalformedRequest(f"not valid JSON: {first.get('ctx', {}).get('error', first['msg'])}",
                                   field="body") from None
        raise InvalidInput(first["msg"], field=_loc(tuple(first["loc"]))) from None


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` documenting `model` as the JSON request body (its schema goes to components; see app)."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def strict_query(request: Request) -> None:
    """Refuse query parameters the route does not define, or repeated ones (FastAPI dependency)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    known: set[str] = set()
    stack = [dependant] if dependant is not None else []
    while stack:
        dep = stack.pop()
        known.update(p.alias for p in dep.query_params)
        stack.extend(dep.dependencies)
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key not in known:
            raise InvalidInput("unknown query parameter", field=key or "query")
        if key in seen:
            raise InvalidInput("given more than once", field=key)
        seen.add(key)
