"""Gate order_book_update reader: whatever the compiled reader takes, msgspec (the reference) decodes the same.

msgspec, with the adapter's own decoder, decides what each frame means; the reader may leave any frame to it
(None) but never reads one differently: same symbol, ids, time and the same floats bit for bit. Frames are
generated (keys in any order, unknown fields of every JSON type, whitespace, prices and sizes as strings or
numbers) and then mutated (truncated, a character changed) to reach the malformed cases too.
"""

from __future__ import annotations

import json
import random
import struct

import msgspec
import pytest
from arb.core.enums import Market
from arb.venues.gateio import ws as ws_module
from arb.venues.gateio.public import GatePublicGateway
from arb.venues.gateio.schemas import FuturesBookUpdateFrame, SpotBookUpdateFrame

pytestmark = pytest.mark.unit

try:
    from arb.venues.gateio._wire import BookReader
except ImportError:  # built without a C compiler; .ci/run insists on the compiled reader
    BookReader = None

needs_compiled = pytest.mark.skipif(BookReader is None, reason="arb.venues.gateio._wire was not built")

# exchange-facts §2.8 / §2.9: the venue's own samples
SPOT_SAMPLE = ('{"time":1606294781,"time_ms":1606294781236,"channel":"spot.order_book_update","event":"update",'
               '"result":{"t":1606294781123,"e":"depthUpdate","E":1606294781,"s":"BTC_USDT","U":48776301,'
               '"u":48776306,"b":[["19137.74","0.0001"],["19088.37","0"]],"a":[["19137.75","0.6135"]]}}')
FUTURES_SAMPLE = ('{"time":1615366381,"time_ms":1615366381417,"channel":"futures.order_book_update","event":"update",'
                  '"result":{"t":1615366381417,"s":"BTC_USD","U":2517661101,"u":2517661113,'
                  '"b":[{"p":"54672.1","s":0},{"p":"54664.5","s":58794}],"a":[{"p":"54743.6","s":0},'
                  '{"p":"54742","s":95}],"l":"100"}}')


def _reference(futures: bool):
    """What the adapter's decoder makes of a frame, as the reader's tuple, or None when it is not a diff update."""
    dec = msgspec.json.Decoder(FuturesBookUpdateFrame if futures else SpotBookUpdateFrame, strict=False)

    def ref(text: str) -> tuple | None:
        try:
            f = dec.decode(text)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        r = f.result
        if f.event != "update" or r.full:
            return None
        if futures:
            bids = [x for lv in r.b for x in (lv.p, lv.s)]
            asks = [x for lv in r.a for x in (lv.p, lv.s)]
        else:
            bids = [x for lv in r.b for x in lv]
            asks = [x for lv in r.a for x in lv]
        return (r.s, r.U, r.u, r.t, bids, asks)

    return ref


def _bits(t: tuple) -> tuple:
    """Floats compared bit for bit (0.0 vs -0.0 included)."""
    return (*t[:4], [struct.pack("<d", x) for x in t[4]], [struct.pack("<d", x) for x in t[5]])


def _check(reader, ref, text: str) -> bool:
    got = reader.read(text)
    if got is None:
        return False
    want = ref(text)
    assert want is not None, text
    assert _bits(got) == _bits(want), text
    assert all(type(x) is float for x in got[4] + got[5])
    return True


def _number(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.5:
        return f"{rng.randint(0, 10 ** rng.randint(1, 8))}.{rng.randint(0, 10 ** rng.randint(1, 12))}"
    if kind < 0.6:
        return str(rng.randint(0, 10 ** rng.randint(1, 20)))  # long ones are left to msgspec
    if kind < 0.7:
        return rng.choice(["0", "-0", "-0.0", "0.000", "1e5", "1.5E-3", "01", "1.", ".5", "-", "9007199254740993",
                           "9007199254740992", "0.1234567890123456789012", "123456789.123456789012"])
    return repr(rng.uniform(0, 1e6))


def _value(rng: random.Random, depth: int = 0) -> object:
    k = rng.randint(0, 6 if depth < 3 else 4)
    if k == 5:
        return [_value(rng, depth + 1)]
    if k == 6:
        return {"k": _value(rng, depth + 1)}
    return [None, True, rng.randint(-10**6, 10**6), "x y", rng.random()][k]


def _frame(rng: random.Random, futures: bool) -> str:
    def level() -> object:
        p, s = _number(rng), _number(rng)
        p_v = p if rng.random() < 0.8 else json.loads(p) if _is_json_number(p) else p
        s_v = s if rng.random() < 0.7 else json.loads(s) if _is_json_number(s) else s
        if futures:
            d = {"p": p_v, "s": s_v}
            if rng.random() < 0.2:
                d["x"] = _value(rng)
            items = list(d.items())
            rng.shuffle(items)
            return dict(items)
        return [p_v, s_v]

    result: dict = {"t": rng.randint(0, 2**40), "s": rng.choice(["BTC_USDT", "ETH_USDT"]),
                    "U": rng.randint(0, 2**40), "u": rng.randint(0, 2**40),
                    "b": [level() for _ in range(rng.randint(0, 4))], "a": [level() for _ in range(rng.randint(0, 4))]}
    if rng.random() < 0.2:
        result["full"] = rng.random() < 0.5
    if rng.random() < 0.3:
        result["e"] = _value(rng)
    for key in ("t", "b", "a"):
        if rng.random() < 0.1:
            del result[key]
    items = list(result.items())
    rng.shuffle(items)
    top = {"time": 1606294781, "time_ms": rng.randint(0, 2**41),
           "channel": ("futures" if futures else "spot") + ".order_book_update", "event": "update",
           "result": dict(items)}
    if rng.random() < 0.05:
        top["event"] = "all"
    if rng.random() < 0.2:
        top["extra"] = _value(rng)
    items = list(top.items())
    rng.shuffle(items)
    sep = (", ", ": ") if rng.random() < 0.2 else (",", ":")
    return json.dumps(dict(items), separators=sep)


def _is_json_number(s: str) -> bool:
    try:
        json.loads(s)
    except ValueError:
        return False
    return True


@needs_compiled
@pytest.mark.parametrize("futures", [False, True], ids=["spot", "futures"])
def test_venue_samples_are_read_as_msgspec_decodes_them(futures: bool):
    """The venue's own order_book_update samples: the reader's tuple equals msgspec's decode."""
    # Arrange
    reader, ref = BookReader(futures), _reference(futures)

    # Act / Assert
    assert _check(reader, ref, FUTURES_SAMPLE if futures else SPOT_SAMPLE)


@needs_compiled
@pytest.mark.parametrize("futures", [False, True], ids=["spot", "futures"])
def test_generated_frames_read_as_msgspec_decodes_them(futures: bool):
    """Generated frames (any key order, unknown fields, numbers as strings or JSON numbers): same values or None."""
    # Arrange
    rng = random.Random(11 if futures else 7)
    reader, ref = BookReader(futures), _reference(futures)
    taken = 0

    # Act / Assert
    for _ in range(4000):
        taken += _check(reader, ref, _frame(rng, futures))
    assert taken > 500  # the common shapes are read, not all left to msgspec


@needs_compiled
@pytest.mark.parametrize("futures", [False, True], ids=["spot", "futures"])
def test_mutated_frames_are_never_read_differently(futures: bool):
    """Truncated frames and frames with one character changed: the reader takes only what msgspec reads the same."""
    # Arrange
    rng = random.Random(3)
    reader, ref = BookReader(futures), _reference(futures)
    alphabet = '{}[]",:0123456789.-eE tfnrsuUbapl\\x'

    # Act / Assert
    for _ in range(3000):
        text = _frame(rng, futures)
        i = rng.randrange(len(text))
        mutated = text[:i] if rng.random() < 0.3 else text[:i] + rng.choice(alphabet) + text[i + 1:]
        _check(reader, ref, mutated)


@needs_compiled
@pytest.mark.parametrize("text", [
    SPOT_SAMPLE.replace('"event":"update"', '"event":"subscribe"'),  # not an update
    SPOT_SAMPLE.replace('"event":"update"', '"event":"all"'),  # left to msgspec (on_text takes "all" too)
    SPOT_SAMPLE.replace('"U":48776301', '"full":true,"U":48776301'),  # a full push replaces the book: on_book's
    SPOT_SAMPLE.replace("spot.order_book_update", "spot.book_ticker"),  # another channel
    SPOT_SAMPLE.replace('"BTC_USDT"', '"BTC\\u005fUSDT"'),  # an escape
    SPOT_SAMPLE.replace('"BTC_USDT"', '"BTC_USDT€"'),  # not ASCII
    SPOT_SAMPLE.replace('"0.0001"', '"1e-4"'),  # an exponent
    SPOT_SAMPLE.replace('"U":48776301', '"U":1,"U":48776301'),  # a key twice (msgspec keeps the last)
    SPOT_SAMPLE.replace('"t":1606294781123', '"t":"1606294781123"'),  # a value msgspec coerces
    SPOT_SAMPLE + "x",  # trailing text
    SPOT_SAMPLE[:-1],  # truncated
])
def test_frames_left_to_msgspec(text: str):
    """What the reader does not take whole, it leaves to msgspec (None), never reads in part."""
    # Arrange
    reader = BookReader(False)

    # Act / Assert
    assert reader.read(text) is None


@needs_compiled
def test_minus_zero_reads_as_msgspec_reads_it():
    """"-0" is the integer 0 to msgspec (0.0), "-0.0" a float (-0.0): the reader gives the same two zeros."""
    # Arrange
    text = SPOT_SAMPLE.replace('["19088.37","0"]', '["19088.37","-0"],["1","-0.0"],[2,-0]')
    reader, ref = BookReader(False), _reference(False)

    # Act / Assert
    assert _check(reader, ref, text)
    assert [struct.pack("<d", x) for x in reader.read(text)[4][3::2]] == [struct.pack("<d", x) for x in (0.0, -0.0, 0.0)]


def _gateway(market: Market, read: bool | str, interval_ms: int = 0) -> tuple[GatePublicGateway, object]:
    """``read``: "feed" (the reader and the common case in one compiled call, as the gateway runs), True (the reader,
    then ``on_book_read`` in Python), False (every frame through msgspec and ``on_book``)."""
    from arb.bus.subjects import MdSubjects
    from arb.config.schema import GatewayOptions, VenueEndpoints
    from arb.core.enums import Venue
    from arb.venues.gateio.public import _Book
    from arb.venues.gateio.ws import PublicWs

    gw = GatePublicGateway(market, ["BTC-USDT"], None, None, None,  # type: ignore[arg-type]
                           VenueEndpoints(rest_url="http://x/api/v4", ws_url="ws://x/ws"),
                           GatewayOptions(book_interval_ms=interval_ms))
    gw.books["BTC_USDT"] = _Book("BTC-USDT", "BTC_USDT", MdSubjects.of(Venue.GATEIO, market, "BTC-USDT"),
                                 10000.0 if market is Market.FUTURES else 1.0)
    ws = PublicWs(market, gw)
    if read != "feed":
        ws._feed_book = None  # the reader's tuple through on_book_read, as before BookFeed
    if not read:
        ws._read_book = None  # every frame through msgspec and on_book, as without the compiled reader
    return gw, ws


@needs_compiled
@pytest.mark.parametrize("interval_ms", [0, 1], ids=["every-diff", "dirty-between"])
@pytest.mark.parametrize("market", [Market.SPOT, Market.FUTURES], ids=["spot", "futures"])
def test_gateway_publishes_the_same_with_and_without_the_reader(market: Market, interval_ms: int,
                                                                 monkeypatch: pytest.MonkeyPatch):
    """A stream with a snapshot, gaps, duplicates, crossing diffs, full pushes and other symbols: the gateway
    publishes the same events and holds the same book whether book frames go through the compiled feed (reader and
    common case in one call), the reader then ``on_book_read``, or msgspec."""
    # Arrange
    futures = market is Market.FUTURES
    rng = random.Random(5)
    frames, ids = [], []
    u = 100
    for i in range(3000):
        n = rng.choice([1] * 30 + [2, 0, -1])  # contiguous mostly; some gaps, duplicates, reorders
        first, u = u + 1, u + n
        side = rng.random()
        def lv(px: float) -> object:
            sz = "0" if rng.random() < 0.2 else f"{rng.randint(1, 5000) if futures else rng.random():.6f}"
            return {"p": f"{px:.1f}", "s": int(float(sz)) if futures else sz} if futures else [f"{px:.1f}", sz]
        bids = [lv(100 - rng.randint(1, 30) / 10 - (1 if side < 0.02 else 0) * -5) for _ in range(rng.randint(0, 3))]
        asks = [lv(100 + rng.randint(0, 30) / 10) for _ in range(rng.randint(0, 3))]
        result: dict = {"t": 1606294781123 + i, "s": "BTC_USDT" if rng.random() < 0.97 else "ETH_USDT",
                        "U": first, "u": max(u, first - 1) if n >= 0 else u, "b": bids, "a": asks}
        if not futures and rng.random() < 0.01:
            result["full"] = True
            result["b"] = [lv(99.0)]
            result["a"] = [lv(101.0)]
        ids.append(u)
        frames.append(json.dumps({"time": 1, "time_ms": 1, "channel": ("futures" if futures else "spot")
                                  + ".order_book_update", "event": "update", "result": result}))
    runs = []
    fed = 0
    for read in ("feed", True, False):
        clock = iter(range(10**9, 2 * 10**9))
        monkeypatch.setattr(ws_module, "time", type("Clock", (), {"time_ns": staticmethod(clock.__next__)}))
        gw, ws = _gateway(market, read, interval_ms)
        if read == "feed":
            assert ws._feed_book is not None
            feed = ws._feed_book

            def counting(text: str, ts: int, feed=feed) -> object:
                nonlocal fed
                r = feed(text, ts)
                fed += r is True
                return r

            ws._feed_book = counting
        b = gw.books["BTC_USDT"]
        b.sync.on_snapshot(100, [(100 - k / 10, 1.0) for k in range(1, 31)], [(100 + k / 10, 1.0) for k in range(31)])
        b.last_state = b.sync.state

        # Act
        events = []
        for i, f in enumerate(frames):
            ws.on_text(f)
            while gw._out:
                subj, ev, kind = gw._out.popleft()
                events.append((subj, msgspec.structs.replace(ev, ts_recv=0), kind))
            if b.sync.needs_snapshot and i % 5 == 0:  # a REST snapshot taken now: the id of the last diff sent
                b.sync.begin_snapshot()
                b.sync.on_snapshot(ids[i], [(100 - k / 10, 1.0) for k in range(1, 31)],
                                   [(100 + k / 10, 1.0) for k in range(31)])
        runs.append((events, b.sync.book.bids, b.sync.book.asks, b.sync.book.seq, b.sync.applied, b.sync.gaps,
                     b.sync.dropped, b.sync.crossed, gw.n["book"], b.ts_event, b.ts_recv, b.dirty, b.last_book_ns,
                     b.sync.state, b.sync.reason, b.sync.resyncs))

    # Assert
    assert runs[0] == runs[1]
    assert runs[1] == runs[2]
    assert runs[0][4] > 1000  # most diffs were applied (the reader's path was exercised)
    assert fed > 1000  # ... and most of them by the compiled feed
    assert runs[0][7] > 0  # crossed books were among them
