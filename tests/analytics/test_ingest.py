"""POST /api/v1/events: accepted batches are stored; bad events are refused one by one, with reasons."""

from __future__ import annotations

import gzip
import json
import random

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.analytics import lifecycle, privacy, wiring
from app.routes.events import EVENTS_PATH, event_routes
from tests.analytics.conftest import count, stored
from tests.analytics.factory import KINDS, event


def post(client: TestClient, events: list, **headers: str):
    return client.post(EVENTS_PATH, json={"events": events}, headers=headers)


def test_valid_batch_is_stored(client: TestClient, db_engine: sa.Engine) -> None:
    batch = [event(kind) for kind in KINDS]
    response = post(client, batch)
    assert response.status_code == 202
    assert response.json() == {"accepted": len(batch), "rejected": []}
    lifecycle.stop()  # drain the writer
    rows = stored(db_engine)
    assert [row["type"] for row in rows] == list(KINDS)
    generation = rows[list(KINDS).index("generation_finished")]
    assert generation["adapter_id"] == "sql-helper" and generation["gpu_vendor"] == "nvidia"
    assert generation["session_id"] == "s" * 16 and generation["user_id"] is None
    attrs = generation["attrs"] if isinstance(generation["attrs"], dict) else json.loads(generation["attrs"])
    assert attrs["ttft_ms"] == 350.0 and attrs["output_tokens"] == 256 and attrs["cancelled"] is False


MALFORMED = [
    ("session_id", {"session_id": "short"}),
    ("session_id", {"session_id": "has spaces in it, clearly"}),
    ("session_id", {"session_id": ...}),
    ("adapter_id", {"adapter_id": "../../etc/passwd"}),
    ("adapter_id", {"adapter_id": "x" * 81}),
    ("gpu_vendor", {"gpu_vendor": "NVIDIA Corporation GeForce RTX 4090"}),
    ("gpu_architecture", {"gpu_architecture": "Ampere With Spaces"}),
    ("browser", {"browser": "Mozilla/5.0 (X11; Linux x86_64)"}),
    ("app_version", {"app_version": "latest"}),
    ("v", {"v": 2}),
    ("type", {"type": "chat_message"}),
    ("type", {"type": "sign_in"}),  # server-side events cannot come from a browser
    ("user_id", {"user_id": 1}),  # the server attaches the user, never the client
    ("prompt", {"prompt": "what is my bank password?"}),  # no free text, ever
    ("ttft_ms", {"ttft_ms": -1}),
    ("ttft_ms", {"ttft_ms": 10**9}),
    ("ttft_ms", {"ttft_ms": "fast"}),
    ("decode_tokens_per_s", {"decode_tokens_per_s": 1e12}),
    ("prefill_tokens_per_s", {"prefill_tokens_per_s": -3}),
    ("output_tokens", {"output_tokens": -1}),
    ("output_tokens", {"output_tokens": 2.5}),
    ("input_tokens", {"input_tokens": ...}),
    ("cancelled", {"cancelled": "maybe"}),
]


@pytest.mark.parametrize(("field", "change"), MALFORMED, ids=[f"{f}-{i}" for i, (f, _) in enumerate(MALFORMED)])
def test_each_malformed_field_is_rejected_with_a_reason(
    client: TestClient, db_engine: sa.Engine, field: str, change: dict
) -> None:
    response = post(client, [event(), event(**change), event()])
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    [rejection] = body["rejected"]
    assert rejection["index"] == 1
    assert any(error["field"] == field and error["reason"] for error in rejection["errors"]), rejection
    assert "bank password" not in response.text  # refused input is not echoed back
    lifecycle.stop()
    assert count(db_engine) == 2


@pytest.mark.parametrize(
    ("kind", "field", "change"),
    [
        ("capability_check", "missing", {"missing": ["teleport"]}),
        ("capability_check", "missing", {"ok": True, "missing": ["webgpu"]}),
        ("capability_check", "missing", {"ok": False, "missing": []}),
        ("capability_check", "missing", {"missing": ["webgpu", "webgpu"]}),
        ("model_download", "bytes", {"bytes": 10**15}),
        ("model_download", "source", {"source": "ftp"}),
        ("engine_init", "duration_ms", {"duration_ms": 10**8}),
        ("lora_load", "rank", {"rank": 0}),
        ("error", "kind", {"kind": "Uncaught TypeError: x is undefined"}),
        ("page_view", "page", {"page": "/adapters/secret?q=my+question"}),
    ],
)
def test_kind_specific_fields_are_checked(client: TestClient, kind: str, field: str, change: dict) -> None:
    response = post(client, [event(kind, **change)])
    assert response.status_code == 422  # nothing accepted
    [rejection] = response.json()["rejected"]
    fields = {error["field"].split(".")[0] for error in rejection["errors"]}
    assert field in fields, rejection


def test_partial_acceptance_names_each_rejected_index(client: TestClient, db_engine: sa.Engine) -> None:
    batch = [event(), event(ttft_ms=-5), event("page_view"), "not an event", event("error", kind="nope"), event()]
    response = post(client, batch)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 3
    assert [r["index"] for r in body["rejected"]] == [1, 3, 4]
    lifecycle.stop()
    assert [row["type"] for row in stored(db_engine)] == ["generation_finished", "page_view", "generation_finished"]


def test_too_many_events_is_413(client: TestClient, db_engine: sa.Engine) -> None:
    from app.settings import get_settings

    limit = get_settings().analytics_max_batch_events
    assert post(client, [event()] * (limit + 1)).status_code == 413
    assert post(client, [event()] * limit).status_code == 202
    lifecycle.stop()
    assert count(db_engine) == limit


def test_too_many_bytes_is_413(client: TestClient) -> None:
    from app.settings import get_settings

    padding = " " * (get_settings().analytics_max_body_bytes + 1)
    body = json.dumps({"events": [event()]}) + padding
    response = client.post(EVENTS_PATH, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_gzip_is_accepted(client: TestClient, db_engine: sa.Engine) -> None:
    body = gzip.compress(json.dumps({"events": [event(), event("lora_load")]}).encode())
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    response = client.post(EVENTS_PATH, content=body, headers=headers)
    assert response.status_code == 202 and response.json()["accepted"] == 2
    lifecycle.stop()
    assert count(db_engine) == 2


def test_gzip_bomb_is_413_without_inflating_it(client: TestClient, db_engine: sa.Engine) -> None:
    bomb = gzip.compress(b'{"events": [' + b" " * (200 * 1024 * 1024) + b"]}", compresslevel=9)
    assert len(bomb) < 256 * 1024  # small on the wire
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    assert client.post(EVENTS_PATH, content=bomb, headers=headers).status_code == 413
    assert client.post(EVENTS_PATH, content=b"not gzip", headers=headers).status_code == 400
    lifecycle.stop()
    assert count(db_engine) == 0


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({"content-type": "text/plain"}, b'{"events": []}', 415),
        ({"content-type": "application/json", "content-encoding": "br"}, b"{}", 415),
        ({"content-type": "application/json"}, b"{not json", 400),
        ({"content-type": "application/json"}, b'{"events": []}', 400),
        ({"content-type": "application/json"}, b'[{"type": "page_view"}]', 400),
    ],
)
def test_malformed_requests(client: TestClient, headers: dict, content: bytes, status: int) -> None:
    assert client.post(EVENTS_PATH, content=content, headers=headers).status_code == status


@pytest.mark.parametrize(("header", "reason"), [("DNT", "dnt"), ("Sec-GPC", "gpc")])
def test_do_not_track_and_gpc_store_nothing(client: TestClient, db_engine: sa.Engine, header: str, reason: str) -> None:
    response = post(client, [event()], **{header: "1"})
    assert response.status_code == 204
    assert response.headers["analytics-status"] == reason
    assert post(client, [event()], **{header: "0"}).status_code == 202
    lifecycle.stop()
    assert count(db_engine) == 1


def test_analytics_switched_off_at_run_time_stores_nothing(
    client: TestClient, db_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's run-time key analytics.enabled (app.config), read on every request."""
    from app.config import RuntimeConfig
    from app.config.store import Actor
    from app.settings import get_settings

    config = RuntimeConfig(settings=get_settings(), engine=db_engine, redis_url=None)
    monkeypatch.setattr(wiring, "get_runtime_config", lambda: config)
    config.set("analytics.enabled", False, actor=Actor("test"))
    response = post(client, [event()])
    assert response.status_code == 204 and response.headers["analytics-status"] == "disabled"
    config.set("analytics.enabled", True, actor=Actor("test"))
    assert post(client, [event()]).status_code == 202
    lifecycle.stop()
    assert count(db_engine) == 1


def test_opted_out_user_is_not_recorded(
    client: TestClient, db_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request path answers 204 from the cache; the writer re-checks the database."""
    from sqlmodel import Session

    signed_in = {"id": 7}
    monkeypatch.setattr(wiring, "user_id_of", lambda request: signed_in["id"])
    assert post(client, [event()]).status_code == 202  # recorded with the user id
    lifecycle.stop()
    assert [row["user_id"] for row in stored(db_engine)] == [7]
    lifecycle.start(engine=db_engine)

    with Session(db_engine) as session:
        privacy.set_user_opt_out(session, user_id=7, opted_out=True)
        session.commit()
        assert privacy.user_opted_out(session, user_id=7)
    assert count(db_engine) == 0  # opting out forgot the raw events
    response = post(client, [event()])
    assert response.status_code == 204 and response.headers["analytics-status"] == "opted-out"

    # Another worker whose cache does not know yet: accepted at the door, dropped by the writer.
    from app.cache import get_cache

    get_cache().delete("analytics:optout:7")
    assert post(client, [event()]).status_code == 202
    lifecycle.stop()
    assert count(db_engine) == 0

    lifecycle.start(engine=db_engine)
    with Session(db_engine) as session:
        privacy.set_user_opt_out(session, user_id=7, opted_out=False)
        session.commit()
    assert post(client, [event()]).status_code == 202
    lifecycle.stop()
    assert count(db_engine) == 1


def test_rate_limit_is_429_with_retry_after(
    pipeline: lifecycle.Pipeline, cache_backend: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared JSON API limiter covers the ingest route, per client IP, with or without Redis."""
    from app.auth import ratelimit
    from app.config import RuntimeConfig
    from app.config.store import Actor
    from app.routes import build_api, middleware
    from app.settings import get_settings

    monkeypatch.setattr(get_settings(), "redis_url", cache_backend)
    config = RuntimeConfig(settings=get_settings(), engine=pipeline.writer.engine, redis_url=None)
    config.set("ratelimit.api", "3/minute", actor=Actor("test"))
    monkeypatch.setattr(middleware, "get_runtime_config", lambda: config)
    ratelimit.get_limiter.cache_clear()
    try:
        first, second = (f"198.51.{random.randint(0, 255)}.{random.randint(1, 254)}" for _ in range(2))
        with TestClient(build_api(), client=(first, 5000)) as test_client:
            statuses = [post(test_client, [event()]).status_code for _ in range(4)]
            assert statuses == [202, 202, 202, 429]
            response = post(test_client, [event()])
            assert response.status_code == 429
            assert 1 <= int(response.headers["retry-after"]) <= 60
        with TestClient(build_api(), client=(second if second != first else "203.0.113.1", 5000)) as other:
            assert post(other, [event()]).status_code == 202  # another client has its own budget
    finally:
        ratelimit.get_limiter.cache_clear()


def test_writer_not_running_is_503(db_engine: sa.Engine) -> None:
    lifecycle.stop()
    app = Starlette(routes=event_routes())
    with TestClient(app) as test_client:
        response = post(test_client, [event()])
    assert response.status_code == 503 and "retry-after" in response.headers
