"""Print pip constraints pinning the product's dependencies to the floors pyproject.toml admits.

`make test-lowest` installs `.[test]` under these constraints: every version a user may be
handed is one the Kafka-facing tests have run on. Pinned: `[project].dependencies` and the
libraries of the product's own extras (the roles `test` pulls in: receiver, demo, fast, ...),
each at its `>=` floor, plus the floors an extra of a dependency adds (`EXTRA_FLOORS`). The
test tooling itself (pytest, hypothesis, confluent-kafka, ...) is not the product's to admit
and stays unpinned. Usage: lowest_constraints.py [--aiokafka VERSION] [PYPROJECT]
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

# Floors that a dependency's extras add, which pyproject.toml cannot spell: aiokafka's `lz4`
# extra requires cramjam>=2.8.0 (0.12 to 0.14 alike), so that floor is one a user may get.
EXTRA_FLOORS: dict[tuple[str, str], dict[str, str]] = {
    ("aiokafka", "lz4"): {"cramjam": "2.8.0"},
}

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*(.*)$")
_SELF = "signal-relay"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _parse(requirement: str) -> tuple[str, list[str], str | None]:
    """(name, extras, `>=` floor or None) of one requirement string."""
    found = _REQUIREMENT.match(requirement.split(";", 1)[0])
    if found is None:
        raise SystemExit(f"cannot read requirement {requirement!r}")
    name, extras, specifiers = found.groups()
    floor = None
    for spec in (each.strip() for each in specifiers.split(",")):
        if spec.startswith(">="):
            floor = spec[2:].strip()
    return _canonical(name), [e.strip() for e in (extras or "").split(",") if e.strip()], floor


def _product_extras(optional: dict[str, list[str]]) -> list[str]:
    """The product's own role extras: those `test` names through `signal-relay[...]`."""
    roles: list[str] = []
    pending = ["test"]
    while pending:
        for requirement in optional.get(pending.pop(), []):
            name, extras, _ = _parse(requirement)
            if name == _SELF:
                for extra in extras:
                    if extra not in roles:
                        roles.append(extra)
                        pending.append(extra)
    return roles


def constraints(pyproject: dict[str, object], aiokafka: str | None) -> dict[str, str]:
    """Package name -> the version to pin."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    requirements = list(project["dependencies"])
    for role in _product_extras(optional):
        requirements += optional[role]
    pins: dict[str, str] = {}
    for requirement in requirements:
        name, extras, floor = _parse(requirement)
        if name == _SELF:
            continue
        if floor is None:
            raise SystemExit(f"{requirement!r} has no >= floor: nothing to pin it to")
        pins[name] = floor
        for extra in extras:
            pins.update(EXTRA_FLOORS.get((name, extra), {}))
    if aiokafka:
        pins["aiokafka"] = aiokafka
    return pins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", nargs="?", default="pyproject.toml", type=Path)
    parser.add_argument("--aiokafka", help="pin aiokafka to this version instead of its floor")
    args = parser.parse_args()
    pins = constraints(tomllib.loads(args.pyproject.read_text()), args.aiokafka)
    sys.stdout.write("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))


if __name__ == "__main__":
    main()
