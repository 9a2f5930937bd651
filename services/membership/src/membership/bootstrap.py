"""Membership's composition root."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI

from membership.adapters import orm
from membership.adapters.billing import StripeBilling
from membership.config import Settings
from membership.entrypoints import consumers, credits, gate, self_service
from membership.entrypoints.errors import STATUS
from membership.entrypoints.http import router
from membership.service_layer import Deps, sweeper
from membership.service_layer.self_service import SelfService
from membership.service_layer.stripe_events import StripeEvents
from membership.service_layer.unit_of_work import MembershipUnitOfWork
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.service import Service
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.web.service import Loop


def build(settings: Settings) -> Service[Settings, Deps]:
    """Database, broker, Stripe, the STRIPE consumer, the outbox relay, the expiry sweeper, the
    HTTP API and the gate's fast path."""
    runtime = Runtime.build(settings, inbox=orm.inbox, outbox=orm.outbox, read_pool=True)
    billing = StripeBilling(make_stripe_client(settings))
    units = runtime.units(MembershipUnitOfWork)
    deps = Deps(
        uow=units,
        stripe_events=StripeEvents(billing, settings),
        self_service=SelfService(units, billing, settings, clock=lambda: datetime.now(UTC)),
    )
    consumers.register(
        runtime,
        deps,
        durable=settings.membership_consumer,
        domain_durable=settings.membership_domain_consumer,
    )
    return Service(
        settings=settings,
        runtime=runtime,
        deps=deps,
        title="Tollgate membership",
        description="Entitlements from Stripe payments, and the membership gate.",
        error_status=STATUS,
        routers=[router, credits.router, self_service.router],
        fast_routes=[gate.GateFastPath()],
        loops=[_sweeper(settings, deps)],
        on_start=_gate_reads,
    )


def _gate_reads(app: FastAPI, runtime: Runtime) -> None:
    """The gate's coalesced reads, on the read pool the runtime has opened."""
    assert runtime.reads is not None
    app.state.gate_reads = gate.reads(runtime.reads)


def _sweeper(settings: Settings, deps: Deps) -> Loop:
    """The expiry sweeper, to run once the runtime (and so its sessions) is up."""

    async def sweep() -> None:
        await sweeper.run(
            deps.uow,
            grace=settings.grace,
            interval=settings.membership_sweep_interval_seconds,
            clock=lambda: datetime.now(UTC),
        )

    return sweep
