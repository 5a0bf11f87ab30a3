"""Main-thread busy time of a page from a Chromium trace (CDP Tracing), for the chat benches.

Busy time is the union of the top-level tasks (`toplevel` category) that the page's renderer main
thread ran: everything the page's JavaScript, React, layout, paint and the runtime's own wasm did
there, whatever API it went through. Page timestamps (performance.now()) are mapped to trace time
through one user-timing mark placed by `sync_mark`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from playwright.sync_api import Page

SYNC_MARK = "bench:trace-sync"
CATEGORIES = "toplevel,blink.user_timing,__metadata"
# Adds what the DevTools performance panel records (script, style, layout, paint): for attribution.
DETAIL_CATEGORIES = f"{CATEGORIES},devtools.timeline,disabled-by-default-devtools.timeline,v8.execute"


@dataclass
class Trace:
    events: list[dict] = field(default_factory=list)
    done: bool = False


class MainThreadTrace:
    def __init__(self, page: Page, *, detail: bool = False) -> None:
        self.page = page
        self.categories = DETAIL_CATEGORIES if detail else CATEGORIES
        self.cdp = page.context.new_cdp_session(page)
        self.trace = Trace()
        self.cdp.on("Tracing.dataCollected", lambda params: self.trace.events.extend(params["value"]))
        self.cdp.on("Tracing.tracingComplete", lambda _params: setattr(self.trace, "done", True))
        self.sync_ms: float | None = None

    def start(self, *, profile: bool = False) -> None:
        self.profile = None
        if profile:  # a sampling CPU profile too (same clock as the trace), for function-level attribution
            self.cdp.send("Profiler.enable")
            self.cdp.send("Profiler.setSamplingInterval", {"interval": 250})
            self.cdp.send("Profiler.start")
        self.profiling = profile
        self.cdp.send("Tracing.start", {"categories": self.categories, "transferMode": "ReportEvents"})
        self.sync_ms = float(self.page.evaluate(f"performance.mark({SYNC_MARK!r}).startTime"))

    def stop(self) -> None:
        if self.profiling:
            self.profile = self.cdp.send("Profiler.stop")["profile"]
        self.cdp.send("Tracing.end")
        deadline = time.monotonic() + 60
        while not self.trace.done:
            if time.monotonic() > deadline:
                raise RuntimeError("the trace did not complete")
            self.page.wait_for_timeout(100)
        self._index()

    def _index(self) -> None:
        sync = [e for e in self.trace.events if e.get("name") == SYNC_MARK and e.get("ph") in ("R", "I", "n", "b")]
        if not sync:
            raise RuntimeError("the sync mark is missing from the trace")
        mark = sync[0]
        self.pid = mark["pid"]
        self.tid = mark["tid"]
        # trace µs = page ms * 1000 + offset
        self.offset_us = float(mark["ts"]) - (self.sync_ms or 0.0) * 1000.0
        self.task_names: dict[str, float] = {}
        for e in self.trace.events:
            mine = e.get("ph") == "X" and e.get("pid") == self.pid and e.get("tid") == self.tid
            if mine and "toplevel" in e.get("cat", "").split(","):
                self.task_names[e["name"]] = self.task_names.get(e["name"], 0.0) + float(e.get("dur", 0)) / 1000
        tasks = sorted(
            (float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0)))
            for e in self.trace.events
            if e.get("ph") == "X"
            and e.get("pid") == self.pid
            and e.get("tid") == self.tid
            and "cat" in e
            and "toplevel" in e["cat"].split(",")
        )
        merged: list[list[float]] = []
        for start, end in tasks:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.busy = merged

    def busy_ms(self, start_ms: float, end_ms: float) -> float:
        """Main-thread busy time between two page timestamps (performance.now() values)."""
        a = start_ms * 1000.0 + self.offset_us
        b = end_ms * 1000.0 + self.offset_us
        total = 0.0
        for start, end in self.busy:
            if end <= a or start >= b:
                continue
            total += min(end, b) - max(start, a)
        return total / 1000.0

    def tasks_over(self, start_ms: float, end_ms: float, limit_ms: float) -> list[float]:
        a = start_ms * 1000.0 + self.offset_us
        b = end_ms * 1000.0 + self.offset_us
        return [(e - s) / 1000.0 for s, e in self.busy if s < b and e > a and (e - s) / 1000.0 > limit_ms]

    def describe_long_tasks(self, limit_ms: float = 50.0, top: int = 6) -> list[str]:
        """For each main-thread task over `limit_ms`: the page time, and where its time went."""
        out = []
        events = [
            e for e in self.trace.events if e.get("ph") == "X" and e.get("pid") == self.pid and e.get("tid") == self.tid
        ]
        for start, end in self.busy:
            if (end - start) / 1000.0 <= limit_ms:
                continue
            inside: dict[str, float] = {}
            for e in events:
                ts = float(e["ts"])
                if ts < start or ts >= end or "toplevel" in e.get("cat", "").split(","):
                    continue
                name = e["name"]
                data = (e.get("args") or {}).get("data") or {}
                if name in ("FunctionCall", "EvaluateScript", "TimerFire", "EventDispatch", "FireAnimationFrame"):
                    where = data.get("functionName") or data.get("type") or ""
                    url = str(data.get("url") or "").rsplit("/", 1)[-1]
                    name = f"{name}({where}@{url}:{data.get('lineNumber', '')})"
                inside[name] = inside.get(name, 0.0) + float(e.get("dur", 0)) / 1000.0
            page_ms = (start - self.offset_us) / 1000.0
            parts = ", ".join(f"{n} {d:.0f}" for n, d in sorted(inside.items(), key=lambda kv: -kv[1])[:top])
            # Thread time (tdur) of the top-level tasks: CPU the thread got; the rest was waiting
            # for a core (machine load) or for another thread.
            cpu = sum(
                float(e.get("tdur", 0)) / 1000.0
                for e in events
                if "toplevel" in e.get("cat", "").split(",") and start <= float(e["ts"]) < end
            )
            out.append(f"{(end - start) / 1000.0:5.0f} ms task ({cpu:.0f} ms CPU) at page {page_ms:9.0f} ms: {parts}")
        return out

    def hot_functions(self, limit_ms: float = 50.0, top: int = 12) -> list[str]:
        """Self time by function (CPU profile samples) inside the main-thread tasks over `limit_ms`."""
        if not self.profile:
            return []
        windows = [(a, b) for a, b in self.busy if (b - a) / 1000.0 > limit_ms]
        nodes = {n["id"]: n for n in self.profile["nodes"]}
        t = float(self.profile["startTime"])
        counts: dict[str, float] = {}
        for node_id, delta in zip(self.profile["samples"], self.profile["timeDeltas"], strict=False):
            t += float(delta)
            if not any(a <= t < b for a, b in windows):
                continue
            frame = nodes[node_id]["callFrame"]
            url = frame.get("url", "").rsplit("/", 1)[-1]
            key = f"{frame.get('functionName') or '(anon)'} {url}:{frame.get('lineNumber')}:{frame.get('columnNumber')}"
            counts[key] = counts.get(key, 0.0) + float(delta) / 1000.0
        return [f"{ms:6.1f} ms {key}" for key, ms in sorted(counts.items(), key=lambda kv: -kv[1])[:top]]

    def breakdown(self, start_ms: float, end_ms: float) -> dict[str, float]:
        """With detail=True: time between two page timestamps in rendering steps and in script by file."""
        a = start_ms * 1000.0 + self.offset_us
        b = end_ms * 1000.0 + self.offset_us
        out: dict[str, float] = {}
        steps = ("UpdateLayoutTree", "Layout", "PrePaint", "Paint", "Layerize", "Commit", "MinorGC", "MajorGC")
        for e in self.trace.events:
            if e.get("ph") != "X" or e.get("pid") != self.pid or e.get("tid") != self.tid:
                continue
            ts = float(e["ts"])
            if ts < a or ts >= b:
                continue
            name = e["name"]
            if name == "FunctionCall":
                data = (e.get("args") or {}).get("data") or {}
                name = "script " + (str(data.get("url") or "?").rsplit("/", 1)[-1][:40] or "?")
            elif name == "RunMicrotasks":
                name = "microtasks"
            elif name not in steps:
                continue
            out[name] = out.get(name, 0.0) + float(e.get("dur", 0)) / 1000.0
        return out

    def cpu_heavy_tasks(self, limit_ms: float = 50.0) -> list[tuple[float, float]]:
        """(wall ms, CPU ms) of main-thread top-level tasks that used over `limit_ms` of CPU themselves.

        The long-task API counts wall time, which on a loaded machine includes time the thread
        waited for a core; a task's own thread time does not depend on what else runs there.
        """
        out = []
        for e in self.trace.events:
            mine = e.get("ph") == "X" and e.get("pid") == self.pid and e.get("tid") == self.tid
            if mine and "toplevel" in e.get("cat", "").split(",") and float(e.get("tdur", 0)) / 1000.0 > limit_ms:
                out.append((float(e.get("dur", 0)) / 1000.0, float(e["tdur"]) / 1000.0))
        return out
