"""Operators' figures on the running platform: after the traffic it normally sees — a paid
membership and a declined renewal, a webhook refused for its signature, another app's event on
the shared Stripe account, a path no route takes — every series the Grafana dashboard charts
and the alert rules read is on some service's `/metrics`: a counter's (or histogram's) has
moved past 0, a gauge's is there. HTTP requests are labelled by route template, never by path.
(`tests/deploy/test_monitoring.py` holds the same queries against the code, offline.)"""

from __future__ import annotations

import json
from pathlib import Path

import stripe
import yaml

from tollgate_shared.testing import Sample, grafana_queries, promql_selectors, scrape, unique

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DECLINED = "4000 0000 0000 0002"
OTHER_APP_KEY = "sk_test_another_app_on_the_account"
GATE = "/entitlements/{user_id}/groups/{group_id}"
GAUGE_REFRESH = 60.0
"""The services refresh their lag, DLQ and outbox gauges every 10 s; on a busy machine later."""


def queries() -> list[str]:
    """Every query of the dashboard's panels and of the alert rules."""
    dashboard = json.loads((DEPLOY / "grafana" / "tollgate.json").read_text())
    rules = yaml.safe_load((DEPLOY / "k8s" / "monitoring" / "alerts.yaml").read_text())
    alerts = [rule["expr"] for group in rules["spec"]["groups"] for rule in group["rules"]]
    return grafana_queries(dashboard) + alerts


def unmet(samples: list[Sample]) -> list[str]:
    """The selectors of `queries()` that find no series, or only counters still at 0."""
    missing = []
    for query in queries():
        for name, labels in promql_selectors(query):
            found = [s for s in samples if s.name == name and labels.items() <= s.labels.items()]
            counted = any(s.type in ("counter", "histogram") for s in found)
            if not found or (counted and sum(s.value for s in found) == 0):
                missing.append(f"{name}{labels or ''}: {'0' if found else 'no series'}")
    return sorted(set(missing))


async def test_every_charted_and_alerted_metric_is_emitted(platform) -> None:
    group, user = unique("grp"), unique("usr")
    tier = await platform.create_tier(group, amount=1500, interval="month")
    joined = await platform.subscribe(user, group, tier["id"])
    declined = await platform.advance(joined["subscription_id"], card=DECLINED)
    assert declined["status"] == "past_due", declined

    forged = await platform.http.post(
        platform.service("webhook-gateway") + "/webhooks/stripe",
        content=b'{"id": "evt_forged", "type": "invoice.paid"}',
        headers={"Stripe-Signature": "t=1,v1=" + "0" * 64, "Content-Type": "application/json"},
    )
    assert forged.status_code == 400, forged.text
    another_app = stripe.StripeClient(
        OTHER_APP_KEY,
        base_addresses={"api": platform.emulator},
        max_network_retries=0,
        http_client=stripe.HTTPXClient(),
    )
    await another_app.v1.payouts.create_async({"amount": 700, "currency": "usd"})
    nowhere = await platform.http.get(platform.service("membership") + f"/{user}/nowhere")
    assert nowhere.status_code == 404
    for url in platform.stack.service_urls.values():
        assert (await platform.http.get(url + "/healthz")).status_code == 200
    await platform.drained()

    async def scraped() -> list[Sample]:
        return [
            sample
            for url in platform.stack.service_urls.values()
            for sample in await scrape(platform.http, url)
        ]

    async def all_there() -> list[Sample] | None:
        samples = await scraped()
        return None if unmet(samples) else samples

    try:
        samples = await platform.until(all_there, message="every series", timeout=GAUGE_REFRESH)
    except AssertionError:
        samples = await scraped()
    assert unmet(samples) == []

    requests = [s for s in samples if s.name == "tollgate_http_requests_total"]
    served = {(s.labels["service"], s.labels["route"], s.labels["status"]) for s in requests}
    assert {
        ("membership", GATE, "200"),
        ("membership", "unmatched", "404"),
        ("webhook-gateway", "/webhooks/stripe", "200"),
        ("webhook-gateway", "/webhooks/stripe", "400"),
        ("checkout", "/checkout/sessions", "201"),
    } <= served
    assert {(service, "/healthz", "200") for service in platform.stack.service_urls} <= served
    routes = {route for _, route, _ in served}
    assert not any(user in route or group in route for route in routes), routes
