"""What the browser benches share: the real app on a temporary DATA_DIR, and one persistent
Chromium context with WebGPU (SwiftShader here), both closed by the caller's ExitStack."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.app_server import AppServer


def start_app(stack: contextlib.ExitStack) -> tuple[AppServer, Path]:
    data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-app-")))
    print("starting the app (reflex run --env prod) ...", flush=True)
    app = AppServer(data_dir=data_dir).start()
    stack.callback(app.stop)
    return app, data_dir


def webgpu_context(stack: contextlib.ExitStack) -> BrowserContext:
    playwright = stack.enter_context(sync_playwright())
    profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-chromium-"))
    context = playwright.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, "--enable-unsafe-webgpu"]
    )
    stack.callback(context.close)
    return context
