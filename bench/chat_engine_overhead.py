"""Engine overhead of /chat: decode tokens/s through the full chat page vs a bare tasks-genai page.

Both sides run in one Chromium (WebGPU on) with the same tiny model bytes (the chat's own base-model
URL, copied to the bare site), runtime files, prompt (the chat's Gemma turn template applied to the
same text), maxTokens, topK 1, temperature, seed and LoRA ranks (the server's public config). Decode
tokens/s is measured the same way on both sides ((tokens - tokens of the first increment) / time
from first to last increment, tokens by sizeInTokens after the run); the chat's figure is the one
it shows under the answer (data-tps). Each side loads the model and runs one warm-up generation
(shader compilation), then they take turns (chat, bare, bare, chat, ...) so drifting machine load
hits both alike. The chat side streams, renders markdown and saves to IndexedDB as a user sees it.

    .venv/bin/python bench/chat_engine_overhead.py [--pairs 6] [--max-tokens 512]

Prints both medians, the median of paired ratios and chat/bare. Target (issue 5): at least 0.98.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import BrowserContext  # noqa: E402

from bench._app_browser import start_app, webgpu_context  # noqa: E402
from bench.engine_overhead import bare_site  # noqa: E402

TEXT = "Write a short poem about a lighthouse."
PROMPT = f"<start_of_turn>user\n{TEXT}<end_of_turn>\n<start_of_turn>model\n"  # chat.jsx gemmaPrompt()
TOP_K = 1
SEED = 1
TIMEOUT_MS = 180_000


class ChatSide:
    name = "chat"

    def __init__(self, context: BrowserContext, url: str, *, max_tokens: int) -> None:
        self.page = context.new_page()
        self.page.goto(f"{url}/chat")
        self.root = self.page.get_by_test_id("private-chat")
        self.page.wait_for_selector("[data-testid=download-model]", timeout=60_000)
        self.base_url = self.root.get_attribute("data-base-url") or ""
        config = self.page.evaluate("fetch('/api/v1/config/public').then(r => r.json())")
        self.temperature = float(config.get("generation.temperature", 0.8))
        self.lora_ranks = [int(r) for r in config.get("lora.ranks", [4, 8, 16])]
        for key, value in (("maxTokens", max_tokens), ("topK", TOP_K), ("seed", SEED)):
            self.page.get_by_test_id(f"setting-{key}").fill(str(value))
        self.page.get_by_test_id("download-model").click()
        self.page.wait_for_selector("[data-testid=private-chat][data-phase=ready]", timeout=TIMEOUT_MS)

    def generate(self) -> tuple[float, int]:
        self.page.get_by_test_id("new-conversation").click()
        box = self.page.get_by_test_id("chat-input")
        box.fill(TEXT)
        box.press("Enter")
        self.page.wait_for_selector("[data-testid=private-chat][data-busy=true]", timeout=10_000)
        self.page.wait_for_selector("[data-testid=private-chat][data-busy=false]", timeout=TIMEOUT_MS)
        meta = self.page.locator("[data-testid=message-meta]").last
        return float(meta.get_attribute("data-tps") or "nan"), int(meta.get_attribute("data-tokens") or 0)


class BareSide:
    name = "bare"

    def __init__(self, context: BrowserContext, url: str, *, max_tokens: int, temperature: float, ranks: list[int]):
        self.page = context.new_page()
        self.page.goto(f"{url}/index.html")
        self.page.wait_for_function("window.benchReady === true")
        options = {"maxTokens": max_tokens, "topK": TOP_K, "temperature": temperature, "randomSeed": SEED}
        self.page.evaluate("(o) => window.benchLoad(o)", {**options, "loraRanks": ranks})

    def generate(self) -> tuple[float, int]:
        result = self.page.evaluate("(p) => window.benchGenerate(p)", PROMPT)
        return float(result["decodeTokensPerSec"]), int(result["tokens"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=6, help="measured generation pairs")
    parser.add_argument("--max-tokens", type=int, default=512)
    args = parser.parse_args(argv)
    samples: dict[str, list[float]] = {"chat": [], "bare": []}
    ratios: list[float] = []
    with contextlib.ExitStack() as stack:
        app, data_dir = start_app(stack)
        context = webgpu_context(stack)
        chat = ChatSide(context, app.url, max_tokens=args.max_tokens)
        model = data_dir / "bench-base.bin"
        model.write_bytes(httpx.get(chat.base_url, timeout=60).content)
        bare_url = stack.enter_context(bare_site(model, app.genai_package))
        bare = BareSide(
            context, bare_url, max_tokens=args.max_tokens, temperature=chat.temperature, ranks=chat.lora_ranks
        )
        sides = [chat, bare]
        for side in sides:
            side.generate()  # warm-up: the first generation of an instance compiles shaders
        for n in range(args.pairs):
            order = sides if n % 2 == 0 else sides[::-1]
            rates = {}
            for side in order:
                rate, tokens = side.generate()
                rates[side.name] = (rate, tokens)
                samples[side.name].append(rate)
            ratios.append(rates["chat"][0] / rates["bare"][0])
            print(
                f"pair {n + 1}: chat {rates['chat'][0]:6.1f} tok/s ({rates['chat'][1]} tokens)  "
                f"bare {rates['bare'][0]:6.1f} tok/s ({rates['bare'][1]} tokens)  ratio {ratios[-1]:.3f}",
                flush=True,
            )
    chat_rate = statistics.median(samples["chat"])
    bare_rate = statistics.median(samples["bare"])
    print()
    print(f"tiny model, maxTokens {args.max_tokens}, topK {TOP_K}, seed {SEED}, {args.pairs} interleaved pairs")
    print(f"chat page  : {chat_rate:7.1f} tokens/s (median)")
    print(f"bare page  : {bare_rate:7.1f} tokens/s (median)")
    print(
        f"chat/bare  : {chat_rate / bare_rate:7.3f}  (median of paired ratios {statistics.median(ratios):.3f}; "
        "target >= 0.98)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
