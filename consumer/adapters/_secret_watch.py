"""Secret rotation without a restart: the signing secret follows `HMAC_PRODUCER_SECRET_FILE`.

`SecretWatch` is the signer's `SecretProvider`. Each signed attempt asks it for the current
secret; at most once a second that question also stats the file (following symlinks, so a
Kubernetes Secret volume's atomic `..data` swap shows as a new inode). When the file changed,
its new content is read and checked as at start-up (at least 16 bytes, and a key in the
signing profile); a good one signs from that attempt on. Nothing is dropped or re-ordered:
attempts already signed keep their signature, every later one uses the new secret.

A bad new file (too short, unreadable, not a key in the profile, gone) is refused: the old
secret stays, one `secret_refused` error line is logged (once per bad state of the file, not
per poll) and the operator's alert is raised (`Alerts.secret_refused`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from consumer.config import Settings
from consumer.config._errors import ConfigError
from consumer.config._secrets import read_secret_file
from consumer.ops._alerts import Alerts
from signing._profile import build_signer
from signing.errors import SigningInputError
from signing.signature import MIN_SECRET_BYTES

__all__ = ["SecretWatch", "watch_secret"]

_log = logging.getLogger("signal_relay.secret")
_VARIABLE = "HMAC_PRODUCER_SECRET_FILE"
_POLL_SECONDS = 1.0

_FileState = tuple[int, int, int, int] | str


class SecretWatch:
    """The current signing secret, re-read when its file changes on disk (`SecretProvider`).

    `check(secret)` raises SigningInputError for a secret that cannot sign; `on_refused(problem)`
    is told once per refused state of the file. `clock` is monotonic seconds.
    """

    __slots__ = ("_check", "_clock", "_due", "_on_refused", "_path", "_poll", "_secret", "_state")

    def __init__(
        self,
        path: str,
        initial: bytes,
        *,
        check: Callable[[bytes], object],
        on_refused: Callable[[str], None],
        poll_seconds: float = _POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._secret = initial
        self._check = check
        self._on_refused = on_refused
        self._poll = poll_seconds
        self._clock = clock
        self._state = _file_state(path)
        self._due = clock() + poll_seconds

    def __repr__(self) -> str:
        return f"SecretWatch(path={self._path!r}, secret=<redacted>)"

    def current(self) -> bytes:
        """The secret to sign with now; the file is looked at when a poll is due."""
        now = self._clock()
        if now >= self._due:
            self._due = now + self._poll
            self.refresh()
        return self._secret

    def refresh(self) -> bool:
        """Look at the file now; True when a new secret was taken."""
        state = _file_state(self._path)
        if state == self._state:
            return False
        self._state = state
        try:
            secret = self._read(state)
        except (ConfigError, SigningInputError) as exc:
            problem = exc.problem if isinstance(exc, ConfigError) else str(exc)
            _log.error(
                "secret_refused",
                extra={"fields": {"variable": _VARIABLE, "problem": problem, "alert": True}},
            )
            self._on_refused(problem)
            return False
        if secret == self._secret:
            return False
        self._secret = secret
        _log.info("secret_rotated", extra={"fields": {"variable": _VARIABLE}})
        return True

    def _read(self, state: _FileState) -> bytes:
        if isinstance(state, str):
            raise ConfigError(_VARIABLE, state)
        secret = read_secret_file(_VARIABLE, self._path).strip()
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(_VARIABLE, f"must be at least {MIN_SECRET_BYTES} bytes")
        self._check(secret)
        return secret


def watch_secret(settings: Settings, alerts: Alerts) -> SecretWatch | None:
    """A watch on the secret's file when it was read from one (`HMAC_PRODUCER_SECRET_FILE`)."""
    path = settings.secret.path
    if path is None:
        return None
    profile, producer_id = settings.signing_profile, settings.producer_id
    return SecretWatch(
        path,
        settings.secret.reveal(),
        check=lambda secret: build_signer(profile, secret, producer_id=producer_id),
        on_refused=lambda problem: alerts.secret_refused(_VARIABLE, problem),
    )


def _file_state(path: str) -> _FileState:
    """What identifies the file's content cheaply (device, inode, mtime, size), or its error."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"cannot read the file ({exc.strerror})"
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
