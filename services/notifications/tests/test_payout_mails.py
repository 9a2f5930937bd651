"""Payout mails: the group's organizer hears once of each payout's outcome — sent, declined by
an admin, failed and why (a transfer Stripe refused, a payout the bank did not take) — at the
contact address checkout announced, unless the group opted out of payout mails."""

from __future__ import annotations

from datetime import UTC, datetime

from tollgate_shared.contracts.ledger import PayoutFailed, PayoutRecorded, PayoutRejected
from tollgate_shared.testing import unique, wait_until

from .conftest import Harness


async def test_each_payout_outcome_is_mailed_once_to_the_contact(service: Harness) -> None:
    group, organizer = unique("grp"), f"{unique('org')}@example.com"
    await service.announce_group(group, name="Chess club", contact_email=organizer)
    await service.applied()
    money = {"group_id": group, "currency": "usd"}
    paid, declined, refused, bank = (
        unique("payreq"),
        unique("payreq"),
        unique("payreq"),
        unique("po"),
    )
    events = [
        PayoutRecorded(**money, amount=12000, payout_id=paid, status="paid"),
        PayoutRejected(
            **money, amount=5000, payout_id=declined, decided_at=datetime(2026, 3, 2, tzinfo=UTC)
        ),
        PayoutFailed(
            **money,
            amount=7000,
            payout_id=refused,
            reason="The destination account cannot receive transfers.",
        ),
        PayoutRecorded(**money, amount=3000, payout_id=bank, status="failed"),
        PayoutRecorded(**money, amount=3000, payout_id=bank, status="in_transit"),  # not an outcome
    ]
    for event in events:  # each delivered, then re-emitted as a new message
        await service.publish(event)
        await service.publish(event, msg_id=f"{event.id}:again")

    mails = await service.wait_for_mail(organizer, 4)
    await service.applied()
    records = await service.notifications(recipient=organizer)
    assert sorted(n["source_id"] for n in records) == sorted(
        [f"{paid}#paid", f"{declined}#rejected", f"{refused}#failed", f"{bank}#failed"]
    )
    assert len(await service.mail(organizer)) == 4
    by_subject = {m["subject"]: m for m in mails}
    assert set(by_subject) == {
        "Payout sent: $120.00 to Chess club",
        "Payout request declined: $50.00 for Chess club",
        "Payout failed: $70.00 for Chess club",
        "Payout failed: $30.00 for Chess club",
    }
    declined_mail = by_subject["Payout request declined: $50.00 for Chess club"]
    assert "declined on March 2, 2026" in declined_mail["text"], declined_mail["text"]
    refused_mail = by_subject["Payout failed: $70.00 for Chess club"]
    assert "The destination account cannot receive transfers." in refused_mail["text"]
    assert "The destination account cannot receive transfers." in refused_mail["html"]
    assert (
        "the bank did not accept it" in by_subject["Payout failed: $30.00 for Chess club"]["text"]
    )


async def test_a_group_that_opted_out_of_payout_mails_gets_none(service: Harness) -> None:
    group, organizer = unique("grp"), f"{unique('org')}@example.com"
    await service.announce_group(
        group, name="Quiet club", contact_email=organizer, organizer_mail_opt_outs=["payout"]
    )
    await service.applied()
    payout = unique("payreq")
    await service.publish(
        PayoutFailed(group_id=group, currency="usd", amount=100, payout_id=payout, reason="no")
    )
    await service.publish(
        PayoutRecorded(group_id=group, currency="usd", amount=100, payout_id=payout, status="paid")
    )

    async def counted() -> bool:
        metrics = (await service.api("GET", "/metrics")).text
        return 'tollgate_notifications_opted_out_total{kind="payout_outcome"}' in metrics

    await wait_until(counted, message="payout mails opted out")
    await service.applied()
    assert await service.notifications(group_id=group) == []
