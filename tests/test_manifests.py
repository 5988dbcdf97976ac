"""deploy/kubernetes validates against the API schemas and works with KEDA and the operator.

Core kinds are checked by kubernetes-validate (strict: unknown fields fail) for the oldest
Kubernetes the example supports and the newest the package knows. The KEDA kinds
(ScaledObject, TriggerAuthentication) and the Prometheus operator's (ServiceMonitor,
PrometheusRule) are checked with jsonschema against their CRDs' openAPIV3Schema, vendored in
tests/crd_schemas/ (see trim_crd.py there). Then what ties the objects together: KEDA scales
only on lag another pod could work off, authenticates like the relay, and owns the replica
count; the ServiceMonitor finds the metrics port under the job the alert rules select.
"""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
CRD_SCHEMAS = Path(__file__).resolve().parent / "crd_schemas"
CRD_KINDS = {"PrometheusRule", "ScaledObject", "ServiceMonitor", "TriggerAuthentication"}
CORE_KINDS = {"ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service"}
OLDEST_KUBERNETES = "1.29.0"
# KEDA's kafka scaler names for the relay's KAFKA_SASL_MECHANISM values.
KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}
yaml: Any = importlib.import_module("yaml")
jsonschema: Any = importlib.import_module("jsonschema")
kubernetes_validate: Any = importlib.import_module("kubernetes_validate")


def objects() -> dict[str, dict[str, Any]]:
    """Every object of deploy/kubernetes by kind (each kind appears once)."""
    by_kind: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in by_kind, f"two {document['kind']} objects"
            by_kind[document["kind"]] = document
    return by_kind


def crd_errors(resource: dict[str, Any]) -> list[str]:
    """What the vendored CRD schema of `resource`'s kind finds wrong with it."""
    schema = json.loads((CRD_SCHEMAS / f"{resource['kind'].lower()}.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(resource)
    ]


def trigger() -> dict[str, Any]:
    """The ScaledObject's one trigger."""
    only: dict[str, Any]
    (only,) = objects()["ScaledObject"]["spec"]["triggers"]
    assert only["type"] == "kafka"
    return only


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    """resources = every YAML file of the directory except kustomization and the Secret."""
    listed = objects()["Kustomization"]["resources"]
    present = {p.name for p in KUBERNETES.glob("*.yaml")}
    assert sorted(listed) == listed
    assert set(listed) == present - {"kustomization.yaml", "secret.example.yaml"}
    assert set(objects()) == CORE_KINDS | CRD_KINDS | {"Kustomization"}


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, "latest"])
@pytest.mark.parametrize("kind", sorted(CORE_KINDS))
def test_core_objects_validate_against_the_kubernetes_schema(kind: str, version: str) -> None:
    """kubernetes-validate, strict (unknown fields are errors), old and new Kubernetes."""
    wanted = kubernetes_validate.latest_version() if version == "latest" else version
    validated = kubernetes_validate.validate(objects()[kind], wanted, strict=True)
    assert validated == wanted.rsplit(".", 1)[0]


@pytest.mark.parametrize("kind", sorted(CRD_KINDS))
def test_custom_objects_validate_against_their_crd_schema(kind: str) -> None:
    """ScaledObject, TriggerAuthentication, ServiceMonitor, PrometheusRule: no schema error."""
    assert crd_errors(objects()[kind]) == []


def test_the_crd_schemas_reject_what_the_api_server_would() -> None:
    """A boolean in trigger metadata, an unknown field and a malformed `for` all fail."""
    scaled = copy.deepcopy(objects()["ScaledObject"])
    scaled["spec"]["triggers"][0]["metadata"]["excludePersistentLag"] = True
    scaled["spec"]["replicas"] = 2
    errors = crd_errors(scaled)
    assert any("excludePersistentLag" in e and "is not of type 'string'" in e for e in errors)
    assert any("'replicas' was unexpected" in e for e in errors)
    rule = copy.deepcopy(objects()["PrometheusRule"])
    rule["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes"
    assert any("does not match" in e for e in crd_errors(rule))


def test_keda_scales_only_on_lag_more_pods_can_work_off() -> None:
    """excludePersistentLag and limitToPartitionsWithLag on; allowIdleConsumers off (KEDA)."""
    metadata = trigger()["metadata"]
    assert metadata["excludePersistentLag"] == "true"
    assert metadata["limitToPartitionsWithLag"] == "true"
    # KEDA refuses limitToPartitionsWithLag without a topic, or with allowIdleConsumers.
    assert metadata["topic"]
    assert metadata.get("allowIdleConsumers", "false") == "false"
    assert "replicas" not in objects()["Deployment"]["spec"]


def test_keda_authenticates_to_the_brokers_as_the_relay_does() -> None:
    """The trigger's SASL mechanism and TLS match the relay's; credentials from the Secret."""
    found = objects()
    config = found["ConfigMap"]["data"]
    secret = found["Secret"]
    metadata = trigger()["metadata"]
    assert config["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert metadata["sasl"] == KEDA_SASL[config["KAFKA_SASL_MECHANISM"]]
    assert metadata["tls"] == "enable"
    auth = found["TriggerAuthentication"]
    assert trigger()["authenticationRef"] == {"name": auth["metadata"]["name"]}
    references = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
    assert set(references) == {"username", "password"}
    for reference in references.values():
        assert reference["name"] == secret["metadata"]["name"]
        assert reference["key"] in secret["stringData"]
    assert secret["stringData"][references["username"]["key"]] == config["KAFKA_SASL_USERNAME"]
    env = {
        e["name"]: e["value"]
        for e in found["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["KAFKA_SASL_PASSWORD_FILE"].endswith("/" + references["password"]["key"])


def test_the_service_monitor_scrapes_the_metrics_port_as_job_signal_relay() -> None:
    """ServiceMonitor -> Service -> pods' `metrics` port, with the job the alert rules select."""
    found = objects()
    monitor = found["ServiceMonitor"]["spec"]
    service = found["Service"]
    pod = found["Deployment"]["spec"]["template"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (endpoint,) = monitor["endpoints"]
    (port,) = service["spec"]["ports"]
    assert endpoint["port"] == port["name"]
    container_ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
    assert port["targetPort"] in container_ports
    assert port["port"] == container_ports[port["targetPort"]]
    assert endpoint["path"] == "/metrics"
    assert service["metadata"]["labels"][monitor["jobLabel"]] == "signal-relay"
    rules = (ROOT / "deploy" / "prometheus" / "signal-relay.rules.yaml").read_text()
    assert 'job="signal-relay"' in rules


def test_every_object_carries_the_app_label() -> None:
    """app.kubernetes.io/name: signal-relay on everything, for selection and clean-up."""
    for kind, resource in objects().items():
        if kind != "Kustomization":
            assert resource["metadata"]["labels"]["app.kubernetes.io/name"] == "signal-relay", kind
