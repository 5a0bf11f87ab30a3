"""The one wrapper around the in-browser engine (assets/engine/*.jsx).

Everything that touches `@mediapipe/tasks-genai` lives in `assets/engine/mediapipe_engine.js`;
the React components here only take URLs and settings as props. Prompts and answers stay in
the browser: no event trigger carries text, only counts and timings.
"""

from __future__ import annotations

import reflex as rx

from app.runtime_assets import MEDIAPIPE_VERSION, WASM_URL_BASE
from components.backend_url import backend_url

ENGINE_PACKAGE = f"@mediapipe/tasks-genai@{MEDIAPIPE_VERSION}"


class EngineSelfTest(rx.Component):
    """Capability check, tiny-model load, streaming generation, LoRA and cancel, in one panel."""

    library = "$/public/engine/selftest.jsx"
    tag = "EngineSelfTest"
    lib_dependencies: list[str] = [ENGINE_PACKAGE]

    wasm_base: rx.Var[str]
    model_url: rx.Var[str]
    lora_url: rx.Var[str]
    lora_ranks: rx.Var[list[int]]
    default_max_tokens: rx.Var[int]


def _served_by_backend(url: str) -> str | rx.Var[str]:
    """Paths the backend serves resolve against the backend, also when the pages are on a CDN."""
    return backend_url(url) if url.startswith("/") else url


def engine_self_test(*, model_url: str, lora_url: str, lora_ranks: list[int], max_tokens: int = 256) -> rx.Component:
    return EngineSelfTest.create(
        wasm_base=backend_url(WASM_URL_BASE),
        model_url=_served_by_backend(model_url),
        lora_url=_served_by_backend(lora_url),
        lora_ranks=lora_ranks,
        default_max_tokens=max_tokens,
    )
