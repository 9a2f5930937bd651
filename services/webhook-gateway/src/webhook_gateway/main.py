"""App factory and command line of the webhook gateway."""

from __future__ import annotations

from fastapi import FastAPI

from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.web.service import ServiceCli, service_app
from webhook_gateway.bootstrap import build
from webhook_gateway.config import Settings, load_settings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The gateway's ASGI app: its broker connection starts and stops with the app."""
    return service_app(build(settings if isinstance(settings, Settings) else load_settings()))


cli = ServiceCli(name="webhook-gateway", load_settings=load_settings, create_app=create_app)


def main() -> None:
    """`webhook-gateway serve`."""
    cli.main()
