"""The README's configuration table and the declared settings name the same variables."""

import re
from pathlib import Path

from consumer.config import variables

README = Path(__file__).resolve().parent.parent / "README.md"
_NAME = re.compile(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`")


def documented() -> set[str]:
    """Variables named in the first column of the table under `## Configuration`."""
    text = README.read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return {name for row in rows[2:] for name in _NAME.findall(row.split("|")[1])}


def declared() -> set[str]:
    """Every declared variable, with the `*_FILE` variant of each secret."""
    names = {variable.name for variable in variables()}
    return names | {v.file_variant for v in variables() if v.file_variant is not None}


def test_every_declared_variable_is_in_the_readme_table() -> None:
    """Each variable the relay reads, and each `*_FILE` variant, has a row in the README."""
    assert sorted(declared() - documented()) == []


def test_every_variable_in_the_readme_table_is_declared() -> None:
    """The README documents no variable the relay does not read."""
    assert sorted(documented() - declared()) == []


def test_every_variable_has_a_one_line_description() -> None:
    """Each declaration carries a non-empty, one-line description, and no name is declared twice."""
    names = [variable.name for variable in variables()]
    assert len(names) == len(set(names))
    for variable in variables():
        assert variable.description.strip(), variable.name
        assert "\n" not in variable.description, variable.name
