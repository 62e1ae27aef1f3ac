"""MEXC signing of what is sent: the simulator checks the query and body as received (still percent-encoded),
and the gateway's cancel-all over several symbols (comma sent as %2C) passes that check end to end.

See specs/sim-deviations.md, "MEXC signing: what is signed".
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from arb.config.credentials import Credentials, Secret
from arb.core.enums import OrderStatus
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.venues.mexc.private import MexcTrader
from arb.venues.mexc.rest import MexcPrivateRest
from arb.venues.mexc.symbols import symbol_map
from yarl import URL

pytestmark = pytest.mark.integration

KEY, SECRET = "mx0vglsimdemokey00000001", "simdemosecret0000000000000000001"  # the sim's mexc-demo account
T = 10.0  # bound of every await


@dataclass
class Sim:
    rest_base: str  # http://127.0.0.1:P (no /api/v3)
    session: aiohttp.ClientSession


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """The simulator in-process on free ports, market task off (nothing fills or moves by itself)."""
    cfg = SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))
    async with SimServer(cfg, run_market=False) as s, aiohttp.ClientSession() as session:
        yield Sim(s.urls["mexc_rest"].removesuffix("/api/v3"), session)


def _hmac(total: str) -> str:
    return hmac.new(SECRET.encode(), total.encode(), hashlib.sha256).hexdigest()


async def _send(sim: Sim, method: str, path: str, wire_query: str) -> tuple[int, Any]:
    """Send ``wire_query`` byte for byte (``encoded=True``: aiohttp must not re-quote it)."""
    async def go() -> tuple[int, Any]:
        url = URL(f"{sim.rest_base}{path}?{wire_query}", encoded=True)
        async with sim.session.request(method, url, headers={"X-MEXC-APIKEY": KEY}) as r:
            return r.status, await r.json(content_type=None)

    return await asyncio.wait_for(go(), T)


async def test_sim_checks_the_signature_over_the_query_as_sent(sim: Sim) -> None:
    """Signed over the decoded comma: refused 700002; signed over the %2C actually sent: accepted."""
    sent = f"symbol=BTCUSDT%2CETHUSDT&recvWindow=5000&timestamp={int(time.time() * 1000)}"
    decoded = sent.replace("%2C", ",")

    st_decoded, body_decoded = await _send(sim, "DELETE", "/api/v3/openOrders",
                                           f"{sent}&signature={_hmac(decoded)}")
    st_sent, body_sent = await _send(sim, "DELETE", "/api/v3/openOrders", f"{sent}&signature={_hmac(sent)}")

    assert (st_decoded, body_decoded) == (400, {"code": 700002, "msg": "Signature for this request is not valid."})
    assert (st_sent, body_sent) == (200, [])


async def test_cancel_all_without_symbol_cancels_on_every_symbol(sim: Sim) -> None:
    """MexcTrader.cancel_all(None) with two symbols of interest sends one signed request (BTCUSDT%2CETHUSDT)
    and cancels the open orders of both."""
    rest = MexcPrivateRest(sim.session, sim.rest_base, Credentials("demo", KEY, Secret(SECRET)))
    await asyncio.wait_for(rest.sync_time(), T)
    info = await asyncio.wait_for(rest.exchange_info(), T)
    trader = MexcTrader(rest, "demo", symbol_map(info.symbols), extra_symbols=["BTC-USDT", "ETH-USDT"])
    await asyncio.wait_for(rest.place("BTCUSDT", "BUY", "LIMIT", Decimal("0.001"), Decimal(50000), "sg-btc"), T)
    await asyncio.wait_for(rest.place("ETHUSDT", "BUY", "LIMIT", Decimal("0.01"), Decimal(3000), "sg-eth"), T)

    canceled = await asyncio.wait_for(trader.cancel_all(None), T)

    assert {o.client_order_id for o in canceled} == {"sg-btc", "sg-eth"}
    assert {o.symbol for o in canceled} == {"BTC-USDT", "ETH-USDT"}
    assert all(o.status is OrderStatus.CANCELED for o in canceled)
    assert await asyncio.wait_for(trader.open_orders(None), T) == []
