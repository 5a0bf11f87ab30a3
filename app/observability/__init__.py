"""Operations: structured logs, Prometheus metrics, liveness/readiness.

Other modules use three small entry points and nothing else:
- `log_context.bind_user_id(user_id)` once a request or event knows who is acting;
- `metrics.set_ingest_queue_depth(n)` from the analytics writer;
- `metrics.record_cache_lookup(hit=..., cache=...)` from a cache (app/cache.py already does).
"""
