"""Analytics: typed usage and performance events (never content), batched ingest, rollups and
the queries behind the dashboards. Plain Python; no Reflex imports.

- schema: what may be recorded (versioned, bounded, no free text)
- pipeline / lifecycle: queue + background writer, started with the app
- store: raw events, rollups, opt-out, retention purge
- rollups / sketch: what each event adds; mergeable percentile histograms
- queries: dashboards and public performance facts, from rollups only
- wiring: where accounts, run-time config and the catalog plug in
"""
