"""`deconflict serve`'s F3548 options: the DSS surface's token keys, audiences and test mode (issue 8).

`--f3548-public-key FILE` (repeatable): a PEM RSA public key that RS256 access tokens may be signed with;
`--f3548-audience AUD` (repeatable): an accepted `aud`; `--f3548-allow-http`: http:// base URLs accepted (test
mode, as the InterUSS prober needs). With none of them given the service reads the environment instead
(DECONFLICT_F3548_PUBLIC_KEYS, DECONFLICT_F3548_AUDIENCES, DECONFLICT_F3548_ALLOW_HTTP).
"""

from __future__ import annotations

from pathlib import Path

import typer

from .errors import InvalidInput
from .f3548.auth import F3548Config

__all__ = ["ALLOW_HTTP", "AUDIENCES", "PUBLIC_KEYS", "f3548_config"]

PUBLIC_KEYS = typer.Option(
    None, "--f3548-public-key", help="PEM RSA public key for F3548 (/dss/v1) access tokens; repeatable.")
AUDIENCES = typer.Option(None, "--f3548-audience", help="An accepted `aud` of F3548 access tokens; repeatable.")
ALLOW_HTTP = typer.Option(False, "--f3548-allow-http", help="F3548 test mode: accept http:// USS base URLs.")


def f3548_config(public_keys: list[Path] | None, audiences: list[str] | None, allow_http: bool
                 ) -> F3548Config | None:
    """The configuration these options give, or None when none was given (the environment then applies)."""
    keys, auds = list(public_keys or ()), [a.strip() for a in audiences or () if a.strip()]
    if not keys and not auds and not allow_http:
        return None
    if keys and not auds:
        raise InvalidInput("--f3548-public-key needs at least one --f3548-audience", field="--f3548-audience")
    pems = []
    for path in keys:
        try:
            pems.append(path.read_bytes())
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="--f3548-public-key") from None
    try:
        loaded = F3548Config.load_keys(pems)
    except InvalidInput:
        raise
    except ValueError as exc:
        raise InvalidInput(f"not a PEM public key: {exc}", field="--f3548-public-key") from None
    return F3548Config(public_keys=loaded, audiences=frozenset(auds), allow_http=allow_http)
