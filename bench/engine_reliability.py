"""Reliability of engine creation on the stream path: N creations in a row in real Chromium.

The runtime's URL-based creation hung in 4 of 42 tries here (mediapipe-web.md §5). The app streams
the model into the runtime (`modelAssetBuffer` = a ReadableStreamDefaultReader) and guards every
creation with a timeout and a retry on a fresh instance (assets/engine/mediapipe_engine.js,
`_createGuarded`). This bench drives /selftest?source=stream (the app's own engine module) and
clicks "load" N times: each click fetches the tiny model again, streams it into a new instance and
closes the previous one.

    .venv/bin/python bench/engine_reliability.py [--creations 50] [--create-timeout-s 20]

Prints successes, hangs caught by the timeout, retries, and creation-time percentiles (the engine's
own createMs of the successful attempt). The baseline in the same run is the first creation's time.
Target (issue 5): every one of >= 50 creations in a row ends ready, hangs (if any) recovered by the
retry.
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

DONE = """(n) => {
  const root = document.querySelector('[data-testid=engine-selftest]');
  const status = document.querySelector('[data-testid=load-status]');
  const instances = Number(document.querySelector('[data-testid=metric-instances]')?.dataset.value ?? -1);
  return status && ['ready', 'error'].includes(status.dataset.state) && (status.dataset.state === 'error' || instances >= n)
    && root.dataset.createTimeouts !== undefined;
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creations", type=int, default=50)
    parser.add_argument("--create-timeout-s", type=int, default=20, help="the guard's timeout (app default 60)")
    args = parser.parse_args(argv)
    results: list[tuple[str, float | None]] = []
    with contextlib.ExitStack() as stack:
        app, data_dir = start_app(stack)
        context = webgpu_context(stack)
        page = context.new_page()
        page_errors: list[str] = []
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        page.goto(f"{app.url}/selftest?source=stream&create_timeout_s={args.create_timeout_s}")
        page.wait_for_selector("[data-testid=load-button]:not([disabled])", timeout=60_000)
        root = page.get_by_test_id("engine-selftest")
        status = page.get_by_test_id("load-status")
        started = time.monotonic()
        for n in range(1, args.creations + 1):
            instances_before = int(page.get_by_test_id("metric-instances").get_attribute("data-value") or 0)
            page.get_by_test_id("load-button").click()
            page.wait_for_selector("[data-testid=load-status][data-state=loading]", timeout=10_000)
            # Worst case: every attempt hangs until the guard's timeout.
            budget_ms = (args.create_timeout_s * 2 + 60) * 1000
            page.wait_for_function(DONE, arg=instances_before + 1, timeout=budget_ms)
            state = status.get_attribute("data-state")
            create_ms = page.get_by_test_id("metric-create-ms").get_attribute("data-value")
            results.append((state or "?", float(create_ms) if state == "ready" and create_ms else None))
            timeouts = root.get_attribute("data-create-timeouts")
            retries = root.get_attribute("data-create-retries")
            print(
                f"creation {n:3d}: {state:5s} {float(create_ms or 0):7.0f} ms  (timeouts {timeouts}, retries {retries})",
                flush=True,
            )
        elapsed = time.monotonic() - started
        timeouts = int(root.get_attribute("data-create-timeouts") or 0)
        retries = int(root.get_attribute("data-create-retries") or 0)
        instances = int(page.get_by_test_id("metric-instances").get_attribute("data-value") or 0)
    times = [ms for _, ms in results if ms is not None]
    ok = sum(1 for state, _ in results if state == "ready")
    print()
    print(f"stream path, tiny model, {args.creations} creations in a row in {elapsed:.0f} s")
    print(f"successes            : {ok}/{len(results)} (engines started: {instances})")
    print(f"hangs caught (timeout {args.create_timeout_s} s): {timeouts}")
    print(f"retries on a fresh instance: {retries}")
    if times:
        print(
            f"creation time ms     : p50 {percentile(times, 0.5):.0f}  p90 {percentile(times, 0.9):.0f}  "
            f"max {max(times):.0f}  mean {statistics.fmean(times):.0f}"
        )
        print(f"first creation (baseline) {times[0]:.0f} ms; p50/first {percentile(times, 0.5) / times[0]:.2f}")
    if page_errors:
        print(f"page errors: {len(page_errors)}; first: {page_errors[0][:200]}")
    return 0 if ok == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
