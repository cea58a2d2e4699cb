"""Every exception Deconflict raises, in one tree.

Each error names what was wrong (the field, when there is one) and why, so a user can fix the input.
Errors the service can return carry their HTTP status; one handler maps them all.

    DeconflictError
    ├── InvalidInput (ValueError)                 422: the request itself is wrong
    │   ├── MalformedRequest                       400: not JSON, wrong content type, missing header
    │   ├── PreconditionRequired                   428: a write must name the version it replaces
    │   ├── InvalidVolume                          a Volume4D breaks a rule (geometry, altitude, time, limits)
    │   └── InvalidDeclaration                     a declaration breaks a rule (kind, states, volumes)
    ├── NotAuthenticated                           401: no valid credentials
    ├── Forbidden (PermissionError)                403: the caller may not do this
    ├── NotFound (LookupError)                     404: no such thing, or not visible to the caller
    ├── Conflict                                   409: the write clashes with current state
    │   ├── StaleVersion                           optimistic concurrency: the version presented is not current
    │   └── Blocked                                a `block` policy refused the declaration (`conflicts`: why)
    ├── ServiceUnavailable                         503: the service cannot be reached or is not answering
    └── UnknownEntity (KeyError)                   an id unknown to an in-memory engine
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Blocked",
    "Conflict",
    "DeconflictError",
    "Forbidden",
    "InvalidDeclaration",
    "InvalidInput",
    "InvalidVolume",
    "MalformedRequest",
    "NotAuthenticated",
    "NotFound",
    "PreconditionRequired",
    "ServiceUnavailable",
    "StaleVersion",
    "UnknownEntity",
]


class DeconflictError(Exception):
    """Root of every Deconflict error."""

    status_code: int = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class InvalidInput(DeconflictError, ValueError):
    """The input is malformed or breaks a rule; `field` names the offending part (dotted path)."""

    status_code = 422


class MalformedRequest(InvalidInput):
    """The request cannot be read at all: not JSON, the wrong content type, a required header missing."""

    status_code = 400


class PreconditionRequired(InvalidInput):
    """A write that must name the version it replaces (If-Match) did not."""

    status_code = 428


class InvalidVolume(InvalidInput):
    """A Volume4D is invalid: bad geometry, altitude band, time window, or beyond configured limits."""


class InvalidDeclaration(InvalidInput):
    """A declaration is invalid as a whole (kind, activation, number of volumes)."""


class NotAuthenticated(DeconflictError):
    """No valid credentials were presented."""

    status_code = 401


class Forbidden(DeconflictError, PermissionError):
    """The caller is authenticated but may not do this."""

    status_code = 403


class NotFound(DeconflictError, LookupError):
    """No such entity, or none the caller may see (we never reveal which)."""

    status_code = 404


class Conflict(DeconflictError):
    """The write clashes with the current state."""

    status_code = 409


class StaleVersion(Conflict):
    """The version presented is not the current one; re-read and retry."""


class Blocked(Conflict):
    """An agreement with policy `block` refused the declaration; `conflicts` are the reasons the caller may see."""

    def __init__(
        self, message: str, *, field: str | None = None, conflicts: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.conflicts: list[dict[str, Any]] = list(conflicts) if conflicts is not None else []


class ServiceUnavailable(DeconflictError):
    """The service could not be reached, timed out, or answered that it is unavailable."""

    status_code = 503


class UnknownEntity(DeconflictError, KeyError):
    """An id the engine does not hold."""

    status_code = 404

    def __str__(self) -> str:  # KeyError would repr() the message
        return Exception.__str__(self)
