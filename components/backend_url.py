"""URLs of files the backend serves, resolved in the browser against the backend's address.

A page built with the backend on the same origin and one exported to a CDN with the API
elsewhere (docs/operations.md, "Static export") must both find `/runtime/...` on the backend,
not on whatever host served the page. Reflex's own `getBackendURL(env.PING)` knows that
address (and maps `localhost` to the page's host), so the browser computes the URL at run time.
"""

from __future__ import annotations

import json

import reflex as rx
from reflex.vars.base import VarData
from reflex_base.utils.imports import ImportVar


def backend_url(path: str) -> rx.Var[str]:
    """`path` (starting with /) on the backend, as a string Var computed in the browser."""
    if not path.startswith("/"):
        raise ValueError(f"backend paths start with '/': {path!r}")
    return rx.Var(
        _js_expr=f"new URL({json.dumps(path)}, getBackendURL(env.PING)).href",
        _var_type=str,
        _var_data=VarData(
            imports={
                "$/utils/state": [ImportVar(tag="getBackendURL")],
                "$/env.json": [ImportVar(tag="env", is_default=True)],
            }
        ),
    )
