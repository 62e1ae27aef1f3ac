"""Subscriber half of the bus latency benchmark (a separate process, as in production).

Prints JSON {"n", "p50_us", "p99_us"} of (receive time - ts_pub) after `count` messages or a timeout.
"""

from __future__ import annotations

import asyncio
import struct
import sys
import time

import msgspec
import uvloop
from arb.bus import codec


async def main(url: str, subject: str, mode: str, count: int, timeout: float) -> None:
    import nats

    nc = await nats.connect(url)
    lat: list[int] = []
    done = asyncio.Event()
    decode = codec.decode
    unpack = struct.Struct("<q").unpack_from
    now = time.time_ns

    async def cb(msg) -> None:
        t = now()
        ts = decode(msg.data).ts_pub if mode == "codec" else unpack(msg.data)[0]
        lat.append(t - ts)
        if len(lat) >= count:
            done.set()

    await nc.subscribe(subject, cb=cb)
    await nc.flush()
    print("ready", flush=True)
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        pass
    await nc.close()
    lat.sort()
    n = len(lat)
    out = {"n": n, "p50_us": lat[n // 2] / 1e3 if n else None, "p99_us": lat[min(n - 1, int(n * 0.99))] / 1e3 if n else None}
    print(msgspec.json.encode(out).decode(), flush=True)


if __name__ == "__main__":
    url, subject, mode, count, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    uvloop.run(main(url, subject, mode, count, timeout))
