"""Ledger settings."""

from __future__ import annotations

from pydantic import Field

from tollgate_shared.infra.settings import ServiceSettings


class Settings(ServiceSettings):
    required_secrets = ("stripe_secret_key", "auth_jwt_secret")

    http_port: int = 8004
    ledger_fee_interval_seconds: float = Field(default=10.0, gt=0)
    """How often the fee task books the Stripe fees of payments booked since."""
    ledger_payout_schedule_interval_seconds: float = Field(default=60.0, gt=0)
    """How often each replica runs the payout schedules that are due (and resends the transfers
    of auto-approved payouts Stripe did not confirm)."""
    ledger_parts_retention_days: float = Field(default=7.0, gt=0)
    """How long a part of a payment waits for the others (Stripe retries an event 3 days)."""


def load_settings() -> Settings:
    """Settings from the environment (`LEDGER_DATABASE_URL` or `DATABASE_URL`)."""
    return Settings.for_service("ledger")
