"""Running `signal-relay check` in its own process, and reading its lines."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping

from relay_harness import subprocess_env

WITHIN = 120.0


async def run_check(env: Mapping[str, str], *args: str) -> tuple[int, list[str]]:
    """Run `signal-relay check` in a process; its exit status and stdout lines."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "check",
        *args,
        env=subprocess_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), WITHIN)
    assert err == b"", err.decode()
    assert process.returncode is not None
    return process.returncode, out.decode().splitlines()


def verdicts(lines: list[str]) -> dict[str, str]:
    """Check name -> `ok` or `FAIL`."""
    return {line[5:].split(":", 1)[0]: line[:4].strip() for line in lines}
