"""Stripe events about objects of other apps sharing the Stripe account.

A Stripe account may serve apps other than Tollgate. Their objects carry none of Tollgate's
metadata (`user_id`, `group_id`, `purpose`, … — DESIGN.md's Stripe conventions), neither on
themselves nor on their parents (a charge's invoice and subscription, a session's payment).
Every consumer acknowledges their events without changing anything: no retry, no DLQ.
"""

from __future__ import annotations

import structlog

from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.observability.metrics import FOREIGN_EVENTS

log = structlog.get_logger(__name__)


def ignore_foreign(service: str, event: StripeEvent, why: str) -> None:
    """Count and log (at debug) that `service` ignores `event`: its object is not Tollgate's."""
    FOREIGN_EVENTS.labels(service, event.type).inc()
    log.debug("stripe.foreign_event", service=service, event_id=event.id, type=event.type, why=why)
