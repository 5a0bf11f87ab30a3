"""The catalog in a real browser against the real app (embedded defaults, demo catalog seeded).

A visitor finds an adapter by search and opens its page; a model card full of injected script
renders as text and links, and nothing in it runs.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from app.catalog import service
from app.catalog.intake import Upload
from app.catalog.schemas import Actor, AdapterMetadata
from app.catalog.synthetic import random_factors, write_peft_adapter
from app.db import engine_for
from app.models import User
from app.storage import LocalStorage

pytestmark = pytest.mark.browser

DEMO_TITLES = [
    "Demo: tiny attention adapter (rank 4)",
    "Demo: tiny attention + MLP adapter (rank 8)",
    "Demo: tiny MediaPipe .bin adapter (rank 16)",
]
INJECTED = """## Safe heading

A [good link](https://example.org/docs) and **bold** text.

<script>window.__xss = 'script'</script>

<img src=x onerror="window.__xss = 'img'">

<div onmouseover="window.__xss = 'div'">hover me</div>

[js link](javascript:window.__xss='link') [JS link](JAVASCRIPT:window.__xss='upper')
<a href="javascript:window.__xss='a'" id="raw-a">raw anchor</a>

<svg onload="window.__xss='svg'"></svg><iframe src="javascript:window.__xss='iframe'"></iframe>
"""


def test_visitor_finds_an_adapter_by_search_and_opens_its_page(app_server, page: Page) -> None:
    page.goto(f"{app_server.url}/catalog")
    expect(page.locator("#catalog-count")).to_have_text(re.compile(r"^\d+ adapters$"))
    for title in DEMO_TITLES:  # seeded on first start, labelled as demo files
        card = page.locator(".adapter-card").filter(has_text=title)
        expect(card).to_be_visible()
        expect(card.get_by_text("Demo file")).to_be_visible()
    page.locator("#catalog-search").fill("mlp")
    page.locator("#catalog-search").press("Enter")
    expect(page).to_have_url(re.compile(r"/catalog\?q=mlp$"))
    expect(page.locator("#catalog-count")).to_have_text("1 adapter")
    page.get_by_text("Demo: tiny attention + MLP adapter (rank 8)").click()
    expect(page).to_have_url(re.compile(r"/adapters/demo-tiny-mlp-r8$"))
    expect(page.locator("#adapter-title")).to_have_text("Demo: tiny attention + MLP adapter (rank 8)")
    expect(page.locator("#demo-notice")).to_be_visible()
    expect(page.locator("#chat-button")).to_have_attribute("href", "/chat?adapter=demo-tiny-mlp-r8")
    expect(page.locator(".file-size").first).to_have_text("1.0 MB")
    expect(page.get_by_text("Tell me a story.")).to_be_visible()
    # a search that matches nothing shows the empty state, and "Clear search" brings everything back
    page.goto(f"{app_server.url}/catalog?q=nothing-like-this")
    expect(page.get_by_text("No adapters match")).to_be_visible()
    page.get_by_role("button", name="Clear search").click()
    expect(page).to_have_url(re.compile(r"/catalog$"))
    expect(page.locator(".adapter-card").filter(has_text=DEMO_TITLES[0])).to_be_visible()


def _publish_injected(app_server, tmp_path, tiny) -> str:  # noqa: ANN001
    engine = engine_for(f"sqlite:///{app_server.data_dir / 'lorastudio.db'}")
    storage = LocalStorage(app_server.data_dir / "files")
    config, weights = write_peft_adapter(
        tmp_path / "xss",
        random_factors(tiny, rank=4, seed=99),
        rank=4,
        alpha=4,
        base_model_name="lorastudio/tiny-gemma2",
    )
    with Session(engine, expire_on_commit=False) as db:
        user = User(email="mallory@example.com", display_name="Mallory", role="creator")
        db.add(user)
        db.commit()
        actor = Actor.from_role(user.id, "creator")
        with open(config, "rb") as c, open(weights, "rb") as w:
            detail = service.upload_adapter(
                db,
                uploads=[Upload(config.name, c), Upload(weights.name, w)],
                storage=storage,
                actor=actor,
                metadata=AdapterMetadata(title="Totally harmless", description_md=INJECTED),
                base_model="tiny-gemma2",
            )
        service.publish(db, slug=detail.slug, actor=actor)
    return detail.slug


def test_model_card_renders_without_running_injected_script(app_server, page: Page, tmp_path, tiny) -> None:
    slug = _publish_injected(app_server, tmp_path, tiny)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{app_server.url}/adapters/{slug}")
    card = page.locator("#model-card")
    expect(card.locator("h2")).to_have_text("Safe heading")
    expect(card.get_by_role("link", name="good link")).to_have_attribute("href", "https://example.org/docs")
    expect(card.get_by_role("link", name="good link")).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(card).to_contain_text("<script>window.__xss = 'script'</script>")  # shown as text, not run
    assert card.locator("script, img, iframe, svg, [onerror], [onload], [onmouseover]").count() == 0
    hrefs = card.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href') || '')")
    assert hrefs and not [h for h in hrefs if h.strip().lower().startswith("javascript")]
    card.hover()
    card.get_by_text("hover me").hover()
    for link in card.locator("a").all():
        if link.get_attribute("href") in (None, ""):
            link.click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
