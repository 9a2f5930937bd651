"""Monitoring checked offline: the Prometheus Operator's objects in `deploy/k8s/monitoring` (the
fields of its ServiceMonitor and PrometheusRule that they use, the ServiceMonitor against the
services' Services and ports), and every alert's and Grafana panel's PromQL parsed and held
against the metrics the code exposes. `tests/e2e/test_metrics.py` checks that a running
platform emits them."""

import json
import re
from importlib import import_module
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from tollgate_shared.observability.health import router as health_router
from tollgate_shared.testing import grafana_queries, promql_metric_names, sample_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
DASHBOARD = json.loads((DEPLOY / "grafana" / "tollgate.json").read_text())


def kustomized(directory: Path) -> list[dict]:
    """The objects of the resource files `directory`'s kustomization lists."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return [
        doc
        for name in kustomization["resources"]
        for doc in yaml.safe_load_all((directory / name).read_text())
        if doc
    ]


BASE = kustomized(K8S / "base")
MONITORING = kustomized(K8S / "monitoring")
[MONITOR] = [doc for doc in MONITORING if doc["kind"] == "ServiceMonitor"]
[RULES] = [doc for doc in MONITORING if doc["kind"] == "PrometheusRule"]
ALERTS = [rule for group in RULES["spec"]["groups"] for rule in group["rules"]]
SERVICES = [doc for doc in BASE if doc["kind"] == "Service"]
APPS = {doc["metadata"]["name"] for doc in BASE if doc["kind"] == "Deployment"}

DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
"""The operator's `Duration` (`for`, `interval`, `scrapeTimeout`)."""
ENDPOINT_FIELDS = {"port", "path", "scheme", "interval", "scrapeTimeout", "honorLabels"}
RULE_FIELDS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
"""The fields of the operator's CRDs these files may use (a typo is refused, not ignored)."""
METRIC_MODULES = (
    "tollgate_shared.observability.metrics",
    "webhook_gateway.metrics",
    "ledger.entrypoints.consumers",
    "notifications.service_layer.notifier",
    "membership.service_layer.memberships",
)
"""Every module that defines metrics: imported, their metrics are registered."""


def exposed() -> set[str]:
    """Every sample name the code may expose on `/metrics`."""
    for module in METRIC_MODULES:
        import_module(module)
    return sample_names(REGISTRY.collect())


def seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", duration))


def test_the_production_overlay_includes_monitoring_in_the_base_namespace() -> None:
    overlay = yaml.safe_load((K8S / "overlays" / "production" / "kustomization.yaml").read_text())
    assert overlay["resources"] == ["../../base", "../../monitoring"]
    namespace = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())["namespace"]
    monitoring = yaml.safe_load((K8S / "monitoring" / "kustomization.yaml").read_text())
    assert monitoring["namespace"] == namespace
    assert {doc["kind"] for doc in MONITORING} == {"ServiceMonitor", "PrometheusRule"}


@pytest.mark.parametrize("doc", MONITORING, ids=lambda d: d["kind"])
def test_the_objects_have_the_operators_shape(doc: dict) -> None:
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
    assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tollgate"
    if doc["kind"] == "ServiceMonitor":
        assert set(doc["spec"]) == {"selector", "endpoints"}
        for endpoint in doc["spec"]["endpoints"]:
            assert set(endpoint) <= ENDPOINT_FIELDS
            assert DURATION.match(endpoint["interval"]) and DURATION.match(
                endpoint["scrapeTimeout"]
            )
            assert seconds(endpoint["scrapeTimeout"]) <= seconds(endpoint["interval"])
        return
    names = [rule["alert"] for rule in ALERTS]
    assert len(names) == len(set(names))
    for group in doc["spec"]["groups"]:
        assert set(group) == {"name", "rules"}
    for rule in ALERTS:
        assert set(rule) <= RULE_FIELDS, rule["alert"]
        assert re.fullmatch(r"Tollgate[A-Z][A-Za-z0-9]+", rule["alert"])
        assert DURATION.match(rule["for"])
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert set(rule["annotations"]) == {"summary", "description"}


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects `labels`."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value, operator = labels.get(expression["key"]), expression["operator"]
        found = {
            "In": value in expression.get("values", []),
            "NotIn": value not in expression.get("values", []),
            "Exists": value is not None,
            "DoesNotExist": value is None,
        }[operator]
        if not found:
            return False
    return True


def test_the_service_monitor_scrapes_every_service_on_its_metrics_route() -> None:
    selected = {
        s["metadata"]["name"]: s
        for s in SERVICES
        if selects(MONITOR["spec"]["selector"], s["metadata"]["labels"])
    }
    assert set(selected) == APPS, "every service and nothing else"
    metrics_paths = {route.path for route in health_router.routes}
    for endpoint in MONITOR["spec"]["endpoints"]:
        assert endpoint["path"] in metrics_paths
        assert endpoint["honorLabels"] is True, "the metrics' own `service` label is kept"
        for name, service in selected.items():
            ports = {p["name"] for p in service["spec"]["ports"]}
            assert endpoint["port"] in ports, f"{name} has no port {endpoint['port']}"


EXPECTED_ALERTS = {
    "TollgateDeadLetters": "tollgate_dlq_messages",
    "TollgateConsumerLagHigh": "tollgate_consumer_lag_messages",
    "TollgateWebhook5xx": "tollgate_http_requests_total",
    "TollgatePaymentFailureRate": "tollgate_payment_events_total",
    "TollgateOutboxBacklog": "tollgate_outbox_backlog",
}


def test_every_alert_reads_metrics_the_code_exposes() -> None:
    names = exposed()
    read = {rule["alert"]: promql_metric_names(rule["expr"]) for rule in ALERTS}
    for alert, metric in EXPECTED_ALERTS.items():
        assert metric in read[alert], alert
    for alert, metrics in read.items():
        assert metrics <= names, f"{alert} reads {metrics - names}, which nothing exposes"


def test_every_dashboard_query_parses_and_reads_metrics_the_code_exposes() -> None:
    names = exposed()
    queries = grafana_queries(DASHBOARD)
    assert queries
    for query in queries:
        metrics = promql_metric_names(query)  # a syntax error raises
        assert metrics and metrics <= names, f"{query} reads {metrics - names}"
