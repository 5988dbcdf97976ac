"""The schemas package exports what it defines, including every RecordError case."""

from __future__ import annotations

import schemas


def test_every_exported_member_belongs_to_the_package() -> None:
    """Each exported member is defined in a schemas submodule."""
    for name in schemas.__all__:
        member = getattr(schemas, name)
        assert member.__module__.startswith("schemas."), name


def test_every_record_error_is_exported() -> None:
    """Each RecordError subclass is part of the public surface, with its DLQ reason."""
    exported = {getattr(schemas, name) for name in schemas.__all__}
    pending: list[type[schemas.RecordError]] = [schemas.RecordError]
    while pending:
        error = pending.pop()
        pending.extend(error.__subclasses__())
        if not error.__module__.startswith("schemas."):
            continue  # a refinement defined by a user of the package (consumer.service._prepare)
        assert error in exported
        if error is not schemas.RecordError:
            assert error.dlq_reason in {"invalid_json", "invalid_schema", "too_large"}
