"""Adapter switch time in /chat vs the LoRA file's plain download time from the same server.

A warm /chat page (tiny base model stored and running, shaders compiled) switches to a catalog
adapter whose LoRA file is neither stored in the browser nor loaded in this engine instance (its
stored copy is deleted first, which also drops the engine's handle: the next use is a new file).
Switch time: from the user's pick in the adapter menu (`chat:adapter-picked` mark) to the page
holding the adapter in the engine (`chat:adapter-ready`): the message to the engine's worker, the
download there through the app's store (status checked, sha256 verified; its OPFS copy is written
afterwards), the runtime's loadLoraModel and the answer back, while the page re-renders the pick. An answer with the adapter follows each switch (checked to work, not timed).
The "already loaded" figure is a switch back to an adapter the engine holds. Baseline, measured in
the same page between switches: a plain `fetch()` of the same LoRA URL read to the end (no cache).

    .venv/bin/python bench/chat_adapter_switch.py [--reps 4] [--mbps 0]

--mbps N throttles the page's network (CDP) to N Mbit/s for both sides, which makes the download
dominate as on a real network; 0 (default) is localhost speed, where fixed costs dominate.
Prints medians and switch/download. Target (issue 5): at most 2.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page  # noqa: E402

from bench._app_browser import start_app, webgpu_context  # noqa: E402

ADAPTER = "demo-tiny-attention-r4"
TIMEOUT_MS = 180_000
PLAIN_FETCH = """async (url) => {
  const started = performance.now();
  const response = await fetch(url, { cache: "no-store" });
  const bytes = (await response.arrayBuffer()).byteLength;
  return { ms: performance.now() - started, bytes, status: response.status };
}"""
LORA_FILE = """async (slug) => {
  const detail = await (await fetch(`/api/v1/adapters/${slug}`)).json();
  const file = detail.versions[0].files.find((f) => f.role === "mediapipe-lora");
  return { url: new URL(file.url, location.origin).toString(), sha256: file.sha256, size: file.size_bytes };
}"""
SWITCH_MS = """() => {
  const start = performance.getEntriesByName("chat:adapter-picked").at(-1);
  const ready = performance.getEntriesByName("chat:adapter-ready").at(-1);
  const load = performance.getEntriesByName("engine:lora-load").at(-1);
  return { switchMs: ready && start && ready.startTime > start.startTime ? ready.startTime - start.startTime : null,
           runtimeMs: load && start && load.startTime > start.startTime ? load.duration : 0 };
}"""
ADAPTER_READY = """() => {
  const start = performance.getEntriesByName("chat:adapter-picked").at(-1);
  const ready = performance.getEntriesByName("chat:adapter-ready").at(-1);
  return Boolean(start && ready && ready.startTime > start.startTime);
}"""


def pick(page: Page, option: str) -> None:
    page.evaluate("performance.clearMarks(); performance.clearMeasures()")
    page.get_by_test_id("adapter-picker").select_option(option)
    page.wait_for_selector(f"[data-testid=adapter-picker][data-value='{option}']")
    if option != "none":
        page.wait_for_function(ADAPTER_READY, timeout=TIMEOUT_MS)


def answer(page: Page, text: str) -> None:
    page.get_by_test_id("new-conversation").click()
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-input").press("Enter")
    page.wait_for_selector("[data-testid=private-chat][data-busy=true]", timeout=10_000)
    page.wait_for_selector("[data-testid=private-chat][data-busy=false]", timeout=TIMEOUT_MS)
    error = page.locator("[data-testid=chat-error]")
    if error.count():
        raise RuntimeError(f"chat error: {error.inner_text()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--mbps", type=float, default=0.0, help="throttle the page to N Mbit/s (0: no throttle)")
    args = parser.parse_args(argv)
    new_switch: list[float] = []
    runtime: list[float] = []
    loaded_switch: list[float] = []
    plain: list[float] = []
    with contextlib.ExitStack() as stack:
        app, data_dir = start_app(stack)
        context = webgpu_context(stack)
        page = context.new_page()
        page.goto(f"{app.url}/chat")
        page.get_by_test_id("setting-maxTokens").fill("128")
        page.get_by_test_id("download-model").click()
        page.wait_for_selector("[data-testid=private-chat][data-phase=ready]", timeout=TIMEOUT_MS)
        lora = page.evaluate(LORA_FILE, ADAPTER)
        if args.mbps:
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            rate = args.mbps * 1e6 / 8
            cdp.send(
                "Network.emulateNetworkConditions",
                {"offline": False, "latency": 0, "downloadThroughput": rate, "uploadThroughput": rate},
            )
        answer(page, "Warm up.")  # shader compilation of the base graph
        pick(page, ADAPTER)
        answer(page, "Warm up the adapter path.")  # first LoRA use of the process (not measured)
        for rep in range(args.reps):
            # Forget the adapter: its stored copy goes, and with it the engine's handle for that file.
            pick(page, "none")
            page.locator(
                f"[data-testid=stored-file][data-sha256='{lora['sha256']}'] [data-testid=stored-delete]"
            ).click()
            page.wait_for_selector(f"[data-testid=stored-file][data-sha256='{lora['sha256']}']", state="detached")
            fetched = page.evaluate(PLAIN_FETCH, lora["url"])
            if fetched["status"] != 200 or fetched["bytes"] != lora["size"]:
                raise RuntimeError(f"plain download failed: {fetched}")
            plain.append(fetched["ms"])
            pick(page, ADAPTER)
            switched = page.evaluate(SWITCH_MS)
            new_switch.append(switched["switchMs"])
            runtime.append(switched["runtimeMs"])
            answer(page, "Hello there.")
            pick(page, "none")
            answer(page, "Hello there.")
            pick(page, ADAPTER)
            again = page.evaluate(SWITCH_MS)
            loaded_switch.append(again["switchMs"])
            answer(page, "Hello there.")
            fetched = page.evaluate(PLAIN_FETCH, lora["url"])
            plain.append(fetched["ms"])
            print(
                f"rep {rep + 1}: switch to a new adapter {new_switch[-1]:6.0f} ms (runtime load {runtime[-1]:5.0f} ms), "
                f"to a loaded one {loaded_switch[-1]:5.0f} ms; plain download {plain[-2]:5.0f} / {plain[-1]:5.0f} ms",
                flush=True,
            )
    switch = statistics.median(new_switch)
    download = statistics.median(plain)
    print()
    print(f"LoRA {ADAPTER}: {lora['size']} bytes; network {'unthrottled' if not args.mbps else f'{args.mbps} Mbit/s'}")
    print(f"switch to a new adapter   : {switch:7.0f} ms (median of {len(new_switch)})")
    print(f"switch to a loaded adapter: {statistics.median(loaded_switch):7.0f} ms (median)")
    print(f"plain download            : {download:7.0f} ms (median of {len(plain)})")
    print(f"switch/download           : {switch / download:7.2f}  (target <= 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
