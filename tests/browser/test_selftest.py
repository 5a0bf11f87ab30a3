"""The self-test page runs the real MediaPipe runtime on the tiny demo model in headless Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.selftest_page import SelfTestPage

pytestmark = pytest.mark.browser

PROMPT = "Write a short poem about a lighthouse."

# Records every distinct text the output box shows while a generation runs.
WATCH_OUTPUT = """() => {
    const box = document.querySelector('[data-testid=output]');
    window.__seen = [];
    new MutationObserver(() => {
        if (box.dataset.state === 'generating') {
            const text = box.innerText;
            if (window.__seen[window.__seen.length - 1] !== text) window.__seen.push(text);
        }
    }).observe(box, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


@pytest.fixture
def selftest(gpu_page: Page, app_server) -> SelfTestPage:
    return SelfTestPage(gpu_page, app_server.url).open()


def test_loads_tiny_model_streams_tokens_and_runs_again_after_reload(selftest: SelfTestPage) -> None:
    assert selftest.verdict in ("ready", "limited")
    expect(selftest.page.get_by_test_id("capability-adapter")).not_to_have_attribute("data-status", "fail")

    selftest.set_max_tokens(128)
    selftest.load()
    size = selftest.page.get_by_test_id("load-bytes")
    assert size.get_attribute("data-loaded") == size.get_attribute("data-total") == str(1 << 20)
    assert (selftest.metric("load-ms") or 0) > 0
    assert selftest.metric("instances") == 1

    selftest.page.evaluate(WATCH_OUTPUT)
    result = selftest.generate(PROMPT)

    assert result.state == "done", selftest.root.inner_text()
    assert result.tokens is not None and result.tokens >= 20
    assert result.prompt_tokens and result.tokens + result.prompt_tokens <= 128
    assert result.output.strip()
    assert result.ttft_ms and result.ttft_ms > 0
    assert result.tokens_per_sec and result.tokens_per_sec > 0
    # Streamed: the box grew through several partial texts, each a prefix of the final answer.
    seen = selftest.page.evaluate("window.__seen")
    assert len(seen) >= 3 and result.increments >= 3
    assert all(result.output.startswith(part) for part in seen)
    assert [len(part) for part in seen] == sorted(len(part) for part in seen)
    assert result.instances == 1 and not selftest.page.page_errors

    # A reload tears the page's engine down; the new page starts one and gives the same answer.
    selftest.page.reload()
    selftest.open()
    again = selftest.generate(PROMPT, max_tokens=128)
    assert again.state == "done" and again.instances == 1
    assert again.output == result.output


def test_tiny_lora_changes_the_output(selftest: SelfTestPage) -> None:
    base = selftest.generate(PROMPT, max_tokens=64)  # loads the model on first use
    again = selftest.generate()
    selftest.set_lora(True)
    adapted = selftest.generate()

    assert base.state == again.state == adapted.state == "done"
    assert base.lora is False and adapted.lora is True
    assert base.output and base.output == again.output, "topK 1 and a fixed seed must be deterministic"
    assert adapted.output and adapted.output != base.output
    assert adapted.instances == 1  # the adapter loads into the running engine


def test_stop_ends_generation_early_and_engine_stays_usable(selftest: SelfTestPage) -> None:
    output = selftest.page.get_by_test_id("output")
    selftest.set_prompt(PROMPT)
    selftest.set_max_tokens(512)
    run = selftest.start(with_enter=True)  # Enter in the prompt generates
    expect(output).to_have_attribute("data-state", "generating", timeout=60_000)
    selftest.page.keyboard.press("Escape")  # Esc stops
    stopped = selftest.wait(run)

    assert stopped.state == "cancelled" and stopped.cancelled is True
    assert stopped.output.strip()
    assert stopped.tokens is not None and stopped.prompt_tokens is not None
    assert stopped.tokens < (512 - stopped.prompt_tokens) // 2

    # The same engine generates again after a stop; this time the Stop button ends it.
    run = selftest.start()
    expect(output).to_have_attribute("data-state", "generating", timeout=60_000)
    selftest.page.get_by_test_id("stop-button").click()
    second = selftest.wait(run)
    assert second.state == "cancelled" and second.output.strip()
    assert second.tokens is not None and second.tokens < (512 - stopped.prompt_tokens) // 2
    assert second.instances == 1


def test_model_streamed_into_the_runtime_loads_and_generates(gpu_page: Page, app_server) -> None:
    """?source=stream hands the runtime a checked stream instead of bytes (the path for big models)."""
    selftest = SelfTestPage(gpu_page, app_server.url).open(source="stream")
    expect(selftest.page.get_by_test_id("model-panel")).to_contain_text("streamed into the engine")
    selftest.set_max_tokens(64)
    selftest.load()
    assert selftest.page.get_by_test_id("load-bytes").get_attribute("data-loaded") == str(1 << 20)

    result = selftest.generate(PROMPT)
    assert result.state == "done" and result.tokens and result.tokens >= 20
    assert result.instances == 1 and not selftest.has_error()
