"""Reading the environment once: every group validated, every problem reported together."""

from __future__ import annotations

from collections.abc import Mapping

from consumer.config._alerts import AlertSettings
from consumer.config._environment import EnvironmentSettings, Variable, declared
from consumer.config._errors import ConfigError, Problem
from consumer.config._kafka import KafkaSecurity
from consumer.config._relay import RetrySettings, Settings

__all__ = ["load_kafka_security", "load_settings", "variables"]

_GROUPS: tuple[tuple[str, type[EnvironmentSettings]], ...] = (
    ("retry", RetrySettings),
    ("kafka_security", KafkaSecurity),
    ("alerts", AlertSettings),
)


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Validate the environment into `Settings`, or raise a `ConfigError` listing every problem.

    Each group is validated even when another fails, and a rule between two variables is
    checked whenever both are valid, so one start-up shows everything there is to fix.
    """
    problems: list[Problem] = []
    groups: dict[str, EnvironmentSettings] = {}
    for field, group in _GROUPS:
        try:
            groups[field] = group.from_environment(environ)
        except ConfigError as exc:
            problems.extend(exc.problems)
    try:
        settings = Settings.from_environment(environ, **groups)
    except ConfigError as exc:
        problems[:0] = exc.problems
    if problems:
        raise ConfigError.of(problems)
    return settings


def load_kafka_security(environ: Mapping[str, str]) -> KafkaSecurity:
    """Only the Kafka SASL/TLS settings, for tools that talk to Kafka but not to the server."""
    return KafkaSecurity.from_environment(environ)


def variables() -> list[Variable]:
    """Every variable the relay reads, in declaration order (the README's table lists them)."""
    every: list[type[EnvironmentSettings]] = [Settings, *(group for _, group in _GROUPS)]
    return [variable for settings in every for variable in declared(settings)]
