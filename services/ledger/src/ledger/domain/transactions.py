"""A ledger transaction: balanced entries for one money movement of one Stripe object."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from ledger.domain import accounts
from ledger.domain.accounts import Kind, Posting
from ledger.domain.attribution import Attribution

EVENT_NAMESPACE = uuid.UUID("5d7f2c4e-8a4b-4f61-9a7e-2f0f1c3b7a10")


@dataclass(frozen=True)
class Transaction:
    """Immutable once written; unique per (kind, Stripe object, discriminator)."""

    kind: Kind
    source_id: str
    group_id: str
    currency: str
    amount: int
    """The movement's size (positive), for listings; the entries carry the signs."""
    postings: list[Posting]
    occurred_at: datetime
    attribution: Attribution = field(default_factory=Attribution)
    charge_id: str | None = None
    invoice_id: str | None = None
    balance_transaction_id: str | None = None
    description: str | None = None
    discriminator: str | None = None
    """Tells apart several movements of one kind on one object (e.g. partial reversals)."""

    def __post_init__(self) -> None:
        accounts.check_balanced(self.postings)

    @property
    def key(self) -> str:
        """The idempotency key: a redelivered or re-derived movement maps to the same key."""
        parts = [self.kind.value, self.source_id]
        if self.discriminator:
            parts.append(self.discriminator)
        return ":".join(parts)


def event_id(*parts: str) -> str:
    """A domain event id that is the same whenever the same cause is processed again."""
    return uuid.uuid5(EVENT_NAMESPACE, ":".join(parts)).hex
