"""The app starts on its embedded defaults and answers its health routes."""

import httpx


def test_health_and_pages(app_server) -> None:
    assert httpx.get(f"{app_server.url}/ping").json() == "pong"
    health = httpx.get(f"{app_server.url}/_health").json()
    assert health["status"] is True and health["db"] is True
    for path in ("/", "/selftest", "/catalog", "/chat"):
        assert httpx.get(f"{app_server.url}{path}", follow_redirects=True).status_code == 200, path


def test_the_icon_browsers_ask_for_is_served(app_server) -> None:
    """Every page load asks for /favicon.ico (the pages' og:image names it too); a 404 there
    shows up as an error in the console of every page."""
    icon = httpx.get(f"{app_server.url}/favicon.ico")
    assert icon.status_code == 200
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
