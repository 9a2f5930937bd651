"""The HTTP answers of notifications' domain errors."""

from __future__ import annotations

from notifications.domain import errors
from tollgate_shared.web.errors import ErrorStatus, StatusMap

STATUS: StatusMap = {
    errors.NotificationNotFound: ErrorStatus(404, "not_found"),
}
