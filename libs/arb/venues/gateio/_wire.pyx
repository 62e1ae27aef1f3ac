# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""One-pass reader of Gate.io ``spot.order_book_update`` / ``futures.order_book_update`` frames.

Why this exists: msgspec decodes such a frame (the channel-tagged union, then 6 levels) in ~0.9 us, about
0.45 us of it for the envelope alone, and the levels come out as a tuple or a ``FLevel`` per level that the book
then takes apart again. This reader walks the JSON text once and builds only what the book keeps: the
symbol, the ids, the venue time and, per side, one flat list ``[price, size, price, size, ...]`` of floats
(futures sizes in contracts, as decoded).

``BookReader(futures).read(text)`` returns ``(s, U, u, t, bids, asks)`` or None. None means "not taken, ask
msgspec": any other channel, an event other than ``update``, a ``full`` push, and everything it leaves to
msgspec on purpose (escapes or non-ASCII text, exponents, numbers of more than 19 digits or that the exact
fast path below cannot convert, a known key given twice, a value type msgspec would coerce, nesting deeper
than 32, malformed JSON). Whatever it does take, msgspec (``ws._Base``'s decoder, ``strict=False``) would
decode to the same values: tests/unit/test_gateio_wire.py checks the two against each other on generated
frames, unknown fields and malformed input included.

``BookFeed(futures, gateway, ...).feed(text, ts_recv)`` reads the same way into C doubles and, for a diff that continues
the OK book of its source socket (the common case), runs the gateway's ``on_book_read`` in the same call: the sync
step is ``_book.FlatSync.cont`` (``BookSync.continue_with`` on BookSync's and L2Book's slots), the levels go into the
book from the doubles, and the counters, timestamps and publish-or-mark-dirty decision follow as in Python. Anything
else it hands back as ``read`` would (None or the tuple), with nothing touched. Measured in bench/bench_gateio.py (same
run, futures): ~2,000 ns per frame through ``read`` + ``on_book_read``, ~1,450 ns through ``feed``.

Numbers (level prices and sizes, as JSON strings or JSON numbers): only the JSON number grammar without an
exponent. Integer syntax converts as msgspec does (an integer first: ``"-0"`` is 0.0); a fraction ``m / 10**k``
with ``m <= 2**53`` and ``k <= 22`` is one correctly rounded IEEE division of two exact doubles, so it is the
correctly rounded value msgspec (and ``float()``) gives; anything else is left to msgspec.
"""

from cpython.float cimport PyFloat_FromDouble
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromLongLong
from cpython.ref cimport Py_INCREF, PyObject
from cpython.unicode cimport PyUnicode_FromStringAndSize
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcmp

from arb.venues.common._book cimport FlatApply, FlatSync, slot_get, slot_offset, slot_put

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    PyObject *PyDict_GetItemWithError(object d, object k) except? NULL
    bint _is_long "PyLong_CheckExact"(PyObject *o)
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    const char *PyUnicode_AsUTF8AndSize(object o, Py_ssize_t *size) except NULL


cdef enum:
    MAX_DEPTH = 32
    # the keys we read, one bit each (a known key twice is left to msgspec, where the last one wins)
    K_TIME_MS = 1
    K_CHANNEL = 2
    K_EVENT = 4
    K_RESULT = 8
    R_S = 1
    R_U1 = 2
    R_U2 = 4
    R_B = 8
    R_A = 16
    R_T = 32
    R_FULL = 64
    L_P = 1
    L_S = 2

cdef enum:  # the ASCII characters the grammar names
    BACKSLASH = 92
    COLON = 58
    COMMA = 44
    CR = 13
    DOT = 46
    LBRACE = 123
    LBRACKET = 91
    LF = 10
    LOWER_A = 97
    LOWER_B = 98
    LOWER_E = 101
    LOWER_F = 102
    LOWER_N = 110
    LOWER_S = 115
    LOWER_T = 116
    LOWER_U = 117
    MINUS = 45
    NINE = 57
    QUOTE = 34
    RBRACE = 125
    RBRACKET = 93
    SPACE = 32
    TAB = 9
    UPPER_E = 69
    UPPER_U = 85
    ZERO = 48


cdef double[23] _POW10
cdef int _k
_POW10[0] = 1.0
for _k in range(1, 23):
    _POW10[_k] = _POW10[_k - 1] * 10.0  # exact up to 1e22
cdef uint64_t _EXACT = 1ULL << 53


cdef struct Cur:
    const char *p
    Py_ssize_t i
    Py_ssize_t n


cdef inline void _ws(Cur *c) noexcept:
    cdef char ch
    while c.i < c.n:
        ch = c.p[c.i]
        if ch == SPACE or ch == LF or ch == CR or ch == TAB:
            c.i += 1
        else:
            return


cdef inline bint _eat(Cur *c, char ch) noexcept:
    """Skip whitespace, then ``ch``; False when the next character is not ``ch``."""
    _ws(c)
    if c.i < c.n and c.p[c.i] == ch:
        c.i += 1
        return True
    return False


cdef inline Py_ssize_t _str(Cur *c, Py_ssize_t *start) noexcept:
    """A JSON string without escapes or control characters (the text is ASCII): its length, -1 otherwise."""
    _ws(c)
    if c.i >= c.n or c.p[c.i] != QUOTE:
        return -1
    cdef Py_ssize_t i = c.i + 1
    cdef unsigned char ch
    start[0] = i
    while i < c.n:
        ch = <unsigned char>c.p[i]
        if ch == QUOTE:
            c.i = i + 1
            return i - start[0]
        if ch == BACKSLASH or ch < 0x20:
            return -1
        i += 1
    return -1


cdef inline bint _is(const char *p, Py_ssize_t start, Py_ssize_t n, const char *lit, Py_ssize_t m) noexcept:
    return n == m and memcmp(p + start, lit, m) == 0


cdef int _number(Cur *c, Py_ssize_t end, double *out) noexcept:
    """The JSON number in ``c.p[c.i:end]`` without an exponent: 0 and ``out`` set, or -1 (left to msgspec).
    ``end`` is the end of the enclosing string, or -1 for a bare number (it ends at the first other character)."""
    cdef Py_ssize_t i = c.i, lim = c.n if end < 0 else end
    cdef bint neg = False, frac = False
    cdef uint64_t m = 0
    cdef int digits = 0, k = 0
    cdef char ch
    if i < lim and c.p[i] == MINUS:
        neg = True
        i += 1
    if i >= lim:
        return -1
    ch = c.p[i]
    if ch == ZERO:
        i += 1
        if i < lim and ZERO <= c.p[i] <= NINE:
            return -1  # a leading zero: not JSON
    elif 49 <= ch <= NINE:
        while i < lim and ZERO <= c.p[i] <= NINE:
            if digits == 19:
                return -1
            m = m * 10 + <uint64_t>(c.p[i] - ZERO)
            digits += 1
            i += 1
    else:
        return -1
    if i < lim and c.p[i] == DOT:
        frac = True
        i += 1
        if i >= lim or not (ZERO <= c.p[i] <= NINE):
            return -1
        while i < lim and ZERO <= c.p[i] <= NINE:
            if digits == 19:
                return -1
            m = m * 10 + <uint64_t>(c.p[i] - ZERO)
            if m != 0:
                digits += 1  # leading zeros of the fraction (0.000123) do not count against the 19
            k += 1
            i += 1
    if i < lim and (c.p[i] == LOWER_E or c.p[i] == UPPER_E):
        return -1
    if end >= 0 and i != end:
        return -1  # more text in the string
    c.i = i
    if not frac:
        if m > _EXACT:
            return -1
        out[0] = -<double>m if (neg and m != 0) else <double>m  # as msgspec: an integer first, so "-0" is 0.0
        return 0
    if m > _EXACT or k > 22:
        return -1
    out[0] = <double>m / _POW10[k]
    if neg:
        out[0] = -out[0]
    return 0


cdef int _num(Cur *c, double *out) noexcept:
    """A level's price or size: a JSON string holding a number, or a bare JSON number."""
    cdef Py_ssize_t start, n
    _ws(c)
    if c.i < c.n and c.p[c.i] == QUOTE:
        n = _str(c, &start)
        if n < 0:
            return -1
        c.i = start
        if _number(c, start + n, out) < 0:
            return -1
        c.i = start + n + 1
        return 0
    return _number(c, -1, out)


cdef int _int(Cur *c, int64_t *out) noexcept:
    """A bare JSON integer of at most 18 digits (ids, ms times)."""
    cdef Py_ssize_t i
    cdef bint neg = False
    cdef int64_t v = 0
    cdef int digits = 0
    _ws(c)
    i = c.i
    if i < c.n and c.p[i] == MINUS:
        neg = True
        i += 1
    if i >= c.n:
        return -1
    if c.p[i] == ZERO:
        i += 1
        digits = 1
    else:
        while i < c.n and ZERO <= c.p[i] <= NINE:
            if digits == 18:
                return -1
            v = v * 10 + (c.p[i] - ZERO)
            digits += 1
            i += 1
    if digits == 0:
        return -1
    if i < c.n and (c.p[i] == DOT or c.p[i] == LOWER_E or c.p[i] == UPPER_E or ZERO <= c.p[i] <= NINE):
        return -1
    c.i = i
    out[0] = -v if neg else v
    return 0


cdef int _lit(Cur *c, const char *lit, Py_ssize_t m) noexcept:
    if c.n - c.i >= m and memcmp(c.p + c.i, lit, m) == 0:
        c.i += m
        return 0
    return -1


cdef int _skip(Cur *c, int depth) noexcept:
    """Any JSON value (of a key we do not read): 0, or -1 when it is not one we are sure msgspec accepts."""
    cdef Py_ssize_t start
    cdef double d
    cdef char ch
    if depth > MAX_DEPTH:
        return -1
    _ws(c)
    if c.i >= c.n:
        return -1
    ch = c.p[c.i]
    if ch == QUOTE:
        return 0 if _str(c, &start) >= 0 else -1
    if ch == LBRACE:
        c.i += 1
        if _eat(c, RBRACE):
            return 0
        while True:
            if _str(c, &start) < 0 or not _eat(c, COLON) or _skip(c, depth + 1) < 0:
                return -1
            if _eat(c, COMMA):
                continue
            return 0 if _eat(c, RBRACE) else -1
    if ch == LBRACKET:
        c.i += 1
        if _eat(c, RBRACKET):
            return 0
        while True:
            if _skip(c, depth + 1) < 0:
                return -1
            if _eat(c, COMMA):
                continue
            return 0 if _eat(c, RBRACKET) else -1
    if ch == LOWER_T:
        return _lit(c, b"true", 4)
    if ch == LOWER_F:
        return _lit(c, b"false", 5)
    if ch == LOWER_N:
        return _lit(c, b"null", 4)
    return _number(c, -1, &d)  # exponents and long numbers too are left to msgspec


cdef struct DBuf:
    double *d
    Py_ssize_t n
    Py_ssize_t cap


cdef int _push(DBuf *b, double p, double s) except -1:
    """Append a level (price, size) to ``b``, growing it as needed."""
    cdef Py_ssize_t cap
    cdef double *d
    if b.n + 2 > b.cap:
        cap = b.cap * 2 if b.cap else 64
        d = <double *>realloc(b.d, cap * sizeof(double))
        if d == NULL:
            raise MemoryError()
        b.d = d
        b.cap = cap
    b.d[b.n] = p
    b.d[b.n + 1] = s
    b.n += 2
    return 0


cdef list _as_list(DBuf *b):
    """The side as the flat list of floats ``[price, size, ...]``."""
    cdef list out = PyList_New(b.n)
    cdef Py_ssize_t i
    cdef object x
    for i in range(b.n):
        x = PyFloat_FromDouble(b.d[i])
        Py_INCREF(x)
        PyList_SET_ITEM(out, i, x)
    return out


cdef int _spot_levels(Cur *c, DBuf *out) except -2:
    """``[["price","size"], ...]`` -> ``out`` += [price, size, ...]; -1: left to msgspec."""
    cdef double p, s
    if not _eat(c, LBRACKET):
        return -1
    if _eat(c, RBRACKET):
        return 0
    while True:
        if not _eat(c, LBRACKET) or _num(c, &p) < 0 or not _eat(c, COMMA) or _num(c, &s) < 0 or not _eat(c, RBRACKET):
            return -1
        _push(out, p, s)
        if _eat(c, COMMA):
            continue
        return 0 if _eat(c, RBRACKET) else -1


cdef int _futures_levels(Cur *c, DBuf *out) except -2:
    """``[{"p":"price","s":contracts}, ...]`` (keys in any order, others ignored) -> ``out`` += [price, size, ...]."""
    cdef double p = 0.0, s = 0.0
    cdef Py_ssize_t start, n
    cdef int seen
    if not _eat(c, LBRACKET):
        return -1
    if _eat(c, RBRACKET):
        return 0
    while True:
        if not _eat(c, LBRACE):
            return -1
        seen = 0
        if not _eat(c, RBRACE):
            while True:
                n = _str(c, &start)
                if n < 0 or not _eat(c, COLON):
                    return -1
                if _is(c.p, start, n, b"p", 1):
                    if seen & L_P or _num(c, &p) < 0:
                        return -1
                    seen |= L_P
                elif _is(c.p, start, n, b"s", 1):
                    if seen & L_S or _num(c, &s) < 0:
                        return -1
                    seen |= L_S
                elif _skip(c, 2) < 0:
                    return -1
                if _eat(c, COMMA):
                    continue
                if not _eat(c, RBRACE):
                    return -1
                break
        if seen != (L_P | L_S):
            return -1
        _push(out, p, s)
        if _eat(c, COMMA):
            continue
        return 0 if _eat(c, RBRACKET) else -1


cdef class BookReader:
    """Reads one market's ``order_book_update`` frames (see the module doc); built once per connection adapter."""

    cdef readonly bint futures
    cdef readonly str channel
    cdef bytes _channel
    cdef object _sym  # the last symbol read, reused while frames name the same one (its hash is cached)
    cdef bytes _sym_b
    # the last frame parsed (``_parse``): symbol, U, u, t and each side's levels as C doubles
    cdef object sym
    cdef int64_t first, last, t
    cdef DBuf bids, asks

    def __cinit__(self, *args, **kwargs):
        self.bids.d = self.asks.d = NULL
        self.bids.n = self.asks.n = self.bids.cap = self.asks.cap = 0

    def __dealloc__(self):
        free(self.bids.d)
        free(self.asks.d)

    def __init__(self, bint futures):
        self.futures = futures
        self.channel = "futures.order_book_update" if futures else "spot.order_book_update"
        self._channel = self.channel.encode()
        self._sym = None
        self._sym_b = b""

    cdef object _symbol(self, const char *p, Py_ssize_t start, Py_ssize_t n):
        cdef bytes last = self._sym_b
        if len(last) == n and memcmp(<const char *>last, p + start, n) == 0:
            return self._sym
        self._sym = PyUnicode_FromStringAndSize(p + start, n)
        self._sym_b = p[start:start + n]
        return self._sym

    def read(self, str text not None):
        """``(s, U, u, t, bids, asks)`` of an ``update`` of this reader's channel, or None (ask msgspec)."""
        if self._parse(text) < 0:
            return None
        return self._tuple()

    cdef tuple _tuple(self):
        """The frame last parsed, as ``read`` returns it (each side a new list of floats)."""
        return (self.sym, self.first, self.last, self.t, _as_list(&self.bids), _as_list(&self.asks))

    cdef int _parse(self, str text) except -2:
        """Read ``text`` into ``sym``, ``first``, ``last``, ``t``, ``bids``, ``asks``: 0, or -1 (ask msgspec)."""
        cdef Py_ssize_t size, start, n
        cdef Cur c
        cdef int top = 0, res = 0, r
        cdef int64_t t = 0, first = 0, last = 0, ms
        cdef object sym = None
        cdef DBuf *lv
        self.bids.n = self.asks.n = 0
        if not PyUnicode_IS_ASCII(text):
            return -1
        c.p = PyUnicode_AsUTF8AndSize(text, &size)  # an ASCII str's own buffer: no copy
        c.i = 0
        c.n = size
        if not _eat(&c, LBRACE):
            return -1
        if not _eat(&c, RBRACE):
            while True:
                n = _str(&c, &start)
                if n < 0 or not _eat(&c, COLON):
                    return -1
                if _is(c.p, start, n, b"channel", 7):
                    if top & K_CHANNEL:
                        return -1
                    top |= K_CHANNEL
                    n = _str(&c, &start)
                    if n < 0 or not _is(c.p, start, n, <const char *>self._channel, len(self._channel)):
                        return -1  # another channel: not ours to read
                elif _is(c.p, start, n, b"event", 5):
                    if top & K_EVENT:
                        return -1
                    top |= K_EVENT
                    n = _str(&c, &start)
                    if n < 0 or not _is(c.p, start, n, b"update", 6):
                        return -1
                elif _is(c.p, start, n, b"time_ms", 7):
                    if top & K_TIME_MS or _int(&c, &ms) < 0:
                        return -1
                    top |= K_TIME_MS
                elif _is(c.p, start, n, b"result", 6):
                    if top & K_RESULT or not _eat(&c, LBRACE):
                        return -1
                    top |= K_RESULT
                    if not _eat(&c, RBRACE):
                        while True:
                            n = _str(&c, &start)
                            if n < 0 or not _eat(&c, COLON):
                                return -1
                            if n == 1:
                                r = c.p[start]
                                if r == LOWER_S:
                                    if res & R_S:
                                        return -1
                                    res |= R_S
                                    n = _str(&c, &start)
                                    if n < 0:
                                        return -1
                                    sym = self._symbol(c.p, start, n)
                                elif r == UPPER_U:
                                    if res & R_U1 or _int(&c, &first) < 0:
                                        return -1
                                    res |= R_U1
                                elif r == LOWER_U:
                                    if res & R_U2 or _int(&c, &last) < 0:
                                        return -1
                                    res |= R_U2
                                elif r == LOWER_T:
                                    if res & R_T or _int(&c, &t) < 0:
                                        return -1
                                    res |= R_T
                                elif r == LOWER_B or r == LOWER_A:
                                    if res & (R_B if r == LOWER_B else R_A):
                                        return -1
                                    res |= R_B if r == LOWER_B else R_A
                                    lv = &self.bids if r == LOWER_B else &self.asks
                                    if (_futures_levels(&c, lv) if self.futures else _spot_levels(&c, lv)) < 0:
                                        return -1
                                elif _skip(&c, 2) < 0:
                                    return -1
                            elif _is(c.p, start, n, b"full", 4):
                                if res & R_FULL:
                                    return -1
                                res |= R_FULL
                                _ws(&c)
                                if _lit(&c, b"false", 5) < 0:
                                    return -1  # a full push (or a value msgspec would coerce): msgspec's
                            elif _skip(&c, 2) < 0:
                                return -1
                            if _eat(&c, COMMA):
                                continue
                            if not _eat(&c, RBRACE):
                                return -1
                            break
                elif _skip(&c, 1) < 0:
                    return -1
                if _eat(&c, COMMA):
                    continue
                if not _eat(&c, RBRACE):
                    return -1
                break
        _ws(&c)
        if c.i != c.n:
            return -1  # trailing text
        if (top & (K_CHANNEL | K_EVENT | K_RESULT)) != (K_CHANNEL | K_EVENT | K_RESULT):
            return -1
        if (res & (R_S | R_U1 | R_U2)) != (R_S | R_U1 | R_U2):
            return -1
        self.sym = sym
        self.first = first
        self.last = last
        self.t = t
        return 0




cdef int64_t _T_MAX = 9223372036854  # a venue time in ms whose ns still fit in int64


cdef class BookFeed(BookReader):
    """A ``BookReader`` that also runs the gateway's common case for a frame in the same call: ``feed(text, ts_recv)``
    is ``GatePublicGateway.on_book_read(read(text), ts_recv)`` for a diff from the book's source that continues its OK
    book (``BookSync.continue_with`` as ``FlatSync.cont``, the levels straight from the C doubles read), with the
    same counters, timestamps and publish-or-mark-dirty decision; it answers True then. Anything else: None when the
    reader does not take the frame (msgspec's), else ``read``'s tuple with nothing touched, for ``on_book_read``.

    Built by ``GatePublicGateway.book_feed`` with what it reads of the gateway: ``books`` (venue symbol -> ``_Book``),
    the counters ``n``, ``_wsm``, ``_interval_ns`` (from the gateway's ``__dict__``, read per frame), and the
    ``_Book`` slots (exact class only)."""

    cdef dict gw_dict
    cdef object gw, book_cls, ok, fsync
    cdef Py_ssize_t o_src, o_sync, o_apply, o_ts_event, o_ts_recv, o_last_state, o_last_book_ns, o_dirty

    def __init__(self, bint futures, gateway, book_cls, ok, FlatSync fsync not None):
        BookReader.__init__(self, futures)
        self.gw = gateway
        self.gw_dict = gateway.__dict__
        self.book_cls = book_cls
        self.ok = ok
        self.fsync = fsync
        self.o_src = slot_offset(book_cls, "src")
        self.o_sync = slot_offset(book_cls, "sync")
        self.o_apply = slot_offset(book_cls, "read_apply")
        self.o_ts_event = slot_offset(book_cls, "ts_event")
        self.o_ts_recv = slot_offset(book_cls, "ts_recv")
        self.o_last_state = slot_offset(book_cls, "last_state")
        self.o_last_book_ns = slot_offset(book_cls, "last_book_ns")
        self.o_dirty = slot_offset(book_cls, "dirty")

    def feed(self, str text not None, ts_recv):
        cdef PyObject *x
        cdef PyObject *b
        cdef PyObject *sync
        cdef PyObject *ap
        cdef object n, interval, cur
        cdef int r
        if self._parse(text) < 0:
            return None
        # on_book_read: b = self.books.get(s); the book's source delivers it
        x = PyDict_GetItemWithError(self.gw_dict, "books")
        if x == NULL or type(<object>x) is not dict:
            return self._tuple()
        b = PyDict_GetItemWithError(<object>x, self.sym)
        if b == NULL or type(<object>b) is not self.book_cls:
            return self._tuple()
        x = PyDict_GetItemWithError(self.gw_dict, "_wsm")
        if x == NULL:
            return self._tuple()
        cur = (<object>x).current
        if slot_get(<object>b, self.o_src) != <PyObject *>cur:
            return self._tuple()
        sync = slot_get(<object>b, self.o_sync)
        ap = slot_get(<object>b, self.o_apply)
        if sync == NULL or ap == NULL or type(<object>ap) is not FlatApply:
            return self._tuple()
        x = PyDict_GetItemWithError(self.gw_dict, "n")
        if x == NULL or type(<object>x) is not dict:
            return self._tuple()
        n = <object>x
        x = PyDict_GetItemWithError(self.gw_dict, "_interval_ns")
        if x == NULL:
            return self._tuple()
        interval = <object>x
        r = (<FlatSync>self.fsync).cont(<object>sync, self.first, self.last, self.bids.d, self.bids.n,
                                        self.asks.d, self.asks.n, (<FlatApply>ap).div)
        if r < 0:
            return self._tuple()
        # applied: the rest of on_book_read
        n["book"] += 1
        if -_T_MAX <= self.t <= _T_MAX:
            slot_put(<object>b, self.o_ts_event, PyLong_FromLongLong(self.t * 1_000_000))
        else:
            slot_put(<object>b, self.o_ts_event, <object>self.t * 1_000_000)
        slot_put(<object>b, self.o_ts_recv, ts_recv)
        if r == 0 and slot_get(<object>b, self.o_last_state) == <PyObject *>self.ok:
            x = slot_get(<object>b, self.o_last_book_ns)
            if x != NULL and ts_recv - <object>x >= interval:
                self.gw._publish_book(<object>b, ts_recv)
            else:
                slot_put(<object>b, self.o_dirty, True)
        else:
            self.gw._after_book(<object>b, <object>sync, r == 0, ts_recv)
        return True
