"""App factory and command line of the membership service."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from membership.bootstrap import Membership, build
from membership.config import Settings, load_settings
from membership.entrypoints import credits, gate
from membership.entrypoints.errors import STATUS
from membership.entrypoints.http import router
from membership.service_layer import sweeper
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.web.service import Loop, ServiceCli, background_loops, service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """HTTP API, STRIPE consumer, outbox relay and expiry sweeper in one process."""
    own = settings if isinstance(settings, Settings) else load_settings()
    membership = build(own)
    app = service_app(
        own,
        membership.runtime,
        title="Tollgate membership",
        description="Entitlements from Stripe payments, and the membership gate.",
        error_status=STATUS,
        routers=[router, credits.router, background_loops(_sweeper(membership))],
        fast_routes=[gate.GateFastPath()],
        on_start=_gate_reads,
    )
    app.state.units = membership.uow
    return app


def _gate_reads(app: FastAPI, runtime: Runtime) -> None:
    assert runtime.reads is not None
    app.state.gate_reads = gate.reads(runtime.reads)


def _sweeper(membership: Membership) -> Loop:
    """The expiry sweeper, to run once the runtime (and so its sessions) is up."""

    async def sweep() -> None:
        await sweeper.run(
            membership.uow,
            grace=membership.settings.grace,
            interval=membership.settings.membership_sweep_interval_seconds,
            clock=lambda: datetime.now(UTC),
        )

    return sweep


cli = ServiceCli(
    name="membership", load_settings=load_settings, create_app=create_app, migrations=MIGRATIONS
)


def main() -> None:
    """`membership serve` / `membership migrate`."""
    cli.main()
