"""The ledger's composition root."""

from __future__ import annotations

from ledger.adapters import orm
from ledger.adapters.stripe_gateway import StripeGateway
from ledger.config import Settings
from ledger.entrypoints import consumers
from ledger.service_layer import Deps
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.stripe_client import make_stripe_client


def build(settings: Settings) -> tuple[Runtime, Deps]:
    """Database, broker, the STRIPE consumer, the outbox relay and the Stripe gateway."""
    runtime = Runtime.build(settings, inbox=orm.inbox, outbox=orm.outbox)
    deps = Deps(
        stripe=StripeGateway(make_stripe_client(settings)),
        uow=runtime.units(LedgerUnitOfWork),
    )
    consumers.register(runtime, deps)
    return runtime, deps
