"""Start-up configuration: the environment read once into one frozen, validated `Settings`.

Every variable is declared once, as a pydantic-settings field (name, type, default, bounds,
one-line description); secrets may come from a `*_FILE` variant and never show in a message or
a repr. Every problem found is reported together, one `VARIABLE: problem` line each; the CLI
prints them and exits with status 2.

Errors:

    ValueError
    └── ConfigError    one or more settings are missing or invalid (`problems`)
"""

from consumer.config._alerts import AlertSettings
from consumer.config._environment import Variable
from consumer.config._errors import ConfigError, Problem
from consumer.config._kafka import KafkaSecurity
from consumer.config._load import load_kafka_security, load_settings, variables
from consumer.config._relay import RetrySettings, Settings
from consumer.config._secrets import Secret, read_secret_file

__all__ = [
    "AlertSettings",
    "ConfigError",
    "KafkaSecurity",
    "Problem",
    "RetrySettings",
    "Secret",
    "Settings",
    "Variable",
    "load_kafka_security",
    "load_settings",
    "read_secret_file",
    "variables",
]
