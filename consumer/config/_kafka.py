"""The Kafka variables: brokers, topics, group membership, and the SASL/TLS security settings."""

from __future__ import annotations

import importlib.util
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from consumer.config import _syntax as syntax
from consumer.config._environment import EnvironmentSettings, Integer
from consumer.config._errors import refuse
from consumer.config._secrets import FileVariant, Secret, ca_bundle
from consumer.config._tls_files import key_password, readable_file
from signing._tls import ClientCertificate, ClientCertificateError, client_ssl_context

__all__ = ["SASL_MECHANISMS", "KafkaSecurity", "KafkaVariables"]

SASL_MECHANISMS = ("PLAIN", "GSSAPI", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_PASSWORD_MECHANISMS = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
_MAX_TOPIC = 249
# The variable to fix for each part of a client certificate that does not load.
_KEY_PARTS = {
    "cert": "KAFKA_SSL_CERTFILE",
    "key": "KAFKA_SSL_KEYFILE",
    "password": "KAFKA_SSL_KEY_PASSWORD_FILE",
}
_INSTANCE_ID = re.compile(r"[A-Za-z0-9._-]{1,249}")


def _optional_instance_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not _INSTANCE_ID.fullmatch(value):
        raise refuse("must be 1-249 characters of A-Z a-z 0-9 . _ -")
    return value


class KafkaVariables(EnvironmentSettings):
    """Where the relay consumes, and how it takes part in its consumer group."""

    bootstrap_servers: Annotated[str, AfterValidator(syntax.bootstrap_servers)] = Field(
        "localhost:9092",
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
        description="brokers, host[:port][,host[:port]...]",
    )
    topic: Annotated[str, AfterValidator(syntax.topic)] = Field(
        "signals.candidates", validation_alias="KAFKA_TOPIC", description="topic of candidates"
    )
    group_id: Annotated[str, AfterValidator(syntax.printable)] = Field(
        "signal-relay",
        validation_alias="KAFKA_GROUP_ID",
        description="consumer group; every process of one relay shares it",
    )
    dlq_topic: str = Field(
        "",
        validation_alias="KAFKA_DLQ_TOPIC",
        description="dead-letter topic (default `<KAFKA_TOPIC>.dlq`); must differ from KAFKA_TOPIC",
    )
    session_timeout_ms: Integer = Field(
        10000,
        ge=1000,
        le=300000,
        validation_alias="KAFKA_SESSION_TIMEOUT_MS",
        description="group session timeout",
    )
    heartbeat_interval_ms: Integer = Field(
        3000,
        ge=100,
        le=100000,
        validation_alias="KAFKA_HEARTBEAT_INTERVAL_MS",
        description="heartbeat interval; at most a third of the session timeout",
    )
    rebalance_timeout_ms: Integer = Field(
        60000,
        ge=1000,
        le=600000,
        validation_alias="KAFKA_REBALANCE_TIMEOUT_MS",
        description="how long the group waits for a member to rejoin",
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest",
        validation_alias="KAFKA_AUTO_OFFSET_RESET",
        description="where a new group starts",
    )
    fetch_max_wait_ms: Integer = Field(
        100,
        ge=1,
        le=30000,
        validation_alias="KAFKA_FETCH_MAX_WAIT_MS",
        description="longest a fetch waits for KAFKA_FETCH_MIN_BYTES; bounds latency when idle",
    )
    fetch_min_bytes: Integer = Field(
        1,
        ge=1,
        le=52428800,
        validation_alias="KAFKA_FETCH_MIN_BYTES",
        description="bytes a fetch waits for before answering; 1 = answer as soon as a record",
    )
    max_partition_fetch_bytes: Integer = Field(
        1048576,
        ge=1024,
        le=104857600,
        validation_alias="KAFKA_MAX_PARTITION_FETCH_BYTES",
        description="most bytes one fetch returns per partition",
    )
    isolation_level: Literal["read_committed", "read_uncommitted"] = Field(
        "read_committed",
        validation_alias="KAFKA_ISOLATION_LEVEL",
        description="`read_committed`: records of open or aborted transactions are never "
        "relayed; `read_uncommitted` relays them too",
    )
    group_instance_id: Annotated[str | None, AfterValidator(_optional_instance_id)] = Field(
        None,
        validation_alias="KAFKA_GROUP_INSTANCE_ID",
        description="static membership id (KIP-345): a restart within the session timeout "
        "keeps the partitions without a rebalance; unique per process",
    )

    @field_validator("dlq_topic")
    @classmethod
    def _dlq_differs_from_topic(cls, value: str, info: ValidationInfo) -> str:
        source = info.data.get("topic")
        if not value:
            if source is None:
                return value  # KAFKA_TOPIC is refused already
            if len(source) + len(".dlq") > _MAX_TOPIC:
                raise refuse("is required: the default <KAFKA_TOPIC>.dlq is too long")
            return f"{source}.dlq"
        syntax.topic(value)
        if value == source:
            raise refuse("must differ from KAFKA_TOPIC (dead letters would be relayed)")
        if source is not None and value.replace(".", "_") == source.replace(".", "_"):
            raise refuse(
                "must differ from KAFKA_TOPIC by more than . versus _ (Kafka says they collide)"
            )
        return value

    @field_validator("heartbeat_interval_ms")
    @classmethod
    def _heartbeat_within_session(cls, value: int, info: ValidationInfo) -> int:
        session = info.data.get("session_timeout_ms")
        if session is not None and value * 3 > session:
            raise refuse("must be at most a third of KAFKA_SESSION_TIMEOUT_MS")
        return value


def _sasl_mechanism(value: str | None) -> str | None:
    if value is None:
        return None
    usable = ", ".join(m for m in SASL_MECHANISMS if m != "OAUTHBEARER")
    if value == "OAUTHBEARER":
        raise refuse(f"OAUTHBEARER needs a token provider; use one of {usable}")
    if value not in SASL_MECHANISMS:
        raise refuse(f"must be one of {usable}")
    if value == "GSSAPI" and importlib.util.find_spec("gssapi") is None:
        raise refuse("GSSAPI needs the gssapi package, which is not installed")
    return value


def _utf8(value: Secret | None) -> Secret | None:
    if value is not None:
        try:
            value.reveal().decode("utf-8")
        except UnicodeDecodeError:
            raise refuse("must be UTF-8 text") from None
    return value


def _optional_printable(value: str | None) -> str | None:
    return None if value is None else syntax.printable(value)


class KafkaSecurity(EnvironmentSettings):
    """SASL/TLS settings passed to every aiokafka client."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        validation_alias="KAFKA_SECURITY_PROTOCOL",
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    sasl_mechanism: Annotated[str | None, AfterValidator(_sasl_mechanism)] = Field(
        None,
        validation_alias="KAFKA_SASL_MECHANISM",
        description="PLAIN, GSSAPI, SCRAM-SHA-256 or SCRAM-SHA-512; required with SASL",
    )
    sasl_username: Annotated[str | None, AfterValidator(_optional_printable)] = Field(
        None,
        validation_alias="KAFKA_SASL_USERNAME",
        description="SASL user; required with PLAIN and SCRAM",
    )
    sasl_password: Annotated[Secret | None, FileVariant(), AfterValidator(_utf8)] = Field(
        None,
        validation_alias="KAFKA_SASL_PASSWORD",
        description="SASL password (UTF-8); required with PLAIN and SCRAM",
    )
    ssl_cafile: Annotated[str | None, AfterValidator(ca_bundle)] = Field(
        None,
        validation_alias="KAFKA_SSL_CAFILE",
        description="PEM CA bundle for the brokers' TLS (SSL and SASL_SSL)",
    )
    ssl_certfile: Annotated[str | None, AfterValidator(readable_file)] = Field(
        None,
        validation_alias="KAFKA_SSL_CERTFILE",
        description="PEM client certificate presented to the brokers (SSL and SASL_SSL)",
    )
    ssl_keyfile: Annotated[str | None, AfterValidator(readable_file)] = Field(
        None,
        validation_alias="KAFKA_SSL_KEYFILE",
        description="PEM private key of KAFKA_SSL_CERTFILE, unless that file holds it",
    )
    ssl_key_password: Annotated[Secret | None, BeforeValidator(key_password)] = Field(
        None,
        repr=False,
        validation_alias="KAFKA_SSL_KEY_PASSWORD_FILE",
        description="file holding the password of an encrypted KAFKA_SSL_KEYFILE",
    )

    @field_validator("sasl_mechanism")
    @classmethod
    def _mechanism_with_sasl(cls, value: str | None, info: ValidationInfo) -> str | None:
        protocol = info.data.get("protocol", "")
        if value is None and protocol.startswith("SASL"):
            raise refuse(f"is required with {protocol}")
        return value

    @field_validator("sasl_username", "sasl_password")
    @classmethod
    def _credentials_with_password_mechanisms(cls, value: object, info: ValidationInfo) -> object:
        mechanism = info.data.get("sasl_mechanism")
        sasl = info.data.get("protocol", "").startswith("SASL")
        if value is None and sasl and mechanism in _PASSWORD_MECHANISMS:
            if info.field_name == "sasl_username":
                raise refuse(f"is required with {mechanism}")
            raise refuse(f"is required (or KAFKA_SASL_PASSWORD_FILE) with {mechanism}")
        return value

    @field_validator("ssl_cafile", "ssl_certfile")
    @classmethod
    def _ca_file_with_tls(cls, value: str | None, info: ValidationInfo) -> str | None:
        protocol = info.data.get("protocol")
        if value is not None and protocol is not None and protocol not in {"SSL", "SASL_SSL"}:
            raise refuse(f"is set, but KAFKA_SECURITY_PROTOCOL {protocol} does not use TLS")
        return value

    @field_validator("ssl_key_password")
    @classmethod
    def _client_certificate_loads(cls, value: Secret | None, info: ValidationInfo) -> Secret | None:
        """The certificate, key and password load together, as aiokafka will load them."""
        if "ssl_certfile" not in info.data or "ssl_keyfile" not in info.data:
            return value  # a file refused already; one line says so
        cert, key = info.data["ssl_certfile"], info.data["ssl_keyfile"]
        if cert is None:
            for variable, given in (("KAFKA_SSL_KEYFILE", key), (_KEY_PARTS["password"], value)):
                if given is not None:
                    raise refuse("is set without KAFKA_SSL_CERTFILE", variable)
            return value
        password = None if value is None else value.reveal()
        try:
            client_ssl_context(True, ClientCertificate(cert, key, password))
        except ClientCertificateError as exc:
            raise refuse(exc.problem, _KEY_PARTS[exc.part]) from None
        return value

    @property
    def client_certificate(self) -> ClientCertificate | None:
        """The certificate presented to the brokers, or None."""
        if self.ssl_certfile is None:
            return None
        password = None if self.ssl_key_password is None else self.ssl_key_password.reveal()
        return ClientCertificate(self.ssl_certfile, self.ssl_keyfile, password)
