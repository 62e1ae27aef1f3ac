"""MEXC public push reader: the compiled one-pass reader and the upb path give the same results.

The frames are built at the wire level here (fields in any order, unknown fields of every wire type inside
the wrapper, the bodies and the levels, long strings with multi-byte lengths, repeated scalars) so that upb,
the reference, decides what each frame means.
"""

from __future__ import annotations

import random

import pytest
from arb.core.errors import ProtocolError
from arb.venues.mexc import wire

from proto.gen.mexc.PublicAggreBookTickerV3Api_pb2 import PublicAggreBookTickerV3Api
from proto.gen.mexc.PublicAggreDealsV3Api_pb2 import PublicAggreDealsV3Api, PublicAggreDealsV3ApiItem
from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

pytestmark = pytest.mark.unit

try:
    from arb.venues.mexc._wire import decode_public as compiled
except ImportError:  # built without a C compiler; .ci/run insists on the compiled reader
    compiled = None

needs_compiled = pytest.mark.skipif(compiled is None, reason="arb.venues.mexc._wire was not built")
IMPLS = [pytest.param(lambda f: compiled(f) or wire.decode_public_py(f), id="compiled", marks=needs_compiled),
         pytest.param(wire.decode_public_py, id="upb")]

# exchange-facts 1.5: hand-encoded aggre depth frame, verified by a generic decoder
DEPTH_VECTOR = bytes.fromhex(
    "0a2f73706f74407075626c69632e61676772652e64657074682e76332e6170692e7062403130306d7340425443555344541a07425443"
    "555344543" "0a8e3eef58833ca136c0a0e0a093131373134352e343912013012170a093131373035332e3431120a312e38363833373237"
    "311a2773706f74407075626c69632e61676772652e64657074682e76332e6170692e7062403130306d73220b343332393633363332"
    "33362a0b3433323936333633323535"
)


@pytest.mark.parametrize("decode", IMPLS)
def test_depth_vector(decode) -> None:
    """The captured depth frame: symbol, sendTime, versions and absolute levels (0 = remove)."""
    assert decode(DEPTH_VECTOR) == (313, "BTCUSDT", 1754741322152, 43296363236, 43296363255,
                                    [(117053.41, 1.86837271)], [(117145.49, 0.0)])


@pytest.mark.parametrize("decode", IMPLS)
def test_unknown_trailing_field_is_tolerated(decode) -> None:
    """MEXC adds fields: one we do not know (field 2047, varint) changes nothing."""
    assert decode(DEPTH_VECTOR + bytes([0xF8, 0x7F, 0x01])) == decode(DEPTH_VECTOR)


@pytest.mark.parametrize("decode", IMPLS)
@pytest.mark.parametrize("cut", [1, 5, 40])
def test_truncated_frame_is_a_protocol_error(decode, cut: int) -> None:
    """A truncated frame raises ProtocolError (the gateway counts it), never a partial result."""
    with pytest.raises(ProtocolError):
        decode(DEPTH_VECTOR[:-cut])


@pytest.mark.parametrize("decode", IMPLS)
def test_book_ticker_docs_payload(decode) -> None:
    """The docs' aggre bookTicker: floats, ms time, version 0 when MEXC does not send one."""
    f = PushDataV3ApiWrapper(
        channel="spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT", symbol="BTCUSDT", sendTime=1736412092433,
        publicAggreBookTicker=PublicAggreBookTickerV3Api(
            bidPrice="93387.28", bidQuantity="3.73485", askPrice="93387.29", askQuantity="7.669875"),
    ).SerializeToString()
    assert decode(f) == (315, "BTCUSDT", 1736412092433, 93387.28, 3.73485, 93387.29, 7.669875, 0)


@pytest.mark.parametrize("decode", IMPLS)
def test_deals_docs_payload_without_symbol_routes_on_channel(decode) -> None:
    """The docs' deals push; with no ``symbol`` field the channel's suffix names the symbol."""
    f = PushDataV3ApiWrapper(
        channel="spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT", sendTime=1736409765052,
        publicAggreDeals=PublicAggreDealsV3Api(
            deals=[PublicAggreDealsV3ApiItem(price="93220.00", quantity="0.04438243", tradeType=2, time=1736409765051)],
            eventType="spot@public.aggre.deals.v3.api.pb@100ms"),
    ).SerializeToString()
    assert decode(f) == (314, "BTCUSDT", 1736409765052, [(93220.0, 0.04438243, 2, 1736409765051, "")])


@pytest.mark.parametrize("decode", IMPLS)
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "", "1.5x", " 1.5", "1_5", "1.5\x00"])
def test_bad_numbers_are_refused(decode, bad: str) -> None:
    """A price that is not a finite decimal is a protocol error, not a NaN in the book."""
    f = PushDataV3ApiWrapper(
        channel="c@BTCUSDT", symbol="BTCUSDT", sendTime=1,
        publicAggreBookTicker=PublicAggreBookTickerV3Api(bidPrice=bad, bidQuantity="1", askPrice="2", askQuantity="1"),
    ).SerializeToString()
    with pytest.raises(ProtocolError):
        decode(f)


@pytest.mark.parametrize("decode", IMPLS)
def test_other_bodies_name_their_field(decode) -> None:
    """A private or unsubscribed body is named by its field number; no body is 0."""
    f = PushDataV3ApiWrapper(channel="spot@private.account.v3.api.pb", createTime=7)
    f.privateAccount.vcoinName = "USDT"
    assert decode(f.SerializeToString()) == (307, "private.account.v3.api.pb", 7)  # the suffix after "@"
    assert decode(PushDataV3ApiWrapper(channel="x@ETHUSDT").SerializeToString()) == (0, "ETHUSDT", 0)


# ------------------------------------------------------------------ generated frames: compiled == upb


def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(num: int, wt: int) -> bytes:
    return _varint(num << 3 | wt)


def _ld(num: int, payload: bytes) -> bytes:
    return _key(num, 2) + _varint(len(payload)) + payload


def _vi(num: int, v: int) -> bytes:
    return _key(num, 0) + _varint(v)


def _unknown(rng: random.Random, taken: set[int]) -> bytes:
    num = rng.choice([n for n in (7, 9, 15, 16, 99, 2047, 70000) if n not in taken])
    wt = rng.choice([0, 1, 2, 5])
    if wt == 0:
        return _vi(num, rng.getrandbits(rng.choice([3, 20, 64])))
    if wt == 1:
        return _key(num, 1) + rng.randbytes(8)
    if wt == 5:
        return _key(num, 5) + rng.randbytes(4)
    return _ld(num, rng.randbytes(rng.choice([0, 3, 200])))


def _fields(rng: random.Random, fields: list[bytes], taken: set[int]) -> bytes:
    fields = fields + [_unknown(rng, taken) for _ in range(rng.choice([0, 0, 1, 3]))]
    rng.shuffle(fields)
    return b"".join(fields)


def _number(rng: random.Random) -> bytes:
    return rng.choice([
        f"{rng.uniform(0, 200000):.{rng.randint(0, 8)}f}", str(rng.randint(0, 10**9)), "0", "0.00000001",
        f"{rng.uniform(0, 10):.40f}", f"{rng.uniform(1, 9):.3e}",
    ]).encode()


def _level(rng: random.Random) -> bytes:
    fs = [_ld(1, _number(rng)), _ld(2, _number(rng))]
    if rng.random() < 0.1:
        fs.append(_ld(1, _number(rng)))  # repeated scalar: the last one wins
    return _fields(rng, fs, {1, 2})


def _body(rng: random.Random, num: int) -> bytes:
    if num == 313:
        fs = [_ld(1, _level(rng)) for _ in range(rng.choice([0, 1, 4, 30]))]
        fs += [_ld(2, _level(rng)) for _ in range(rng.choice([0, 1, 4, 30]))]
        fs += [_ld(3, b"spot@public.aggre.depth.v3.api.pb@100ms"), _ld(4, str(rng.randint(1, 10**15)).encode()),
               _ld(5, str(rng.randint(1, 10**15)).encode())]
        # keep asks before bids inside their own kind: the order of each list is what the book gets
        return _fields(rng, fs, {1, 2, 3, 4, 5, 6})
    if num == 315:
        fs = [_ld(i, _number(rng)) for i in (1, 2, 3, 4)]
        if rng.random() < 0.7:
            fs.append(_ld(5, str(rng.randint(0, 10**12)).encode()))
        return _fields(rng, fs, {1, 2, 3, 4, 5, 6})
    if num == 314:
        deals = []
        for _ in range(rng.choice([0, 1, 5])):
            d = [_ld(1, _number(rng)), _ld(2, _number(rng)), _vi(3, rng.choice([1, 2, -1])),
                 _vi(4, rng.randint(0, 2**45))]
            if rng.random() < 0.5:
                d.append(_ld(5, str(rng.randint(1, 10**18)).encode()))
            deals.append(_ld(1, _fields(rng, d, {1, 2, 3, 4, 5})))
        return _fields(rng, deals + [_ld(2, b"spot@public.aggre.deals.v3.api.pb@100ms")], {1, 2})
    return _ld(1, b"USDT")  # a private account push: only its field number matters here


def _frame(rng: random.Random) -> bytes:
    num = rng.choice([313, 313, 315, 315, 314, 307, 0])
    sym = rng.choice(["BTCUSDT", "NEIROETH", "X" * 150])
    fs = [_ld(1, f"spot@public.aggre.x.v3.api.pb@100ms@{sym}".encode())]
    if rng.random() < 0.8:
        fs.append(_ld(3, sym.encode()))
    if rng.random() < 0.8:
        fs.append(_vi(6, rng.choice([0, 1754741322152, rng.getrandbits(63), -5])))
    if rng.random() < 0.5:
        fs.append(_vi(5, rng.choice([0, 1754741322150])))
    if num:
        fs.append(_ld(num, _body(rng, num)))
    return _fields(rng, fs, {1, 3, 4, 5, 6, *range(301, 316)})


def _outcome(decode, f: bytes):
    try:
        return decode(f)
    except ProtocolError:
        return ProtocolError


@needs_compiled
def test_generated_frames_decode_as_upb_decodes_them() -> None:
    """3,000 generated frames: the compiled reader (or its upb fallback) returns exactly what upb returns."""
    rng = random.Random(20261124)
    fast = lambda f: compiled(f) or wire.decode_public_py(f)
    kinds = set()
    for _ in range(3000):
        f = _frame(rng)
        want = _outcome(wire.decode_public_py, f)
        assert _outcome(fast, f) == want, f.hex()
        kinds.add(want[0] if isinstance(want, tuple) else want)
    assert kinds >= {0, 307, 313, 314, 315}


@needs_compiled
def test_corrupted_frames_fail_or_decode_as_upb_does() -> None:
    """Truncated frames and ASCII byte corruptions: both raise ProtocolError, or both return the same.

    upb also parses bodies the gateway does not read (a private push on a public socket); the compiled reader
    only names them, so a corrupt one is upb's error but the reader's (unrouted) result.
    """
    rng = random.Random(7)
    errors = skipped_bodies = 0
    for _ in range(3000):
        f = bytearray(_frame(rng))
        if rng.random() < 0.5:
            del f[rng.randrange(len(f)):]
        else:
            for _ in range(rng.randint(1, 3)):
                f[rng.randrange(len(f))] = rng.randrange(128)
        want = _outcome(wire.decode_public_py, bytes(f))
        got = _outcome(lambda b: compiled(b) or wire.decode_public_py(b), bytes(f))
        if got != want:  # the one documented difference: bodies the gateway never reads are not parsed
            assert want is ProtocolError and isinstance(got, tuple) and got[0] not in (313, 314, 315), f.hex()
            skipped_bodies += 1
        errors += want is ProtocolError
    assert errors > 300  # the corruption really produced malformed frames
    assert skipped_bodies < errors // 10


@needs_compiled
def test_a_second_body_is_left_to_upb() -> None:
    """Two body fields in one push: the compiled reader declines and upb's answer (the last body) is used."""
    bbo = _ld(315, b"".join(_ld(i, b"1") for i in (1, 2, 3, 4)))
    f = _ld(3, b"BTCUSDT") + _ld(313, _ld(4, b"1") + _ld(5, b"2")) + bbo
    assert compiled(f) is None
    assert wire.decode_public_py(f) == (315, "BTCUSDT", 0, 1.0, 1.0, 1.0, 1.0, 0)


# ------------------------------------------------------------------ every public body of the official schema

# exchange-facts 1.4: field numbers and types of each public body (message fields are generated by their builder)
_N, _V, _S, _I, _L, _E = "n", "v", "s", "i", "l", "e"  # decimal, version, text, int32, int64, eventType (not read)
_TICKER = [_N, _N, _N, _N]
_KLINE = [_S, _L, _N, _N, _N, _N, _N, _N, _L]
_MINI = [_S] + [_N] * 11


def _text(rng: random.Random) -> bytes:
    return rng.choice(["Min15", "BTCUSDT", "", "é€", "x" * 130]).encode()


def _scalar(rng: random.Random, num: int, kind: str) -> bytes | None:
    if kind == _N:
        return _ld(num, _number(rng))
    if kind == _V:
        return _ld(num, str(rng.randint(0, 10**15)).encode()) if rng.random() < 0.8 else None
    if kind == _S:
        return _ld(num, _text(rng)) if rng.random() < 0.9 else None
    if kind == _E:
        return _ld(num, b"spot@public.limit.depth.v3.api.pb") if rng.random() < 0.8 else None
    v = rng.choice([0, 1, 2, -1, 1736410500, 2**40, rng.getrandbits(64)])
    return _vi(num, v) if rng.random() < 0.9 else None


def _flat(rng: random.Random, spec: list[str]) -> bytes:
    fs = [f for i, k in enumerate(spec, 1) if (f := _scalar(rng, i, k)) is not None]
    if fs and rng.random() < 0.1:
        fs.append(fs[0])  # repeated scalar: the last one wins
    return _fields(rng, fs, set(range(1, len(spec) + 1)))


def _book_body(rng: random.Random, extra: bool) -> bytes:
    fs = [_ld(1, _level(rng)) for _ in range(rng.choice([0, 1, 5, 20]))]
    fs += [_ld(2, _level(rng)) for _ in range(rng.choice([0, 1, 5, 20]))]
    fs += [f for f in (_scalar(rng, 3, _E), _scalar(rng, 4, _V)) if f is not None]
    if extra and rng.random() < 0.5:
        fs.append(_vi(5, 1736411838729))  # lastOrderCreateTime (2026.6), limit depth only
    return _fields(rng, fs, {1, 2, 3, 4, 5})


def _public_body(rng: random.Random, num: int) -> bytes:
    """A generated body of field ``num`` with random values; unknown fields and field order shuffled."""
    if num in (302, 303):
        return _book_body(rng, num == 303)
    if num == 312:
        items = [_ld(1, _book_body(rng, False)) for _ in range(rng.choice([0, 1, 3]))]
        return _fields(rng, items + [_ld(2, b"spot@public.increase.depth.batch.v3.api.pb")], {1, 2})
    if num == 301:
        items = [_ld(1, _flat(rng, [_N, _N, _I, _L])) for _ in range(rng.choice([0, 1, 4]))]
        return _fields(rng, items + [_ld(2, b"spot@public.deals.v3.api.pb")], {1, 2})
    if num == 305:
        return _flat(rng, _TICKER)
    if num == 311:
        items = [_ld(1, _flat(rng, _TICKER)) for _ in range(rng.choice([0, 1, 3]))]
        tail = [f for f in (_scalar(rng, 2, _V), _vi(3, 1736411838729) if rng.random() < 0.5 else None) if f]
        return _fields(rng, items + tail, {1, 2, 3})
    if num == 308:
        return _flat(rng, _KLINE)
    if num == 309:
        return _flat(rng, _MINI)
    if num == 310:
        return _fields(rng, [_ld(1, _flat(rng, _MINI)) for _ in range(rng.choice([0, 1, 3]))], {1})
    return _body(rng, num)


_PUBLIC = (301, 302, 303, 305, 308, 309, 310, 311, 312, 313, 314, 315)


def _public_frame(rng: random.Random, num: int) -> bytes:
    fs = [_ld(1, f"spot@public.x.v3.api.pb@BTCUSDT@{rng.choice(['5', 'Min15', 'UTC+8'])}".encode())]
    if rng.random() < 0.7:
        fs.append(_ld(3, b"BTCUSDT"))
    if rng.random() < 0.3:
        fs.append(_ld(4, b"2fb942154ef44a4ab2ef98c8afb6a4a7"))  # symbolId
    if rng.random() < 0.8:
        fs.append(_vi(6, 1736411838730))
    if rng.random() < 0.5:
        fs.append(_vi(5, 1736411838729))
    fs.append(_ld(num, _public_body(rng, num)))
    return _fields(rng, fs, {1, 3, 4, 5, 6, *range(301, 316)})


def test_every_public_body_of_the_schema_is_generated() -> None:
    """The generator covers every public body of ``PushDataV3ApiWrapper`` (the private ones are 304/306/307)."""
    fields = PushDataV3ApiWrapper.DESCRIPTOR.oneofs_by_name["body"].fields
    public = {f.number for f in fields if f.name.startswith("public")}
    assert public == set(_PUBLIC) == set(wire.PUBLIC_BODIES)


@needs_compiled
@pytest.mark.parametrize("num", _PUBLIC)
def test_every_public_body_decodes_as_upb_decodes_it(num: int) -> None:
    """500 generated frames per body: the compiled reader (or its upb fallback) returns exactly what upb returns,
    and upb returns the body's typed values (not only its field number) for the valid ones."""
    rng = random.Random(num)
    fast = lambda f: compiled(f) or wire.decode_public_py(f)
    decoded = 0
    for _ in range(500):
        f = _public_frame(rng, num)
        want = _outcome(wire.decode_public_py, f)
        assert _outcome(fast, f) == want, f.hex()
        if want is not ProtocolError:
            assert want[0] == num and len(want) > 3
            decoded += 1
    assert decoded > 100  # most generated frames are valid (an empty required decimal is not)


@needs_compiled
def test_corrupted_public_frames_fail_or_decode_as_upb_does() -> None:
    """Truncated and ASCII-corrupted frames of every public body: both readers raise, or both return the same."""
    rng = random.Random(15)
    errors = unread = 0
    fast = lambda b: compiled(b) or wire.decode_public_py(b)
    for _ in range(4000):
        f = bytearray(_public_frame(rng, rng.choice(_PUBLIC)))
        if rng.random() < 0.5:
            del f[rng.randrange(len(f)):]
        else:
            for _ in range(rng.randint(1, 3)):
                f[rng.randrange(len(f))] = rng.randrange(128)
        want = _outcome(wire.decode_public_py, bytes(f))
        got = _outcome(fast, bytes(f))
        if got != want:  # the documented difference: strings never read (eventType, symbolId) are not UTF-8-checked
            assert want is ProtocolError and isinstance(got, tuple), f.hex()
            unread += 1
        errors += want is ProtocolError
    assert errors > 300
    assert unread < errors // 10


# exchange-facts 1.5, limit depth [docs]: the docs' lower-cased dump, on the wire by field number
LIMIT_DOCS = {"channel": "spot@public.limit.depth.v3.api.pb@BTCUSDT@5", "symbol": "BTCUSDT", "sendTime": 1736411838730,
              "asks": [("93180.18", "0.21976424")], "bids": [("93179.98", "2.82651000")],
              "eventType": "spot@public.limit.depth.v3.api.pb", "version": "36913565463"}


def _limit_docs_frame() -> bytes:
    d = LIMIT_DOCS
    w = PushDataV3ApiWrapper(channel=d["channel"], symbol=d["symbol"], sendTime=d["sendTime"])
    b = w.publicLimitDepths
    for side, levels in (("asks", d["asks"]), ("bids", d["bids"])):
        for p, q in levels:
            lv = getattr(b, side).add()
            lv.price, lv.quantity = p, q
    b.eventType, b.version = d["eventType"], d["version"]
    return w.SerializeToString()


@pytest.mark.parametrize("decode", IMPLS)
def test_limit_depth_docs_payload(decode) -> None:
    """The docs' limit depth push (303): version as int, bids and asks in wire order, symbol before level."""
    assert decode(_limit_docs_frame()) == (303, "BTCUSDT", 1736411838730, 36913565463, [(93179.98, 2.82651)],
                                           [(93180.18, 0.21976424)])


@pytest.mark.parametrize("decode", IMPLS)
def test_docs_bodies_under_their_legacy_fields(decode) -> None:
    """The docs' depth, deals and bookTicker samples sent in the schema's legacy bodies 302/301/305 decode too."""
    w = PushDataV3ApiWrapper(channel="spot@public.increase.depth.v3.api.pb@BTCUSDT", symbol="BTCUSDT",
                             sendTime=1736411507002)
    lv = w.publicIncreaseDepths.bids.add()
    lv.price, lv.quantity = "92877.58", "0.00000000"
    w.publicIncreaseDepths.version = "10589632359"
    assert decode(w.SerializeToString()) == (302, "BTCUSDT", 1736411507002, 10589632359, [(92877.58, 0.0)], [])
    w = PushDataV3ApiWrapper(channel="spot@public.deals.v3.api.pb@BTCUSDT", symbol="BTCUSDT", sendTime=1736409765052)
    d = w.publicDeals.deals.add()
    d.price, d.quantity, d.tradeType, d.time = "93220.00", "0.04438243", 2, 1736409765051
    assert decode(w.SerializeToString()) == (301, "BTCUSDT", 1736409765052, [(93220.0, 0.04438243, 2, 1736409765051)])
    w = PushDataV3ApiWrapper(channel="spot@public.bookTicker.batch.v3.api.pb@BTCUSDT", symbol="BTCUSDT",
                             sendTime=1736412092433)
    t = w.publicBookTickerBatch.items.add()
    t.bidPrice, t.bidQuantity, t.askPrice, t.askQuantity = "93387.28", "3.73485", "93387.29", "7.669875"
    assert decode(w.SerializeToString()) == (311, "BTCUSDT", 1736412092433, [(93387.28, 3.73485, 93387.29, 7.669875)],
                                             0)
    w.publicBookTicker.CopyFrom(t)  # the oneof: replaces the batch
    assert decode(w.SerializeToString()) == (305, "BTCUSDT", 1736412092433, 93387.28, 3.73485, 93387.29, 7.669875)


@pytest.mark.parametrize("decode", IMPLS)
def test_kline_and_mini_ticker_typed(decode) -> None:
    """Kline 308 (interval, window start/end as sent, decimals as floats) and mini tickers 309/310."""
    w = PushDataV3ApiWrapper(channel="spot@public.kline.v3.api.pb@BTCUSDT@Min15", symbol="BTCUSDT",
                             createTime=1736410707571)
    k = w.publicSpotKline
    k.interval, k.windowStart, k.windowEnd = "Min15", 1736410500, 1736411400
    k.openingPrice, k.closingPrice, k.highestPrice, k.lowestPrice = "92925", "93158.47", "93158.47", "92800"
    k.volume, k.amount = "36.83803224", "3424811.05"
    assert decode(w.SerializeToString()) == (308, "BTCUSDT", 1736410707571, "Min15", 1736410500, 92925.0, 93158.47,
                                             93158.47, 92800.0, 36.83803224, 3424811.05, 1736411400)
    w = PushDataV3ApiWrapper(channel="spot@public.miniTickers.v3.api.pb@UTC+8", sendTime=5)
    m = w.publicMiniTickers.items.add()
    values = ["2.5174", "-0.0766", "0.0766", "2.6299", "2.302", "14714712.67", "6035748.79", "0.0758", "0.0758",
              "2.6299", "2.302"]
    for name, v in zip(("price", "rate", "zonedRate", "high", "low", "volume", "quantity", "lastCloseRate",
                        "lastCloseZonedRate", "lastCloseHigh", "lastCloseLow"), values, strict=True):
        setattr(m, name, v)
    m.symbol = "MXUSDT"
    want_mini = ("MXUSDT", *(float(v) for v in values))
    assert decode(w.SerializeToString()) == (310, "UTC+8", 5, [want_mini])
    w.publicMiniTicker.CopyFrom(m)
    assert decode(w.SerializeToString()) == (309, "UTC+8", 5, *want_mini)
