"""Warm start of /chat: page load to "ready to chat" with the model already stored in the browser,
divided by the bare runtime's own start (wasm fileset + createFromOptions from an in-memory buffer).

Both sides run in one Chromium (WebGPU on) with the same tiny model bytes and runtime files, in
turns (chat, bare, bare, chat, ...). The chat side's time runs from navigation start to the moment
the component reports the engine ready (data-ready-at, performance.now() of that page), so it
includes the page itself, the capability check, the catalog look-up, reading the stored file from
OPFS and the engine creation. The bare side's time covers only the runtime's own start.

    .venv/bin/python bench/chat_warm_start.py [--reps 5] [--settle-s 2]

Before each side's page opens, the browser idles --settle-s seconds (both sides alike): tearing
down the previous page's engine keeps SwiftShader's GPU process busy for up to ~1 s, which would
otherwise land on whichever page comes next (a returning visitor does not arrive that second).

Prints both medians and chat/bare (target <= 1.2).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._app_browser import start_app, webgpu_context  # noqa: E402
from bench.engine_overhead import bare_site  # noqa: E402

TIMEOUT_MS = 120_000
SETTINGS = {"maxTokens": 1024, "topK": 40, "temperature": 0.8, "randomSeed": 1, "loraRanks": [4, 8, 16]}

BARE_INIT = """async (options) => {
  const { FilesetResolver, LlmInference } = await import("./genai_bundle.mjs");
  const bytes = new Uint8Array(await (await fetch("model.bin")).arrayBuffer());
  const started = performance.now();
  const fileset = await FilesetResolver.forGenAiTasks(new URL("wasm", location.href).href);
  const instance = await LlmInference.createFromOptions(fileset, { baseOptions: { modelAssetBuffer: bytes }, ...options });
  const ms = performance.now() - started;
  instance.close();
  return ms;
}"""


# Where a chat start spends its time: the page's own marks (chat.jsx), milliseconds since navigation.
MARKS = """() => Object.fromEntries(performance.getEntriesByType("mark")
  .filter((m) => m.name.startsWith("chat:")).map((m) => [m.name.slice(5), m.startTime]))"""
STEP_NAMES = ("module", "warm-load", "mounted", "checked", "engine-start", "ready")


def chat_start_ms(context, url: str) -> tuple[float, dict[str, float]]:
    """Navigation to ready, in ms, and the page's marks."""
    page = context.new_page()
    try:
        page.goto(f"{url}/chat")
        page.wait_for_selector("[data-testid=private-chat][data-phase=ready]", timeout=TIMEOUT_MS)
        source = page.get_attribute("[data-testid=private-chat]", "data-model-source")
        if source != "stored":
            raise RuntimeError(f"the chat started from {source!r}, not from the stored copy")
        ready = float(page.get_attribute("[data-testid=private-chat]", "data-ready-at") or "nan")
        return ready, page.evaluate(MARKS)
    finally:
        page.close()


def bare_start_ms(context, url: str) -> float:
    page = context.new_page()
    try:
        page.goto(f"{url}/index.html")
        page.wait_for_function("window.benchReady === true")
        return float(page.evaluate(BARE_INIT, SETTINGS))
    finally:
        page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--settle-s", type=float, default=2.0, help="idle time before each page (both sides)")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        app, data_dir = start_app(stack)
        model = data_dir / "demo-models" / "tiny-base.bin"
        bare_url = stack.enter_context(bare_site(model, app.genai_package))
        context = webgpu_context(stack)

        # First visit: download and store the model (not measured), and warm both sides' caches.
        page = context.new_page()
        page.goto(f"{app.url}/chat")
        page.get_by_test_id("download-model").click()
        page.wait_for_selector("[data-testid=private-chat][data-phase=ready]", timeout=TIMEOUT_MS)
        page.close()
        bare_start_ms(context, bare_url)

        chat: list[float] = []
        steps: list[dict[str, float]] = []
        bare: list[float] = []
        for rep in range(args.reps):
            order = ("chat", "bare") if rep % 2 == 0 else ("bare", "chat")
            for side in order:
                time.sleep(args.settle_s)
                if side == "chat":
                    ready, marks = chat_start_ms(context, app.url)
                    chat.append(ready)
                    steps.append(marks)
                else:
                    bare.append(bare_start_ms(context, bare_url))
            print(f"rep {rep + 1}: chat {chat[-1]:7.0f} ms  bare {bare[-1]:7.0f} ms", flush=True)

    print()
    print(f"tiny model, {args.reps} reps, model stored in the browser")
    print(f"chat page load -> ready : {statistics.median(chat):7.0f} ms (median)")
    print(f"bare fileset + create   : {statistics.median(bare):7.0f} ms (median)")
    print(
        "chat start, median ms since navigation: "
        + ", ".join(
            f"{name} {statistics.median(m[name] for m in steps if name in m):.0f}"
            for name in STEP_NAMES
            if any(name in m for m in steps)
        )
    )
    print(f"ratio chat/bare         : {statistics.median(chat) / statistics.median(bare):7.2f}   (target <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
