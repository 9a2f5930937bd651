"""Stripe's error envelope: `{"error": {"type", "code", "message", "param", ...}}`."""

from typing import Any


class StripeError(Exception):
    """An API error answered with Stripe's JSON error body and status code."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        error.update(self.extra)
        return {"error": error}


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    """A 400 invalid_request_error."""
    return StripeError(400, message, param=param, code=code)


def missing_param(param: str) -> StripeError:
    """Stripe's 400 parameter_missing."""
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def no_such(kind: str, object_id: str, *, param: str = "id") -> StripeError:
    """Stripe's 404 resource_missing."""
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)
