"""A subscription Stripe canceled because it could not collect the payment (or the payment was
disputed) is announced as such, not as the member's cancellation; one the member canceled
keeps that wording. Membership's `membership.canceled` and Stripe's
`customer.subscription.deleted` come in either order, and again: one mail each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tollgate_shared.contracts.membership import MembershipCanceled
from tollgate_shared.testing import unique

from .conftest import StartService, stripe_example

CASES = [
    # Stripe's reason, what the subject says, what the text says (None: nothing about payment)
    ("payment_failed", "has ended", "We could not collect the payment for it, so it was canceled"),
    ("payment_disputed", "has ended", "We could not collect the payment for it: the payment was"),
    ("cancellation_requested", "was canceled", None),
]


def _ended(group: str, reason: str) -> tuple[MembershipCanceled, dict[str, Any]]:
    user, subscription_id = unique("usr"), unique("sub")
    ended_at = datetime.now(UTC) - timedelta(minutes=1)
    canceled = MembershipCanceled(
        user_id=user,
        group_id=group,
        tier_id="tier_supporter",
        subscription_id=subscription_id,
        expires_at=ended_at,
        email=f"{unique('member')}@example.com",
        reason="canceled",  # what membership says of any subscription Stripe deleted
    )
    subscription = stripe_example(
        "subscription",
        id=subscription_id,
        status="canceled",
        canceled_at=int(ended_at.timestamp()),
        ended_at=int(ended_at.timestamp()),
        metadata={"user_id": user, "group_id": group, "tier_id": "tier_supporter"},
        cancellation_details={"comment": None, "feedback": None, "reason": reason},
    )
    return canceled, subscription


@pytest.mark.parametrize("first", ["membership", "stripe"])
async def test_a_cancellation_says_who_ended_it(start_service: StartService, first: str) -> None:
    async with start_service(mail_details_wait_seconds=60) as svc:
        group = unique("grp")
        await svc.set_contacts(group, f"{unique('org')}@example.com", name="Chess club")
        cases = [(_ended(group, reason), subject, said) for reason, subject, said in CASES]
        deleted = "customer.subscription.deleted"
        for (canceled, subscription), _, _ in cases:
            if first == "membership":
                await svc.publish(canceled)
            else:
                await svc.publish_stripe(deleted, subscription)
        await svc.applied()  # the second comes after the first was applied
        for (canceled, subscription), _, _ in cases:
            if first == "membership":  # it waits for Stripe's reason
                assert await svc.notifications(user_id=canceled.user_id) == []
                await svc.publish_stripe(deleted, subscription)
            else:
                await svc.publish(canceled)
        for (canceled, subscription), _, _ in cases:  # and again, as new deliveries
            await svc.publish(canceled, msg_id=unique("msg"))
            await svc.publish_stripe(deleted, subscription)

        for (canceled, _), subject, said in cases:
            assert canceled.email is not None
            [mail] = await svc.wait_for_mail(canceled.email, 1)
            assert mail["subject"] == f"Your membership of Chess club {subject}", mail
            if said is None:
                assert "could not collect" not in mail["text"] + mail["html"]
            else:
                assert said in mail["text"] and said in mail["html"]
                assert "was canceled" not in mail["subject"]
            kinds = [n["kind"] for n in await svc.notifications(user_id=canceled.user_id)]
            assert kinds == ["membership_ended"]
