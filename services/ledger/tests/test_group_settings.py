"""What checkout announces of a group (`checkout.group.settings_changed` on DOMAIN): the ledger
keeps the highest revision, whatever comes late or twice, and the console names the group."""

from __future__ import annotations

from typing import Any

import httpx
from nats.js import JetStreamContext
from sqlalchemy import select

from ledger.adapters import orm
from ledger.config import Settings
from tollgate_shared.contracts.checkout import GroupSettingsChanged
from tollgate_shared.messaging.streams import DOMAIN
from tollgate_shared.testing import (
    consumer_idle,
    publish_domain_event,
    sessions_on,
    unique,
    wait_until,
)

from .conftest import browser, sign_in, token


async def _kept(settings: Settings, group: str) -> dict[str, Any] | None:
    g = orm.group_settings
    async with sessions_on(settings.sqlalchemy_url) as sessions, sessions() as db:
        row = (await db.execute(select(g).where(g.c.group_id == group))).first()
        return dict(row._mapping) if row else None


async def _revision(settings: Settings, group: str, revision: int) -> bool:
    kept = await _kept(settings, group)
    return kept is not None and kept["revision"] == revision


def _settings(group: str, revision: int, name: str, **below: int) -> GroupSettingsChanged:
    return GroupSettingsChanged(
        group_id=group, revision=revision, name=name, payout_auto_approve_below=below
    )


async def test_the_highest_revision_is_kept_whatever_comes_late_or_twice(
    ledger: httpx.AsyncClient, settings: Settings, js: JetStreamContext
) -> None:
    group = unique("grp")
    await publish_domain_event(js, _settings(group, 1, "Hikers (draft)", usd=100))
    await wait_until(lambda: _revision(settings, group, 1), message="revision 1 kept")
    newest = _settings(group, 3, "Hikers & Friends", usd=5000, EUR=4000)
    await publish_domain_event(js, newest)
    await wait_until(lambda: _revision(settings, group, 3), message="revision 3 kept")

    await publish_domain_event(js, _settings(group, 2, "Hikers (old)", usd=1))  # late
    await publish_domain_event(js, newest, msg_id=f"{newest.id}:again")  # delivered twice
    replayed = _settings(group, 3, "Hikers (replayed)", usd=1)  # the same revision, re-sent
    await publish_domain_event(js, replayed)
    await wait_until(lambda: consumer_idle(js, DOMAIN.name, "ledger"), message="all consumed")

    kept = await _kept(settings, group)
    assert kept is not None
    assert (kept["revision"], kept["name"], kept["payout_auto_approve_below"]) == (
        3,
        "Hikers & Friends",
        {"usd": 5000, "eur": 4000},
    )

    # The console names the group where it showed its id, and says what is approved alone.
    async with browser(ledger) as organizer:
        await sign_in(organizer, token(sub=unique("org"), roles=("organizer",), groups=(group,)))
        payouts = await organizer.get(f"/console/groups/{group}/payouts")
        found = await organizer.get("/console/groups", params={"q": "friends"})
        other = await organizer.get("/console/groups", params={"q": "nobody"})
    assert payouts.status_code == 200
    assert "<title>Payouts of Hikers &amp; Friends · Tollgate ledger</title>" in payouts.text
    assert f'Hikers &amp; Friends <span class="muted group-id">{group}</span></h1>' in payouts.text
    assert "below €40.00 or $50.00 are approved and sent without an admin" in payouts.text
    assert f'data-group="{group}"' in found.text
    assert f'data-group="{group}"' not in other.text
