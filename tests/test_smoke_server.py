"""The app starts on its embedded defaults and answers its health routes."""

import httpx


def test_health_and_pages(app_server) -> None:
    assert httpx.get(f"{app_server.url}/ping").json() == "pong"
    health = httpx.get(f"{app_server.url}/_health").json()
    assert health["status"] is True and health["db"] is True
    for path in ("/", "/selftest", "/catalog", "/chat"):
        assert httpx.get(f"{app_server.url}{path}", follow_redirects=True).status_code == 200, path
