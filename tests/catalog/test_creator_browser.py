"""In Chromium against the real app: a creator uploads a PEFT adapter, sees the check result and
the conversion, publishes it; a chatter finds it by search, opens it and favourites it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session

from app.catalog.synthetic import random_factors, write_peft_adapter
from app.db import engine_for
from tests.support.auth import PASSWORD, make_user

pytestmark = pytest.mark.browser
TIMEOUT = 30_000


def sign_in(page: Page, base: str, email: str, next_path: str) -> None:
    page.goto(f"{base}/signin?next={next_path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#signin-submit").click()
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"), timeout=TIMEOUT)


@pytest.fixture(scope="module")
def accounts(app_server) -> dict[str, str]:  # noqa: ANN001
    with Session(engine_for(f"sqlite:///{app_server.data_dir / 'lorastudio.db'}")) as db:
        make_user(db, email="creator@example.test", role="creator", name="Cora Creator")
        make_user(db, email="chatter@example.test", role="user", name="Chad Chatter")
    return {"creator": "creator@example.test", "chatter": "chatter@example.test"}


def test_creator_uploads_and_publishes_then_a_chatter_finds_it(
    app_server, accounts, browser: Browser, tmp_path, tiny
) -> None:  # noqa: ANN001
    config, weights = write_peft_adapter(
        tmp_path / "peft", random_factors(tiny, rank=8, seed=777), rank=8, alpha=16,
        base_model_name="lorastudio/tiny-gemma2",
    )  # fmt: skip
    creator = browser.new_page()
    sign_in(creator, app_server.url, accounts["creator"], "/creator/upload")
    creator.locator("#upload-base").click()
    creator.get_by_role("option", name="Tiny Gemma2 (demo, for testing)").click()
    files = creator.locator(f"#{'adapter-upload'} input[type=file]")

    # A broken upload first: the page names exactly what is wrong, and nothing is created.
    files.set_input_files([config])
    creator.locator("#upload-submit").click()
    expect(creator.locator("#upload-error")).to_have_text(
        "adapter_model.safetensors is missing: upload it together with adapter_config.json (or both in one zip)",
        timeout=TIMEOUT,
    )

    files.set_input_files([config, weights])
    creator.locator("#upload-title").fill("Sea shanty singer")
    creator.locator("#upload-submit").click()
    expect(creator.locator("#upload-ok")).to_be_visible(timeout=TIMEOUT)
    table = creator.locator("#check-table")
    expect(table).to_contain_text("Hugging Face PEFT adapter")
    expect(table).to_contain_text("q_proj, k_proj, v_proj, o_proj")
    expect(table).to_contain_text("converted to a MediaPipe LoRA .bin of 1.0 MB")
    expect(table.get_by_role("row", name=re.compile(r"^Rank\s*8$"))).to_be_visible()
    expect(table.get_by_role("row", name=re.compile(r"^Alpha\s*16$"))).to_be_visible()

    creator.locator("#meta-summary").fill("Answers every question as a sea shanty.")
    creator.locator("#meta-tags").fill("music, fun")
    creator.locator("#meta-description").fill("## Yo ho\n\nTrained on *shanties*.")
    creator.locator("#meta-prompts").fill("Sing about the weather.")
    creator.locator("#publish").click()
    expect(creator.locator("#saved-message")).to_have_text("Published: it is in the catalog now.", timeout=TIMEOUT)
    creator.goto(f"{app_server.url}/creator/adapters")
    expect(creator.get_by_role("link", name="Sea shanty singer")).to_be_visible(timeout=TIMEOUT)

    chatter = browser.new_page()
    sign_in(chatter, app_server.url, accounts["chatter"], "/catalog")
    chatter.locator("#catalog-search").fill("shanty")
    chatter.locator("#catalog-search-submit").click()
    expect(chatter.locator("#catalog-count")).to_have_text("1 adapter", timeout=TIMEOUT)
    chatter.get_by_text("Sea shanty singer").click()
    expect(chatter).to_have_url(re.compile(r"/adapters/sea-shanty-singer$"))
    expect(chatter.locator("#adapter-title")).to_have_text("Sea shanty singer")
    expect(chatter.locator("#model-card h2")).to_have_text("Yo ho")
    expect(chatter.get_by_text("Sing about the weather.")).to_be_visible()
    expect(chatter.locator("#chat-button")).to_have_attribute("href", "/chat?adapter=sea-shanty-singer")
    chatter.locator("#favourite-button").click()
    expect(chatter.locator("#favourite-count")).to_have_text("1", timeout=TIMEOUT)

    # A chatter cannot reach the creator's tools: the server sends them to the "forbidden" page.
    chatter.goto(f"{app_server.url}/creator/upload")
    expect(chatter).to_have_url(re.compile(r"/forbidden\?need=creator"), timeout=TIMEOUT)
