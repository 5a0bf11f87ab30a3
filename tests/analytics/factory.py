"""Valid analytics events, one of each kind or many at random, for the analytics tests."""

from __future__ import annotations

import random
import string
from typing import Any

ADAPTERS = ["sql-helper", "poet-v2", "legal.summary", "Tiny_1", "kids-stories"]
VENDORS = ["nvidia", "amd", "intel", "apple", "qualcomm", "unknown"]
BROWSERS = ["chrome", "edge", "firefox", "safari"]

BASE = {"v": 1, "session_id": "s" * 16, "gpu_vendor": "nvidia", "browser": "chrome", "app_version": "0.1.0"}

KINDS: dict[str, dict[str, Any]] = {
    "page_view": {"page": "chat"},
    "capability_check": {"ok": False, "missing": ["shader_f16", "storage_quota"]},
    "model_download": {"outcome": "ok", "source": "network", "bytes": 2_600_000_000, "duration_ms": 90_000},
    "engine_init": {"outcome": "ok", "duration_ms": 4_200},
    "lora_load": {"outcome": "ok", "duration_ms": 35, "rank": 8},
    "generation_finished": {
        "ttft_ms": 350.0,
        "prefill_tokens_per_s": 410.5,
        "decode_tokens_per_s": 31.2,
        "input_tokens": 120,
        "output_tokens": 256,
        "cancelled": False,
    },
    "error": {"kind": "out_of_memory", "stage": "init"},
}


def event(kind: str = "generation_finished", /, **overrides: Any) -> dict[str, Any]:
    data = {**BASE, "type": kind, "adapter_id": "sql-helper", **KINDS[kind]}
    for key, value in overrides.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def session_id(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(22))


def random_event(rng: random.Random, sessions: list[str]) -> dict[str, Any]:
    kind = rng.choices(list(KINDS), weights=[3, 1, 1, 1, 2, 6, 1])[0]
    over: dict[str, Any] = {
        "session_id": rng.choice(sessions),
        "gpu_vendor": rng.choice(VENDORS),
        "browser": rng.choice(BROWSERS),
        "adapter_id": rng.choice([*ADAPTERS, None]),
    }
    if kind == "page_view":
        over["page"] = rng.choice(["home", "catalog", "chat", "adapter"])
    elif kind == "capability_check":
        missing = rng.sample(["webgpu", "shader_f16", "storage_quota", "gpu_adapter"], rng.randint(0, 2))
        over.update(ok=not missing, missing=missing)
    elif kind in ("model_download", "engine_init", "lora_load"):
        over.update(outcome=rng.choice(["ok", "ok", "ok", "failed", "cancelled"]), duration_ms=rng.randint(0, 100_000))
    elif kind == "generation_finished":
        over.update(
            ttft_ms=rng.choice([None, round(rng.lognormvariate(6, 1), 3), 0.0]),
            decode_tokens_per_s=rng.choice([None, rng.lognormvariate(3, 0.7), rng.lognormvariate(3, 0.7)]),
            prefill_tokens_per_s=rng.choice([None, rng.uniform(50, 900)]),
            input_tokens=rng.randint(0, 4000),
            output_tokens=rng.randint(0, 1000),
            cancelled=rng.random() < 0.1,
        )
    elif kind == "error":
        over.update(kind=rng.choice(["out_of_memory", "device_lost", "unknown"]))
    return event(kind, **over)
