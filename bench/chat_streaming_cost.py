"""Streaming cost of /chat: main-thread time per token late in a long answer vs early in it.

One warm /chat page (the model downloaded, one warm-up answer to compile shaders) generates an
answer of 2000+ tokens with the tiny model (maxTokens raised, greedy decoding; prompts tried in turn
until an answer is long enough: the random-weight model often emits its stop token early). A Chromium trace (CDP Tracing,
`toplevel` tasks of the page's renderer main thread, see bench/_browser_trace.py) gives the
main-thread busy time: everything the page ran there — the chat's callbacks, React renders, layout,
paint and the runtime's own per-token main-thread work. A probe the chat calls per streamed
increment (`window.__lorastudioChatProbe`) records when each increment arrived; the answer's token
positions come from the model's own sentencepiece tokenizer applied to each prefix of the answer
(the same re-encoding the app's token counts use).

    .venv/bin/python bench/chat_streaming_cost.py [--max-tokens 2600] [--answers 3] [--detail]

Prints, per answer, busy ms per token for tokens 100-200 (the baseline, same answer) and 1900-2000,
and the median ratio over the answers (greedy decoding: the same long answer each time).
--detail also traces script, layout and paint and breaks each window down. Target (issue 5): at
most 1.5.
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

from app.mediapipe_format.container import read_container  # noqa: E402
from app.mediapipe_format.tokenizer import load_tokenizer  # noqa: E402
from bench._app_browser import start_app, webgpu_context  # noqa: E402
from bench._browser_trace import MainThreadTrace  # noqa: E402

TIMEOUT_MS = 600_000
EARLY = (100, 200)
LATE = (1900, 2000)
PROBE = """() => {
  window.__increments = [];
  window.__lorastudioChatProbe = (text) => window.__increments.push([performance.now(), text]);
}"""


def generate(page, prompt: str) -> None:
    page.get_by_test_id("new-conversation").click()
    page.get_by_test_id("chat-input").fill(prompt)
    page.get_by_test_id("chat-input").press("Enter")
    page.wait_for_selector("[data-testid=private-chat][data-busy=true]", timeout=10_000)
    page.wait_for_selector("[data-testid=private-chat][data-busy=false]", timeout=TIMEOUT_MS)


def token_times(increments: list[list], tokenizer) -> list[tuple[int, float]]:
    """(tokens so far, arrival time) after each increment."""
    out = []
    text = ""
    for at, piece in increments:
        text += piece
        out.append((len(tokenizer.encode(text)), float(at)))
    return out


def arrival(times: list[tuple[int, float]], token: int) -> float:
    for count, at in times:
        if count >= token:
            return at
    raise ValueError(f"the answer has fewer than {token} tokens")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-tokens", type=int, default=2600)
    parser.add_argument("--tries", type=int, default=12, help="prompts to try for a 2000+ token answer")
    parser.add_argument("--answers", type=int, default=3, help="long answers measured (median ratio)")
    parser.add_argument("--detail", action="store_true", help="trace script/layout/paint too and break windows down")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        app, data_dir = start_app(stack)
        context = webgpu_context(stack)
        page = context.new_page()
        page.goto(f"{app.url}/chat")
        root = page.get_by_test_id("private-chat")
        page.wait_for_selector("[data-testid=download-model]", timeout=60_000)
        base_url = root.get_attribute("data-base-url") or ""
        model_path = data_dir / "bench-base.bin"
        model_path.write_bytes(httpx.get(base_url, timeout=60).content)
        tokenizer = load_tokenizer(read_container(model_path).read_metadata_buffer("spm_vocab_model"))
        page.get_by_test_id("setting-maxTokens").fill(str(args.max_tokens))
        page.get_by_test_id("setting-topK").fill("1")
        page.get_by_test_id("download-model").click()
        page.wait_for_selector("[data-testid=private-chat][data-phase=ready]", timeout=TIMEOUT_MS)
        generate(page, "Warm up.")  # the instance's first generation compiles its shaders
        prompt = None
        ratios: list[float] = []
        rows: dict[str, list[float]] = {"early": [], "late": []}
        for attempt in range(args.tries + args.answers):
            if prompt is None and attempt >= args.tries:
                break
            if prompt is not None and len(ratios) >= args.answers:
                break
            text = prompt or f"Tell me everything you know, at length, part {attempt + 1}."
            page.evaluate(PROBE)
            trace = MainThreadTrace(page, detail=args.detail)
            trace.start()
            generate(page, text)  # greedy: the same prompt gives the same answer again
            trace.stop()
            increments = page.evaluate("window.__increments")
            times = token_times(increments, tokenizer)
            total = times[-1][0] if times else 0
            print(f"answer to prompt {text!r}: {total} tokens in {len(increments)} increments", flush=True)
            if total < LATE[1]:
                continue
            prompt = text
            per_token = {}
            for label, (a, b) in (("early", EARLY), ("late", LATE)):
                start, end = arrival(times, a), arrival(times, b)
                busy = trace.busy_ms(start, end)
                per_token[label] = busy / (b - a)
                rows[label].append(per_token[label])
                print(
                    f"  tokens {a:4d}-{b:4d}: {busy:7.1f} ms main-thread busy in {end - start:7.1f} ms wall "
                    f"= {busy / (b - a):6.3f} ms/token ({(end - start) / (b - a):.2f} ms/token wall)",
                    flush=True,
                )
                if args.detail:
                    parts = sorted(trace.breakdown(start, end).items(), key=lambda kv: -kv[1])[:8]
                    print("      " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in parts), flush=True)
            ratios.append(per_token["late"] / per_token["early"])
            print(f"  late/early {ratios[-1]:.2f}", flush=True)
        if not ratios:
            print("no answer reached 2000 tokens; raise --max-tokens or --tries")
            return 1
    print()
    print(
        f"streaming cost late/early: {statistics.median(ratios):.2f} (median of {len(ratios)} answers: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; late {statistics.median(rows['late']):.3f} ms/token, "
        f"early {statistics.median(rows['early']):.3f} ms/token; target <= 1.5)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
