"""POST /api/v1/events: batches of browser analytics events.

Answers 202 with what was accepted and which events were rejected (by index, with reasons); the
events go to a queue and the request never waits on the database. 204 (nothing stored) when
analytics is off, the browser sends Do Not Track or Global Privacy Control, or the signed-in user
opted out. 413 for too many events or too many bytes (before or after gunzip), 415 for a body
that is not JSON or an unknown encoding, 503 when the writer is behind. 429 comes from the shared
JSON API limit (APIRateLimitMiddleware, RATE_LIMIT_API) that covers every /api/ route.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.analytics import lifecycle, privacy, wiring
from app.analytics.pipeline import Envelope, QueueFullError
from app.analytics.schema import BROWSER_BATCH, BROWSER_EVENT
from app.auth.guard import PUBLIC, requires
from app.settings import get_settings

EVENTS_PATH = "/api/v1/events"
_NO_STORE = {"Cache-Control": "no-store"}


class _TooLargeError(Exception):
    pass


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={**_NO_STORE, **headers})


def _not_collected(reason: str) -> Response:
    return Response(status_code=204, headers={**_NO_STORE, "Analytics-Status": reason})


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLargeError
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress with a ceiling on the output, so a gzip bomb costs at most `limit` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise _TooLargeError
    if not inflater.eof:
        raise zlib.error("truncated gzip stream")
    return out


def _reasons(exc: ValidationError) -> list[dict[str, str]]:
    reasons = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part) for part in error["loc"]]
        # loc starts with the union tag ("generation_finished", "ttft_ms"): report the field.
        field = "type" if error["type"].startswith("union_tag") or not loc else ".".join(loc[1:]) or loc[0]
        reasons.append({"field": field, "reason": error["msg"]})
    return reasons


def validate_events(items: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Accepted events (as dicts) and rejections ({index, errors}); one bad event spares the rest."""
    try:
        return BROWSER_BATCH.dump_python(BROWSER_BATCH.validate_python(items)), []
    except ValidationError:
        pass
    accepted, rejected = [], []
    for index, item in enumerate(items):
        try:
            accepted.append(BROWSER_EVENT.validate_python(item).model_dump())
        except ValidationError as exc:
            rejected.append({"index": index, "errors": _reasons(exc)})
    return accepted, rejected


@requires(PUBLIC, reason="browsers report usage and performance events (ids, counts, timings), signed in or not")
async def ingest_events(request: Request) -> Response:
    settings = get_settings()
    if not wiring.analytics_enabled():
        return _not_collected("disabled")
    declined = privacy.declined_by_headers(request.headers)
    if declined:
        return _not_collected(declined)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _error(415, "send application/json")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        return _error(415, "content-encoding must be gzip or identity")
    try:
        body = await _read_body(request, settings.analytics_max_body_bytes)
        if encoding == "gzip":
            body = _gunzip(body, settings.analytics_max_decompressed_bytes)
        elif len(body) > settings.analytics_max_decompressed_bytes:
            raise _TooLargeError
    except _TooLargeError:
        return _error(413, "batch too large")
    except zlib.error:
        return _error(400, "body is not valid gzip")
    except ClientDisconnect:
        return Response(status_code=400)
    try:
        payload = from_json(body)
    except ValueError:
        return _error(400, "body is not valid JSON")
    items = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        return _error(400, 'expected {"events": [ ... ]} with at least one event')
    if len(items) > settings.analytics_max_batch_events:
        return _error(413, f"at most {settings.analytics_max_batch_events} events per request")
    user_id = wiring.user_id_of(request)
    if user_id is not None and privacy.known_opted_out(user_id):
        return _not_collected("opted-out")
    accepted, rejected = validate_events(items)
    if accepted:
        pipeline = lifecycle.current()
        if pipeline is None:
            return _error(503, "analytics writer is not running", **{"Retry-After": "5"})
        try:
            pipeline.submit(Envelope(received_at=datetime.now(UTC), user_id=user_id, events=accepted))
        except QueueFullError:
            return _error(503, "analytics queue is full", **{"Retry-After": "5"})
    status = 202 if accepted else 422
    return JSONResponse({"accepted": len(accepted), "rejected": rejected}, status_code=status, headers=_NO_STORE)


def event_routes() -> list[Route]:
    return [Route(EVENTS_PATH, ingest_events, methods=["POST"])]
