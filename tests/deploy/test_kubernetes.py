"""No kubectl or cluster here: the manifests are validated offline against Kubernetes' schemas
and held against the code (ports, probe paths, settings, images)."""

from importlib import import_module
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tollgate_shared.settings import ServiceSettings

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


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_validates_against_the_kubernetes_schema(doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_overlays_refer_to_the_base_and_its_objects() -> None:
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in DOCS}
    for overlay in (K8S / "overlays").iterdir():
        kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
        assert kustomization["resources"] == ["../../base"]
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
