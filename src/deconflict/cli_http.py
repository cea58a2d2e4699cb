"""The one way CLI commands call a running service: bearer token, a clear error (never a traceback) when the
service cannot be reached or answers an error."""

from __future__ import annotations

from typing import Any

import httpx

from .errors import InvalidInput

__all__ = ["bearer", "error_message", "get_json"]


def error_message(r: httpx.Response) -> str:
    """The service's error message (its JSON `error.message`), else the start of the body."""
    try:
        return str(r.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return r.text[:200]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for `token`. One that cannot travel in a header (a space, a control or non-ASCII
    character, e.g. a stray CR from a token file) is refused naming --token without echoing it: the HTTP
    library's own error would print the header, token and all."""
    if not token or not (token.isascii() and token.isprintable()) or any(c.isspace() for c in token):
        raise InvalidInput("the token must be printable ASCII without spaces (a stray newline?)", field="--token")
    return {"Authorization": f"Bearer {token}"}


def get_json(url: str, token: str, path: str, params: dict[str, Any] | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
    """GET `path` of the service at `url` with the token; the JSON answer, or InvalidInput naming --url."""
    headers = bearer(token)
    try:
        r = httpx.get(url.rstrip("/") + path, params=params, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise InvalidInput(f"cannot reach {url}: {exc}", field="--url") from None
    if r.status_code != 200:
        raise InvalidInput(f"GET {path} answered {r.status_code}: {error_message(r)}", field="--url")
    body: dict[str, Any] = r.json()
    return body
