"""The console in a real headless Chromium: find a payment, refund it through the form and its
confirmation, and see it refunded once Stripe's events have been consumed."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tollgate_shared.testing import StripeWorld, unique, wait_until

from .conftest import auth, booked_payment, token

CHROMIUM = Path("/usr/bin/chromium")
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed (a dev dependency)"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and shutil.which("chromium") is None,
    reason="no /usr/bin/chromium (apt-get install chromium to run the browser test)",
)


async def test_refund_a_payment_from_the_console(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group = unique("grp")
    charge = await booked_payment(world, ledger, 3300, group)
    base = str(ledger.base_url).rstrip("/")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = await browser.new_page()
        await page.goto(f"{base}/console/payments")
        await page.fill("textarea[name=token]", token())
        await page.click("button[type=submit]")
        await page.fill("input[name=q]", charge)
        await page.click("form.inline button[type=submit]")
        await page.click(f"a[href='/console/payments/{charge}']")
        assert await page.text_content("#status") == "paid"

        await page.fill("#refund-form input[name=note]", "console test")
        await page.click("#refund-form button[type=submit]")
        assert "Refund 33.00" in (await page.text_content("#confirm-question") or "")
        await page.click("#confirm-form button[type=submit]")
        assert "Refund requested" in (await page.text_content("p.notice") or "")
        await world.forward()

        async def refunded() -> bool:
            await page.reload()
            return await page.text_content("#status") == "refunded"

        await wait_until(refunded, message="console shows the refund", interval=0.3)
        assert "charge.refunded" in (await page.content())
        await page.goto(f"{base}/console/groups/{group}")
        assert await page.locator("svg rect").count() >= 2
        await browser.close()

    organizer = auth(sub="org", roles=("organizer",), groups=(unique("grp"),))
    assert (await ledger.get(f"/payments/{charge}", headers=organizer)).status_code == 404
