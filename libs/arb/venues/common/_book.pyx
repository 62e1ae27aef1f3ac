# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled level updates for ``arb.venues.common.book.L2Book`` (same dict + sorted list, same results).

Why this exists: in pure Python a level update costs ~0.45-0.6 us on the dev machine, and a bare inline loop
doing only the dict store and the ``insort`` already costs ~0.4 us (bytecode dispatch, and ``bisect``
comparing floats through ``PyObject_RichCompare``). Here the loop runs in C: ``float()`` is
``PyNumber_Float`` (the same call ``float(x)`` makes), the dict is touched through the C API and the
bisection compares the doubles of the exact floats the list holds.

Semantics are those of ``book._apply_side`` in pure Python, step for step: price then size go through
``float()`` (a str, an int or a float; the same exceptions, raised at the same level, earlier levels
applied), a size > 0 stores the level and inserts its price with ``insort`` (bisect right) when new, any
other size (0, negative, NaN) deletes a level we hold, found with bisect left. An item of the list that is not
an exact float is compared with ``<`` as ``bisect`` would. tests/unit/test_book_property.py checks both
implementations against a dict + sorted reference over random operations.
"""

from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_Insert
from cpython.number cimport PyNumber_Float
from cpython.object cimport Py_GE, Py_LT, PyObject_RichCompareBool
from cpython.float cimport PyFloat_FromDouble
from cpython.long cimport PyLong_FromLongLong
from cpython.ref cimport PyObject
from libc.stdint cimport int64_t


cdef extern from "Python.h":
    bint _is_float "PyFloat_CheckExact"(PyObject *o)
    bint _is_long "PyLong_CheckExact"(PyObject *o)
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    double _as_double "PyFloat_AS_DOUBLE"(PyObject *o)
    int PyDict_Contains(object d, object key) except -1
    Py_ssize_t PyDict_GET_SIZE(object d)
    int PyDict_SetItem(object d, object key, object value) except -1
    int PyDict_DelItem(object d, object key) except -1
    int _list_del "PyList_SetSlice"(object l, Py_ssize_t lo, Py_ssize_t hi, PyObject *v) except -1


cdef extern from *:
    """
    /* dict.pop(key, deflt): one lookup where ``in`` then ``del`` take two (float keys of nearby prices collide) */
    #if PY_VERSION_HEX >= 0x030D0000
    static PyObject *_book_dict_pop(PyObject *d, PyObject *k, PyObject *deflt) {
        PyObject *r = NULL;
        if (PyDict_Pop(d, k, &r) < 0) return NULL;
        if (r == NULL) { Py_INCREF(deflt); return deflt; }
        return r;
    }
    #else
    static PyObject *_book_dict_pop(PyObject *d, PyObject *k, PyObject *deflt) { return _PyDict_Pop(d, k, deflt); }
    #endif
    """
    object _dict_pop "_book_dict_pop"(object d, object k, object deflt)


cdef object _MISSING = object()
cdef object _TRUE_OBJ = True


cdef inline bint _lt(PyObject *a, PyObject *b) except -1:
    """a < b, as ``bisect`` evaluates it."""
    if _is_float(a) and _is_float(b):
        return _as_double(a) < _as_double(b)
    return PyObject_RichCompareBool(<object>a, <object>b, Py_LT)


cdef Py_ssize_t _bisect_left(list px, object p) except -1:
    cdef Py_ssize_t lo = 0, hi = PyList_GET_SIZE(px), mid
    cdef PyObject *x = <PyObject *>p
    while lo < hi:
        mid = (lo + hi) >> 1
        if _lt(PyList_GET_ITEM(px, mid), x):
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef Py_ssize_t _bisect_right(list px, object p) except -1:
    cdef Py_ssize_t lo = 0, hi = PyList_GET_SIZE(px), mid
    cdef PyObject *x = <PyObject *>p
    while lo < hi:
        mid = (lo + hi) >> 1
        if _lt(x, PyList_GET_ITEM(px, mid)):
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef int _apply(dict levels, list px, object updates) except -1:
    cdef object p, s
    cdef Py_ssize_t i, n
    for p, s in updates:
        p = PyNumber_Float(p)
        s = PyNumber_Float(s)
        if _as_double(<PyObject *>s) > 0.0:
            n = PyDict_GET_SIZE(levels)
            PyDict_SetItem(levels, p, s)  # one hash and probe; the dict grew iff the price is new
            if PyDict_GET_SIZE(levels) != n:
                PyList_Insert(px, _bisect_right(px, p), p)
        elif _dict_pop(levels, p, _MISSING) is not _MISSING:  # a level we hold: removed
            i = _bisect_left(px, p)
            _list_del(px, i, i + 1, NULL)
    return 0


def apply_side(dict levels not None, list px not None, updates):
    """Apply absolute (price, size) updates to one side: ``levels`` price -> size, ``px`` its ascending prices."""
    _apply(levels, px, updates)


def apply_frame(dict bids not None, list bid_px not None, dict asks not None, list ask_px not None,
                bid_updates, ask_updates):
    """``apply_side`` for both sides in one call (one depth frame)."""
    _apply(bids, bid_px, bid_updates)
    _apply(asks, ask_px, ask_updates)


cdef inline bint _crossed(list bid_px, list ask_px) except -1:
    """Best bid >= best ask (``L2Book.is_crossed``): both sides non-empty and the last bid not below the first ask."""
    cdef Py_ssize_t nb = PyList_GET_SIZE(bid_px)
    if nb == 0 or PyList_GET_SIZE(ask_px) == 0:
        return False
    cdef PyObject *b = PyList_GET_ITEM(bid_px, nb - 1)
    cdef PyObject *a = PyList_GET_ITEM(ask_px, 0)
    if _is_float(b) and _is_float(a):
        return _as_double(b) >= _as_double(a)
    return PyObject_RichCompareBool(<object>b, <object>a, Py_GE)


cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef *d_member


cdef class _Slots:
    """Where instances of one class keep ``p`` and ``s`` (their slot member descriptors), read without getattr."""

    cdef object cls
    cdef Py_ssize_t off_p, off_s


class _HasSlot:
    __slots__ = ("x",)


cdef type _member_descriptor = type(_HasSlot.__dict__["x"])


cdef _Slots _slots_of(object cls):
    """The slot offsets of ``cls.p`` / ``cls.s`` when both are plain object slots (msgspec Struct fields), else None."""
    cdef _Slots sl
    cdef object dp, ds
    try:
        dp = cls.__dict__["p"]
        ds = cls.__dict__["s"]
    except KeyError:
        return None
    if type(dp) is not _member_descriptor or type(ds) is not _member_descriptor:
        return None
    if (<PyMemberDescrObject *>dp).d_member.type != 16 or (<PyMemberDescrObject *>ds).d_member.type != 16:
        return None  # not T_OBJECT_EX
    sl = _Slots()
    sl.cls = cls
    sl.off_p = (<PyMemberDescrObject *>dp).d_member.offset
    sl.off_s = (<PyMemberDescrObject *>ds).d_member.offset
    return sl


cdef int _apply_scaled(dict levels, list px, object updates, double div, _Slots sl) except -1:
    """Levels with ``.p`` (price, the key as it is) and ``.s`` (size, stored as ``s / div``), as Gate futures'
    ``{p, s contracts}``: the same steps as ``_apply`` with the size divided (``div`` > 0 keeps its sign). Levels of
    the class ``sl`` describes are read from their slots (getattr otherwise, or when a slot is unset)."""
    cdef object p, s, lv
    cdef PyObject *pp
    cdef PyObject *ps
    cdef double sz
    cdef bint pos
    cdef Py_ssize_t i, n
    for lv in updates:
        pp = ps = NULL
        if sl is not None and type(lv) is sl.cls:
            pp = slot_get(lv, sl.off_p)
            ps = slot_get(lv, sl.off_s)
        if pp != NULL and ps != NULL:
            p = <object>pp
            s = <object>ps
        else:
            p = lv.p
            s = lv.s
        if _is_float(<PyObject *>s):
            pos = _as_double(<PyObject *>s) > 0.0
        else:
            pos = s > 0.0
        if pos:
            sz = PyNumber_Float(s)
            n = PyDict_GET_SIZE(levels)
            PyDict_SetItem(levels, p, sz / div)
            if PyDict_GET_SIZE(levels) != n:
                PyList_Insert(px, _bisect_right(px, p), p)
        elif _dict_pop(levels, p, _MISSING) is not _MISSING:  # a level we hold: removed
            i = _bisect_left(px, p)
            _list_del(px, i, i + 1, NULL)
    return 0


def apply_book(book, bid_updates, ask_updates):
    """``L2Book.apply`` on ``book`` (``bids``/``_bid_px``/``asks``/``_ask_px``), then ``book.is_crossed()``'s answer."""
    cdef list bid_px = book._bid_px
    cdef list ask_px = book._ask_px
    _apply(book.bids, bid_px, bid_updates)
    _apply(book.asks, ask_px, ask_updates)
    return _crossed(bid_px, ask_px)


def apply_book_scaled(book, bid_updates, ask_updates, double div):
    """``apply_book`` for levels with ``.p`` / ``.s`` whose sizes are stored divided by ``div``."""
    cdef list bid_px = book._bid_px
    cdef list ask_px = book._ask_px
    _apply_scaled(book.bids, bid_px, bid_updates, div, None)
    _apply_scaled(book.asks, ask_px, ask_updates, div, None)
    return _crossed(bid_px, ask_px)


cdef class ScaledApply:
    """``apply_book_scaled(book, bids, asks, div)`` bound to one ``div``, callable as ``(book, bids, asks)`` (a
    ``BookSync`` apply function) without a Python frame per diff. ``level_type``: the class of the levels (e.g. a
    msgspec Struct with fields ``p``, ``s``), whose fields are then read from their slots."""

    cdef readonly double div
    cdef _Slots sl

    def __init__(self, double div, level_type=None):
        self.div = div
        self.sl = _slots_of(level_type) if isinstance(level_type, type) else None

    def __call__(self, book, bid_updates, ask_updates):
        cdef list bid_px = book._bid_px
        cdef list ask_px = book._ask_px
        _apply_scaled(book.bids, bid_px, bid_updates, self.div, self.sl)
        _apply_scaled(book.asks, ask_px, ask_updates, self.div, self.sl)
        return _crossed(bid_px, ask_px)


cdef int _apply_flat(dict levels, list px, list flat, double div) except -1:
    """``_apply`` for one side given as ``[price, size, price, size, ...]`` (floats, or what ``float()`` takes), the
    sizes stored divided by ``div`` (1.0: the size as it is, the same float)."""
    cdef object p, s
    cdef Py_ssize_t i, j, n = PyList_GET_SIZE(flat) - 1
    j = 0
    while j < n:
        p = PyNumber_Float(<object>PyList_GET_ITEM(flat, j))
        s = PyNumber_Float(<object>PyList_GET_ITEM(flat, j + 1))
        j += 2
        if _as_double(<PyObject *>s) > 0.0:
            if div != 1.0:
                s = _as_double(<PyObject *>s) / div
            i = PyDict_GET_SIZE(levels)
            PyDict_SetItem(levels, p, s)  # one hash and probe; the dict grew iff the price is new
            if PyDict_GET_SIZE(levels) != i:
                PyList_Insert(px, _bisect_right(px, p), p)
        elif _dict_pop(levels, p, _MISSING) is not _MISSING:  # a level we hold: removed
            i = _bisect_left(px, p)
            _list_del(px, i, i + 1, NULL)
    return 0


def apply_flat(book, list bids not None, list asks not None, double div=1.0):
    """``apply_book`` for sides given flat, ``[price, size, price, size, ...]``, sizes stored as ``size / div``: the
    book's answer to ``is_crossed()`` after it."""
    cdef list bid_px = book._bid_px
    cdef list ask_px = book._ask_px
    _apply_flat(book.bids, bid_px, bids, div)
    _apply_flat(book.asks, ask_px, asks, div)
    return _crossed(bid_px, ask_px)


cdef class FlatApply:
    """``apply_flat(book, bids, asks, div)`` bound to one ``div``, callable as ``(book, bids, asks)`` (a ``BookSync``
    apply function) without a Python frame per diff. (``div`` is declared in _book.pxd.)"""

    def __init__(self, double div=1.0):
        self.div = div

    def __call__(self, book, list bids not None, list asks not None):
        cdef list bid_px = book._bid_px
        cdef list ask_px = book._ask_px
        _apply_flat(book.bids, bid_px, bids, self.div)
        _apply_flat(book.asks, ask_px, asks, self.div)
        return _crossed(bid_px, ask_px)


# ---------------------------------------------------------------------------------------------------------------
# BookSync.continue_with in one compiled call, for levels a compiled reader holds as C doubles (gateio/_wire.pyx)


cdef int _apply_flat_c(dict levels, list px, const double *flat, Py_ssize_t n, double div) except -1:
    """``_apply_flat`` for a side given as C doubles ``[price, size, ...]`` (``n`` of them): the same steps, the
    same floats (``float(x)`` of a float is that float; the price key is a new float of the same value)."""
    cdef object p, s
    cdef double sz
    cdef Py_ssize_t i, j = 0
    n -= 1
    while j < n:
        p = PyFloat_FromDouble(flat[j])
        sz = flat[j + 1]
        j += 2
        if sz > 0.0:
            s = PyFloat_FromDouble(sz / div if div != 1.0 else sz)
            i = PyDict_GET_SIZE(levels)
            PyDict_SetItem(levels, p, s)
            if PyDict_GET_SIZE(levels) != i:
                PyList_Insert(px, _bisect_right(px, p), p)
        elif _dict_pop(levels, p, _MISSING) is not _MISSING:
            i = _bisect_left(px, p)
            _list_del(px, i, i + 1, NULL)
    return 0


cdef Py_ssize_t slot_offset(object cls, str name) except -1:
    """Where instances of ``cls`` keep the slot ``name`` (a plain object slot: ``__slots__``, a msgspec field), found
    once so that a compiled hot path reads and writes it as ``slot_get`` / ``slot_put`` (_book.pxd) without getattr."""
    cdef object d = None
    for k in cls.__mro__:
        d = k.__dict__.get(name)
        if d is not None:
            break
    if type(d) is not _member_descriptor or (<PyMemberDescrObject *>d).d_member.type != 16:
        raise TypeError(f"{cls.__name__}.{name} is not an object slot")
    return (<PyMemberDescrObject *>d).d_member.offset


cdef class FlatSync:
    """``BookSync.continue_with(first, last, bids, asks, FlatApply(div))`` for levels held as C doubles, reading and
    writing the slots of ``BookSync`` and ``L2Book`` directly (exact classes only; anything else is not taken).
    ``cont`` answers -1 (not taken, nothing touched: the caller takes the Python path), 0 (applied, the book
    changed and is OK: ``continue_with``'s True) or 1 (applied and crossed: counted and lost as there, False).
    tests/unit/test_gateio_wire.py checks it against the Python path on streams with gaps and crossed books."""

    def __init__(self, sync_cls, book_cls, ok, crossed_reason):
        self.sync_cls = sync_cls
        self.book_cls = book_cls
        self.ok = ok
        self.crossed_reason = crossed_reason
        self.o_book = slot_offset(sync_cls, "book")
        self.o_anchored = slot_offset(sync_cls, "_anchored")
        self.o_state = slot_offset(sync_cls, "state")
        self.o_std = slot_offset(sync_cls, "_std")
        self.o_applied = slot_offset(sync_cls, "applied")
        self.o_seq = slot_offset(book_cls, "seq")
        self.o_bids = slot_offset(book_cls, "bids")
        self.o_asks = slot_offset(book_cls, "asks")
        self.o_bid_px = slot_offset(book_cls, "_bid_px")
        self.o_ask_px = slot_offset(book_cls, "_ask_px")

    cdef int cont(self, object sync, int64_t first, int64_t last, const double *bids, Py_ssize_t nb,
                  const double *asks, Py_ssize_t na, double div) except -2:
        cdef PyObject *book
        cdef PyObject *x
        cdef PyObject *bd
        cdef PyObject *ad
        cdef PyObject *bp
        cdef PyObject *ap
        cdef int overflow = 0
        cdef long long seq
        if type(sync) is not self.sync_cls:
            return -1
        book = slot_get(sync, self.o_book)
        if book == NULL or type(<object>book) is not self.book_cls:
            return -1
        # first != book.seq + 1 or not self._anchored or self.state is not _OK or first > last or not self._std
        x = slot_get(<object>book, self.o_seq)
        if x == NULL or not _is_long(x):
            return -1
        seq = PyLong_AsLongLongAndOverflow(<object>x, &overflow)
        if overflow or seq == 0x7FFFFFFFFFFFFFFF or first != seq + 1:
            return -1
        x = slot_get(sync, self.o_anchored)
        if x != <PyObject *>_TRUE_OBJ:
            return -1
        x = slot_get(sync, self.o_state)
        if x != <PyObject *>self.ok or first > last:
            return -1
        x = slot_get(sync, self.o_std)
        if x != <PyObject *>_TRUE_OBJ:
            return -1
        bd = slot_get(<object>book, self.o_bids)
        ad = slot_get(<object>book, self.o_asks)
        bp = slot_get(<object>book, self.o_bid_px)
        ap = slot_get(<object>book, self.o_ask_px)
        if (bd == NULL or ad == NULL or bp == NULL or ap == NULL or type(<object>bd) is not dict
                or type(<object>ad) is not dict or type(<object>bp) is not list or type(<object>ap) is not list):
            return -1
        x = slot_get(sync, self.o_applied)
        if x == NULL:
            return -1
        _apply_flat_c(<dict>bd, <list>bp, bids, nb, div)
        _apply_flat_c(<dict>ad, <list>ap, asks, na, div)
        crossed = _crossed(<list>bp, <list>ap)
        slot_put(<object>book, self.o_seq, PyLong_FromLongLong(last))
        slot_put(sync, self.o_applied, <object>slot_get(sync, self.o_applied) + 1)
        if crossed:
            sync.crossed += 1
            sync._lose(self.crossed_reason, False, True)
            return 1
        return 0
