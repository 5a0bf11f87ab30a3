"""The compiled frontend's fingerprinted files are cached for good; everything else revalidates.

A returning visitor's page used to ask the server again for each of its ~30 scripts (a 304 each)
before it could run; files whose names carry their content hash never change, so they need not.
"""

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient

from app.routes.middleware import IMMUTABLE, SecurityHeadersMiddleware


@pytest.fixture()
def client(tmp_path: Path) -> TestClient:
    (tmp_path / "assets").mkdir()
    for name in ("entry.client-DAbZKoE_.js", "manifest-35e1ab76.js", "__reflex_global_styles-NccINl-w.css", "notes.js"):
        (tmp_path / "assets" / name).write_text("x")
    (tmp_path / "chat_store.js").write_text("x")
    app = Starlette(routes=[Mount("/", StaticFiles(directory=tmp_path))])
    return TestClient(SecurityHeadersMiddleware(app))


@pytest.mark.parametrize(
    "path",
    ["/assets/entry.client-DAbZKoE_.js", "/assets/manifest-35e1ab76.js", "/assets/__reflex_global_styles-NccINl-w.css"],
)
def test_fingerprinted_build_files_are_immutable_even_when_revalidated(client: TestClient, path: str) -> None:
    first = client.get(path)
    assert first.status_code == 200 and first.headers["cache-control"] == IMMUTABLE.decode()
    again = client.get(path, headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == IMMUTABLE.decode()
    assert "content-security-policy" in first.headers  # the other headers are still added


@pytest.mark.parametrize(
    "path", ["/assets/notes.js", "/chat_store.js", "/assets/missing-DAbZKoE_.js", "/assets/../chat_store.js"]
)
def test_other_files_and_misses_are_not_cached_for_good(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert "immutable" not in response.headers.get("cache-control", "")
