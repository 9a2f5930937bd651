"""The ledger's composition root."""

from __future__ import annotations

from datetime import timedelta

from ledger.adapters import orm
from ledger.adapters.stripe_gateway import StripeGateway
from ledger.config import Settings
from ledger.entrypoints import console, consumers
from ledger.entrypoints.errors import STATUS
from ledger.entrypoints.http import router
from ledger.service_layer import Deps, fees, schedules
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.service import Service
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.web.service import Loop


def build(settings: Settings) -> Service[Settings, Deps]:
    """Database, broker, the STRIPE and DOMAIN consumers, the outbox relay, the Stripe gateway,
    the fee task, the payout schedule task, the HTTP API and the console."""
    runtime = Runtime.build(settings, inbox=orm.inbox, outbox=orm.outbox)
    deps = Deps(
        stripe=StripeGateway(make_stripe_client(settings)),
        uow=runtime.units(LedgerUnitOfWork),
    )
    consumers.register(runtime, deps)
    return Service(
        settings=settings,
        runtime=runtime,
        deps=deps,
        title="Tollgate ledger",
        description="A balanced revenue ledger, the payments audit trail, payouts and the console.",
        error_status=STATUS,
        routers=[router, console.router],
        loops=[_fee_task(settings, deps), _schedule_task(settings, deps)],
    )


def _fee_task(settings: Settings, deps: Deps) -> Loop:
    """The fee task, to run once the runtime (and so its sessions) is up."""

    async def book_fees() -> None:
        await fees.run(
            deps,
            interval=settings.ledger_fee_interval_seconds,
            keep_parts=timedelta(days=settings.ledger_parts_retention_days),
        )

    return book_fees


def _schedule_task(settings: Settings, deps: Deps) -> Loop:
    """The payout schedule task, to run once the runtime is up."""

    async def run_payout_schedules() -> None:
        await schedules.run(deps, interval=settings.ledger_payout_schedule_interval_seconds)

    return run_payout_schedules
