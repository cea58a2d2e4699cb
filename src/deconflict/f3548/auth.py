"""F3548 access tokens: RS256 JWTs checked against configured public keys, and the scopes each operation needs.

PyJWT is not a dependency: RS256 is one well-defined construction (RFC 7515/7518: base64url header, payload and
signature; RSASSA-PKCS1-v1_5 with SHA-256 over `header.payload`), which `cryptography` verifies directly. Only
RS256 is accepted (`alg` must say so; `none` and HMAC algorithms are refused outright).

Claims: `aud` (a string or a list) must name one of the configured audiences; `sub` (the USS: the manager of
what it writes) and `iss` must be non-empty strings; `exp` must be present, in the future and at most
`max_token_lifetime_s` ahead; `nbf`, when present, must not be in the future (with `leeway_s` either way).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from uas_standards.astm.f3548.v21.api import OperationID
from uas_standards.astm.f3548.v21.constants import Scope

from ..errors import Forbidden, InvalidInput, NotAuthenticated

__all__ = ["Caller", "F3548Config", "SECURITY", "authorize", "config_from_env", "verify_token"]

ENV_KEYS = "DECONFLICT_F3548_PUBLIC_KEYS"  #: PEM files, separated by os.pathsep
ENV_AUDIENCES = "DECONFLICT_F3548_AUDIENCES"  #: comma-separated
ENV_ALLOW_HTTP = "DECONFLICT_F3548_ALLOW_HTTP"  #: "1": http:// base URLs accepted (test mode)


@dataclass(frozen=True)
class F3548Config:
    """How the DSS surface checks tokens and inputs. With no keys every token is refused (401)."""

    public_keys: tuple[rsa.RSAPublicKey, ...] = ()
    audiences: frozenset[str] = frozenset()
    allow_http: bool = False  #: test mode: uss_base_url may be http://
    max_token_lifetime_s: float = 4 * 3600.0  #: `exp` at most this far ahead
    leeway_s: float = 60.0
    max_area_km2: float = 2500.0
    max_duration_s: float = 24 * 3600.0  #: one extent or subscription
    horizon_days: float = 30.0  #: OiMaxPlanHorizonDays
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def load_keys(pems: Iterable[bytes]) -> tuple[rsa.RSAPublicKey, ...]:
        keys = []
        for pem in pems:
            key = serialization.load_pem_public_key(pem)
            if not isinstance(key, rsa.RSAPublicKey):
                raise InvalidInput("an F3548 token key must be an RSA public key", field="f3548-public-key")
            keys.append(key)
        return tuple(keys)


def config_from_env(environ: dict[str, str] | None = None) -> F3548Config:
    env = os.environ if environ is None else environ
    paths = [p for p in env.get(ENV_KEYS, "").split(os.pathsep) if p.strip()]
    keys = F3548Config.load_keys(Path(p).read_bytes() for p in paths)
    audiences = frozenset(a.strip() for a in env.get(ENV_AUDIENCES, "").split(",") if a.strip())
    return F3548Config(public_keys=keys, audiences=audiences, allow_http=env.get(ENV_ALLOW_HTTP, "") == "1")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the USS (`sub`) and the scopes its token grants."""

    sub: str
    issuer: str
    scopes: frozenset[str]


def _b64(part: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise NotAuthenticated(f"the token's {what} is not base64url", field="authorization") from None


def verify_token(token: str, config: F3548Config, now: datetime) -> Caller:
    """The caller a bearer token stands for, or NotAuthenticated saying why not."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise NotAuthenticated("the token is not a signed JWT (header.payload.signature)", field="authorization")
    try:
        header = json.loads(_b64(parts[0], "header"))
        claims = json.loads(_b64(parts[1], "payload"))
    except ValueError:
        raise NotAuthenticated("the token's header or payload is not JSON", field="authorization") from None
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        raise NotAuthenticated("only RS256 tokens are accepted", field="authorization")
    if not isinstance(claims, dict):
        raise NotAuthenticated("the token's payload is not a JSON object", field="authorization")
    signature = _b64(parts[2], "signature")
    signed = f"{parts[0]}.{parts[1]}".encode("ascii")
    for key in config.public_keys:
        try:
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            break
        except InvalidSignature:
            continue
    else:
        raise NotAuthenticated("the token's signature does not verify against any configured key",
                               field="authorization")
    t = now.timestamp()
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise NotAuthenticated("the token has no numeric exp", field="authorization")
    if exp < t - config.leeway_s:
        raise NotAuthenticated("the token has expired", field="authorization")
    if exp > t + config.max_token_lifetime_s + config.leeway_s:
        raise NotAuthenticated("the token's exp is too far in the future", field="authorization")
    nbf = claims.get("nbf")
    if nbf is not None and (isinstance(nbf, bool) or not isinstance(nbf, (int, float)) or nbf > t + config.leeway_s):
        raise NotAuthenticated("the token is not valid yet (nbf)", field="authorization")
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(a, str) and a in config.audiences for a in auds):
        raise NotAuthenticated("the token's aud is not an audience of this DSS", field="authorization")
    sub, iss = claims.get("sub"), claims.get("iss")
    if not isinstance(sub, str) or not sub.strip():
        raise NotAuthenticated("the token has no sub", field="authorization")
    if not isinstance(iss, str) or not iss.strip():
        raise NotAuthenticated("the token has no iss", field="authorization")
    scope = claims.get("scope", "")
    scopes = scope.split() if isinstance(scope, str) else [s for s in scope if isinstance(s, str)] \
        if isinstance(scope, list) else []
    return Caller(sub=sub, issuer=iss, scopes=frozenset(scopes))


_S = Scope.StrategicCoordination.value
_CM = Scope.ConstraintManagement.value
_CP = Scope.ConstraintProcessing.value
_SA = Scope.ConformanceMonitoringForSituationalAwareness.value
_AA = Scope.AvailabilityArbitration.value
_O = OperationID

#: Per operation, the alternatives (any one set of scopes, all of it, suffices), as the F3548 OpenAPI states.
SECURITY: dict[OperationID, tuple[frozenset[str], ...]] = {
    _O.QueryOperationalIntentReferences: (frozenset({_S}), frozenset({_SA})),
    _O.GetOperationalIntentReference: (frozenset({_S}), frozenset({_SA})),
    _O.CreateOperationalIntentReference: (frozenset({_S}), frozenset({_S, _CP}), frozenset({_SA})),
    _O.UpdateOperationalIntentReference: (frozenset({_S}), frozenset({_S, _CP}), frozenset({_SA})),
    _O.DeleteOperationalIntentReference: (frozenset({_S}), frozenset({_SA})),
    _O.QueryConstraintReferences: (frozenset({_CM}), frozenset({_CP})),
    _O.GetConstraintReference: (frozenset({_CM}), frozenset({_CP})),
    _O.CreateConstraintReference: (frozenset({_CM}),),
    _O.UpdateConstraintReference: (frozenset({_CM}),),
    _O.DeleteConstraintReference: (frozenset({_CM}),),
    _O.QuerySubscriptions: (frozenset({_CP}), frozenset({_S})),
    _O.GetSubscription: (frozenset({_CP}), frozenset({_S})),
    _O.CreateSubscription: (frozenset({_CP}), frozenset({_S})),
    _O.UpdateSubscription: (frozenset({_CP}), frozenset({_S})),
    _O.DeleteSubscription: (frozenset({_CP}), frozenset({_S})),
    _O.MakeDssReport: (frozenset({_CM}), frozenset({_CP}), frozenset({_S}), frozenset({_SA}), frozenset({_AA})),
    _O.GetUssAvailability: (frozenset({_AA}), frozenset({_S}), frozenset({_SA})),
    _O.SetUssAvailability: (frozenset({_AA}),),
}


def authorize(authorization: str | None, operation: OperationID, config: F3548Config, now: datetime) -> Caller:
    """401 without a valid token; 403 when its scopes satisfy none of the operation's alternatives."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send 'Authorization: Bearer <access token>'", field="authorization")
    caller = verify_token(token.strip(), config, now)
    options = SECURITY[operation]
    if not any(option <= caller.scopes for option in options):
        wanted = " or ".join("+".join(sorted(o)) for o in options)
        raise Forbidden(f"{operation.value} needs the scope {wanted}", field="authorization")
    return caller


def has_scope(caller: Caller, scope: Scope) -> bool:
    return scope.value in caller.scopes


__all__ += ["has_scope"]
