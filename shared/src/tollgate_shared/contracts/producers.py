"""Which service emits which domain events: the base class of each producer's events."""

from __future__ import annotations

from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.checkout import CheckoutEmitted
from tollgate_shared.contracts.ledger import MoneyEvent
from tollgate_shared.contracts.membership import MembershipEvent
from tollgate_shared.contracts.notification import NotificationEvent

EMITTED_BY: dict[str, type[DomainEvent]] = {
    "checkout": CheckoutEmitted,
    "ledger": MoneyEvent,
    "membership": MembershipEvent,
    "notifications": NotificationEvent,
}
