"""The Prometheus metrics every service exposes on `/metrics`: its HTTP requests by route and
status and how long they took (recorded by `tollgate_shared.web.http.ServiceApp`), what its
consumers did with each message and how long it took, how far behind they are, what they parked
on the DLQ, and what its outbox has not published yet (the ledger adds the payment outcomes it
applied).

The gateway's own figures (`gateway_events_*`, `gateway_publish_seconds`) live beside it; the
Grafana dashboard in `deploy/grafana/tollgate.json` queries both.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "tollgate_http_requests_total",
    "HTTP requests answered, by method, route (the path template; `unmatched` for a path no "
    "route takes) and status",
    ["service", "method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "tollgate_http_request_seconds",
    "Time from a request's arrival to the end of its answer, by method and route",
    ["service", "method", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTCOMES = ("processed", "duplicate", "retried", "deferred", "dead_lettered")
CONSUMER_MESSAGES = Counter(
    "tollgate_consumer_messages_total",
    "Deliveries a consumer finished with, by outcome: processed (applied now), duplicate "
    "(applied before), retried (nak'ed to try again), deferred (nak'ed to wait for the Stripe "
    "budget, not a failure), dead_lettered (parked on the DLQ)",
    ["stream", "consumer", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "tollgate_consumer_handler_seconds",
    "Time to apply one delivery: inbox claim, handler and commit, failures included",
    ["stream", "consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
FOREIGN_EVENTS = Counter(
    "tollgate_foreign_events_total",
    "Stripe events about another app's objects on a shared Stripe account (no Tollgate "
    "metadata on the object or its parents), acked without changing anything",
    ["service", "type"],
)
CONSUMER_LAG = Gauge(
    "tollgate_consumer_lag_messages",
    "Messages a durable consumer has not finished: pending delivery plus awaiting ack",
    ["stream", "consumer"],
)
DLQ_MESSAGES = Gauge(
    "tollgate_dlq_messages", "Messages parked on the DLQ for a service", ["service"]
)
OUTBOX_BACKLOG = Gauge(
    "tollgate_outbox_backlog", "Outbox rows committed but not yet published", ["service"]
)
