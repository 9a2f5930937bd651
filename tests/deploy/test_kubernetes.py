"""No kubectl or cluster here: the manifests, as each overlay renders them (`conftest.build`),
are validated offline against Kubernetes' schemas and held against the code (ports, probe
paths, settings, images)."""

import copy
from importlib import import_module

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import BASE, K8S, OVERLAYS, RENDERED, build
from tollgate_shared.infra.settings import ServiceSettings

BASE_DIR = (K8S / "base").resolve()

COMPOSE = yaml.safe_load((K8S.parent / "docker-compose.yml").read_text())
KUBERNETES_VERSION = "1.33.0"
BUILT_IN = {"v1", "apps/v1", "batch/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1"}
"""Kubernetes' own API groups: validated against its schemas. The Prometheus Operator's and
KEDA's objects are held to their CRDs' fields (test_monitoring.py, test_kubernetes_rollout.py)."""

DOCS = BASE
DEPLOYMENTS = [doc for doc in DOCS if doc["kind"] == "Deployment"]


def settings_of(service: str) -> type[ServiceSettings]:
    return import_module(f"{service.replace('-', '_')}.config").Settings


RENDERINGS = [("base", doc) for doc in DOCS] + [
    (overlay, doc) for overlay, docs in RENDERED.items() for doc in docs
]


@pytest.mark.parametrize(
    ("overlay", "doc"),
    [(overlay, doc) for overlay, doc in RENDERINGS if doc["apiVersion"] in BUILT_IN],
    ids=lambda v: v if isinstance(v, str) else f"{v['kind']}/{v['metadata']['name']}",
)
def test_validates_against_the_kubernetes_schema(overlay: str, doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_overlays_build_on_the_base() -> None:
    """Every overlay renders the base, directly or through another overlay, plus objects of its
    own (the builder refuses images and patches that match nothing)."""
    for overlay in OVERLAYS:
        kustomization = yaml.safe_load(
            (K8S / "overlays" / overlay / "kustomization.yaml").read_text()
        )
        built_on = [r for r in kustomization["resources"] if r.startswith("..")]
        assert built_on[0] in ("../../base", *(f"../{o}" for o in OVERLAYS if o != overlay))
        assert set(built_on[1:]) <= {"../../monitoring"}
        base = {(d["kind"], d["metadata"]["name"]) for d in DOCS}
        rendered = {(d["kind"], d["metadata"]["name"]) for d in RENDERED[overlay]}
        removed = base - rendered
        assert {kind for kind, _ in removed} <= {"HorizontalPodAutoscaler"}, overlay
        assert {d["metadata"].get("namespace") for d in RENDERED[overlay]} <= {"tollgate", None}


def test_every_service_has_its_objects() -> None:
    for deployment in DEPLOYMENTS:
        name = deployment["metadata"]["name"]
        kinds = {d["kind"] for d in DOCS if d["metadata"]["name"] in (name, f"{name}-migrate")}
        expected = {
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "NetworkPolicy",
        }
        if name != "webhook-gateway":
            expected.add("Job")
        assert expected <= kinds, name


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["metadata"]["name"])
def test_deployment_agrees_with_the_code(deployment: dict) -> None:
    name = deployment["metadata"]["name"]
    settings = settings_of(name)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    port = settings.model_fields["http_port"].default
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    env = {e["name"]: e for e in container["env"]}
    assert env["HTTP_PORT"]["value"] == str(port)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["image"] == f"tollgate/{name}"
    assert COMPOSE["services"][name]["build"]["args"]["COMMAND"] == name
    fields = {f.upper() for f in settings.model_fields}
    own_db = name.upper().replace("-", "_") + "_DATABASE_URL"
    for variable in env:
        assert variable in fields or variable == own_db, f"{name} does not read {variable}"
    for secret in settings.required_secrets:
        assert secret.upper() in env, f"{name} needs {secret.upper()}"
        assert "secretKeyRef" in env[secret.upper()]["valueFrom"], "secrets are referenced"
    if name != "webhook-gateway":
        assert "secretKeyRef" in env[own_db]["valueFrom"]
    config = next(d for d in DOCS if d["kind"] == "ConfigMap")
    for key in config["data"]:
        assert key in fields, f"ConfigMap sets {key}, which {name} does not read"


GATEWAY_MODES = {"base": True, "production": True, "keda": True, "dev": False}


def gateway_of(docs: list[dict]) -> dict:
    [container] = next(
        d["spec"]["template"]["spec"]["containers"]
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "webhook-gateway"
    )
    return container


@pytest.mark.parametrize("overlay", ["base", *OVERLAYS])
def test_the_gateway_is_told_which_mode_to_accept(overlay: str) -> None:
    base = copy.deepcopy(DOCS)
    if overlay != "base":  # each overlay names the mode itself, whatever the base says
        env = gateway_of(base)["env"]
        env[:] = [e for e in env if e["name"] != "STRIPE_LIVEMODE"]
    docs = (
        base if overlay == "base" else build(K8S / "overlays" / overlay, replace={BASE_DIR: base})
    )
    for doc in docs:
        if doc["apiVersion"] in BUILT_IN:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    env = {e["name"]: e.get("value", "from-a-secret-0123456789") for e in gateway_of(docs)["env"]}
    assert "STRIPE_LIVEMODE" in env, f"{overlay} does not set the gateway's expected mode"
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    values = {name.lower(): value for name, value in (config | env).items()}
    # Built as the gateway builds them: production refuses to start without a mode.
    expected = settings_of("webhook-gateway")(**values).expected_livemode
    assert expected is GATEWAY_MODES.get(overlay, expected) is not None
