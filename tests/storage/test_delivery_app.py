"""The same route inside the real app (Reflex prod server): no compression layer sneaks in."""

from __future__ import annotations

import hashlib

import httpx

from app.storage import LocalStorage


def test_real_app_serves_files_uncompressed_with_length(app_server) -> None:
    storage = LocalStorage(app_server.data_dir / "files")
    data = b"\0" * (1024 * 1024 + 4104)  # zeros: any gzip layer would compress them
    key = storage.put_stream(iter([data])).key
    url = f"{app_server.url}/files/{key}"
    with httpx.Client(headers={"Accept-Encoding": "gzip, deflate, br, zstd"}) as client:
        full = client.get(url)
        assert full.status_code == 200
        assert "content-encoding" not in full.headers
        assert full.headers["content-length"] == str(len(data))
        assert hashlib.sha256(full.content).hexdigest() == key
        assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
        first = client.get(url, headers={"Range": "bytes=0-1048575"})
        assert first.status_code == 206
        assert first.headers["content-length"] == "1048576"
        assert "content-encoding" not in first.headers
        assert client.get(url, headers={"If-None-Match": f'"{key}"'}).status_code == 304
        cors = client.get(url, headers={"Origin": "https://static.example"})
        assert cors.headers.get("access-control-allow-origin") in {"*", "https://static.example"}
        assert client.get(f"{app_server.url}/files/{'0' * 64}").status_code == 404
