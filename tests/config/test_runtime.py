"""RuntimeConfig on a real database (SQLite and PostgreSQL): layers, validation, audit, public subset."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.config import Actor, ConfigError, MaintenanceError, RuntimeConfig, ensure_writable
from app.models.config import ConfigAudit, ConfigOverride
from app.routes.config_public import config_routes
from app.settings import load_settings

ADMIN = Actor("admin@example.org", user_id=7)
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

MakeConfig = Callable[..., RuntimeConfig]


@pytest.fixture
def make_config(db_engine: sa.engine.Engine, tmp_path: Path) -> MakeConfig:
    made: list[RuntimeConfig] = []

    def make(*, env: dict[str, str] | None = None, **settings: object) -> RuntimeConfig:
        config = RuntimeConfig(
            settings=load_settings(data_dir=tmp_path, config=env or {}, **settings),
            engine=db_engine,
            redis_url=None,
            poll_interval=0.1,
        )
        made.append(config)
        return config

    yield make
    for config in made:
        config.close()


def _stored(db_engine: sa.engine.Engine) -> tuple[dict[str, str], int]:
    with Session(db_engine) as session:
        overrides = {row.key: row.value_json for row in session.exec(select(ConfigOverride))}
        audits = len(session.exec(select(ConfigAudit)).all())
    return overrides, audits


def test_layers_default_then_env_then_override(make_config: MakeConfig) -> None:
    config = make_config(env={"generation_top_k": "20", "banner_text": "from env"})
    assert (config.get("generation.top_k"), config.source("generation.top_k")) == (20, "env")
    assert (config.get("generation.temperature"), config.source("generation.temperature")) == (0.8, "default")

    config.set("generation.top_k", "5", actor=ADMIN)
    config.set("generation.temperature", 0.3, actor=ADMIN)
    assert (config.get("generation.top_k"), config.source("generation.top_k")) == (5, "override")
    assert (config.get("generation.temperature"), config.source("generation.temperature")) == (0.3, "override")

    config.reset("generation.top_k", actor=ADMIN)
    config.reset("generation.temperature", actor=ADMIN)
    assert (config.get("generation.top_k"), config.source("generation.top_k")) == (20, "env")
    assert (config.get("generation.temperature"), config.source("generation.temperature")) == (0.8, "default")
    assert config.get("banner.text") == "from env"


def test_override_survives_a_restart_and_env_never_beats_it(make_config: MakeConfig) -> None:
    make_config().set("uploads.enabled", "false", actor=ADMIN)
    restarted = make_config(env={"uploads_enabled": "true"})
    assert restarted.get("uploads.enabled") is False
    assert restarted.source("uploads.enabled") == "override"


def test_env_only_keys_are_refused_and_untouched(make_config: MakeConfig, db_engine, caplog) -> None:
    config = make_config(log_level="warning", secret_key="s3cr3t-value-never-logged")
    caplog.set_level(logging.DEBUG)
    for name, value in [("log_level", "debug"), ("secret_key", "hunter2-replacement"), ("database_url", "sqlite://")]:
        with pytest.raises(ConfigError, match="environment only") as info:
            config.set(name, value, actor=ADMIN)
        assert value not in str(info.value)
        with pytest.raises(ConfigError, match="environment only"):
            config.reset(name, actor=ADMIN)
    assert _stored(db_engine) == ({}, 0)
    assert "hunter2" not in caplog.text and "s3cr3t" not in caplog.text


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("generation.top_k", "lots", "whole number"),  # wrong type
        ("signup.enabled", "perhaps", "true or false"),  # wrong type
        ("generation.temperature", 7, "between 0 and 2"),  # out of bounds
        ("uploads.max_bytes", 0, "between 1024 and"),  # out of bounds
        ("lora.ranks", "4, 10", "10 is not allowed"),  # out of bounds
        ("signup.colour", "blue", "unknown key"),  # unknown key
        ("banner.text", "A" * 1000, "longer than 280"),  # oversized banner
        ("banner.text", 'Hi <a href="x">there</a>', "HTML"),  # HTML in the banner
    ],
)
def test_invalid_values_change_nothing_and_audit_nothing(
    make_config: MakeConfig, db_engine, name: str, raw: object, reason: str
) -> None:
    config = make_config()
    config.set("banner.text", "Welcome", actor=ADMIN)
    config.set("generation.top_k", 12, actor=ADMIN)
    before_snapshot, before_version = dict(config.values), config.version
    before_db = _stored(db_engine)

    with pytest.raises(ConfigError) as info:
        config.set(name, raw, actor=ADMIN)

    assert reason in info.value.reason
    assert dict(config.values) == before_snapshot and config.version == before_version
    assert _stored(db_engine) == before_db
    assert len(config.audit_log()) == 2


def test_audit_records_who_when_old_and_new(make_config: MakeConfig) -> None:
    config = make_config(signup_enabled=True)
    started = time.time()
    config.set("signup.enabled", "off", actor=ADMIN)
    config.set("signup.enabled", "on", actor=Actor("cli:root"))
    config.reset("signup.enabled", actor=ADMIN)
    assert config.reset("signup.enabled", actor=ADMIN) is None  # nothing left to reset: no audit row

    log = config.audit_log()
    assert [(r.action, r.actor, json.loads(r.old), json.loads(r.new)) for r in log] == [
        ("reset", "admin@example.org", True, True),
        ("set", "cli:root", False, True),
        ("set", "admin@example.org", True, False),
    ]
    assert all(r.key == "signup.enabled" for r in log)
    assert log[0].id > log[1].id > log[2].id
    assert all(r.at.timestamp() >= started - 120 for r in log)  # naive UTC, within clock slack
    assert config.audit_log(key="banner.text") == []


def test_a_change_applies_at_once_in_the_writer_and_is_polled_by_another_process(make_config: MakeConfig) -> None:
    """No Redis: the writer sees its change immediately; a second instance on the same DB (the CLI's case) polls."""
    writer, other = make_config(), make_config().start()
    writer.set("maintenance.enabled", True, actor=ADMIN)
    assert writer.get("maintenance.enabled") is True
    deadline = time.monotonic() + 5
    while other.get("maintenance.enabled") is not True and time.monotonic() < deadline:
        time.sleep(0.02)
    assert other.get("maintenance.enabled") is True


def test_a_stored_value_that_breaks_the_rules_is_ignored(make_config: MakeConfig, db_engine) -> None:
    with Session(db_engine) as session:
        session.add(ConfigOverride(key="generation.top_k", value_json="9999", updated_by="hand edit"))
        session.add(ConfigOverride(key="secret_key", value_json='"x"', updated_by="hand edit"))
        session.commit()
    config = make_config()
    assert config.get("generation.top_k") == 40
    assert config.source("generation.top_k") == "default"


def test_entries_show_sources_and_never_secrets(make_config: MakeConfig) -> None:
    config = make_config(
        env={"compare_enabled": "false"},
        secret_key="very-secret-signing-key",
        redis_url="redis://:p4ssw0rd@127.0.0.1:6379/0",
    )
    config.set("banner.text", "Hello", actor=ADMIN)
    entries = {entry.key: entry for entry in config.entries()}
    assert (entries["banner.text"].value, entries["banner.text"].source) == ('"Hello"', "override")
    assert (entries["compare.enabled"].value, entries["compare.enabled"].source) == ("false", "env")
    assert (entries["generation.top_k"].value, entries["generation.top_k"].source) == ("40", "default")
    assert entries["generation.top_k"].bounds == "1 to 100" and entries["generation.top_k"].editable
    assert entries["log_level"].value == '"info"' and not entries["log_level"].editable
    for name in ("secret_key", "redis_url", "database_url"):
        assert entries[name].secret and entries[name].value is None and entries[name].default is None
    assert entries["secret_key"].source == "env" and entries["s3_secret_access_key"].source == "default"
    dumped = repr(entries)
    assert "very-secret" not in dumped and "p4ssw0rd" not in dumped


def test_public_subset_and_etag(make_config: MakeConfig) -> None:
    config = make_config(secret_key="very-secret-signing-key")
    public = config.public
    assert public.values["generation.top_k"] == 40 and public.values["lora.ranks"] == [4, 8, 16]
    assert public.values["banner.text"] == "" and public.values["signup.enabled"] is True
    assert "ratelimit.signin_per_minute" not in public.values and "secret_key" not in public.values
    assert json.loads(public.body) == dict(public.values)
    assert b"very-secret" not in public.body

    config.set("analytics.retention_days", 30, actor=ADMIN)  # not public: same body, same ETag
    assert config.public.etag == public.etag
    config.set("banner.text", "Hello", actor=ADMIN)
    assert config.public.etag != public.etag


def test_public_route_answers_304_for_a_matching_etag(make_config: MakeConfig) -> None:
    config = make_config()
    client = TestClient(Starlette(routes=config_routes(lambda: config)))

    first = client.get("/api/v1/config/public")
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    etag = first.headers["etag"]
    assert first.json()["generation.temperature"] == 0.8
    assert "no-cache" in first.headers["cache-control"]

    again = client.get("/api/v1/config/public", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    listed = client.get("/api/v1/config/public", headers={"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    assert client.get("/api/v1/config/public", headers={"If-None-Match": '"stale"'}).status_code == 200

    config.set("generation.temperature", "1.1", actor=ADMIN)
    changed = client.get("/api/v1/config/public", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["generation.temperature"] == 1.1


def test_maintenance_mode_makes_catalog_writes_refuse_with_the_message(make_config: MakeConfig) -> None:
    config = make_config()
    ensure_writable(config)  # off by default: nothing raised
    config.set("maintenance.message", "Back at 18:00", actor=ADMIN)
    config.set("maintenance.enabled", True, actor=ADMIN)
    with pytest.raises(MaintenanceError, match="Back at 18:00"):
        ensure_writable(config)


def test_a_key_standing_on_a_setting_layers_the_same_way(make_config: MakeConfig) -> None:
    """LORA_RANKS (the catalog's setting) is the environment layer of the run-time key lora.ranks."""
    assert make_config().source("lora.ranks") == "default"
    config = make_config(lora_ranks=[16, 8])
    assert (config.values["lora.ranks"], config.source("lora.ranks")) == ((8, 16), "env")
    config.set("lora.ranks", "4", actor=ADMIN)
    assert (config.values["lora.ranks"], config.source("lora.ranks")) == ((4,), "override")
    assert config.public.values["lora.ranks"] == [4]
    config.reset("lora.ranks", actor=ADMIN)
    assert config.values["lora.ranks"] == (8, 16)
