"""The one wrapper around the in-browser engine (assets/engine/*.jsx).

Everything that touches `@mediapipe/tasks-genai` lives in `assets/engine/mediapipe_engine.js`;
the React components here only take URLs and settings as props. Prompts and answers stay in
the browser: no event trigger carries text, only counts and timings.
"""

from __future__ import annotations

import reflex as rx

from app.runtime_assets import MEDIAPIPE_VERSION, WASM_URL_BASE

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


def engine_self_test(*, model_url: str, lora_url: str, lora_ranks: list[int], max_tokens: int = 256) -> rx.Component:
    return EngineSelfTest.create(
        wasm_base=WASM_URL_BASE,
        model_url=model_url,
        lora_url=lora_url,
        lora_ranks=lora_ranks,
        default_max_tokens=max_tokens,
    )


class PrivateChat(rx.Component):
    """The chat page's engine panel: capability check, model delivery, chat, compare (all in the browser).

    Props carry only URLs of public metadata; prompts, answers and conversations never reach Reflex state.
    """

    library = "$/public/engine/chat.jsx"
    tag = "PrivateChat"
    lib_dependencies: list[str] = [ENGINE_PACKAGE]

    wasm_base: rx.Var[str]
    models_index_url: rx.Var[str]
    config_url: rx.Var[str]
    api_base: rx.Var[str]
    analytics_url: rx.Var[str]


def private_chat(*, models_index_url: str, config_url: str, api_base: str, analytics_url: str = "") -> rx.Component:
    return PrivateChat.create(
        wasm_base=WASM_URL_BASE,
        models_index_url=models_index_url,
        config_url=config_url,
        api_base=api_base,
        analytics_url=analytics_url,
    )
