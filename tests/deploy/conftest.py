"""`kustomize build` of the little Tollgate's kustomizations use, for tests without the binary:
resources (files and kustomization directories, overlays of overlays), namespace, images, and
patches: JSON 6902 `add`/`replace`/`remove`, strategic merges that set containers' env or
delete an object (`$patch: delete`). Anything else is refused, and so is a patch that matches
nothing: a kustomization that outgrows this fails the tests instead of being checked wrongly."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
TARGET_KEYS = {"kind", "name", "group"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}

Doc = dict[str, Any]


def documents(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def build(directory: Path, *, replace: Mapping[Path, list[Doc]] | None = None) -> list[Doc]:
    """The objects `directory`'s kustomization renders; a directory in `replace` renders as the
    objects given there instead (to check what an overlay does to a changed base)."""
    directory = directory.resolve()
    if replace and directory in replace:
        return copy.deepcopy(replace[directory])
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kustomization) <= KUSTOMIZATION_KEYS, f"{directory}: {set(kustomization)}"
    docs: list[Doc] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        docs += build(path, replace=replace) if path.is_dir() else documents(path)
    if namespace := kustomization.get("namespace"):
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = namespace
    for image in kustomization.get("images", []):
        _set_image(docs, image, directory)
    for patch in kustomization.get("patches", []):
        docs = _patch(docs, patch, directory)
    return docs


def _set_image(docs: list[Doc], image: Doc, directory: Path) -> None:
    assert set(image) <= {"name", "newName", "newTag"}, image
    found = False
    for doc in docs:
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            if container["image"].split(":")[0] == image["name"]:
                container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
                found = True
    assert found, f"{directory}: no container runs {image['name']}"


def _selects(target: Doc, doc: Doc) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    return (
        doc["kind"] == target.get("kind", doc["kind"])
        and doc["metadata"]["name"] == target.get("name", doc["metadata"]["name"])
        and group == target.get("group", group)
    )


def _patch(docs: list[Doc], patch: Doc, directory: Path) -> list[Doc]:
    assert set(patch) == {"target", "patch"} and set(patch["target"]) <= TARGET_KEYS, patch
    selected = [doc for doc in docs if _selects(patch["target"], doc)]
    assert selected, f"{directory}: the patch for {patch['target']} matches nothing"
    body = yaml.safe_load(patch["patch"])
    if isinstance(body, list):
        for doc in selected:
            for operation in body:
                _apply_operation(doc, operation)
        return docs
    if body.pop("$patch", None) == "delete":
        assert set(body) == {"apiVersion", "kind", "metadata"}, "a delete names its object only"
        return [doc for doc in docs if not any(doc is s for s in selected)]
    for doc in selected:
        _merge_env(doc, body)
    return docs


def _apply_operation(doc: Doc, operation: Doc) -> None:
    """A JSON 6902 `add`, `replace` or `remove` (RFC 6901 paths: `~1` is `/`)."""
    op = operation["op"]
    assert op in ("add", "replace", "remove"), operation
    keys = [k.replace("~1", "/").replace("~0", "~") for k in operation["path"].split("/")[1:]]
    *parents, last = keys
    node: Any = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        if op == "add":
            node.insert(len(node) if last == "-" else int(last), operation["value"])
        elif op == "replace":
            node[int(last)] = operation["value"]
        else:
            del node[int(last)]
        return
    assert op == "add" or last in node, f"{operation['path']} is not in the object"
    if op == "remove":
        del node[last]
    else:
        node[last] = operation["value"]


def _merge_env(doc: Doc, patch: Doc) -> None:
    """A strategic merge that sets containers' env entries by name (and nothing else)."""
    assert set(patch) == {"apiVersion", "kind", "metadata", "spec"}, "only env is patched"
    containers = {c["name"]: c for c in doc["spec"]["template"]["spec"]["containers"]}
    for container in patch["spec"]["template"]["spec"]["containers"]:
        assert set(container) == {"name", "env"}, "only env is patched"
        env = containers[container["name"]]["env"]
        for entry in container["env"]:
            env[:] = [e for e in env if e["name"] != entry["name"]] + [entry]


OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir())
BASE = build(K8S / "base")
RENDERED = {overlay: build(K8S / "overlays" / overlay) for overlay in OVERLAYS}
"""Each overlay's objects, as `kubectl apply -k` would send them."""


def objects(docs: list[Doc], kind: str) -> dict[str, Doc]:
    """`docs` of `kind`, by name."""
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}
