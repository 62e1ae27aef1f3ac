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
