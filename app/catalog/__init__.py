"""The LoRA catalog (plain Python, no Reflex imports).

intake: check, convert and store uploads (`ingest_adapter`); service: adapters (drafts from an
intake, edit, publish, favourites, moderation, downloads); search: full-text search, filters and
pages per dialect; registry: base models (upload, server path, URL + sha256); caching: the
versioned query/page cache; access: who may download a stored file; demo: the seeded demo catalog.
"""
