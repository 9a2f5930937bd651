"""Events the notifications service emits on `notification.<verb>`."""

from __future__ import annotations

from typing import Literal

from tollgate_shared.events.base import DomainEvent


class NotificationEvent(DomainEvent):
    notification_id: str
    kind: str
    recipient: str
    source_id: str


class NotificationSent(NotificationEvent):
    type: Literal["notification.sent"] = "notification.sent"


class NotificationFailed(NotificationEvent):
    type: Literal["notification.failed"] = "notification.failed"
    reason: str
