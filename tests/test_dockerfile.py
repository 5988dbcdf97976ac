"""The container image and the Kubernetes example, checked statically (no Docker engine here).

The image: hadolint-clean, two stages, a slim non-root final stage without build tools, a
HEALTHCHECK that really probes /healthz. The manifests: they parse, agree with each other and
with the relay's configuration (probes, grace period, replicas vs partitions, variable names).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from relay_harness import free_port

from consumer.config import load_settings, variables
from consumer.ops import OpsServer, RelayMetrics

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES = ROOT / "deploy" / "kubernetes"
BUILD_TOOLS = ("gcc", "build-essential", "make ", "apt-get install", "pip ", "curl", "wget")


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    args: str


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, comments dropped."""
    found = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, args = stripped.partition(" ")
            found.append(Instruction(keyword.upper(), " ".join(args.split())))
    return found


def stages() -> list[list[Instruction]]:
    """The build stages, each starting with its FROM (global ARG defaults substituted)."""
    parsed = instructions(DOCKERFILE.read_text())
    defaults = {}
    for instruction in parsed:
        if instruction.keyword == "FROM":
            break
        name, _, default = instruction.args.partition("=")
        defaults[name] = default
    result: list[list[Instruction]] = []
    for instruction in parsed:
        if instruction.keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], instruction.args)
            result.append([Instruction("FROM", image)])
        elif result:
            result[-1].append(instruction)
    return result


def only(stage: list[Instruction], keyword: str) -> Instruction:
    """The stage's single instruction of this kind."""
    (found,) = [i for i in stage if i.keyword == keyword]
    return found


def final_stage() -> list[Instruction]:
    """The stage the image is made of."""
    return stages()[-1]


def test_hadolint_passes() -> None:
    """hadolint reports nothing."""
    hadolint = Path(sys.executable).parent / "hadolint"
    binary = str(hadolint) if hadolint.exists() else shutil.which("hadolint")
    if binary is None:
        pytest.skip("hadolint is not installed")
    result = subprocess.run(
        [binary, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_build_stage_installs_the_fast_extra_and_the_final_stage_is_slim() -> None:
    """Two stages: a named build stage installing `.[fast]`, then python:3.11-slim."""
    build, final = stages()
    assert re.fullmatch(r"python:3\.11-slim AS build", build[0].args)
    assert final[0].args == "python:3.11-slim"
    installs = [
        i.args for i in build if i.keyword == "RUN" and re.search(r"\bpip\b.*\binstall\b", i.args)
    ]
    assert any("[fast]" in args for args in installs), installs
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert "fast" in extras


def test_final_stage_has_no_build_tools_and_copies_only_the_venv() -> None:
    """No compiler, package install or downloader in the final stage; it copies from `build`."""
    final = final_stage()
    for instruction in final:
        if instruction.keyword == "RUN":
            for tool in BUILD_TOOLS:
                assert tool not in instruction.args, f"final stage runs {tool}: {instruction.args}"
    copies = [i.args for i in final if i.keyword in {"COPY", "ADD"}]
    assert copies == ["--from=build /opt/venv /opt/venv"]


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    """USER is set in the final stage, numeric, and not root."""
    user = only(final_stage(), "USER").args
    uid = user.split(":")[0]
    assert uid.isdigit(), "Kubernetes' runAsNonRoot needs a numeric user"
    assert int(uid) != 0


def test_entrypoint_is_the_console_script_running_the_service() -> None:
    """ENTRYPOINT ["signal-relay"], CMD ["run"], EXPOSE the default metrics port."""
    final = final_stage()
    assert json.loads(only(final, "ENTRYPOINT").args) == ["signal-relay"]
    assert json.loads(only(final, "CMD").args) == ["run"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "signal-relay" in scripts
    default_port = load_settings(
        {"HMAC_PRODUCER_SECRET": "x" * 16, "PRODUCER_ID": "p", "OUTBOUND_SERVER_URL": "http://s"}
    ).metrics_port
    assert only(final, "EXPOSE").args == str(default_port)


def test_the_image_carries_oci_labels() -> None:
    """Title, description, version and licence labels are set."""
    labels = " ".join(i.args for i in final_stage() if i.keyword == "LABEL")
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def healthcheck_command() -> list[str]:
    """The HEALTHCHECK's exec-form command, run with this interpreter."""
    args = only(final_stage(), "HEALTHCHECK").args
    command: list[str] = json.loads(args.split(" CMD ", 1)[1])
    assert command[0] == "python", "the check needs nothing but the image's python"
    return [sys.executable, *command[1:]]


async def run_healthcheck(port: int) -> int:
    """Run the image's health check against loopback `port`; its exit status."""
    process = await asyncio.create_subprocess_exec(
        *healthcheck_command(),
        env={"RELAY_METRICS_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), 30)


async def test_healthcheck_passes_on_a_live_ops_port_and_fails_without_one() -> None:
    """The HEALTHCHECK command exits 0 against /healthz, non-zero when nothing answers."""
    ops = OpsServer(render_metrics=RelayMetrics().render, readiness=lambda: (False, "starting"))
    port = await ops.start("127.0.0.1", 0)
    try:
        assert await run_healthcheck(port) == 0
    finally:
        await ops.stop()
    assert await run_healthcheck(free_port()) != 0
    assert await run_healthcheck(0) == 0  # RELAY_METRICS_PORT=0: no endpoint, nothing to probe


def test_dockerignore_admits_only_the_build_inputs() -> None:
    """.dockerignore excludes everything, then re-admits exactly what the build stage copies."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "**"
    admitted = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = {
        source.rstrip("/")
        for i in stages()[0]
        if i.keyword == "COPY"
        for source in i.args.split()[:-1]
    }
    assert admitted == copied
    for source in copied:
        assert (ROOT / source).exists(), f"the build copies {source}, which does not exist"


# -- the Kubernetes example ---------------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    """Every object of deploy/kubernetes, by kind (PyYAML, when installed)."""
    yaml = pytest.importorskip("yaml")
    by_kind: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in by_kind, f"two {document['kind']} objects"
            by_kind[document["kind"]] = document
    return by_kind


def container() -> dict[str, Any]:
    """The relay container of the Deployment."""
    containers: list[dict[str, Any]] = manifests()["Deployment"]["spec"]["template"]["spec"][
        "containers"
    ]
    (relay,) = containers
    return relay


def test_manifests_parse_into_the_expected_objects() -> None:
    """Each file is valid YAML; together: the ten objects of the example."""
    assert set(manifests()) == {
        "ConfigMap",
        "Deployment",
        "Kustomization",
        "PodDisruptionBudget",
        "PrometheusRule",
        "ScaledObject",
        "Secret",
        "Service",
        "ServiceMonitor",
        "TriggerAuthentication",
    }


def test_probes_grace_and_resources_match_the_relay() -> None:
    """Liveness /healthz, readiness /readyz on the metrics port; grace above the drain."""
    objects = manifests()
    config = objects["ConfigMap"]["data"]
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    relay = container()
    ports = {p["name"]: p["containerPort"] for p in relay["ports"]}
    assert ports["metrics"] == int(config["RELAY_METRICS_PORT"])
    assert relay["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert relay["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert pod["terminationGracePeriodSeconds"] > float(config["RELAY_SHUTDOWN_GRACE_SECONDS"])
    assert {"cpu", "memory"} <= set(relay["resources"]["requests"])
    assert "memory" in relay["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert relay["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_hmac_secret_is_a_file_from_the_secret() -> None:
    """HMAC_PRODUCER_SECRET_FILE points into the mounted Secret, at a key the Secret has."""
    objects = manifests()
    env = {e["name"]: e["value"] for e in container()["env"]}
    assert "HMAC_PRODUCER_SECRET" not in env
    (mount,) = container()["volumeMounts"]
    (volume,) = objects["Deployment"]["spec"]["template"]["spec"]["volumes"]
    assert mount["name"] == volume["name"]
    assert mount["readOnly"] is True
    assert volume["secret"]["secretName"] == objects["Secret"]["metadata"]["name"]
    keys = set(objects["Secret"]["stringData"])
    for name, path in env.items():
        if name.endswith("_FILE"):
            directory, _, key = path.rpartition("/")
            assert directory == mount["mountPath"]
            assert key in keys
    assert env["HMAC_PRODUCER_SECRET_FILE"].endswith("/hmac-secret")


def test_replicas_never_exceed_the_partitions_keda_scales_to() -> None:
    """KEDA owns replicas (1..partitions); it watches the relay's own group and topic."""
    objects = manifests()
    deployment = objects["Deployment"]
    scaled = objects["ScaledObject"]["spec"]
    config = objects["ConfigMap"]["data"]
    assert "replicas" not in deployment["spec"], "a fixed count fights KEDA on every apply"
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    text = (KUBERNETES / "deployment.yaml").read_text()
    assert "partitions" in text.split("strategy:")[0].rsplit("spec:", 1)[1]
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["topic"] == config["KAFKA_TOPIC"]
    assert trigger["metadata"]["consumerGroup"] == config["KAFKA_GROUP_ID"]
    assert trigger["metadata"]["bootstrapServers"] == config["KAFKA_BOOTSTRAP_SERVERS"]
    assert scaled["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb_selector = objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]
    assert pdb_selector.items() <= labels.items()


def test_every_variable_named_in_the_manifests_is_read_by_the_relay() -> None:
    """Grep-level (no YAML parser needed): each VARIABLE_NAME is a declared relay setting."""
    declared = {v.name for v in variables()} | {v.file_variant for v in variables()}
    declared |= {"SASL_SSL"}  # a value (KAFKA_SECURITY_PROTOCOL), not a variable
    names = {
        name
        for path in KUBERNETES.glob("*.yaml")
        for name in re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", path.read_text())
    }
    assert {"HMAC_PRODUCER_SECRET_FILE", "RELAY_SHUTDOWN_GRACE_SECONDS"} <= names
    for name in sorted(names):
        assert name in declared, f"{name} is not a relay setting"


def test_the_example_configuration_loads(tmp_path: Path) -> None:
    """ConfigMap plus the Secret's files (placeholders) make valid settings."""
    objects = manifests()
    config: dict[str, str] = objects["ConfigMap"]["data"]
    files = {}
    for variable in container()["env"]:
        local = tmp_path / variable["value"].rpartition("/")[2]
        local.write_text(objects["Secret"]["stringData"][local.name])
        files[variable["name"]] = str(local)
    settings = load_settings({**config, **files})
    assert settings.metrics_port == 9400
    assert settings.shutdown_grace_seconds == float(config["RELAY_SHUTDOWN_GRACE_SECONDS"])
    assert settings.topic == config["KAFKA_TOPIC"]
    assert settings.alerts.telegram_bot_token is not None
