"""The LoRA catalog: checking uploads, PEFT -> MediaPipe conversion, and (later) adapters in the database.

Entry point for uploads: `app.catalog.intake.ingest_adapter`. Plain Python, no Reflex imports.
"""
