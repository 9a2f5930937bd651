"""Who may call what: every route of every service's route table, called as anonymous, the
member, another member, an organizer of another group, the group's organizer, an admin and a
service. A route without an entry here fails the test, so a new endpoint cannot be forgotten.

Allowed callers must get neither 401 nor 403 (nor a 5xx); the others get 401 when anonymous and
403 otherwise, or 404 where a route hides what the caller may not see. The ledger console signs
in with a cookie: it redirects strangers to its login page and shows staff a refusal page (its
HTML 404 for what they may not see, 403 for what only admins do).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from nats.js import JetStreamContext

from ledger.entrypoints.console import csrf_token
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.testing import StripeWorld, serve_app, unique, wait_until

ANON = "anonymous"
MEMBER = "member"
OTHER = "other member"
ORG_ELSEWHERE = "organizer of another group"
ORG = "organizer"
ADMIN = "admin"
SERVICE = "service"

EVERYONE = frozenset({ANON, MEMBER, OTHER, ORG_ELSEWHERE, ORG, ADMIN, SERVICE})
SIGNED_IN = EVERYONE - {ANON}
MANAGERS = frozenset({ORG, ADMIN})
STAFF = frozenset({ORG, ORG_ELSEWHERE, ADMIN})
ADMINS = frozenset({ADMIN})
SELF_OR_TRUSTED = frozenset({MEMBER, ADMIN, SERVICE})
SELF_OR_MANAGERS = frozenset({MEMBER, ORG, ADMIN})

LATER = (datetime.now(UTC) + timedelta(days=30)).isoformat()


@dataclass(frozen=True)
class Rule:
    """Who may call a route, and how to call it."""

    allowed: frozenset[str]
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    params: dict[str, str] = field(default_factory=dict)
    denied_status: int = 403
    console: bool = False
    refusal: str | None = None
    """Console only: the text of the page staff who may not do this get."""

    @property
    def public(self) -> bool:
        return ANON in self.allowed


PUBLIC = Rule(EVERYONE)
OPERATIONS = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/asyncapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs-assets/{name}"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
}

GATEWAY = OPERATIONS | {
    # Authenticated by Stripe's signature, not by a token (400 without one).
    ("POST", "/webhooks/stripe"): Rule(EVERYONE, json={"id": "evt_1"}),
}

TIER = {"name": "Supporter", "amount": 2000, "currency": "nzd", "interval": "month"}
ITEM = {"name": "Workshop", "amount": 1500, "currency": "nzd"}

CHECKOUT = OPERATIONS | {
    ("GET", "/tiers"): Rule(EVERYONE, params={"group_id": "{group_id}"}),
    ("GET", "/tiers/{tier_id}"): PUBLIC,
    ("POST", "/groups/{group_id}/tiers"): Rule(MANAGERS, json=TIER),
    ("PATCH", "/tiers/{tier_id}"): Rule(MANAGERS, json={"name": "Patron"}),
    ("GET", "/items"): Rule(EVERYONE, params={"group_id": "{group_id}"}),
    ("POST", "/groups/{group_id}/items"): Rule(MANAGERS, json=ITEM),
    ("PATCH", "/items/{item_id}"): Rule(MANAGERS, json={"name": "Masterclass"}),
    ("POST", "/groups/{group_id}/coupons"): Rule(
        MANAGERS, json={"code": "{new_code}", "percent_off": 10, "tier_ids": ["{tier_id}"]}
    ),
    ("GET", "/groups/{group_id}/coupons"): Rule(MANAGERS),
    ("GET", "/groups/{group_id}/settings"): Rule(MANAGERS),
    ("PUT", "/groups/{group_id}/settings"): Rule(MANAGERS, json={"name": "Climbers"}),
    ("GET", "/coupons/{code}/validate"): Rule(SIGNED_IN, params={"tier_id": "{tier_id}"}),
    ("GET", "/coupons/{coupon_id}/redemptions"): Rule(MANAGERS),
    ("PATCH", "/coupons/{coupon_id}"): Rule(MANAGERS, json={"name": "Spring sale"}),
    ("POST", "/checkout/sessions"): Rule(SIGNED_IN, json={"tier_id": "{tier_id}"}),
    ("POST", "/checkout/subscriptions"): Rule(SIGNED_IN, json={"tier_id": "{tier_id}"}),
    # The member's own unpaid purchase: 402 for them, 403 for everybody else, admins included.
    ("POST", "/purchases/{session_id}/claim"): Rule(frozenset({MEMBER})),
    ("POST", "/purchases/payment-intents"): Rule(
        SIGNED_IN, json={"item_id": "{item_id}", "reference": "{new_code}"}
    ),
    ("POST", "/billing-portal/sessions"): Rule(SIGNED_IN),
    # The member's own invoices (organizers read the ledger): 403 for everybody else.
    ("GET", "/billing/{user_id}/invoices"): Rule(frozenset({MEMBER, ADMIN})),
    ("GET", "/billing/{user_id}/invoices/{invoice_id}/pdf"): Rule(frozenset({MEMBER, ADMIN})),
    ("GET", "/checkout/success"): PUBLIC,
    ("GET", "/checkout/cancel"): PUBLIC,
    # The local stack's pages for members (HTML): the portal's return, the mails' manage link
    # (the member's token is asked for on the page), a group's tiers.
    ("GET", "/account"): PUBLIC,
    ("GET", "/account/billing"): PUBLIC,
    ("GET", "/groups/{group_id}"): PUBLIC,
}

MEMBERSHIP = OPERATIONS | {
    # Organizers may ask about anyone; they see only the groups they manage.
    ("GET", "/entitlements/{user_id}"): Rule(SELF_OR_TRUSTED | STAFF),
    ("GET", "/entitlements/{user_id}/groups/{group_id}"): Rule(SELF_OR_TRUSTED | MANAGERS),
    ("GET", "/groups/{group_id}/members"): Rule(MANAGERS),
    ("PUT", "/groups/{group_id}/grants/{user_id}"): Rule(
        ADMINS, json={"tier_id": "tier_x", "expires_at": LATER}
    ),
    ("DELETE", "/groups/{group_id}/grants/{user_id}"): Rule(ADMINS),
    ("POST", "/groups/{group_id}/grants/bulk"): Rule(
        ADMINS,
        json={"tier_id": "tier_x", "expires_at": LATER, "members": [{"user_id": "u"}], "cap": 1},
    ),
    ("POST", "/entitlements/{user_id}/groups/{group_id}/credits/{kind}/spend"): Rule(
        SELF_OR_TRUSTED, json={"amount": 1, "reference": "booking-1"}
    ),
    ("GET", "/entitlements/{user_id}/groups/{group_id}/credits/history"): Rule(
        SELF_OR_TRUSTED | MANAGERS
    ),
    # Self-service: the member, the group's organizers and admins. The member holds no
    # membership here, so an organizer's list shows none of their groups: 403.
    ("GET", "/members/{user_id}/memberships"): Rule(frozenset({MEMBER, ADMIN})),
    ("GET", "/members/{user_id}/memberships/{group_id}"): Rule(SELF_OR_MANAGERS),
    ("POST", "/members/{user_id}/memberships/{group_id}/cancel"): Rule(SELF_OR_MANAGERS, json={}),
    ("POST", "/members/{user_id}/memberships/{group_id}/resume"): Rule(SELF_OR_MANAGERS),
    # Members pause only where the group allows it (403 `pause_not_allowed` by default).
    ("POST", "/members/{user_id}/memberships/{group_id}/pause"): Rule(MANAGERS, json={}),
    ("GET", "/members/{user_id}/memberships/{group_id}/switch-preview"): Rule(
        SELF_OR_MANAGERS, params={"tier_id": "tier_x"}
    ),
    ("POST", "/members/{user_id}/memberships/{group_id}/switch"): Rule(
        SELF_OR_MANAGERS, json={"tier_id": "tier_x"}
    ),
}

PAYOUT = {"amount": 100, "currency": "nzd"}
LEDGER = OPERATIONS | {
    ("GET", "/groups/{group_id}/summary"): Rule(MANAGERS),
    ("GET", "/groups/{group_id}/transactions"): Rule(MANAGERS),
    ("GET", "/groups/{group_id}/transactions.csv"): Rule(MANAGERS),
    ("GET", "/groups/{group_id}/risk"): Rule(MANAGERS),
    ("GET", "/groups/{group_id}/balance"): Rule(MANAGERS, params={"currency": "nzd"}),
    ("GET", "/groups/{group_id}/payout-schedule"): Rule(MANAGERS),
    ("PUT", "/groups/{group_id}/payout-schedule"): Rule(
        MANAGERS, json={"interval": "manual", "currency": "nzd"}
    ),
    ("POST", "/groups/{group_id}/payouts"): Rule(MANAGERS, json=PAYOUT),
    ("GET", "/groups/{group_id}/payouts"): Rule(MANAGERS),
    ("GET", "/users/{user_id}/payments"): Rule(frozenset({MEMBER, ADMIN})),
    # Organizers list their own groups' payments, disputes and risk items.
    ("GET", "/payments"): Rule(STAFF),
    ("GET", "/disputes"): Rule(STAFF),
    ("GET", "/risk"): Rule(STAFF),
    # The member's payment in the group: 404 for those who may not see it, so its existence
    # is never told.
    ("GET", "/payments/{charge_id}"): Rule(MANAGERS, denied_status=404),
    ("POST", "/payments/{charge_id}/refunds"): Rule(ADMINS, json={"amount": 100}),
    ("POST", "/payouts/{payout_id}/approve"): Rule(ADMINS),
    ("POST", "/payouts/{payout_id}/reject"): Rule(ADMINS),
    ("GET", "/console/login"): PUBLIC,
    # Signing in is open to anyone; what a token may do is below (and CSRF in test_console).
    ("POST", "/console/login"): Rule(EVERYONE, form={"token": "not-a-token"}, console=True),
    ("POST", "/console/logout"): PUBLIC,
    ("GET", "/console/payments"): Rule(STAFF, console=True),
    ("GET", "/console/payments/{charge_id}"): Rule(
        MANAGERS, console=True, refusal="There is no payment"
    ),
    ("POST", "/console/payments/{charge_id}/refund"): Rule(
        ADMINS,
        console=True,
        form={"form_token": "t1", "amount": "100"},
        refusal="Only admins can refund.|There is no payment",
    ),
    ("GET", "/console/disputes"): Rule(STAFF, console=True),
    ("GET", "/console"): Rule(STAFF, console=True),
    ("GET", "/console/groups"): Rule(STAFF, console=True),
    ("GET", "/console/static/{name}"): PUBLIC,
    ("GET", "/console/groups/{group_id}"): Rule(
        MANAGERS, console=True, refusal="There is no group"
    ),
    **{
        ("GET", f"/console/groups/{{group_id}}/{page}"): Rule(
            MANAGERS, console=True, refusal="There is no group"
        )
        for page in ("members", "payouts", "disputes", "failures")
    },
    ("POST", "/console/groups/{group_id}/payouts"): Rule(
        MANAGERS,
        console=True,
        form={"form_token": "t1", "amount": "1", "currency": "usd"},
        refusal="There is no group",
    ),
    # Deciding (here: the confirmation page of a rejection) is the admins'.
    ("POST", "/console/payouts/{payout_id}/{decision}"): Rule(
        ADMINS,
        console=True,
        form={"confirm": "no"},
        refusal="Only admins approve or reject|There is no payout request",
    ),
}

NOTIFICATIONS = OPERATIONS | {
    ("GET", "/notifications"): Rule(ADMINS),
    ("GET", "/notifications/{notification_id}"): Rule(ADMINS),
    ("POST", "/notifications/{notification_id}/resend"): Rule(ADMINS),
    ("GET", "/templates/{kind}/preview"): Rule(ADMINS),
    ("PUT", "/groups/{group_id}/contacts"): Rule(MANAGERS, json={"emails": ["org@example.com"]}),
    ("GET", "/groups/{group_id}/contacts"): Rule(MANAGERS),
}

MATRIX = {
    "webhook-gateway": GATEWAY,
    "checkout": CHECKOUT,
    "membership": MEMBERSHIP,
    "ledger": LEDGER,
    "notifications": NOTIFICATIONS,
}


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, whether or not it is in the OpenAPI document."""
    found = set()
    for route in iter_route_contexts(app.routes):
        assert route.path and route.methods, f"not a plain route: {route!r}; extend the matrix"
        found |= {(m, route.path) for m in route.methods if m not in ("HEAD", "OPTIONS")}
    return found


def fill(value: Any, ids: dict[str, str]) -> Any:
    """`value` with `{name}` placeholders replaced (in strings, lists and dict values)."""
    if isinstance(value, str):
        return value.format_map(ids) if "{" in value else value
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


class Ids(dict[str, str]):
    """Path values: known ones, and a fresh id (of nothing) for any other, unique per use."""

    def __missing__(self, key: str) -> str:
        return unique(key)


def refused(rule: Rule, caller: str, response: httpx.Response) -> str | None:
    """Why `response` is not what `caller` should get, or None."""
    status, location = response.status_code, response.headers.get("location", "")
    to_login = status == 303 and location.endswith("/console/login")
    refusal = bool(rule.refusal and re.search(rule.refusal, response.text))
    if rule.console:
        if caller in rule.allowed:
            ok = status < 500 and not to_login and not refusal
            return None if ok else f"expected access, got {status} {location}"
        if caller in STAFF:
            ok = status in (200, 403, 404) and refusal
            return None if ok else f"expected the refusal page, got {status}"
        return None if to_login else f"expected a redirect to the login page, got {status}"
    if caller in rule.allowed:
        ok = status not in (401, 403) and status < 500
        return None if ok else f"expected access, got {status}: {response.text[:200]}"
    expected = 401 if caller == ANON else rule.denied_status
    return None if status == expected else f"expected {expected}, got {status}"


@dataclass(frozen=True)
class Env:
    """What a service's fixtures may need besides its API."""

    stripe_url: str
    js: JetStreamContext
    settings: ServiceSettings


Setup = Callable[[httpx.AsyncClient, Any, Env], Awaitable[dict[str, str]]]


async def checkout_fixtures(api: httpx.AsyncClient, cast: Any, _: Env) -> dict[str, str]:
    """A tier, an item and a coupon of the group, and the member's unpaid purchase."""
    org = cast.organizer.headers()
    group = cast.group_id

    async def created(path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        response = await api.post(path, json=body, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()

    tier = await created(f"/groups/{group}/tiers", TIER, org)
    item = await created(f"/groups/{group}/items", ITEM, org)
    code = unique("CODE")
    coupon = await created(
        f"/groups/{group}/coupons", {"code": code, "percent_off": 10, "tier_ids": [tier["id"]]}, org
    )
    purchase = await created(
        "/checkout/sessions",
        {"purpose": "purchase", "item_id": item["id"], "reference": unique("ref")},
        cast.member.headers(),
    )
    return {
        "tier_id": tier["id"],
        "item_id": item["id"],
        "code": code,
        "coupon_id": coupon["id"],
        "session_id": purchase["session_id"],
    }


async def ledger_fixtures(api: httpx.AsyncClient, cast: Any, env: Env) -> dict[str, str]:
    """A payment of the member to the group, paid through the emulator and booked."""
    async with httpx.AsyncClient() as http:
        world = StripeWorld(env.stripe_url, env.js, make_stripe_client(env.settings), http)
        await world.take()
        paid = await world.checkout(
            await world.price(3300), group_id=cast.group_id, user_id=cast.user_id
        )
        charge: str = await world.charge_of_intent(paid["payment_intent"])
        await world.forward()
    admin = cast.admin.headers()

    async def booked() -> bool:
        return (await api.get(f"/payments/{charge}", headers=admin)).status_code == 200

    await wait_until(booked, message="payment booked")
    payout = await api.post(
        f"/groups/{cast.group_id}/payouts",
        json={"amount": 100, "currency": "usd"},
        headers=cast.organizer.headers(),
    )
    assert payout.status_code == 201, payout.text
    return {"charge_id": charge, "payout_id": payout.json()["payout_id"], "decision": "reject"}


async def no_fixtures(_: httpx.AsyncClient, __: Any, ___: Env) -> dict[str, str]:
    return {}


SETUP: dict[str, Setup] = {"checkout": checkout_fixtures, "ledger": ledger_fixtures}
PLACEHOLDERS = {"kind": "receipt"}


@pytest.mark.parametrize("service", sorted(MATRIX))
async def test_every_route_admits_exactly_its_callers(
    service: str,
    make_app: Callable[..., FastAPI],
    cast: Any,
    stripe_emulator_url: str,
    js: JetStreamContext,
) -> None:
    app = make_app(service)
    env = Env(stripe_emulator_url, js, app.state.settings)
    matrix = MATRIX[service]
    routes = route_table(app)
    assert not routes - matrix.keys(), f"routes without a matrix entry: {routes - matrix.keys()}"
    assert not matrix.keys() - routes, f"matrix entries of no route: {matrix.keys() - routes}"

    failures = []
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as api:
        known = await SETUP.get(service, no_fixtures)(api, cast, env)
        for (method, path), rule in sorted(matrix.items()):
            for caller in cast.callers:
                ids = Ids(PLACEHOLDERS | known, group_id=cast.group_id, user_id=cast.user_id)
                ids["new_code"] = unique("C")
                headers, form = caller.headers(), rule.form
                if rule.console and caller.token:
                    headers = {"Cookie": f"ledger_token={caller.token}"}
                    form = form and form | {"csrf_token": csrf_token(caller.token)}
                elif rule.console:
                    headers = {}
                response = await api.request(
                    method,
                    fill(path, ids),
                    params=fill(rule.params, ids),
                    json=fill(rule.json, ids),
                    data=form,
                    headers=headers,
                )
                if (why := refused(rule, caller.name, response)) is not None:
                    failures.append(f"{method} {path} as {caller.name}: {why}")
    assert not failures, "\n".join(failures)
