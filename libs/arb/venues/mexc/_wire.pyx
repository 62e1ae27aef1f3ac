# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""One-pass reader of MEXC public pushes (``PushDataV3ApiWrapper`` with any public body of the official schema).

Why this exists: upb parses a depth frame in ~0.4 us, but reading it back through the Python bindings (a
message object per level, a str per field, then ``float()``) costs ~2 us more. This reader walks the
protobuf wire format once and builds only what the gateway keeps: floats, ints, the symbol.

It returns exactly what ``wire.decode_public_py`` (upb) returns for the same bytes, or None when the frame
uses something it leaves to upb (a body field repeated, group wire types); tests/unit/test_mexc_wire.py checks
the two against each other on generated frames of every public body, unknown fields and malformed input included.
The hot path is the aggre depth / bookTicker / deals bodies (313/315/314), tested first; the other public bodies
(limit depth 303 among them) are read after those by ``_book``, ``_flat`` and ``_items``.
Protobuf rules kept: unknown fields skipped, a field with an unexpected wire type is unknown, the last value
of a repeated scalar wins, each occurrence of a repeated message field is one more element. Unlike upb it
does not parse the private bodies (only their field number is returned), nor check that strings it
never reads (``eventType``, ``symbolId``, the channel when ``symbol`` is
there) are UTF-8, and it refuses non-finite numbers ("nan", "inf") that ``float()`` would take.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memchr, memcpy

from arb.core.errors import ProtocolError

cdef extern from "Python.h":
    double PyOS_string_to_double(const char *s, char **endptr, PyObject *overflow_exception) except? -1.0


class _Slow(Exception):
    pass


cdef enum:
    DEPTH = 313
    DEALS = 314
    BBO = 315
    DEALS_V3 = 301
    INC_DEPTH = 302
    LIMIT_DEPTH = 303
    TICKER = 305
    KLINE = 308
    MINI_TICKER = 309
    MINI_TICKERS = 310
    TICKER_BATCH = 311
    INC_DEPTH_BATCH = 312
    MAX_NUM = 63
    MAX_FLAT = 16


cdef inline uint64_t _varint(const unsigned char *p, Py_ssize_t end, Py_ssize_t *pos) except? 0xFFFFFFFFFFFFFFFF:
    cdef uint64_t out = 0
    cdef int shift = 0
    cdef Py_ssize_t i = pos[0]
    cdef unsigned char b
    while True:
        if i >= end:
            raise ProtocolError("mexc push: truncated varint")
        b = p[i]
        i += 1
        out |= (<uint64_t>(b & 0x7F)) << shift
        if b < 0x80:
            break
        shift += 7
        if shift > 63:
            raise ProtocolError("mexc push: varint longer than 10 bytes")
    pos[0] = i
    return out


cdef inline uint64_t _tag(const unsigned char *p, Py_ssize_t end, Py_ssize_t *pos) except? 0xFFFFFFFFFFFFFFFF:
    """A field key; field numbers are 1 .. 2**29 - 1, as upb checks."""
    cdef uint64_t tag = _varint(p, end, pos)
    if tag < 8 or tag > 0xFFFFFFFF:
        raise ProtocolError("mexc push: invalid field number")
    return tag


cdef inline Py_ssize_t _len(const unsigned char *p, Py_ssize_t end, Py_ssize_t *pos) except -1:
    """Read a length prefix; returns the start of the payload and moves ``pos`` past it."""
    cdef uint64_t n = _varint(p, end, pos)
    cdef Py_ssize_t start = pos[0]
    if n > <uint64_t>(end - start):
        raise ProtocolError("mexc push: length beyond the end of the frame")
    pos[0] = start + <Py_ssize_t>n
    return start


cdef inline int _skip(const unsigned char *p, Py_ssize_t end, Py_ssize_t *pos, int wt) except -1:
    if wt == 0:
        _varint(p, end, pos)
    elif wt == 2:
        _len(p, end, pos)
    elif wt == 1 or wt == 5:
        if (8 if wt == 1 else 4) > end - pos[0]:
            raise ProtocolError("mexc push: fixed field beyond the end of the frame")
        pos[0] += 8 if wt == 1 else 4
    else:
        raise _Slow()  # groups (3, 4): deprecated, left to upb
    return 0


cdef double _num(const unsigned char *p, Py_ssize_t start, Py_ssize_t stop) except? -1.0:
    """A venue decimal string (``"117145.49"``) as a finite double, rounded as ``float()`` rounds."""
    cdef char buf[MAX_NUM + 1]
    cdef Py_ssize_t n = stop - start
    cdef double v
    if start < 0:
        raise ProtocolError("mexc push: number field missing")
    if n <= 0 or n > MAX_NUM or memchr(p + start, 0, n) != NULL:
        raise ProtocolError("mexc push: not a decimal number: %r" % (<bytes>p[start:stop],))
    memcpy(buf, p + start, n)
    buf[n] = 0
    try:
        v = PyOS_string_to_double(buf, NULL, NULL)
    except ValueError:
        raise ProtocolError("mexc push: not a decimal number: %r" % (<bytes>p[start:stop],)) from None
    if not isfinite(v):
        raise ProtocolError("mexc push: not a finite number: %r" % (<bytes>p[start:stop],))
    return v


cdef int64_t _uint(const unsigned char *p, Py_ssize_t start, Py_ssize_t stop, int64_t empty) except? -2:
    """A version string of ASCII digits as an int; ``empty`` when absent or "" (-1: required)."""
    cdef int64_t v = 0
    cdef Py_ssize_t i
    cdef unsigned char c
    if start < 0 or stop == start:
        if empty < 0:
            raise ProtocolError("mexc push: version missing")
        return empty
    if stop - start > 18:
        raise ProtocolError("mexc push: version too long: %r" % (<bytes>p[start:stop],))
    for i in range(start, stop):
        c = p[i]
        if c < 48 or c > 57:
            raise ProtocolError("mexc push: not a version number: %r" % (<bytes>p[start:stop],))
        v = v * 10 + (c - 48)
    return v


cdef inline str _str(const unsigned char *p, Py_ssize_t start, Py_ssize_t stop):
    if start < 0:
        return ""
    return PyUnicode_DecodeUTF8(<const char *>p + start, stop - start, NULL)


cdef str _text(const unsigned char *p, Py_ssize_t start, Py_ssize_t stop):
    """A string field the caller keeps: "" when absent; invalid UTF-8 is a ProtocolError (upb refuses it too)."""
    if start < 0:
        return ""
    try:
        return PyUnicode_DecodeUTF8(<const char *>p + start, stop - start, NULL)
    except UnicodeDecodeError:
        raise ProtocolError("mexc push: string field is not UTF-8") from None


cdef tuple _level(const unsigned char *p, Py_ssize_t start, Py_ssize_t end):
    """``PublicAggreDepthV3ApiItem {string price = 1; string quantity = 2;}`` -> (price, quantity)."""
    cdef Py_ssize_t pos = start, ps = -1, pe = -1, qs = -1, qe = -1, s
    cdef uint64_t tag
    while pos < end:
        tag = _tag(p, end, &pos)
        if tag == 10 or tag == 18:
            s = _len(p, end, &pos)
            if tag == 10:
                ps = s
                pe = pos
            else:
                qs = s
                qe = pos
        else:
            _skip(p, end, &pos, <int>(tag & 7))
    return (_num(p, ps, pe), _num(p, qs, qe))


cdef tuple _depth(const unsigned char *p, Py_ssize_t start, Py_ssize_t end):
    """``PublicAggreDepthsV3Api``: asks = 1, bids = 2, fromVersion = 4, toVersion = 5."""
    cdef Py_ssize_t pos = start, s, fs = -1, fe = -1, ts = -1, te = -1
    cdef uint64_t tag
    cdef list bids = [], asks = []
    while pos < end:
        tag = _tag(p, end, &pos)
        if tag == 10 or tag == 18 or tag == 34 or tag == 42:
            s = _len(p, end, &pos)
            if tag == 10:
                asks.append(_level(p, s, pos))
            elif tag == 18:
                bids.append(_level(p, s, pos))
            elif tag == 34:
                fs = s
                fe = pos
            else:
                ts = s
                te = pos
        else:
            _skip(p, end, &pos, <int>(tag & 7))
    return (_uint(p, fs, fe, -1), _uint(p, ts, te, -1), bids, asks)


cdef tuple _bbo(const unsigned char *p, Py_ssize_t start, Py_ssize_t end):
    """``PublicAggreBookTickerV3Api``: bidPrice 1, bidQuantity 2, askPrice 3, askQuantity 4, version 5."""
    cdef Py_ssize_t pos = start, s
    cdef Py_ssize_t st[5]
    cdef Py_ssize_t en[5]
    cdef uint64_t tag
    cdef int i
    for i in range(5):
        st[i] = -1
        en[i] = -1
    while pos < end:
        tag = _tag(p, end, &pos)
        if (tag & 7) == 2 and 1 <= (tag >> 3) <= 5:
            s = _len(p, end, &pos)
            i = <int>(tag >> 3) - 1
            st[i] = s
            en[i] = pos
        else:
            _skip(p, end, &pos, <int>(tag & 7))
    return (_num(p, st[0], en[0]), _num(p, st[1], en[1]), _num(p, st[2], en[2]), _num(p, st[3], en[3]),
            _uint(p, st[4], en[4], 0))


cdef tuple _deal(const unsigned char *p, Py_ssize_t start, Py_ssize_t end):
    """``PublicAggreDealsV3ApiItem``: price 1, quantity 2, tradeType 3 (int32), time 4 (int64 ms), tradeId 5."""
    cdef Py_ssize_t pos = start, s, ps = -1, pe = -1, qs = -1, qe = -1, is_ = -1, ie = -1
    cdef uint64_t tag
    cdef int64_t side = 0, ms = 0
    while pos < end:
        tag = _tag(p, end, &pos)
        if tag == 10 or tag == 18 or tag == 42:
            s = _len(p, end, &pos)
            if tag == 10:
                ps = s
                pe = pos
            elif tag == 18:
                qs = s
                qe = pos
            else:
                is_ = s
                ie = pos
        elif tag == 24:
            side = <int64_t><int><unsigned int>_varint(p, end, &pos)  # int32: the low 32 bits, signed
        elif tag == 32:
            ms = <int64_t>_varint(p, end, &pos)
        else:
            _skip(p, end, &pos, <int>(tag & 7))
    return (_num(p, ps, pe), _num(p, qs, qe), side, ms, _str(p, is_, ie))


cdef list _deals(const unsigned char *p, Py_ssize_t start, Py_ssize_t end):
    """``PublicAggreDealsV3Api``: deals = 1."""
    cdef Py_ssize_t pos = start, s
    cdef uint64_t tag
    cdef list out = []
    while pos < end:
        tag = _tag(p, end, &pos)
        if tag == 10:
            s = _len(p, end, &pos)
            out.append(_deal(p, s, pos))
        else:
            _skip(p, end, &pos, <int>(tag & 7))
    return out


# ------------------------------------------------------------------ the other public bodies (not on the hot path)


cdef tuple _flat(const unsigned char *p, Py_ssize_t start, Py_ssize_t end, bytes spec):
    """A message of scalar fields 1..len(spec) -> a tuple in field order, each typed by its letter in ``spec``:
    ``n`` decimal string -> float (required), ``v`` version string -> int (0 when absent), ``s`` string -> str,
    ``i`` int32, ``l`` int64, ``-`` not read (``eventType``, ``lastOrderCreateTime``: skipped like unknown fields)."""
    cdef const char *sp = spec
    cdef Py_ssize_t n = len(spec), pos = start, s
    cdef Py_ssize_t st[MAX_FLAT]
    cdef Py_ssize_t en[MAX_FLAT]
    cdef int64_t iv[MAX_FLAT]
    cdef uint64_t tag, fn
    cdef int wt, i
    cdef char c
    cdef list out = []
    for i in range(n):
        st[i] = -1
        en[i] = -1
        iv[i] = 0
    while pos < end:
        tag = _tag(p, end, &pos)
        fn = tag >> 3
        wt = <int>(tag & 7)
        if 1 <= fn <= <uint64_t>n:
            c = sp[fn - 1]
            if wt == 2 and (c == c'n' or c == c'v' or c == c's'):
                s = _len(p, end, &pos)
                st[fn - 1] = s
                en[fn - 1] = pos
                continue
            if wt == 0 and c == c'i':
                iv[fn - 1] = <int64_t><int><unsigned int>_varint(p, end, &pos)  # int32: the low 32 bits, signed
                continue
            if wt == 0 and c == c'l':
                iv[fn - 1] = <int64_t>_varint(p, end, &pos)
                continue
        _skip(p, end, &pos, wt)
    for i in range(n):
        c = sp[i]
        if c == c'n':
            out.append(_num(p, st[i], en[i]))
        elif c == c'v':
            out.append(_uint(p, st[i], en[i], 0))
        elif c == c's':
            out.append(_text(p, st[i], en[i]))
        elif c == c'i' or c == c'l':
            out.append(iv[i])
    return tuple(out)


cdef list _items(const unsigned char *p, Py_ssize_t start, Py_ssize_t end, uint64_t key, bytes spec):
    """Each occurrence of the repeated message field ``key`` (a field key, e.g. 10 = field 1, LEN) as ``_flat``."""
    cdef Py_ssize_t pos = start, s
    cdef uint64_t tag
    cdef list out = []
    while pos < end:
        tag = _tag(p, end, &pos)
        if tag == key:
            s = _len(p, end, &pos)
            out.append(_flat(p, s, pos, spec))
        else:
            _skip(p, end, &pos, <int>(tag & 7))
    return out


cdef tuple _book(const unsigned char *p, Py_ssize_t start, Py_ssize_t end):
    """``PublicLimitDepthsV3Api`` / ``PublicIncreaseDepthsV3Api``: asks 1, bids 2, version 4 -> (version, bids, asks)."""
    cdef Py_ssize_t pos = start, s, vs = -1, ve = -1
    cdef uint64_t tag
    cdef list bids = [], asks = []
    while pos < end:
        tag = _tag(p, end, &pos)
        if tag == 10 or tag == 18 or tag == 34:
            s = _len(p, end, &pos)
            if tag == 10:
                asks.append(_level(p, s, pos))
            elif tag == 18:
                bids.append(_level(p, s, pos))
            else:
                vs = s
                ve = pos
        else:
            _skip(p, end, &pos, <int>(tag & 7))
    return (_uint(p, vs, ve, 0), bids, asks)


cdef list _books(const unsigned char *p, Py_ssize_t start, Py_ssize_t end):
    """``PublicIncreaseDepthsBatchV3Api``: items = 1 (each a ``PublicIncreaseDepthsV3Api``)."""
    cdef Py_ssize_t pos = start, s
    cdef uint64_t tag
    cdef list out = []
    while pos < end:
        tag = _tag(p, end, &pos)
        if tag == 10:
            s = _len(p, end, &pos)
            out.append(_book(p, s, pos))
        else:
            _skip(p, end, &pos, <int>(tag & 7))
    return out


cdef tuple _version_of(const unsigned char *p, Py_ssize_t start, Py_ssize_t end, uint64_t key):
    """The version string at field key ``key`` of a body, as ``(int,)`` (0 when absent)."""
    cdef Py_ssize_t pos = start, s, vs = -1, ve = -1
    cdef uint64_t tag
    while pos < end:
        tag = _tag(p, end, &pos)
        if tag == key:
            s = _len(p, end, &pos)
            vs = s
            ve = pos
        else:
            _skip(p, end, &pos, <int>(tag & 7))
    return (_uint(p, vs, ve, 0),)


# PublicDealsV3ApiItem: price, quantity, tradeType, time
_S_DEAL = b"nnil"
# PublicBookTickerV3Api: bidPrice, bidQuantity, askPrice, askQuantity
_S_TICKER = b"nnnn"
# PublicSpotKlineV3Api: interval, windowStart, opening, closing, highest, lowest, volume, amount, windowEnd
_S_KLINE = b"slnnnnnnl"
# PublicMiniTickerV3Api: symbol, price, rate, zonedRate, high, low, volume, quantity, lastCloseRate,
# lastCloseZonedRate, lastCloseHigh, lastCloseLow
_S_MINI = b"snnnnnnnnnnn"


cdef tuple _other(int num, const unsigned char *p, Py_ssize_t bs, Py_ssize_t be):
    """The body of the other public pushes (see ``decode_public``); () for a body not read (private)."""
    if num == LIMIT_DEPTH or num == INC_DEPTH:
        return _book(p, bs, be)
    if num == DEALS_V3:
        return (_items(p, bs, be, 10, _S_DEAL),)
    if num == TICKER:
        return _flat(p, bs, be, _S_TICKER)
    if num == TICKER_BATCH:
        return (_items(p, bs, be, 10, _S_TICKER),) + _version_of(p, bs, be, 18)
    if num == INC_DEPTH_BATCH:
        return (_books(p, bs, be),)
    if num == KLINE:
        return _flat(p, bs, be, _S_KLINE)
    if num == MINI_TICKER:
        return _flat(p, bs, be, _S_MINI)
    if num == MINI_TICKERS:
        return (_items(p, bs, be, 10, _S_MINI),)
    return ()


def decode_public(bytes data):
    """A binary push -> ``(body field, venue symbol, venue ms, *body)`` or None (let upb decode it).

    ``venue symbol`` is ``symbol`` (3), else the channel's text after its last ``@``; ``venue ms`` is
    ``sendTime`` (6), else ``createTime`` (5), else 0. Bodies: depth 313 -> ``(fromVersion, toVersion, bids,
    asks)`` with ``[(price, qty), ...]`` in wire order; bookTicker 315 -> ``(bid, bid_qty, ask, ask_qty,
    version or 0)``; deals 314 -> ``([(price, qty, tradeType, time_ms, tradeId), ...],)``. The other public
    bodies of the official schema (specs/gateways.md has the table): limit depth 303 and increase depth 302 ->
    ``(version or 0, bids, asks)``; increase depth batch 312 -> ``([(version, bids, asks), ...],)``; deals 301
    -> ``([(price, qty, tradeType, time_ms), ...],)``; bookTicker 305 -> ``(bid, bid_qty, ask, ask_qty)``;
    bookTicker batch 311 -> ``([(bid, bid_qty, ask, ask_qty), ...], version or 0)``; kline 308 -> ``(interval,
    windowStart, open, close, high, low, volume, amount, windowEnd)``; mini ticker 309 -> ``(symbol, price, rate,
    zonedRate, high, low, volume, quantity, lastCloseRate, lastCloseZonedRate, lastCloseHigh, lastCloseLow)``
    (decimals as floats); mini tickers 310 -> ``([mini ticker, ...],)``. ``eventType`` and ``lastOrderCreateTime``
    are not read. A private body (304/306/307) or none -> nothing more. Raises ProtocolError when the bytes are
    malformed.
    """
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t end = PyBytes_GET_SIZE(data), pos = 0, s
    cdef Py_ssize_t cs = -1, ce = -1, ss = -1, se = -1, bs = -1, be = -1
    cdef uint64_t tag, send = 0, create = 0
    cdef int64_t ms
    cdef int num = 0, fn, wt
    cdef str symbol
    try:
        while pos < end:
            tag = _tag(p, end, &pos)
            fn = <int>(tag >> 3)
            wt = <int>(tag & 7)
            if wt == 2 and (fn == 1 or fn == 3 or 301 <= fn <= 315):
                s = _len(p, end, &pos)
                if fn == 1:
                    cs = s
                    ce = pos
                elif fn == 3:
                    ss = s
                    se = pos
                else:
                    if num:
                        raise _Slow()  # a second body: upb merges or replaces, not worth doing here
                    num = fn
                    bs = s
                    be = pos
            elif wt == 0 and (fn == 5 or fn == 6):
                if fn == 5:
                    create = _varint(p, end, &pos)
                else:
                    send = _varint(p, end, &pos)
            else:
                _skip(p, end, &pos, wt)
    except _Slow:
        return None
    if ss >= 0 and se > ss:
        symbol = _str(p, ss, se)
    elif cs >= 0:
        s = ce - 1
        while s >= cs and p[s] != 64:  # '@'
            s -= 1
        symbol = _str(p, s + 1, ce)
    else:
        symbol = ""
    ms = <int64_t>(send if send else create)
    try:
        if num == DEPTH:
            return (num, symbol, ms) + _depth(p, bs, be)
        if num == BBO:
            return (num, symbol, ms) + _bbo(p, bs, be)
        if num == DEALS:
            return (num, symbol, ms, _deals(p, bs, be))
        if num:
            return (num, symbol, ms) + _other(num, p, bs, be)
    except _Slow:
        return None
    return (num, symbol, ms)
