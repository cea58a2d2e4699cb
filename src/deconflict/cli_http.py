"""The one way CLI commands call a running service: bearer token, a clear error (never a traceback) when the
service cannot be reached or answers an error."""

from __future__ import annotations

from typing import Any

import httpx

from .errors import InvalidInput

__all__ = ["error_message", "get_json"]


def error_message(r: httpx.Response) -> str:
    """The service's error message (its JSON `error.message`), else the start of the body."""
    try:
        return str(r.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return r.text[:200]


def get_json(url: str, token: str, path: str, params: dict[str, Any] | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
    """GET `path` of the service at `url` with the token; the JSON answer, or InvalidInput naming --url."""
    try:
        r = httpx.get(url.rstrip("/") + path, params=params, headers={"Authorization": f"Bearer {token}"},
                      timeout=timeout)
    except httpx.HTTPError as exc:
        raise InvalidInput(f"cannot reach {url}: {exc}", field="--url") from None
    if r.status_code != 200:
        raise InvalidInput(f"GET {path} answered {r.status_code}: {error_message(r)}", field="--url")
    body: dict[str, Any] = r.json()
    return body
