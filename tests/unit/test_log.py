"""The hot-path logger: ordering, levels, lazy formatting, bounded buffer, backends, audit, secrets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from arb.config.credentials import Secret
from arb.config.schema import LogConfig
from arb.obs import log as arblog
from prometheus_client import REGISTRY

pytestmark = pytest.mark.unit

SECRET_VALUE = "s3cr3t-DO-NOT-LOG-9f8e7d"


def eventually(cond: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:.1f}s")
        time.sleep(0.001)


class ListSink:
    """Collects written lines; can hold the writer inside write() to simulate a stalled disk."""

    name = "list"

    def __init__(self, block_first_write: bool = False) -> None:
        self.lines: list[str] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not block_first_write:
            self.release.set()

    def write(self, data: bytes) -> None:
        self.entered.set()
        self.release.wait(10.0)
        self.lines.extend(data.decode().splitlines())

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
def start() -> Iterator[Callable[..., arblog.LogSystem]]:
    systems: list[arblog.LogSystem] = []

    def _start(cfg: LogConfig, *sinks: ListSink, service: str = "test-svc") -> arblog.LogSystem:
        s = arblog.configure(cfg, service, sinks=sinks)
        systems.append(s)
        return s

    yield _start
    for s in systems:
        s.shutdown(5.0)


def quiet(**kw: object) -> LogConfig:
    return LogConfig(console=False, **kw)  # type: ignore[arg-type]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_lines_are_written_in_call_order(tmp_path: Path, start) -> None:
    """Every line reaches the file, in the order it was logged."""
    path = tmp_path / "app.log"
    system = start(quiet(file=str(path)))
    lg = arblog.get_logger("order")

    for i in range(5000):
        lg.info("n=%d", i)
    system.shutdown(5.0)

    nums = [int(line.rsplit("n=", 1)[1]) for line in path.read_text().splitlines()]
    assert nums == list(range(5000))


def test_records_below_the_configured_level_are_not_written(start) -> None:
    """With level=warning, debug and info are filtered at the caller; warning and above are written."""
    sink = ListSink()
    system = start(quiet(level="warning"), sink)
    lg = arblog.get_logger("levels")

    lg.debug("d")
    lg.info("i")
    lg.warning("w")
    lg.error("e")
    lg.critical("c")
    system.flush()

    assert [line.rsplit(": ", 1)[1] for line in sink.lines] == ["w", "e", "c"]
    assert lg.enabled(arblog.WARNING) and not lg.enabled(arblog.INFO)


def test_args_are_formatted_on_the_writer_thread_not_by_the_caller(start) -> None:
    """%-args are rendered later by the writer thread; the caller only queues them."""
    sink = ListSink()
    start(quiet(), sink)
    rendered_on: list[str] = []

    class Probe:
        def __str__(self) -> str:
            rendered_on.append(threading.current_thread().name)
            return "probe"

    arblog.get_logger("lazy").info("value=%s", Probe())
    eventually(lambda: sink.lines)

    assert rendered_on and rendered_on[0] != threading.current_thread().name
    assert rendered_on[0].startswith("arb-log-writer")
    assert sink.lines[-1].endswith("lazy: value=probe")


def test_full_buffer_drops_and_counts_instead_of_blocking(start) -> None:
    """With the writer stalled, records beyond the buffer are dropped, counted, and reported in a warning."""
    sink = ListSink(block_first_write=True)
    system = start(quiet(buffer_lines=16), sink)
    lg = arblog.get_logger("flood")
    before = metric("arb_log_dropped_total")
    lg.info("first")
    assert sink.entered.wait(5.0)  # the writer is now stuck in write() with an empty buffer

    t0 = time.perf_counter()
    for i in range(100):
        lg.info("line %d", i)
    elapsed = time.perf_counter() - t0
    sink.release.set()
    system.shutdown(5.0)

    assert elapsed < 0.5  # never waited for the stalled writer
    assert system.dropped == 84
    assert metric("arb_log_dropped_total") - before == 84
    written = [line for line in sink.lines if ": line " in line]
    assert len(written) == 16 and written[0].endswith("line 0") and written[-1].endswith("line 15")
    assert any("WARNING" in line and "dropped 84 lines" in line for line in sink.lines)


def test_file_rotates_at_max_bytes_keeping_the_configured_backups(tmp_path: Path, start) -> None:
    """The file rolls to .1, .2 at a line boundary before max_bytes; older backups beyond the count go."""
    path = tmp_path / "rot.log"
    system = start(quiet(file=str(path), file_max_bytes=1000, file_backups=2))
    lg = arblog.get_logger("rot")

    for i in range(200):
        lg.info("line %04d", i)
    system.shutdown(5.0)

    files = [Path(f"{path}.2"), Path(f"{path}.1"), path]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rot.log", "rot.log.1", "rot.log.2"]
    assert all(0 < p.stat().st_size <= 1000 for p in files)
    assert all(p.read_text().endswith("\n") for p in files)  # rotated at a line boundary
    text = "".join(p.read_text() for p in files)
    nums = [int(line.rsplit(" ", 1)[1]) for line in text.splitlines()]
    assert nums == list(range(nums[0], 200))


class OrderCmd(msgspec.Struct, frozen=True):
    client_id: str
    symbol: str
    qty: str


def test_audit_records_are_json_lines_flushed_on_shutdown(tmp_path: Path, start) -> None:
    """audit() appends one JSON line per record (Struct or dict) to the audit file, all there after shutdown."""
    path = tmp_path / "audit.jsonl"
    path.write_text('{"earlier":"run"}\n')
    system = start(quiet(audit_file=str(path)), service="trade-gw")
    before = metric("arb_audit_records_total")

    arblog.audit("order_cmd", OrderCmd("c1", "BTC-USDT", "0.01"))
    arblog.audit("fill", {"client_id": "c1", "px": "65000.1"})
    system.shutdown(5.0)

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0] == {"earlier": "run"}  # append-only
    assert [(r["service"], r["kind"], r["data"]) for r in rows[1:]] == [
        ("trade-gw", "order_cmd", {"client_id": "c1", "symbol": "BTC-USDT", "qty": "0.01"}),
        ("trade-gw", "fill", {"client_id": "c1", "px": "65000.1"}),
    ]
    assert all(isinstance(r["ts"], int) for r in rows[1:])
    assert metric("arb_audit_records_total") - before == 2


def test_audit_is_encoded_at_call_time(tmp_path: Path, start) -> None:
    """A dict mutated after audit() is recorded as it was at the call."""
    path = tmp_path / "audit.jsonl"
    system = start(quiet(audit_file=str(path)))
    payload = {"status": "new"}

    arblog.audit("order", payload)
    payload["status"] = "mutated"
    system.shutdown(5.0)

    assert json.loads(path.read_text())["data"] == {"status": "new"}


def test_audit_after_shutdown_appends_synchronously_to_the_audit_file(tmp_path: Path, start) -> None:
    """An execution event reported during late shutdown still lands in the last configured audit file."""
    path = tmp_path / "audit.jsonl"
    system = start(quiet(audit_file=str(path)))
    arblog.audit("order_cmd", {"n": 1})
    system.shutdown(5.0)

    arblog.audit("fill", {"n": 2})

    assert [json.loads(line)["data"]["n"] for line in path.read_text().splitlines()] == [1, 2]


def test_audit_without_an_audit_file_goes_to_the_log(start) -> None:
    """With no audit_file configured, audit records are written as log lines rather than lost."""
    sink = ListSink()
    system = start(quiet(), sink)

    arblog.audit("fill", {"client_id": "c9"})
    system.flush()

    assert any(" audit: " in line and '"client_id":"c9"' in line for line in sink.lines)


def test_secret_values_never_reach_any_output(tmp_path: Path, start) -> None:
    """A Secret logged via %s, %r, a bad %d, an exception message or an audit payload shows only ****."""
    log_path, json_path, audit_path = tmp_path / "a.log", tmp_path / "b.jsonl", tmp_path / "audit.jsonl"
    secret = Secret(SECRET_VALUE)
    lg = arblog.get_logger("secret")

    for cfg in (quiet(file=str(log_path), audit_file=str(audit_path)), quiet(file=str(json_path), json=True)):
        system = start(cfg)
        lg.info("key %s %r", secret, secret)
        lg.info("bad %d", secret)
        lg.info("mapping %(k)s", {"k": secret})
        try:
            raise ValueError(f"signing failed with {secret}")
        except ValueError:
            lg.exception("sign %s", secret)
        arblog.audit("order_cmd", {"api_secret": secret, "nested": [secret]})
        system.shutdown(5.0)

    out = log_path.read_text() + json_path.read_text() + audit_path.read_text()
    assert SECRET_VALUE not in out
    assert "****" in log_path.read_text() and "****" in json_path.read_text()
    assert json.loads(audit_path.read_text())["data"] == {"api_secret": "****", "nested": ["****"]}


def test_bad_format_args_write_a_fallback_line_and_keep_the_writer_alive(start) -> None:
    """Wrong %-args, a raising __str__ or __repr__ give a fallback line; later lines are still written."""
    sink = ListSink()
    system = start(quiet(), sink)
    lg = arblog.get_logger("bad")

    class Evil:
        def __str__(self) -> str:
            raise RuntimeError("no str")

        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    lg.info("two %s %s", "only-one")
    lg.info("evil %s", Evil())
    lg.info(Evil())
    lg.info("still alive %d", 7)
    system.flush()

    assert system._thread.is_alive()
    assert sink.lines[-1].endswith("bad: still alive 7")
    assert len(sink.lines) == 4
    assert "log format error TypeError" in sink.lines[0]
    assert "log format error RuntimeError" in sink.lines[1]
    assert "unformattable log record" in sink.lines[2]


def test_newlines_in_messages_cannot_forge_lines(start) -> None:
    """CR/LF inside a text message are escaped so one record is one line."""
    sink = ListSink()
    system = start(quiet(), sink)

    arblog.get_logger("frame").warning("bad frame %s", "x\n2024-01-01 ERROR fake")
    system.flush()

    assert len(sink.lines) == 1 and sink.lines[0].endswith("bad frame x\\n2024-01-01 ERROR fake")


def test_exception_writes_the_traceback(start) -> None:
    """exception() inside except writes the message then the traceback of the handled exception."""
    sink = ListSink()
    system = start(quiet(), sink)

    try:
        {}["missing"]
    except KeyError:
        arblog.get_logger("exc").exception("lookup failed for %s", "missing")
    system.flush()

    assert "ERROR" in sink.lines[0] and sink.lines[0].endswith("exc: lookup failed for missing")
    assert sink.lines[1] == "Traceback (most recent call last):"
    assert sink.lines[-1] == "KeyError: 'missing'"


def test_console_json_lines_go_to_stderr(start, capsys: pytest.CaptureFixture[str]) -> None:
    """With console and json on, each record is one JSON object on stderr, nothing on stdout."""
    system = start(LogConfig(console=True, json=True), service="md-gw")

    arblog.get_logger("json").warning("gap on %s", "BTC-USDT")
    system.shutdown(5.0)

    out, err = capsys.readouterr()
    rec = json.loads(err.splitlines()[-1])
    assert out == ""
    assert {k: rec[k] for k in ("level", "service", "logger", "msg")} == {
        "level": "warning",
        "service": "md-gw",
        "logger": "json",
        "msg": "gap on BTC-USDT",
    }


def test_lines_are_counted_by_level_in_prometheus(start) -> None:
    """arb_log_lines_total{level} grows by the lines written at each level."""
    system = start(quiet(level="debug"), ListSink())
    lg = arblog.get_logger("count")
    before = {lvl: metric("arb_log_lines_total", level=lvl) for lvl in ("debug", "error")}

    for _ in range(3):
        lg.debug("d")
    lg.error("e")
    system.flush()

    assert metric("arb_log_lines_total", level="debug") - before["debug"] == 3
    assert metric("arb_log_lines_total", level="error") - before["error"] == 1


def test_logger_before_configure_and_after_shutdown_writes_to_stderr(
    start, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without an active system a logger writes synchronously to stderr, so nothing is lost."""
    lg = arblog.get_logger("early")
    leftover = arblog.active()  # another module's test may have left one configured
    if leftover is not None:
        leftover.shutdown(5.0)

    lg.info("before %d", 1)
    system = start(quiet(), ListSink())
    system.shutdown(5.0)
    lg.warning("after %d", 2)

    err = capsys.readouterr().err
    assert "early: before 1" in err and "early: after 2" in err


def test_shutdown_is_idempotent_and_detaches_loggers(start) -> None:
    """A second shutdown is a no-op; the writer thread is gone after the first."""
    system = start(quiet(), ListSink())

    assert system.shutdown(5.0) is True
    assert system.shutdown(5.0) is True

    assert not system._thread.is_alive()
    assert arblog.active() is None


def test_configure_again_replaces_and_flushes_the_previous_system(start) -> None:
    """A second configure() writes out the first system's lines before the new one takes over."""
    first_sink, second_sink = ListSink(), ListSink()
    first = start(quiet(), first_sink)
    lg = arblog.get_logger("swap")
    lg.info("one")

    second = start(quiet(), second_sink)
    lg.info("two")
    second.flush()

    assert first._closed and arblog.active() is second
    assert [line.rsplit(": ", 1)[1] for line in first_sink.lines] == ["one"]
    assert [line.rsplit(": ", 1)[1] for line in second_sink.lines] == ["two"]


def test_writer_survives_a_failing_backend(start) -> None:
    """A backend that raises is counted and skipped; the other backends keep receiving lines."""

    class Broken(ListSink):
        name = "broken"

        def write(self, data: bytes) -> None:
            raise OSError(28, "No space left on device")

    good = ListSink()
    system = start(quiet(), Broken(), good)
    before = metric("arb_log_write_errors_total", backend="broken")

    arblog.get_logger("disk").info("a")
    arblog.get_logger("disk").info("b")
    system.flush()

    assert [line.rsplit(": ", 1)[1] for line in good.lines] == ["a", "b"]
    assert metric("arb_log_write_errors_total", backend="broken") > before


class FakeClock:
    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


def test_rate_limited_log_emits_once_per_interval_and_counts_the_rest(start) -> None:
    """Within the interval only the first line per key is written; the next one says how many were suppressed."""
    sink = ListSink()
    system = start(quiet(), sink)
    clock = FakeClock()
    limited = arblog.RateLimitedLog(arblog.get_logger("frames"), interval_s=10.0)
    limited._now = clock

    results = [limited("mexc", "malformed frame %s", i) for i in range(5)]
    other = limited("gateio", "malformed frame %s", "g")
    clock.ns = 11 * 10**9
    again = limited("mexc", "malformed frame %s", "late")
    system.flush()

    assert results == [True, False, False, False, False] and other and again
    assert limited.suppressed_total == 4
    msgs = [line.rsplit(": ", 1)[1] for line in sink.lines]
    assert msgs == [
        "malformed frame 0",
        "malformed frame g",
        "malformed frame late [4 similar suppressed in 11s]",
    ]
    assert all("WARNING" in line for line in sink.lines)


def test_rate_limited_log_key_table_is_bounded() -> None:
    """More distinct keys than max_keys evict the oldest instead of growing without bound."""
    limited = arblog.RateLimitedLog(arblog.get_logger("bounded"), max_keys=4)
    limited.logger = _NullLogger()  # type: ignore[assignment]

    for k in range(10):
        limited(k, "x")

    assert len(limited._keys) == 4 and list(limited._keys) == [6, 7, 8, 9]


class _NullLogger:
    def log(self, level: int, msg: str, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        (1_700_000_000_123_456_789, "2023-11-14T22:13:20.123456Z"),
        (1_700_000_000_999_999_999, "2023-11-14T22:13:20.999999Z"),
        (1_700_000_001_000_000_000, "2023-11-14T22:13:21.000000Z"),
        (1_699_999_999_000_999_000, "2023-11-14T22:13:19.000999Z"),
    ],
)
def test_text_timestamps_are_utc_microseconds_across_boundaries(ts: int, text: str) -> None:
    """The cached ms/second prefix gives the exact UTC time, also when records go back across a boundary."""
    fmt = arblog._Formatter("svc", json=False)
    fmt.format([(1_700_000_000_500_000_000, arblog.INFO, "n", "warm", (), None)], {})

    line = fmt.format([(ts, arblog.INFO, "n", "m", (), None)], {}).decode()

    assert line.split(" ", 1)[0] == text


def test_every_record_from_many_threads_is_either_written_or_counted_as_dropped(start) -> None:
    """Under a flood from several threads into a small buffer, written + dropped equals logged, exactly."""
    sink = ListSink()
    system = start(quiet(buffer_lines=64), sink)
    lg = arblog.get_logger("threads")

    def flood() -> None:
        for i in range(5000):
            lg.info("x %d", i)

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    system.shutdown(5.0)

    written = sum(1 for line in sink.lines if "threads: x " in line)
    assert written + system.dropped == 20_000
