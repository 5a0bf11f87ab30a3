"""Model delivery on /chat: a cut download resumes with Range; too little storage or no WebGPU is
said plainly before any model byte is downloaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.chat_page import ChatPage, Traffic

pytestmark = pytest.mark.browser

CUT_AT = 300_000

SMALL_QUOTA = """
navigator.storage.estimate = async () => ({quota: 400000, usage: 100000});
"""

# Records persistence requests; the browser "grants" them (headless Chromium decides by heuristics).
PERSIST_GRANTED = """
window.__persistRequests = 0;
navigator.storage.persist = async () => { window.__persistRequests += 1; return true; };
navigator.storage.persisted = async () => window.__persistRequests > 0;
"""


def _page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    yield page
    page.close()


@pytest.fixture
def page(webgpu_browser: BrowserContext) -> Iterator[Page]:
    yield from _page(webgpu_browser)


def test_quota_too_small_is_said_before_any_download(page: Page, app_server) -> None:
    page.add_init_script(SMALL_QUOTA)
    traffic = Traffic().attach(page)
    chat = ChatPage(page, app_server.url).open()
    assert chat.phase == "blocked"
    storage = page.get_by_test_id("capability-storage")
    expect(storage).to_have_attribute("data-status", "fail")
    expect(storage).to_contain_text("only 293 KiB")
    expect(page.get_by_test_id("chat-blocked")).to_contain_text("Nothing has been downloaded")
    expect(page.get_by_test_id("download-model")).to_have_count(0)
    assert traffic.model_file_requests() == []


def test_no_webgpu_is_said_before_any_download(plain_page: Page, app_server) -> None:
    traffic = Traffic().attach(plain_page)
    chat = ChatPage(plain_page, app_server.url).open()
    assert chat.phase == "blocked"
    expect(plain_page.get_by_test_id("capability-adapter")).to_have_attribute("data-status", "fail")
    expect(plain_page.get_by_test_id("capability-adapter")).to_contain_text("enable-unsafe-webgpu")
    assert traffic.model_file_requests() == []


def test_model_file_picked_from_disk_is_stored_and_used_without_a_download(
    page: Page, app_server, demo_models_dir: Path
) -> None:
    page.add_init_script(PERSIST_GRANTED)
    traffic = Traffic().attach(page)
    chat = ChatPage(page, app_server.url).open()
    assert chat.phase == "need-model"
    persistence = page.get_by_test_id("storage-persistence")
    expect(persistence).to_have_attribute("data-persisted", "false")
    page.get_by_test_id("pick-model-file").set_input_files(str(demo_models_dir / "tiny-base.bin"))
    chat.wait_ready()
    assert chat.root.get_attribute("data-model-source") == "disk"  # the same bytes as the registered model
    assert traffic.model_file_requests() == []
    stored = page.locator("[data-testid=stored-file][data-kind=base]")
    expect(stored).to_have_attribute("data-complete", "true")
    # Once the model is stored the page asks the browser to keep it, and says it will.
    assert page.evaluate("window.__persistRequests") >= 1
    expect(persistence).to_have_attribute("data-persisted", "true")
    expect(persistence).to_contain_text("Persistent storage")
    # Deleted again from the page, so the next test starts without a stored model.
    stored.get_by_test_id("stored-delete").click()
    expect(stored).to_have_count(0)


def test_interrupted_download_resumes_with_range_and_verifies(page: Page, app_server) -> None:
    seen: list[dict[str, str]] = []

    def cut_first_response(route: Route) -> None:
        if not route.request.url.startswith(chat.base_url):
            route.continue_()
            return
        seen.append(dict(route.request.headers))
        if len(seen) == 1:
            # The connection "drops" after CUT_AT bytes of the real file.
            response = route.fetch()
            route.fulfill(
                status=200, headers={"content-type": "application/octet-stream"}, body=response.body()[:CUT_AT]
            )
        else:
            route.continue_()

    chat = ChatPage(page, app_server.url).open()
    page.route("**/*", cut_first_response)
    assert chat.phase == "need-model"
    chat.download()
    expect(page.get_by_test_id("model-error")).to_contain_text("resumes from there", timeout=30_000)
    partial = page.get_by_test_id("stored-file")
    expect(partial).to_have_attribute("data-complete", "false")
    expect(page.get_by_test_id("download-model")).to_contain_text("Resume")

    chat.download()
    chat.wait_ready()
    assert len(seen) == 2
    assert "range" not in seen[0]
    assert seen[1].get("range") == f"bytes={CUT_AT}-"
    progress = page.get_by_test_id("download-progress")
    assert progress.get_attribute("data-loaded") == progress.get_attribute("data-total")
    stored = page.get_by_test_id("stored-file")
    expect(stored).to_have_attribute("data-complete", "true")  # sha256 checked before it is kept
    expect(stored).to_contain_text("verified")


def test_a_return_visit_starts_the_stored_model_with_the_page_unless_the_server_changed_it(
    page: Page, app_server
) -> None:
    # The model the previous test stored: the engine starts loading it while the page loads.
    chat = ChatPage(page, app_server.url).open()
    chat.wait_ready()
    assert chat.root.get_attribute("data-model-source") == "stored"
    assert chat.root.get_attribute("data-warm-start") == "adopted"
    assert chat.creations == 1

    # An operator changes the defaults: the engine started with the old ones is not used.
    public = httpx.get(f"{app_server.url}/api/v1/config/public").json()
    changed = public["generation.max_tokens"] // 2
    page.route(
        "**/api/v1/config/public", lambda route: route.fulfill(json={**public, "generation.max_tokens": changed})
    )
    chat.open()
    chat.wait_ready()
    assert chat.root.get_attribute("data-warm-start") == "no"
    assert chat.creations == 1
    expect(page.get_by_test_id("setting-maxTokens")).to_have_value(str(changed))
    # ...and the next visit starts early again, with the new defaults.
    chat.open()
    chat.wait_ready()
    assert chat.root.get_attribute("data-warm-start") == "adopted"
    expect(page.get_by_test_id("setting-maxTokens")).to_have_value(str(changed))


def test_adapters_past_the_lora_memory_budget_go_to_a_fresh_engine(page: Page, app_server) -> None:
    # The runtime cannot unload a LoRA: past `lora.heap_budget_mib` of loaded LoRA files the chat
    # starts a fresh engine instance instead of loading another into the same one.
    public = httpx.get(f"{app_server.url}/api/v1/config/public").json()
    assert public["lora.heap_budget_mib"] == 256, "public, so the page can read it"
    small = {**public, "lora.heap_budget_mib": 1, "generation.max_tokens": 128}
    page.route("**/api/v1/config/public", lambda route: route.fulfill(json=small))
    chat = ChatPage(page, app_server.url).open()
    chat.wait_ready()  # the model stored by the tests before
    assert chat.creations == 1

    chat.pick("adapter-picker", "demo-tiny-attention-r4")  # 1 MiB: an instance takes its first LoRA
    chat.send("Hello.")
    expect(chat.messages("model")).to_have_count(1)
    assert chat.creations == 1 and chat.error_text() == ""
    chat.pick("adapter-picker", "demo-tiny-mediapipe-r16")  # another MiB would pass the budget
    chat.send("Hello again.")
    expect(chat.messages("model")).to_have_count(2)
    assert chat.creations == 2 and chat.error_text() == ""
    assert chat.messages("model").last.get_by_test_id("message-adapter").inner_text()


def test_compare_view_follows_the_compare_enabled_config_key(page: Page, app_server) -> None:
    public = httpx.get(f"{app_server.url}/api/v1/config/public").json()
    assert public["compare.enabled"] is True, "the key is public, so the page can read it"
    chat = ChatPage(page, app_server.url).open()
    expect(page.get_by_test_id("compare-panel")).to_be_visible()

    # An operator turns compare off: the page hides the view (served config, as the page reads it).
    page.route(
        "**/api/v1/config/public",
        lambda route: route.fulfill(json={**public, "compare.enabled": False}),
    )
    chat.open()
    expect(page.get_by_test_id("chat-panel")).to_be_visible()
    expect(page.get_by_test_id("compare-panel")).to_have_count(0)


# Every 10 ms timer's lateness on the page's main thread, from before the page's scripts run.
HEARTBEAT = """(() => {
  window.__stalls = [];
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    window.__stalls.push([last, now - last]);
    last = now;
  }, 10);
})();"""


def test_the_engine_builds_and_answers_in_its_worker_while_the_page_stays_responsive(page: Page, app_server) -> None:
    # Creating an instance is one long synchronous wasm task (~0.9 s for the tiny model, seconds for
    # Gemma2-2b). In the engine's worker it no longer freezes the page: a settings change makes the
    # next answer start a fresh instance, and the page's timers keep running through it.
    page.add_init_script(HEARTBEAT)
    chat = ChatPage(page, app_server.url).open()
    chat.wait_ready()  # the model stored by the tests before
    assert any(w.url.endswith("/engine/engine_worker.js") for w in page.workers)
    created = chat.creations
    page.get_by_test_id("setting-temperature").fill("0.55")  # another instance key
    started = page.evaluate("performance.now()")
    chat.send("Hello while the engine restarts.")
    assert chat.creations == created + 1, "the settings change started a fresh instance"
    assert chat.error_text() == ""
    worst = page.evaluate(
        "(t) => Math.max(0, ...window.__stalls.filter(([at]) => at >= t).map(([, gap]) => gap))", started
    )
    assert worst < 300, f"the page's main thread stalled {worst:.0f} ms while the engine started and answered"


def test_an_engine_worker_that_cannot_load_is_reported_not_waited_for(page: Page, app_server) -> None:
    page.route("**/engine/engine_worker.js", lambda route: route.fulfill(status=404, body="missing"))
    chat = ChatPage(page, app_server.url).open()
    expect(chat.root).to_have_attribute("data-phase", "error", timeout=30_000)
    expect(page.get_by_test_id("model-error")).to_contain_text("could not be started")
