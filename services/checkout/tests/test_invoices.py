"""Invoices for everything paid: one-time payments get Stripe's paid invoice (Checkout's
`invoice_creation`), and members list their invoices and download each one's PDF."""

from __future__ import annotations

import io
from typing import Any

import httpx
import stripe
from pypdf import PdfReader

from tollgate_shared.testing import unique

from .conftest import auth, complete, create_item, create_tier


async def paid_checkout(
    api: httpx.AsyncClient, emulator: httpx.AsyncClient, user: str, body: dict[str, Any]
) -> dict[str, Any]:
    """A Checkout Session started through checkout and paid at the emulator; the session."""
    started = await api.post("/checkout/sessions", json=body, headers=auth(user))
    assert started.status_code == 201, started.text
    paid = await complete(emulator, started.json()["session_id"])
    assert paid["outcome"] == "paid", paid
    session: dict[str, Any] = paid["session"]
    return session


async def invoices_of(
    api: httpx.AsyncClient, user: str, headers: dict[str, str] | None = None, **params: Any
) -> httpx.Response:
    return await api.get(f"/billing/{user}/invoices", params=params, headers=headers or auth(user))


async def test_one_time_payments_are_invoiced_and_each_invoice_downloads_as_a_pdf(
    api: httpx.AsyncClient, emulator: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    group, member = unique("group"), unique("user")
    item = await create_item(api, group)
    annual = await create_tier(api, group, name="Patron", amount=9000, interval="one_time_annual")
    reference = unique("event")
    bought = await paid_checkout(
        api,
        emulator,
        member,
        {"purpose": "purchase", "item_id": item["id"], "reference": reference},
    )
    joined = await paid_checkout(api, emulator, member, {"tier_id": annual["id"]})

    session = await stripe_client.v1.checkout.sessions.retrieve_async(bought["id"])
    creation = session.invoice_creation
    assert creation is not None and creation.enabled
    assert creation.invoice_data.metadata is not None and session.metadata is not None
    assert creation.invoice_data.metadata.to_dict() == session.metadata.to_dict()
    assert session.metadata and session.metadata["reference"] == reference

    listed = await invoices_of(api, member)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert (page["has_more"], page["next_cursor"]) == (False, None)
    membership, purchase = page["items"]  # newest first
    assert membership["id"] == joined["invoice"] and purchase["id"] == bought["invoice"]
    assert (membership["amount_paid"], membership["currency"]) == (9000, "nzd")
    assert membership["description"] == "Patron: one-time annual membership (365 days)"
    assert (purchase["status"], purchase["amount_due"], purchase["amount_paid"]) == (
        "paid",
        1200,
        1200,
    )
    assert purchase["description"] == f"Event creation fee (reference {reference})"
    assert purchase["number"] and purchase["paid_at"] and purchase["created"]
    invoice = await stripe_client.v1.invoices.retrieve_async(purchase["id"])
    assert invoice.metadata is not None and invoice.metadata.to_dict() == session.metadata.to_dict()
    assert purchase["hosted_invoice_url"] == invoice.hosted_invoice_url
    assert purchase["pdf_url"] == invoice.invoice_pdf

    redirected = await api.get(
        f"/billing/{member}/invoices/{purchase['id']}/pdf", headers=auth(member)
    )
    assert redirected.status_code == 307
    assert redirected.headers["location"] == purchase["pdf_url"]
    pdf = await emulator.get(redirected.headers["location"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert purchase["number"] in text and reference in text and "12.00 NZD" in text


async def test_a_subscriptions_invoices_are_listed_page_by_page(
    api: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    group, member = unique("group"), unique("user")
    tier = await create_tier(api, group, name="Supporter")
    subscribed = await paid_checkout(api, emulator, member, {"tier_id": tier["id"]})
    for _ in range(2):  # two renewals: three invoices of the subscription
        renewed = await emulator.post(
            f"/_emulator/subscriptions/{subscribed['subscription']}/advance", json={}
        )
        assert renewed.status_code == 200, renewed.text
    item = await create_item(api, group)
    bought = await paid_checkout(
        api,
        emulator,
        member,
        {"purpose": "purchase", "item_id": item["id"], "reference": unique("ref")},
    )

    first = (await invoices_of(api, member, limit=3)).json()
    assert first["has_more"] is True and len(first["items"]) == 3
    assert first["next_cursor"] == first["items"][-1]["id"]
    rest = (await invoices_of(api, member, limit=3, starting_after=first["next_cursor"])).json()
    assert (rest["has_more"], rest["next_cursor"], len(rest["items"])) == (False, None, 1)

    everything = first["items"] + rest["items"]
    assert everything[0]["id"] == bought["invoice"]
    renewals = everything[1:]
    assert renewals[-1]["id"] == subscribed["invoice"]
    assert len({i["id"] for i in everything}) == 4
    for invoice in renewals:
        assert (invoice["status"], invoice["amount_paid"]) == ("paid", 2000)
        assert invoice["description"] == "1 \u00d7 Supporter"
        assert invoice["pdf_url"].endswith(f"/invoices/{invoice['id']}/pdf")

    unknown = await invoices_of(api, member, starting_after="in_unknown")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "invalid_cursor")
    for limit in (0, 101):
        assert (await invoices_of(api, member, limit=limit)).status_code == 422


async def test_only_the_member_and_admins_read_a_members_invoices(
    api: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    group, member, other = unique("group"), unique("user"), unique("user")
    item = await create_item(api, group)
    mine = await paid_checkout(
        api, emulator, member, {"purpose": "purchase", "item_id": item["id"], "reference": "a"}
    )
    theirs = await paid_checkout(
        api, emulator, other, {"purpose": "purchase", "item_id": item["id"], "reference": "b"}
    )
    pdf = f"/billing/{member}/invoices/{mine['invoice']}/pdf"

    for headers in (auth(other), auth(roles=["organizer"], groups=[group])):
        listed = await invoices_of(api, member, headers)
        assert (listed.status_code, listed.json()["error"]["code"]) == (403, "forbidden")
        assert (await api.get(pdf, headers=headers)).status_code == 403
    admin = auth(roles=["admin"])
    as_admin = await invoices_of(api, member, admin)
    assert [i["id"] for i in as_admin.json()["items"]] == [mine["invoice"]]
    assert (await api.get(pdf, headers=admin)).status_code == 307

    # Another customer's invoice is as unknown as one that does not exist: never revealed.
    for invoice_id in (theirs["invoice"], "in_nothing_like_it"):
        answer = await api.get(f"/billing/{member}/invoices/{invoice_id}/pdf", headers=auth(member))
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "invoice_not_found")


async def test_a_user_without_a_stripe_customer_has_no_invoices(api: httpx.AsyncClient) -> None:
    user = unique("user")
    listed = await invoices_of(api, user)
    assert listed.json() == {"items": [], "has_more": False, "next_cursor": None}
    answer = await api.get(f"/billing/{user}/invoices/in_x/pdf", headers=auth(user))
    assert answer.status_code == 404
