"""The hosted Checkout page walked in a real browser as a buyer would: paid with a card that
succeeds, refused with one that declines, and through the 3-D Secure challenge (completed and
failed). What is checked is the page's structure (headings, fields, the alert), not pixels;
a screenshot of each step is left in var/screenshots/ for a person to look at."""

from pathlib import Path
from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator
from tollgate_shared.testing.browser import BROWSER_ARGS, chromium, playwright

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"


def _session(
    client: stripe.StripeClient, emulator: RunningEmulator, catalog: dict[str, Any]
) -> Any:
    return client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": catalog["once"].id, "quantity": 1}],
            "customer_email": "buyer@example.com",
            "success_url": f"{emulator.base_url}/healthz?paid={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{emulator.base_url}/healthz?cancelled=1",
        }
    )


@pytest.mark.parametrize(
    ("card", "challenge", "paid"),
    [
        ("4242 4242 4242 4242", None, True),
        ("4000 0000 0000 0002", None, False),
        ("4000 0027 6000 3184", "Complete", True),
        ("4000 0027 6000 3184", "Fail", False),
    ],
)
async def test_a_buyer_pays_on_the_hosted_page(
    client: stripe.StripeClient,
    emulator: RunningEmulator,
    catalog: dict[str, Any],
    card: str,
    challenge: str | None,
    paid: bool,
) -> None:
    session = _session(client, emulator, catalog)
    name = f"checkout-{card.replace(' ', '')[-4:]}-{challenge or 'direct'}".lower()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    executable, api = chromium(), playwright()
    async with api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(executable), args=BROWSER_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(session.url)
            assert await page.text_content("h1") == "Pay"
            assert await page.input_value("input[name=email]") == "buyer@example.com"
            assert "15.00" in (await page.text_content("#total") or "")
            await page.fill("input[name=card_number]", card)
            await page.screenshot(path=str(SCREENSHOTS / f"{name}-form.png"))
            await page.click("button[type=submit]")
            if challenge is not None:
                await page.wait_for_selector("text=3D Secure test page")
                await page.screenshot(path=str(SCREENSHOTS / f"{name}-challenge.png"))
                await page.click(f"button:has-text('{challenge}')")
            await page.wait_for_load_state()
            await page.screenshot(path=str(SCREENSHOTS / f"{name}-after.png"))
            if paid:
                assert f"paid={session.id}" in page.url
            else:
                alert = await page.text_content("[role=alert]")
                assert alert, "the buyer is told why"
                assert await page.is_visible("input[name=card_number]"), "and may try again"
        finally:
            await browser.close()
    status = client.v1.checkout.sessions.retrieve(session.id).status
    assert status == ("complete" if paid else "open")
