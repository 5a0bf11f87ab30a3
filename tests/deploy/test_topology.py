"""The production topology on loopback, end to end, on the real PostgreSQL and Redis.

One exported static site (`reflex export --frontend-only`, API URL baked in) served by a plain
static server; two backend processes behind one entry point (a TCP proxy the test steers):
  A = `reflex run --env prod --backend-only`   (the documented static-export command), 1 worker
  B = `python -m app.serve`                    (the container's command; it also serves the pages),
                                               2 worker processes
PostgreSQL and Redis are reached through proxies too, so the test can take them away.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
import redis
import sqlalchemy as sa
from playwright.sync_api import expect

from app.runtime_assets import WASM_URL_BASE
from tests.browser.chat_page import ChatPage, Traffic
from tests.browser.selftest_page import SelfTestPage
from tests.support import migrations, services
from tests.support.app_server import ROOT, free_port, reflex_env
from tests.support.auth import FAST_ARGON2, PASSWORD, make_user
from tests.support.loopback_proxy import LoopbackProxy
from tests.support.topology import Backend, StaticServer, export_site

METRICS_TOKEN = "topology-metrics"  # noqa: S105 - a test value


@dataclass
class Stack:
    entry: LoopbackProxy
    a: Backend
    b: Backend
    static: StaticServer
    pg: LoopbackProxy
    redis_proxy: LoopbackProxy
    redis_url: str
    web_dir: Path  # the web directory `reflex export` built in (its build/client holds the pages)
    db_url: str

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.entry.port}"


# Session scope: pytest-playwright groups browser tests across modules, which would otherwise tear
# this stack down and build it again between this module's browser and HTTP tests.
@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not services.postgres_reachable():
        services.unavailable(f"PostgreSQL not reachable at {services.POSTGRES_ADMIN_URL}")
    if not services.redis_reachable():
        services.unavailable(f"Redis not reachable at {services.REDIS_URL}")
    work = tmp_path_factory.mktemp("topology")
    db_url = services.create_postgres_database()
    migrations.upgrade(db_url)
    pg_target = sa.engine.make_url(db_url)
    pg = LoopbackProxy((pg_target.host or "127.0.0.1", pg_target.port or 5432)).start()
    redis_proxy = LoopbackProxy(("127.0.0.1", 6379)).start()
    redis_url = f"redis://127.0.0.1:{redis_proxy.port}/11"
    redis.Redis.from_url(services.REDIS_URL.rsplit("/", 1)[0] + "/11").flushdb()
    env = {
        "DATABASE_URL": pg_target.set(host="127.0.0.1", port=pg.port).render_as_string(hide_password=False),
        "REDIS_URL": redis_url,
        "SECRET_KEY": "topology-test-secret-key-0123456789",
        "METRICS_TOKEN": METRICS_TOKEN,
        "GRANIAN_WORKERS": "1",
        "LOG_FORMAT": "json",
        **FAST_ARGON2,
        "HEALTH_TIMEOUT_S": "1.5",
        "HEALTH_CACHE_S": "0",  # every probe checks afresh, so outages show at once
        "DB_CONNECT_TIMEOUT_S": "2",
    }
    site_dir = work / "site"
    static = StaticServer(site_dir)
    env["PUBLIC_BASE_URL"] = static.url  # where users are: sign-in posts come from this origin
    # The engine's wasm, from the npm package the export installs (a fresh clone has no .web).
    env["MEDIAPIPE_WASM_DIR"] = str(work / "web" / ".web" / "node_modules" / "@mediapipe" / "tasks-genai" / "wasm")
    a = Backend(data_dir=work / "a", env=env, command="reflex")
    # B is the production server with two worker processes (granian), as in the image.
    b_env = {**env, "REFLEX_WEB_WORKDIR": str(work / "web" / ".web"), "GRANIAN_WORKERS": "2"}
    b = Backend(data_dir=work / "b", env=b_env, command="serve", pages=True)
    entry = LoopbackProxy(("127.0.0.1", a.port), ("127.0.0.1", b.port)).start()
    export_site(api_url=f"http://127.0.0.1:{entry.port}", dest=site_dir, work=work / "web")
    static.start()
    started: list = [entry, pg, redis_proxy, static]
    try:
        started.append(a.start())
        started.append(b.start())
        yield Stack(
            entry=entry,
            a=a,
            b=b,
            static=static,
            pg=pg,
            redis_proxy=redis_proxy,
            redis_url=redis_url,
            web_dir=work / "web" / ".web",
            db_url=db_url,
        )
    finally:
        for part in reversed(started):
            part.stop() if isinstance(part, Backend | StaticServer) else part.close()
        services.drop_postgres_database(db_url)


def _backend_pids(backend: Backend) -> set[int]:
    assert backend.process is not None
    parent = psutil.Process(backend.process.pid)
    return {parent.pid, *(child.pid for child in parent.children(recursive=True))}


def _capture_frames(page) -> list[str]:  # noqa: ANN001
    """Every frame the page receives from the backend's websocket, from now on."""
    frames: list[str] = []

    def on_socket(ws) -> None:  # noqa: ANN001
        if "/_event" in ws.url:
            ws.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", on_socket)
    return frames


def _until(predicate, timeout_s: float, message: str, page=None) -> None:  # noqa: ANN001
    """Poll; with a page, wait through Playwright so that its event callbacks keep running."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, message
        if page is not None:
            page.wait_for_timeout(200)
        else:
            time.sleep(0.2)


def test_static_site_talks_to_the_backend_on_another_origin(stack: Stack, page) -> None:
    stack.entry.route_to(0)
    frames = _capture_frames(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(stack.static.url + "/")
    page.get_by_role("heading", name=re.compile("Chat with Gemma2 LoRA adapters")).wait_for()
    _until(lambda: any("delta" in frame for frame in frames), 30, "no state arrived over the websocket", page)
    backend_requests = [url for url in requests if url.startswith(stack.api)]
    assert all("/_event" in url or "/ping" in url for url in backend_requests), requests
    strangers = [url for url in requests if not url.startswith((stack.api, stack.static.url, "data:", "blob:"))]
    assert not strangers, f"the pages fetched from elsewhere: {strangers}"
    assert page.url.startswith(stack.static.url), "the pages come from the static host"

    # The engine's runtime files come from the backend's /runtime routes, cross-origin.
    status = page.evaluate(
        """async (url) => {
            const response = await fetch(url, {mode: "cors"});
            const bytes = (await response.arrayBuffer()).byteLength;
            return [response.status, response.headers.get("content-type"), bytes];
        }""",
        f"{stack.api}{WASM_URL_BASE}/genai_wasm_internal.wasm",
    )
    assert status[0] == 200 and status[1] == "application/wasm" and status[2] > 1_000_000


def test_a_session_moves_to_another_backend_and_keeps_its_state(stack: Stack, page) -> None:
    """Two workers, one Redis: a browser whose websocket lands on the other backend carries on
    with the same Reflex session (no sticky sessions needed)."""
    stack.entry.route_to(0)
    frames = _capture_frames(page)
    page.goto(stack.static.url + "/selftest")
    # The page renders, including the engine's URLs computed against the backend's address.
    page.get_by_role("heading", name="Engine self-test").wait_for()
    _until(lambda: any("delta" in frame for frame in frames), 30, "no state from backend A", page)
    token = page.evaluate("() => window.sessionStorage.getItem('token')")
    assert token
    store = redis.Redis.from_url(services.REDIS_URL.rsplit("/", 1)[0] + "/11")
    state_keys = {key for key in store.keys("*") if token.encode() in key}
    assert state_keys, "backend A keeps the session's state in Redis"

    page.wait_for_timeout(2500)  # let the session's keys sit idle, to see who touches them next
    assert min(store.object("idletime", key) for key in state_keys) >= 2
    b_hydrations = stack.b.log_text().count("hydrate")
    frames.clear()
    stack.entry.route_to(1)
    stack.entry.drop_connections()  # as when a pod goes away: the browser reconnects by itself
    _until(lambda: any("delta" in frame for frame in frames), 30, "the browser did not resume on backend B", page)
    _until(lambda: stack.b.log_text().count("hydrate") > b_hydrations, 10, "backend B never served the session", page)
    assert page.evaluate("() => window.sessionStorage.getItem('token')") == token
    assert {key for key in store.keys("*") if token.encode() in key} == state_keys, (
        "backend B continued the same session state instead of starting a new one"
    )
    assert min(store.object("idletime", key) for key in state_keys) < 2, "backend B never read the session from Redis"


def test_sign_in_on_the_static_site_and_stay_signed_in_on_another_backend(stack: Stack, page) -> None:
    """Sessions are shared: signed in through backend A, the user is still signed in when the
    page's websocket and requests land on backend B. Their id, never their e-mail, is in B's logs."""
    from sqlmodel import Session

    from app.db import engine_for

    with Session(engine_for(stack.db_url)) as db:
        user = make_user(db, email="topology@example.com", name="Topology Tester")
    stack.entry.route_to(0)
    page.goto(stack.static.url + "/signin")
    page.get_by_label("Email").fill("topology@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#signin-submit").click()
    page.locator("#user-name").wait_for(timeout=30_000)
    assert page.locator("#user-name").inner_text() == "Topology Tester"
    assert page.url.startswith(stack.static.url)

    stack.entry.route_to(1)
    stack.entry.drop_connections()
    page.reload()
    page.locator("#user-name").wait_for(timeout=30_000)
    assert page.locator("#user-name").inner_text() == "Topology Tester"
    _until(lambda: f'"user_id": "{user.id}"' in stack.b.log_text(), 10, "B's log lines do not name the user", page)
    assert "topology@example.com" not in stack.b.log_text() + stack.a.log_text()
    assert PASSWORD not in stack.b.log_text() + stack.a.log_text()


def test_the_engine_runs_on_the_static_site_with_its_files_from_the_backend(stack: Stack, page) -> None:
    """The self-test on the exported pages: the wasm runtime and the tiny model come from the
    backend's /runtime routes on the other origin (CORS), and a generation completes."""
    stack.entry.route_to(0)
    runtime_requests: list[str] = []
    page.on("request", lambda request: runtime_requests.append(request.url) if "/runtime/" in request.url else None)
    selftest = SelfTestPage(page, stack.static.url).open(max_tokens=32)
    selftest.load()
    result = selftest.generate("Hello")
    assert result.state == "done", selftest.root.inner_text()
    assert result.tokens and result.tokens > 0
    assert runtime_requests and all(url.startswith(stack.api + "/runtime/") for url in runtime_requests), (
        runtime_requests
    )
    assert any(url.endswith(".wasm") for url in runtime_requests)


def test_chat_on_the_static_site_downloads_the_model_from_the_backend_and_answers(stack: Stack, page) -> None:
    """The private chat on the exported pages: the base model comes from the backend's origin
    (the catalog's file URL), the tiny model answers, and the prompt never leaves the browser."""
    stack.entry.route_to(0)
    traffic = Traffic().attach(page)
    chat = ChatPage(page, stack.static.url).open()
    assert chat.base_url.startswith(stack.api), chat.base_url
    page.get_by_test_id("setting-maxTokens").fill("256")
    chat.download()
    chat.wait_ready()
    canary = f"canary-{time.monotonic_ns()}"
    chat.send(f"Say something about {canary}.")
    text, tokens, cancelled = chat.last_answer()
    assert text.strip() and tokens > 0 and not cancelled, chat.error_text()
    assert not [item for item in traffic.everything() if canary in item], "the prompt reached the network"


def test_the_catalog_page_on_the_static_site_lists_adapters_from_the_backend(stack: Stack, page) -> None:
    stack.entry.route_to(1)
    page.goto(stack.static.url + "/catalog")
    expect(page.get_by_text("Demo: tiny attention adapter (rank 4)").first).to_be_visible(timeout=30_000)
    assert page.url.startswith(stack.static.url)


def test_a_config_change_reaches_both_backends_and_their_pages(stack: Stack, page) -> None:
    """An operator changes the announcement banner once (the CLI, through Redis); both backends
    serve it within a second or two, and a browser on either sees it without a restart."""
    text = f"Maintenance tonight {time.monotonic_ns()}"
    env = {**reflex_env(), "DATABASE_URL": stack.db_url, "REDIS_URL": stack.redis_url}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "config", "set", "banner.text", text],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for backend in (stack.a, stack.b):
        _until(
            lambda url=backend.url: text in httpx.get(f"{url}/api/v1/config/public").text,
            10,
            f"{backend.url} never served the new banner",
        )
    for index in (0, 1):
        stack.entry.route_to(index)
        stack.entry.drop_connections()
        page.goto(stack.static.url + "/")
        expect(page.get_by_text(text)).to_be_visible(timeout=30_000)


def test_the_container_command_serves_pages_and_backend_on_one_port(stack: Stack, page) -> None:
    stack.entry.route_to(1)  # B: python -m app.serve with the built pages mounted
    frames = _capture_frames(page)
    response = page.goto(stack.api + "/selftest")
    assert response is not None and response.status == 200
    _until(lambda: any("delta" in frame for frame in frames), 30, "no state from app.serve", page)
    assert httpx.get(f"{stack.api}/catalog", follow_redirects=True).status_code == 200


def test_readiness_follows_postgres_without_restarting_workers(stack: Stack) -> None:
    backends = [stack.a, stack.b]
    pids = {backend.port: _backend_pids(backend) for backend in backends}
    for backend in backends:
        assert httpx.get(f"{backend.url}/healthz/ready").status_code == 200
    stack.pg.set_mode("refuse")
    stack.pg.drop_connections()
    try:
        for backend in backends:
            start = time.monotonic()
            ready = httpx.get(f"{backend.url}/healthz/ready", timeout=10)
            assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
            assert time.monotonic() - start < 4, "readiness answers within its timeout"
            assert httpx.get(f"{backend.url}/healthz/live").status_code == 200, "liveness ignores the database"
        assert httpx.get(stack.static.url + "/catalog").status_code == 200, "the static pages do not need it"
        # A request that needs the database fails fast and says why (JSON for the API, a page for browsers).
        start = time.monotonic()
        query = {"q": f"uncached-{time.monotonic_ns()}"}
        api = httpx.get(f"{stack.a.url}/api/v1/adapters", params=query, timeout=15)
        assert api.status_code == 503 and api.json()["error"] == "database_unavailable", api.text
        html = httpx.get(f"{stack.a.url}/api/v1/adapters", params=query, headers={"Accept": "text/html"}, timeout=15)
        assert html.status_code == 503 and "Temporarily unavailable" in html.text
        assert time.monotonic() - start < 12
        stack.pg.set_mode("blackhole")  # a database that accepts and never answers
        start = time.monotonic()
        assert httpx.get(f"{stack.a.url}/healthz/ready", timeout=10).status_code == 503
        assert time.monotonic() - start < 4
    finally:
        stack.pg.set_mode("forward")
    for backend in backends:
        _until(
            lambda url=backend.url: httpx.get(f"{url}/healthz/ready", timeout=10).status_code == 200,
            15,
            "readiness did not recover",
        )
    assert {backend.port: _backend_pids(backend) for backend in backends} == pids, "no worker was restarted"


def _sign_in_over_http(stack: Stack, email: str) -> httpx.Cookies:
    from sqlmodel import Session

    from app.db import engine_for

    with Session(engine_for(stack.db_url)) as db:
        make_user(db, email=email)
    response = httpx.post(
        f"{stack.a.url}/auth/signin",
        data={"email": email, "password": PASSWORD},
        headers={"Accept": "application/json", "Origin": stack.static.url},
    )
    assert response.status_code == 200 and response.json()["ok"], response.text
    return response.cookies


def test_redis_outage_degrades_but_pages_and_files_keep_working(stack: Stack) -> None:
    cookies = _sign_in_over_http(stack, "outage@example.com")
    stack.redis_proxy.set_mode("refuse")
    try:
        # Public files still load for a signed-in browser (its session cannot be read: anonymous).
        for backend in (stack.a, stack.b):
            assert httpx.get(f"{backend.url}{WASM_URL_BASE}/genai_wasm_internal.js", cookies=cookies).status_code == 200
        # Sign-in limits fail safe: no attempt gets through unlimited; the answer is clear and quick.
        start = time.monotonic()
        refused = httpx.post(
            f"{stack.a.url}/auth/signin",
            data={"email": "outage@example.com", "password": PASSWORD},
            headers={"Accept": "application/json", "Origin": stack.static.url},
            timeout=15,
        )
        assert refused.status_code == 503 and refused.json()["error"] == "cache_unavailable", refused.text
        assert refused.headers["retry-after"] == "5"
        assert time.monotonic() - start < 6
        # Browsing the catalog keeps working (cache degraded to the database), signed in or not.
        for cookie_jar in (cookies, None):
            listing = httpx.get(f"{stack.b.url}/api/v1/adapters", params={"q": "demo"}, cookies=cookie_jar, timeout=15)
            assert listing.status_code == 200, listing.text
            assert listing.json()["items"], "the seeded demo adapters are listed"
        for backend in (stack.a, stack.b):
            ready = httpx.get(f"{backend.url}/healthz/ready", timeout=10)
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            assert ready.json()["checks"]["redis"]["ok"] is False
            head = httpx.head(f"{backend.url}{WASM_URL_BASE}/genai_wasm_internal.js", timeout=10)
            assert head.status_code == 200
        assert httpx.get(f"{stack.b.url}/selftest", timeout=10, follow_redirects=True).status_code == 200
    finally:
        stack.redis_proxy.set_mode("forward")
    _until(lambda: httpx.get(f"{stack.a.url}/healthz/ready").json()["status"] == "ready", 10, "Redis did not come back")


def test_one_server_with_two_workers_answers_from_both_and_counts_them_together(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    def live_count() -> float:
        text = httpx.get(f"{stack.b.url}/metrics", headers=headers).text
        match = re.search(
            r'lorastudio_http_requests_total\{method="GET",route="/healthz/live",status="200"\} (\S+)', text
        )
        return float(match.group(1)) if match else 0.0

    before = live_count()
    pids = set()
    for _ in range(60):  # a new connection each time: the kernel spreads them over the workers
        pids.add(httpx.get(f"{stack.b.url}/healthz/live").json()["pid"])
    assert len(pids) == 2, f"expected both of B's workers to answer, saw {pids}"
    assert live_count() == before + 60, "every worker's requests are in the one /metrics answer"


def test_metrics_and_logs_cover_requests_and_event_handlers(stack: Stack, page) -> None:
    stack.entry.route_to(1)
    frames = _capture_frames(page)
    page.goto(stack.static.url + "/")
    _until(lambda: any("delta" in frame for frame in frames), 30, "no state from backend B", page)
    httpx.get(f"{stack.b.url}/healthz/ready", params={"token": "hunter2"})
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    text = httpx.get(f"{stack.b.url}/metrics", headers=headers).text
    assert re.search(r'lorastudio_event_duration_seconds_count\{event="[^"]*hydrate[^"]*",outcome="ok"\} [1-9]', text)
    assert re.search(r'lorastudio_http_requests_total\{method="GET",route="/healthz/ready",status="200"\} [1-9]', text)
    assert "lorastudio_websocket_connections" in text
    assert httpx.get(f"{stack.b.url}/metrics").status_code == 401

    lines = [json.loads(line) for line in stack.b.log_text().splitlines() if line.startswith("{")]
    events = [line for line in lines if line.get("logger") == "lorastudio.events"]
    assert events and all({"event", "event_id", "duration_ms", "outcome"} <= set(line) for line in events)
    assert all(len(line["session_hash"]) == 16 for line in events), "the client token never appears in logs"
    access = [line for line in lines if line.get("logger") == "lorastudio.access"]
    assert access and all(line.get("request_id") for line in access)
    secret_values = ("topology-test-secret-key", METRICS_TOKEN, "hunter2")
    assert not any(value in stack.b.log_text() for value in secret_values)


def test_the_image_layout_runs_and_writes_only_where_allowed(stack: Stack, tmp_path: Path) -> None:
    """The runtime stage of the Dockerfile, without Docker: the files its build stage copies (read
    from the Dockerfile itself), the built pages, the wasm in MEDIAPIPE_WASM_DIR, then its CMD.
    Nothing is written into the code tree but Reflex's marker directory (.web/backend), which the
    image gives to the app user; everything else stays root-owned."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = re.search(r"cp -r (.+?) /opt/site/", dockerfile)
    assert copied is not None
    site = tmp_path / "site"
    (site / ".web" / "build").mkdir(parents=True)
    shutil.copytree(stack.web_dir / "build" / "client", site / ".web" / "build" / "client")
    assert "mv .web/backend /opt/site/.web/backend" in dockerfile
    assert "--chown=10001:10001 /opt/site/.web/backend /app/.web/backend" in dockerfile
    shutil.copytree(stack.web_dir / "backend", site / ".web" / "backend")
    for name in copied.group(1).split():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, site / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, site / name)
    wasm = tmp_path / "mediapipe-wasm"
    shutil.copytree(stack.web_dir / "node_modules" / "@mediapipe" / "tasks-genai" / "wasm", wasm)
    before = sorted(str(p.relative_to(site)) for p in site.rglob("*"))
    port = free_port()
    # The runtime stage's ENV, with its paths moved under tmp_path (/tmp, /data, the wasm copy).
    runtime_env = dockerfile.split("AS runtime", 1)[1].split("\nRUN ", 1)[0]
    places = {"/tmp": tmp_path / "tmp", "/data": tmp_path / "data", "/opt/mediapipe-wasm": wasm}
    (tmp_path / "tmp").mkdir()
    env = {**reflex_env(), "TMPDIR": str(tmp_path / "tmp")}  # the container's /tmp: metrics files too
    env.pop("REFLEX_WEB_WORKDIR", None)
    for name, value in re.findall(r"\b([A-Z][A-Z0-9_]*)=(\S+)", runtime_env):
        if name == "PATH":
            continue
        for prefix, local in places.items():
            if value == prefix or value.startswith(prefix + "/"):
                value = str(local) + value[len(prefix) :]
        env[name] = value
    assert env["DATA_DIR"] == str(tmp_path / "data") and env["MEDIAPIPE_WASM_DIR"] == str(wasm)
    env.update(PORT=str(port), HOST="127.0.0.1")
    cmd = re.search(r'^CMD \["sh", "-c", "(.+)"\]$', dockerfile, re.M)
    assert cmd is not None
    log = (tmp_path / "container.log").open("wb")
    process = subprocess.Popen(
        ["sh", "-c", cmd.group(1).replace("python", sys.executable)],
        cwd=site,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _answers(f"{url}/healthz/ready"), 90, "the image's command did not come up")
        assert httpx.get(f"{url}/selftest/").status_code == 200
        wasm_file = httpx.head(f"{url}{WASM_URL_BASE}/genai_wasm_internal.wasm")
        assert wasm_file.status_code == 200 and wasm_file.headers["content-type"] == "application/wasm"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=20)
    after = sorted(str(p.relative_to(site)) for p in site.rglob("*"))
    writes = set(after) ^ set(before)
    assert all(path.startswith(".web/backend/") for path in writes), f"the server wrote into the code tree: {writes}"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
