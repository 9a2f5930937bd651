"""The console's forms over HTTP: signing in, signing out and refunding each need the session's
CSRF token from the console's own origin, and a refund is sent only once confirmed."""

from __future__ import annotations

import httpx

from tollgate_shared.testing import StripeWorld, unique

from .conftest import booked_payment, browser, hidden_fields, sign_in, token


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
        form = {"form_token": fields["form_token"], "amount": "7", "reason": "duplicate"}
        refund = f"/console/payments/{charge}/refund"
        for csrf in (None, "f" * 64, others):
            data = form | {"confirm": "yes"} | ({"csrf_token": csrf} if csrf else {})
            assert (await client.post(refund, data=data)).status_code == 403
        asked = await client.post(refund, data=form | {"csrf_token": fields["csrf_token"]})
        assert asked.status_code == 200
        assert "Refund <strong>$7.00</strong>" in asked.text
        refunds = await world.client.v1.refunds.list_async({"charge": charge})
        assert refunds.data == [], "nothing is sent before the confirmation"

        confirmation = hidden_fields(asked.text)
        assert confirmation["confirm"] == "yes"
        locations = set()
        for _ in range(2):
            sent = await client.post(refund, data=confirmation)
            assert sent.status_code == 303
            locations.add(sent.headers["location"])
        (location,) = locations  # the same refund, named on the page it sends to
        assert location.startswith(f"/console/payments/{charge}?refund=re_")
    refunds = await world.client.v1.refunds.list_async({"charge": charge})
    assert [r.amount for r in refunds.data] == [700], "sent once, whatever the resubmits"
