"""The pages mails and Stripe send a member to on the local stack (`PUBLIC_BASE_URL` is
checkout's there): every link notifications writes and the billing portal's return land on a
working page, and the billing page opens the portal for the member's token."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from notifications.domain.links import Links
from tollgate_shared.testing import unique
from tollgate_shared.testing.browser import BROWSER_ARGS, chromium, playwright

from .conftest import auth, create_tier

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def test_every_link_of_the_mails_lands_on_a_page(api: httpx.AsyncClient) -> None:
    group = unique("group")
    await create_tier(api, group, name="Supporter <3", amount=1500, currency="jpy")
    await create_tier(api, group, name="Old tier", active=False)
    links = Links("http://127.0.0.1:8002")

    billing = await api.get(_path(links.billing_portal(group)))
    assert billing.status_code == 200 and "Manage your membership" in billing.text
    assert "/billing-portal/sessions" in billing.text

    page = await api.get(_path(links.group(group)))
    assert page.status_code == 200, page.text
    assert "Supporter &lt;3" in page.text and "¥1,500" in page.text
    assert "Old tier" not in page.text

    back = await api.get("/account")
    assert back.status_code == 200 and "Billing updated" in back.text
    refused = await api.get(_path(links.group("x" * 300)))
    assert refused.status_code == 422


async def test_the_billing_page_opens_the_portal_that_returns_to_the_account_page(
    api: httpx.AsyncClient,
) -> None:
    user = unique("user")
    group = unique("group")
    tier = await create_tier(api, group)
    started = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth(user))
    assert started.status_code == 201, started.text  # the member has a Stripe customer now
    portal = await api.post("/billing-portal/sessions", json={}, headers=auth(user))
    assert portal.status_code == 201, portal.text
    async with httpx.AsyncClient(timeout=30) as browser:
        shown = await browser.get(portal.json()["url"])
    assert shown.status_code == 200
    returns = [a for a in re.findall(r"href='([^']+)'", shown.text) if a.endswith("/account")]
    assert returns, "the portal links back to the account page"
    back = await api.get(_path(returns[0]))
    assert back.status_code == 200 and "Billing updated" in back.text


async def test_a_member_opens_the_portal_from_the_mails_link_in_a_real_browser(
    api: httpx.AsyncClient, service_url: str
) -> None:
    """As a person would: the mail's link, the token typed in, Stripe's portal, back."""
    user = unique("user")
    tier = await create_tier(api, unique("group"))
    started = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth(user))
    assert started.status_code == 201, started.text
    token = auth(user)["Authorization"].removeprefix("Bearer ")
    executable, api_module = chromium(), playwright()
    async with api_module.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(executable), args=BROWSER_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{service_url}/account/billing?group_id=g1")
            await page.fill("input[name=token]", "not-a-token")
            await page.click("button")
            await page.wait_for_function("document.getElementById('said').textContent !== ''")
            assert "token" in (await page.text_content("#said") or "").lower()
            await page.fill("input[name=token]", token)
            await page.click("button")
            await page.wait_for_url("**/billing_portal/session/**")
            assert "Your subscriptions" in await page.content()
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "checkout-portal.png"))
            # The portal returns to PUBLIC_BASE_URL's /account: this service's, here on a test port.
            back = await page.get_attribute("text=Return", "href")
            assert back is not None and urlsplit(back).path == "/account"
            await page.goto(f"{service_url}/account")
            assert "Billing updated" in await page.content()
        finally:
            await browser.close()
