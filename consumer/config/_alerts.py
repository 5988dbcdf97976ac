"""The alert variables: when operator alerts fire and where they go."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from consumer.config import _syntax as syntax
from consumer.config._environment import EnvironmentSettings, Integer, Number
from consumer.config._errors import refuse
from consumer.config._secrets import FileVariant, Secret

__all__ = ["AlertSettings"]

_TELEGRAM_TOKEN = re.compile(rb"[A-Za-z0-9:_-]+")
_TELEGRAM_CHAT = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")


def _telegram_token(value: Secret | None) -> Secret | None:
    # The token becomes part of a URL path: anything else would change the request.
    if value is not None and not _TELEGRAM_TOKEN.fullmatch(value.reveal()):
        raise refuse("must look like 123456:ABC-def_ghi")
    return value


def _telegram_chat(value: str | None) -> str | None:
    if value is not None and not _TELEGRAM_CHAT.fullmatch(value):
        raise refuse("must be a chat number (-100123...) or @channelname")
    return value


def _webhook(value: Secret | None) -> Secret | None:
    if value is not None:
        syntax.http_url(value.reveal().decode("utf-8", "replace"))
    return value


class AlertSettings(EnvironmentSettings):
    """When operator alerts fire and where they go; with no sink, alerts are log events only."""

    telegram_bot_token: Annotated[Secret | None, FileVariant(), AfterValidator(_telegram_token)] = (
        Field(
            None,
            validation_alias="ALERT_TELEGRAM_BOT_TOKEN",
            description="Telegram Bot API token (a secret: it only ever travels in the URL)",
        )
    )
    telegram_chat_id: Annotated[str | None, AfterValidator(_telegram_chat)] = Field(
        None,
        validation_alias="ALERT_TELEGRAM_CHAT_ID",
        description="the chat the bot writes to (-100123... or @channel); set with the token",
    )
    telegram_api_url: Annotated[str, AfterValidator(syntax.telegram_api_url)] = Field(
        "https://api.telegram.org",
        validation_alias="ALERT_TELEGRAM_API_URL",
        description="Telegram Bot API base URL (tests point it at loopback)",
    )
    webhook_url: Annotated[Secret | None, FileVariant(), AfterValidator(_webhook)] = Field(
        None,
        validation_alias="ALERT_WEBHOOK_URL",
        description="generic JSON webhook; a secret, as such URLs often embed a token",
    )
    systemic_after_seconds: Number = Field(
        60.0,
        ge=0,
        le=86400,
        allow_inf_nan=False,
        validation_alias="ALERT_SYSTEMIC_AFTER_SECONDS",
        description="how long a systemic failure lasts before it is alerted",
    )
    key_failure_threshold: Integer = Field(
        10,
        ge=0,
        validation_alias="ALERT_KEY_FAILURE_THRESHOLD",
        description="attempts of one record that make its key alert; 0 = never",
    )
    min_interval_seconds: Number = Field(
        300.0,
        ge=0,
        le=86400,
        allow_inf_nan=False,
        validation_alias="ALERT_MIN_INTERVAL_SECONDS",
        description="at most one alert per (kind, key) in this many seconds",
    )
    max_per_hour: Integer = Field(
        30,
        ge=1,
        validation_alias="ALERT_MAX_PER_HOUR",
        description="at most this many alerts in any hour, all kinds together",
    )
    timeout_seconds: Number = Field(
        10.0,
        ge=0.1,
        le=60,
        allow_inf_nan=False,
        validation_alias="ALERT_TIMEOUT_SECONDS",
        description="timeout of one request to an alert sink",
    )

    @field_validator("telegram_chat_id")
    @classmethod
    def _token_and_chat_together(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "telegram_bot_token" not in info.data:
            return value  # the token is refused already
        token = info.data["telegram_bot_token"]
        if token is not None and value is None:
            raise refuse("is required when the other Telegram setting is set")
        if token is None and value is not None:
            raise refuse(
                "is required when the other Telegram setting is set", "ALERT_TELEGRAM_BOT_TOKEN"
            )
        return value
