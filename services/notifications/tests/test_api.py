"""The HTTP API: group contacts, the admin list with filters and pages, resend, previews."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from notifications.domain.model import Kind
from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.testing import cursor_pages, unique, wait_until

MONEY_KINDS = {Kind.PAYMENT_RECEIPT, Kind.REFUND_CONFIRMATION, Kind.PAYMENT_FAILED}


async def test_group_contacts_need_the_groups_organizer_and_valid_addresses(
    service: Any,
) -> None:
    group = unique("grp")
    organizer = service.bearer("org", roles=["organizer"], groups=[group])
    stranger = service.bearer("other", roles=["organizer"], groups=[unique("grp")])
    path = f"/groups/{group}/contacts"
    body = {"emails": ["Boss@Example.com", "boss@example.com", "two@example.com"]}

    assert (await service.api("PUT", path, json=body, headers={})).status_code == 401
    forbidden = await service.api("PUT", path, json=body, headers=stranger)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    invalid = await service.api("PUT", path, json={"emails": ["nope"]}, headers=organizer)
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "validation_error"
    assert (await service.api("GET", path, headers=organizer)).status_code == 404

    for _ in range(2):  # a retried PUT lands in the same state
        saved = await service.api("PUT", path, json=body, headers=organizer)
        assert saved.status_code == 200
    expected = {"group_id": group, "name": None, "emails": ["boss@example.com", "two@example.com"]}
    assert saved.json() == expected
    assert (await service.api("GET", path, headers=organizer)).json() == expected


@pytest.mark.parametrize("name", ["Chess\r\nBcc: evil@example.com", "Chess\nclub", "Chess\x00"])
async def test_the_contacts_api_refuses_a_group_name_with_a_control_character(
    service: Any, name: str
) -> None:
    group = unique("grp")
    path = f"/groups/{group}/contacts"
    organizer = service.bearer("org", roles=["organizer"], groups=[group])
    body = {"emails": ["org@example.com"], "name": name}
    refused = await service.api("PUT", path, json=body, headers=organizer)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "validation_error"
    assert (await service.api("GET", path, headers=organizer)).status_code == 404

    fine = await service.api("PUT", path, json={**body, "name": " Chess club "}, headers=organizer)
    assert fine.status_code == 200 and fine.json()["name"] == "Chess club"


async def receipted(service: Any, *amounts: int) -> tuple[str, str]:
    """A new member whose payments of `amounts` were each receipted; their id and email."""
    user, email = unique("usr"), f"{unique('member')}@example.com"
    for amount in amounts:
        await service.publish(
            PaymentRecorded(
                user_id=user, amount=amount, currency="gbp", charge_id=unique("ch"), email=email
            )
        )
    await service.wait_for_mail(email, len(amounts))
    return user, email


async def test_the_admin_list_pages_through_every_notification_once(service: Any) -> None:
    user, _ = await receipted(service, 100, 200, 300, 400, 500, 600)
    params = {"user_id": user, "kind": "payment_receipt"}
    async with httpx.AsyncClient(base_url=service.base_url, headers=service.admin) as client:
        [whole] = await cursor_pages(
            client, "/notifications", limit=200, items="items", params=params
        )
        ids = [item["id"] for item in whole]  # statuses may move on while paging
        assert len(set(ids)) == 6
        for limit, sizes in ((3, [3, 3]), (4, [4, 2]), (1, [1] * 6)):
            pages = await cursor_pages(
                client, "/notifications", limit=limit, items="items", params=params
            )
            assert [len(page) for page in pages] == sizes
            assert [item["id"] for page in pages for item in page] == ids


async def test_admin_lists_by_user_kind_and_status_in_pages_and_resends(service: Any) -> None:
    user, email = await receipted(service, 100, 200, 300)

    member = service.bearer(user)
    assert (await service.api("GET", "/notifications", headers=member)).status_code == 403
    first = (
        await service.api("GET", "/notifications", params={"user_id": user, "limit": 2})
    ).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await service.api(
        "GET",
        "/notifications",
        params={"user_id": user, "limit": 2, "cursor": first["next_cursor"]},
    )
    items = first["items"] + rest.json()["items"]
    assert rest.json()["next_cursor"] is None
    # The consumer applies messages concurrently, so the order the three payments were
    # recorded in (newest first in the list) is not fixed; pages neither skip nor repeat.
    subjects = [i["subject"] for i in items]
    assert sorted(subjects) == [f"Receipt: £{p} to Tollgate" for p in ("1.00", "2.00", "3.00")]
    assert len({i["id"] for i in items}) == 3
    assert await service.notifications(user_id=user, kind="payment_receipt", status="sent") == items
    assert await service.notifications(user_id=user, status="failed") == []
    bad = await service.api("GET", "/notifications", params={"status": "lost"})
    assert bad.status_code == 422

    target = items[0]
    resent = await service.api("POST", f"/notifications/{target['id']}/resend")
    assert resent.status_code == 202 and resent.json()["status"] in ("pending", "sending", "sent")
    mail = await service.wait_for_mail(email, 4)
    copies = [m for m in mail if m["subject"] == target["subject"]]
    assert len(copies) == 2
    assert copies[0]["message_id"] != copies[1]["message_id"]  # the resend is a new message

    async def sent_again() -> bool:
        detail = await service.api("GET", f"/notifications/{target['id']}")
        return detail.json()["status"] == "sent" and detail.json()["resends"] == 1

    await wait_until(sent_again, message="resend recorded")
    missing = await service.api("POST", "/notifications/nope/resend")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_every_template_previews_in_both_formats(service: Any) -> None:
    for kind in Kind:
        for currency, amount, shown in (("jpy", 1500, "¥1,500"), ("usd", 1250, "$12.50")):
            response = await service.api(
                "GET",
                f"/templates/{kind}/preview",
                params={"currency": currency, "amount": amount},
            )
            assert response.status_code == 200, response.text
            preview = response.json()
            assert preview["subject"] and preview["text"] and "<html" in preview["html"]
            if kind in MONEY_KINDS:
                assert shown in preview["text"] and shown in preview["html"], kind
    german = await service.api(
        "GET",
        "/templates/payment_receipt/preview",
        params={"currency": "eur", "amount": 1250, "locale": "de_DE", "format": "html"},
    )
    assert german.headers["content-type"].startswith("text/html") and "12,50\xa0€" in german.text
    assert (await service.api("GET", "/templates/nope/preview")).status_code == 422
