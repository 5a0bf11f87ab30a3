"""Sign-in through OpenID Connect (generic issuer, Google) and GitHub's OAuth2, with Authlib.

Authorization code flow with PKCE (S256). `state` and `nonce` are random per attempt and kept on
the server (cache, 10 minutes, single use) under a random id that only this browser holds, in an
HttpOnly cookie; the callback must present both. The ID token's signature is checked against the
issuer's JWKS (found through discovery, refreshed once on an unknown key id), with the algorithm
limited to asymmetric ones the issuer announces, then iss, aud, exp, iat, nonce and at_hash.
GitHub is OAuth2 only: the account comes from its API, with the primary verified email.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # Authlib prefers the httpx2 package and falls back, with a warning, to httpx (pinned here).
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.base_client import OAuthError
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from app.auth.accounts import ProviderIdentity
from app.cache import get_cache
from app.settings import OIDCProviderConfig

PENDING_TTL_S = 600
METADATA_TTL_S = 3600
HTTP_TIMEOUT_S = 10.0
ASYMMETRIC_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]

GOOGLE_ISSUER = "https://accounts.google.com"
GITHUB = {
    "authorization_endpoint": "https://github.com/login/oauth/authorize",
    "token_endpoint": "https://github.com/login/oauth/access_token",
    "user": "https://api.github.com/user",
    "emails": "https://api.github.com/user/emails",
}


class OIDCError(Exception):
    """A refused sign-in; `code` names the message shown (app.auth.web.ERROR_MESSAGES)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Pending:
    provider: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_path: str


def issuer_of(provider: OIDCProviderConfig) -> str | None:
    if provider.kind == "github":
        return None
    return (provider.issuer or GOOGLE_ISSUER).rstrip("/")


def scopes_of(provider: OIDCProviderConfig) -> str:
    if provider.scopes:
        return provider.scopes
    return "read:user user:email" if provider.kind == "github" else "openid email profile"


_metadata: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks: dict[str, tuple[float, dict[str, Any]]] = {}


async def _get_json(url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as client:
            response = await client.get(url, **kwargs)
            response.raise_for_status()
            data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OIDCError("oidc_provider", f"GET {url}: {exc}") from None
    if not isinstance(data, dict | list):
        raise OIDCError("oidc_provider", f"GET {url}: not JSON")
    return data  # type: ignore[return-value]


async def metadata(provider: OIDCProviderConfig) -> dict[str, Any]:
    """Discovery document (cached); its issuer must be exactly the configured one."""
    if provider.kind == "github":
        return GITHUB
    issuer = issuer_of(provider)
    assert issuer is not None
    cached = _metadata.get(issuer)
    if cached and time.monotonic() - cached[0] < METADATA_TTL_S:
        return cached[1]
    data = await _get_json(f"{issuer}/.well-known/openid-configuration")
    if str(data.get("issuer", "")).rstrip("/") != issuer:
        raise OIDCError("oidc_provider", f"discovery issuer {data.get('issuer')!r} is not {issuer!r}")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(data.get(key), str):
            raise OIDCError("oidc_provider", f"discovery document lacks {key}")
    _metadata[issuer] = (time.monotonic(), data)
    return data


async def _key_set(meta: dict[str, Any], *, force: bool = False) -> KeySet:
    uri = meta["jwks_uri"]
    cached = _jwks.get(uri)
    if force or not cached or time.monotonic() - cached[0] >= METADATA_TTL_S:
        cached = _jwks[uri] = (time.monotonic(), await _get_json(uri))
    try:
        return KeySet.import_key_set(cached[1])  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise OIDCError("oidc_provider", f"JWKS: {exc}") from None


def _client(provider: OIDCProviderConfig, redirect_uri: str) -> AsyncOAuth2Client:
    secret = provider.client_secret.get_secret_value() if provider.client_secret else None
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=secret,
        scope=scopes_of(provider),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        timeout=HTTP_TIMEOUT_S,
    )


async def begin(provider: OIDCProviderConfig, *, redirect_uri: str, next_path: str) -> tuple[str, str]:
    """Start a sign-in: the provider URL to send the browser to, and the id for its cookie."""
    meta = await metadata(provider)
    pending = Pending(
        provider=provider.name,
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        code_verifier=secrets.token_urlsafe(48),
        redirect_uri=redirect_uri,
        next_path=next_path,
    )
    extra = {} if provider.kind == "github" else {"nonce": pending.nonce}
    async with _client(provider, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            meta["authorization_endpoint"], state=pending.state, code_verifier=pending.code_verifier, **extra
        )
    pending_id = secrets.token_urlsafe(24)
    get_cache().set(f"oidc:{pending_id}", json.dumps(pending.__dict__).encode(), ttl=PENDING_TTL_S)
    return url, pending_id


def take_pending(pending_id: str | None) -> Pending | None:
    """The attempt this browser started, removed so it can be completed only once."""
    if not pending_id or len(pending_id) > 64:
        return None
    key = f"oidc:{pending_id}"
    cache = get_cache()
    raw = cache.get(key)
    if raw is None:
        return None
    cache.delete(key)
    try:
        return Pending(**json.loads(raw))
    except (TypeError, ValueError):
        return None


async def complete(
    provider: OIDCProviderConfig, *, pending: Pending | None, params: dict[str, str]
) -> tuple[ProviderIdentity, str]:
    """Check the provider's answer and return who signed in, and where to go next."""
    if pending is None or pending.provider != provider.name:
        raise OIDCError("oidc_state", "no sign-in was started from this browser, or it expired")
    if not hmac.compare_digest(params.get("state", ""), pending.state):
        raise OIDCError("oidc_state", "state does not match")
    if params.get("error"):
        code = "oidc_denied" if params["error"] == "access_denied" else "oidc_provider"
        raise OIDCError(code, f"{params['error']}: {params.get('error_description', '')}"[:300])
    if not params.get("code"):
        raise OIDCError("oidc_provider", "no code in the response")
    if params.get("iss") and issuer_of(provider) and params["iss"].rstrip("/") != issuer_of(provider):
        raise OIDCError("oidc_state", "response issuer does not match (mix-up)")
    meta = await metadata(provider)
    async with _client(provider, pending.redirect_uri) as client:
        try:
            token = await client.fetch_token(
                meta["token_endpoint"],
                code=params["code"],
                code_verifier=pending.code_verifier,
                redirect_uri=pending.redirect_uri,
                headers={"Accept": "application/json"},
            )
        except (OAuth2Error, OAuthError) as exc:
            code = "oidc_code" if exc.error in {"invalid_grant", "invalid_request"} else "oidc_provider"
            raise OIDCError(code, f"token endpoint: {exc.error} {exc.description or ''}") from None
        except httpx.HTTPError as exc:
            raise OIDCError("oidc_provider", f"token endpoint: {exc}") from None
        if token.get("error"):
            code = "oidc_code" if token["error"] in {"bad_verification_code", "invalid_grant"} else "oidc_provider"
            raise OIDCError(code, f"token endpoint: {token['error']}")
        if provider.kind == "github":
            identity = await _github_identity(provider, client)
        else:
            identity = await _oidc_identity(provider, meta, token, pending, client)
    return identity, pending.next_path


async def _oidc_identity(
    provider: OIDCProviderConfig,
    meta: dict[str, Any],
    token: dict[str, Any],
    pending: Pending,
    client: AsyncOAuth2Client,
) -> ProviderIdentity:
    raw = token.get("id_token")
    if not isinstance(raw, str):
        raise OIDCError("oidc_token", "the token response has no ID token")
    announced = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [alg for alg in announced if alg in ASYMMETRIC_ALGS]
    if not algorithms:
        raise OIDCError("oidc_provider", "the issuer announces no asymmetric ID token algorithm")
    registry = JWSRegistry(algorithms=algorithms)
    try:
        try:
            decoded = jwt.decode(raw, key=await _key_set(meta), registry=registry)
        except InvalidKeyIdError:
            decoded = jwt.decode(raw, key=await _key_set(meta, force=True), registry=registry)
        issuer = issuer_of(provider)
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"essential": True, "value": meta["issuer"]}, "aud": {"essential": True}},
            {"nonce": pending.nonce, "client_id": provider.client_id, "access_token": token.get("access_token")},
        )
        claims.validate(leeway=60)
    except (JoseError, ValueError) as exc:
        raise OIDCError("oidc_token", f"{type(exc).__name__}: {exc}") from None
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if provider.client_id not in audiences or str(claims.get("iss", "")).rstrip("/") != issuer:
        raise OIDCError("oidc_token", "audience or issuer is not ours")
    if not hmac.compare_digest(str(claims.get("nonce", "")), pending.nonce):
        raise OIDCError("oidc_token", "nonce does not match")
    data = dict(claims)
    if "email" not in data and meta.get("userinfo_endpoint") and token.get("access_token"):
        response = await client.get(meta["userinfo_endpoint"])
        if response.status_code == 200:
            info = response.json()
            if isinstance(info, dict) and info.get("sub") == data.get("sub"):
                data.update({k: info[k] for k in ("email", "email_verified", "name") if k in info})
    return ProviderIdentity(
        provider=provider.name,
        subject=str(data["sub"]),
        email=str(data["email"]) if data.get("email") else None,
        email_verified=data.get("email_verified") in (True, "true"),
        name=str(data.get("name") or data.get("preferred_username") or ""),
    )


async def _github_identity(provider: OIDCProviderConfig, client: AsyncOAuth2Client) -> ProviderIdentity:
    headers = {"Accept": "application/vnd.github+json"}
    try:
        user = (await client.get(GITHUB["user"], headers=headers)).json()
        emails = (await client.get(GITHUB["emails"], headers=headers)).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OIDCError("oidc_provider", f"GitHub API: {exc}") from None
    return github_identity(provider.name, user, emails)


def github_identity(provider_name: str, user: Any, emails: Any) -> ProviderIdentity:
    """GitHub's /user and /user/emails answers as an identity: the primary email, if verified."""
    if not isinstance(user, dict) or "id" not in user:
        raise OIDCError("oidc_provider", "GitHub did not return the user")
    chosen = None
    if isinstance(emails, list):
        verified = [e for e in emails if isinstance(e, dict) and e.get("verified") and e.get("email")]
        chosen = next((e for e in verified if e.get("primary")), verified[0] if verified else None)
    return ProviderIdentity(
        provider=provider_name,
        subject=str(user["id"]),
        email=str(chosen["email"]) if chosen else (str(user["email"]) if user.get("email") else None),
        email_verified=chosen is not None,
        name=str(user.get("name") or user.get("login") or ""),
    )
