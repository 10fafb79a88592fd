"""Offline checks of the Kubernetes manifests (deploy_target: kubernetes).

No API server can run here: `kubectl kustomize` builds the overlay,
kubernetes-validate checks every object against the OpenAPI schemas of
several Kubernetes releases (--strict: an unknown field fails), and
`api_version_problems` refuses API versions that are deprecated or removed
(kubernetes-validate only warns about those and exits 0).
"""

import os
import subprocess
from pathlib import Path

import yaml

from .binaries import require

OVERLAY = Path("deploy/kubernetes/production")
# The oldest and the newest release whose schemas kubernetes-validate ships.
VERSIONS = ("1.25.0", "1.37.0")
# The API version of each kind the manifests use: stable (GA) and served by
# every release from 1.25 on. Anything else (autoscaling/v2beta2,
# policy/v1beta1, networking.k8s.io/v1beta1, ...) is removed in some of them.
API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "Job": "batch/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    "Ingress": "networking.k8s.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}


def run(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120, **kwargs)


def kubectl_path() -> str:
    """A PATH on which the pinned kubectl comes first (the deploy script calls kubectl)."""
    return f"{Path(require('kubectl')).parent}:{os.environ['PATH']}"


def kustomize(directory: Path) -> subprocess.CompletedProcess:
    return run([require("kubectl"), "kustomize", str(directory)])


def documents(text: str) -> list[dict]:
    return [document for document in yaml.safe_load_all(text) if document]


def validate(path: Path, version: str) -> subprocess.CompletedProcess:
    return run([require("kubernetes-validate"), "--strict", "--quiet", "-k", version, str(path)])


def api_version_problems(objects: list[dict]) -> list[str]:
    return [
        f"{item['kind']}/{item['metadata']['name']}: apiVersion {item['apiVersion']}, "
        f"expected {API_VERSIONS.get(item['kind'], 'a kind the manifests use')}"
        for item in objects
        if API_VERSIONS.get(item["kind"]) != item["apiVersion"]
    ]


def problems(project: Path, workdir: Path) -> list[str]:
    """The production overlay builds, passes strict validation for every
    version of VERSIONS, and uses only the API versions above."""
    built = kustomize(project / OVERLAY)
    if built.returncode != 0:
        return [f"kubectl kustomize {OVERLAY}: {built.stderr}"]
    workdir.mkdir(parents=True, exist_ok=True)
    manifests = workdir / "production.yaml"
    manifests.write_text(built.stdout)
    found = api_version_problems(documents(built.stdout))
    for version in VERSIONS:
        result = validate(manifests, version)
        if result.returncode != 0:
            found.append(f"kubernetes-validate --strict -k {version}: {result.stdout}{result.stderr}")
    return found


def pods(objects: list[dict]) -> dict[str, dict]:
    """The pod spec of each Deployment and Job, by name."""
    return {
        item["metadata"]["name"]: item["spec"]["template"]["spec"]
        for item in objects
        if item["kind"] in ("Deployment", "Job")
    }


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {item["metadata"]["name"]: item for item in objects if item["kind"] == kind}
