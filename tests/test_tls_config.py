"""A client certificate that cannot load stops start-up with one line naming the variable to fix.

For the server (OUTBOUND_TLS_*) and the brokers (KAFKA_SSL_*) alike, the certificate, key and
password are loaded together at start-up, as the TLS clients will load them; no message shows
the password.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from consumer.config import ConfigError, load_kafka_security, load_settings

PASSWORD = "key-Pa55word-never-shown"
BASE = {
    "HMAC_PRODUCER_SECRET": "tls-config-secret-0123456789",
    "PRODUCER_ID": "desk-1",
    "OUTBOUND_SERVER_URL": "https://signals.example.com",
}
KAFKA_TLS = {"KAFKA_SECURITY_PROTOCOL": "SSL"}


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A client certificate, its key (plain and encrypted), another key, password files."""
    folder = tmp_path_factory.mktemp("tls-config")
    ca = trustme.CA()
    client, other = ca.issue_cert("relay.example"), ca.issue_cert("other.example")
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
    files = {
        "cert": folder / "client.crt",
        "key": folder / "client.key",
        "encrypted": folder / "client.enc.key",
        "other_key": folder / "other.key",
        "password": folder / "password",
        "wrong_password": folder / "wrong-password",
        "both": folder / "both.pem",
    }
    client.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    other.private_key_pem.write_to_path(str(files["other_key"]))
    files["encrypted"].write_bytes(encrypted)
    files["password"].write_text(PASSWORD + "\n")
    files["wrong_password"].write_text("not-the-password\n")
    files["both"].write_bytes(client.private_key_and_cert_chain_pem.bytes())
    return {name: str(path) for name, path in files.items()}


def _outbound(
    pem: dict[str, str], cert: str, key: str | None, password: str | None
) -> dict[str, str]:
    env = {"OUTBOUND_TLS_CERT_FILE": pem.get(cert, cert)}
    if key is not None:
        env["OUTBOUND_TLS_KEY_FILE"] = pem.get(key, key)
    if password is not None:
        env["OUTBOUND_TLS_KEY_PASSWORD_FILE"] = pem[password]
    return env


def _kafka(pem: dict[str, str], cert: str, key: str | None, password: str | None) -> dict[str, str]:
    env = {**KAFKA_TLS, "KAFKA_SSL_CERTFILE": pem.get(cert, cert)}
    if key is not None:
        env["KAFKA_SSL_KEYFILE"] = pem.get(key, key)
    if password is not None:
        env["KAFKA_SSL_KEY_PASSWORD_FILE"] = pem[password]
    return env


def _one_line(load: object, env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load(env)  # type: ignore[operator]
    text = f"{caught.value!s} {caught.value!r}"
    assert "\n" not in str(caught.value)
    assert PASSWORD not in text
    return str(caught.value)


CASES = [
    # (cert, key, password file, which variable is named, problem)
    ("cert", "other_key", None, "KEY", "the key does not match the certificate"),
    ("cert", "encrypted", None, "KEY", "the key is encrypted; give its password"),
    ("cert", "encrypted", "wrong_password", "PASSWORD", "does not decrypt the key"),
    ("key", "key", None, "CERT", "holds no PEM certificate"),
    ("cert", "cert", None, "KEY", "holds no PEM private key"),
    ("/nonexistent/client.crt", "key", None, "CERT", "cannot read the file"),
    ("cert", "/nonexistent/client.key", None, "KEY", "cannot read the file"),
]
_OUTBOUND_NAMES = {
    "CERT": "OUTBOUND_TLS_CERT_FILE",
    "KEY": "OUTBOUND_TLS_KEY_FILE",
    "PASSWORD": "OUTBOUND_TLS_KEY_PASSWORD_FILE",
}
_KAFKA_NAMES = {
    "CERT": "KAFKA_SSL_CERTFILE",
    "KEY": "KAFKA_SSL_KEYFILE",
    "PASSWORD": "KAFKA_SSL_KEY_PASSWORD_FILE",
}


@pytest.mark.parametrize(("cert", "key", "password", "part", "problem"), CASES)
def test_outbound_client_certificate_refused_in_one_line(
    pem: dict[str, str], cert: str, key: str | None, password: str | None, part: str, problem: str
) -> None:
    """OUTBOUND_TLS_*: the line names the file at fault and what is wrong with it."""
    line = _one_line(load_settings, {**BASE, **_outbound(pem, cert, key, password)})
    assert line.startswith(f"{_OUTBOUND_NAMES[part]}: {problem}")


@pytest.mark.parametrize(("cert", "key", "password", "part", "problem"), CASES)
def test_kafka_client_certificate_refused_in_one_line(
    pem: dict[str, str], cert: str, key: str | None, password: str | None, part: str, problem: str
) -> None:
    """KAFKA_SSL_*: the line names the file at fault and what is wrong with it."""
    line = _one_line(load_kafka_security, _kafka(pem, cert, key, password))
    assert line.startswith(f"{_KAFKA_NAMES[part]}: {problem}")


@pytest.mark.parametrize(
    ("cert", "key", "password"),
    [("cert", "key", None), ("both", None, None), ("cert", "encrypted", "password")],
)
def test_a_loadable_client_certificate_is_accepted(
    pem: dict[str, str], cert: str, key: str | None, password: str | None
) -> None:
    """Cert and key apart, in one file, or an encrypted key with its password file: accepted."""
    settings = load_settings({**BASE, **_outbound(pem, cert, key, password)})
    certificate = settings.tls_client_certificate
    assert certificate is not None
    assert certificate.cert_file == pem[cert]
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in repr(certificate)
    security = load_kafka_security(_kafka(pem, cert, key, password))
    assert security.client_certificate is not None
    assert PASSWORD not in repr(security)


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"OUTBOUND_TLS_KEY_FILE": "key"},
            "OUTBOUND_TLS_KEY_FILE: is set without OUTBOUND_TLS_CERT_FILE",
        ),
        (
            {"OUTBOUND_TLS_KEY_PASSWORD_FILE": "password"},
            "OUTBOUND_TLS_KEY_PASSWORD_FILE: is set without OUTBOUND_TLS_CERT_FILE",
        ),
    ],
)
def test_outbound_key_without_certificate_is_refused(
    pem: dict[str, str], env: dict[str, str], line: str
) -> None:
    """A key or password file without its certificate is a mistake, not ignored."""
    env = {name: pem[value] for name, value in env.items()}
    assert _one_line(load_settings, {**BASE, **env}) == line


def test_kafka_key_without_certificate_is_refused(pem: dict[str, str]) -> None:
    """KAFKA_SSL_KEYFILE without KAFKA_SSL_CERTFILE is refused in one line."""
    line = _one_line(load_kafka_security, {**KAFKA_TLS, "KAFKA_SSL_KEYFILE": pem["key"]})
    assert line == "KAFKA_SSL_KEYFILE: is set without KAFKA_SSL_CERTFILE"


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_kafka_client_certificate_needs_a_tls_protocol(pem: dict[str, str], protocol: str) -> None:
    """KAFKA_SSL_CERTFILE with a protocol without TLS is refused, not silently unused."""
    env = {**_kafka(pem, "cert", "key", None), "KAFKA_SECURITY_PROTOCOL": protocol}
    if protocol.startswith("SASL"):
        env |= {
            "KAFKA_SASL_MECHANISM": "PLAIN",
            "KAFKA_SASL_USERNAME": "relay",
            "KAFKA_SASL_PASSWORD": "relay-password",
        }
    line = _one_line(load_kafka_security, env)
    assert line == (
        f"KAFKA_SSL_CERTFILE: is set, but KAFKA_SECURITY_PROTOCOL {protocol} does not use TLS"
    )


@pytest.mark.parametrize("mechanism", ["OAUTHBEARER", "SCRAM-SHA-1", "NTLM"])
def test_an_unsupported_sasl_mechanism_is_one_line(mechanism: str) -> None:
    """KAFKA_SASL_MECHANISM outside the supported ones is one configuration line."""
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": mechanism}
    line = _one_line(load_kafka_security, env)
    assert line.startswith("KAFKA_SASL_MECHANISM: ")
    assert "PLAIN, GSSAPI, SCRAM-SHA-256, SCRAM-SHA-512" in line


def test_the_password_file_keeps_inner_whitespace(pem: dict[str, str], tmp_path: Path) -> None:
    """Only the line end is taken off a password file: inner and leading spaces are the password."""
    spaced = tmp_path / "spaced"
    spaced.write_text(f" {PASSWORD}\n")
    env = {**BASE, **_outbound(pem, "cert", "encrypted", None)}
    env["OUTBOUND_TLS_KEY_PASSWORD_FILE"] = str(spaced)
    assert _one_line(load_settings, env).startswith(
        "OUTBOUND_TLS_KEY_PASSWORD_FILE: does not decrypt the key"
    )
