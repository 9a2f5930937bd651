"""The console's pages over HTTP, as admins and organizers see them: the landing page, the
groups list, a group's revenue chart (every period, empty ones as zero, a negative net below
zero), members, payouts, disputes and risk, declined and failed payments; amounts in each
currency's units; refunds and payout decisions confirmed first; HTML pages for what is unknown
or refused."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from tollgate_shared.testing import (
    StripeWorld,
    publish_stripe_event,
    stripe_event,
    unique,
    wait_until,
)

from .conftest import (
    auth,
    booked_payment,
    browser,
    busy_group,
    funded_group,
    hidden_fields,
    sign_in,
    token,
)

CHART = re.compile(r'<script type="application/json" class="chart-data">(.*?)</script>', re.S)


def charts(html: str) -> dict[str, dict[str, Any]]:
    """The data of each revenue chart on a group's page, by currency."""
    found = [json.loads(data) for data in CHART.findall(html)]
    return {chart["currency"]: chart for chart in found}


def is_page(answer: httpx.Response, status: int) -> None:
    """`answer` is an HTML page of the console with `status` (never the API's JSON)."""
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("text/html"), answer.headers
    assert "<header>" in answer.text


async def test_every_page_of_a_busy_group(world: StripeWorld, ledger: httpx.AsyncClient) -> None:
    busy = await busy_group(world, ledger)
    group = busy.group
    organizer = token(sub="org_1", roles=("organizer",), groups=(group,))
    async with browser(ledger) as admin, browser(ledger) as org:
        await sign_in(admin, token())
        await sign_in(org, organizer)

        home = await admin.get("/console")
        is_page(home, 200)
        assert "you see every group" in home.text and 'href="/console/groups"' in home.text
        mine = await org.get("/console")
        assert f'<a href="/console/groups/{group}">{group}</a>' in mine.text
        assert "¥1,500" in mine.text, "the organizer's group with its totals, yen whole"

        revenue = await admin.get(f"/console/groups/{group}")
        is_page(revenue, 200)
        drawn = charts(revenue.text)
        assert sorted(drawn) == ["jpy", "usd"]
        usd, jpy = drawn["usd"], drawn["jpy"]
        assert len(usd["x"]) == 31 == len(usd["gross"]) == len(usd["labels"])
        days = [b - a for a, b in zip(usd["x"], usd["x"][1:], strict=False)]
        assert days == [86400] * 30, "every day, oldest first"
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        assert usd["x"][-1] == int(midnight.timestamp()), "the chart ends with today"
        assert usd["gross"][:-1] == [0] * 30, "empty days drawn as zero"
        assert usd["net"][:-1] == [0] * 30
        assert usd["gross"][-1] == 500 + 2000 + 900
        summary = (await ledger.get(f"/groups/{group}/summary", headers=auth())).json()
        net = {t["currency"]: t["net"] for t in summary["totals"]}
        assert usd["net"][-1] == net["usd"] < 0, "the dispute (and its fee) outweigh the gross"
        assert (jpy["gross"][-1], jpy["decimals"], usd["decimals"]) == (1500, 0, 2)
        assert "¥1,500" in revenue.text and "$34.00" in revenue.text
        assert "/console/static/uPlot.iife.min.js" in revenue.text
        for bucket, periods in (("week", 26), ("month", 24)):
            per = charts((await admin.get(f"/console/groups/{group}?bucket={bucket}")).text)
            assert len(per["usd"]["x"]) == periods and per["usd"]["gross"][-1] == 3400

        members = await org.get(f"/console/groups/{group}/members")
        is_page(members, 200)
        assert busy.yen_payer in members.text and f"{busy.yen_payer}@example.com" in members.text
        assert members.text.count("<tr>") == 1 + 4, "four payers, each once"

        async def failures() -> str | None:
            page = await org.get(f"/console/groups/{group}/failures")
            return page.text if page.text.count("data-failure=") == 3 else None

        declined = await wait_until(failures, message="three failed payments", timeout=20)
        for words in (
            "Card declined",
            "3-D Secure not completed",
            "Subscription payment failed",
            "Your card was declined.",
            "$12.00",
            "$9.00",
        ):
            assert words in declined, words

        disputes = await org.get(f"/console/groups/{group}/disputes")
        is_page(disputes, 200)
        for words in ("Needs a response", "Fraudulent", "Early fraud warning", "Radar review"):
            assert words in disputes.text, words
        assert "needs_response<" not in disputes.text, "no raw status"

        payments = await org.get(f"/console/payments?group={group}")
        assert payments.text.count('<tr>\n    <td><time datetime="') == 4
        assert "Disputed" in payments.text and "Paid" in payments.text
        detail = await org.get(f"/console/payments/{busy.disputed}")
        is_page(detail, 200)
        assert 'data-status="disputed"' in detail.text and "Dispute opened" in detail.text
        assert 'id="refund-form"' not in detail.text, "organizers do not refund"
        utc = r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" title="[^"]+ UTC">'
        assert re.search(utc, detail.text), "times in UTC until the browser shows its own zone"

        payouts = await org.get(f"/console/groups/{group}/payouts")
        is_page(payouts, 200)
        assert 'id="request-form"' in payouts.text and "Confirm" not in payouts.text

        # An organizer sees none of another group's pages, and no other group in the list.
        other = await booked_payment_group(world, ledger)
        for path in ("", "/members", "/payouts", "/failures", "/disputes"):
            is_page(await org.get(f"/console/groups/{other}{path}"), 404)
        listed = await org.get("/console/groups")
        assert group in listed.text and other not in listed.text


async def booked_payment_group(world: StripeWorld, ledger: httpx.AsyncClient) -> str:
    group = unique("grp")
    await booked_payment(world, ledger, 700, group)
    return group


async def test_the_groups_list_pages_through_every_group_with_its_totals(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    prefix = unique("grplist")
    groups = [f"{prefix}_{i}" for i in range(3)]
    for amount, group in zip((1000, 2000, 3000), groups, strict=True):
        await booked_payment(world, ledger, amount, group)
    async with browser(ledger) as client:
        await sign_in(client, token())
        seen: list[str] = []
        path: str | None = f"/console/groups?q={prefix}&limit=2"
        pages = 0
        while path:
            page = await client.get(path)
            is_page(page, 200)
            seen += re.findall(r'<tr data-group="([^"]+)">', page.text)
            found = re.search(r'<a id="next" href="([^"]+)">', page.text)
            path = "/console/groups" + found.group(1).replace("&amp;", "&") if found else None
            pages += 1
        assert (seen, pages) == (groups, 2)
        assert "$30.00" in (await client.get(f"/console/groups?q={groups[2]}")).text


async def test_payouts_are_requested_in_units_and_decided_after_a_confirmation(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group, available = await funded_group(world, ledger, destination="acct_" + unique("console"))
    organizer = token(sub="org_2", roles=("organizer",), groups=(group,))
    async with browser(ledger) as org, browser(ledger) as admin:
        await sign_in(org, organizer)
        await sign_in(admin, token())
        page = f"/console/groups/{group}/payouts"
        fields = hidden_fields((await org.get(page)).text)
        form = {"csrf_token": fields["csrf_token"], "form_token": fields["form_token"]}
        for amount, status, why in (
            ("12.345", 422, "at most 2 decimals"),
            ("=1+2", 422, "as a number"),
            ("9" * 39, 422, "too large"),
            (str(available), 409, "available"),  # units: 100x what is available
        ):
            refused = await org.post(page, data=form | {"amount": amount, "currency": "usd"})
            is_page(refused, status)
            assert why in refused.text, refused.text
        asked = await org.post(page, data=form | {"amount": "12.34", "currency": "usd"})
        assert (asked.status_code, asked.headers["location"]) == (303, page + "?done=requested")
        again = await org.post(page, data=form | {"amount": "12.34", "currency": "usd"})
        assert again.status_code == 303, "the same form sent again makes no second request"
        listed = (await ledger.get(f"/groups/{group}/payouts", headers=auth())).json()["data"]
        assert [(r["amount"], r["status"]) for r in listed] == [(1234, "requested")]
        payout = listed[0]["payout_id"]

        shown = await admin.get(page)
        assert "Awaiting approval" in shown.text and "$12.34" in shown.text
        csrf = hidden_fields(shown.text)["csrf_token"]
        org_csrf = hidden_fields((await org.get(page)).text)["csrf_token"]
        approve = f"/console/payouts/{payout}/approve"
        is_page(await org.post(approve, data={"csrf_token": org_csrf}), 403)
        confirm = await admin.post(approve, data={"csrf_token": csrf})
        is_page(confirm, 200)
        assert "Transfer <strong>$12.34</strong>" in confirm.text
        still = (await ledger.get(f"/groups/{group}/payouts", headers=auth())).json()["data"]
        assert still[0]["status"] == "requested", "nothing decided before the confirmation"
        forged = await admin.post(
            f"/console/payouts/{payout}/approve", data={"csrf_token": "0" * 64, "confirm": "yes"}
        )
        is_page(forged, 403)
        done = await admin.post(
            f"/console/payouts/{payout}/approve", data={"csrf_token": csrf, "confirm": "yes"}
        )
        assert (done.status_code, done.headers["location"]) == (303, page + "?done=approve")
        paid = await admin.get(page + "?done=approve")
        assert "Paid out" in paid.text and "Approved: the transfer was sent" in paid.text

        second = await org.post(
            page, data=form | {"form_token": unique("form"), "amount": "1", "currency": "usd"}
        )
        assert second.status_code == 303
        rows = (await ledger.get(f"/groups/{group}/payouts", headers=auth())).json()["data"]
        newest = rows[0]["payout_id"]
        rejected = await admin.post(
            f"/console/payouts/{newest}/reject", data={"csrf_token": csrf, "confirm": "yes"}
        )
        assert rejected.headers["location"] == page + "?done=reject"
        late = await admin.post(
            f"/console/payouts/{newest}/approve", data={"csrf_token": csrf, "confirm": "yes"}
        )
        is_page(late, 409)
        assert "already rejected" in late.text
        assert "Rejected" in (await admin.get(page)).text


def _refund(refund_id: str, charge: str, amount: int, status: str, at: int) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "usd",
        "charge": charge,
        "status": status,
        "reason": "requested_by_customer",
        "created": at,
        "metadata": {},
    }


async def test_a_refunds_status_follows_stripes_events(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    charge = await booked_payment(world, ledger, 4000, unique("grp"))
    refund, failing = unique("re"), unique("re")
    at = int(datetime.now(UTC).timestamp())
    async with browser(ledger) as client:
        await sign_in(client, token())

        async def shows(*words: str) -> str | None:
            page = (await client.get(f"/console/payments/{charge}?refund={refund}")).text
            return page if all(w in page for w in words) else None

        waiting = await client.get(f"/console/payments/{charge}?refund={refund}")
        assert "pending until Stripe confirms it" in waiting.text
        assert 'data-reload-after="5"' in waiting.text
        await publish_stripe_event(
            world.js, stripe_event("refund.created", _refund(refund, charge, 1000, "pending", at))
        )
        pending = await wait_until(lambda: shows("Pending at Stripe"), message="pending")
        assert "data-reload-after" in pending, "it looks again while Stripe has not decided"
        await publish_stripe_event(
            world.js,
            stripe_event(
                "refund.updated", _refund(refund, charge, 1000, "succeeded", at + 1), created=at + 1
            ),
        )
        done = await wait_until(lambda: shows(">Refunded</span>", "$10.00"), message="succeeded")
        assert "data-reload-after" not in done and 'data-status="partially_refunded"' in done
        await publish_stripe_event(
            world.js, stripe_event("refund.failed", _refund(failing, charge, 500, "failed", at))
        )
        await wait_until(lambda: shows("Failed: the money was not returned"), message="failed")


async def test_a_refund_in_yen_is_typed_in_whole_yen(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group = unique("grp")
    paid = await world.checkout(await world.price(1500, "jpy"), group_id=group, user_id=unique("u"))
    charge = await world.charge_of_intent(paid["payment_intent"])
    await world.forward()
    await wait_until(
        lambda: _status(ledger, f"/payments/{charge}", 200), message="the yen payment booked"
    )
    async with browser(ledger) as client:
        await sign_in(client, token())
        page = await client.get(f"/console/payments/{charge}")
        assert "¥1,500" in page.text and 'placeholder="1500"' in page.text
        fields = hidden_fields(page.text)
        form = {k: fields[k] for k in ("csrf_token", "form_token")}
        path = f"/console/payments/{charge}/refund"
        for typed, why in (("500.5", "no decimals"), ("1501", "more than is left")):
            refused = await client.post(path, data=form | {"amount": typed})
            is_page(refused, 422)
            assert why in refused.text
        asked = await client.post(path, data=form | {"amount": "500"})
        assert "Refund <strong>¥500</strong>" in asked.text
        sent = await client.post(path, data=hidden_fields(asked.text))
        assert sent.status_code == 303
    refunds = await world.client.v1.refunds.list_async({"charge": charge})
    assert [r.amount for r in refunds.data] == [500]


async def _status(ledger: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await ledger.get(path, headers=auth())).status_code == status


async def test_hostile_input_gets_an_html_4xx_page_and_is_shown_escaped(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    charge = await booked_payment(world, ledger, 1200, unique("grp"))
    async with browser(ledger) as client:
        await sign_in(client, token())
        for path in (
            "/console/payments?q=" + "x" * 400,
            "/console/payments?cursor=bm90LWEtY3Vyc29y",
            "/console/groups?limit=100000",
            "/console/groups?cursor=" + "A" * 600,
            "/console/groups/" + "g" * 101,
            f"/console/payments/{charge}?refund=" + "r" * 200,
            "/console/groups/g?bucket=year",
            "/console/groups/g/payouts?done=everything",
        ):
            is_page(await client.get(path), 422)
        fields = hidden_fields((await client.get(f"/console/payments/{charge}")).text)
        form = {k: fields[k] for k in ("csrf_token", "form_token")}
        path = f"/console/payments/{charge}/refund"
        for data, why in (
            ({"note": "a\x00b"}, "note"),
            ({"note": "n" * 501}, "note"),
            ({"amount": "1" * 41}, "amount"),
            ({"reason": "r" * 65}, "reason"),
        ):
            refused = await client.post(path, data=form | data)
            is_page(refused, 422)
            assert why in refused.text
        for typed in ("1e309", "=SUM(A1)", "-5", "0", "12.345", "99999999999999999"):
            is_page(await client.post(path, data=form | {"amount": typed}), 422)
        searched = await client.get("/console/payments", params={"q": "<script>x</script>=1+1"})
        is_page(searched, 200)
        assert "<script>x</script>" not in searched.text and "&lt;script&gt;" in searched.text
        # NUL in the address itself is refused before any route (JSON, as on every service).
        assert (await client.get("/console/payments?q=%00")).status_code == 422


async def test_unknown_pages_and_ids_answer_an_html_404(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    async with browser(ledger) as client:
        assert (await client.get("/console/groups")).headers["location"] == "/console/login"
        await sign_in(client, token())
        csrf = hidden_fields((await client.get("/console")).text)["csrf_token"]
        for path in (
            "/console/nothing-here",
            "/console/groups/a/b/c",
            f"/console/payments/{unique('ch')}",
            f"/console/groups/{unique('grp')}",
            f"/console/groups/{unique('grp')}/members",
            "/console/static/secrets.txt",
        ):
            missing = await client.get(path)
            is_page(missing, 404)
            assert "Not found" in missing.text
        unknown = f"/console/payouts/{unique('po')}/approve"
        is_page(await client.post(unknown, data={"csrf_token": csrf}), 404)
    assert (await ledger.get(f"/payments/{unique('ch')}", headers=auth())).json()["error"]


async def test_pages_carry_their_security_headers_and_the_chart_library_is_served_locally(
    ledger: httpx.AsyncClient,
) -> None:
    login = await ledger.get("/console/login")
    policy = login.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in login.text and "style=" not in login.text, "nothing inline"
    library = await ledger.get("/console/static/uPlot.iife.min.js")
    assert library.status_code == 200
    assert library.headers["content-type"].startswith("text/javascript")
    assert "uPlot" in library.text[:200]
    assert "MIT License" in (await ledger.get("/console/static/uPlot-LICENSE.txt")).text
    assert (await ledger.get("/console/static/console.js")).status_code == 200
