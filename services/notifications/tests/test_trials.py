"""`customer.subscription.trial_will_end` mails the member once per subscription and trial end
(the date, the price then, the link to manage the membership), however often Stripe sends it;
not for a trial already over, nor for another app's subscription."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tollgate_shared.contracts.membership import MembershipActivated
from tollgate_shared.testing import unique, wait_until

from .conftest import Harness, stripe_example

TRIAL = "customer.subscription.trial_will_end"


def _trialing(user: str, group: str | None, trial_end: datetime) -> dict[str, Any]:
    """A subscription of Stripe's example shape in its trial ($20.00 a month after it)."""
    metadata = {"user_id": user, "tier_id": "tier_supporter"}
    return stripe_example(
        "subscription",
        id=unique("sub"),
        status="trialing",
        trial_end=int(trial_end.timestamp()),
        metadata=metadata | ({"group_id": group} if group else {}),
    )


async def _counted(service: Harness) -> tuple[float, float]:
    """How many trial mails were superseded, and trial events ignored as another app's."""
    lines = (await service.api("GET", "/metrics")).text.splitlines()

    def total(prefix: str) -> float:
        return sum(float(line[len(prefix) :]) for line in lines if line.startswith(prefix))

    superseded = 'tollgate_notifications_superseded_total{kind="trial_ending"} '
    foreign = f'tollgate_foreign_events_total{{service="notifications",type="{TRIAL}"}} '
    return total(superseded), total(foreign)


async def test_the_member_hears_once_that_the_trial_ends(service: Harness) -> None:
    group, organizer = unique("grp"), f"{unique('org')}@example.com"
    await service.set_contacts(group, organizer, name="Chess club")
    members = [(unique("usr"), f"{unique('member')}@example.com") for _ in range(3)]
    ends = datetime(2027, 1, 15, 9, tzinfo=UTC)
    for user, email in members:  # membership tells the address when the trial starts
        await service.publish(
            MembershipActivated(
                user_id=user, group_id=group, email=email, subscription_id=unique("sub")
            )
        )
    await service.wait_for_mail(organizer, len(members))  # applied: the addresses are known
    before = await _counted(service)

    (user, email), (late_user, late_email), (other_user, other_email) = members
    ending = _trialing(user, group, ends)
    over = _trialing(late_user, group, datetime.now(UTC) - timedelta(hours=1))
    foreign = _trialing(other_user, None, ends)
    for subscription in (ending, ending, over, foreign, ending):
        await service.publish_stripe(TRIAL, subscription)

    [mail] = await service.wait_for_mail(email, 1)
    assert mail["subject"] == "Your trial of Chess club ends on January 15, 2027"
    assert "From then on your membership costs $20.00 a month." in mail["text"]
    manage = f"/account/billing?group_id={group}"
    assert manage in mail["text"] and manage in mail["html"]
    [row] = await service.notifications(recipient=email, kind="trial_ending")
    assert row["source_id"] == f"{ending['id']}@trial-2027-01-15"

    async def both_counted() -> bool:
        superseded, ignored = await _counted(service)
        return (superseded - before[0], ignored - before[1]) == (1, 1)

    await wait_until(both_counted, message="the trial over superseded, the foreign one ignored")
    for address in (late_email, other_email):
        assert await service.notifications(recipient=address, kind="trial_ending") == []
    assert len(await service.mail(email)) == 1
