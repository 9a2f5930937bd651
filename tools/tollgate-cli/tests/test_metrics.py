"""The operator's figures on `/metrics` of a running service (real NATS, Postgres, HTTP), and the
Grafana dashboard that charts them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import ledger.entrypoints.consumers
import webhook_gateway.metrics
from membership.adapters import orm
from membership.main import MIGRATIONS
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.service import Service
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.messaging import dlq
from tollgate_shared.messaging.dispatch import stripe_dispatcher
from tollgate_shared.messaging.publish import ORIGINAL_MSG_ID, publish_with_ack
from tollgate_shared.messaging.streams import STRIPE, ConsumerSpec
from tollgate_shared.observability import metrics
from tollgate_shared.persistence.unit_of_work import UnitOfWork
from tollgate_shared.testing import (
    consumer_idle,
    publish_stripe_event,
    serve_app,
    stripe_event,
    unique,
    wait_until,
)
from tollgate_shared.web.service import service_app

MESSAGES = "tollgate_consumer_messages_total"
DASHBOARD = Path(__file__).parents[3] / "deploy" / "grafana" / "tollgate.json"


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a `/metrics` page, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


async def test_metrics_show_what_the_consumer_did(
    nats_url: str, js: JetStreamContext, migrated_database: Callable[[Path], str]
) -> None:
    durable = unique("metrics")
    # starts at the stream's end, as a service deployed today would not replay history
    await js.add_consumer(
        STRIPE.name,
        ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject="stripe.>",
        ),
    )
    settings = ServiceSettings(
        service_name=durable, nats_url=nats_url, service_database_url=migrated_database(MIGRATIONS)
    )
    runtime = Runtime.build(settings, inbox=orm.inbox, outbox=orm.outbox)
    runtime.metrics_interval = 0.1
    calls: list[str] = []

    async def applied(uow: UnitOfWork, event: StripeEvent) -> None:
        pass

    async def fails_first_delivery(uow: UnitOfWork, event: StripeEvent) -> None:
        # Its first delivery is tried twice: in its fetch's batch, then on its own.
        calls.append(event.id)
        if len(calls) <= 2:
            raise RuntimeError("Stripe did not answer")

    handlers = {"charge.succeeded": applied, "customer.updated": applied}
    handlers["invoice.paid"] = fails_first_delivery
    runtime.consume(
        ConsumerSpec(durable, STRIPE, "stripe.>", backoff=(0.05,)),
        stripe_dispatcher(handlers),
        units=runtime.units(UnitOfWork),
    )
    probe = Service(
        settings, runtime, deps=None, title="metrics probe", description="", error_status={}
    )
    app = service_app(probe)

    # Published before the service starts, so that its first fetch holds all of them.
    paid = stripe_event("charge.succeeded", {"id": unique("ch"), "object": "charge"})
    await publish_stripe_event(js, paid)
    # a DLQ replay of it: consumers key their inbox on the original id
    data, replay = json.dumps(paid).encode(), {ORIGINAL_MSG_ID: paid["id"]}
    subject, again = "stripe.charge.succeeded", unique("replay")
    await publish_with_ack(js, subject, data, msg_id=again, headers=replay)
    await publish_stripe_event(js, stripe_event("charge.failed", {"id": unique("ch")}))
    await publish_stripe_event(js, stripe_event("invoice.paid", {"id": unique("in")}))
    poison = b'{"id": "not an event"}'
    await publish_with_ack(js, "stripe.customer.updated", poison, msg_id=unique("p"))

    async with serve_app(app) as base, httpx.AsyncClient(base_url=base) as http:
        await wait_until(lambda: consumer_idle(js, STRIPE.name, durable), timeout=20)

        consumer = {"stream": "STRIPE", "consumer": durable}
        messages = [("processed", 2), ("duplicate", 1), ("retried", 1), ("dead_lettered", 1)]
        expected = {
            **{key(MESSAGES, **consumer, outcome=o): n for o, n in messages},
            # the batch (charge; invoice failing, rolled back alone), then on its own the
            # invoice failing again, then its redelivery (the poison is parked unparsed)
            key("tollgate_consumer_handler_seconds_count", **consumer): 4,
            key("tollgate_consumer_lag_messages", **consumer): 0,
            key("tollgate_dlq_messages", service=durable): 1,
            key("tollgate_outbox_backlog", service=durable): 0,
        }

        async def shown() -> dict[Any, float | None]:
            page = scrape((await http.get("/metrics")).text)
            found = {key: page.get(key) for key in expected}
            return found if found == expected else {}

        await wait_until(shown, message="metrics with the consumer's figures")

    async for letter in dlq.iterate(js, service=durable):
        await dlq.drop(js, letter.sequence)
    await js.delete_consumer(STRIPE.name, durable)


def registered_names() -> set[str]:
    """Every sample name the code's metrics can expose."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, [""])
    }


def test_dashboard_queries_only_metrics_the_code_exposes() -> None:
    # every module with metrics the dashboard charts, registered
    assert metrics.OUTCOMES and webhook_gateway.metrics.REJECTED
    assert ledger.entrypoints.consumers.PAYMENT_EVENTS
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    queried = {name for expr in exprs for name in re.findall(r"\b(?:tollgate|gateway)_\w+", expr)}
    assert queried, "the dashboard queries nothing"
    assert queried <= registered_names(), queried - registered_names()
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for figure in ("rejection", "publish latency", "lag", "dlq", "payment success", "outbox"):
        assert figure in titles
