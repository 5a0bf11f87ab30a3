"""`/files/{sha256}`: delivers stored files (LoRA adapters, base models) to browsers.

The key is the content's sha256, so a URL's bytes never change: responses are cacheable
forever (`immutable`) and the ETag is the digest itself. `Range` (206, suffix ranges, 416) and
HEAD come from Starlette's FileResponse. Never compressed, always with Content-Length: the
MediaPipe runtime fails on gzip-encoded or length-less LoRA responses (mediapipe-web.md §5).
With the S3 backend the route redirects to a presigned URL, so bytes bypass the app.
Files of draft or removed adapters go only to their author and admins (app.catalog.access);
others get the same 404 as for a missing file.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.analytics.lifecycle import current as analytics_running
from app.analytics.lifecycle import note_server_event
from app.auth.guard import PUBLIC, requires
from app.catalog.access import FileOwners, allowed, file_info
from app.catalog.schemas import Actor
from app.db import session_scope
from app.routes.access import request_actor
from app.storage import ObjectNotFoundError, get_storage, is_key

ROUTE = "/files/{key}"
IMMUTABLE = "public, max-age=31536000, immutable"
_COMMON = {
    "Cache-Control": IMMUTABLE,
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges, ETag",
}


class _BigChunkFileResponse(FileResponse):
    # 64 KiB (Starlette's default) costs a thread hop per chunk; 1 MiB keeps a download near disk speed.
    chunk_size = 1024 * 1024


def _etag(key: str) -> str:
    return f'"{key}"'


def _none_match(header: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison, a list of tags or `*`."""
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def _not_found() -> Response:
    return JSONResponse({"error": "file not found"}, status_code=404, headers={"Cache-Control": "no-store"})


@requires(
    PUBLIC,
    reason="content-addressed files; those of drafts and removed adapters only for their author and admins (app.catalog.access)",
)
async def serve_file(request: Request) -> Response:
    key = request.path_params["key"]
    if not is_key(key):
        return _not_found()
    info, actor = await run_in_threadpool(_access, request, key)
    if not allowed(info, actor):
        return _not_found()
    storage = get_storage()
    path = storage.local_path(key)
    if path is None:
        try:
            size = (await run_in_threadpool(storage.stat, key)).size  # a network call for S3: off the event loop
        except ObjectNotFoundError:
            return _not_found()
        await _count_download(request, info, actor, size)
        url = await run_in_threadpool(storage.url_for, key)
        # The presigned URL expires soon: the redirect itself must not be cached.
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    try:
        stat_result = path.stat()
    except FileNotFoundError:
        return _not_found()
    etag = _etag(key)
    headers = {**_COMMON, "ETag": etag}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _none_match(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    await _count_download(request, info, actor, stat_result.st_size)
    return _BigChunkFileResponse(path, media_type="application/octet-stream", headers=headers, stat_result=stat_result)


def _access(request: Request, key: str) -> tuple[FileOwners, Actor | None]:
    with session_scope() as session:
        return file_info(session, key=key), request_actor(request)


def _starts_a_download(request: Request) -> bool:
    """A GET of the whole file or its first bytes: resumed or chunked ranges are the same download."""
    if request.method != "GET":
        return False
    ranges = request.headers.get("range", "").replace(" ", "").lower()
    return not ranges or ranges.startswith("bytes=0-")


async def _count_download(request: Request, info: FileOwners, actor: Actor | None, size: int) -> None:
    """A file_download analytics event for LoRA and base-model files (not the runtime's own)."""
    if info.kind is None or analytics_running() is None or not _starts_a_download(request):
        return
    event = {"type": "file_download", "file_kind": info.kind, "bytes": size}
    if info.adapter_slug:
        event["adapter_id"] = info.adapter_slug
    user_id = actor.user_id if actor else None
    await run_in_threadpool(note_server_event, event, user_id=user_id)


def file_routes() -> list[Route]:
    return [Route(ROUTE, serve_file, methods=["GET", "HEAD"], name="files")]
