"""How a settings class is declared and read: one field per variable, every problem in words.

A field's `validation_alias` is its variable's name and its `description` the one line the
README's table repeats. Values are read from the mapping given (never implicitly from
`os.environ`, a `.env` file or a secrets directory), stripped, and an empty value counts as
unset. Pydantic's own messages never reach the operator: each error is translated here into a
`Problem` that names the variable and never shows the value it refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self, get_args, get_origin

from pydantic import BeforeValidator, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from consumer.config._errors import ConfigError, Problem, refuse
from consumer.config._secrets import FileVariant, secret_input

__all__ = [
    "EnvironmentSettings",
    "Flag",
    "Integer",
    "Number",
    "Variable",
    "declared",
    "parse_flag",
]


def parse_flag(value: object) -> object:
    """True for 1/true/yes/on, False for 0/false/no/off (any case); anything else is refused."""
    if not isinstance(value, str):
        return value
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise refuse("must be true or false")


def _integer(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return int(value)
    except ValueError:
        raise refuse("must be a number") from None


def _number(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return float(value)
    except ValueError:
        raise refuse("must be a number") from None


Flag = Annotated[bool, BeforeValidator(parse_flag)]
"""true/false, 1/0, yes/no, on/off (any case); nothing else."""
Integer = Annotated[int, BeforeValidator(_integer)]
"""A whole number as Python writes it."""
Number = Annotated[float, BeforeValidator(_number)]
"""A finite number as Python writes it (declare it with `allow_inf_nan=False`)."""


class EnvironmentSettings(BaseSettings):
    """Base of every settings class: frozen, each field one variable, read from a mapping."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        case_sensitive=True,
        validate_default=True,
        validate_by_alias=True,
        validate_by_name=True,
        arbitrary_types_allowed=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the caller passes: `from_environment` reads the mapping it is given."""
        return (init_settings,)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], **given: object) -> Self:
        """Validate `environ` (and fields `given` by name); a `ConfigError` lists every problem."""
        values: dict[str, Any] = {**_inputs(cls, environ), **given}
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError.of([_problem(cls, error) for error in exc.errors()]) from None


@dataclass(frozen=True, slots=True)
class Variable:
    """One declared environment variable.

    Attributes:
        name: the variable, as the operator sets it.
        description: its one-line description.
        file_variant: `NAME_FILE`, when the value may be read from a file instead.
        required: whether start-up fails without it.
    """

    name: str
    description: str
    file_variant: str | None
    required: bool


def declared(settings: type[EnvironmentSettings]) -> list[Variable]:
    """The variables `settings` declares, in declaration order."""
    return [
        Variable(
            name=field.validation_alias,
            description=field.description or "",
            file_variant=f"{field.validation_alias}_FILE" if _has_file_variant(field) else None,
            required=field.is_required(),
        )
        for field in settings.model_fields.values()
        if isinstance(field.validation_alias, str)
    ]


def _has_file_variant(field: FieldInfo) -> bool:
    return any(isinstance(item, FileVariant) for item in field.metadata)


def _inputs(settings: type[EnvironmentSettings], environ: Mapping[str, str]) -> dict[str, object]:
    """The values `environ` gives for the variables `settings` declares, keyed by variable."""
    present = {name: value.strip() for name, value in environ.items() if value.strip()}
    values: dict[str, object] = {}
    for field in settings.model_fields.values():
        name = field.validation_alias
        if not isinstance(name, str):
            continue
        value = secret_input(present, name) if _has_file_variant(field) else present.get(name)
        if value is not None:
            values[name] = value
    return values


def _problem(settings: type[EnvironmentSettings], error: ErrorDetails) -> Problem:
    """The operator's words for one pydantic error; never pydantic's own, which echo input."""
    field_name = str(error["loc"][0]) if error["loc"] else ""
    field = settings.model_fields.get(field_name) or next(
        (f for f in settings.model_fields.values() if f.validation_alias == field_name), None
    )
    variable = field.validation_alias if field and isinstance(field.validation_alias, str) else ""
    context: dict[str, Any] = dict(error.get("ctx") or {})
    kind = error["type"]
    if kind == "config":
        return Problem(context.get("variable") or variable, error["msg"])
    return Problem(variable or field_name, _words(kind, context, field))


def _words(kind: str, context: Mapping[str, Any], field: FieldInfo | None) -> str:
    if kind == "missing":
        if field is not None and _has_file_variant(field):
            return f"is required (or {field.validation_alias}_FILE)"
        return "is required"
    if kind == "greater_than_equal":
        return f"must be at least {_bound(context['ge'])}"
    if kind == "less_than_equal":
        return f"must be at most {_bound(context['le'])}"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "literal_error" and field is not None:
        return f"must be one of {', '.join(_choices(field.annotation))}"
    return f"is not valid ({kind})"


def _bound(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and value == int(value) else f"{value:g}"


def _choices(annotation: object) -> list[str]:
    """The allowed values of a `Literal` (or `Literal | None`) annotation."""
    if get_origin(annotation) is Literal:
        return [str(choice) for choice in get_args(annotation)]
    return [choice for part in get_args(annotation) for choice in _choices(part)]
