"""Drives /chat through its data-testid hooks, and records what the page sends over the network."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import Page, Request, Response, WebSocket, expect

ENGINE_TIMEOUT_MS = 90_000

# Watches the chat's data-busy attribute from now on (old values too, so a true -> false within one
# task is not missed).
SAW_BUSY = """() => {
    window.__lorastudioBusyWatch?.disconnect();
    window.__lorastudioSawBusy = false;
    const root = document.querySelector('[data-testid=private-chat]');
    const watch = new MutationObserver((records) => {
        if (root.dataset.busy === 'true' || records.some((r) => r.oldValue === 'true')) window.__lorastudioSawBusy = true;
    });
    watch.observe(root, {attributes: true, attributeFilter: ['data-busy'], attributeOldValue: true});
    window.__lorastudioBusyWatch = watch;
}"""


@dataclass
class Traffic:
    """Every request (URL, method, headers, body) and websocket frame the page produced."""

    requests: list[dict] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)
    events_answers: list[tuple[int, str]] = field(default_factory=list)

    def attach(self, page: Page) -> Traffic:
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        page.on("websocket", self._on_websocket)
        return self

    def _on_request(self, request: Request) -> None:
        try:
            body = request.post_data_buffer or b""
        except Exception:  # noqa: BLE001 - a body Playwright cannot read is still recorded as such
            body = b"<unreadable>"
        self.requests.append(
            {
                "url": request.url,
                "method": request.method,
                "headers": dict(request.headers),
                "body": body.decode("utf-8", "replace"),
            }
        )

    def _on_response(self, response: Response) -> None:
        if response.url.endswith("/api/v1/events"):
            try:
                body = response.text()
            except Exception:  # noqa: BLE001 - the page may be gone already
                body = ""
            self.events_answers.append((response.status, body))

    def _on_websocket(self, ws: WebSocket) -> None:
        self.frames.append(f"open {ws.url}")
        ws.on("framesent", lambda payload: self.frames.append(_text(payload)))
        ws.on("framereceived", lambda payload: self.frames.append(_text(payload)))

    def model_requests(self, url: str) -> list[dict]:
        """Requests for the model file at `url` (the stored copy is read from blob: URLs, not listed)."""
        return [r for r in self.requests if r["url"].split("?")[0] == url]

    def model_file_requests(self) -> list[dict]:
        """Any request for a model or adapter file (catalog /files/ route or the demo .bin files)."""
        return [r for r in self.requests if "/files/" in r["url"] or r["url"].split("?")[0].endswith(".bin")]

    def everything(self) -> list[str]:
        out = []
        for r in self.requests:
            out += [r["url"], r["body"], *(f"{k}: {v}" for k, v in r["headers"].items())]
        return out + self.frames


def _text(payload: str | bytes) -> str:
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload


class ChatPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.app_url = base_url
        self.root = page.get_by_test_id("private-chat")

    def open(self, query: str = "") -> ChatPage:
        self.page.goto(f"{self.app_url}/chat{query}")
        expect(self.page.get_by_test_id("chat-verdict")).not_to_have_attribute(
            "data-verdict", "checking", timeout=30_000
        )
        expect(self.root).not_to_have_attribute("data-phase", "checking", timeout=30_000)
        return self

    @property
    def phase(self) -> str:
        return self.root.get_attribute("data-phase") or ""

    @property
    def base_url(self) -> str:
        """The base model's download URL, as the page got it from the catalog."""
        return self.root.get_attribute("data-base-url") or ""

    @property
    def adapter_ids(self) -> list[str]:
        return [a for a in (self.root.get_attribute("data-adapter-ids") or "").split(",") if a]

    @property
    def creations(self) -> int:
        return int(self.root.get_attribute("data-engine-creations") or 0)

    def wait_ready(self) -> None:
        expect(self.root).to_have_attribute("data-phase", "ready", timeout=ENGINE_TIMEOUT_MS)

    def download(self) -> None:
        self.page.get_by_test_id("download-model").click()

    def pick(self, testid: str, option: str) -> None:
        self.page.get_by_test_id(testid).select_option(option)
        expect(self.page.get_by_test_id(testid)).to_have_attribute("data-value", option)

    def messages(self, role: str | None = None):
        selector = "[data-testid=chat-message]" + (f"[data-role={role}]" if role else "")
        return self.page.locator(selector)

    def wait_idle(self, timeout_ms: int = ENGINE_TIMEOUT_MS) -> None:
        expect(self.root).to_have_attribute("data-busy", "false", timeout=timeout_ms)

    def send(self, text: str, *, wait: bool = True) -> None:
        box = self.page.get_by_test_id("chat-input")
        box.fill(text)
        # A send that fails at once (an adapter file that 404s) is busy for a moment only, less than
        # a poll: record every data-busy change, and check that one of them was to "true".
        self.page.evaluate(SAW_BUSY)
        box.press("Enter")
        self.page.wait_for_function("window.__lorastudioSawBusy === true", timeout=5_000)
        if wait:
            self.wait_idle()

    def last_answer(self) -> tuple[str, int, bool]:
        message = self.messages("model").last
        meta = message.get_by_test_id("message-meta")
        return (
            message.get_by_test_id("message-text").inner_text(),
            int(meta.get_attribute("data-tokens") or 0),
            meta.get_attribute("data-cancelled") == "true",
        )

    def error_text(self) -> str:
        errors = self.page.locator("[data-testid=chat-error], [data-testid=model-error]")
        return errors.all_inner_texts().__str__() if errors.count() else ""
