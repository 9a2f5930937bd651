"""Ledger settings."""

from __future__ import annotations

from tollgate_shared.infra.settings import ServiceSettings


class Settings(ServiceSettings):
    required_secrets = ("stripe_secret_key", "auth_jwt_secret")

    http_port: int = 8004


def load_settings() -> Settings:
    """Settings from the environment (`LEDGER_DATABASE_URL` or `DATABASE_URL`)."""
    return Settings.for_service("ledger")
