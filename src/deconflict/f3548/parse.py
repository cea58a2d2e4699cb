"""Strict parsing of F3548 bodies against the `uas_standards` models (their type hints are the schema).

`ImplicitDict.parse` alone is lenient: it keeps unknown keys and takes "12" where a number is due. Here every
key must be one the model declares (so the old camelCase bodies fail on their first key), every required field
must be there, and every value must have its JSON type: numbers are numbers (not booleans, not strings), enums
are among their values, times are RFC 3339. The first problem is raised as `BadRequest` naming the field path
(`extents[0].volume.outline_circle.radius.value`); then `ImplicitDict.parse` builds the typed object.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from implicitdict import ImplicitDict, StringBasedDateTime

from ..errors import MalformedRequest

__all__ = ["BadRequest", "parse_body", "check_value"]

T = TypeVar("T", bound=ImplicitDict)


class BadRequest(MalformedRequest):
    """400: the body does not follow the F3548 schema (the message names the field)."""


@cache
def _fields(model: type[ImplicitDict]) -> tuple[dict[str, Any], frozenset[str]]:
    hints = typing.get_type_hints(model)
    required = set()
    for name, hint in hints.items():
        if name.startswith("_"):
            continue
        if _optional(hint) is not None:
            continue
        if name in getattr(model, "__dict__", {}) or any(name in vars(b) for b in model.__mro__[1:]
                                                         if b is not ImplicitDict and b is not dict):
            continue
        required.add(name)
    return {k: v for k, v in hints.items() if not k.startswith("_")}, frozenset(required)


def _optional(hint: Any) -> Any | None:
    """X for `X | None`, else None."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
    return None


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def check_value(value: Any, hint: Any, where: str) -> None:
    """Raise BadRequest if `value` (decoded JSON) does not have the type `hint` strictly."""
    inner = _optional(hint)
    if inner is not None:
        if value is None:
            return
        hint = inner
    origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, list):
            raise BadRequest(f"{where or 'body'}: must be a list", field=where)
        (item,) = typing.get_args(hint)
        for i, v in enumerate(value):
            check_value(v, item, _path(where, i))
        return
    if isinstance(hint, type) and issubclass(hint, ImplicitDict):
        _check_object(value, hint, where)
        return
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = [m.value for m in hint]
        if value not in allowed or not isinstance(value, str):
            raise BadRequest(f"{where}: must be one of {', '.join(map(str, allowed))}", field=where)
        return
    if hint is StringBasedDateTime or (isinstance(hint, type) and issubclass(hint, StringBasedDateTime)):
        if not isinstance(value, str):
            raise BadRequest(f"{where}: must be an RFC 3339 time string", field=where)
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise BadRequest(f"{where}: {value!r} is not an RFC 3339 time", field=where) from None
        if parsed.tzinfo is None:
            raise BadRequest(f"{where}: an RFC 3339 time needs a zone (Z or an offset)", field=where)
        return
    if hint is bool:
        if not isinstance(value, bool):
            raise BadRequest(f"{where}: must be true or false", field=where)
        return
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequest(f"{where}: must be an integer", field=where)
        return
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadRequest(f"{where}: must be a number", field=where)
        return
    if hint is str:
        if not isinstance(value, str):
            raise BadRequest(f"{where}: must be a string", field=where)
        return
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise BadRequest(f"{where}: must be an object", field=where)
        return
    raise BadRequest(f"{where}: cannot check a value of type {hint!r}", field=where)


def _check_object(value: Any, model: type[ImplicitDict], where: str) -> None:
    if not isinstance(value, dict):
        raise BadRequest(f"{where or 'body'}: must be a JSON object ({model.__name__})", field=where or "body")
    hints, required = _fields(model)
    for key in value:
        if key not in hints:
            raise BadRequest(f"{_path(where, key)}: unknown field in {model.__name__}", field=_path(where, key))
    for key in sorted(required):
        if key not in value or value[key] is None:
            raise BadRequest(f"{_path(where, key)}: required field missing", field=_path(where, key))
    for key, v in value.items():
        check_value(v, hints[key], _path(where, key))


#: Top-level keys ignored (dropped before the strict check), per model: `old_version`, a field of the pre-1.0
#: drafts that the InterUSS prober still sends on every PUT and the reference DSS ignores (the version to update
#: is in the path, as the OVN or subscription version).
#: And `key` on constraint references: the drafts had one there; F3548-21 has no key rule for constraints. And
#: `notify_for_operations` on subscriptions, the drafts' name of `notify_for_operational_intents` (which the
#: prober sends beside it; only the standard's field counts).
IGNORED = {"PutOperationalIntentReferenceParameters": frozenset({"old_version"}),
           "PutConstraintReferenceParameters": frozenset({"old_version", "key"}),
           "PutSubscriptionParameters": frozenset({"old_version", "notify_for_operations"})}
_AVAILABILITY = {"unknown": "Unknown", "normal": "Normal", "down": "Down"}


def parse_body(raw: bytes, model: type[T]) -> T:
    """The JSON body as `model`, checked strictly; BadRequest naming the first offending field."""
    try:
        data = json.loads(raw or b"")
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", field="body") from None
    if isinstance(data, dict):
        for key in IGNORED.get(model.__name__, ()):
            data.pop(key, None)
        if model.__name__ == "SetUssAvailabilityStatusParameters" and isinstance(data.get("availability"), str):
            # case-insensitive, as the reference DSS (UssAvailabilityStateFromString); the prober sends "normal"
            data["availability"] = _AVAILABILITY.get(data["availability"].lower(), data["availability"])
    _check_object(data, model, "")
    try:
        return ImplicitDict.parse(data, model)
    except (ValueError, TypeError, KeyError) as exc:
        raise BadRequest(f"the body is not a valid {model.__name__}: {exc}", field="body") from None
