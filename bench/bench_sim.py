"""Simulator throughput: total WebSocket messages/s `arb sim` sustains to its clients while matching orders.

`arb sim` runs in its own process (``--tick-ms 10``: 100 market steps/s, the busiest the market gets); this
process holds plain aiohttp WebSocket clients subscribed to every public book, book-ticker and trade channel
of the three venue markets (the fastest intervals each venue offers: MEXC 10ms, Gate 20ms) and places
signed MEXC IOC orders over REST against the books the whole time. Counted: WS data frames received
(control acks excluded) during the measuring window, and orders matched. On a 2-core machine the
simulator and the clients share the cores, so the figure is a floor.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from urllib.parse import urlencode

import aiohttp

from bench.common import Row, check

MEXC_KEY = "mx0vglsimdemokey00000001"  # the default demo account of SimConfig
MEXC_SECRET = "simdemosecret0000000000000000001"
MEXC_SYMBOLS = ("BTCUSDT", "ETHUSDT", "NEIROETH")
GATE_SPOT = ("BTC_USDT", "ETH_USDT", "NEIRO_ETH")
GATE_FUT = ("BTC_USDT", "ETH_USDT")
TARGET = ">= 20000"


class Counter:
    def __init__(self) -> None:
        self.data = 0
        self.counting = False


async def _mexc_client(url: str, c: Counter, stop: asyncio.Event) -> None:
    params = [f"spot@public.aggre.depth.v3.api.pb@10ms@{s}" for s in MEXC_SYMBOLS]
    params += [f"spot@public.aggre.bookTicker.v3.api.pb@10ms@{s}" for s in MEXC_SYMBOLS]
    params += [f"spot@public.aggre.deals.v3.api.pb@10ms@{s}" for s in MEXC_SYMBOLS]
    async with aiohttp.ClientSession() as s, s.ws_connect(url, max_msg_size=0) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": params}))
        while not stop.is_set():
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                if c.counting:
                    c.data += 1
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                raise RuntimeError(f"MEXC WS closed: {msg}")


async def _gate_client(url: str, futures: bool, c: Counter, stop: asyncio.Event) -> None:
    p = "futures" if futures else "spot"
    pairs = GATE_FUT if futures else GATE_SPOT
    reqs = [(f"{p}.book_ticker", list(pairs)), (f"{p}.trades", list(pairs))]
    for s in pairs:
        reqs.append((f"{p}.order_book_update", [s, "20ms", "20"] if futures else [s, "20ms"]))
    async with aiohttp.ClientSession() as s, s.ws_connect(url, max_msg_size=0) as ws:
        for ch, payload in reqs:
            await ws.send_str(json.dumps({"time": int(time.time()), "channel": ch, "event": "subscribe",
                                          "payload": payload}))
        while not stop.is_set():
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                if c.counting and '"update"' in msg.data:  # data pushes; subscribe acks say "subscribe"
                    c.data += 1
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                raise RuntimeError(f"Gate WS closed: {msg}")


async def _orders(rest: str, stop: asyncio.Event, done: list[int], rate: float) -> None:
    """Signed MEXC IOC orders crossing the spread, alternating sides, at ``rate`` per second."""
    side = "BUY"
    async with aiohttp.ClientSession(headers={"X-MEXC-APIKEY": MEXC_KEY}) as s:
        while not stop.is_set():
            t0 = time.perf_counter()
            async with s.get(rest + "/ticker/bookTicker?symbol=BTCUSDT") as r:
                bt = await r.json()
            price = bt["askPrice"] if side == "BUY" else bt["bidPrice"]
            q = urlencode({"symbol": "BTCUSDT", "side": side, "type": "IMMEDIATE_OR_CANCEL", "quantity": "0.0002",
                           "price": price, "timestamp": int(time.time() * 1000), "recvWindow": 5000})
            sig = hmac.new(MEXC_SECRET.encode(), q.encode(), hashlib.sha256).hexdigest()
            async with s.post(f"{rest}/order?{q}&signature={sig}") as r:
                if r.status == 200:
                    done[0] += 1
                else:
                    done[1] += 1
            side = "SELL" if side == "BUY" else "BUY"
            await asyncio.sleep(max(0.0, 1.0 / rate - (time.perf_counter() - t0)))


async def _measure(urls: dict[str, str], clients: int, seconds: float, warmup: float, order_rate: float
                   ) -> tuple[float, float, int]:
    c = Counter()
    stop = asyncio.Event()
    done = [0, 0]
    tasks = []
    for _ in range(clients):
        tasks.append(asyncio.create_task(_mexc_client(urls["mexc_ws"], c, stop)))
        tasks.append(asyncio.create_task(_gate_client(urls["gateio_spot_ws"], False, c, stop)))
        tasks.append(asyncio.create_task(_gate_client(urls["gateio_futures_ws"], True, c, stop)))
    tasks.append(asyncio.create_task(_orders(urls["mexc_rest"], stop, done, order_rate)))
    try:
        await asyncio.sleep(warmup)
        for t in tasks:
            if t.done():
                t.result()
        c.counting = True
        o0 = done[0]
        t0 = time.perf_counter()
        await asyncio.sleep(seconds)
        c.counting = False
        el = time.perf_counter() - t0
        for t in tasks:
            if t.done():
                t.result()
        return c.data / el, (done[0] - o0) / el, done[1]
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(clients: int = 24, seconds: float = 10.0, warmup: float = 3.0, order_rate: float = 50.0) -> list[Row]:
    cmd = [sys.executable, "-m", "arb.cli", "sim", "--seed", "1", "--tick-ms", "10", "--mexc-port", "0",
           "--gateio-port", "0", "--admin-port", "0", "--http-port", "0", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            raise RuntimeError("arb sim printed no URLs")
        urls = json.loads(line)
        cpu0, w0 = _cpu_seconds(proc.pid), time.perf_counter()
        rate, orders, rejected = asyncio.run(_measure(urls, clients, seconds, warmup, order_rate))
        cpu = (_cpu_seconds(proc.pid) - cpu0) / (time.perf_counter() - w0)
    finally:
        proc.terminate()
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    return [
        Row(figure=f"sim: WS messages/s to {clients * 3} clients while matching", ours=rate, unit="msg/s",
            target=TARGET, met=check(rate, TARGET)),
        Row(figure="sim: client orders matched meanwhile (MEXC REST IOC)", ours=orders, unit="orders/s",
            peer=float(rejected), peer_name="rejected"),
        Row(figure="sim: simulator CPU while serving", ours=cpu * 100, unit="% of a core"),
        Row(figure="sim: exit code on SIGTERM", ours=float(rc), unit="rc", target="<= 0", met=rc == 0),
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
