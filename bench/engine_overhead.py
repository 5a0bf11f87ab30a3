"""Overhead of the app's engine component: tiny-model decode speed through /selftest vs a bare page.

Both sides run in one Chromium (WebGPU on), with the same model bytes, runtime files, prompt,
maxTokens, topK 1, seed and LoRA ranks, and measure decode tokens/s the same way
((tokens - tokens of the first increment) / time from first to last increment, counted with
sizeInTokens after the run). An app page and a bare page stay open side by side and take turns
(app, bare, bare, app, ...), so drifting machine load hits both alike; each loads the model and
runs one warm-up generation first (the first generation of an instance compiles GPU shaders).

    .venv/bin/python bench/engine_overhead.py [--reps 3] [--gens 4] [--max-tokens 256]

Prints both figures and app/bare (target >= 0.95).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import shutil
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import BrowserContext, sync_playwright  # noqa: E402

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.app_server import AppServer  # noqa: E402

PROMPT = "Write a short poem about a lighthouse."
LORA_RANKS = [4, 8, 16]  # what /selftest declares; the graph depends on it
TOP_K = 1
SEED = 1  # the self-test component's seed
TEMPERATURE = 0.8  # the runtime default, which the component keeps
TIMEOUT_MS = 120_000

BARE_PAGE = """<!doctype html>
<meta charset="utf-8"><title>bare tasks-genai</title>
<script type="module">
import { FilesetResolver, LlmInference } from "./genai_bundle.mjs";
let instance = null;
window.benchLoad = async (options) => {
  const fileset = await FilesetResolver.forGenAiTasks(new URL("wasm", location.href).href);
  const response = await fetch("model.bin");
  const bytes = new Uint8Array(await response.arrayBuffer());
  instance = await LlmInference.createFromOptions(fileset, {
    baseOptions: { modelAssetBuffer: bytes }, ...options,
  });
};
window.benchGenerate = async (prompt) => {
  const started = performance.now();
  let first = null, last = null, firstChunk = "";
  const text = await instance.generateResponse(prompt, (partial) => {
    if (!partial) return;
    const t = performance.now();
    if (first === null) { first = t; firstChunk = partial; }
    last = t;
  });
  const tokens = instance.sizeInTokens(text);
  const firstTokens = instance.sizeInTokens(firstChunk);
  return { tokens, ttftMs: first - started, decodeTokensPerSec: ((tokens - firstTokens) * 1000) / (last - first) };
};
window.benchReady = true;
</script>
"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".wasm": "application/wasm",
    }

    def log_message(self, *_args: object) -> None:
        pass


@contextlib.contextmanager
def bare_site(model: Path, package: Path) -> Iterator[str]:
    """A plain static server with the bare page, the package's ESM bundle, its wasm and the model."""
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
        site = Path(tmp)
        (site / "index.html").write_text(BARE_PAGE)
        shutil.copy(package / "genai_bundle.mjs", site / "genai_bundle.mjs")
        shutil.copytree(package / "wasm", site / "wasm")
        shutil.copy(model, site / "model.bin")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(site)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


class BareSide:
    """The baseline: a plain page calling tasks-genai directly."""

    name = "bare"

    def __init__(self, context: BrowserContext, url: str, *, max_tokens: int) -> None:
        self.page = context.new_page()
        self.page.goto(f"{url}/index.html")
        self.page.wait_for_function("window.benchReady === true")
        options = {
            "maxTokens": max_tokens,
            "topK": TOP_K,
            "temperature": TEMPERATURE,
            "randomSeed": SEED,
            "loraRanks": LORA_RANKS,
        }
        self.page.evaluate("(o) => window.benchLoad(o)", options)

    def generate(self) -> float:
        return float(self.page.evaluate("(p) => window.benchGenerate(p)", PROMPT)["decodeTokensPerSec"])

    def close(self) -> None:
        self.page.close()


class AppSide:
    """The app: the /selftest page driven through its own controls; the rate is what it displays."""

    name = "app"

    def __init__(self, context: BrowserContext, url: str, *, max_tokens: int) -> None:
        self.page = context.new_page()
        self.page.goto(f"{url}/selftest")
        self.page.get_by_test_id("max-tokens-input").fill(str(max_tokens))
        self.page.get_by_test_id("prompt-input").fill(PROMPT)
        self.page.get_by_test_id("load-button").click()
        self.page.wait_for_selector("[data-testid=load-status][data-state=ready]", timeout=TIMEOUT_MS)
        self.run = 0

    def generate(self) -> float:
        self.run += 1
        self.page.get_by_test_id("generate-button").click()
        self.page.wait_for_function(
            """(run) => {
                const root = document.querySelector('[data-testid=engine-selftest]');
                return Number(root.dataset.run) === run && ['done', 'error', 'cancelled'].includes(root.dataset.state);
            }""",
            arg=self.run,
            timeout=TIMEOUT_MS,
        )
        state = self.page.get_by_test_id("engine-selftest").get_attribute("data-state")
        if state != "done":
            raise RuntimeError(f"self-test generation ended in {state}: {self.page.inner_text('body')[-500:]}")
        return float(self.page.get_by_test_id("metric-tokens-per-sec").get_attribute("data-value") or "nan")

    def close(self) -> None:
        self.page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="fresh page pairs (app + bare)")
    parser.add_argument("--gens", type=int, default=4, help="measured generation pairs per page pair")
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-app-")))
        print("starting the app (reflex run --env prod) ...", flush=True)
        app = AppServer(data_dir=data_dir).start()
        stack.callback(app.stop)
        model = data_dir / "demo-models" / "tiny-base.bin"
        if not model.is_file():
            raise SystemExit(f"the app did not write {model}; see {app.log_path}")
        bare_url = stack.enter_context(bare_site(model, app.genai_package))
        playwright = stack.enter_context(sync_playwright())
        profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-chromium-"))
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, "--enable-unsafe-webgpu"]
        )
        stack.callback(context.close)

        samples: dict[str, list[float]] = {"app": [], "bare": []}
        pair_ratios: list[float] = []
        for rep in range(args.reps):
            sides = [
                AppSide(context, app.url, max_tokens=args.max_tokens),
                BareSide(context, bare_url, max_tokens=args.max_tokens),
            ]
            try:
                for side in sides:
                    side.generate()  # warm-up: the first generation of an instance compiles shaders
                for gen in range(args.gens):
                    # Alternate which side goes first so slow drifts in machine load cancel out.
                    order = sides if (rep + gen) % 2 == 0 else sides[::-1]
                    rates = {side.name: side.generate() for side in order}
                    for name, rate in rates.items():
                        samples[name].append(rate)
                    pair_ratios.append(rates["app"] / rates["bare"])
                    print(
                        f"rep {rep + 1} pair {gen + 1}: app {rates['app']:6.1f}  bare {rates['bare']:6.1f}  tokens/s",
                        flush=True,
                    )
            finally:
                for side in sides:
                    side.close()

    app_rate = statistics.median(samples["app"])
    bare_rate = statistics.median(samples["bare"])
    print()
    print(f"tiny model, maxTokens {args.max_tokens}, {args.reps} page pairs x {args.gens} generation pairs")
    print(f"app  /selftest component : {app_rate:7.1f} tokens/s (median)")
    print(f"bare tasks-genai page    : {bare_rate:7.1f} tokens/s (median)")
    print(
        f"ratio app/bare           : {app_rate / bare_rate:7.3f}   "
        f"(median of paired ratios {statistics.median(pair_ratios):.3f}; target >= 0.95)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
