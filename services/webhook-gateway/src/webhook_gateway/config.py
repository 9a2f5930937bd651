"""Gateway settings (environment variables of DESIGN.md plus the gateway's own)."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Self

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from tollgate_shared.infra.settings import DEV_STRIPE_KEY, ServiceSettings

KEY_MODES = {"sk_live_": True, "rk_live_": True, "sk_test_": False, "rk_test_": False}
"""Stripe API key prefixes and the `livemode` of the events that come with them."""

AccountId = Annotated[str, StringConstraints(pattern=r"^acct_\w+$")]


class Settings(ServiceSettings):
    required_secrets = ("stripe_webhook_secret",)

    http_port: int = 8001
    webhook_tolerance_seconds: int = Field(default=300, ge=1)
    """How old a signature's timestamp may be (Stripe's default tolerance)."""
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    stripe_livemode: bool | None = None
    """The `livemode` accepted events have; unset: the mode of `STRIPE_SECRET_KEY`, if set."""
    stripe_account_id: Annotated[AccountId | None, BeforeValidator(lambda v: v or None)] = None
    """When set, events naming another account in `account` (Connect) are rejected."""
    gateway_publish_timeout: float = Field(default=5.0, gt=0)
    """How long to wait for JetStream's ack before answering 503."""
    gateway_retry_after_seconds: int = 5

    @model_validator(mode="after")
    def _mode_is_known_and_consistent(self) -> Self:
        key_mode = self.key_livemode
        if self.stripe_livemode is not None and key_mode not in (None, self.stripe_livemode):
            raise ValueError(
                f"STRIPE_LIVEMODE={str(self.stripe_livemode).lower()} contradicts the mode of "
                "STRIPE_SECRET_KEY"
            )
        if self.environment == "production" and self.expected_livemode is None:
            raise ValueError(
                "production needs STRIPE_LIVEMODE (or a sk_live_/sk_test_ STRIPE_SECRET_KEY)"
            )
        return self

    @property
    def key_livemode(self) -> bool | None:
        """The mode `STRIPE_SECRET_KEY` names; None for the development default or no prefix."""
        if self.stripe_secret_key == DEV_STRIPE_KEY:
            return None
        return next(
            (
                live
                for prefix, live in KEY_MODES.items()
                if self.stripe_secret_key.startswith(prefix)
            ),
            None,
        )

    @cached_property
    def expected_livemode(self) -> bool | None:
        """The `livemode` every accepted event must have; None accepts both."""
        return self.key_livemode if self.stripe_livemode is None else self.stripe_livemode

    @property
    def webhook_secrets(self) -> list[str]:
        """Every accepted signing secret (`STRIPE_WEBHOOK_SECRET` is comma-separated)."""
        return [s.strip() for s in self.stripe_webhook_secret.split(",") if s.strip()]


def load_settings() -> Settings:
    """Settings from the environment."""
    return Settings(service_name="webhook-gateway")
