"""The Ingress and the NetworkPolicies, offline, as each overlay renders them: the public routes
reach the service that serves them (the services' own route tables) and nothing internal is
routed; every pod accepts only the ingress controller (where it has public routes) and
Prometheus, and reaches only DNS, NATS and what its settings say it talks to."""

from __future__ import annotations

import ipaddress
import re
from importlib import import_module
from urllib.parse import urlsplit

import pytest
from fastapi.routing import iter_route_contexts

from tests.deploy.conftest import BASE, K8S, RENDERED, Doc, build, objects
from tollgate_shared.observability.health import router as health_router

SERVICES = objects(BASE, "Deployment")
MONITOR = objects(build(K8S / "monitoring"), "ServiceMonitor")["tollgate"]
"""What Prometheus scrapes (the dev overlay has no Prometheus Operator, but may be scraped)."""

PUBLIC = {
    "webhook-gateway": [("POST", "/webhooks/stripe")],
    "checkout": [
        ("GET", "/tiers"),
        ("GET", "/coupons/{code}/validate"),
        ("POST", "/checkout/sessions"),
        ("POST", "/checkout/subscriptions"),
        ("POST", "/purchases/payment-intents"),
        ("POST", "/purchases/{session_id}/claim"),
        ("POST", "/billing-portal/sessions"),
        ("GET", "/billing/{user_id}/invoices"),
        ("GET", "/billing/{user_id}/invoices/{invoice_id}/pdf"),
        ("GET", "/checkout/success"),
    ],
    "membership": [
        ("GET", "/entitlements/{user_id}/groups/{group_id}"),
        ("GET", "/members/{user_id}/memberships"),
    ],
    "ledger": [("GET", "/console/login"), ("POST", "/console/login"), ("GET", "/console/payments")],
}
"""Routes the public must reach, by the service that serves them."""
INTERNAL = ("/metrics", "/healthz", "/readyz", "/docs", "/redoc", "/openapi.json", "/asyncapi.json")


def routes(service: str) -> set[tuple[str, str]]:
    """(method, path template) of every route the service's app answers."""
    module = service.replace("-", "_")
    settings = import_module(f"{module}.config").Settings(database_url="postgresql://x@h/x")
    app = import_module(f"{module}.main").create_app(settings)
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        for method in route.methods or ()
        if method != "HEAD"
    }


ROUTES = {service: routes(service) for service in SERVICES}


def backend(ingress: Doc, path: str) -> str | None:
    """The Service the Ingress sends `path` to: an Exact match, else the longest Prefix match
    (whole segments), else none."""
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    exact = [p for p in paths if p["pathType"] == "Exact" and p["path"] == path]
    segments = path.strip("/").split("/")
    prefixes = [
        p
        for p in paths
        if p["pathType"] == "Prefix" and segments[: len(s := p["path"].strip("/").split("/"))] == s
    ]
    chosen = exact or sorted(prefixes, key=lambda p: len(p["path"]), reverse=True)
    return str(chosen[0]["backend"]["service"]["name"]) if chosen else None


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", template)


@pytest.mark.parametrize("overlay", sorted(RENDERED))
def test_the_ingress_serves_public_base_url_over_tls_where_it_is_https(overlay: str) -> None:
    docs = RENDERED[overlay]
    [ingress] = objects(docs, "Ingress").values()
    public = urlsplit(objects(docs, "ConfigMap")["tollgate-config"]["data"]["PUBLIC_BASE_URL"])
    assert {rule["host"] for rule in ingress["spec"]["rules"]} == {public.hostname}
    tls = ingress["spec"].get("tls", [])
    if public.scheme == "https":
        assert [t["hosts"] for t in tls] == [[public.hostname]] and tls[0]["secretName"]
    else:
        assert overlay == "dev" and tls == []
    services = objects(docs, "Service")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            target = path["backend"]["service"]
            ports = {p["name"] for p in services[target["name"]]["spec"]["ports"]}
            assert target["port"]["name"] in ports


def test_every_public_route_reaches_the_service_serving_it() -> None:
    [ingress] = objects(BASE, "Ingress").values()
    for service, wanted in PUBLIC.items():
        for method, path in wanted:
            assert (method, path) in ROUTES[service], (service, method, path)
            assert backend(ingress, concrete(path)) == service, (method, path)


def test_nothing_internal_is_routed_and_nothing_reaches_the_wrong_service() -> None:
    [ingress] = objects(BASE, "Ingress").values()
    health = {route.path for route in health_router.routes}
    assert health <= set(INTERNAL)
    for service, table in ROUTES.items():
        for method, path in table:
            routed_to = backend(ingress, concrete(path))
            assert routed_to in (None, service), f"{method} {path} of {service} → {routed_to}"
            if path in INTERNAL or path.startswith("/docs"):
                assert routed_to is None, f"{path} is public"
    admin = [p for _, p in ROUTES["ledger"] if not p.startswith("/console")]
    organizer = [p for s in ROUTES for _, p in ROUTES[s] if p.startswith("/groups/")]
    assert admin and organizer
    for path in [*admin, *organizer, *(p for _, p in ROUTES["notifications"])]:
        assert backend(ingress, concrete(path)) is None, f"{path} is public"


def allows(policy: Doc, direction: str, port: int | str, *, peer: Doc) -> bool:
    """Whether `policy` lets traffic on `port` in from (or out to) `peer`, a description of
    the other end: {"namespace": labels, "pod": labels} or {"ip": address}."""
    for rule in policy["spec"].get(direction, []):
        ports = {p["port"] for p in rule.get("ports", [])}
        if ports and port not in ports:
            continue
        peers = rule.get("from" if direction == "ingress" else "to")
        if peers is None or any(_matches(p, peer) for p in peers):
            return True
    return False


def _matches(rule_peer: Doc, peer: Doc) -> bool:
    if "ipBlock" in rule_peer:
        if "ip" not in peer:
            return False
        block, ip = rule_peer["ipBlock"], ipaddress.ip_address(peer["ip"])
        inside = ip.version == ipaddress.ip_network(block["cidr"]).version
        inside = inside and ip in ipaddress.ip_network(block["cidr"])
        return inside and not any(
            ip.version == ipaddress.ip_network(e).version and ip in ipaddress.ip_network(e)
            for e in block.get("except", [])
        )
    if "ip" in peer:  # pods outside the cluster's view: only ipBlocks speak of addresses
        return False
    namespace = rule_peer.get("namespaceSelector")
    if namespace is None:
        same = peer["namespace"] == {"kubernetes.io/metadata.name": "tollgate"}
        namespace_ok = same
    else:
        namespace_ok = _selects(namespace, peer["namespace"])
    return namespace_ok and _selects(rule_peer.get("podSelector", {}), peer["pod"])


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, selector
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


TOLLGATE = {"kubernetes.io/metadata.name": "tollgate"}
CONTROLLER = {
    "namespace": {"kubernetes.io/metadata.name": "ingress-nginx"},
    "pod": {"app.kubernetes.io/name": "ingress-nginx"},
}
PROMETHEUS = {
    "namespace": {"kubernetes.io/metadata.name": "monitoring"},
    "pod": {"app.kubernetes.io/name": "prometheus", "prometheus": "k8s"},
}
DNS = {"namespace": {"kubernetes.io/metadata.name": "kube-system"}, "pod": {"k8s-app": "kube-dns"}}
NATS = {
    "namespace": TOLLGATE,
    "pod": {"app.kubernetes.io/name": "nats", "app.kubernetes.io/component": "nats"},
}
KEDA = {
    "namespace": {"kubernetes.io/metadata.name": "keda"},
    "pod": {"app.kubernetes.io/name": "keda-operator"},
}
STRANGER = {"namespace": TOLLGATE, "pod": {"app": "something-else"}}
PUBLIC_IP, CLUSTER_IPS = (
    "3.18.12.63",
    ("10.96.0.10", "172.20.1.1", "192.168.1.5", "169.254.169.254"),
)


def policies_for(docs: list[Doc], pod: dict[str, str]) -> list[Doc]:
    return [
        p
        for p in objects(docs, "NetworkPolicy").values()
        if _selects(p["spec"]["podSelector"], pod)
    ]


@pytest.mark.parametrize("overlay", sorted(RENDERED))
def test_each_service_accepts_only_the_controller_and_prometheus(overlay: str) -> None:
    docs = RENDERED[overlay]
    [ingress] = objects(docs, "Ingress").values()
    public = {
        p["backend"]["service"]["name"]
        for r in ingress["spec"]["rules"]
        for p in r["http"]["paths"]
    }
    [default] = [
        p for p in objects(docs, "NetworkPolicy").values() if p["spec"]["podSelector"] == {}
    ]
    assert default["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in default["spec"]
    [scrape_port] = {e["port"] for e in MONITOR["spec"]["endpoints"]}
    for name, deployment in objects(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["metadata"]["labels"]
        [own] = [p for p in policies_for(docs, pod) if p is not default]
        assert own["spec"]["policyTypes"] == ["Ingress", "Egress"]
        [port] = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        assert port["name"] == scrape_port
        assert allows(own, "ingress", scrape_port, peer=PROMETHEUS)
        assert allows(own, "ingress", scrape_port, peer=CONTROLLER) is (name in public)
        for stranger in (STRANGER, {**CONTROLLER, "pod": {"app.kubernetes.io/name": "other"}}):
            assert not allows(own, "ingress", scrape_port, peer=stranger)
        assert not allows(own, "ingress", 5432, peer=PROMETHEUS)


@pytest.mark.parametrize("overlay", sorted(RENDERED))
def test_each_service_reaches_only_what_its_settings_name(overlay: str) -> None:
    docs = RENDERED[overlay]
    nats_port = urlsplit(objects(docs, "ConfigMap")["tollgate-config"]["data"]["NATS_URL"]).port
    for name, deployment in objects(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["metadata"]["labels"]
        [own] = [p for p in policies_for(docs, pod) if p["spec"]["podSelector"]]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"] for e in container["env"]}
        has_database = any(v.endswith("_DATABASE_URL") for v in env)
        assert allows(own, "egress", 53, peer=DNS)
        assert allows(own, "egress", nats_port, peer=NATS)
        assert not allows(own, "egress", nats_port, peer=STRANGER)
        assert allows(own, "egress", 5432, peer={"ip": "10.0.3.4"}) is has_database
        assert allows(own, "egress", 587, peer={"ip": PUBLIC_IP}) is ("SMTP_URL" in env)
        calls_stripe = "STRIPE_SECRET_KEY" in env
        assert allows(own, "egress", 443, peer={"ip": PUBLIC_IP}) is calls_stripe
        assert allows(own, "egress", 443, peer={"ip": "2600:1f18::1"}) is calls_stripe
        for ip in CLUSTER_IPS:  # HTTPS to Stripe only: nothing inside the cluster or metadata
            assert not allows(own, "egress", 443, peer={"ip": ip}), (name, ip)
        assert not allows(own, "egress", 80, peer={"ip": PUBLIC_IP})
        assert not allows(own, "egress", 8080, peer=STRANGER)
        # the migration Job's pods are the service's: the same policy lets them reach Postgres
        for job in objects(docs, "Job").values():
            if job["metadata"]["name"] == f"{name}-migrate":
                assert own in policies_for(docs, job["spec"]["template"]["metadata"]["labels"])


@pytest.mark.parametrize("overlay", sorted(RENDERED))
def test_nats_accepts_the_services_and_its_peers_and_keda_where_it_scales(overlay: str) -> None:
    docs = RENDERED[overlay]
    servers = policies_for(docs, NATS["pod"])

    def allowed(port: int, peer: Doc) -> bool:
        return any(allows(p, "ingress", port, peer=peer) for p in servers)

    for deployment in objects(docs, "Deployment").values():
        pod = deployment["spec"]["template"]["metadata"]["labels"]
        assert allowed(4222, {"namespace": TOLLGATE, "pod": pod})
    assert allowed(6222, NATS) and not allowed(6222, STRANGER) and not allowed(4222, STRANGER)
    scaled = bool(objects(docs, "ScaledObject"))
    assert allowed(8222, KEDA) is scaled and not allowed(8222, STRANGER)
