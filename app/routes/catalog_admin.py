"""Admin JSON routes for resumable base-model uploads (the admin page's uploader uses them).

POST   /api/v1/admin/base-model-uploads                 start: {name, title, architecture, size, sha256?}
GET    /api/v1/admin/base-model-uploads/{id}            where it stands: {received, expected_size}
PUT    /api/v1/admin/base-model-uploads/{id}?offset=N   append raw bytes at N (409 + received if N is wrong)
POST   /api/v1/admin/base-model-uploads/{id}/complete   check, store, register
DELETE /api/v1/admin/base-model-uploads/{id}            abandon

Chunks are at most 64 MiB and are read with that limit before anything is written.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.guard import requires
from app.catalog import registry
from app.catalog.schemas import Actor
from app.db import session_scope
from app.models import BaseModelUpload, Role
from app.routes.access import request_actor
from app.routes.catalog_api import PREFIX, error, ok
from app.storage import get_storage

UPLOADS = f"{PREFIX}/admin/base-model-uploads"
MAX_JSON = 16 * 1024


def _state(upload: BaseModelUpload) -> dict[str, Any]:
    return {"id": upload.id, "received": upload.received, "expected_size": upload.expected_size, "name": upload.name}


async def _admin(request: Request) -> Actor | Response:
    actor = await run_in_threadpool(request_actor, request)
    if actor is None:
        return error(401, "Sign in to continue.")
    if not actor.is_admin:
        return error(403, "You do not have permission to do this.")
    return actor


async def _read_body(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and (not declared.isdigit() or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


@requires(Role.admin)
async def start_upload(request: Request) -> Response:
    actor = await _admin(request)
    if isinstance(actor, Response):
        return actor
    raw = await _read_body(request, MAX_JSON)
    try:
        data = json.loads(raw or b"{}") if raw is not None else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return error(400, "send a JSON object")

    def run() -> dict[str, Any]:
        with session_scope() as session:
            upload = registry.start_upload(
                session,
                storage=get_storage(),
                actor=actor,
                name=str(data.get("name") or ""),
                title=str(data.get("title") or ""),
                architecture=str(data.get("architecture") or "gemma2-2b"),
                license_note=str(data.get("license_note") or ""),
                size=int(data.get("size") or 0),
                expected_sha256=(str(data["sha256"]) if data.get("sha256") else None),
            )
            return _state(upload)

    try:
        return ok(await run_in_threadpool(run), status=201)
    except (registry.BaseModelError, ValueError) as exc:
        return error(getattr(exc, "status_code", 400), str(exc))


@requires(Role.admin)
async def upload_status(request: Request) -> Response:
    actor = await _admin(request)
    if isinstance(actor, Response):
        return actor

    def run() -> dict[str, Any]:
        with session_scope() as session:
            return _state(registry.get_upload(session, upload_id=request.path_params["upload_id"], actor=actor))

    try:
        return ok(await run_in_threadpool(run))
    except registry.BaseModelError as exc:
        return error(404, exc.message)


@requires(Role.admin)
async def append(request: Request) -> Response:
    actor = await _admin(request)
    if isinstance(actor, Response):
        return actor
    offset_text = request.query_params.get("offset", "")
    if not offset_text.isdigit():
        return error(400, "give ?offset=N, the byte this chunk starts at")
    data = await _read_body(request, registry.CHUNK_LIMIT)
    if data is None:
        return error(413, f"chunks are at most {registry.CHUNK_LIMIT:,} bytes")

    def run() -> dict[str, Any]:
        with session_scope() as session:
            upload = registry.append_chunk(
                session,
                upload_id=request.path_params["upload_id"],
                offset=int(offset_text),
                data=data,
                storage=get_storage(),
                actor=actor,
            )
            return _state(upload)

    try:
        return ok(await run_in_threadpool(run))
    except registry.UploadOffsetError as exc:
        return error(409, exc.message, received=exc.expected)
    except registry.BaseModelError as exc:
        return error(exc.status_code, exc.message)


@requires(Role.admin)
async def complete(request: Request) -> Response:
    actor = await _admin(request)
    if isinstance(actor, Response):
        return actor

    def run() -> Any:
        with session_scope() as session:
            return registry.finish_upload(
                session, upload_id=request.path_params["upload_id"], storage=get_storage(), actor=actor
            )

    try:
        return ok(await run_in_threadpool(run), status=201)
    except registry.BaseModelError as exc:
        return error(exc.status_code, exc.message)


@requires(Role.admin)
async def cancel(request: Request) -> Response:
    actor = await _admin(request)
    if isinstance(actor, Response):
        return actor

    def run() -> None:
        with session_scope() as session:
            registry.cancel_upload(
                session, upload_id=request.path_params["upload_id"], storage=get_storage(), actor=actor
            )

    try:
        await run_in_threadpool(run)
    except registry.BaseModelError as exc:
        return error(404, exc.message)
    return ok({"ok": True})


def catalog_admin_routes() -> list[Route]:
    one = UPLOADS + "/{upload_id}"
    return [
        Route(UPLOADS, start_upload, methods=["POST"], name="api_base_upload_start"),
        Route(one, upload_status, methods=["GET"], name="api_base_upload_status"),
        Route(one, append, methods=["PUT"], name="api_base_upload_append"),
        Route(one, cancel, methods=["DELETE"], name="api_base_upload_cancel"),
        Route(one + "/complete", complete, methods=["POST"], name="api_base_upload_complete"),
    ]
