"""Errors of the notifications domain."""


class NotificationsError(Exception):
    """Base of the service's domain errors."""


class NotificationNotFound(NotificationsError):
    def __init__(self, notification_id: str) -> None:
        super().__init__(f"no notification {notification_id}")
