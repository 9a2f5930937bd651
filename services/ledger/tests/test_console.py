"""The console in a real headless Chromium: find a payment, refund it through the form and its
confirmation, and see it refunded once Stripe's events have been consumed."""

from __future__ import annotations

from pathlib import Path

import httpx

from tollgate_shared.testing import StripeWorld, unique, wait_until
from tollgate_shared.testing.browser import BROWSER_ARGS, chromium, playwright

from .conftest import auth, booked_payment, token

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
"""Where the page tests leave what they saw, for a person to look at."""


async def test_refund_a_payment_from_the_console(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group = unique("grp")
    charge = await booked_payment(world, ledger, 3300, group)
    base = str(ledger.base_url).rstrip("/")
    executable, api = chromium(), playwright()
    async with api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(executable), args=BROWSER_ARGS)
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

        # On a phone's width every page fits: wide tables scroll inside their own box.
        await page.set_viewport_size({"width": 375, "height": 740})
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name, path in (
            ("payments", "/console/payments"),
            ("payment", f"/console/payments/{charge}"),
            ("disputes", "/console/disputes"),
            ("group", f"/console/groups/{group}"),
        ):
            await page.goto(f"{base}{path}")
            assert await page.locator("meta[name=viewport]").count() == 1
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"{path} is {width}px wide on a 375px screen"
            await page.screenshot(
                path=str(SCREENSHOTS / f"console-{name}-phone.png"), full_page=True
            )
        await browser.close()

    organizer = auth(sub="org", roles=("organizer",), groups=(unique("grp"),))
    assert (await ledger.get(f"/payments/{charge}", headers=organizer)).status_code == 404
