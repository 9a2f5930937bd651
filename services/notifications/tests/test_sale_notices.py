"""Sale notices: a group's organizer hears of each sale (new member, renewal, purchase, refund,
dispute) once, at the contact address checkout announced, with the amount, the member and the
tier's or item's name as checkout last announced them (a late or repeated announcement changes
nothing); not when the group opted out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.ledger import DisputeOpened, PaymentRecorded, RefundRecorded
from tollgate_shared.contracts.membership import MembershipActivated, MembershipRenewed
from tollgate_shared.testing import unique, wait_until

from .conftest import Harness, StartService, purchase, stripe_example


def _paid_invoice(
    group: str, user: str, tier: str, subscription: str, *, amount: int, period_end: datetime
) -> dict[str, Any]:
    """A subscription's paid invoice of the period ending at `period_end`."""
    end = int(period_end.timestamp())
    line = {"amount": amount, "currency": "usd", "period": {"start": end - 86400, "end": end}}
    metadata = {"user_id": user, "group_id": group, "tier_id": tier}
    return stripe_example(
        "invoice",
        id=unique("in"),
        amount_paid=amount,
        currency="usd",
        lines={"data": [line]},
        parent={
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription, "metadata": metadata},
        },
        status_transitions={"paid_at": end - 86400},
    )


async def _twice(service: Harness, *events: DomainEvent) -> None:
    """Each event delivered, then re-emitted as a new message."""
    for event in events:
        await service.publish(event)
        await service.publish(event, msg_id=f"{event.id}:again")


async def _catalog(service: Harness, group: str, organizer: str) -> tuple[str, str, str]:
    """A group named "Chess club" with a monthly tier, a one-time tier and an item, each
    announced again late under an older revision and another name."""
    tier, annual, item = unique("tier"), unique("tier"), unique("item")
    await service.announce_group(group, revision=2, name="Chess club", contact_email=organizer)
    await service.announce_group(group, revision=1, name="Old name", contact_email="x@old.test")
    await service.announce_entry(group, tier, revision=3, name="Supporter")
    await service.announce_entry(group, tier, revision=2, name="Old tier")
    await service.announce_entry(
        group, annual, name="Annual pass", amount=5000, interval="one_time_annual"
    )
    await service.announce_entry(group, item, name="Workshop seat", amount=2500)
    await service.applied()  # checkout announces its catalog before anything is sold
    return tier, annual, item


async def test_each_sale_is_told_once_with_its_amount_member_and_names(
    start_service: StartService,
) -> None:
    # Long enough for the renewal's invoice, published after it, to complete it.
    async with start_service(mail_details_wait_seconds=30) as service:
        group, organizer = unique("grp"), f"{unique('org')}@example.com"
        tier, annual, item = await _catalog(service, group, organizer)
        member = {"user_id": unique("usr"), "group_id": group, "tier_id": tier}
        email = f"{unique('member')}@example.com"
        sub, now = unique("sub"), datetime.now(UTC)
        first_end, second_end = now + timedelta(days=30), now + timedelta(days=61)

        # A new member whose first invoice (NZ$18.00 after a coupon) came first, and a
        # renewal whose invoice comes after it.
        await service.publish_stripe(
            "invoice.paid",
            _paid_invoice(group, member["user_id"], tier, sub, amount=1800, period_end=first_end),
        )
        await service.applied()
        joined = MembershipActivated(
            **member, email=email, subscription_id=sub, expires_at=first_end
        )
        renewed = MembershipRenewed(**member, subscription_id=sub, expires_at=second_end)
        await _twice(service, joined, renewed)
        await service.applied()
        await service.publish_stripe(
            "invoice.paid",
            _paid_invoice(group, member["user_id"], tier, sub, amount=2000, period_end=second_end),
        )
        # A one-time term (no Stripe object tells its amount: the tier's price).
        buyer, buyer_email = unique("usr"), f"{unique('buyer')}@example.com"
        once = MembershipActivated(
            user_id=buyer,
            group_id=group,
            tier_id=annual,
            source="one_time",
            email=buyer_email,
            expires_at=now + timedelta(days=365),
        )
        # A purchase, its payment (receipted to the buyer), then a part of it refunded.
        charge = unique("ch")
        bought = purchase(group, item, user_id=buyer, email=buyer_email)
        await service.publish_stripe(
            "charge.succeeded",
            stripe_example(
                "charge",
                id=charge,
                amount=2500,
                currency="usd",
                metadata={"group_id": group, "user_id": buyer, "item_id": item},
            ),
        )
        paid = PaymentRecorded(
            user_id=buyer, group_id=group, amount=2500, currency="usd", charge_id=charge
        )
        await _twice(service, once, bought, paid)
        # A membership payment (its invoice tells its receipt), then disputed.
        charge2, invoice2 = (
            unique("ch"),
            _paid_invoice(
                group, member["user_id"], tier, unique("sub"), amount=2000, period_end=first_end
            ),
        )
        await service.publish_stripe("invoice.paid", invoice2)
        membership_paid = PaymentRecorded(
            **member,
            email=email,
            amount=2000,
            currency="usd",
            charge_id=charge2,
            invoice_id=invoice2["id"],
        )
        await _twice(service, membership_paid)
        await service.wait_for_mail(buyer_email, 1)  # the purchase's receipt
        await service.wait_for_mail(email, 1)  # the membership payment's receipt
        refund = RefundRecorded(
            user_id=buyer,
            group_id=group,
            amount=500,
            currency="usd",
            charge_id=charge,
            refund_id=unique("re"),
            email=buyer_email,
        )
        dispute = DisputeOpened(
            user_id=member["user_id"],
            group_id=group,
            amount=2000,
            currency="usd",
            charge_id=charge2,
            dispute_id=unique("dp"),
            reason="fraudulent",
        )
        await _twice(service, refund, dispute)

        mails = await service.wait_for_mail(organizer, 6)
        await service.applied()
        kinds = sorted(n["kind"] for n in await service.notifications(recipient=organizer))
        sales = ["new_member", "renewal_notice", "sale_notice", "refund_notice", "dispute_alert"]
        assert kinds == sorted([*sales, "new_member"])
        assert len(await service.mail(organizer)) == 6
        assert await service.mail("x@old.test") == []
        by_subject = {m["subject"]: m for m in mails}
        joined_mail, once_mail = sorted(
            (m for m in mails if m["subject"] == "New member in Chess club"),
            key=lambda m: "Annual pass" in m["text"],
        )
        expected = {
            "joined": (joined_mail, [email, "Supporter", "Amount: $18.00"]),
            "renewed": (
                by_subject["Membership renewed in Chess club"],
                [email, "Supporter", "Amount: $20.00"],
            ),
            "one-time": (once_mail, [buyer_email, "Annual pass", "Price: $50.00"]),
            "bought": (
                by_subject["New sale in Chess club: $25.00"],
                [buyer_email, "bought Workshop seat", "$25.00"],
            ),
            "refunded": (
                by_subject["Refund in Chess club: $5.00"],
                [buyer_email, "refunded $5.00 for Workshop seat"],
            ),
            "disputed": (
                by_subject["Dispute opened: $20.00 in Chess club"],
                [email, "payment of $20.00 for Supporter"],
            ),
        }
        for sale, (mail, shown) in expected.items():
            for text in shown:
                assert text in mail["text"], (sale, text, mail["text"])
            assert "Chess club" in mail["text"] and "Chess club" in mail["html"], sale
            for hidden in (tier, annual, item, "Old name", "Old tier"):
                assert hidden not in mail["text"] + mail["html"], (sale, hidden)


async def test_a_group_that_opted_out_hears_of_no_sale_until_it_opts_in_again(
    service: Harness,
) -> None:
    group, organizer = unique("grp"), f"{unique('org')}@example.com"
    await service.announce_group(
        group,
        name="Quiet club",
        contact_email=organizer,
        organizer_mail_opt_outs=["sale_notice"],
    )
    await service.applied()
    buyer, email = unique("usr"), f"{unique('buyer')}@example.com"
    sale = {"user_id": buyer, "group_id": group, "amount": 900, "currency": "usd", "email": email}
    charge, item = unique("ch"), unique("item")
    await _twice(
        service,
        MembershipActivated(user_id=buyer, group_id=group, email=email, source="grant"),
        purchase(group, item, amount=900, user_id=buyer, email=email),
        RefundRecorded(**sale, charge_id=charge, refund_id=unique("re")),
        DisputeOpened(**sale, charge_id=charge, dispute_id=unique("dp")),
    )
    [confirmation] = await service.wait_for_mail(email, 1)  # the member's mail is not affected
    assert confirmation["subject"].startswith("Refund"), confirmation
    await service.applied()

    async def opted_out() -> float:
        metrics = (await service.api("GET", "/metrics")).text
        prefix = "tollgate_notifications_opted_out_total{"
        return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if prefix in line)

    await wait_until(lambda: _at_least(opted_out, 4), message="four sales opted out")
    assert await service.notifications(recipient=organizer) == []

    await service.announce_group(group, revision=2, name="Quiet club", contact_email=organizer)
    await service.applied()
    await service.publish(purchase(group, item, amount=900, user_id=buyer, email=email))
    [notice] = await service.wait_for_mail(organizer, 1)
    assert notice["subject"] == "New sale in Quiet club: $9.00", notice


async def _at_least(read: Any, count: float) -> bool:
    return bool(await read() >= count)


async def test_mails_name_the_group_by_its_id_until_checkout_announces_it(
    service: Harness,
) -> None:
    """A group checkout has not announced: its contacts set through the API address its mails
    (their name too); once announced, checkout's name and contact win."""
    group = unique("grp")
    legacy, contact = f"{unique('org')}@example.com", f"{unique('org')}@example.com"
    await service.set_contacts(group, legacy)
    item = unique("item")
    await service.publish(purchase(group, item, amount=700))
    [by_id] = await service.wait_for_mail(legacy, 1)
    assert by_id["subject"] == f"New sale in {group}: $7.00", by_id

    await service.announce_group(group, name="Knitters", contact_email=contact)
    await service.applied()
    await service.publish(purchase(group, item, amount=700))
    [named] = await service.wait_for_mail(contact, 1)
    assert named["subject"] == "New sale in Knitters: $7.00", named
    assert len(await service.mail(legacy)) == 1
