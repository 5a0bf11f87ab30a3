"""Structured logs: one JSON object per line, with request id and user id, secrets redacted."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from app.observability import log_context
from app.observability.logs import REDACTED, redact
from app.observability.middleware import ObservabilityMiddleware


def test_redaction_by_key_reaches_nested_fields_and_keeps_metrics() -> None:
    record = {
        "user_id": 7,
        "password": "hunter2",
        "form": {"email": "a@b.c", "newPassword": "x", "csrf_token": "t"},
        "headers": [{"Authorization": "Bearer abc", "Cookie": "session=s"}, {"X-Api-Key": "k"}],
        "events": [{"prompt": "tell me a secret", "tokens_per_second": 41.5, "ttft_ms": 120}],
    }
    clean = redact(record)
    assert clean["user_id"] == 7 and clean["form"]["email"] == "a@b.c"
    assert clean["password"] == REDACTED and clean["form"]["newPassword"] == REDACTED
    assert clean["form"]["csrf_token"] == REDACTED
    assert clean["headers"] == [{"Authorization": REDACTED, "Cookie": REDACTED}, {"X-Api-Key": REDACTED}]
    assert clean["events"] == [{"prompt": REDACTED, "tokens_per_second": 41.5, "ttft_ms": 120}]
    assert record["password"] == "hunter2", "the caller's data is not modified"


def test_json_line_carries_request_and_user_ids(json_logs) -> None:
    token = log_context.start("req-123")
    try:
        log_context.bind_user_id(42)
        logging.getLogger("lorastudio.test").info("signed in", extra={"method": "password", "password": "pw"})
    finally:
        log_context.reset(token)
    (line,) = json_logs.records("lorastudio.test")
    assert line["msg"] == "signed in" and line["level"] == "info"
    assert line["request_id"] == "req-123" and line["user_id"] == "42"
    assert line["method"] == "password" and line["password"] == REDACTED
    assert "hunter" not in str(line)
    assert line["ts"].endswith("+00:00")


def _app() -> ObservabilityMiddleware:
    async def item(request: Request) -> JSONResponse:
        log_context.bind_user_id("u-9")
        return JSONResponse({"id": request.path_params["item_id"]})

    async def fail(_: Request) -> JSONResponse:
        raise RuntimeError("boom")

    api = Starlette(routes=[Route("/items/{item_id}", item), Route("/fail", fail)])
    return ObservabilityMiddleware(api)


def test_access_log_has_route_template_status_latency_and_no_secrets(json_logs) -> None:
    client = TestClient(_app())
    response = client.get("/items/abc?token=s3cr3t&page=2", headers={"X-Request-ID": "edge-42"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "edge-42", "an upstream proxy's id is kept"
    (line,) = json_logs.records("lorastudio.access")
    assert line["request_id"] == "edge-42" and line["user_id"] == "u-9"
    assert line["route"] == "/items/{item_id}" and line["path"] == "/items/abc"
    assert line["status"] == 200 and line["outcome"] == "ok" and line["duration_ms"] >= 0
    assert line["query"] == f"token={REDACTED}&page=2"
    assert "s3cr3t" not in json_logs.stream.getvalue()


def test_request_ids_are_generated_when_missing_or_malformed(json_logs) -> None:
    client = TestClient(_app())
    first = client.get("/items/1", headers={"X-Request-ID": "not a valid id; drop table"}).headers["x-request-id"]
    second = client.get("/items/2").headers["x-request-id"]
    assert first != second and len(first) == 32 and first.isalnum()
    assert [line["request_id"] for line in json_logs.records("lorastudio.access")] == [first, second]


def test_failures_are_logged_with_outcome_error(json_logs) -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    assert client.get("/fail").status_code == 500
    lines = json_logs.records("lorastudio.access")
    assert lines[-1]["outcome"] == "error" and lines[-1]["status"] == 500 and lines[-1]["route"] == "/fail"
    assert any("RuntimeError: boom" in line.get("exc", "") for line in lines)
