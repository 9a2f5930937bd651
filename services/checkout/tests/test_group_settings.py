"""Group settings set in one place and announced whole with a revision; catalog entries
announced with their version."""

import asyncio
from typing import Any

import httpx
from nats.js import JetStreamContext

from tollgate_shared.testing import unique

from .conftest import auth, create_item, create_tier, domain_event, domain_events, organizer

SETTINGS_CHANGED = "checkout.group.settings_changed"
ENTRY_CHANGED = "checkout.catalog.entry_changed"
ADMIN = auth(roles=["admin"])


async def put(
    api: httpx.AsyncClient, group: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await api.put(
        f"/groups/{group}/settings", json=body, headers=headers or organizer(group)
    )


async def test_a_group_nobody_set_up_has_the_defaults_named_by_its_id(
    api: httpx.AsyncClient,
) -> None:
    group = unique("group")
    answer = await api.get(f"/groups/{group}/settings", headers=organizer(group))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "group_id": group,
        "name": group,
        "contact_email": None,
        "proration_behavior": "create_prorations",
        "one_time_switch": "period_end",
        "payout_auto_approve_below": {},
        "organizer_mail_opt_outs": [],
        "sale_notice_digest": False,
        "allow_pause": False,
        "revision": 0,
    }
    for stranger in (auth(), organizer(unique("group"))):
        assert (await api.get(f"/groups/{group}/settings", headers=stranger)).status_code == 403
        assert (await put(api, group, {"name": "Mine"}, stranger)).status_code == 403
    assert (await api.get(f"/groups/{group}/settings", headers=ADMIN)).status_code == 200


async def test_each_change_is_stored_and_announced_whole_with_the_next_revision(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    group = unique("group")
    first = await put(
        api,
        group,
        {
            "name": "  Wellington Climbers ",
            "contact_email": "hello@climbers.example.org",
            "organizer_mail_opt_outs": ["sale_notice", "payout", "sale_notice"],
            "one_time_switch": "now",
        },
    )
    assert first.status_code == 200, first.text
    assert first.json()["name"] == "Wellington Climbers"
    assert first.json()["organizer_mail_opt_outs"] == ["payout", "sale_notice"]
    assert first.json()["revision"] == 1
    event = await domain_event(js, SETTINGS_CHANGED, group_id=group, revision=1)
    assert {k: event[k] for k in first.json()} == first.json()

    # Sending what is already set changes nothing and announces nothing.
    same = await put(api, group, {"name": "Wellington Climbers", "one_time_switch": "now"})
    assert same.json()["revision"] == 1

    # A change of one field announces all of them.
    second = await put(api, group, {"sale_notice_digest": True, "contact_email": None})
    assert second.json()["revision"] == 2
    event = await domain_event(js, SETTINGS_CHANGED, group_id=group, revision=2)
    assert (event["name"], event["contact_email"], event["sale_notice_digest"]) == (
        "Wellington Climbers",
        None,
        True,
    )
    assert event["organizer_mail_opt_outs"] == ["payout", "sale_notice"]
    announced = await domain_events(js, SETTINGS_CHANGED, group_id=group)
    assert [e["revision"] for e in announced] == [1, 2]
    stored = await api.get(f"/groups/{group}/settings", headers=organizer(group))
    assert stored.json() == second.json()


async def test_concurrent_changes_get_one_revision_each(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    group = unique("group")
    answers = await asyncio.gather(*(put(api, group, {"name": f"Name {i}"}) for i in range(6)))
    assert sorted(a.json()["revision"] for a in answers) == [1, 2, 3, 4, 5, 6]
    await domain_event(js, SETTINGS_CHANGED, group_id=group, revision=6)
    announced = await domain_events(js, SETTINGS_CHANGED, group_id=group)
    assert sorted(e["revision"] for e in announced) == [1, 2, 3, 4, 5, 6]
    newest = max(announced, key=lambda e: e["revision"])
    stored = await api.get(f"/groups/{group}/settings", headers=organizer(group))
    assert stored.json()["name"] == newest["name"]


async def test_organizers_allow_members_to_pause_and_the_change_is_announced(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    group = unique("group")
    allowed = await put(api, group, {"allow_pause": True})
    assert allowed.status_code == 200, allowed.text
    assert (allowed.json()["allow_pause"], allowed.json()["revision"]) == (True, 1)
    event = await domain_event(js, SETTINGS_CHANGED, group_id=group, revision=1)
    assert event["allow_pause"] is True
    stored = await api.get(f"/groups/{group}/settings", headers=organizer(group))
    assert stored.json() == allowed.json()

    # Other changes keep it; switching it off is announced like any change.
    renamed = await put(api, group, {"name": "Pausers"})
    assert renamed.json()["allow_pause"] is True
    assert (await domain_event(js, SETTINGS_CHANGED, group_id=group, revision=2))["allow_pause"]
    off = await put(api, group, {"allow_pause": False}, ADMIN)
    assert (off.json()["allow_pause"], off.json()["revision"]) == (False, 3)
    event = await domain_event(js, SETTINGS_CHANGED, group_id=group, revision=3)
    assert (event["allow_pause"], event["name"]) == (False, "Pausers")


async def test_only_admins_set_the_payout_auto_approval_threshold(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    group = unique("group")
    refused = await put(api, group, {"name": "Club", "payout_auto_approve_below": {"nzd": 1}})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "admin_only_setting"
    assert (await api.get(f"/groups/{group}/settings", headers=ADMIN)).json()["revision"] == 0

    set_by_admin = await put(
        api, group, {"payout_auto_approve_below": {"NZD": 50000, "usd": 0}}, ADMIN
    )
    assert set_by_admin.status_code == 200, set_by_admin.text
    assert set_by_admin.json()["payout_auto_approve_below"] == {"nzd": 50000, "usd": 0}
    event = await domain_event(js, SETTINGS_CHANGED, group_id=group, revision=1)
    assert event["payout_auto_approve_below"] == {"nzd": 50000, "usd": 0}

    # The organizer may send the settings back as they read them, threshold included.
    whole = {**set_by_admin.json(), "name": "Club"}
    for read_only in ("group_id", "revision"):
        del whole[read_only]
    renamed = await put(api, group, whole)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["revision"] == 2
    lowered = await put(api, group, {"payout_auto_approve_below": {"nzd": 100}})
    assert lowered.status_code == 403


async def test_bad_settings_are_refused_and_change_nothing(api: httpx.AsyncClient) -> None:
    group = unique("group")
    for body in (
        {"name": ""},
        {"name": "x" * 201},
        {"name": "Club\r\nBcc: everyone@example.com"},
        {"name": None},
        {"contact_email": "not an address"},
        {"contact_email": "a@b"},
        {"contact_email": "a@example.com, b@example.com"},
        {"contact_email": "a@example.com\n"},
        {"proration_behavior": "sometimes"},
        {"one_time_switch": None},
        {"payout_auto_approve_below": {"dollars": 100}},
        {"payout_auto_approve_below": {"nzd": -1}},
        {"payout_auto_approve_below": {"nzd": 2**63}},
        {"organizer_mail_opt_outs": ["receipts"]},
        {"sale_notice_digest": "daily"},
        {"allow_pause": "sometimes"},
        {"allow_pause": None},
        {"revision": 7},
    ):
        answer = await put(api, group, body, ADMIN)
        assert answer.status_code == 422, body
        assert answer.json()["error"]["code"] == "validation_error", body
    stored = await api.get(f"/groups/{group}/settings", headers=ADMIN)
    assert (stored.json()["name"], stored.json()["revision"]) == (group, 0)


async def test_every_tier_and_item_version_is_announced(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, name="Supporter", amount=2000, interval="year")
    created = await domain_event(js, ENTRY_CHANGED, entry_id=tier["id"], revision=1)
    assert {k: created[k] for k in ("group_id", "entry_kind", "name", "active")} == {
        "group_id": group,
        "entry_kind": "tier",
        "name": "Supporter",
        "active": True,
    }
    assert (created["amount"], created["currency"], created["interval"]) == (2000, "nzd", "year")

    changed = await api.patch(
        f"/tiers/{tier['id']}", json={"name": "Patron", "amount": 2500}, headers=organizer(group)
    )
    assert changed.json()["version"] == 2
    event = await domain_event(js, ENTRY_CHANGED, entry_id=tier["id"], revision=2)
    assert (event["name"], event["amount"]) == ("Patron", 2500)

    item = await create_item(api, group, name="Workshop", amount=1500)
    event = await domain_event(js, ENTRY_CHANGED, entry_id=item["id"], revision=1)
    assert (event["entry_kind"], event["name"], event["interval"]) == ("item", "Workshop", None)
    await api.patch(f"/items/{item['id']}", json={"active": False}, headers=organizer(group))
    event = await domain_event(js, ENTRY_CHANGED, entry_id=item["id"], revision=2)
    assert event["active"] is False
    assert len(await domain_events(js, ENTRY_CHANGED, entry_id=tier["id"])) == 2
