"""`/files/{sha256}`: what the browser's model loader relies on (Range, ETag, caching, no gzip)."""

from __future__ import annotations

import hashlib
import os

import pytest
from starlette.testclient import TestClient

from app.routes import build_api
from app.storage import LocalStorage

SIZE = 2 * 1024 * 1024 + 123
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def stored(local_storage: LocalStorage) -> tuple[str, bytes]:
    data = os.urandom(SIZE)
    return local_storage.put_stream(iter([data])).key, data


@pytest.fixture
def client(local_storage: LocalStorage) -> TestClient:
    from app.cache import get_cache
    from app.settings import get_settings
    from tests.support import migrations

    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(get_settings().effective_database_url)  # the route asks the catalog who may download
    get_cache.cache_clear()
    return TestClient(build_api())


def test_full_download_headers(client: TestClient, stored: tuple[str, bytes]) -> None:
    key, data = stored
    r = client.get(f"/files/{key}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-length"] == str(SIZE)
    assert r.headers["etag"] == f'"{key}"'
    assert r.headers["cache-control"] == IMMUTABLE
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "application/octet-stream"
    assert "content-encoding" not in r.headers
    assert hashlib.sha256(r.content).hexdigest() == key


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-1048575", 0, 1048576),  # the runtime's first read: offset 0, 1 MiB
        ("bytes=1000-1999", 1000, 2000),
        ("bytes=-100", SIZE - 100, SIZE),  # suffix range
        ("bytes=2097000-", 2097000, SIZE),  # open-ended
        ("bytes=5-99999999", 5, SIZE),  # end past the file is clamped
    ],
)
def test_single_ranges(client: TestClient, stored: tuple[str, bytes], range_header: str, start: int, end: int) -> None:
    key, data = stored
    r = client.get(f"/files/{key}", headers={"Range": range_header})
    assert r.status_code == 206
    assert r.content == data[start:end]
    assert r.headers["content-length"] == str(end - start)
    assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}"
    assert r.headers["etag"] == f'"{key}"'
    assert r.headers["cache-control"] == IMMUTABLE


def test_multiple_ranges(client: TestClient, stored: tuple[str, bytes]) -> None:
    key, data = stored
    r = client.get(f"/files/{key}", headers={"Range": "bytes=0-9,100-109"})
    assert r.status_code == 206
    assert r.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert int(r.headers["content-length"]) == len(r.content)
    assert data[0:10] in r.content and data[100:110] in r.content


@pytest.mark.parametrize("range_header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}"])
def test_unsatisfiable_range(client: TestClient, stored: tuple[str, bytes], range_header: str) -> None:
    key, _ = stored
    r = client.get(f"/files/{key}", headers={"Range": range_header})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize("tag", ['"{key}"', 'W/"{key}"', '"other", "{key}"', "*"])
def test_if_none_match_gives_304(client: TestClient, stored: tuple[str, bytes], tag: str) -> None:
    key, _ = stored
    r = client.get(f"/files/{key}", headers={"If-None-Match": tag.format(key=key)})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == f'"{key}"'
    assert r.headers["cache-control"] == IMMUTABLE


def test_stale_etag_gets_the_file(client: TestClient, stored: tuple[str, bytes]) -> None:
    key, data = stored
    r = client.get(f"/files/{key}", headers={"If-None-Match": '"' + "0" * 64 + '"'})
    assert r.status_code == 200 and r.content == data


def test_if_range(client: TestClient, stored: tuple[str, bytes]) -> None:
    key, data = stored
    same = client.get(f"/files/{key}", headers={"Range": "bytes=0-9", "If-Range": f'"{key}"'})
    assert same.status_code == 206 and same.content == data[:10]
    other = client.get(f"/files/{key}", headers={"Range": "bytes=0-9", "If-Range": '"' + "1" * 64 + '"'})
    assert other.status_code == 200 and other.content == data


def test_head(client: TestClient, stored: tuple[str, bytes]) -> None:
    key, _ = stored
    r = client.head(f"/files/{key}")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == str(SIZE)
    assert r.headers["etag"] == f'"{key}"'
    ranged = client.head(f"/files/{key}", headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206
    assert ranged.headers["content-length"] == "10"
    assert ranged.content == b""


@pytest.mark.parametrize("key", ["0" * 64, "A" * 64, "abc", "..%2F..%2Fetc%2Fpasswd", "0" * 64 + ".bin"])
def test_unknown_or_invalid_keys_are_404(client: TestClient, stored: tuple[str, bytes], key: str) -> None:
    r = client.get(f"/files/{key}")
    assert r.status_code == 404
    assert "immutable" not in r.headers.get("cache-control", "")


def test_post_is_not_allowed(client: TestClient, stored: tuple[str, bytes]) -> None:
    key, _ = stored
    assert client.post(f"/files/{key}", content=b"x").status_code == 405
