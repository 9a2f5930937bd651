"""The gateway's Prometheus metrics."""

from prometheus_client import Counter, Histogram

RECEIVED = Counter("gateway_events_received_total", "Webhook deliveries received")
STORED = Counter(
    "gateway_events_stored_total",
    "Events confirmed stored on JetStream, by type and whether they were already there",
    ["type", "duplicate"],
)
REJECTED = Counter("gateway_events_rejected_total", "Deliveries refused, by reason", ["reason"])
PUBLISH_SECONDS = Histogram(
    "gateway_publish_seconds",
    "Time from publish to JetStream ack",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
