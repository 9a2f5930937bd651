"""The admin console: server-rendered pages over the same queries and service functions as the
JSON API, for admins (every group) and organizers (their groups).

Signing in verifies the bearer token with the service's one `TokenVerifier` (as every API
route does) and keeps it in an HttpOnly, SameSite=Strict cookie; every request verifies it
again. Every POST, signing in included, carries the session's CSRF token and must come from
the console's own origin; what changes money (a refund, a payout decision) is confirmed on a
page of its own first. Errors under `/console` are HTML pages (`pages.install`).
"""

from __future__ import annotations

from fastapi import APIRouter

from ledger.entrypoints.console import groups, payments, payouts, signin
from ledger.entrypoints.console.pages import PREFIX, csrf_token, install

router = APIRouter(include_in_schema=False)
for part in (signin, groups, payments, payouts):
    router.include_router(part.router, prefix=PREFIX)

__all__ = ["csrf_token", "install", "router"]
