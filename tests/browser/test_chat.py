"""/chat on the real runtime with the tiny demo model: one warm page walks through the whole flow.

The tests run in file order and share one browser profile (so one download, one stored model), to
keep shader compilation (5-13 s per engine instance here) to a few instances. The tiny model's
answers are gibberish: assertions are about structure, never words.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.chat_page import ChatPage, Traffic

pytestmark = pytest.mark.browser

CANARY = f"canary-{uuid.uuid4().hex[:12]}"
# Two demo-catalog adapters the tiny base accepts. (demo-tiny-mlp-r8 fails in the runtime with
# "Tensor size does not match: ...ffn_layer1_gate.w_prime_left": a catalog converter issue.)
ADAPTERS = ("demo-tiny-attention-r4", "demo-tiny-mediapipe-r16")
MAX_TOKENS = 256  # small context: short answers keep this file fast, and history must be trimmed

# Records each distinct text of the streaming answer while it grows.
WATCH_STREAM = """() => {
    window.__seen = [];
    const box = document.querySelector('[data-testid=chat-messages]');
    new MutationObserver(() => {
        const live = box.querySelector('[data-testid=chat-message][data-state=generating] [data-testid=message-text]');
        if (!live) return;
        const text = live.innerText;
        if (text && window.__seen[window.__seen.length - 1] !== text) window.__seen.push(text);
    }).observe(box, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def shared(webgpu_browser: BrowserContext, app_server) -> Iterator[tuple[ChatPage, Traffic, dict]]:
    page: Page = webgpu_browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    traffic = Traffic().attach(page)
    answers: dict[str, list[str]] = {"answers": [], "errors": errors}
    yield ChatPage(page, app_server.url), traffic, answers
    page.close()


def test_first_visit_checks_downloads_with_progress_and_streams_a_reply(shared) -> None:
    chat, traffic, seen = shared
    chat.open()
    assert chat.page.get_by_test_id("chat-verdict").get_attribute("data-verdict") in ("ready", "limited")
    expect(chat.page.get_by_test_id("capability-storage")).to_have_attribute("data-status", "pass")
    assert chat.phase == "need-model"
    assert traffic.model_file_requests() == [], "nothing is downloaded before the user asks"
    base = chat.base_url
    assert base and set(ADAPTERS) <= set(chat.adapter_ids)

    # Chosen before the engine starts, so it is created once with these settings.
    chat.page.get_by_test_id("setting-maxTokens").fill(str(MAX_TOKENS))
    chat.download()
    chat.wait_ready()
    progress = chat.page.get_by_test_id("download-progress")
    assert int(progress.get_attribute("data-loaded")) == int(progress.get_attribute("data-total")) >= 1 << 20
    assert len(traffic.model_requests(base)) == 1
    stored = chat.page.get_by_test_id("stored-file")
    expect(stored).to_have_count(1)
    assert stored.get_attribute("data-complete") == "true"
    assert chat.creations == 1

    chat.page.evaluate(WATCH_STREAM)
    chat.send(f"Tell me about {CANARY} please.")
    text, tokens, cancelled = chat.last_answer()
    assert text.strip() and tokens > 0 and not cancelled, chat.error_text()
    streamed = chat.page.evaluate("window.__seen")
    assert len(streamed) >= 2, "the answer is painted while it streams"
    assert [len(s) for s in streamed] == sorted(len(s) for s in streamed)
    seen["answers"].append(text)

    # A second turn: the history goes into the prompt, the reply is appended.
    chat.send(f"And again, {CANARY}?")
    expect(chat.messages()).to_have_count(4)
    text2, tokens2, _ = chat.last_answer()
    assert text2.strip() and tokens2 > 0
    # The first exchange filled most of the small context: it was left out, and the page says so.
    expect(chat.messages("model").last.get_by_test_id("history-note")).to_contain_text("left out")
    seen["answers"].append(text2)
    assert chat.creations == 1

    # Metrics for analytics: counts and timings only.
    events = chat.page.evaluate("window.__lorastudioMetrics")
    types = [event["type"] for event in events]
    for expected in ("capability_check", "model_download", "engine_init", "generation_finished"):
        assert expected in types, types
    finished = [event for event in events if event["type"] == "generation_finished"]
    assert len(finished) == 2 and all(event["output_tokens"] > 0 for event in finished)
    flat = json.dumps(events)
    assert CANARY not in flat and text[:24] not in flat


@pytest.mark.skip(
    reason="timing-dependent (issue 5 open): with the shared page's trimmed 256-token context the answer can "
    "finish before its first paint, so Esc has nothing to stop; failed once in CI on a quiet machine"
)
def test_escape_stops_generation_and_the_engine_stays_usable(shared) -> None:
    chat, _, seen = shared
    chat.send("Write a very long story about the sea.", wait=False)
    expect(
        chat.page.locator("[data-testid=chat-message][data-state=generating] [data-testid=markdown] > *").first
    ).to_be_visible(timeout=60_000)
    chat.page.keyboard.press("Escape")
    chat.wait_idle(30_000)
    text, tokens, cancelled = chat.last_answer()
    assert cancelled, "the answer is marked as stopped"
    seen["answers"].append(text)
    # Regenerate replaces the last answer in place.
    count = chat.messages().count()
    chat.messages("model").last.get_by_test_id("regenerate").click()
    chat.wait_idle()
    expect(chat.messages()).to_have_count(count)
    seen["answers"].append(chat.last_answer()[0])
    assert chat.creations == 1


def test_switching_adapters_never_reloads_the_base_model(shared) -> None:
    chat, _, seen = shared
    first, second = ADAPTERS
    chat.pick("adapter-picker", first)
    chat.send(f"With the adapter: {CANARY}")
    assert chat.messages("model").last.get_by_test_id("message-adapter").inner_text()
    seen["answers"].append(chat.last_answer()[0])
    chat.pick("adapter-picker", second)
    chat.send("Another adapter.")
    seen["answers"].append(chat.last_answer()[0])
    chat.pick("adapter-picker", "none")
    assert chat.creations == 1, "adapters load into the running engine"

    # Edit-and-resend: the conversation is cut after the edited message and answered again.
    chat.messages("user").first.get_by_test_id("edit-message").click()
    chat.page.get_by_test_id("edit-input").fill(f"Edited {CANARY}")
    chat.page.get_by_test_id("edit-send").click()
    chat.wait_idle()
    expect(chat.messages()).to_have_count(2)
    assert chat.messages("user").first.inner_text().startswith(f"Edited {CANARY}")
    seen["answers"].append(chat.last_answer()[0])


def test_compare_shows_two_different_answers_from_one_engine(shared) -> None:
    chat, _, seen = shared
    chat.pick("compare-a-picker", "none")
    chat.pick("compare-b-picker", ADAPTERS[0])
    chat.page.get_by_test_id("compare-input").fill(f"Compare {CANARY}")
    chat.page.get_by_test_id("compare-run").click()
    expect(chat.page.get_by_test_id("compare-results")).to_be_visible(timeout=120_000)
    a = chat.page.get_by_test_id("compare-result-a").get_by_test_id("compare-text").inner_text()
    b = chat.page.get_by_test_id("compare-result-b").get_by_test_id("compare-text").inner_text()
    assert a.strip() and b.strip() and a != b
    seen["answers"] += [a, b]
    assert chat.creations == 1


def test_history_survives_a_reload_without_model_bytes_over_the_network(shared, tmp_path) -> None:
    chat, traffic, _ = shared
    before = len(traffic.model_requests(chat.base_url))
    chat.page.reload()
    chat.open()
    chat.wait_ready()
    assert chat.root.get_attribute("data-model-source") == "stored"
    assert len(traffic.model_requests(chat.base_url)) == before, "the second visit uses the stored copy"

    items = chat.page.get_by_test_id("conversation-item")
    expect(items).to_have_count(1)
    items.first.get_by_test_id("conversation-open").click()
    expect(chat.messages()).to_have_count(2)
    assert CANARY in chat.messages("user").first.inner_text()

    with chat.page.expect_download() as download:
        chat.page.get_by_test_id("export-json").click()
    exported = json.loads(download.value.path().read_text())
    assert [m["role"] for m in exported["messages"]] == ["user", "model"]
    assert CANARY in exported["messages"][0]["text"]
    with chat.page.expect_download() as download:
        chat.page.get_by_test_id("export-markdown").click()
    markdown = download.value.path().read_text()
    assert CANARY in markdown and "## You" in markdown and "## Model" in markdown

    items.first.get_by_test_id("conversation-rename").click()
    chat.page.get_by_test_id("rename-input").fill("Renamed chat")
    chat.page.get_by_test_id("rename-save").click()
    expect(items.first.get_by_test_id("conversation-title")).to_have_text("Renamed chat")
    chat.page.reload()
    chat.open()
    expect(chat.page.get_by_test_id("conversation-title")).to_have_text(["Renamed chat"])
    chat.page.get_by_test_id("conversation-delete").click()
    expect(chat.page.get_by_test_id("conversation-item")).to_have_count(0)


def test_nothing_of_the_conversation_reaches_the_network(shared) -> None:
    _, traffic, seen = shared
    assert traffic.frames, "the websocket was watched"
    pieces = [CANARY]
    for answer in seen["answers"]:
        text = answer.strip()
        pieces += [
            text[i : i + 24] for i in range(0, max(1, len(text) - 24), 24) if len(text[i : i + 24].strip()) >= 12
        ]
    # Metrics did go out (so this check covers them) and the ingest accepted every field we send.
    posts = [r for r in traffic.requests if r["url"].endswith("/api/v1/events") and r["method"] == "POST"]
    assert posts and traffic.events_answers
    assert all(status == 202 for status, _ in traffic.events_answers), traffic.events_answers
    assert all(json.loads(body).get("rejected") in (None, []) for _, body in traffic.events_answers if body)
    haystack = traffic.everything()
    leaks = [piece for piece in pieces if any(piece in item for item in haystack)]
    assert not leaks, f"conversation text seen on the network: {leaks[:3]}"


def test_deleting_the_stored_model_downloads_it_again(shared) -> None:
    chat, traffic, _ = shared
    base = chat.base_url
    before = len(traffic.model_requests(base))
    stored_base = chat.page.locator("[data-testid=stored-file][data-kind=base]")
    stored_base.get_by_test_id("stored-delete").click()
    expect(stored_base).to_have_count(0)
    chat.page.reload()
    chat.open()
    assert chat.phase == "need-model"
    chat.download()
    chat.wait_ready()
    assert len(traffic.model_requests(base)) == before + 1
