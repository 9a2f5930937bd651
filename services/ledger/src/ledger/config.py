"""Ledger settings."""

from __future__ import annotations

from tollgate_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = 8004


def load_settings() -> Settings:
    """Settings from the environment (`LEDGER_DATABASE_URL` or `DATABASE_URL`)."""
    return Settings.for_service("ledger")
