"""Key declarations: each value is parsed by its key's rules, and the environment layer is checked at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.config.keys import RUNTIME_KEYS, ConfigError, build_registry, environment_layer, parse_env_layer
from app.settings import Rate, Settings, SettingsError, load_settings
from tests.support.app_server import ROOT, reflex_env

REGISTRY = build_registry()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("signup.enabled", "false", False),
        ("signup.enabled", " On ", True),
        ("signup.enabled", True, True),
        ("uploads.max_bytes", "1048576", 1048576),
        ("uploads.max_bytes", 1024, 1024),
        ("generation.temperature", "0", 0.0),
        ("generation.temperature", 1, 1.0),
        ("lora.ranks", "16, 4 8,4", (4, 8, 16)),
        ("lora.ranks", [32], (32,)),
        ("signup.default_role", "creator", "creator"),
        ("banner.text", "  New adapters every Friday!  ", "New adapters every Friday!"),
        ("banner.link", "https://example.org/news?id=1", "https://example.org/news?id=1"),
        ("banner.link", "/catalog", "/catalog"),
        ("banner.link", "", ""),
        ("base_model.entry", "gemma2-2b-it-gpu-int8", "gemma2-2b-it-gpu-int8"),
        ("ratelimit.signin", "5/minute", Rate(limit=5, window_s=60)),
        ("ratelimit.api", " 1000/3600s ", Rate(limit=1000, window_s=3600)),
    ],
)
def test_valid_values_are_parsed(name: str, raw: object, expected: object) -> None:
    assert REGISTRY[name].parse(raw) == expected


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("signup.enabled", "maybe", "true or false"),
        ("signup.enabled", 1, "true or false"),
        ("uploads.max_bytes", "12.5", "whole number"),
        ("uploads.max_bytes", 12.5, "whole number"),
        ("uploads.max_bytes", True, "whole number"),
        ("uploads.max_bytes", "0", "between 1024 and 4294967296"),
        ("uploads.max_bytes", 5 * 1024**3, "between 1024 and 4294967296"),
        ("generation.temperature", "hot", "number"),
        ("generation.temperature", "nan", "finite"),
        ("generation.temperature", 2.5, "between 0 and 2"),
        ("generation.top_k", -1, "between 1 and 100"),
        ("lora.ranks", "4,6", "6 is not allowed; one or more multiples of 4 from 4 to 256"),
        ("lora.ranks", "512", "512 is not allowed"),
        ("lora.ranks", "", "at least one"),
        ("lora.ranks", 4, "list"),
        ("signup.default_role", "admin", "one of user, creator"),
        ("banner.text", "x" * 281, "longer than 280"),
        ("banner.text", "<b>big</b> news", "HTML"),
        ("banner.text", "<script>alert(1)</script>", "HTML"),
        ("banner.text", "line\x00break", "control"),
        ("banner.text", 42, "text"),
        ("banner.link", "javascript:alert(1)", "http"),
        ("banner.link", "//evil.example/x", "http"),
        ("banner.link", "https://ex.org/<x>", "http"),
        ("maintenance.message", "<img src=x onerror=alert(1)>", "HTML"),
        ("base_model.entry", "../etc/passwd", "lowercase"),
        ("ratelimit.signin", "lots", "must be a rate like 10/minute"),
        ("ratelimit.signin", 10, "must be a rate like 10/minute"),
        ("ratelimit.signin", "0/minute", "must be a rate"),
        ("ratelimit.signin", "200000/minute", "between 1 and 100000"),
        ("ratelimit.signup", "10/2days", "must be a rate"),
        ("ratelimit.signup", "10/90000s", "between 1 second and 1 day"),
    ],
)
def test_invalid_values_are_refused_with_a_reason(name: str, raw: object, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        REGISTRY[name].parse(raw)
    assert info.value.key == name
    assert reason in info.value.reason


def test_the_issue_keys_exist_and_are_run_time_editable() -> None:
    wanted = {
        "signup.enabled",
        "signup.default_role",
        "uploads.enabled",
        "uploads.max_bytes",
        "moderation.required",
        "generation.temperature",
        "generation.top_k",
        "generation.max_tokens",
        "lora.ranks",
        "lora.heap_budget_mib",
        "base_model.entry",
        "compare.enabled",
        "analytics.enabled",
        "analytics.retention_days",
        "banner.text",
        "banner.link",
        "maintenance.enabled",
        "maintenance.message",
    }
    assert wanted <= {key.name for key in REGISTRY.runtime()}
    assert any(key.name.startswith("ratelimit.") for key in REGISTRY.runtime())


def test_every_setting_is_declared_and_secrets_are_marked() -> None:
    """A new Settings field shows up in the registry by itself; credential-like ones are secret."""
    env_keys = {key.name: key for key in REGISTRY if not key.runtime}
    standing_on = [key.setting for key in REGISTRY if key.setting is not None]
    assert sorted(standing_on) == sorted(set(Settings.model_fields) - {"config"})  # each field exactly once
    assert all(key.setting == key.name for key in env_keys.values())
    for name in ("secret_key", "database_url", "redis_url", "s3_secret_access_key", "s3_access_key_id"):
        assert env_keys[name].secret, name
    assert not env_keys["log_level"].secret


def test_env_only_keys_are_refused_at_run_time() -> None:
    for name in ("secret_key", "database_url", "log_level"):
        with pytest.raises(ConfigError, match="environment only"):
            REGISTRY.editable(name)
    with pytest.raises(ConfigError, match="unknown key"):
        REGISTRY.editable("no.such.key")


def test_environment_layer_is_typed_and_named_on_error() -> None:
    assert parse_env_layer({"compare_enabled": "off", "banner_text": " Hi "}) == {
        "compare.enabled": False,
        "banner.text": "Hi",
    }
    with pytest.raises(ValueError, match="CONFIG__SIGNUP_ENABLED: no such run-time key"):
        parse_env_layer({"signup_enabled": "off"})  # that key's environment layer is SIGNUP_ENABLED
    assert load_settings(config={"generation_top_k": "7"}).config == {"generation_top_k": "7"}
    with pytest.raises(SettingsError, match="CONFIG__GENERATION_TOP_K: must be between 1 and 100"):
        load_settings(config={"generation_top_k": "500"})
    with pytest.raises(SettingsError, match="CONFIG__SIGNUP_OPEN: no such run-time key"):
        load_settings(config={"signup_open": "true"})


def test_environment_layer_from_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CONFIG__BANNER_TEXT=Hello from .env\nLORA_RANKS=[8, 4]\n")
    settings = Settings()
    assert settings.config == {"banner_text": "Hello from .env"}
    assert environment_layer(settings) == {"banner.text": "Hello from .env", "lora.ranks": (4, 8)}


def test_a_key_standing_on_a_setting_takes_its_env_var_and_default() -> None:
    ranks = REGISTRY["lora.ranks"]
    assert ranks.env_var == "LORA_RANKS" and ranks.runtime
    assert ranks.default == tuple(Settings.model_fields["lora_ranks"].get_default(call_default_factory=True))
    assert "lora_ranks" not in REGISTRY  # not listed a second time as an environment-only key
    assert environment_layer(load_settings()) == {}
    assert environment_layer(load_settings(max_adapter_upload_bytes=2048)) == {"uploads.max_bytes": 2048}
    assert environment_layer(load_settings(signup_enabled=False, rate_limit_api="50/minute")) == {
        "signup.enabled": False,
        "ratelimit.api": Rate(limit=50, window_s=60),
    }
    with pytest.raises(SettingsError, match="MAX_ADAPTER_UPLOAD_BYTES: must be between 1024"):
        load_settings(max_adapter_upload_bytes=10)


def test_bad_environment_value_stops_start_up(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import rxconfig"],
        cwd=ROOT,
        env=reflex_env(DATA_DIR=str(tmp_path), CONFIG__BANNER_TEXT="<b>hi</b>"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CONFIG__BANNER_TEXT" in result.stderr and "Traceback" not in result.stderr


def test_defaults_obey_their_own_rules() -> None:
    for key in RUNTIME_KEYS:
        assert key.parse(key.default) == key.default, key.name
