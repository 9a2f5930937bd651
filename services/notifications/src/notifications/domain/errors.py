"""Errors of the notifications domain; `entrypoints/errors.py` maps those a route can meet to
HTTP."""

from tollgate_shared.contracts.errors import DomainError


class NotificationsError(DomainError):
    """Base of the service's domain errors."""


class NotificationNotFound(NotificationsError):
    def __init__(self, notification_id: str) -> None:
        super().__init__(f"no notification {notification_id}")


class Undeliverable(NotificationsError):
    """A notification that no attempt can ever send as it is (its recipient is not a mail
    address): it fails at once, as a 5xx about the recipient would."""
