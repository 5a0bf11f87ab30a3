"""Write -> other worker's read: two app workers (separate processes) on the real Redis, N changes.

Baseline measured in the same run: a bare Redis PUBLISH reaching a subscriber in another connection.
Run: .venv/bin/python bench/config_propagation.py [--changes 100] [--db-url URL] [--redis-url URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: bench/NAME.py

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis

from tests.support import migrations, services
from tests.support.config_workers import WorkerProcess


def bare_pubsub_latency(redis_url: str, *, samples: int) -> list[float]:
    """How long Redis itself takes to hand a message from publisher to subscriber here."""
    channel = f"bench-{uuid.uuid4().hex}"
    subscriber = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(channel)
    publisher = redis.Redis.from_url(redis_url)
    received: dict[int, float] = {}
    ready = threading.Event()

    def listen() -> None:
        ready.set()
        while len(received) < samples:
            message = subscriber.get_message(timeout=1.0)
            if message is not None:
                received[int(message["data"])] = time.perf_counter()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait()
    sent: dict[int, float] = {}
    for index in range(samples):
        sent[index] = time.perf_counter()
        publisher.publish(channel, str(index))
        time.sleep(0.005)
    thread.join(timeout=10)
    subscriber.close()
    return [received[i] - sent[i] for i in sent if i in received]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--db-url", default=None, help="default: a scratch SQLite file")
    parser.add_argument("--redis-url", default=services.REDIS_URL)
    args = parser.parse_args()
    if not services.redis_reachable(args.redis_url):
        raise SystemExit(f"Redis not reachable at {args.redis_url}")

    with tempfile.TemporaryDirectory() as scratch:
        db_url = args.db_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        migrations.upgrade(db_url)
        namespace = f"bench-{uuid.uuid4().hex[:12]}:"
        writer = WorkerProcess(db_url, args.redis_url, namespace)
        reader = WorkerProcess(db_url, args.redis_url, namespace)
        delays: list[float] = []
        missed = 0
        try:
            for index in range(args.changes):
                value = f"Change {index} at {uuid.uuid4().hex[:6]}"
                reader.start_wait("banner.text", value, timeout=5)
                written = writer.call(op="set", key="banner.text", value=value)["t"]
                seen = reader.seen()
                if seen is None:
                    missed += 1
                else:
                    delays.append(seen - written)
        finally:
            writer.close()
            reader.close()
            client = redis.Redis.from_url(args.redis_url)
            for key in client.scan_iter(f"{namespace}*"):
                client.delete(key)

    baseline = bare_pubsub_latency(args.redis_url, samples=args.changes)
    median, worst = statistics.median(delays), max(delays)
    base_median = statistics.median(baseline)
    kind = "PostgreSQL" if db_url.startswith("postgresql") else "SQLite"
    print(f"{len(delays)} changes on {kind} + Redis, {missed} not seen within 5 s")
    print(
        f"write -> other worker reads it: median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms (target <= 1000 ms)"
    )
    print(
        f"baseline bare Redis pub/sub delivery: median {base_median * 1000:.2f} ms, max {max(baseline) * 1000:.2f} ms"
    )
    print(f"ratio median propagation / bare pub/sub: {median / base_median:.1f}x; max / 1 s target: {worst:.3f}")


if __name__ == "__main__":
    main()
