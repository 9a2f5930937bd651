"""Gateway settings (environment variables of DESIGN.md plus the gateway's own)."""

from __future__ import annotations

from pydantic import Field

from tollgate_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    required_secrets = ("stripe_webhook_secret",)

    http_port: int = 8001
    webhook_tolerance_seconds: int = Field(default=300, ge=1)
    """How old a signature's timestamp may be (Stripe's default tolerance)."""
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    stripe_livemode: bool | None = None
    """When set, events whose `livemode` differs are rejected."""
    gateway_publish_timeout: float = Field(default=5.0, gt=0)
    """How long to wait for JetStream's ack before answering 503."""
    gateway_retry_after_seconds: int = 5

    @property
    def webhook_secrets(self) -> list[str]:
        """Every accepted signing secret (`STRIPE_WEBHOOK_SECRET` is comma-separated)."""
        return [s.strip() for s in self.stripe_webhook_secret.split(",") if s.strip()]


def load_settings() -> Settings:
    """Settings from the environment."""
    return Settings(service_name="webhook-gateway")
