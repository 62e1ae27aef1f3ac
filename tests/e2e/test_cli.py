"""The CLI and the service runtime as real processes: tap, config check, health endpoints, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
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


# -- NATS unreachable: fail fast, one line, no password (issue 10, finding 9) --------------------------------------

PASSWORD = "s3cretpw"  # in every unreachable URL below; it must never reach the output


def _refusing_port() -> int:
    """A port nothing listens on: bound and closed, so a connect is refused at once."""
    return _free_port()


@pytest.fixture
def black_hole():
    """A listening socket that never accepts: TCP connects, but no NATS INFO ever arrives."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield s.getsockname()[1]


def _unreachable_env(port: int, connect_timeout: float = 1.0, **extra: str) -> dict[str, str]:
    env = dict(os.environ, NATS_URL=f"nats://user:{PASSWORD}@127.0.0.1:{port}",
               ARB_NATS__CONNECT_TIMEOUT_S=str(connect_timeout), ARB_HTTP__PORT="0")
    env.update(extra)
    return env


def _run_timed(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, check=False)
    return out, time.monotonic() - t0


@pytest.mark.parametrize("where", ["refused", "black_hole"])
def test_tap_exits_1_with_one_redacted_line_when_nats_is_unreachable(where, request):
    """`arb tap` gives up after nats.connect_timeout_s: exit 1, one stderr line naming the URL, no password."""
    port = request.getfixturevalue("black_hole") if where == "black_hole" else _refusing_port()
    out, took = _run_timed([*ARB, "tap", "md.>"], _unreachable_env(port))
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"nats://user:***@127.0.0.1:{port}" in lines[0] and PASSWORD not in out.stderr + out.stdout
    assert took < 1.0 + 6.0  # connect timeout + interpreter start on a busy machine


def test_tap_timeout_bounds_the_connect_too(black_hole):
    """`--timeout 1` ends a tap still waiting for NATS after about a second (exit 1), not after the connect timeout."""
    out, took = _run_timed([*ARB, "tap", "md.>", "--timeout", "1"], _unreachable_env(black_hole, connect_timeout=20))
    assert out.returncode == 1, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and PASSWORD not in out.stderr
    assert took < 1.0 + 6.0


@pytest.mark.parametrize(("command", "where"), [
    ("md-gateway", "refused"), ("md-gateway", "black_hole"), ("trade-gateway", "refused"),
])
def test_service_exits_1_with_one_error_line_when_nats_is_unreachable(command, where, request, tmp_path):
    """A gateway whose NATS is unreachable logs ONE error naming the redacted URL and exits 1, within bound."""
    port = request.getfixturevalue("black_hole") if where == "black_hole" else _refusing_port()
    cfg = tmp_path / "svc.yaml"
    cfg.write_text("shutdown_timeout_s: 2\n")
    argv = [*ARB, command, "--venue", "mexc", "--symbols", "BTC-USDT", "--config", str(cfg)]
    argv += ["--market", "spot"] if command == "md-gateway" else ["--account", "natsdown"]
    env = _unreachable_env(port, ARB_NATSDOWN_API_KEY="k", ARB_NATSDOWN_API_SECRET="s")
    out, took = _run_timed(argv, env)
    assert out.returncode == 1, out.stderr
    errors = [ln for ln in out.stderr.splitlines() if " ERROR " in ln]
    assert len(errors) == 1, out.stderr
    assert f"nats://user:***@127.0.0.1:{port}" in errors[0]
    assert PASSWORD not in out.stderr + out.stdout
    assert took < 1.0 + 2.0 + 6.0  # connect timeout + shutdown bound + interpreter start


# -- tap says what it does (finding 9) ------------------------------------------------------------------------------

def test_idle_tap_says_it_is_listening_and_counts_on_stop(nats_url, subject_prefix):
    """An idle tap prints 'listening on SUBJECT' and, when its --timeout ends it, a zero count; exit 0."""
    subject = f"{subject_prefix}md.>"
    out = subprocess.run([*ARB, "tap", subject, "--timeout", "1"], capture_output=True, text=True, timeout=30,
                         env=_env(nats_url, subject_prefix), check=False)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith(f"tap: listening on {subject} (nats ") and out.stdout == ""
    assert lines[-1] == "tap: 0 events, 0 undecodable"


async def test_tap_counts_events_and_undecodable_payloads_when_stopped(nats_url, subject_prefix, bus):
    """SIGINT stops a tap with exit 0 and one line counting what it printed and what it could not decode."""
    from arb.bus.subjects import MdSubjects
    from arb.core.enums import Market, Venue
    from arb.core.market_data import BookTicker

    subject = f"{subject_prefix}md.>"
    tap = subprocess.Popen([*ARB, "tap", subject, "--timeout", "60"],  # noqa: ASYNC220 -- Popen only forks
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=_env(nats_url, subject_prefix))
    loop = asyncio.get_running_loop()
    try:
        first = await asyncio.wait_for(loop.run_in_executor(None, tap.stderr.readline), 20)
        assert first.startswith(f"tap: listening on {subject}"), first
        bbo = MdSubjects.of(Venue.MEXC, Market.SPOT, "BTC-USDT", subject_prefix).bbo
        await bus.publish(bbo, BookTicker(Venue.MEXC, Market.SPOT, "BTC-USDT", 100.0, 1.0, 101.0, 2.0, 1, 1, 1, 1))
        await bus.nc.publish(bbo, b"not a bus event")
        await bus.nc.flush(timeout=5)
        printed = await asyncio.wait_for(loop.run_in_executor(None, tap.stdout.readline), 20)
        assert printed.startswith(bbo), printed
    finally:
        tap.send_signal(signal.SIGINT)
        _, err = await loop.run_in_executor(None, lambda: tap.communicate(timeout=20))
    assert tap.returncode == 0, err
    assert err.strip().splitlines()[-1] == "tap: 1 events, 1 undecodable"


# -- config check: every bad value is exit 2 (finding 11) ----------------------------------------------------------

@pytest.mark.parametrize(("var", "value", "key"), [
    ("ARB_GATEWAY__WATCHDOG_S", ".nan", "gateway.watchdog_s"),
    ("ARB_GATEWAY__REQUEST_TIMEOUT_S", "-1", "gateway.request_timeout_s"),
    ("ARB_NATS__CONNECT_TIMEOUT_S", "-1", "nats.connect_timeout_s"),
    ("ARB_NATS__DRAIN_TIMEOUT_S", ".inf", "nats.drain_timeout_s"),
    ("NATS_URL", f"nats://user:{PASSWORD}@127.0.0.1:99999", "nats.url"),
    ("DATABASE_URL", f"postgresql://user:{PASSWORD}@127.0.0.1:99999/db", "database.url"),
    ("ARB_VENUES__MEXC__SPOT__WS_URL", "wss://wbs-api.mexc.com:99999/ws", "venues.mexc.spot.ws_url"),
])
def test_config_check_exits_2_on_each_unsafe_value_and_names_the_variable(var, value, key):
    """`arb config check` refuses NaN, negative durations and out-of-range ports, naming the env variable."""
    out = subprocess.run([*ARB, "config", "check"], capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, **{var: value}), check=False)
    assert out.returncode == 2, out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"config error: {var}=") and f": {key}: " in lines[0], lines
    assert PASSWORD not in out.stderr and out.stdout == ""


def test_config_check_exits_2_on_a_negative_shutdown_timeout(tmp_path):
    """`shutdown_timeout_s: -5` would skip the graceful flush: the file and key are named, exit 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("shutdown_timeout_s: -5\n")
    out = subprocess.run([*ARB, "config", "check", str(bad)], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 2
    assert out.stderr.startswith(f"config error: {bad}: shutdown_timeout_s: ") and out.stdout == ""
