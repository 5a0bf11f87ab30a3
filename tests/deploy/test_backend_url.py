"""Engine file URLs point at the backend in every topology (same origin, or pages on a CDN)."""

from __future__ import annotations

import pytest

from app.runtime_assets import WASM_URL_BASE
from components.backend_url import backend_url
from components.engine import engine_self_test


def test_backend_url_is_computed_in_the_browser_from_reflex_backend_address() -> None:
    var = backend_url("/runtime/models/tiny.bin")
    assert str(var) == 'new URL("/runtime/models/tiny.bin", getBackendURL(env.PING)).href'
    imports = dict(var._get_all_var_data().imports)
    assert [item.tag for item in imports["$/utils/state"]] == ["getBackendURL"]
    assert [(item.tag, item.is_default) for item in imports["$/env.json"]] == [("env", True)]
    with pytest.raises(ValueError):
        backend_url("runtime/x")


def test_the_engine_gets_backend_urls_for_backend_paths_only() -> None:
    component = engine_self_test(
        model_url="/runtime/models/a.bin", lora_url="https://cdn.example/l.bin", lora_ranks=[4]
    )
    rendered = str(component.render())
    assert f'new URL("{WASM_URL_BASE}", getBackendURL(env.PING)).href' in rendered
    assert 'new URL("/runtime/models/a.bin", getBackendURL(env.PING)).href' in rendered
    assert "https://cdn.example/l.bin" in rendered and 'new URL("https://cdn' not in rendered
