"""`arb <command>` as a real child process, for the e2e tests.

``Service`` starts one subcommand with a given environment, sends its stderr (the log) to a file so a
chatty process can never block on a full pipe, finds its health port in the start line the runtime logs
(``start <name> ... http=127.0.0.1:<port> ...``), waits for ``/readyz`` and stops it with SIGTERM, timing
how long it took to exit. ``start_sim`` runs ``arb sim`` on free ports and returns its URLs (``--json``).

Always stop what you start (``stop()`` in a ``finally``), or the interpreter warns about a child still running.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp

from ..config.credentials import env_prefix
from .poll import bounded, eventually

ARB = (sys.executable, "-m", "arb.cli")
_HTTP = re.compile(r"^\S+ .*start \S+ version=.* http=([^\s:]+):(\d+) ", re.MULTILINE)


class Service:
    """One ``arb`` subcommand as a child process; stdout piped (data), stderr in ``log_path`` (logs)."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.args = [*ARB, *args]
        self.name = args[0]
        self.log_path = log_path
        self.exit_seconds: float | None = None  # SIGTERM -> exit, once stop() has run
        self.stdout = ""  # what it printed after the lines read with readline(), once stop() has run
        with open(log_path, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                         env=dict(env))

    def log(self) -> str:
        """Everything the process logged so far."""
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    async def readline(self, timeout: float = 60.0) -> str:
        """One line of its stdout (blocks a worker thread, not the event loop); AssertionError after ``timeout``."""
        assert self.proc.stdout is not None
        read = asyncio.get_running_loop().run_in_executor(None, self.proc.stdout.readline)
        line = await bounded(read, timeout, f"a line of {self.name}'s stdout")
        return line.decode()

    async def http_base(self, timeout: float = 30.0) -> str:
        """``http://host:port`` of its /healthz /readyz /metrics, read from the runtime's start line."""

        def found() -> str | None:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log()[-2000:]}")
            m = _HTTP.search(self.log())
            return f"http://{m[1]}:{m[2]}" if m else None

        return await eventually(found, timeout=timeout, interval=0.05, what=f"{self.name} start line")

    async def wait_ready(self, timeout: float = 30.0) -> dict:
        """Poll /readyz until it answers 200; return its body (``{"ready": true, "checks": {...}}``)."""
        base = await self.http_base(timeout)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as http:

            async def ready() -> dict | None:
                if not self.alive():
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log()[-2000:]}")
                try:
                    async with http.get(f"{base}/readyz") as r:
                        return await r.json() if r.status == 200 else None
                except (aiohttp.ClientError, TimeoutError):
                    return None

            return await eventually(ready, timeout=timeout, interval=0.1, what=f"{self.name} /readyz")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (if still running), wait for the exit, record how long it took; return the exit code."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.stdout += (out or b"").decode(errors="replace")
        self.exit_seconds = time.monotonic() - t0
        return self.proc.returncode


async def start_sim(env: Mapping[str, str], log_path: Path, *extra: str) -> tuple[Service, dict[str, str]]:
    """``arb sim --json`` on free ports (venues, admin, health); returns it and its URLs (``mexc_rest``,
    ``gateio_rest``, ``gateio_spot_ws``, ``gateio_futures_ws``, ``admin`` ...)."""
    sim = Service(["sim", "--json", "--mexc-port", "0", "--gateio-port", "0", "--admin-port", "0",
                   "--http-port", "0", *extra], env, log_path)
    try:
        line = await sim.readline(60.0)
        if not line:
            raise RuntimeError(f"arb sim exited before printing its URLs: {sim.log()[-2000:]}")
        return sim, json.loads(line)
    except BaseException:
        sim.stop()
        raise


# the keys of ``start_sim``'s URLs that serve each venue market: (REST, WS)
SIM_ENDPOINTS: dict[tuple[str, str], tuple[str, str]] = {
    ("mexc", "spot"): ("mexc_rest", "mexc_ws"),
    ("gateio", "spot"): ("gateio_rest", "gateio_spot_ws"),
    ("gateio", "futures"): ("gateio_rest", "gateio_futures_ws"),
}


def venue_yaml(venue: str, market: str, urls: Mapping[str, str]) -> str:
    """The ``venues:`` section of a config pointing one venue market at a running ``arb sim``."""
    rest, ws = SIM_ENDPOINTS[(venue, market)]
    return f"venues:\n  {venue}:\n    {market}:\n      rest_url: {urls[rest]}\n      ws_url: {urls[ws]}\n"


def account_env(env: Mapping[str, str], account: str, api_key: str, api_secret: str) -> dict[str, str]:
    """``env`` plus one account's keys, as a trading gateway reads them (``ARB_<ACCOUNT>_API_KEY/SECRET``)."""
    prefix = env_prefix(account)
    return dict(env, **{prefix + "KEY": api_key, prefix + "SECRET": api_secret})


__all__ = ["ARB", "SIM_ENDPOINTS", "Service", "account_env", "start_sim", "venue_yaml"]
