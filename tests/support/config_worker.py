"""A stand-in app worker for fan-out tests and benchmarks: one RuntimeConfig in its own process.

Speaks JSON lines on stdin/stdout:
  {"op": "set", "key": k, "value": v}            -> {"t": wall time just before the write}
  {"op": "wait", "key": k, "value": v, "timeout": s} -> {"waiting": true}, then
                                                    {"seen": wall time it was first read, or null}
  {"op": "get", "key": k}                        -> {"value": v, "version": n}
Run: python -m tests.support.config_worker DB_URL REDIS_URL NAMESPACE
"""

from __future__ import annotations

import json
import sys
import time

from app.config import Actor, RuntimeConfig
from app.db import engine_for
from app.settings import load_settings


def main() -> None:
    db_url, redis_url, namespace = sys.argv[1:4]
    config = RuntimeConfig(
        settings=load_settings(database_url=db_url), engine=engine_for(db_url), redis_url=redis_url, namespace=namespace
    ).start()
    config.wait_connected(10)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        op, key = request["op"], request.get("key")
        if op == "set":
            started = time.time()
            config.set(key, request["value"], actor=Actor("worker-test"))
            reply: dict[str, object] = {"t": started}
        elif op == "wait":
            wanted, deadline, seen = request["value"], time.monotonic() + request["timeout"], None
            print(json.dumps({"waiting": True}), flush=True)
            while time.monotonic() < deadline:
                if config.get(key) == wanted:
                    seen = time.time()
                    break
                time.sleep(0.0005)
            reply = {"seen": seen}
        elif op == "get":
            reply = {"value": config.get(key), "version": config.version, "connected": config.connected}
        else:
            reply = {"error": f"unknown op {op}"}
        print(json.dumps(reply), flush=True)
    config.close()


if __name__ == "__main__":
    main()
