# The compiled book pieces other extensions call without a Python frame (``cimport arb.venues.common._book``):
# a venue's compiled frame reader hands levels it read as C doubles straight to ``FlatSync.cont``.
from libc.stdint cimport int64_t


cdef class FlatApply:
    cdef readonly double div


cdef class FlatSync:
    cdef object sync_cls, book_cls, ok, crossed_reason
    cdef Py_ssize_t o_book, o_anchored, o_state, o_std, o_applied
    cdef Py_ssize_t o_seq, o_bids, o_asks, o_bid_px, o_ask_px
    cdef int cont(self, object sync, int64_t first, int64_t last, const double *bids, Py_ssize_t nb,
                  const double *asks, Py_ssize_t na, double div) except -2


# object slots read and written in place (offsets from ``slot_offset``): a slot left unset reads as NULL
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject

cdef extern from *:
    PyObject *_slot_at "*(PyObject **)"(char *addr)

cdef Py_ssize_t slot_offset(object cls, str name) except -1


cdef inline PyObject *slot_get(object o, Py_ssize_t off) noexcept:
    return _slot_at(<char *><PyObject *>o + off)


cdef inline void slot_put(object o, Py_ssize_t off, object v) noexcept:
    """``o.<slot> = v``: a reference taken to ``v``, the old value's released."""
    cdef PyObject **addr = <PyObject **>(<char *><PyObject *>o + off)
    cdef PyObject *old = addr[0]
    Py_INCREF(v)
    addr[0] = <PyObject *>v
    Py_XDECREF(old)
