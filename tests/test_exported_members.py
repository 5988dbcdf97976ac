"""The public surface of each package is exactly its sorted `__all__`."""

import importlib
from pathlib import Path

import pytest


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions: the order ruff's RUF022 keeps."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


PACKAGES = [
    "schemas",
    "signing",
    "signing.receiver",
    "consumer.service",
    "consumer.adapters",
    "consumer.ops",
    "consumer.tools",
    "consumer.devkit",
    "consumer.cli",
    "consumer.config",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_every_name_exists(package: str) -> None:
    """`__all__` is sorted, unique, and each exported name resolves on the package."""
    module = importlib.import_module(package)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(module, name), f"{package}.{name} is exported but missing"


@pytest.mark.parametrize("package", PACKAGES)
def test_public_names_are_all_exported(package: str) -> None:
    """Every public class or function defined in the package namespace is in `__all__`."""
    module = importlib.import_module(package)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith(package)
    }
    assert public <= set(module.__all__)


@pytest.mark.parametrize("package", [p for p in PACKAGES if p.startswith("consumer.")])
def test_modules_inside_consumer_packages_are_private(package: str) -> None:
    """Inside `consumer/`, a subpackage's modules are private: its `__init__` is the surface."""
    module = importlib.import_module(package)
    folder = Path(module.__file__ or "").parent
    public = [p.name for p in folder.glob("*.py") if not p.name.startswith("_")]
    assert public == []
