"""Checkout's composition root."""

from __future__ import annotations

from checkout.adapters import orm
from checkout.adapters.stripe_gateway import StripeGateway
from checkout.config import Settings
from checkout.entrypoints import consumers
from checkout.service_layer.context import Context
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.stripe_client import make_stripe_client


def build_runtime(settings: Settings) -> Runtime:
    """Database, broker, the STRIPE and DOMAIN consumers and the outbox relay."""
    runtime = Runtime.build(settings, inbox=orm.inbox, outbox=orm.outbox)
    consumers.register(runtime, runtime.units(CheckoutUnitOfWork))
    return runtime


def build_context(settings: Settings, runtime: Runtime) -> Context:
    """What the HTTP handlers use; Stripe only when it is configured."""
    assert runtime.sessions is not None
    stripe = StripeGateway(make_stripe_client(settings)) if settings.stripe_configured else None
    return Context(
        settings=settings,
        uow=runtime.units(CheckoutUnitOfWork),
        sessions=runtime.sessions,
        stripe=stripe,
    )
