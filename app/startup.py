"""Work done once when the backend starts."""

from __future__ import annotations

import logging

import anyio

from app import runtime_assets
from app.db import migrate
from app.settings import get_settings
from app.storage import get_storage

log = logging.getLogger("lorastudio.startup")


async def on_startup() -> None:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.secret()  # generate and persist the secret key on first start
    await anyio.to_thread.run_sync(migrate)
    if runtime_assets.wasm_dir(settings) is None:
        log.warning("MediaPipe wasm files not found; the engine cannot start until set-up installs them")
    try:
        purged = get_storage().purge_staging()
    except OSError as exc:
        log.warning("could not clean the upload staging area: %s", exc)
    else:
        if purged:
            log.info("removed %d abandoned upload(s) from staging", purged)
    ensure_first_admin()


def ensure_first_admin() -> None:
    """FIRST_ADMIN_EMAIL/FIRST_ADMIN_PASSWORD: create that admin once, while there is no admin."""
    settings = get_settings()
    if not settings.first_admin_email or settings.first_admin_password is None:
        return
    from app.auth import accounts
    from app.db import session_scope

    with session_scope() as db:
        if accounts.has_admin(db):
            return
        try:
            user = accounts.create_admin(
                db, email=settings.first_admin_email, password=settings.first_admin_password.get_secret_value()
            )
        except accounts.AccountError as exc:
            log.error("FIRST_ADMIN_EMAIL/FIRST_ADMIN_PASSWORD not used: %s", exc.message)
            return
        log.warning("Created the first admin account %s from settings", user.email)
