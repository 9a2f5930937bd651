"""What a notification is: its kind, audience, status, and the key that makes it unique."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Each kind's name, as stored and in URLs; its row in `kinds.KINDS` describes it."""

    PAYMENT_RECEIPT = "payment_receipt"
    NEW_MEMBER = "new_member"
    RENEWAL_NOTICE = "renewal_notice"
    PAYMENT_FAILED = "payment_failed"
    ACCESS_AT_RISK = "access_at_risk"
    MEMBERSHIP_ENDED = "membership_ended"
    REFUND_CONFIRMATION = "refund_confirmation"
    DISPUTE_ALERT = "dispute_alert"
    DISPUTE_OUTCOME = "dispute_outcome"
    RENEWAL_REMINDER = "renewal_reminder"
    PURCHASE_FAILED = "purchase_failed"
    SALE_NOTICE = "sale_notice"
    TRIAL_ENDING = "trial_ending"
    REFUND_NOTICE = "refund_notice"
    SALE_DIGEST = "sale_digest"
    PAYOUT_OUTCOME = "payout_outcome"


class Audience(StrEnum):
    MEMBER = "member"
    ORGANIZER = "organizer"


class Status(StrEnum):
    PENDING = "pending"
    """Recorded; waiting for its first or next attempt."""
    SENDING = "sending"
    """Claimed by a sender until its lease runs out."""
    SENT = "sent"
    """The SMTP server accepted it."""
    FAILED = "failed"
    """Given up: a permanent rejection, or too many transient failures."""
    SUPERSEDED = "superseded"
    """Not sent: what it says stopped being true before it went out (its `stale_after`
    passed, or a later fact replaced it: a later payment attempt, the invoice paid)."""
    DIGEST = "digest"
    """A sale notice not sent on its own: kept for its group's next daily digest."""
    DIGESTED = "digested"
    """A sale notice listed in its group's digest (`sale_digest`) instead of sent alone."""


@dataclass(frozen=True)
class Intent:
    """A fact worth telling someone about, before recipients are resolved.

    `source_id` names the fact (a charge, a refund, a membership period); with the kind and
    the recipient it is the notification's identity, so the same fact never mails twice.
    """

    kind: Kind
    source_id: str
    user_id: str | None
    group_id: str | None
    context: Mapping[str, Any] = field(default_factory=dict)
    email: str | None = None
    """The member's address, when the event carries it."""
    details_keys: tuple[str, ...] = ()
    """Stripe objects whose details complete it (`Details`): it waits for the first of them
    the service learns (`details_keys` empty once completed)."""
    stale_after: datetime | None = None
    """When what it says stops being true: not recorded, nor sent, after that."""

    def completed(self, found: Iterable[Mapping[str, Any]]) -> Intent:
        """Its context with the blanks (missing or None) filled from the details `found`, in
        order; what its own fact says wins. No details left to wait for."""
        context = dict(self.context)
        for details in found:
            for key, value in details.items():
                if context.get(key) is None:
                    context[key] = value
        return replace(self, context=context, details_keys=())


@dataclass(frozen=True)
class Rendered:
    """A notification's subject and bodies."""

    subject: str
    text: str
    html: str


def normalise_address(address: str) -> str:
    """Addresses are compared case-insensitively (as every mail provider in practice does)."""
    return address.strip().lower()


def message_id(kind: str, source_id: str, recipient: str, *, domain: str, resend: int = 0) -> str:
    """A Message-ID derived from the notification's key: a re-sent copy carries the same one,
    so a duplicate after a crash is identifiable; an operator's resend gets a suffix."""
    key = "\x1f".join((kind, source_id, normalise_address(recipient)))
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    suffix = f".r{resend}" if resend else ""
    return f"<{kind}.{digest}{suffix}@{domain}>"
