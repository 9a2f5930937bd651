"""Rolling out, offline: the migration Jobs are safe to re-apply under GitOps (Argo CD hooks
ordered between the config and the Deployments, Flux's replace, the Deployment's own image),
and the KEDA overlay scales each consumer on its durable consumer's lag on the STRIPE stream
(names read from the code) within the bounds of the HPA it replaces."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import yaml

from checkout.entrypoints.consumers import STRIPE_CONSUMER as CHECKOUT_CONSUMER
from ledger.entrypoints.consumers import STRIPE_CONSUMER as LEDGER_CONSUMER
from membership.config import Settings as MembershipSettings
from membership.entrypoints.consumers import stripe_consumer
from notifications.config import Settings as NotificationsSettings
from tests.deploy.conftest import BASE, K8S, RENDERED, Doc, objects
from tollgate_shared.messaging.consumer import ConsumerSpec
from tollgate_shared.messaging.streams import STRIPE

HOOK = {
    "argocd.argoproj.io/hook": "Sync",
    "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
    "argocd.argoproj.io/sync-wave": "-1",
    "kustomize.toolkit.fluxcd.io/force": "enabled",
}
"""Argo CD deletes and re-creates the Job at every sync, in the Sync phase's wave -1 (after the
namespace and ConfigMap, before the Deployments); Flux replaces it when its spec changes."""


def wave(doc: Doc) -> int:
    return int(doc["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))


@pytest.mark.parametrize("overlay", ["base", *sorted(RENDERED)])
def test_migration_jobs_are_replaced_not_patched_and_run_the_services_image(overlay: str) -> None:
    docs = BASE if overlay == "base" else RENDERED[overlay]
    jobs, deployments = objects(docs, "Job"), objects(docs, "Deployment")
    assert set(jobs) == {f"{n}-migrate" for n in deployments if n != "webhook-gateway"}
    for name, job in jobs.items():
        assert job["metadata"]["annotations"] == HOOK, name
        assert "ttlSecondsAfterFinished" not in job["spec"], "a vanished Job is re-run"
        service = deployments[name.removesuffix("-migrate")]
        [migrate] = job["spec"]["template"]["spec"]["containers"]
        [serve] = service["spec"]["template"]["spec"]["containers"]
        assert migrate["image"] == serve["image"], "migrations of the code that is rolled out"
        assert (migrate["args"], serve["args"]) == (["migrate"], ["serve"])
        assert migrate["env"] == serve["env"] and migrate["envFrom"] == serve["envFrom"]
    # what the Jobs read exists before them; the Deployments roll after them
    for kind in ("Namespace", "ConfigMap"):
        assert all(
            wave(d) < int(HOOK["argocd.argoproj.io/sync-wave"])
            for d in objects(docs, kind).values()
        )
    others = [d for d in docs if d["kind"] not in ("Job", "Namespace", "ConfigMap")]
    assert all(wave(d) == 0 for d in others)


CONSUMERS = {
    "checkout": CHECKOUT_CONSUMER,
    "ledger": LEDGER_CONSUMER,
    "membership": stripe_consumer(MembershipSettings.model_fields["membership_consumer"].default),
    "notifications": ConsumerSpec(
        NotificationsSettings.model_fields["notifications_consumer"].default, STRIPE, "stripe.>"
    ),
}
"""Each consuming service's durable consumer on the STRIPE stream, as the code names it."""
SCALED_OBJECT_SPEC = {
    "scaleTargetRef",
    "minReplicaCount",
    "maxReplicaCount",
    "pollingInterval",
    "cooldownPeriod",
    "idleReplicaCount",
    "fallback",
    "advanced",
    "triggers",
}
TRIGGER_METADATA = {
    "nats-jetstream": {
        "natsServerMonitoringEndpoint",
        "account",
        "stream",
        "consumer",
        "lagThreshold",
        "activationLagThreshold",
        "useHttps",
    },
    "cpu": {"value"},
}
"""The fields of KEDA's ScaledObject and of the two scalers used (a typo is refused)."""
NATS_VALUES = yaml.safe_load((K8S / "nats" / "values.yaml").read_text())


def test_the_keda_overlay_is_production_with_scaled_objects_for_the_consumers() -> None:
    production, keda = RENDERED["production"], RENDERED["keda"]
    names = {(d["kind"], d["metadata"]["name"]) for d in production}
    added = {(d["kind"], d["metadata"]["name"]) for d in keda} - names
    removed = names - {(d["kind"], d["metadata"]["name"]) for d in keda}
    assert removed == {("HorizontalPodAutoscaler", n) for n in CONSUMERS}
    assert added == {("ScaledObject", n) for n in CONSUMERS} | {
        ("NetworkPolicy", "nats-monitoring-from-keda")
    }
    # one autoscaler per Deployment: the gateway keeps its HPA, the consumers have KEDA's
    targets = [
        d["spec"]["scaleTargetRef"]["name"] for d in keda if "scaleTargetRef" in d.get("spec", {})
    ]
    assert sorted(targets) == sorted(objects(keda, "Deployment"))


@pytest.mark.parametrize("service", sorted(CONSUMERS))
def test_each_consumer_scales_on_its_durable_consumers_lag(service: str) -> None:
    keda, production = RENDERED["keda"], RENDERED["production"]
    scaled, hpa = (
        objects(keda, "ScaledObject")[service],
        objects(production, "HorizontalPodAutoscaler")[service],
    )
    assert scaled["apiVersion"] == "keda.sh/v1alpha1" and set(scaled["spec"]) <= SCALED_OBJECT_SPEC
    assert (
        scaled["metadata"]["namespace"]
        == objects(keda, "Deployment")[service]["metadata"]["namespace"]
    )
    target = scaled["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    assert scaled["spec"]["minReplicaCount"] == hpa["spec"]["minReplicas"]
    assert scaled["spec"]["maxReplicaCount"] == hpa["spec"]["maxReplicas"]
    triggers = {t["type"]: t for t in scaled["spec"]["triggers"]}
    assert set(triggers) == set(TRIGGER_METADATA)
    for kind, trigger in triggers.items():
        assert set(trigger["metadata"]) <= TRIGGER_METADATA[kind]
        assert all(isinstance(v, str) for v in trigger["metadata"].values()), "KEDA reads strings"
    [cpu] = hpa["spec"]["metrics"]
    assert triggers["cpu"]["metricType"] == "Utilization"
    assert (
        int(triggers["cpu"]["metadata"]["value"]) == cpu["resource"]["target"]["averageUtilization"]
    )

    lag = triggers["nats-jetstream"]["metadata"]
    consumer = CONSUMERS[service]
    assert (lag["stream"], lag["consumer"]) == (consumer.stream.name, consumer.durable)
    assert consumer.stream.name == STRIPE.name
    # the NATS chart's headless Service (so KEDA can ask each server for the consumer's leader),
    # on its monitoring port, in the namespace the services reach it in; the default account
    nats = urlsplit(objects(keda, "ConfigMap")["tollgate-config"]["data"]["NATS_URL"]).hostname
    namespace = scaled["metadata"]["namespace"]
    assert (
        lag["natsServerMonitoringEndpoint"] == f"{nats}-headless.{namespace}.svc.cluster.local:8222"
    )
    assert NATS_VALUES["config"]["monitor"]["enabled"] is True
    assert "accounts" not in str(NATS_VALUES) and lag["account"] == "$G"
    # it scales out well before the lag alert fires
    [alert] = [
        rule
        for group in objects(keda, "PrometheusRule")["tollgate"]["spec"]["groups"]
        for rule in group["rules"]
        if rule["alert"] == "TollgateConsumerLagHigh"
    ]
    [alert_lag] = re.findall(r">\s*(\d+)\s*$", alert["expr"])
    assert int(lag["lagThreshold"]) * scaled["spec"]["minReplicaCount"] < int(alert_lag)
