"""Pytest fixtures giving real infrastructure: NATS JetStream, Postgres, migrated databases,
the Stripe emulator and the mail sink, and helpers that publish events as the webhook gateway
and the outbox relays do.

Loaded automatically (a `pytest11` entry point; install the shared package's `testing` extra).
Infrastructure comes from `NATS_URL` / `DATABASE_URL` if set, else Docker if an engine answers,
else the embedded wheels under `var/test/` (started once per test session, stopped at its end).

Every helper is importable from here; each lives in the module of its kind: `core` (waiting,
unique ids), `http` (servers, refusals, pages), `events` (Stripe and domain events),
`emulator` (driving the Stripe emulator), `consumers` (the consumer core's tests), `commands`
(command lines and their one-line errors), `database`, `platform` (a whole running platform),
`metrics` (`/metrics` pages and PromQL) and `fixtures` (registered here).
"""

from tollgate_shared.testing.commands import one_line_error, run_cli
from tollgate_shared.testing.consumers import (
    RawHandlers,
    RunningConsumers,
    as_fetches,
    consumer_idle,
    crossing_fetches,
    durable_from_now,
)
from tollgate_shared.testing.core import unique, wait_until
from tollgate_shared.testing.database import count_writes, schema_drift, sessions_on, writes
from tollgate_shared.testing.emulator import CARD, EmulatorEvents, StripeWorld
from tollgate_shared.testing.events import (
    PRE_BASIL_API_VERSION,
    pre_basil_invoice,
    publish_domain_event,
    publish_stripe_event,
    stripe_event,
)
from tollgate_shared.testing.fixtures import (
    MailSink,
    broker,
    database_server_url,
    infrastructure,
    isolated_nats_url,
    js,
    mail_sink,
    migrated_database,
    nats_client,
    nats_url,
    stripe_emulator_url,
)
from tollgate_shared.testing.http import (
    cursor_pages,
    offset_pages,
    refused_keeping_the_connection,
    serve_app,
)
from tollgate_shared.testing.metrics import (
    Sample,
    grafana_queries,
    promql_metric_names,
    promql_selectors,
    sample_names,
    scrape,
)
from tollgate_shared.testing.platform import PlatformClient, log_tails

__all__ = [
    "CARD",
    "PRE_BASIL_API_VERSION",
    "EmulatorEvents",
    "MailSink",
    "PlatformClient",
    "RawHandlers",
    "RunningConsumers",
    "Sample",
    "StripeWorld",
    "as_fetches",
    "broker",
    "consumer_idle",
    "count_writes",
    "crossing_fetches",
    "cursor_pages",
    "database_server_url",
    "durable_from_now",
    "grafana_queries",
    "infrastructure",
    "isolated_nats_url",
    "js",
    "log_tails",
    "mail_sink",
    "migrated_database",
    "nats_client",
    "nats_url",
    "offset_pages",
    "one_line_error",
    "pre_basil_invoice",
    "promql_metric_names",
    "promql_selectors",
    "publish_domain_event",
    "publish_stripe_event",
    "refused_keeping_the_connection",
    "run_cli",
    "sample_names",
    "schema_drift",
    "scrape",
    "serve_app",
    "sessions_on",
    "stripe_emulator_url",
    "stripe_event",
    "unique",
    "wait_until",
    "writes",
]
