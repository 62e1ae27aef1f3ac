"""The CLI and the service runtime as real processes: tap, config check, health endpoints, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import msgspec
import pytest
from arb.testing.poll import eventually

pytestmark = pytest.mark.e2e
HERE = Path(__file__).resolve().parent
ARB = [sys.executable, "-m", "arb.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(nats_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"NATS_URL": nats_url, "ARB_NATS__SUBJECT_PREFIX": prefix}, **extra)
    return env


def test_version_prints_and_exits_zero():
    """`arb version` prints the version."""
    out = subprocess.run([*ARB, "version"], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0 and out.stdout.startswith("arb ")


def test_broken_config_prints_one_line_and_exits_2(tmp_path):
    """A broken config is one stderr line naming the file and key, exit code 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("venues:\n  gateio:\n    futures:\n      rest_url: https://x\n      ws_url: htp://x\n")
    out = subprocess.run([*ARB, "config", "check", str(bad)], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines == [f"config error: {bad}: venues.gateio.futures.ws_url: expected ws:// or wss:// URL, got 'htp://x'"]
    assert out.stdout == ""


def test_trade_gateway_bad_symbols_flag_is_one_line_and_exit_2():
    """`--symbols` takes unified symbols; a venue-style one is refused before anything connects."""
    env = dict(os.environ, ARB_SYMTEST_API_KEY="k", ARB_SYMTEST_API_SECRET="s")
    out = subprocess.run([*ARB, "trade-gateway", "--venue", "mexc", "--account", "symtest", "--symbols",
                          "BTC-USDT,BTCUSDT"], capture_output=True, text=True, timeout=30, env=env, check=False)
    assert out.returncode == 2
    assert out.stderr.strip() == "trade-gateway: 'BTCUSDT': expected a unified symbol like BTC-USDT"


def test_config_check_masks_url_passwords(tmp_path):
    """The effective config never shows a password embedded in a URL."""
    env = dict(os.environ, NATS_URL="nats://user:hunter2@127.0.0.1:4222")
    out = subprocess.run([*ARB, "config", "check", "--json"], capture_output=True, text=True, timeout=30, env=env,
                         check=False)
    assert out.returncode == 0 and "hunter2" not in out.stdout
    assert msgspec.json.decode(out.stdout)["nats"]["url"] == "nats://user:***@127.0.0.1:4222"


async def test_tap_prints_events_published_by_another_process(nats_url, subject_prefix, js_streams):
    """`arb tap 'md.>'` decodes and prints what a separate service process publishes."""
    port = _free_port()
    env = _env(nats_url, subject_prefix, ARB_HTTP__PORT=str(port))
    tap_argv = [*ARB, "tap", f"{subject_prefix}md.>", "--count", "3", "--timeout", "30"]
    tap = subprocess.Popen(tap_argv,  # noqa: ASYNC220 -- Popen only forks; waits go through an executor
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    await asyncio.sleep(0)  # tap subscribes before the publisher has a book
    svc = subprocess.Popen([sys.executable, str(HERE / "fake_md_service.py")],  # noqa: ASYNC220 -- only forks
                           stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = await asyncio.get_running_loop().run_in_executor(None, lambda: tap.communicate(timeout=40))
    finally:
        svc.send_signal(signal.SIGTERM)
        _, svc_err = svc.communicate(timeout=20)
    assert tap.returncode == 0, err
    assert svc.returncode == 0, svc_err
    lines = out.strip().splitlines()
    assert len(lines) == 3
    subject, _, payload = lines[0].partition(" ")
    assert subject == f"{subject_prefix}md.mexc.spot.BTC-USDT.bbo"
    event = msgspec.json.decode(payload)
    assert event["type"] == "bbo" and event["venue"] == "mexc" and event["ask_px"] > event["bid_px"]


async def test_service_serves_health_ready_metrics_and_exits_zero_on_sigterm(nats_url, subject_prefix, js_streams,
                                                                             tmp_path):
    """A service answers /healthz, /readyz (NATS connected) and /metrics, then drains and exits 0 on SIGTERM."""
    port = _free_port()
    cfg = tmp_path / "svc.yaml"
    cfg.write_text(f"http:\n  port: {port}\nlog:\n  level: info\n")
    env = _env(nats_url, subject_prefix)
    proc = subprocess.Popen([sys.executable, str(HERE / "fake_md_service.py"), str(cfg)],  # noqa: ASYNC220
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def ready():
                try:
                    async with http.get(f"{base}/readyz") as r:
                        return r.status == 200 and (await r.json())["checks"].get("nats") is True
                except aiohttp.ClientConnectionError:
                    return False

            await eventually(ready, timeout=20, what="service ready")
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200 and (await r.json())["status"] == "alive"
            async with http.get(f"{base}/metrics") as r:
                text = await r.text()
            assert 'arb_build_info{' in text and 'arb_nats_connected{service="fake-md"} 1.0' in text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "start fake-md version=" in err and f"config={cfg}" in err and "nats=" in err
    assert "stopped fake-md rc=0" in err
