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
from consumer.config._tls_files import key_password, readable_file
from signing._profile import SigningProfile, build_signer
from signing._tls import ClientCertificate, ClientCertificateError, client_ssl_context
from signing.errors import SigningInputError
from signing.signature import MIN_SECRET_BYTES, is_valid_producer_id

__all__ = ["OutboundVariables"]

# The variable to fix for each part of a client certificate that does not load.
_CERTIFICATE_PARTS = {
    "cert": "OUTBOUND_TLS_CERT_FILE",
    "key": "OUTBOUND_TLS_KEY_FILE",
    "password": "OUTBOUND_TLS_KEY_PASSWORD_FILE",
}


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
    tls_cert_file: Annotated[str | None, AfterValidator(readable_file)] = Field(
        None,
        validation_alias="OUTBOUND_TLS_CERT_FILE",
        description="PEM client certificate (then its chain) presented to the server (mutual TLS)",
    )
    tls_key_file: Annotated[str | None, AfterValidator(readable_file)] = Field(
        None,
        validation_alias="OUTBOUND_TLS_KEY_FILE",
        description="PEM private key of OUTBOUND_TLS_CERT_FILE, unless that file holds it",
    )
    tls_key_password: Annotated[Secret | None, BeforeValidator(key_password)] = Field(
        None,
        repr=False,
        validation_alias="OUTBOUND_TLS_KEY_PASSWORD_FILE",
        description="file holding the password of an encrypted OUTBOUND_TLS_KEY_FILE",
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

    @field_validator("tls_key_password")
    @classmethod
    def _client_certificate_loads(cls, value: Secret | None, info: ValidationInfo) -> Secret | None:
        """The certificate, key and password load together, as the TLS clients will load them."""
        if "tls_cert_file" not in info.data or "tls_key_file" not in info.data:
            return value  # a file refused already; one line says so
        cert, key = info.data["tls_cert_file"], info.data["tls_key_file"]
        if cert is None:
            for variable, given in (
                ("OUTBOUND_TLS_KEY_FILE", key),
                (_CERTIFICATE_PARTS["password"], value),
            ):
                if given is not None:
                    raise refuse("is set without OUTBOUND_TLS_CERT_FILE", variable)
            return value
        password = None if value is None else value.reveal()
        try:
            client_ssl_context(True, ClientCertificate(cert, key, password))
        except ClientCertificateError as exc:
            raise refuse(exc.problem, _CERTIFICATE_PARTS[exc.part]) from None
        return value

    @property
    def tls_client_certificate(self) -> ClientCertificate | None:
        """The certificate presented to the server, or None without mutual TLS."""
        if self.tls_cert_file is None:
            return None
        password = None if self.tls_key_password is None else self.tls_key_password.reveal()
        return ClientCertificate(self.tls_cert_file, self.tls_key_file, password)

    signing_profile: SigningProfile = Field(
        "seed",
        validation_alias="OUTBOUND_SIGNING_PROFILE",
        description="`seed` (X-Signature) or `standard-webhooks` (`webhook-*` headers; a"
        " `whsec_` secret is base64 of the key)",
    )

    @field_validator("signing_profile")
    @classmethod
    def _secret_signs_in_profile(cls, value: SigningProfile, info: ValidationInfo) -> str:
        """The secret gives a key in this profile (a `whsec_` one must be base64 of 16+ bytes)."""
        secret = info.data.get("secret")
        producer_id = info.data.get("producer_id")
        if isinstance(secret, Secret) and isinstance(producer_id, str):
            try:
                build_signer(value, secret.reveal(), producer_id=producer_id)
            except SigningInputError as exc:
                raise refuse(f"HMAC_PRODUCER_SECRET cannot sign in this profile: {exc}") from None
        return value

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
