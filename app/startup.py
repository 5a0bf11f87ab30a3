"""Work done once when the backend starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio

from app import runtime_assets
from app.catalog.demo import seed_on_start
from app.config import get_runtime_config
from app.db import migrate
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
    try:
        await anyio.to_thread.run_sync(migrate)
    finally:
        get_runtime_config().start()  # load overrides and follow other workers' changes, whatever happened above
    if runtime_assets.wasm_dir(settings) is None:
        log.warning("MediaPipe wasm files not found; the engine cannot start until set-up installs them")
    try:
        purged = get_storage().purge_staging()
    except OSError as exc:
        log.warning("could not clean the upload staging area: %s", exc)
    else:
        if purged:
            log.info("removed %d abandoned upload(s) from staging", purged)
    await anyio.to_thread.run_sync(ensure_first_admin)
    try:
        await asyncio.to_thread(ensure_demo_models, settings)
    except Exception:  # the app is useful without them; the self-test page then reports a 404
        log.exception("could not generate the demo models for the self-test page")
    await anyio.to_thread.run_sync(seed_on_start)
    sweeper = asyncio.create_task(_sweep_storage_every(SWEEP_EVERY_S))
    try:
        yield
    finally:
        sweeper.cancel()


SWEEP_EVERY_S = 6 * 3600


async def _sweep_storage_every(interval_s: float) -> None:
    """Unreferenced stored files (a deleted account's drafts, ...) go within a day: at start, then
    every few hours. Idempotent, so every worker may run it."""
    from app.catalog.sweep import sweep_unreferenced
    from app.db import session_scope

    def sweep() -> None:
        with session_scope() as session:
            report = sweep_unreferenced(session, storage=get_storage())
        if report.removed:
            log.info("removed %d unreferenced stored file(s), %d bytes", len(report.removed), report.bytes_freed)

    while True:
        try:
            await asyncio.to_thread(sweep)
        except Exception:  # storage or database briefly away: try again next time
            log.warning("storage sweep failed; trying again later", exc_info=True)
        await asyncio.sleep(interval_s)


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
