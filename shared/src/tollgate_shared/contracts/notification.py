"""Events the notifications service emits on `notification.<verb>`."""

from __future__ import annotations

from typing import Literal

from tollgate_shared.contracts.base import DomainEvent


class NotificationEvent(DomainEvent):
    notification_id: str
    kind: str
    """E.g. `payment_receipt`, `payment_failed`, `dispute_alert` (see the notifications README)."""
    recipient: str
    source_id: str
    """The fact notified about: a charge, refund or dispute id, a membership period, ..."""
    user_id: str | None = None
    group_id: str | None = None
    message_id: str | None = None
    """The email's Message-ID header."""
    attempts: int = 1


class NotificationSent(NotificationEvent):
    """The SMTP server accepted the message."""

    type: Literal["notification.sent"] = "notification.sent"


class NotificationFailed(NotificationEvent):
    """Delivery was given up: a permanent rejection, or too many transient failures."""

    type: Literal["notification.failed"] = "notification.failed"
    reason: str
