"""The S3 backend against a real S3 API server (moto's standalone server) on loopback."""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from starlette.testclient import TestClient

from app import settings as settings_module
from app.routes import build_api
from app.storage import ObjectNotFoundError, TooLargeError, get_storage
from app.storage.s3 import S3Storage
from tests.support.s3server import ACCESS_KEY, SECRET_KEY, S3Server

CHUNK = 8 * 1024 * 1024
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    name = f"lorastudio-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_server.url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}),
    ).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_server: S3Server, bucket: str
) -> Iterator[settings_module.Settings]:
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": s3_server.url,
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "S3_PRESIGN_EXPIRY_S": "120",
        "S3_MULTIPART_THRESHOLD_BYTES": str(CHUNK),
        "S3_MULTIPART_CHUNK_BYTES": str(CHUNK),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CDN_BASE_URL", raising=False)
    settings_module.get_settings.cache_clear()
    yield settings_module.get_settings()
    settings_module.get_settings.cache_clear()


@pytest.fixture
def s3(s3_settings: settings_module.Settings) -> S3Storage:
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    return storage


def _staging_leftovers(storage: S3Storage) -> list[Path]:
    return list(storage.staging_dir.glob("*")) if storage.staging_dir.exists() else []


def test_small_object_roundtrip(s3: S3Storage) -> None:
    data = b"adapter bytes" * 1000
    obj = s3.put_stream(iter([data]))
    assert obj.key == hashlib.sha256(data).hexdigest() and obj.created
    assert s3.exists(obj.key) and s3.stat(obj.key).size == len(data)
    with s3.open(obj.key) as body:
        assert body.read() == data
    head = s3.client.head_object(Bucket=s3.bucket, Key=s3.object_name(obj.key))
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["ContentType"] == "application/octet-stream"
    assert "ContentEncoding" not in head
    assert head["Metadata"] == {"sha256": obj.key}
    assert list(s3.keys()) == [obj.key]
    again = s3.put_stream(iter([data]))
    assert again.key == obj.key and not again.created
    assert s3.delete(obj.key) and not s3.exists(obj.key) and not s3.delete(obj.key)
    with pytest.raises(ObjectNotFoundError):
        s3.stat(obj.key)
    assert _staging_leftovers(s3) == []


def test_oversized_upload_sends_nothing(s3: S3Storage) -> None:
    with pytest.raises(TooLargeError):
        s3.put_stream(iter([b"x" * MIB] * 5), max_bytes=4 * MIB)
    assert list(s3.keys()) == []
    assert _staging_leftovers(s3) == []


def test_large_multipart_upload_and_ranged_presigned_get(s3: S3Storage, tmp_path: Path) -> None:
    size = 105 * MIB + 12345
    source = tmp_path / "big.bin"
    pattern = hashlib.sha256(b"seed").digest() * (MIB // 32)  # 1 MiB of non-repeating-per-32B bytes
    with open(source, "wb") as handle:
        for i in range(size // MIB):
            handle.write(i.to_bytes(4, "little") + pattern[4:])
        handle.write(pattern[: size % MIB])
    digest = hashlib.sha256(source.read_bytes()).hexdigest()

    obj = s3.put_file(source, expected_sha256=digest)
    assert (obj.key, obj.size) == (digest, size)
    head = s3.client.head_object(Bucket=s3.bucket, Key=s3.object_name(digest))
    assert head["ContentLength"] == size
    # An S3 multipart object's ETag ends in "-<number of parts>".
    assert head["ETag"].strip('"').endswith(f"-{math.ceil(size / CHUNK)}")

    url = s3.url_for(digest)
    start, end = 50 * MIB + 7, 50 * MIB + 7 + 4 * MIB  # crosses part boundaries
    r = httpx.get(url, headers={"Range": f"bytes={start}-{end - 1}"}, timeout=60)
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
    with open(source, "rb") as handle:
        handle.seek(start)
        assert r.content == handle.read(end - start)
    tail = httpx.get(url, headers={"Range": "bytes=-1000"}, timeout=60)
    assert tail.status_code == 206 and tail.content == source.read_bytes()[-1000:]
    assert _staging_leftovers(s3) == []


def test_presigned_url_is_short_lived_and_signed(s3: S3Storage) -> None:
    """The URL carries the configured expiry inside its SigV4 signature.

    moto 5.2.5 serves presigned URLs without checking signature or expiry (checked by hand: a
    1-second URL still worked after 2.5 s), so expiry enforcement itself cannot be observed on
    this server. What the app controls is checked: X-Amz-Expires equals S3_PRESIGN_EXPIRY_S,
    the signing time is now, and the signature is the genuine SigV4 signature over those values,
    so the expiry cannot be stretched without the secret.
    """
    obj = s3.put_stream(iter([b"presigned"]))
    before = time.time()
    url = s3.url_for(obj.key)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "120"
    signed_at = time.mktime(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
    assert abs(signed_at - before) < 5

    # Recompute the signature with botocore's signer at the URL's own timestamp.
    unsigned = url.split("&X-Amz-Signature=")[0]
    request = AWSRequest(method="GET", url=unsigned.split("?")[0])
    request.context["timestamp"] = query["X-Amz-Date"]
    S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1", expires=120).add_auth(request)
    expected = parse_qs(urlsplit(request.url).query)["X-Amz-Signature"][0]
    assert expected == query["X-Amz-Signature"]

    assert httpx.get(url).content == b"presigned"
    request = AWSRequest(method="GET", url=unsigned.split("?")[0])
    request.context["timestamp"] = query["X-Amz-Date"]
    S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1", expires=604800).add_auth(request)
    assert parse_qs(urlsplit(request.url).query)["X-Amz-Signature"][0] != query["X-Amz-Signature"]


def test_cdn_url_for_public_files(s3: S3Storage) -> None:
    obj = s3.put_stream(iter([b"public"]))
    cdn = S3Storage(bucket=s3.bucket, staging_dir=s3.staging_dir, client=s3.client, cdn_base_url="https://cdn.example/")
    assert cdn.url_for(obj.key, public=True) == f"https://cdn.example/files/{obj.key[:2]}/{obj.key}"
    assert "X-Amz-Signature=" in cdn.url_for(obj.key, public=False)  # drafts stay presigned
    assert "X-Amz-Signature=" in s3.url_for(obj.key, public=True)  # no CDN configured


def _migrated(settings: settings_module.Settings) -> None:
    """The routes ask the catalog (who may download, file URLs): give them a database at head."""
    from app.cache import get_cache
    from tests.support import migrations

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.effective_database_url)
    get_cache.cache_clear()


def test_files_route_redirects_to_presigned_url(s3: S3Storage) -> None:
    _migrated(settings_module.get_settings())
    obj = s3.put_stream(iter([b"via redirect"]))
    client = TestClient(build_api())
    r = client.get(f"/files/{obj.key}", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["cache-control"] == "no-store"
    assert "X-Amz-Signature=" in r.headers["location"]
    assert httpx.get(r.headers["location"]).content == b"via redirect"
    assert client.get(f"/files/{'0' * 64}", follow_redirects=False).status_code == 404


def test_api_file_urls_are_presigned_or_cdn(s3: S3Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON API hands out S3 URLs, so adapter bytes never pass through the app."""
    from sqlmodel import Session

    from app.catalog.demo import seed_demo_catalog
    from app.db import engine_for

    settings = settings_module.get_settings()
    _migrated(settings)
    with Session(engine_for(settings.effective_database_url)) as session:
        seed_demo_catalog(session, storage=s3)
    client = TestClient(build_api())
    files = client.get("/api/v1/adapters/demo-tiny-attention-r4/files").json()["files"]
    lora = next(f for f in files if f["role"] == "mediapipe-lora")
    assert "X-Amz-Signature=" in lora["url"] and "X-Amz-Expires=120" in lora["url"]
    body = httpx.get(lora["url"]).content
    assert len(body) == lora["size_bytes"] and hashlib.sha256(body).hexdigest() == lora["sha256"]
    base = client.get("/api/v1/base-models/tiny-gemma2-demo").json()
    assert "X-Amz-Signature=" in base["url"]

    monkeypatch.setenv("CDN_BASE_URL", "https://cdn.example.test")
    settings_module.get_settings.cache_clear()
    files = TestClient(build_api()).get("/api/v1/adapters/demo-tiny-attention-r4/files").json()["files"]
    assert {f["url"] for f in files} == {f"https://cdn.example.test/{s3.object_name(f['sha256'])}" for f in files}


def test_committing_the_same_bytes_again_refreshes_the_objects_time(s3: S3Storage) -> None:
    """What the storage sweep (app/catalog/sweep.py) relies on to leave a file alone that is in use again."""
    data = b"the same adapter" * 100
    first = s3.put_stream(iter([data]))
    before = s3.stat(first.key).modified
    assert abs(before - time.time()) < 120
    time.sleep(1.1)  # LastModified has whole seconds
    again = s3.put_stream(iter([data]))
    assert not again.created
    assert s3.stat(first.key).modified > before
    head = s3.client.head_object(Bucket=s3.bucket, Key=s3.object_name(first.key))
    assert head["CacheControl"] == "public, max-age=31536000, immutable" and head["Metadata"] == {"sha256": first.key}
