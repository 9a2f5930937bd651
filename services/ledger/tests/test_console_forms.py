"""The console's forms over HTTP: signing in, signing out and refunding each need the session's
CSRF token from the console's own origin, and a refund is sent only once confirmed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tollgate_shared.testing import StripeWorld, unique

from .conftest import booked_payment, token

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the page's forms (the last of each name)."""
    return dict(HIDDEN.findall(html))


@asynccontextmanager
async def browser(ledger: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a cookie jar of its own, as one browser has."""
    async with httpx.AsyncClient(base_url=ledger.base_url) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, bearer: str) -> None:
    """Sign in through the login form as a browser would."""
    form = await client.get("/console/login")
    csrf = hidden_fields(form.text)["csrf_token"]
    answer = await client.post("/console/login", data={"token": bearer, "csrf_token": csrf})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/payments"


async def test_signing_in_needs_the_forms_csrf_token(ledger: httpx.AsyncClient) -> None:
    admin = token()
    async with browser(ledger) as client:
        csrf = hidden_fields((await client.get("/console/login")).text)["csrf_token"]
        for why, data in {
            "no token": {"token": admin},
            "a wrong token": {"token": admin, "csrf_token": "0" * 64},
        }.items():
            refused = await client.post("/console/login", data=data)
            assert refused.status_code == 403, why
            assert "ledger_token" not in client.cookies, why
        other_port = await client.post(
            "/console/login",
            data={"token": admin, "csrf_token": csrf},
            headers={"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"},
        )
        assert other_port.status_code == 403
        wrong = await client.post(
            "/console/login", data={"token": token(roles=()), "csrf_token": csrf}
        )
        assert wrong.status_code == 401
        assert "not an admin or organizer token" in wrong.text
        assert "ledger_token" not in client.cookies
    async with browser(ledger) as client:
        # Without the sign-in form's cookie its token is worth nothing.
        refused = await client.post("/console/login", data={"token": admin, "csrf_token": csrf})
        assert refused.status_code == 403
        await sign_in(client, admin)
        page = await client.get("/console/payments")
        assert page.status_code == 200
        assert "<h1>Payments</h1>" in page.text


async def test_signing_out_needs_the_sessions_csrf_token(ledger: httpx.AsyncClient) -> None:
    async with browser(ledger) as client:
        await sign_in(client, token())
        csrf = hidden_fields((await client.get("/console/payments")).text)["csrf_token"]
        refused = await client.post("/console/logout", data={"csrf_token": "x"})
        assert refused.status_code == 403
        assert (await client.get("/console/payments")).status_code == 200
        out = await client.post("/console/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        assert (await client.get("/console/payments")).status_code == 303


async def test_a_refund_needs_the_csrf_token_and_a_confirmation(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group = unique("grp")
    charge = await booked_payment(world, ledger, 2500, group)
    async with browser(ledger) as other:
        # Another admin's session has a token of its own, worthless in this one.
        await sign_in(other, token(sub="admin_2"))
        others = hidden_fields((await other.get("/console/payments")).text)["csrf_token"]
    async with browser(ledger) as client:
        await sign_in(client, token())
        fields = hidden_fields((await client.get(f"/console/payments/{charge}")).text)
        form = {"form_token": fields["form_token"], "amount": "700", "reason": "duplicate"}
        refund = f"/console/payments/{charge}/refund"
        for csrf in (None, "f" * 64, others):
            data = form | {"confirm": "yes"} | ({"csrf_token": csrf} if csrf else {})
            assert (await client.post(refund, data=data)).status_code == 403
        asked = await client.post(refund, data=form | {"csrf_token": fields["csrf_token"]})
        assert asked.status_code == 200
        assert "Refund <strong>7.00 USD</strong>" in asked.text
        refunds = await world.client.v1.refunds.list_async({"charge": charge})
        assert refunds.data == [], "nothing is sent before the confirmation"

        confirmation = hidden_fields(asked.text)
        assert confirmation["confirm"] == "yes"
        for _ in range(2):
            sent = await client.post(refund, data=confirmation)
            assert sent.status_code == 303
            assert sent.headers["location"] == f"/console/payments/{charge}?refund=requested"
    refunds = await world.client.v1.refunds.list_async({"charge": charge})
    assert [r.amount for r in refunds.data] == [700], "sent once, whatever the resubmits"
