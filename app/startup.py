"""Work done once when the backend starts, before it serves requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from app import runtime_assets
from app.demo_models import ensure_demo_models
from app.settings import get_settings
from app.storage import get_storage

log = logging.getLogger("lorastudio.startup")


@contextlib.asynccontextmanager
async def on_startup() -> AsyncIterator[None]:
    """A context manager, so Reflex finishes it before serving (a plain coroutine runs alongside)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.secret()  # generate and persist the secret key on first start
    if runtime_assets.wasm_dir(settings) is None:
        log.warning("MediaPipe wasm files not found; the engine cannot start until set-up installs them")
    try:
        purged = get_storage().purge_staging()
    except OSError as exc:
        log.warning("could not clean the upload staging area: %s", exc)
    else:
        if purged:
            log.info("removed %d abandoned upload(s) from staging", purged)
    try:
        await asyncio.to_thread(ensure_demo_models, settings)
    except Exception:  # the app is useful without them; the self-test page then reports a 404
        log.exception("could not generate the demo models for the self-test page")
    yield
