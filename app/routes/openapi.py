"""The OpenAPI 3.1 document of `/api/v1`, built from the same pydantic models the API returns.

Written out by hand for the paths (a handful), generated for the bodies: a field added to a
model shows up in the schema, and the schemathesis tests catch any answer that disagrees.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel

from app.catalog.schemas import (
    LICENSES,
    SORTS,
    TASK_TYPES,
    AdapterDetail,
    AdapterFileOut,
    BaseModelOut,
    FacetValues,
    RunnableAdapters,
    SearchPage,
)

REF = "#/components/schemas/{model}"
SLUG = {"type": "string", "minLength": 1, "maxLength": 80}


def _schemas(*models: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF, mode="serialization")
        for name, sub in schema.pop("$defs", {}).items():
            out[name] = sub
        out[model.__name__] = schema
    return out


def _json(ref: str, description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


ERRORS = {
    "404": _json("Error", "Not found (or not visible to this caller)"),
    "429": _json("Error", "Too many requests"),
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


@functools.cache
def openapi_document() -> dict[str, Any]:
    components = _schemas(SearchPage, AdapterDetail, BaseModelOut, FacetValues, AdapterFileOut, RunnableAdapters)
    components["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "problems": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }
    components["AdapterFiles"] = {
        "type": "object",
        "required": ["slug", "version", "files"],
        "properties": {
            "slug": {"type": "string"},
            "version": {"type": "integer"},
            "files": {"type": "array", "items": {"$ref": "#/components/schemas/AdapterFileOut"}},
        },
    }
    components["BaseModelList"] = {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/BaseModelOut"}}},
    }
    components["DownloadResult"] = {
        "type": "object",
        "required": ["counted"],
        "properties": {
            "counted": {"type": "boolean", "description": "False when this client was already counted today"}
        },
    }
    components["AdapterPerformance"] = {
        "type": "object",
        "required": ["slug", "days", "min_samples", "min_sessions", "vendors"],
        "properties": {
            "slug": {"type": "string"},
            "days": {"type": "integer", "description": "The figures cover the last this many UTC days"},
            "min_samples": {"type": "integer", "description": "Generations a vendor needs before it is listed"},
            "min_sessions": {"type": "integer", "description": "Distinct chat sessions a vendor needs"},
            "vendors": {
                "type": "array",
                "description": "Only vendors with enough data; most samples first",
                "items": {
                    "type": "object",
                    "required": ["gpu_vendor", "median_decode_tokens_per_s", "samples"],
                    "properties": {
                        "gpu_vendor": {"type": "string", "description": "WebGPU adapter vendor, as in analytics"},
                        "median_decode_tokens_per_s": {"type": "number", "minimum": 0},
                        "samples": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
    }
    slug_param = {"name": "slug", "in": "path", "required": True, "schema": SLUG}
    search_params = [
        _query("q", {"type": "string", "maxLength": 200}, "Words to find in title, summary, tags and author name"),
        _query("tag", {"type": "string", "maxLength": 40}, "Only adapters with this tag"),
        _query("task", {"type": "string", "enum": ["", *TASK_TYPES]}, "Task type (empty: any)"),
        _query("license", {"type": "string", "enum": ["", *LICENSES]}, "License (empty: any)"),
        _query("rank", {"type": "integer", "minimum": 1, "maximum": 256}, "LoRA rank"),
        _query("sort", {"type": "string", "enum": list(SORTS), "default": "popular"}, "Order of results"),
        _query("page", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1}, "Page number"),
        _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 24}, "Results per page"),
    ]
    paths: dict[str, Any] = {
        "/api/v1/adapters": {
            "get": {
                "operationId": "searchAdapters",
                "summary": "Search and list published adapters",
                "parameters": search_params,
                "responses": {
                    "200": _json("SearchPage"),
                    "422": _json("Error", "Invalid query parameters"),
                    "429": ERRORS["429"],
                },
            }
        },
        "/api/v1/facets": {
            "get": {
                "operationId": "facets",
                "summary": "Values the filters can take (tags in use, task types, licenses, ranks)",
                "responses": {"200": _json("FacetValues"), "429": ERRORS["429"]},
            }
        },
        "/api/v1/adapters/{slug}": {
            "get": {
                "operationId": "getAdapter",
                "summary": "One adapter: model card, metadata, versions and file URLs",
                "parameters": [slug_param],
                "responses": {"200": _json("AdapterDetail"), **ERRORS},
            }
        },
        "/api/v1/adapters/{slug}/files": {
            "get": {
                "operationId": "getAdapterFiles",
                "summary": "The newest version's files and where to download them",
                "parameters": [slug_param],
                "responses": {"200": _json("AdapterFiles"), **ERRORS},
            }
        },
        "/api/v1/adapters/{slug}/downloads": {
            "post": {
                "operationId": "recordDownload",
                "summary": "Count a download of the adapter (once per client per day)",
                "parameters": [slug_param],
                "responses": {"200": _json("DownloadResult"), **ERRORS, "403": _json("Error", "Cross-site request")},
            }
        },
        "/api/v1/adapters/{slug}/performance": {
            "get": {
                "operationId": "getAdapterPerformance",
                "summary": "Typical decode speed (median tokens/s, last 30 days) per GPU vendor of a published adapter",
                "parameters": [slug_param],
                "responses": {"200": _json("AdapterPerformance"), **ERRORS},
            }
        },
        "/api/v1/base-models": {
            "get": {
                "operationId": "listBaseModels",
                "summary": "Registered, active base models and their file URLs",
                "responses": {"200": _json("BaseModelList"), "429": ERRORS["429"]},
            }
        },
        "/api/v1/base-models/{name}": {
            "get": {
                "operationId": "getBaseModel",
                "summary": "One base model entry",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": SLUG}],
                "responses": {"200": _json("BaseModelOut"), **ERRORS},
            }
        },
        "/api/v1/base-models/{name}/adapters": {
            "get": {
                "operationId": "listBaseModelAdapters",
                "summary": "Published adapters for an active base model, each with its MediaPipe LoRA file (what the chat loads)",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": SLUG}],
                "responses": {"200": _json("RunnableAdapters"), **ERRORS},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LoRA Studio catalog API",
            "version": "1.0.0",
            "description": "Adapters for Gemma2-2b-it, their files, and the base model entries. "
            "Read-only routes are public; responses are JSON; every route is rate limited.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components},
    }
