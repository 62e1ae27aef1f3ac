"""`arb sim` in-process: venue apps and admin app on free ports, admin endpoint, same seed same market.

Every await is bounded: the simulator's start/stop and the session's close by ``bounded_context``, HTTP by the
session's timeout."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest
from arb.sim.config import DislocationConfig, PortsConfig, SimConfig
from arb.sim.market import ManualClock
from arb.sim.server import URL_KEYS, SimServer
from arb.testing.poll import bounded_context, eventually

pytestmark = pytest.mark.integration

FREE = PortsConfig(mexc=0, gateio=0, admin=0)


def sim_server(cfg: SimConfig, **kw: Any) -> AbstractAsyncContextManager[SimServer]:
    return bounded_context(SimServer(cfg, **kw), 30, "simulator")


def http() -> AbstractAsyncContextManager[aiohttp.ClientSession]:
    return bounded_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)), 10, "http session")


async def get_json(session: aiohttp.ClientSession, url: str) -> object:
    async with session.get(url) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_serves_all_venues_and_admin_on_free_ports():
    """Every venue URL and the admin URL are served, and the venues' REST depth shows the live books."""
    async with sim_server(SimConfig(seed=1, ports=FREE)) as sim, http() as s:
        assert set(URL_KEYS) <= set(sim.urls) and not sim.missing
        mexc = await get_json(s, sim.urls["mexc_rest"] + "/depth?symbol=BTCUSDT&limit=5")
        assert len(mexc["bids"]) == 5 and float(mexc["bids"][0][0]) < float(mexc["asks"][0][0])
        gate = await get_json(s, sim.urls["gateio_rest"] + "/spot/order_book?currency_pair=NEIRO_ETH&limit=5&with_id=true")
        assert gate["id"] > 0 and float(gate["asks"][0][0]) < 1e-6
        fut = await get_json(s, sim.urls["gateio_rest"] + "/futures/usdt/order_book?contract=BTC_USDT&limit=5&with_id=true")
        assert len(fut["bids"]) == 5
        start = (await get_json(s, sim.urls["admin"] + "/state"))["steps"]
        await eventually(lambda: sim.market.steps > start + 3, timeout=5, what="market steps")
        assert (await get_json(s, sim.urls["admin"] + "/healthz")) == {"status": "alive"}


async def test_admin_faults_dislocate_funding():
    """The admin endpoint arms, lists and clears faults, dislocates a venue and sets and settles funding."""
    cfg = SimConfig(seed=1, ports=FREE, dislocations=DislocationConfig(enabled=False))
    async with sim_server(cfg) as sim, http() as s:
        admin = sim.urls["admin"]
        async with s.post(admin + "/faults", json={"venue": "mexc", "market": "spot", "name": "rest_429",
                                                   "count": 2, "params": {"retry_after": 1}}) as r:
            assert r.status == 200 and (await r.json())["armed"]["count"] == 2
        async with s.post(admin + "/faults", json={"name": "nope"}) as r:
            assert r.status == 400 and "name" in (await r.json())["error"]
        armed = (await get_json(s, admin + "/faults"))["armed"]
        assert [a["name"] for a in armed] == ["rest_429"]
        async with s.get(sim.urls["mexc_rest"] + "/depth?symbol=BTCUSDT") as r:
            assert r.status == 429
        async with s.delete(admin + "/faults") as r:
            assert (await r.json())["removed"] == 1
        async with s.get(sim.urls["mexc_rest"] + "/depth?symbol=BTCUSDT") as r:
            assert r.status == 200

        async with s.post(admin + "/dislocate", json={"symbol": "BTC-USDT", "venue": "gateio", "market": "spot",
                                                      "bps": 200, "seconds": 30}) as r:
            assert r.status == 200

        async def gate_above_mexc() -> bool:
            st = await get_json(s, admin + "/state")
            v = st["symbols"]["BTC-USDT"]["venues"]
            return float(v["gateio.spot"]["bid"]) > float(v["mexc.spot"]["ask"]) * 1.01

        await eventually(gate_above_mexc, timeout=5, what="Gate BTC bid above MEXC ask by 1 %")
        async with s.post(admin + "/dislocate", json={"symbol": "XRP-USDT", "venue": "gateio", "bps": 1}) as r:
            assert r.status == 400

        async with s.post(admin + "/funding", json={"symbol": "BTC-USDT", "rate": "0.0025", "settle": True}) as r:
            body = await r.json()
            assert r.status == 200 and body["settled"] == 1
        st = await get_json(s, admin + "/state")
        assert st["symbols"]["BTC-USDT"]["venues"]["gateio.futures"]["funding_rate"] == "0.0025"
        assert st["accounts"][0]["name"] == "mexc-demo" and "api_secret" not in str(st)


async def test_same_seed_same_market_over_rest():
    """Two simulators with the same seed, stepped alike, answer REST depth identically on every venue."""
    paths = ("mexc_rest", "/depth?symbol=ETHUSDT&limit=20"), \
            ("gateio_rest", "/spot/order_book?currency_pair=BTC_USDT&limit=20&with_id=true"), \
            ("gateio_rest", "/futures/usdt/order_book?contract=ETH_USDT&limit=20&with_id=true")
    answers = []
    for _ in range(2):
        clock = ManualClock()
        async with sim_server(SimConfig(seed=42, ports=FREE), clock=clock, run_market=False) as sim, http() as s:
            for _ in range(30):
                clock.advance(0.1)
                sim.market.step(0.1)
            got = []
            for key, path in paths:
                body = await get_json(s, sim.urls[key] + path)
                got.append((body.get("lastUpdateId", body.get("id")), body["bids"], body["asks"]))
            answers.append(got)
    assert answers[0] == answers[1]
