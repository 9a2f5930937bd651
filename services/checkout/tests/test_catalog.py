"""The tier catalog and its Stripe products and prices."""

from collections.abc import Callable
from pathlib import Path

import httpx
import stripe

from checkout.config import Settings
from checkout.main import MIGRATIONS, create_app
from tollgate_shared.testing import serve_app, unique

from .conftest import auth, create_item, create_tier, organizer


async def active_prices(stripe_client: stripe.StripeClient, product_id: str) -> list[stripe.Price]:
    listed = await stripe_client.v1.prices.list_async({"product": product_id, "active": True})
    return list(listed.data)


async def test_a_tier_gets_a_product_and_a_price_per_amount(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    group = unique("group")
    tier = await create_tier(
        api, group, amount=2000, interval="year", segment_prices={"student": 900}, capacity=10
    )
    assert tier["synced"] is True
    product = await stripe_client.v1.products.retrieve_async(tier["stripe_product_id"])
    assert product.name == "Supporter"
    prices = await active_prices(stripe_client, product.id)
    assert sorted((p.unit_amount, p.recurring.interval) for p in prices) == [
        (900, "year"),
        (2000, "year"),
    ]

    listed = await api.get("/tiers", params={"group_id": group})
    assert [t["id"] for t in listed.json()] == [tier["id"]]


async def test_a_changed_amount_gets_a_new_price_and_retires_the_old_one(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, amount=2000)
    (old,) = await active_prices(stripe_client, tier["stripe_product_id"])

    renamed = await api.patch(
        f"/tiers/{tier['id']}", json={"name": "Patron"}, headers=organizer(group)
    )
    assert renamed.status_code == 200, renamed.text
    assert [p.id for p in await active_prices(stripe_client, tier["stripe_product_id"])] == [old.id]

    changed = await api.patch(
        f"/tiers/{tier['id']}", json={"amount": 2400}, headers=organizer(group)
    )
    assert changed.json()["synced"] is True
    (new,) = await active_prices(stripe_client, tier["stripe_product_id"])
    assert (new.unit_amount, new.id != old.id) == (2400, True)
    assert (await stripe_client.v1.prices.retrieve_async(old.id)).active is False
    product = await stripe_client.v1.products.retrieve_async(tier["stripe_product_id"])
    assert product.name == "Patron"

    started = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth())
    session = await stripe_client.v1.checkout.sessions.retrieve_async(started.json()["session_id"])
    assert session.amount_total == 2400


async def test_only_the_groups_organizers_change_its_catalog(api: httpx.AsyncClient) -> None:
    group = unique("group")
    body = {"name": "Gold", "amount": 100, "currency": "nzd", "interval": "month"}
    member = await api.post(f"/groups/{group}/tiers", json=body, headers=auth())
    stranger = await api.post(
        f"/groups/{group}/tiers", json=body, headers=organizer(unique("group"))
    )
    admin = await api.post(f"/groups/{group}/tiers", json=body, headers=auth(roles=["admin"]))
    assert (member.status_code, stranger.status_code, admin.status_code) == (403, 403, 201)
    nulled = await api.patch(
        f"/tiers/{admin.json()['id']}", json={"amount": None}, headers=organizer(group)
    )
    assert nulled.status_code == 422
    for allowances in ({"booking=1,x": 1}, {"booking": -1}, {f"k{i}": 1 for i in range(11)}):
        refused = await api.patch(
            f"/tiers/{admin.json()['id']}",
            json={"credit_allowances": allowances},
            headers=organizer(group),
        )
        assert refused.status_code == 422, allowances


async def test_names_with_line_breaks_or_control_characters_are_refused(
    api: httpx.AsyncClient,
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, name="Gold")
    item = await create_item(api, group, name="Ticket")
    new_tier = {"amount": 100, "currency": "nzd", "interval": "month"}
    new_item = {"amount": 100, "currency": "nzd"}
    for name in ("Gold\r\nBcc: everyone@example.com", "Gold\n", "Gold\x00"):
        for method, path, body in (
            ("POST", f"/groups/{group}/tiers", new_tier),
            ("POST", f"/groups/{group}/items", new_item),
            ("PATCH", f"/tiers/{tier['id']}", {}),
            ("PATCH", f"/items/{item['id']}", {}),
        ):
            answer = await api.request(
                method, path, json=body | {"name": name}, headers=organizer(group)
            )
            assert answer.status_code == 422, (method, path, name)
            assert answer.json()["error"]["code"] == "validation_error"

    tiers = (await api.get("/tiers", params={"group_id": group})).json()
    items = (await api.get("/items", params={"group_id": group})).json()
    assert [(t["id"], t["name"], t["version"]) for t in tiers] == [(tier["id"], "Gold", 1)]
    assert [(i["id"], i["name"], i["version"]) for i in items] == [(item["id"], "Ticket", 1)]


async def test_without_stripe_the_catalog_waits_and_payments_answer_503(
    nats_url: str,
    migrated_database: Callable[[Path], str],
    stripe_emulator_url: str,
    stripe_client: stripe.StripeClient,
) -> None:
    url = migrated_database(MIGRATIONS)
    offline = Settings(service_name="checkout", nats_url=nats_url, service_database_url=url)
    group = unique("group")
    async with serve_app(create_app(offline)) as base, httpx.AsyncClient(base_url=base) as api:
        assert (await api.get("/readyz")).status_code == 200
        tier = await create_tier(api, group)
        assert tier["synced"] is False
        item = await create_item(api, group)
        for path, body in (
            ("/checkout/sessions", {"tier_id": tier["id"]}),
            ("/checkout/subscriptions", {"tier_id": tier["id"]}),
            ("/purchases/payment-intents", {"item_id": item["id"], "reference": "r1"}),
        ):
            answer = await api.post(path, json=body, headers=auth())
            assert answer.status_code == 503, path
            assert answer.json()["error"]["code"] == "stripe_not_configured"
            assert "STRIPE_SECRET_KEY" in answer.json()["error"]["message"]
        portal = await api.post("/billing-portal/sessions", headers=auth())
        assert portal.status_code == 503

    # The same database with Stripe configured: checkout syncs the tier before selling it.
    online = Settings(
        service_name="checkout",
        nats_url=nats_url,
        service_database_url=url,
        stripe_api_base=stripe_emulator_url,
    )
    async with serve_app(create_app(online)) as base, httpx.AsyncClient(base_url=base) as api:
        started = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth())
        assert started.status_code == 201, started.text
        synced = (await api.get(f"/tiers/{tier['id']}")).json()
        assert synced["synced"] is True
