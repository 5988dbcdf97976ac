"""The public surface of `signing.receiver`: a sorted `__all__` of names that exist."""

import signing.receiver


def test_all_is_sorted_and_every_name_exists() -> None:
    """`__all__` is sorted (constants, classes, functions) and every name resolves."""
    names = signing.receiver.__all__

    assert names == sorted(
        names, key=lambda name: (not name.isupper(), not name[0].isupper(), name)
    )
    assert all(hasattr(signing.receiver, name) for name in names)
