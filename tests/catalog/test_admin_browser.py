"""In Chromium against the real app: an admin registers a base model through the resumable
uploader and removes an adapter with a reason, which its author then sees."""

from __future__ import annotations

import hashlib
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, expect
from sqlmodel import Session

from app.catalog import service
from app.catalog.intake import Upload
from app.catalog.schemas import Actor, AdapterMetadata
from app.catalog.synthetic import random_factors, write_peft_adapter
from app.db import engine_for
from app.mediapipe_format import build_tiny_base
from app.models import User
from app.storage import LocalStorage
from tests.catalog.test_creator_browser import TIMEOUT, sign_in
from tests.support.auth import make_user

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def people(app_server, tmp_path_factory, tiny) -> dict[str, str]:  # noqa: ANN001
    """An admin, and a creator with one published adapter ('Questionable lyrics')."""
    tmp = tmp_path_factory.mktemp("admin-browser")
    config, weights = write_peft_adapter(
        tmp / "peft", random_factors(tiny, rank=4, seed=4242), rank=4, alpha=4, base_model_name="lorastudio/tiny-gemma2"
    )
    with Session(engine_for(f"sqlite:///{app_server.data_dir / 'lorastudio.db'}"), expire_on_commit=False) as db:
        make_user(db, email="admin@example.test", role="admin", name="Ada Admin")
        author = make_user(db, email="author@example.test", role="creator", name="Otto Author")
        actor = Actor.from_role(author.id, "creator")
        with open(config, "rb") as c, open(weights, "rb") as w:
            detail = service.upload_adapter(
                db,
                uploads=[Upload(config.name, c), Upload(weights.name, w)],
                storage=LocalStorage(app_server.data_dir / "files"),
                actor=actor,
                metadata=AdapterMetadata(title="Questionable lyrics"),
                base_model="tiny-gemma2",
            )
        service.publish(db, slug=detail.slug, actor=actor)
    return {"admin": "admin@example.test", "author": "author@example.test", "slug": detail.slug}


def test_admin_registers_a_base_model_by_resumable_upload(app_server, people, browser: Browser, tmp_path) -> None:  # noqa: ANN001
    base = build_tiny_base(tmp_path / "uploaded-base.bin", seed=5)
    page = browser.new_page()
    sign_in(page, app_server.url, people["admin"], "/admin/base-models")
    form = page.locator("#base-upload-form")
    form.locator("input[name=file]").set_input_files(str(base))
    form.locator("input[name=name]").fill("tiny-uploaded")
    form.locator("input[name=title]").fill("Tiny base, uploaded in chunks")
    form.locator("select[name=architecture]").select_option("tiny-gemma2")
    form.locator("#base-upload-submit").click()
    expect(page.locator("#base-upload-status")).to_have_text("Registered tiny-uploaded", timeout=TIMEOUT)
    expect(page.get_by_text("Tiny base, uploaded in chunks")).to_be_visible(timeout=TIMEOUT)
    entry = page.request.get(f"{app_server.url}/api/v1/base-models/tiny-uploaded").json()
    assert entry["sha256"] == hashlib.sha256(base.read_bytes()).hexdigest() and entry["source"] == "upload"


def test_admin_removes_an_adapter_and_its_author_sees_why(app_server, people, browser: Browser) -> None:  # noqa: ANN001
    admin = browser.new_page()
    sign_in(admin, app_server.url, people["admin"], "/admin/catalog")
    row = admin.get_by_role("row").filter(has_text="Questionable lyrics")
    row.get_by_placeholder("Reason the author will see").fill("Lyrics copied from a copyrighted song")
    row.get_by_role("button", name="Remove").click()
    expect(admin.get_by_text(f"Removed: {people['slug']}")).to_be_visible(timeout=TIMEOUT)

    visitor = browser.new_page()
    visitor.goto(f"{app_server.url}/adapters/{people['slug']}")
    expect(visitor.get_by_text("Adapter not found")).to_be_visible(timeout=TIMEOUT)

    author = browser.new_page()
    sign_in(author, app_server.url, people["author"], "/creator/adapters")
    expect(author.get_by_text("Lyrics copied from a copyrighted song")).to_be_visible(timeout=TIMEOUT)
    author.goto(f"{app_server.url}/adapters/{people['slug']}")
    expect(author.locator("#moderation-reason")).to_contain_text(
        "Lyrics copied from a copyrighted song", timeout=TIMEOUT
    )
    expect(author).to_have_url(re.compile(re.escape(people["slug"]) + "$"))


def test_with_moderation_on_a_publish_waits_for_an_admins_approval(
    app_server, people, browser: Browser, tiny, tmp_path
) -> None:  # noqa: ANN001, E501
    from app.config import Actor as ConfigActor
    from app.config import RuntimeConfig
    from app.settings import load_settings

    engine = engine_for(f"sqlite:///{app_server.data_dir / 'lorastudio.db'}")
    config = RuntimeConfig(settings=load_settings(data_dir=app_server.data_dir), engine=engine, redis_url=None)
    config_actor = ConfigActor("admin@example.test")
    config_file, weights = write_peft_adapter(
        tmp_path / "peft", random_factors(tiny, rank=4, seed=4343), rank=4, alpha=4,
        base_model_name="lorastudio/tiny-gemma2",
    )  # fmt: skip
    with Session(engine, expire_on_commit=False) as db, open(config_file, "rb") as c, open(weights, "rb") as w:
        author = db.exec(sa.select(User).where(User.email == people["author"])).scalars().one()
        slug = service.upload_adapter(
            db, uploads=[Upload(config_file.name, c), Upload(weights.name, w)],
            storage=LocalStorage(app_server.data_dir / "files"), actor=Actor.from_role(author.id, "creator"),
            metadata=AdapterMetadata(title="Reviewed tune"), base_model="tiny-gemma2",
        ).slug  # fmt: skip
    config.set("moderation.required", True, actor=config_actor)
    try:
        page = browser.new_page()
        sign_in(page, app_server.url, people["author"], "/creator/adapters")
        row = page.get_by_role("row").filter(has_text="Reviewed tune")
        # The app's workers notice the override within two seconds (no Redis here); leave room under load.
        expect(row.get_by_role("button", name="Publish")).to_be_visible(timeout=TIMEOUT)
        page.wait_for_timeout(4000)
        row.get_by_role("button", name="Publish").click()
        expect(page.get_by_text("Sent for review")).to_be_visible(timeout=TIMEOUT)
        expect(row.get_by_role("button", name="Withdraw")).to_be_visible(timeout=TIMEOUT)
        assert slug not in page.request.get(f"{app_server.url}/api/v1/adapters?q=Reviewed").text()

        admin = browser.new_page()
        sign_in(admin, app_server.url, people["admin"], "/admin/catalog")
        admin.get_by_role("combobox").first.click()
        admin.get_by_role("option", name="pending").click()
        pending = admin.get_by_role("row").filter(has_text="Reviewed tune")
        pending.get_by_role("button", name="Approve").click()
        expect(admin.get_by_text(f"Approved and published: {slug}")).to_be_visible(timeout=TIMEOUT)
        visitor = browser.new_page()
        visitor.goto(f"{app_server.url}/adapters/{slug}")
        expect(visitor.get_by_role("heading", name="Reviewed tune")).to_be_visible(timeout=TIMEOUT)
    finally:
        config.reset("moderation.required", actor=config_actor)
