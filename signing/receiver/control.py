"""The `/_receiver/` control endpoints: health, the ledger summary, and the faults in force.

They carry no authentication: the reference receiver is a tool for loopback tests, demos and
benchmarks, never a production server.
"""

from __future__ import annotations

from typing import Protocol

import orjson

from signing.receiver.config import CONTROL_PREFIX
from signing.receiver.errors import InvalidFaultsError
from signing.receiver.faults import Faults
from signing.receiver.ledger import Ledger
from signing.receiver.replies import Reply, error_reply, json_reply

__all__ = ["Controllable", "control_reply"]

_ALLOWED: dict[str, tuple[str, ...]] = {
    "health": ("GET",),
    "ledger": ("GET", "DELETE"),
    "faults": ("GET", "PUT"),
}
_DETAIL_QUERIES = frozenset({b"detail=1", b"detail=true"})


class Controllable(Protocol):
    """What the control endpoints read and change."""

    @property
    def ledger(self) -> Ledger: ...

    @property
    def faults(self) -> Faults: ...

    @faults.setter
    def faults(self, faults: Faults) -> None: ...


def control_reply(
    target: Controllable, *, method: str, path: str, query: bytes, body: bytes
) -> Reply:
    """The answer to one request under `/_receiver/`; a PUT of faults replaces them."""
    resource = path.removeprefix(CONTROL_PREFIX)
    allowed = _ALLOWED.get(resource)
    if allowed is None:
        return error_reply(404, "not_found", f"no control endpoint at {path}")
    if method not in allowed:
        return error_reply(
            405,
            "method_not_allowed",
            f"{method} is not allowed on {path}",
            headers=((b"allow", ", ".join(allowed).encode("ascii")),),
        )
    if resource == "health":
        return json_reply(200, {"status": "ok"})
    if resource == "faults":
        return _put_faults(target, body) if method == "PUT" else _faults_reply(target.faults)
    if method == "DELETE":
        target.ledger.clear()
    return json_reply(200, target.ledger.summary(detail=_wants_detail(query)))


def _put_faults(target: Controllable, body: bytes) -> Reply:
    try:
        faults = Faults.from_json(orjson.loads(body))
    except orjson.JSONDecodeError as exc:
        return error_reply(400, "invalid_json", f"faults body is not JSON: {exc}")
    except InvalidFaultsError as exc:
        return error_reply(400, "invalid_faults", str(exc))
    target.faults = faults
    return _faults_reply(faults)


def _faults_reply(faults: Faults) -> Reply:
    return json_reply(200, faults.to_json())


def _wants_detail(query: bytes) -> bool:
    return any(part in _DETAIL_QUERIES for part in query.split(b"&"))
