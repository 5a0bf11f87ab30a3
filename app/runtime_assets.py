"""Where the engine's runtime files and the built-in demo models are found on the server."""

from __future__ import annotations

import os
from pathlib import Path

from app.settings import Settings

MEDIAPIPE_VERSION = "0.10.29"
WASM_URL_BASE = f"/runtime/mediapipe/{MEDIAPIPE_VERSION}"
DEMO_MODEL_URL_BASE = "/runtime/models"
TINY_BASE = "tiny-base.bin"
TINY_LORA = "tiny-lora-r4.bin"

_NODE_WASM = Path("node_modules") / "@mediapipe" / "tasks-genai" / "wasm"


def wasm_dir(settings: Settings) -> Path | None:
    """The installed runtime's wasm folder (the npm package Reflex installed), if present."""
    candidates = [settings.mediapipe_wasm_dir] if settings.mediapipe_wasm_dir else []
    web = Path(os.environ.get("REFLEX_WEB_WORKDIR", ".web"))
    candidates += [web / _NODE_WASM, Path.cwd() / ".web" / _NODE_WASM]
    for candidate in candidates:
        if candidate is not None and (candidate / "genai_wasm_internal.wasm").is_file():
            return candidate.resolve()
    return None


def demo_models_dir(settings: Settings) -> Path:
    return (settings.data_dir / "demo-models").resolve()
