"""Work done once when the backend starts."""

from __future__ import annotations

import logging

from app import runtime_assets
from app.settings import get_settings
from app.storage import get_storage

log = logging.getLogger("lorastudio.startup")


async def on_startup() -> None:
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
