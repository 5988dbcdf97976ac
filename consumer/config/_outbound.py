"""The outbound variables: who signs, with which secret, and how signals reach the server."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from consumer.config import _syntax as syntax
from consumer.config._environment import EnvironmentSettings, Flag, Integer, Number, parse_flag
from consumer.config._errors import refuse
from consumer.config._secrets import FileVariant, Secret, ca_bundle
from signing.signature import MIN_SECRET_BYTES, is_valid_producer_id

__all__ = ["OutboundVariables"]


def _producer_id(value: str) -> str:
    if not is_valid_producer_id(value):
        raise refuse("must match ^[A-Za-z0-9._-]{1,64}$")
    return value


def _transport_installed(value: str) -> str:
    if value == "pyreqwest" and find_spec("pyreqwest") is None:
        raise refuse("pyreqwest needs the 'pyreqwest' extra: pip install 'signal-relay[pyreqwest]'")
    return value


class OutboundVariables(EnvironmentSettings):
    """The producer's identity and secret, and the server every signal is POSTed to."""

    producer_id: Annotated[str, AfterValidator(_producer_id)] = Field(
        validation_alias="PRODUCER_ID",
        description="this producer's id in every signature, `^[A-Za-z0-9._-]{1,64}$`",
    )
    secret: Annotated[Secret, FileVariant(min_bytes=MIN_SECRET_BYTES)] = Field(
        repr=False,
        validation_alias="HMAC_PRODUCER_SECRET",
        description=f"HMAC signing secret, at least {MIN_SECRET_BYTES} bytes; never logged",
    )
    server_url: Annotated[str, AfterValidator(syntax.server_url)] = Field(
        validation_alias="OUTBOUND_SERVER_URL",
        description="the signal server's http(s) base URL, e.g. `https://signals.example.com`",
    )
    enabled: Flag = Field(
        True,
        validation_alias="HMAC_PRODUCER_ENABLED",
        description="`false` = dry run: validate, sign, log; no POST, no commit",
    )
    ingest_path: Annotated[str, AfterValidator(syntax.ingest_path)] = Field(
        "/api/v1/signals/ingest",
        validation_alias="OUTBOUND_INGEST_PATH",
        description="path every signal is POSTed to",
    )
    timeout_seconds: Number = Field(
        30.0,
        ge=5,
        le=300,
        allow_inf_nan=False,
        validation_alias="OUTBOUND_TIMEOUT_SECONDS",
        description="timeout of one POST",
    )
    max_body_size: Integer = Field(
        65536,
        ge=1024,
        le=10 * 1024 * 1024,
        validation_alias="OUTBOUND_MAX_BODY_SIZE",
        description="largest canonical body sent; larger records go to the DLQ",
    )
    http_transport: Annotated[
        Literal["aiohttp", "httpx", "pyreqwest"], AfterValidator(_transport_installed)
    ] = Field(
        "aiohttp",
        validation_alias="OUTBOUND_HTTP_TRANSPORT",
        description="`aiohttp` (by benchmark), `httpx` (`httpx.AsyncClient`) or `pyreqwest` "
        "(the `pyreqwest` extra; not with `OUTBOUND_TLS_CA_FILE`)",
    )
    tls_ca_file: Annotated[str | None, AfterValidator(ca_bundle)] = Field(
        None,
        validation_alias="OUTBOUND_TLS_CA_FILE",
        description="PEM CA bundle that verifies the server, instead of the system's",
    )
    tls_verify: Annotated[bool | str, BeforeValidator(parse_flag)] = Field(
        True,
        validation_alias="OUTBOUND_TLS_VERIFY",
        description="verify the server's certificate; `false` only for tests",
    )

    @field_validator("tls_verify")
    @classmethod
    def _verify_with_ca_file(cls, value: bool | str, info: ValidationInfo) -> bool | str:
        """The CA bundle's path when one is set (httpx and aiohttp take it as `verify`)."""
        ca_file = info.data.get("tls_ca_file")
        if ca_file is None:
            return value
        if value is False:
            raise refuse("cannot be false when OUTBOUND_TLS_CA_FILE is set")
        return str(ca_file)

    @model_validator(mode="after")
    def _pyreqwest_without_ca_bundle(self) -> Self:
        """reqwest only adds roots to its built-in ones: it cannot trust a CA bundle alone."""
        if self.http_transport == "pyreqwest" and self.tls_ca_file is not None:
            raise refuse(
                "OUTBOUND_HTTP_TRANSPORT=pyreqwest cannot be used with OUTBOUND_TLS_CA_FILE "
                "(it would trust the system's CAs too): use aiohttp or httpx",
                "OUTBOUND_HTTP_TRANSPORT",
            )
        return self
