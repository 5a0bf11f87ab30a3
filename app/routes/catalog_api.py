"""The catalog's JSON API, `/api/v1/...`: what scripts, a CLI or another frontend use.

The same domain functions as the pages (app.catalog.*), so the same visibility rules and the
same cache. Its OpenAPI schema is served at /api/v1/openapi.json (app.routes.openapi) and the
tests fuzz every operation against it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlmodel import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.analytics import queries as analytics_queries
from app.auth.guard import PUBLIC, requires
from app.cache import get_cache
from app.catalog import registry, service
from app.catalog.runnable import runnable_adapters
from app.catalog.schemas import SLUG_PATTERN, Actor, SearchParams
from app.catalog.search import facet_values, search_adapters
from app.db import session_scope
from app.models import Adapter, AdapterStatus
from app.routes.access import client_key, request_actor
from app.settings import get_settings
from app.storage import get_storage

PREFIX = "/api/v1"
_JSON_HEADERS = {"Cache-Control": "no-store"}


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=_JSON_HEADERS)


def ok(payload: Any, status: int = 200) -> Response:
    body = payload.model_dump_json() if hasattr(payload, "model_dump_json") else None
    if body is not None:
        return Response(body, status_code=status, media_type="application/json", headers=_JSON_HEADERS)
    return JSONResponse(payload, status_code=status, headers=_JSON_HEADERS)


def validation_error(exc: ValidationError) -> JSONResponse:
    problems = [
        {"field": ".".join(str(p) for p in e["loc"]) or "query", "message": e["msg"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    return error(422, "invalid request", problems=problems)


_PARAMS = set(SearchParams.model_fields)


@requires(PUBLIC, reason="search of published adapters; rate limited like every /api/ route")
async def list_adapters(request: Request) -> Response:
    query = {k: v for k, v in request.query_params.items() if k in _PARAMS}
    try:
        params = SearchParams.model_validate(query)
    except ValidationError as exc:
        return validation_error(exc)

    def run() -> Any:
        with session_scope() as session:
            return search_adapters(session, params)

    return ok(await run_in_threadpool(run))


@requires(PUBLIC, reason="filter values of the public catalog")
async def facets(request: Request) -> Response:
    def run() -> Any:
        with session_scope() as session:
            return facet_values(session)

    return ok(await run_in_threadpool(run))


def _detail(slug: str, actor: Actor | None) -> Any:
    with session_scope() as session:
        return service.with_file_urls(service.get_adapter(session, slug, actor=actor), get_storage())


@requires(PUBLIC, reason="adapter detail; drafts only for their author and admins (checked in the domain)")
async def adapter_detail(request: Request) -> Response:
    slug = request.path_params["slug"]
    actor = await run_in_threadpool(request_actor, request)
    try:
        return ok(await run_in_threadpool(_detail, slug, actor))
    except service.CatalogError as exc:
        return error(exc.status_code, exc.message)


@requires(PUBLIC, reason="file URLs of an adapter the caller may see (checked in the domain)")
async def adapter_files(request: Request) -> Response:
    """The newest version's files with their download URLs (local route, presigned or CDN)."""
    slug = request.path_params["slug"]
    actor = await run_in_threadpool(request_actor, request)
    try:
        detail = await run_in_threadpool(_detail, slug, actor)
    except service.CatalogError as exc:
        return error(exc.status_code, exc.message)
    files = detail.versions[0].files if detail.versions else []
    return ok(
        {
            "slug": detail.slug,
            "version": detail.versions[0].number if detail.versions else 0,
            "files": [f.model_dump(mode="json") for f in files],
        }
    )


@requires(PUBLIC, reason="counts a download once per client per day; no personal data kept")
async def record_download(request: Request) -> Response:
    """The chat page calls this when it loads an adapter: counted once per client per day."""
    slug = request.path_params["slug"]
    actor = await run_in_threadpool(request_actor, request)
    client = f"user:{actor.user_id}" if actor else client_key(request)

    def run() -> bool:
        with session_scope() as session:
            return service.record_download(session, slug=slug, client=client, actor=actor)

    try:
        counted = await run_in_threadpool(run)
    except service.CatalogError as exc:
        return error(exc.status_code, exc.message)
    return ok({"counted": counted})


PERFORMANCE_DAYS = 30
PERFORMANCE_TTL_S = 300
_PERFORMANCE_HEADERS = {"Cache-Control": f"public, max-age={PERFORMANCE_TTL_S}"}


def _performance(slug: str) -> bytes | None:
    """The public speed figures of a published adapter as JSON, or None (no such published adapter).

    Computed from the daily adapter x vendor rollups, cached for PERFORMANCE_TTL_S (the figures
    are 30-day medians: a few minutes old is as good as fresh). Vendors below the thresholds are
    left out entirely, so the answer never says how few people used a vendor."""
    if not SLUG_PATTERN.match(slug):
        return None
    settings = get_settings()
    cache, key = get_cache(), f"analytics:perf:{slug}"
    with session_scope() as session:
        status = session.exec(select(Adapter.status).where(Adapter.slug == slug)).first()
        if status != AdapterStatus.published.value:
            return None
        cached = cache.get(key)
        if cached is not None:
            return cached
        facts = analytics_queries.performance_facts(
            session,
            adapter_id=slug,
            min_samples=settings.analytics_min_samples,
            min_sessions=settings.analytics_min_sessions,
            days=PERFORMANCE_DAYS,
        )
    body = json.dumps(
        {
            "slug": slug,
            "days": PERFORMANCE_DAYS,
            "min_samples": settings.analytics_min_samples,
            "min_sessions": settings.analytics_min_sessions,
            "vendors": [
                {
                    "gpu_vendor": fact.gpu_vendor,
                    "median_decode_tokens_per_s": round(fact.median_decode_tps, 1),
                    "samples": fact.samples,
                }
                for fact in facts
            ],
        },
        separators=(",", ":"),
    ).encode()
    cache.set(key, body, ttl=PERFORMANCE_TTL_S)
    return body


@requires(PUBLIC, reason="aggregate decode speed per GPU vendor of a published adapter; above k-anonymity thresholds")
async def adapter_performance(request: Request) -> Response:
    """Median decode tokens/s per GPU vendor: the adapter page picks the visitor's vendor in the
    browser, so the vendor never reaches the server."""
    slug = request.path_params["slug"]
    body = await run_in_threadpool(_performance, slug)
    if body is None:
        return error(404, f"no published adapter '{slug[:80]}'")
    return Response(body, media_type="application/json", headers=_PERFORMANCE_HEADERS)


@requires(PUBLIC, reason="the registered base models are what every visitor downloads to chat")
async def base_models(request: Request) -> Response:
    def run() -> Any:
        with session_scope() as session:
            return [m.model_dump(mode="json") for m in registry.list_base_models(session, storage=get_storage())]

    return ok({"items": await run_in_threadpool(run)})


@requires(PUBLIC, reason="one registered base model entry")
async def base_model(request: Request) -> Response:
    name = request.path_params["name"]

    def run() -> Any:
        with session_scope() as session:
            return registry.get_base_model(session, name=name, storage=get_storage())

    found = await run_in_threadpool(run)
    if found is None or not found.is_active:
        return error(404, f"no base model '{name[:80]}'")
    return ok(found)


@requires(PUBLIC, reason="published adapters for one active base model, with their runtime files")
async def base_model_adapters(request: Request) -> Response:
    """What the chat page loads: one answer instead of a search and a detail request per adapter."""
    name = request.path_params["name"]

    def run() -> Any:
        with session_scope() as session:
            storage = get_storage()
            base = registry.get_base_model(session, name=name, storage=storage)
            if base is None or not base.is_active:
                return None
            return runnable_adapters(session, base=base, storage=storage)

    found = await run_in_threadpool(run)
    if found is None:
        return error(404, f"no base model '{name[:80]}'")
    return ok(found)


@requires(PUBLIC, reason="the published API schema")
async def openapi_json(request: Request) -> Response:
    from app.routes.openapi import openapi_document

    return JSONResponse(openapi_document(), headers={"Cache-Control": "public, max-age=300"})


def catalog_api_routes() -> list[Route]:
    return [
        Route(f"{PREFIX}/openapi.json", openapi_json, methods=["GET"], name="api_openapi"),
        Route(f"{PREFIX}/adapters", list_adapters, methods=["GET"], name="api_adapters"),
        Route(f"{PREFIX}/facets", facets, methods=["GET"], name="api_facets"),
        Route(f"{PREFIX}/adapters/{{slug}}", adapter_detail, methods=["GET"], name="api_adapter"),
        Route(f"{PREFIX}/adapters/{{slug}}/files", adapter_files, methods=["GET"], name="api_adapter_files"),
        Route(f"{PREFIX}/adapters/{{slug}}/downloads", record_download, methods=["POST"], name="api_download"),
        Route(f"{PREFIX}/adapters/{{slug}}/performance", adapter_performance, methods=["GET"], name="api_performance"),
        Route(f"{PREFIX}/base-models", base_models, methods=["GET"], name="api_base_models"),
        Route(f"{PREFIX}/base-models/{{name}}", base_model, methods=["GET"], name="api_base_model"),
        Route(
            f"{PREFIX}/base-models/{{name}}/adapters",
            base_model_adapters,
            methods=["GET"],
            name="api_base_model_adapters",
        ),
    ]
