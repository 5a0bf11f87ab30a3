"""Each way the engine can fail shows one clear message on the self-test page, without hanging.

The failure modes and their raw runtime messages are listed in docs/mediapipe-web.md §5; these
tests check what a user sees instead, and that the page recovers with a fresh engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.selftest_page import SelfTestPage

pytestmark = pytest.mark.browser

MIB = 1 << 20
BASE = "/runtime/models/tiny-base.bin"
LORA = "/runtime/models/tiny-lora-r4.bin"
PROMPT = "Write a short poem about a lighthouse."


@pytest.fixture(scope="module")
def broken_models(demo_models_dir: Path) -> dict[str, str]:
    """Broken files served by the real app next to the demo models; name -> URL path."""
    rng = os.urandom
    files = {
        "garbage.bin": rng(2 * MIB),  # no TFL3 signature
        "empty.bin": b"",
        "truncated.bin": rng(4) + b"TFL3" + rng(4096),  # signature, but < 1 MiB: the runtime would hang
        "tfl3-garbage.bin": rng(4) + b"TFL3" + rng(2 * MIB),  # passes every check; the runtime hangs
    }
    for name, data in files.items():
        (demo_models_dir / name).write_bytes(data)
    return {name: f"/runtime/models/{name}" for name in files}


def open_page(page: Page, app_server, **query: str | int) -> SelfTestPage:
    return SelfTestPage(page, app_server.url).open(**query)


def test_without_webgpu_the_check_says_what_to_do_and_loading_fails_clearly(plain_page: Page, app_server) -> None:
    selftest = open_page(plain_page, app_server)
    assert selftest.verdict == "unsupported"
    adapter = plain_page.get_by_test_id("capability-adapter")
    expect(adapter).to_have_attribute("data-status", "fail")
    expect(plain_page.get_by_test_id("capability-adapter-fix")).to_contain_text("enable-unsafe-webgpu")

    selftest.load(expect_state="error")
    kind, message = selftest.error()
    assert kind == "no-webgpu"
    assert "GPU adapter" in message


@pytest.mark.parametrize(
    ("query", "kind", "words"),
    [
        ({"model": "/runtime/models/missing.bin"}, "fetch", "404"),
        ({"model": "garbage.bin"}, "bad-model", "not a MediaPipe .bin model"),
        ({"model": "empty.bin"}, "bad-model", "empty"),
        ({"model": "truncated.bin"}, "bad-model", "at least 1.0 MiB"),
    ],
    ids=["404", "garbage", "empty", "truncated"],
)
def test_bad_model_file_is_refused_before_the_runtime_sees_it(
    gpu_page: Page, app_server, broken_models: dict[str, str], query: dict[str, str], kind: str, words: str
) -> None:
    model = broken_models.get(query["model"], query["model"])
    selftest = open_page(gpu_page, app_server, model=model)
    selftest.load(expect_state="error")
    found_kind, message = selftest.error(timeout_ms=10_000)
    assert found_kind == kind
    assert words in message
    assert selftest.metric("instances") == 0


def test_hung_model_load_times_out_and_a_fresh_engine_then_loads(gpu_page: Page, app_server, broken_models) -> None:
    """A file with a valid signature but garbage inside makes the runtime hang forever (§5)."""
    garbage = (app_server.data_dir / "demo-models" / "tfl3-garbage.bin").read_bytes()
    served = []

    def first_garbage_then_real(route: Route) -> None:
        served.append(route.request.url)
        if len(served) == 1:
            route.fulfill(status=200, body=garbage, headers={"Content-Type": "application/octet-stream"})
        else:
            route.continue_()

    gpu_page.route(f"**{BASE}", first_garbage_then_real)
    selftest = open_page(gpu_page, app_server, create_timeout_s=6)
    selftest.load(expect_state="error")
    kind, message = selftest.error()
    assert kind == "timeout"
    assert "did not finish loading" in message
    assert selftest.metric("instances") == 0

    selftest.load()  # the real file, into a fresh engine in the same page
    assert not selftest.has_error()
    assert selftest.metric("instances") == 1
    assert len(served) == 2


@pytest.fixture(scope="module")
def warm(webgpu_browser: BrowserContext, app_server) -> Iterator[SelfTestPage]:
    """One page with a loaded, generating engine, shared by the tests of recoverable failures."""
    page = webgpu_browser.new_page()
    selftest = SelfTestPage(page, app_server.url).open()
    selftest.set_max_tokens(64)
    selftest.set_prompt(PROMPT)
    result = selftest.generate()  # pays the first-generation shader compile once
    assert result.state == "done", selftest.root.inner_text()
    yield selftest
    page.close()


def _lora_route(page: Page, **fulfill: object) -> None:
    page.route(f"**{LORA}", lambda route: route.fulfill(**fulfill))


def test_prompt_longer_than_the_token_budget_is_refused(warm: SelfTestPage) -> None:
    before = warm.metric("instances")
    warm.set_lora(False)
    refused = warm.generate(" ".join(["lighthouse keepers watch the stormy sea every night"] * 30))
    assert refused.state == "error"
    kind, message = warm.error()
    assert kind == "prompt-too-long"
    assert "tokens" in message and "64" in message

    ok = warm.generate(PROMPT)
    assert ok.state == "done" and ok.tokens and ok.tokens >= 20
    assert ok.instances == before  # refused before the runtime saw it: the engine is still healthy
    assert not warm.has_error()


def test_lora_404_is_reported_and_the_engine_keeps_working(warm: SelfTestPage) -> None:
    before = warm.metric("instances")
    _lora_route(warm.page, status=404, body="not found")
    try:
        warm.set_lora(True)
        failed = warm.generate(PROMPT)
        assert failed.state == "error"
        kind, message = warm.error()
        assert kind == "fetch" and "404" in message and "LoRA" in message
    finally:
        warm.page.unroute(f"**{LORA}")

    warm.set_lora(False)
    ok = warm.generate()
    assert ok.state == "done" and ok.tokens and ok.tokens >= 20
    assert ok.instances == before  # a download error does not cost the engine


def test_broken_lora_resets_the_engine_and_the_next_generation_uses_a_fresh_one(
    warm: SelfTestPage, demo_models_dir: Path, broken_models: dict[str, str]
) -> None:
    """A LoRA file the runtime rejects leaves its instance stuck for good (§5): it must be replaced."""
    before = warm.metric("instances") or 0
    garbage = (demo_models_dir / "tfl3-garbage.bin").read_bytes()
    _lora_route(warm.page, status=200, body=garbage, headers={"Content-Type": "application/octet-stream"})
    try:
        warm.set_lora(True)
        failed = warm.generate(PROMPT)
        assert failed.state == "error"
        kind, message = warm.error()
        assert kind == "lora" and "LoRA adapter could not be loaded" in message
        assert "Failed to load TfLite model" in message
    finally:
        warm.page.unroute(f"**{LORA}")

    warm.set_lora(False)
    ok = warm.generate()
    assert ok.state == "done" and ok.tokens and ok.tokens >= 20
    assert ok.instances == before + 1

    # The real adapter (same URL) is downloaded again rather than the rejected bytes reused.
    warm.set_lora(True)
    adapted = warm.generate()
    assert adapted.state == "done" and adapted.lora is True and adapted.output != ok.output
