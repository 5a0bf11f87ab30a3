"""deploy/k8s validates against the Kubernetes API schemas (offline, kubernetes-validate) and
keeps the promises the operations guide makes about it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from app.routes.health import health_routes
from tests.support import services

try:
    import kubernetes_validate
except ImportError:  # a machine without the dev tools: skip with the reason (fail on CI)
    kubernetes_validate = None

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
# The oldest version we claim (the preStop `sleep` action needs 1.30) and the newest schemas shipped.
VERSIONS = ["1.30.0", "1.37.0"]


@pytest.fixture
def validator():  # noqa: ANN201
    if kubernetes_validate is None:
        services.unavailable("kubernetes-validate is not installed (pip install -r requirements-dev.txt)")
    return kubernetes_validate


def _documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def _by_kind() -> dict[str, dict]:
    return {doc["kind"]: doc for _, doc in _documents()}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_strictly(validator, version: str) -> None:  # noqa: ANN001
    documents = _documents()
    assert len(documents) >= 9
    for name, doc in documents:
        validator.validate(doc, version, strict=True)  # raises with the path of the error
        assert doc["metadata"].get("namespace") in (None, "lorastudio"), name


def test_the_validator_rejects_a_broken_manifest(validator) -> None:  # noqa: ANN001
    deployment = copy.deepcopy(_by_kind()["Deployment"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(validator.ValidationError):
        validator.validate(deployment, VERSIONS[-1], strict=True)


def test_kustomization_lists_every_cluster_resource() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    present = {path.name for path in K8S.glob("*.yaml")}
    # The Secret comes from the operator's secret store; the Job runs once per release.
    assert listed == present - {"kustomization.yaml", "secret.example.yaml", "migrate-job.yaml"}


def test_deployment_is_stateless_scaled_and_probed_on_separate_routes() -> None:
    kinds = _by_kind()
    deployment = kinds["Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = spec["template"]["spec"]["containers"][0]
    routes = {route.path for route in health_routes()}
    live = container["livenessProbe"]["httpGet"]["path"]
    ready = container["readinessProbe"]["httpGet"]["path"]
    assert live != ready and {live, ready} == routes == {"/healthz/live", "/healthz/ready"}
    assert container["startupProbe"]["httpGet"]["path"] == live
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert container["command"] == ["python", "-m", "app.serve"], "pods do not migrate; the Job does"
    pod_security = spec["template"]["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True and pod_security["runAsUser"] == 10001
    assert container["securityContext"]["allowPrivilegeEscalation"] is False

    secret = kinds["Secret"]["stringData"]
    config = kinds["ConfigMap"]["data"]
    assert "REDIS_URL" in secret, "Reflex keeps session state in Redis across pods"
    assert "DATABASE_URL" in secret and "SECRET_KEY" in secret and "METRICS_TOKEN" in secret
    assert not {"DATABASE_URL", "SECRET_KEY", "REDIS_URL"} & set(config), "secrets stay out of the ConfigMap"
    sources = {next(iter(source.values()))["name"] for source in container["envFrom"]}
    assert sources == {kinds["Secret"]["metadata"]["name"], kinds["ConfigMap"]["metadata"]["name"]}
    assert int(config["GRANIAN_WORKERS"]) >= 1


def test_job_migrates_with_the_same_image_and_configuration() -> None:
    kinds = _by_kind()
    job = kinds["Job"]["spec"]["template"]["spec"]
    app = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    migrate = job["containers"][0]
    assert migrate["command"] == ["python", "-m", "app.prestart"]
    assert migrate["image"] == app["image"] and migrate["envFrom"] == app["envFrom"]
    assert job["restartPolicy"] == "Never"


def test_service_ingress_and_autoscaler_fit_a_sticky_free_websocket_app() -> None:
    kinds = _by_kind()
    deployment, service, ingress, hpa = (
        kinds[k] for k in ("Deployment", "Service", "Ingress", "HorizontalPodAutoscaler")
    )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"].get("sessionAffinity", "None") == "None"
    annotations = ingress["metadata"]["annotations"]
    assert not [key for key in annotations if "affinity" in key or "session-cookie" in key]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600, "idle websockets stay open"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert ingress["spec"]["tls"], "WebGPU needs a secure context: HTTPS"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    pdb = kinds["PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
