"""`tollgate run` brings the platform up as separate processes and carries a Stripe event from
the emulator through the gateway to a consumer. (That it stops everything on Ctrl-C is checked
when the session's stack is torn down, see `conftest.stack`.)"""

import nats
import stripe

from tollgate_shared.infra.settings import DEV_STRIPE_KEY
from tollgate_shared.testing import unique, wait_until


async def test_run_prints_where_everything_listens(platform) -> None:
    banner = platform.stack.banner
    assert "Tollgate is up" in banner and "Admin token" in banner
    for name, url in platform.stack.service_urls.items():
        assert url in banner, name
        assert (await platform.http.get(f"{url}/healthz")).json() == {"status": "ok"}
    assert platform.emulator in banner and platform.mail_sink in banner


async def test_run_serves_a_stripe_event_end_to_end(platform) -> None:
    client = stripe.StripeClient(DEV_STRIPE_KEY, base_addresses={"api": platform.emulator})
    product = await client.v1.products.create_async({"name": "Supporter"})
    price = await client.v1.prices.create_async(
        {
            "product": product.id,
            "unit_amount": 500,
            "currency": "nzd",
            "recurring": {"interval": "month"},
        }
    )
    session = await client.v1.checkout.sessions.create_async(
        {
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "http://127.0.0.1/ok",
            "metadata": {"user_id": unique("u"), "group_id": unique("g"), "purpose": "membership"},
        }
    )
    done = await platform.control(
        f"/checkout/sessions/{session.id}/complete", {"card_number": "4242424242424242"}
    )
    assert done["outcome"] == "paid"

    nc = await nats.connect(platform.nats_url)
    js = nc.jetstream()

    async def stored() -> bool:
        try:
            message = await js.get_last_msg("STRIPE", "stripe.checkout.session.completed")
        except nats.js.errors.NotFoundError:
            return False
        return session.id in message.data.decode()

    async def consumed() -> bool:
        info = await js.consumer_info("STRIPE", "membership")
        return info.num_pending == 0 and info.num_ack_pending == 0

    try:
        await wait_until(stored, timeout=30, message="stored on STRIPE by the gateway")
        await wait_until(consumed, timeout=30, message="membership consumed the events")
    finally:
        await nc.close()
