"""File storage behind one interface: a local directory (default) or S3 (+ optional CDN).

storage = get_storage()
with storage.stage(upload, max_bytes=limit) as staged:   # hashed temp file
    check(staged.path)                                   # nothing visible yet
    obj = storage.commit(staged)                         # atomic, content-addressed
storage.url_for(obj.key, public=True)                    # route, presigned or CDN URL
"""

from __future__ import annotations

import threading

from app.settings import Settings, get_settings
from app.storage.base import (
    DigestMismatchError,
    InvalidKeyError,
    ObjectNotFoundError,
    ObjectStat,
    StagedFile,
    StagingWriter,
    Storage,
    StorageError,
    StoredObject,
    TooLargeError,
    check_key,
    is_key,
)
from app.storage.local import LocalStorage

__all__ = [
    "DigestMismatchError",
    "InvalidKeyError",
    "LocalStorage",
    "ObjectNotFoundError",
    "ObjectStat",
    "StagedFile",
    "StagingWriter",
    "Storage",
    "StorageError",
    "StoredObject",
    "TooLargeError",
    "check_key",
    "get_storage",
    "is_key",
    "storage_from_settings",
]

_lock = threading.Lock()
_cached: tuple[Settings, Storage] | None = None


def storage_from_settings(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        from app.storage.s3 import S3Storage

        secret = settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
        return S3Storage(
            bucket=settings.s3_bucket or "",
            staging_dir=settings.effective_staging_dir,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret,
            key_prefix=settings.s3_key_prefix,
            presign_expiry_s=settings.s3_presign_expiry_s,
            cdn_base_url=settings.cdn_base_url,
            multipart_threshold=settings.s3_multipart_threshold_bytes,
            multipart_chunk=settings.s3_multipart_chunk_bytes,
        )
    return LocalStorage(settings.effective_storage_dir)


def get_storage() -> Storage:
    """The process-wide storage for the current settings (rebuilt if the settings object changes)."""
    global _cached
    settings = get_settings()
    with _lock:
        if _cached is None or _cached[0] is not settings:
            _cached = (settings, storage_from_settings(settings))
        return _cached[1]
