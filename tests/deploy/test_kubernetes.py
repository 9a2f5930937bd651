"""No kubectl or cluster here: the manifests are validated offline against Kubernetes' schemas
and held against the code (ports, probe paths, settings, images)."""

import copy
from importlib import import_module
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tollgate_shared.infra.settings import ServiceSettings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
COMPOSE = yaml.safe_load((K8S.parent / "docker-compose.yml").read_text())
KUBERNETES_VERSION = "1.33.0"


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


BASE = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
RESOURCES = [K8S / "base" / name for name in BASE["resources"]]
DOCS = [doc for path in RESOURCES for doc in documents(path)]
DEPLOYMENTS = [doc for doc in DOCS if doc["kind"] == "Deployment"]


def settings_of(service: str) -> type[ServiceSettings]:
    return import_module(f"{service.replace('-', '_')}.config").Settings


def apply_operation(doc: dict, operation: dict) -> None:
    """A JSON6902 `replace` or `add` on a plain path (the kind the overlays use)."""
    assert operation["op"] in ("replace", "add"), operation
    *parents, last = operation["path"].strip("/").split("/")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    assert operation["op"] == "add" or last in node, f"{operation['path']} is not in the base"
    node[last] = operation["value"]


def merge_env(doc: dict, patch: dict) -> None:
    """A strategic merge that sets containers' env entries by name (and nothing else)."""
    assert set(patch) == {"apiVersion", "kind", "metadata", "spec"}, "only env is patched"
    containers = {c["name"]: c for c in doc["spec"]["template"]["spec"]["containers"]}
    for container in patch["spec"]["template"]["spec"]["containers"]:
        assert set(container) == {"name", "env"}, "only env is patched"
        env = containers[container["name"]]["env"]
        for entry in container["env"]:
            env[:] = [e for e in env if e["name"] != entry["name"]] + [entry]


def rendered(overlay: str, docs: list[dict]) -> list[dict]:
    """The base's objects `docs` as `overlay` (or "base") changes them with its patches."""
    if overlay == "base":
        return docs
    kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    for patch in kustomization.get("patches", []):
        target, body = patch["target"], yaml.safe_load(patch["patch"])
        for doc in docs:
            if (
                doc["kind"] != target["kind"]
                or target.get("name", doc["metadata"]["name"]) != (doc["metadata"]["name"])
            ):
                continue
            if isinstance(body, list):
                for operation in body:
                    apply_operation(doc, operation)
            else:
                merge_env(doc, body)
    return docs


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_validates_against_the_kubernetes_schema(doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_overlays_refer_to_the_base_and_its_objects() -> None:
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in DOCS}
    for overlay in (K8S / "overlays").iterdir():
        kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
        # the base, and the Prometheus Operator's objects where a cluster has it
        assert kustomization["resources"] in (["../../base"], ["../../base", "../../monitoring"])
        for image in kustomization.get("images", []):
            assert any(
                c["image"] == image["name"]
                for d in DEPLOYMENTS
                for c in d["spec"]["template"]["spec"]["containers"]
            )
        for patch in kustomization.get("patches", []):
            target = patch["target"]
            assert any(kind == target["kind"] for kind, _ in names)


def test_every_service_has_its_objects() -> None:
    for deployment in DEPLOYMENTS:
        name = deployment["metadata"]["name"]
        kinds = {d["kind"] for d in DOCS if d["metadata"]["name"] in (name, f"{name}-migrate")}
        expected = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
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


OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir())
GATEWAY_MODES = {"base": True, "production": True, "dev": False}


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
    docs = rendered(overlay, base)
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    env = {e["name"]: e.get("value", "from-a-secret-0123456789") for e in gateway_of(docs)["env"]}
    assert "STRIPE_LIVEMODE" in env, f"{overlay} does not set the gateway's expected mode"
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    values = {name.lower(): value for name, value in (config | env).items()}
    # Built as the gateway builds them: production refuses to start without a mode.
    expected = settings_of("webhook-gateway")(**values).expected_livemode
    assert expected is GATEWAY_MODES.get(overlay, expected) is not None
