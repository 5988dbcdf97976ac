"""Each package has one error root, and the tree drawn in its errors module is the code's tree."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

ROOTS = {
    "consumer": ("consumer.errors", "SignalRelayError"),
    "signing": ("signing.errors", "SigningError"),
    "schemas": ("schemas.errors", "RecordError"),
}
# `├── Name` / `└── Name` in a drawn tree; the column of the name is its depth.
_NODE = re.compile(r"[├└]── (\w+)")


def _modules(package: str) -> list[ModuleType]:
    """The package and every module under it (`__main__` left out: importing it runs the CLI)."""
    root = importlib.import_module(package)
    names = [
        info.name
        for info in pkgutil.walk_packages(root.__path__, f"{package}.")
        if not info.name.endswith(".__main__")
    ]
    return [root, *(importlib.import_module(name) for name in names)]


def _defined_exceptions(package: str) -> dict[str, type[BaseException]]:
    """Every exception class defined (not just imported) under `package`, by name."""
    found: dict[str, type[BaseException]] = {}
    for module in _modules(package):
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                assert found.setdefault(name, value) is value, f"two classes named {name}"
    return found


def _drawn_tree(doc: str, root: str) -> dict[str, str | None]:
    """Each class drawn in `doc`'s tree under `root` -> the class drawn as its parent."""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == root)
    base_column = lines[start].index(root)
    parents: dict[str, str | None] = {root: None}
    path: list[tuple[int, str]] = [(base_column, root)]
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        match = _NODE.search(line)
        if match is None:
            continue  # an explanation carried onto the next line
        column = match.start(1)
        while path and path[-1][0] >= column:
            path.pop()
        assert path, f"{match.group(1)} is drawn left of the root"
        parents[match.group(1)] = path[-1][1]
        path.append((column, match.group(1)))
    return parents


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_every_exception_derives_from_the_package_root(package: str) -> None:
    """Every exception class defined under the package is a subclass of its one root."""
    module, name = ROOTS[package]
    root = getattr(importlib.import_module(module), name)
    outside = [
        error for error in _defined_exceptions(package).values() if not issubclass(error, root)
    ]
    assert outside == []


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_the_drawn_tree_is_the_code(package: str) -> None:
    """The errors module draws each class once, under a class it directly derives from."""
    module_name, root = ROOTS[package]
    drawn = _drawn_tree(importlib.import_module(module_name).__doc__ or "", root)
    defined = _defined_exceptions(package)

    assert sorted(drawn) == sorted(defined)
    for name, parent in drawn.items():
        if parent is not None:
            assert defined[parent] in defined[name].__bases__, f"{name} is not a {parent}"
