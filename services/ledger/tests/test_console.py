"""The console in a real headless Chromium, in New Zealand's time zone: every page walked as an
admin and as an organizer, the revenue chart drawn by the vendored uPlot (negative net below
zero), a refund and a payout confirmed on their own pages, times in the browser's zone, every
page fitting a phone's width; a screenshot of each page (desktop and phone) is left in
`var/screenshots/` for a person to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tollgate_shared.testing import StripeWorld, unique, wait_until
from tollgate_shared.testing.browser import BROWSER_ARGS, chromium, playwright

from .conftest import auth, busy_group, funded_group, token

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
"""Where the page tests leave what they saw, for a person to look at."""


def _problem(message: Any) -> bool:
    """A console message that tells of a broken page (a 404 or 422 the test asked for is not)."""
    wanted = message.text.startswith("Failed to load resource")
    return message.type in ("error", "warning") and not wanted


async def _sign_in(page: Any, base: str, bearer: str) -> None:
    await page.goto(f"{base}/console/login")
    await page.fill("textarea[name=token]", bearer)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/console")


async def _shoot(page: Any, name: str) -> None:
    """Check the page fits a phone's width, and leave a screenshot of it at both widths."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)
    await page.set_viewport_size({"width": 375, "height": 740})
    await page.wait_for_timeout(100)  # the chart follows the new width
    assert await page.locator("meta[name=viewport]").count() == 1
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{name} is {width}px wide on a 375px screen"
    await page.screenshot(path=str(SCREENSHOTS / f"console-{name}-phone.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_every_console_page_in_a_real_browser(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    busy = await busy_group(world, ledger)
    group = busy.group
    funded, _ = await funded_group(world, ledger, destination="acct_" + unique("browser"))
    base = str(ledger.base_url).rstrip("/")
    executable, api = chromium(), playwright()
    async with api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(executable), args=BROWSER_ARGS)
        context = await browser.new_context(
            timezone_id="Pacific/Auckland", locale="en-US", viewport={"width": 1280, "height": 900}
        )
        page = await context.new_page()
        problems: list[str] = []  # script errors and CSP refusals would show here
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if _problem(m) else None)

        await page.goto(f"{base}/console/login")
        await _shoot(page, "login")
        await _sign_in(page, base, token())
        assert await page.text_content("h1") == "Console"
        await _shoot(page, "home")

        await page.click("header a[href='/console/groups']")
        await page.fill("input[name=q]", group)
        await page.click("form.inline button[type=submit]")
        assert await page.locator(f"tr[data-group='{group}']").count() == 2  # USD and JPY
        await _shoot(page, "groups")

        # The revenue chart: drawn by uPlot from the service's own copy, per day, week, month.
        await page.click(f"tr[data-group='{group}'] a")
        for bucket in ("day", "week", "month"):
            if bucket != "day":
                await page.click(f".switch a[href='?bucket={bucket}']")
            await page.wait_for_selector(".revenue-chart[data-drawn=yes]")
            assert await page.locator(".revenue-chart[data-drawn=yes]").count() == 2
            assert await page.locator("#chart-usd .chart canvas").count() == 1
            legend = await page.text_content("#chart-usd .u-legend") or ""
            assert "Gross" in legend and "Net" in legend
            low = await page.evaluate("document.querySelector('#chart-usd').uplot.scales.y.min")
            assert low < 0, "the negative net is drawn below zero"
            await _shoot(page, f"group-revenue-{bucket}")
        loaded = await page.evaluate(
            "performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => n.includes('uPlot'))"
        )
        assert loaded and all(n.startswith(f"{base}/console/static/") for n in loaded)

        for tab, name in (
            ("Members", "group-members"),
            ("Payouts", "group-payouts"),
            ("Disputes & risk", "group-disputes"),
            ("Declined & failed", "group-failures"),
        ):
            await page.click(f"nav.tabs a:text-is('{tab}')")
            await _shoot(page, name)
        assert await page.locator("tr[data-failure]").count() == 3
        time = page.locator("#failures time").first
        shown, title = await time.text_content() or "", await time.get_attribute("title") or ""
        assert title.endswith("UTC") and "GMT+13" in shown, (shown, title)

        await page.goto(f"{base}/console/disputes")
        await _shoot(page, "disputes")
        await page.goto(f"{base}/console/payments?group={group}")
        await _shoot(page, "payments")

        # A refund typed in dollars, confirmed, then shown as Stripe's events tell it.
        await page.click(f"a[href='/console/payments/{busy.paid}']")
        assert await page.text_content("#status") == "Paid"
        await _shoot(page, "payment")
        await page.fill("#refund-form input[name=amount]", "2.50")
        await page.fill("#refund-form input[name=note]", "browser test")
        await page.click("#refund-form button[type=submit]")
        assert "Refund $2.50 of payment" in (await page.text_content("#confirm-question") or "")
        await _shoot(page, "refund-confirm")
        await page.click("#confirm-form button[type=submit]")
        assert "requested" in (await page.text_content("#requested") or "")
        await world.forward()

        async def refunded() -> bool:
            await page.reload()
            return await page.text_content("#status") == "Partly refunded"

        await wait_until(refunded, message="the console shows the refund", interval=0.3)
        assert await page.locator("#refunds .status.succeeded").count() == 1
        await _shoot(page, "payment-refunded")

        # A payout requested in dollars, approved on its confirmation page.
        await page.goto(f"{base}/console/groups/{funded}/payouts")
        await page.fill("#request-form input[name=amount]", "10")
        await page.click("#request-form button[type=submit]")
        assert "Payout requested" in (await page.text_content("#notice") or "")
        await page.click("#payouts button.approve")
        assert "Transfer $10.00" in (await page.text_content("#confirm-question") or "")
        await _shoot(page, "payout-confirm")
        await page.click("#confirm-form button[type=submit]")
        assert "Approved" in (await page.text_content("#notice") or "")
        assert "Paid out" in (await page.text_content("#payouts") or "")
        await _shoot(page, "payouts-paid")

        # What is unknown or refused is an HTML page of the console, not the API's JSON.
        answer = await page.goto(f"{base}/console/payments/{unique('ch')}")
        assert answer is not None and answer.status == 404
        assert await page.text_content("h1") == "Not found"
        await _shoot(page, "not-found")
        answer = await page.goto(f"{base}/console/groups/{group}?bucket=year")
        assert answer is not None and answer.status == 422
        await _shoot(page, "refused-input")

        # An organizer sees their group and nothing else.
        organizer = await browser.new_context(timezone_id="Europe/Berlin")
        page = await organizer.new_page()
        await _sign_in(page, base, token(sub="org_b", roles=("organizer",), groups=(group,)))
        assert await page.locator("#my-groups a", has_text=group).count() >= 1
        await _shoot(page, "home-organizer")
        answer = await page.goto(f"{base}/console/groups/{funded}")
        assert answer is not None and answer.status == 404
        await browser.close()
    assert problems == [], problems
    assert (await ledger.get(f"/payments/{busy.paid}", headers=auth())).json()["refunded"] == 250
