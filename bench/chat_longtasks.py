"""Main-thread responsiveness of /chat while an answer streams: long tasks (> 50 ms) seen by a
PerformanceObserver during a warm generation (the engine's first generation compiles shaders and
is not measured).

The window opens before Enter and closes only after the answer is saved to IndexedDB, the page has
re-rendered the finished answer and two animation frames plus 1 s have passed (long-task entries
are delivered asynchronously), so the end of the answer is covered. Each long task is attributed to
the page's `chat:*` marks and to any `engine:*`/`chat:*` measures it overlaps.

    .venv/bin/python bench/chat_longtasks.py [--max-tokens 1024] [--runs 3]

Prints the number of long tasks, the longest one, and per-run figures. Target: no task over 50 ms.
Long tasks are wall-clock: on a loaded machine they include time the main thread waited for a core.
With --trace, each long task's own CPU time (trace thread time) is shown too, and tasks that used
over 50 ms of CPU themselves are counted: that figure does not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._app_browser import start_app, webgpu_context  # noqa: E402
from bench._browser_trace import MainThreadTrace  # noqa: E402

TIMEOUT_MS = 180_000
OBSERVE = """() => {
  window.__long = [];
  performance.clearMarks();
  performance.clearMeasures();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__long.push([entry.startTime, entry.duration]);
  }).observe({ type: "longtask", buffered: false });
}"""


def generate(page, prompt: str) -> None:
    page.get_by_test_id("chat-input").fill(prompt)
    page.get_by_test_id("chat-input").press("Enter")
    page.wait_for_selector("[data-testid=private-chat][data-busy=true]", timeout=10_000)
    page.wait_for_selector("[data-testid=private-chat][data-busy=false]", timeout=TIMEOUT_MS)
    # The answer's end: saved, re-rendered, and long-task entries delivered.
    page.wait_for_function("performance.getEntriesByName('chat:saved').length > 0", timeout=TIMEOUT_MS)
    page.evaluate(SETTLE)


SETTLE = """() => new Promise((resolve) =>
  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 1000))))"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--trace", action="store_true", help="also record a Chromium trace and say what long tasks ran")
    parser.add_argument("--profile", action="store_true", help="with --trace: the hottest functions in long tasks")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        app, data_dir = start_app(stack)
        context = webgpu_context(stack)
        page = context.new_page()
        page.goto(f"{app.url}/chat")
        page.get_by_test_id("setting-maxTokens").fill(str(args.max_tokens))
        page.get_by_test_id("download-model").click()
        page.wait_for_selector("[data-testid=private-chat][data-phase=ready]", timeout=TIMEOUT_MS)
        generate(page, "Warm up.")  # compiles the shaders
        worst = 0.0
        total = 0
        cpu_heavy = 0
        for run in range(args.runs):
            page.get_by_test_id("new-conversation").click()
            page.evaluate(OBSERVE)
            trace = MainThreadTrace(page, detail=True) if args.trace else None
            if trace:
                trace.start(profile=args.profile)
            generate(page, f"Write a long story, take {run}.")
            if trace:
                trace.stop()
            tokens = int(page.locator("[data-testid=message-meta]").last.get_attribute("data-tokens") or 0)
            tasks = page.evaluate("window.__long")
            marks = page.evaluate("performance.getEntriesByType('mark').map(m => [m.name, m.startTime])")
            measures = page.evaluate(
                "performance.getEntriesByType('measure').map(m => [m.name, m.startTime, m.duration])"
            )
            durations = [duration for _, duration in tasks]
            worst = max([worst, *durations])
            total += len(durations)
            print(
                f"run {run + 1}: {tokens} tokens, {len(durations)} long tasks, longest "
                f"{max(durations, default=0):.0f} ms",
                flush=True,
            )
            for start, duration in tasks:
                # The chat marks its steps (chat:fit, chat:generate, chat:first-token, chat:finish, chat:saved).
                phase = max((m for m in marks if m[1] <= start), key=lambda m: m[1], default=("before", 0))[0]
                inside = [
                    f"{name} {d:.0f} ms" for name, t, d in measures if t < start + duration and t + d > start and d >= 5
                ]
                print(f"    {duration:5.0f} ms long task during {phase}: {', '.join(inside) or '?'}", flush=True)
            if trace:
                for line in trace.describe_long_tasks():
                    print(f"    trace: {line}", flush=True)
                heavy = trace.cpu_heavy_tasks()
                cpu_heavy += len(heavy)
                print(f"    tasks with over 50 ms of their own CPU time: {len(heavy)} {heavy}", flush=True)
                for line in trace.hot_functions():
                    print(f"    profile: {line}", flush=True)
    print()
    print(f"long tasks while streaming: {total} in {args.runs} runs, longest {worst:.0f} ms (target: none over 50 ms)")
    if args.trace:
        print(f"tasks with over 50 ms of main-thread CPU (load-independent): {cpu_heavy} in {args.runs} runs")
    print(f"machine load (1/5/15 min): {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
