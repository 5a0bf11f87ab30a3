"""Accounts, sign-in, sessions, roles, the guard and the rate limiter (plain Python, no Reflex).

- passwords: argon2id hashing and password rules
- accounts: sign-up, sign-in, password change, roles, disabling and deleting accounts
- sessions: server-side sessions (Redis or the database) behind an HttpOnly cookie
- ratelimit: the one sliding-window limiter (Redis, or in-process without Redis)
- oidc: OpenID Connect / OAuth2 sign-in (Authlib)
- guard: the one access rule registry used by every privileged event handler and HTTP route
"""
