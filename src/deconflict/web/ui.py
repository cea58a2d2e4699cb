"""Routes of the web UI: `/` redirects to `/ui/`; `/ui/` is the page; `/ui/static/...` our own files (plain ES
modules, CSS, the basemap); `/ui/vendor/leaflet/...` Leaflet as `npm ci` installed it into `node_modules`.

Nothing here is authenticated: the page holds no data; it calls the API with the token the user pastes.
When the browser libraries are not installed, `/ui/` answers with a page that says how to install them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

__all__ = ["STATIC", "leaflet_dir", "router"]

STATIC = Path(__file__).parent / "static"
OWN_FILES = {"app.js": "text/javascript", "common.js": "text/javascript", "declare.js": "text/javascript",
             "tracks.js": "text/javascript", "replay.js": "text/javascript", "app.css": "text/css",
             "basemap.json": "application/json"}
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml",
         ".map": "application/json"}
NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def leaflet_dir() -> Path | None:
    """Leaflet's `dist` folder: under $DECONFLICT_NODE_MODULES, else the nearest `node_modules` above this
    package (an editable install or a checkout), else under the working directory."""
    roots: list[Path] = []
    if env := os.environ.get("DECONFLICT_NODE_MODULES"):
        roots.append(Path(env))
    roots += [p / "node_modules" for p in Path(__file__).resolve().parents]
    roots.append(Path.cwd() / "node_modules")
    for root in roots:
        dist = root / "leaflet" / "dist"
        if (dist / "leaflet-src.esm.js").is_file():
            return dist.resolve()
    return None


MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Deconflict: UI not installed</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>The operations picture needs its browser libraries</h1>
<p>Leaflet was not found in <code>node_modules</code>. From the project's folder, run</p>
<pre>make setup</pre>
<p>(or <code>npm ci</code>), then reload this page. If the libraries live elsewhere, point
<code>DECONFLICT_NODE_MODULES</code> at that <code>node_modules</code> folder and restart the service.</p>
<p>The API itself works: see <a href="/docs">/docs</a>.</p>
</body></html>
"""


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui")
def ui_bare() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/")
def index() -> Response:
    if leaflet_dir() is None:
        return HTMLResponse(MISSING, status_code=503, headers=NO_CACHE)
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=NO_CACHE)


@router.get("/ui/static/{name}")
def own_file(name: str) -> Response:
    if name not in OWN_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(STATIC / name, media_type=OWN_FILES[name], headers=NO_CACHE)


@router.get("/ui/vendor/leaflet/{path:path}")
def leaflet_file(path: str) -> Response:
    dist = leaflet_dir()
    target = (dist / path).resolve() if dist is not None else None
    if dist is None or target is None or not target.is_relative_to(dist) or not target.is_file() \
            or target.suffix not in TYPES:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(target, media_type=TYPES[target.suffix], headers={"Cache-Control": "max-age=3600"})
