"""Chromium for browser tests: one per module, fresh profile, with or without a WebGPU adapter.

Headless Chromium on a CPU-only machine offers a WebGPU adapter (SwiftShader) only with
--enable-unsafe-webgpu; without that flag navigator.gpu exists but requestAdapter() returns null,
which is exactly the "no WebGPU" case users hit (docs/mediapipe-web.md §4.1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright

from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import services

WEBGPU_ARGS = [*CHROMIUM_ARGS, "--enable-unsafe-webgpu"]


def launch_chromium(playwright: Playwright, profile: Path, *, webgpu: bool) -> BrowserContext:
    if not Path(CHROMIUM).exists():
        services.unavailable(f"Chromium not installed at {CHROMIUM} (Debian: apt-get install chromium)")
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=WEBGPU_ARGS if webgpu else CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 1000},
    )


@pytest.fixture(scope="module")
def webgpu_browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Chromium with a (software) WebGPU adapter, shared by the tests of one module."""
    context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium-webgpu"), webgpu=True)
    yield context
    context.close()


@pytest.fixture(scope="module")
def no_webgpu_browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Chromium launched without --enable-unsafe-webgpu: navigator.gpu but no adapter."""
    context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium-plain"), webgpu=False)
    yield context
    context.close()


def _new_page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.page_errors = errors  # type: ignore[attr-defined] - read by tests that care
    yield page
    page.close()


@pytest.fixture
def gpu_page(webgpu_browser: BrowserContext) -> Iterator[Page]:
    yield from _new_page(webgpu_browser)


@pytest.fixture
def plain_page(no_webgpu_browser: BrowserContext) -> Iterator[Page]:
    yield from _new_page(no_webgpu_browser)


@pytest.fixture(scope="session")
def demo_models_dir(app_server) -> Path:
    """The running app's demo-model folder; tests may add broken files next to the real ones."""
    return app_server.data_dir / "demo-models"
