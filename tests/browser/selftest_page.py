"""Drives the /selftest page through its data-testid hooks (the same controls a user clicks)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from playwright.sync_api import Page, expect

# Engine operations on the CPU-only test machine: first generation of an instance ~5-10 s.
ENGINE_TIMEOUT_MS = 60_000
FINAL_STATES = ("done", "cancelled", "error")


@dataclass
class Result:
    state: str
    output: str
    tokens: int | None
    prompt_tokens: int | None
    ttft_ms: float | None
    tokens_per_sec: float | None
    increments: int
    instances: int
    cancelled: bool | None
    lora: bool | None


def _number(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


class SelfTestPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.root = page.get_by_test_id("engine-selftest")

    def open(self, **query: str | int) -> SelfTestPage:
        suffix = f"?{urlencode(query)}" if query else ""
        self.page.goto(f"{self.base_url}/selftest{suffix}")
        expect(self.page.get_by_test_id("capability-verdict")).not_to_have_attribute(
            "data-verdict", "checking", timeout=20_000
        )
        return self

    @property
    def verdict(self) -> str:
        return self.page.get_by_test_id("capability-verdict").get_attribute("data-verdict") or ""

    def load(self, *, expect_state: str = "ready") -> None:
        self.page.get_by_test_id("load-button").click()
        expect(self.page.get_by_test_id("load-status")).to_have_attribute(
            "data-state", expect_state, timeout=ENGINE_TIMEOUT_MS
        )

    def set_prompt(self, text: str) -> None:
        self.page.get_by_test_id("prompt-input").fill(text)

    def set_max_tokens(self, value: int) -> None:
        self.page.get_by_test_id("max-tokens-input").fill(str(value))

    def set_lora(self, on: bool) -> None:
        toggle = self.page.get_by_test_id("lora-toggle")
        if (toggle.get_attribute("aria-checked") == "true") != on:
            toggle.click()
        expect(toggle).to_have_attribute("aria-checked", "true" if on else "false")

    @property
    def run(self) -> int:
        return int(self.root.get_attribute("data-run") or 0)

    def start(self, *, with_enter: bool = False) -> int:
        """Start a generation; returns its run number."""
        run = self.run + 1
        if with_enter:
            self.page.get_by_test_id("prompt-input").press("Enter")
        else:
            self.page.get_by_test_id("generate-button").click()
        expect(self.root).to_have_attribute("data-run", str(run), timeout=5_000)
        return run

    def wait(self, run: int, timeout_ms: int = ENGINE_TIMEOUT_MS) -> Result:
        self.page.wait_for_function(
            """([run, finals]) => {
                const root = document.querySelector('[data-testid=engine-selftest]');
                return root && Number(root.dataset.run) === run && finals.includes(root.dataset.state);
            }""",
            arg=[run, list(FINAL_STATES)],
            timeout=timeout_ms,
        )
        return self.result()

    def generate(self, prompt: str | None = None, **kwargs: int) -> Result:
        if prompt is not None:
            self.set_prompt(prompt)
        if "max_tokens" in kwargs:
            self.set_max_tokens(kwargs["max_tokens"])
        return self.wait(self.start())

    def metric(self, name: str) -> float | None:
        return _number(self.page.get_by_test_id(f"metric-{name}").get_attribute("data-value"))

    def result(self) -> Result:
        summary = self.page.get_by_test_id("result-summary")
        has_summary = summary.count() > 0
        tokens = self.metric("tokens")
        prompt_tokens = self.metric("prompt-tokens")
        return Result(
            state=self.root.get_attribute("data-state") or "",
            output=self.page.get_by_test_id("output").inner_text() if has_summary else "",
            tokens=int(tokens) if tokens is not None else None,
            prompt_tokens=int(prompt_tokens) if prompt_tokens is not None else None,
            ttft_ms=self.metric("ttft-ms"),
            tokens_per_sec=self.metric("tokens-per-sec"),
            increments=int(self.metric("increments") or 0),
            instances=int(self.metric("instances") or 0),
            cancelled=summary.get_attribute("data-cancelled") == "true" if has_summary else None,
            lora=summary.get_attribute("data-lora") == "true" if has_summary else None,
        )

    def error(self, timeout_ms: int = ENGINE_TIMEOUT_MS) -> tuple[str, str]:
        callout = self.page.get_by_test_id("engine-error")
        expect(callout).to_be_visible(timeout=timeout_ms)
        return callout.get_attribute("data-kind") or "", self.page.get_by_test_id("engine-error-message").inner_text()

    def has_error(self) -> bool:
        return self.page.get_by_test_id("engine-error").count() > 0
