"""Hot-path logger: the caller appends a tuple, a writer thread formats and writes.

Use::

    log = get_logger(__name__)              # any time, also at import time, before configure()
    system = configure(cfg.log, "md-gateway")   # once per process, at start-up (run_service does it)
    log.info("subscribed %s shard=%d", symbol, shard)   # %-args, formatted later on the writer thread
    audit("order_cmd", cmd)                 # one JSON line in cfg.audit_file, never dropped
    system.shutdown(timeout=2.0)            # flush + fsync + join; also registered with atexit

The caller's cost (measured in bench/bench_logger.py, target <= 1 us median): a level compare, a
``len()`` of the buffer, ``time.time_ns()`` and one ``deque.append`` of ``(ts, level, name, msg, args,
exc)``. No lock, no Event.set, no formatting. A ``deque.append`` is atomic under the GIL, so any thread
may log. The writer thread polls (sleeping 0.5 ms growing to 10 ms when idle), formats batches of 256
records, writes each batch with one syscall per backend and counts lines per level into Prometheus.

Rules other code must follow:

* Lazy formatting means the args are read when the writer formats them, a few ms later. Pass values
  that will not change (str, int, float, Decimal, frozen Structs), not a dict or list you keep mutating.
* Never build the message yourself on the hot path (no f-strings, no ``%`` at the call site).
* ``exception()`` must be called inside ``except``; the traceback is rendered on the writer thread.
* A Secret (arb.config.credentials) renders as ``****`` through %s/%r/format; never ``reveal()`` into a log.
* Text lines are one line per record: CR/LF inside a message are escaped (a venue payload cannot forge
  log lines); only an exception's traceback spans several lines.

Bounded buffer: ``cfg.buffer_lines`` records. When full, the record is dropped and counted (the caller
never blocks the event loop); the writer adds the count to ``arb_log_dropped_total`` and writes a
warning line "log buffer full: dropped N lines" at most once a second while drops continue.

Audit records take a separate, unbounded but counted queue (``arb_audit_pending`` gauge,
``arb_audit_records_total`` counter). Why not block or drop: an audit record is one per order command or
execution event, a rate bounded by the venues' own order rate limits (tens per second), so the queue
cannot grow meaningfully unless the disk is gone, and in that case losing the record of a real order or
blocking the event loop that is managing open orders are both worse than memory. The JSON line is encoded
at call time (~1-2 us; the payload may be a mutable dict), appended to the file with O_APPEND by the
writer, written (to the OS) every writer cycle, fsynced at most once a second and at shutdown. A failed
audit write is retried, never discarded; on shutdown anything still unwritten goes to stderr.

Before configure() and after shutdown() loggers and audit() write synchronously (slowly) to stderr (audit
to the last configured audit file if there was one), so nothing logged at import time or in late
shutdown code is lost. configure() again replaces the active system (the old one is flushed and closed).
"""

from __future__ import annotations

import atexit
import itertools
import os
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Protocol

import msgspec

from ..config.schema import LogConfig
from ..core.errors import ConfigError
from .metrics import counter, gauge

__all__ = [
    "CRITICAL",
    "DEBUG",
    "ERROR",
    "INFO",
    "WARNING",
    "LineSink",
    "LogSystem",
    "Logger",
    "RateLimitedLog",
    "active",
    "audit",
    "configure",
    "get_logger",
]

DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50
LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR, "critical": CRITICAL}
_LEVEL_NAME = {DEBUG: "debug", INFO: "info", WARNING: "warning", ERROR: "error", CRITICAL: "critical"}

_CHUNK = 256  # records formatted per write: bounds how long the writer holds the GIL between syscalls
_CHUNKS_PER_CYCLE = 64  # then the audit queue is looked at again
_IDLE_MIN_S = 0.0005
_IDLE_MAX_S = 0.010
_DROP_REPORT_S = 1.0
_AUDIT_FSYNC_S = 1.0
_MAX_MSG_CHARS = 64 * 1024

LINES = counter("arb_log_lines_total", "Log lines written, by level", ["level"])
_LINES_BY_LEVEL = {lvl: LINES.labels(name) for lvl, name in _LEVEL_NAME.items()}
DROPPED = counter("arb_log_dropped_total", "Log records dropped because the log buffer was full")
WRITE_ERRORS = counter("arb_log_write_errors_total", "Failed writes to a log backend", ["backend"])
AUDIT_RECORDS = counter("arb_audit_records_total", "Audit records written to the audit file")
AUDIT_PENDING = gauge("arb_audit_pending", "Audit records accepted but not yet written")

_time_ns = time.time_ns
Record = tuple  # (ts_ns: int, level: int, logger: str, msg: Any, args: tuple, exc: BaseException | None)


# --------------------------------------------------------------------------------------------------
# Logger: the caller side
# --------------------------------------------------------------------------------------------------
class Logger:
    """A named logger. Methods take ``(msg, *args)`` with %-style args, formatted on the writer thread."""

    __slots__ = ("_cap", "_drops", "_level", "_q", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._level, self._q, self._cap, self._drops = _route

    def debug(self, msg: str, *args: object) -> None:
        if self._level <= 10:
            q = self._q
            if len(q) < self._cap:
                q.append((_time_ns(), 10, self.name, msg, args, None))
            else:
                next(self._drops)

    def info(self, msg: str, *args: object) -> None:
        if self._level <= 20:
            q = self._q
            if len(q) < self._cap:
                q.append((_time_ns(), 20, self.name, msg, args, None))
            else:
                next(self._drops)

    def warning(self, msg: str, *args: object) -> None:
        if self._level <= 30:
            q = self._q
            if len(q) < self._cap:
                q.append((_time_ns(), 30, self.name, msg, args, None))
            else:
                next(self._drops)

    def error(self, msg: str, *args: object) -> None:
        if self._level <= 40:
            q = self._q
            if len(q) < self._cap:
                q.append((_time_ns(), 40, self.name, msg, args, None))
            else:
                next(self._drops)

    def critical(self, msg: str, *args: object) -> None:
        q = self._q
        if len(q) < self._cap:
            q.append((_time_ns(), 50, self.name, msg, args, None))
        else:
            next(self._drops)

    def exception(self, msg: str, *args: object) -> None:
        """error() plus the traceback of the exception being handled (call it inside ``except``)."""
        if self._level <= 40:
            q = self._q
            if len(q) < self._cap:
                q.append((_time_ns(), 40, self.name, msg, args, sys.exc_info()[1]))
            else:
                next(self._drops)

    def log(self, level: int, msg: str, *args: object) -> None:
        if self._level <= level:
            q = self._q
            if len(q) < self._cap:
                q.append((_time_ns(), level, self.name, msg, args, None))
            else:
                next(self._drops)

    def enabled(self, level: int) -> bool:
        """True when a record at ``level`` would be kept (guard expensive argument preparation with it)."""
        return self._level <= level

    def __repr__(self) -> str:
        return f"Logger({self.name!r})"


# --------------------------------------------------------------------------------------------------
# Formatting (writer thread, and the synchronous stderr sink)
# --------------------------------------------------------------------------------------------------
def _safe_repr(obj: object, limit: int = 512) -> str:
    try:
        r = repr(obj)
    except Exception as e:  # noqa: BLE001 - user __repr__ may raise anything
        r = f"<unrepresentable {type(obj).__name__}: {type(e).__name__}>"
    return r if len(r) <= limit else r[:limit] + "...]"


def _render(msg: Any, args: tuple) -> str:
    """msg % args like stdlib logging (a single mapping arg fills %(name)s); a fallback text on error."""
    if type(msg) is not str:
        msg = str(msg)
    if not args:
        return msg
    try:
        return msg % args
    except Exception as e:  # noqa: BLE001 - user __str__/args may raise anything
        if len(args) == 1 and isinstance(args[0], Mapping):
            try:
                return msg % args[0]
            except Exception:  # noqa: BLE001, S110 - fall through to the fallback line
                pass
        return f"<log format error {type(e).__name__}: {e}> msg={msg!r} args={_safe_repr(args)}"


def _escape_lines(msg: str) -> str:
    return msg.replace("\r", "\\r").replace("\n", "\\n")


def _truncate(msg: str) -> str:
    return msg[:_MAX_MSG_CHARS] + f"...[truncated {len(msg) - _MAX_MSG_CHARS} chars]"


def _format_exc(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(exc))
    except Exception as e:  # noqa: BLE001 - a traceback must never cost the line
        return f"<traceback unavailable: {type(e).__name__}> {_safe_repr(exc)}\n"


class _JsonLine(msgspec.Struct, omit_defaults=True):
    ts: int
    level: str
    service: str
    logger: str
    msg: str
    exc: str | None = None


class _AuditLine(msgspec.Struct):
    ts: int
    service: str
    kind: str
    data: Any


def _audit_enc_hook(obj: object) -> object:
    from ..config.credentials import Secret

    if isinstance(obj, Secret):
        return "****"
    return str(obj)


_audit_encoder = msgspec.json.Encoder(enc_hook=_audit_enc_hook)


_PAD3 = [f"{i:03d}" for i in range(1000)]


def _count_levels(batch: Sequence[Record], counts: dict[int, int]) -> None:
    # Counter over itemgetter runs in C: far cheaper than a dict update per line in the format loop
    try:
        for lvl, c in Counter(map(itemgetter(1), batch)).items():
            counts[lvl] = counts.get(lvl, 0) + c
    except Exception:  # noqa: BLE001 - a malformed record is already reported by the formatter
        counts[ERROR] = counts.get(ERROR, 0) + len(batch)


class _Formatter:
    """Turns a batch of records into one bytes chunk; counts records per level. One per thread.

    Text: ``2024-05-01T12:00:00.123456Z INFO     md-gateway arb.venues.mexc.ws: message``. The timestamp
    prefix is rebuilt once per millisecond; per line only a small-int subtraction picks the microseconds
    (formatting a 61-bit ns integer per line cost ~0.8 us, more than the rest of the line).
    """

    def __init__(self, service: str, json: bool) -> None:
        self.service = service
        self.json = json
        self._sec = -1
        self._sec_prefix = ""
        self._ms_base = 0  # ns at the start of the millisecond ``_ms_prefix`` names
        self._ms_prefix = ""
        width = max(len(n) for n in _LEVEL_NAME.values())
        self._heads = {lvl: f" {n.upper():<{width}} {service} " for lvl, n in _LEVEL_NAME.items()}
        self._encoder = msgspec.json.Encoder()

    def _head(self, lvl: int) -> str:
        h = self._heads.get(lvl)
        if h is None:  # a custom numeric level through Logger.log()
            h = self._heads[lvl] = f" L{lvl} {self.service} "
        return h

    def _level_name(self, lvl: int) -> str:
        return _LEVEL_NAME.get(lvl) or f"l{lvl}"

    def _millis(self, ts: int) -> tuple[int, str]:
        base = ts - ts % 1_000_000
        sec, ms = divmod(base // 1_000_000, 1000)
        if sec != self._sec:
            self._sec = sec
            self._sec_prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        self._ms_base, self._ms_prefix = base, self._sec_prefix + _PAD3[ms]
        return base, self._ms_prefix

    def format(self, batch: Sequence[Record], counts: dict[int, int]) -> bytes:
        return self._json(batch, counts) if self.json else self._text(batch, counts)

    def _text(self, batch: Sequence[Record], counts: dict[int, int]) -> bytes:
        out: list[str] = []
        app = out.append
        heads = self._heads
        base, prefix = self._ms_base, self._ms_prefix
        for rec in batch:
            try:
                ts, lvl, name, msg, args, exc = rec
                if args and type(msg) is str:
                    try:
                        msg = msg % args
                    except Exception:  # noqa: BLE001 - _render writes the fallback text
                        msg = _render(msg, args)
                elif type(msg) is not str:
                    msg = _render(msg, args)
                if len(msg) > _MAX_MSG_CHARS:
                    msg = _truncate(msg)
                if "\n" in msg or "\r" in msg:
                    msg = _escape_lines(msg)
                d = ts - base
                if not 0 <= d < 1_000_000:
                    base, prefix = self._millis(ts)
                    d = ts - base
                app(f"{prefix}{_PAD3[d // 1000]}Z{heads.get(lvl) or self._head(lvl)}{name}: {msg}\n")
                if exc is not None:
                    app(_format_exc(exc))
            except Exception as e:  # noqa: BLE001 - one bad record must not cost the batch
                app(f"<unformattable log record {type(e).__name__}: {_safe_repr(rec)}>\n")
        _count_levels(batch, counts)
        return "".join(out).encode("utf-8", "backslashreplace")

    def _json(self, batch: Sequence[Record], counts: dict[int, int]) -> bytes:
        lines: list[_JsonLine] = []
        app = lines.append
        service = self.service
        for rec in batch:
            try:
                ts, lvl, name, msg, args, exc = rec
                if args or type(msg) is not str:
                    msg = _render(msg, args)
                if len(msg) > _MAX_MSG_CHARS:
                    msg = _truncate(msg)
                app(
                    _JsonLine(
                        ts,
                        self._level_name(lvl),
                        service,
                        str(name),
                        msg,
                        _format_exc(exc) if exc is not None else None,
                    )
                )
            except Exception as e:  # noqa: BLE001 - one bad record must not cost the batch
                app(
                    _JsonLine(
                        _time_ns(),
                        "error",
                        service,
                        __name__,
                        f"<unformattable log record {type(e).__name__}: {_safe_repr(rec)}>",
                    )
                )
        _count_levels(batch, counts)
        try:
            return self._encoder.encode_lines(lines)
        except Exception:  # noqa: BLE001 - encode failure: retry line by line
            parts = []
            for ln in lines:
                try:
                    parts.append(self._encoder.encode(ln) + b"\n")
                except Exception:  # noqa: BLE001 - repair the one bad line
                    fixed = msgspec.structs.replace(
                        ln, msg=ln.msg.encode("utf-8", "backslashreplace").decode("ascii"), exc=None
                    )
                    parts.append(self._encoder.encode(fixed) + b"\n")
            return b"".join(parts)


# --------------------------------------------------------------------------------------------------
# Backends (writer thread only)
# --------------------------------------------------------------------------------------------------
class LineSink(Protocol):
    """A log backend: receives whole lines (UTF-8 bytes, each ending in a newline)."""

    name: str

    def write(self, data: bytes) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class _Console:
    """stderr, looked up at each write (test runners and daemons swap sys.stderr)."""

    name = "console"

    def write(self, data: bytes) -> None:
        stream = sys.stderr
        if stream is None:
            return
        stream.write(data.decode("utf-8", "replace"))

    def flush(self) -> None:
        stream = sys.stderr
        if stream is not None:
            stream.flush()

    def close(self) -> None:
        self.flush()


class _RotatingFile:
    """Size-rotated file with the stdlib naming (app.log, app.log.1 .. app.log.N; .1 is the newest).

    Rotation happens at a line boundary before the file would exceed ``max_bytes`` (a single line longer
    than max_bytes is written whole into a fresh file). backups=0 truncates instead; max_bytes=0 never
    rotates. Unbuffered: each batch is one write() syscall, so lines reach the OS every writer cycle.
    """

    name = "file"

    def __init__(self, path: str, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(self._fd).st_size

    def write(self, data: bytes) -> None:
        limit = self.max_bytes
        if limit > 0:
            while self._size + len(data) > limit:
                room = limit - self._size
                cut = data.rfind(b"\n", 0, room) + 1 if room > 0 else 0
                if cut == 0 and self._size == 0:  # first line alone is larger than the limit
                    cut = data.find(b"\n") + 1 or len(data)
                if cut:
                    _write_all(self._fd, data[:cut])
                    data = data[cut:]
                self._rotate()
                if not data:
                    return
        _write_all(self._fd, data)
        self._size += len(data)

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        if self.backups > 0:
            for i in range(self.backups - 1, 0, -1):
                src = f"{self.path}.{i}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i + 1}")
            os.replace(self.path, f"{self.path}.1")
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        else:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC
        self._fd = os.open(self.path, flags, 0o644)
        self._size = 0

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _AuditFile:
    """Append-only (O_APPEND) JSON lines; fsync on demand."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self.dirty = False

    def write(self, data: bytes) -> tuple[int, OSError | None]:
        """Write what it can: (bytes written, the error that stopped it or None)."""
        view = memoryview(data)
        done = 0
        err: OSError | None = None
        try:
            while done < len(data):
                done += os.write(self._fd, view[done:])
        except OSError as e:
            err = e
        if done:
            self.dirty = True
        return done, err

    def fsync(self) -> None:
        if self.dirty:
            os.fsync(self._fd)
            self.dirty = False

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.fsync()
            finally:
                os.close(self._fd)
                self._fd = -1


def _audit_append_sync(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------------
# Before configure / after shutdown: synchronous stderr
# --------------------------------------------------------------------------------------------------
class _StderrSink:
    """Stands in for the buffer when no LogSystem is active: append() formats and writes to stderr now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fmt = _Formatter("-", json=False)

    def __len__(self) -> int:
        return 0

    def append(self, rec: Record) -> None:
        with self._lock:
            try:
                data = self._fmt.format((rec,), {})
                stream = sys.stderr
                if stream is not None:
                    stream.write(data.decode("utf-8", "replace"))
                    stream.flush()
            except Exception:  # noqa: BLE001, S110 - stderr gone at interpreter teardown
                pass  # stderr gone (interpreter teardown): nothing left to tell


_sink = _StderrSink()
_UNBOUNDED = sys.maxsize
_route: tuple[int, Any, int, Any] = (INFO, _sink, _UNBOUNDED, itertools.count())
_loggers: dict[str, Logger] = {}
_reg_lock = threading.RLock()
_active: LogSystem | None = None
_last_service = "-"
_last_audit_path = ""


def _attach(level: int, q: Any, cap: int, drops: Any) -> None:
    global _route
    with _reg_lock:
        _route = (level, q, cap, drops)
        for lg in _loggers.values():
            lg._cap, lg._drops = cap, drops
            lg._q = q
            lg._level = level


def get_logger(name: str) -> Logger:
    """The logger for ``name`` (one object per name). Works before configure(): writes to stderr."""
    lg = _loggers.get(name)
    if lg is None:
        with _reg_lock:
            lg = _loggers.get(name)
            if lg is None:
                lg = _loggers[name] = Logger(name)
    return lg


def active() -> LogSystem | None:
    """The configured LogSystem, or None before configure() / after shutdown()."""
    return _active


def audit(kind: str, payload: msgspec.Struct | Mapping[str, Any]) -> None:
    """Record an order command or execution event: one JSON line ``{"ts","service","kind","data"}``.

    ``kind`` is a short bounded word (``order_cmd``, ``order_ack``, ``fill``, ...). Encoded now (the payload
    may be mutated after the call); Secrets encode as ``"****"``; other unknown types as ``str()``. Never
    dropped: see the module docstring. Without an audit file configured the line goes to the log at info.
    """
    system = _active
    service = system.service if system is not None else _last_service
    ts = _time_ns()
    try:
        line = _audit_encoder.encode(_AuditLine(ts, service, str(kind), payload))
    except Exception as e:  # noqa: BLE001 - audit is never lost: record what we can
        line = _audit_encoder.encode(
            _AuditLine(ts, service, str(kind), {"unencodable": _safe_repr(payload, 4096), "error": repr(e)})
        )
    if system is not None:
        with (
            system._audit_lock
        ):  # taken only here and once by shutdown(): no record slips past the final drain
            if not system._audit_closed:
                system._aq.append(line)
                return
    if _last_audit_path:
        try:
            _audit_append_sync(_last_audit_path, line + b"\n")
            AUDIT_RECORDS.inc()
            return
        except OSError:
            pass
    _sink.append((ts, INFO, "audit", "%s", (line.decode(),), None))


# --------------------------------------------------------------------------------------------------
# The writer
# --------------------------------------------------------------------------------------------------
class LogSystem:
    """The active logging pipeline of a process: buffer, writer thread, backends, audit file."""

    def __init__(self, cfg: LogConfig, service: str, sinks: Iterable[LineSink] = ()) -> None:
        self.cfg = cfg
        self.service = service
        self.level = LEVELS[cfg.level.lower()]
        self._q: deque[Record] = deque()
        self._cap = cfg.buffer_lines
        self._drops = itertools.count()
        self._drop_probes = 0
        self._drops_seen = 0
        self._drops_reported = 0
        self._last_drop_report = time.monotonic()
        self._aq: deque[bytes] = deque()
        self._audit_retry = b""  # unwritten tail after a failed audit write, retried first
        self._audit_written = 0
        self._audit_error_at = 0.0
        self._audit_fsync_at = 0.0
        self._fmt = _Formatter(service, cfg.json)
        self._sinks: list[LineSink] = []
        self._audit: _AuditFile | None = None
        self._error_report_at: dict[str, float] = {}
        self._cycles = 0
        self._lines = 0
        self._stopping = False
        self._closed = False
        self._lock = threading.Lock()
        self._audit_lock = threading.Lock()
        self._audit_closed = False
        if cfg.console:
            self._sinks.append(_Console())
        try:
            if cfg.file:
                self._sinks.append(_RotatingFile(cfg.file, cfg.file_max_bytes, cfg.file_backups))
            if cfg.audit_file:
                self._audit = _AuditFile(cfg.audit_file)
        except OSError as e:
            for s in self._sinks:
                s.close()
            raise ConfigError(f"log: cannot open {e.filename!r}: {e.strerror}") from None
        self._sinks.extend(sinks)
        self._thread = threading.Thread(target=self._run, name=f"arb-log-writer-{service}", daemon=True)

    # -- public -----------------------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        """Records dropped so far because the buffer was full."""
        with self._lock:
            self._probe_drops()
            return self._drops_seen

    @property
    def pending(self) -> int:
        """Records in the buffer, not yet written."""
        return len(self._q)

    @property
    def lines_written(self) -> int:
        return self._lines

    def set_level(self, level: str) -> None:
        self.level = LEVELS[level.lower()]
        if _active is self:
            _attach(self.level, self._q, self._cap, self._drops)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything logged before this call has been written. False on timeout."""
        deadline = time.monotonic() + timeout
        if not self._thread.is_alive():
            return not self._q and not self._aq
        start = self._cycles
        while time.monotonic() < deadline:
            if not self._q and not self._aq and not self._audit_retry and self._cycles >= start + 2:
                return True
            time.sleep(0.0005)
        return False

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Write everything, fsync the audit file, stop the writer. Idempotent. False if the writer hung."""
        global _active
        with _reg_lock:
            if self._closed:
                return True
            self._stopping = True
            self._thread.join(timeout)
            hung = self._thread.is_alive()
            if _active is self:
                _active = None
                _attach(INFO, _sink, _UNBOUNDED, itertools.count())
            self._closed = True
            try:
                atexit.unregister(self._at_exit)
            except Exception:  # noqa: BLE001, S110 - interpreter teardown
                pass
            if hung:
                _stderr_note(
                    f"log writer did not stop within {timeout:.1f}s; {len(self._q)} log lines and "
                    f"{len(self._aq) + bool(self._audit_retry)} audit records may be unwritten"
                )
                return False
            with self._audit_lock:  # later audit() calls append synchronously to the file themselves
                self._audit_closed = True
            # the writer has exited: finish on this thread what raced in before the loggers were detached
            for _ in range(100):  # bounded: another thread could keep logging into the detached buffer
                self._cycle(final=True)
                if not self._q and not self._aq:
                    break
            for s in self._sinks:
                try:
                    s.flush()
                    s.close()
                except Exception as e:  # noqa: BLE001 - a backend failing to close is reported, not fatal
                    self._backend_error(s.name, e)
            if self._audit is not None:
                try:
                    self._audit.close()
                except OSError as e:
                    self._backend_error("audit", e)
            if self._audit_retry or self._aq:  # audit file unwritable to the end: stderr is the last resort
                rest = [self._audit_retry] + list(self._aq) if self._audit_retry else list(self._aq)
                _stderr_note("audit file unwritable; unwritten audit records follow")
                for line in rest:
                    _stderr_note(bytes(line).decode("utf-8", "replace").rstrip("\n"))
            return True

    # -- writer thread ----------------------------------------------------------------------------
    def _start(self) -> None:
        self._thread.start()
        atexit.register(self._at_exit)

    def _at_exit(self) -> None:
        self.shutdown(timeout=5.0)

    def _run(self) -> None:
        idle = _IDLE_MIN_S
        while True:
            try:
                worked = self._cycle(final=False)
            except BaseException as e:  # noqa: BLE001 - the writer must never die
                self._backend_error("writer", e)
                worked = False
            self._cycles += 1
            if worked:
                idle = _IDLE_MIN_S
                continue
            if self._stopping:
                return
            time.sleep(idle)
            idle = min(idle * 2, _IDLE_MAX_S)

    def _cycle(self, final: bool) -> bool:
        worked = self._write_audit(final)
        q = self._q
        popleft = q.popleft
        counts: dict[int, int] = {}
        for _ in range(_CHUNKS_PER_CYCLE):
            n = len(q)
            if not n:
                break
            batch = [popleft() for _ in range(min(_CHUNK, n))]
            self._emit(self._fmt.format(batch, counts))
            worked = True
        if counts:
            for lvl, c in counts.items():
                child = _LINES_BY_LEVEL.get(lvl)
                if child is not None:
                    child.inc(c)
                self._lines += c
        self._report_drops(final)
        if (
            self._audit is not None
            and self._audit.dirty
            and (final or time.monotonic() - self._audit_fsync_at >= _AUDIT_FSYNC_S)
        ):
            self._fsync_audit()
        return worked

    def _fsync_audit(self) -> None:
        self._audit_fsync_at = time.monotonic()
        try:
            self._audit.fsync()  # type: ignore[union-attr]
        except OSError as e:
            self._backend_error("audit", e)

    def _write_audit(self, final: bool = False) -> bool:
        aq = self._aq
        if not aq and not self._audit_retry:
            return False
        if self._audit is None:  # no audit file configured: into the log, never dropped
            lines = []
            while aq:
                lines.append((_time_ns(), INFO, "audit", "%s", (aq.popleft().decode(),), None))
            self._emit(self._fmt.format(lines, {}))
            _LINES_BY_LEVEL[INFO].inc(len(lines))
            self._lines += len(lines)
            return True
        if self._audit_retry and not final and time.monotonic() - self._audit_error_at < 0.1:
            return False  # back off a little after a failure
        parts = [self._audit_retry] if self._audit_retry else []
        n = 0
        while aq:
            parts.append(aq.popleft() + b"\n")
            n += 1
        data = b"".join(parts)
        written, err = self._audit.write(data)
        if err is not None:
            self._audit_retry = data[written:]
            self._audit_error_at = time.monotonic()
            self._backend_error("audit", err)
            AUDIT_PENDING.set(len(aq) + 1)
            return True
        self._audit_retry = b""
        self._audit_written += n
        AUDIT_RECORDS.inc(n)
        AUDIT_PENDING.set(len(aq))
        return True

    def _emit(self, data: bytes) -> None:
        for s in self._sinks:
            try:
                s.write(data)
            except Exception as e:  # noqa: BLE001 - a failing backend is counted and reported
                self._backend_error(s.name, e)

    def _probe_drops(self) -> None:
        # itertools.count: next() is atomic under the GIL, so callers never lose an increment. Reading it
        # means calling next() too; subtract our own probes.
        total = next(self._drops) - self._drop_probes
        self._drop_probes += 1
        if total > self._drops_seen:
            DROPPED.inc(total - self._drops_seen)
            self._drops_seen = total

    def _report_drops(self, final: bool) -> None:
        with self._lock:
            self._probe_drops()
        new = self._drops_seen - self._drops_reported
        if not new:
            return
        now = time.monotonic()
        if not final and now - self._last_drop_report < _DROP_REPORT_S:
            return
        rec = (
            _time_ns(),
            WARNING,
            __name__,
            "log buffer full (%d lines): dropped %d lines in the last %.1fs, %d since start",
            (self._cap, new, now - self._last_drop_report, self._drops_seen),
            None,
        )
        counts: dict[int, int] = {}
        self._emit(self._fmt.format((rec,), counts))
        _LINES_BY_LEVEL[WARNING].inc()
        self._lines += 1
        self._drops_reported = self._drops_seen
        self._last_drop_report = now

    def _backend_error(self, backend: str, e: BaseException) -> None:
        WRITE_ERRORS.labels(backend).inc()
        now = time.monotonic()
        if now - self._error_report_at.get(backend, -1e9) >= 10.0:
            self._error_report_at[backend] = now
            _stderr_note(f"log backend {backend} failed: {type(e).__name__}: {e}")


def _stderr_note(text: str) -> None:
    stream = sys.__stderr__ or sys.stderr
    try:
        if stream is not None:
            stream.write(f"[arb.obs.log] {text}\n")
            stream.flush()
    except Exception:  # noqa: BLE001, S110 - stderr gone at interpreter teardown
        pass


def configure(cfg: LogConfig, service: str, *, sinks: Iterable[LineSink] = ()) -> LogSystem:
    """Start the process's logging: backends from ``cfg``, plus extra ``sinks`` (tests, embedding).

    Replaces (flushes and closes) a previously active system. Raises ConfigError if a file cannot be opened.
    """
    global _active, _last_service, _last_audit_path
    with _reg_lock:
        if _active is not None:
            _active.shutdown(timeout=5.0)
        system = LogSystem(cfg, service, sinks)
        _active = system
        _last_service = service
        _last_audit_path = os.path.abspath(cfg.audit_file) if cfg.audit_file else ""
        _attach(system.level, system._q, system._cap, system._drops)
        system._start()
        return system


def _after_fork_in_child() -> None:
    """A forked child has no writer thread: fall back to synchronous stderr until it calls configure()."""
    global _active, _reg_lock
    _reg_lock = threading.RLock()  # may have been held by another thread of the parent at fork time
    _sink._lock = threading.Lock()
    if _active is not None:
        _active._closed = True
        _active = None
    _attach(INFO, _sink, _UNBOUNDED, itertools.count())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# --------------------------------------------------------------------------------------------------
# Rate-limited logging (malformed frames and other per-message trouble)
# --------------------------------------------------------------------------------------------------
class RateLimitedLog:
    """At most one line per key per ``interval_s``; the next line says how many were suppressed.

    ``limited(key, msg, *args)`` returns True when the line was logged. Keys must be bounded (venue,
    channel, error kind), never ids; the table holds at most ``max_keys`` and evicts the oldest beyond.
    Not thread-safe: use one per event loop.
    """

    def __init__(
        self, logger: Logger, interval_s: float = 10.0, level: int | str = WARNING, max_keys: int = 1024
    ) -> None:
        self.logger = logger
        self.interval_ns = int(interval_s * 1e9)
        self.level = LEVELS[level.lower()] if isinstance(level, str) else level
        self.max_keys = max_keys
        self.suppressed_total = 0
        self._keys: dict[object, list[int]] = {}  # key -> [last_logged_ns, suppressed_since]
        self._now: Callable[[], int] = time.monotonic_ns

    def __call__(self, key: object, msg: str, *args: object) -> bool:
        now = self._now()
        st = self._keys.get(key)
        if st is not None and now - st[0] < self.interval_ns:
            st[1] += 1
            self.suppressed_total += 1
            return False
        if st is not None and st[1]:
            self.logger.log(
                self.level, msg + " [%d similar suppressed in %.0fs]", *args, st[1], (now - st[0]) / 1e9
            )
        else:
            self.logger.log(self.level, msg, *args)
        if st is None:
            if len(self._keys) >= self.max_keys:
                del self._keys[next(iter(self._keys))]
            self._keys[key] = [now, 0]
        else:
            st[0], st[1] = now, 0
        return True
