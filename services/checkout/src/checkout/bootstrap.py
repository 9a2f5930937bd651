"""Checkout's composition root."""

from __future__ import annotations

from checkout.adapters import orm
from checkout.adapters.stripe_gateway import StripeGateway
from checkout.config import Settings
from checkout.entrypoints import consumers
from checkout.entrypoints.errors import STATUS
from checkout.entrypoints.http import routers
from checkout.service_layer.context import Context
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.service import Service
from tollgate_shared.infra.stripe_client import make_stripe_client


def build(settings: Settings) -> Service[Settings, Context]:
    """Database, broker, the STRIPE and DOMAIN consumers, the outbox relay, Stripe (when it is
    configured) and the HTTP API."""
    runtime = Runtime.build(settings, inbox=orm.inbox, outbox=orm.outbox)
    assert runtime.sessions is not None
    stripe = StripeGateway(make_stripe_client(settings)) if settings.stripe_configured else None
    context = Context(
        settings=settings,
        uow=runtime.units(CheckoutUnitOfWork),
        sessions=runtime.sessions,
        stripe=stripe,
    )
    consumers.register(runtime, context.uow)
    return Service(
        settings=settings,
        runtime=runtime,
        deps=context,
        title="Tollgate checkout",
        description="Tier catalog, Stripe Checkout Sessions, capacity, coupons and purchases.",
        error_status=STATUS,
        routers=routers,
    )
