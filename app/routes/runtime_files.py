"""Serves the in-browser engine's own files: the MediaPipe wasm runtime and the demo models.

The app never points a browser at a third-party CDN: these routes make it work offline and
under a strict Content-Security-Policy. Files are served uncompressed with Content-Length and
Range support (the runtime needs both).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from app import runtime_assets
from app.auth.guard import PUBLIC, requires
from app.demo_models import demo_model_index as model_index
from app.settings import get_settings

WASM_FILES = frozenset(
    f"genai_wasm{variant}_internal.{ext}" for variant in ("", "_nosimd", "_module") for ext in ("js", "wasm")
)
# The package's ES module build, for the engine worker (it loads the engine unbundled).
MODULE_FILE = "genai_bundle.mjs"
_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,80}\.bin$")
_PUBLIC_HEADERS = {"Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}


def _not_found(what: str) -> Response:
    return JSONResponse({"error": f"{what} not found"}, status_code=404, headers=_PUBLIC_HEADERS)


@requires(PUBLIC, reason="the engine's runtime files are public, like any script")
async def wasm_file(request: Request) -> Response:
    version, name = request.path_params["version"], request.path_params["name"]
    if version != runtime_assets.MEDIAPIPE_VERSION or name not in WASM_FILES | {MODULE_FILE}:
        return _not_found("runtime file")
    directory = runtime_assets.wasm_dir(get_settings())
    if directory is None:
        return JSONResponse(
            {"error": "MediaPipe runtime files are not installed; run the set-up command"},
            status_code=503,
        )
    media = "application/wasm" if name.endswith(".wasm") else "text/javascript"
    headers = {**_PUBLIC_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
    path = directory / name
    if name == MODULE_FILE and not path.is_file():
        path = directory.parent / name  # the npm package keeps it one level up from wasm/
    if not path.is_file():
        return _not_found("runtime file")
    return FileResponse(path, media_type=media, headers=headers)


@requires(PUBLIC, reason="the built-in demo models are public test data")
async def demo_model(request: Request) -> Response:
    name = request.path_params["name"]
    if not _MODEL_NAME.match(name):
        return _not_found("model")
    path: Path = runtime_assets.demo_models_dir(get_settings()) / name
    if not path.is_file():
        return _not_found("model")
    headers = {**_PUBLIC_HEADERS, "Cache-Control": "public, max-age=3600"}
    return FileResponse(path, media_type="application/octet-stream", headers=headers)


@requires(PUBLIC, reason="the demo models' names, sizes and digests are public test data")
async def demo_model_index(request: Request) -> Response:
    directory = runtime_assets.demo_models_dir(get_settings())
    entries = await asyncio.to_thread(model_index, directory)
    return JSONResponse({"models": entries}, headers={"Cache-Control": "no-cache"})


def runtime_routes() -> list[Route]:
    return [
        Route("/runtime/models/index.json", demo_model_index, methods=["GET", "HEAD"]),
        Route("/runtime/mediapipe/{version}/{name}", wasm_file, methods=["GET", "HEAD"]),
        Route("/runtime/models/{name}", demo_model, methods=["GET", "HEAD"]),
    ]
