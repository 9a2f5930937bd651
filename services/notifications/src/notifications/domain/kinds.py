"""Every kind of notification in one table: who receives it, the intent builder that turns its
fact into an intent, a sample of that fact for previews, and its two templates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from notifications.domain import intents, samples, stripe_intents
from notifications.domain.links import Links
from notifications.domain.model import Audience, Intent, Kind
from notifications.domain.samples import Sample
from tollgate_shared.contracts.checkout import OrganizerMail


@dataclass(frozen=True)
class KindSpec:
    """One kind of notification. Its fact's type differs by kind (an event, or a term about to
    run out), hence `Any`: a unit test previews every kind through its builder."""

    kind: Kind
    audience: Audience
    intent: Callable[[Any, Links], Intent]
    sample: Callable[[Sample], Any]
    waits: bool = False
    """Whether it waits for the member's address when none is known yet (the fact stays worth
    telling), instead of being dropped."""
    opt_out: OrganizerMail | None = None
    """The organizer mails it is one of, which a group may opt out of (its settings'
    `organizer_mail_opt_outs`)."""
    sale: str | None = None
    """A sale notice: how its group's digest labels it (held for the digest when the group
    wants one, instead of sent alone)."""

    @property
    def templates(self) -> tuple[str, str]:
        """Its text template (blocks `subject` and `body`) and its HTML template."""
        return f"{self.kind}.txt", f"{self.kind}.html"


MEMBER, ORGANIZER = Audience.MEMBER, Audience.ORGANIZER
SALES: OrganizerMail = "sale_notice"
PAYOUTS: OrganizerMail = "payout"

KINDS: Mapping[Kind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(Kind.PAYMENT_RECEIPT, MEMBER, intents.payment_receipt, samples.payment, True),
        KindSpec(
            Kind.NEW_MEMBER,
            ORGANIZER,
            intents.new_member,
            samples.activated,
            opt_out=SALES,
            sale="New member",
        ),
        KindSpec(
            Kind.RENEWAL_NOTICE,
            ORGANIZER,
            intents.renewal_notice,
            samples.renewed,
            opt_out=SALES,
            sale="Renewal",
        ),
        KindSpec(
            Kind.PAYMENT_FAILED, MEMBER, stripe_intents.payment_failed, samples.failed_invoice
        ),
        KindSpec(Kind.ACCESS_AT_RISK, MEMBER, intents.access_at_risk, samples.past_due),
        KindSpec(Kind.MEMBERSHIP_ENDED, MEMBER, intents.membership_ended, samples.canceled),
        KindSpec(Kind.REFUND_CONFIRMATION, MEMBER, intents.refund_confirmation, samples.refund),
        KindSpec(
            Kind.DISPUTE_ALERT,
            ORGANIZER,
            intents.dispute_alert,
            samples.dispute,
            opt_out=SALES,
            sale="Dispute opened",
        ),
        KindSpec(Kind.DISPUTE_OUTCOME, ORGANIZER, intents.dispute_outcome, samples.dispute_closed),
        KindSpec(Kind.RENEWAL_REMINDER, MEMBER, intents.renewal_reminder, samples.expiry),
        KindSpec(
            Kind.PURCHASE_FAILED, MEMBER, stripe_intents.purchase_failed, samples.failed_intent
        ),
        KindSpec(
            Kind.SALE_NOTICE,
            ORGANIZER,
            intents.sale_notice,
            samples.sale,
            opt_out=SALES,
            sale="Purchase",
        ),
        KindSpec(Kind.TRIAL_ENDING, MEMBER, stripe_intents.trial_ending, samples.trial),
        KindSpec(
            Kind.REFUND_NOTICE,
            ORGANIZER,
            intents.refund_notice,
            samples.refund,
            opt_out=SALES,
            sale="Refund",
        ),
        KindSpec(Kind.SALE_DIGEST, ORGANIZER, intents.sale_digest, samples.digest, opt_out=SALES),
        KindSpec(
            Kind.PAYOUT_OUTCOME, ORGANIZER, intents.payout_outcome, samples.payout, opt_out=PAYOUTS
        ),
    )
}
