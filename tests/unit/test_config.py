"""Strict config: YAML + env overrides, one-line errors naming the key path."""

import pytest
from arb.config.credentials import Secret, load_credentials
from arb.config.loader import load_config
from arb.core.errors import ConfigError

pytestmark = pytest.mark.unit


def _write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_bad_ws_url_names_file_key_and_value(tmp_path):
    """A bad URL is one line: file, full key path, expectation and the bad value."""
    p = _write(tmp_path, "venues:\n  gateio:\n    futures:\n      rest_url: https://x\n      ws_url: htp://x\n")
    with pytest.raises(ConfigError) as e:
        load_config(p, env={})
    assert str(e.value) == f"{p}: venues.gateio.futures.ws_url: expected ws:// or wss:// URL, got 'htp://x'"


def test_unknown_key_rejected_with_path(tmp_path):
    """Typos are errors, not silently ignored."""
    p = _write(tmp_path, "nats:\n  urll: nats://x:4222\n")
    with pytest.raises(ConfigError, match=r"nats\.urll: unknown key"):
        load_config(p, env={})


def test_wrong_type_and_invalid_yaml(tmp_path):
    """Type errors and YAML syntax errors are reported on one line."""
    with pytest.raises(ConfigError, match=r"http\.port: expected int, got str"):
        load_config(_write(tmp_path, "http:\n  port: abc\n"), env={})
    with pytest.raises(ConfigError, match=r"line \d+: invalid YAML"):
        load_config(_write(tmp_path, "http: [\n"), env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml", env={})


def test_env_overrides_file_and_standard_urls(tmp_path):
    """ARB_A__B overrides the file; NATS_URL/DATABASE_URL are honoured; env values are typed."""
    p = _write(tmp_path, "http:\n  port: 9000\nnats:\n  url: nats://file:4222\n")
    cfg = load_config(p, env={"ARB_HTTP__PORT": "9201", "NATS_URL": "nats://env:4222",
                              "DATABASE_URL": "postgresql://u@h/db"})
    assert cfg.http.port == 9201 and cfg.nats.url == "nats://env:4222" and cfg.database.url == "postgresql://u@h/db"
    with pytest.raises(ConfigError, match=r"http\.port: expected 0\.\.65535"):
        load_config(p, env={"ARB_HTTP__PORT": "99999"})


def test_every_venue_endpoint_is_configurable(tmp_path):
    """Pointing the engine at the simulator is only a matter of URLs."""
    p = _write(tmp_path, "venues:\n  mexc:\n    spot:\n      rest_url: http://127.0.0.1:1\n      ws_url: ws://127.0.0.1:1/ws\n")
    assert load_config(p, env={}).venues.mexc.spot.ws_url == "ws://127.0.0.1:1/ws"


def test_secret_never_shows_its_value(tmp_path):
    """Secrets are masked in repr, str and format; missing credentials name the variable."""
    f = tmp_path / "secret"
    f.write_text("s3cr3t-value\n")
    creds = load_credentials("main-acct", env={"ARB_MAIN_ACCT_API_KEY": "mx0key123456", "ARB_MAIN_ACCT_API_SECRET_FILE": str(f)})
    assert creds.api_secret.reveal() == "s3cr3t-value"
    for text in (repr(creds), str(creds.api_secret), f"{creds.api_secret}", repr(Secret("abc"))):
        assert "s3cr3t" not in text and "abc" not in text
    with pytest.raises(ConfigError, match="ARB_OTHER_API_SECRET"):
        load_credentials("other", env={"ARB_OTHER_API_KEY": "k"})


def test_effective_config_masks_secret_named_keys():
    """Simulator demo secrets and URL passwords are masked in `arb config check` output."""
    from arb.config.loader import effective

    cfg = load_config(None, env={"NATS_URL": "nats://u:pw@h:4222"})
    out = effective(cfg)
    assert out["nats"]["url"] == "nats://u:***@h:4222"
    assert all(a["api_secret"] == "****" for a in out["sim"]["accounts"])
    assert all(a["api_key"] != "****" for a in out["sim"]["accounts"])


def test_idempotency_window_defaults_to_a_day_and_is_checked(tmp_path):
    """gateway.idempotency_window_s: 24 h by default, 0 turns the restore off, a negative window names the key."""
    assert load_config(_write(tmp_path, "log:\n  level: info\n"), env={}).gateway.idempotency_window_s == 86400.0
    assert load_config(_write(tmp_path, "gateway:\n  idempotency_window_s: 0\n"), env={}).gateway.idempotency_window_s == 0
    with pytest.raises(ConfigError, match=r"gateway\.idempotency_window_s: expected 0 \(off\)"):
        load_config(_write(tmp_path, "gateway:\n  idempotency_window_s: -1\n"), env={})


# -- every number finite and in range, every URL fully parsed, errors name their source (issue 10, finding 11) ----

@pytest.mark.parametrize(("yaml_text", "key"), [
    ("gateway:\n  watchdog_s: .nan\n", "gateway.watchdog_s"),  # NaN <= 0 is False: it used to turn the watchdog off
    ("gateway:\n  watchdog_s: .inf\n", "gateway.watchdog_s"),
    ("gateway:\n  ping_interval_s: -1\n", "gateway.ping_interval_s"),
    ("gateway:\n  request_timeout_s: -1\n", "gateway.request_timeout_s"),
    ("gateway:\n  backoff_initial_s: 0\n", "gateway.backoff_initial_s"),
    ("gateway:\n  backoff_max_s: -30\n", "gateway.backoff_max_s"),
    ("gateway:\n  symbol_refresh_s: .nan\n", "gateway.symbol_refresh_s"),
    ("gateway:\n  max_connection_age_s: -1\n", "gateway.max_connection_age_s"),
    ("gateway:\n  reconcile_fills_lookback_s: .nan\n", "gateway.reconcile_fills_lookback_s"),
    ("gateway:\n  idempotency_window_s: .nan\n", "gateway.idempotency_window_s"),
    ("gateway:\n  stale_after_s: .nan\n", "gateway.stale_after_s"),
    ("gateway:\n  lease_ttl_s: -10\n", "gateway.lease_ttl_s"),
    ("gateway:\n  book_interval_ms: -100\n", "gateway.book_interval_ms"),
    ("gateway:\n  snapshot_limit: 0\n", "gateway.snapshot_limit"),
    ("gateway:\n  recv_window_ms: 0\n", "gateway.recv_window_ms"),
    ("nats:\n  connect_timeout_s: -1\n", "nats.connect_timeout_s"),
    ("nats:\n  drain_timeout_s: .nan\n", "nats.drain_timeout_s"),
    ("shutdown_timeout_s: -5\n", "shutdown_timeout_s"),  # it used to skip the graceful flush
    ("shutdown_timeout_s: .nan\n", "shutdown_timeout_s"),
    ("log:\n  file_max_bytes: -1\n", "log.file_max_bytes"),
    ("log:\n  file_backups: -1\n", "log.file_backups"),
    ("sim:\n  listen_key_ttl_s: 0\n", "sim.listen_key_ttl_s"),
    ("sim:\n  dislocations:\n    every_s: .nan\n", "sim.dislocations.every_s"),
    ("sim:\n  dislocations:\n    bps: .nan\n", "sim.dislocations.bps"),
])
def test_unsafe_number_is_refused_naming_its_key(tmp_path, yaml_text, key):
    """NaN, infinity, negative or zero durations, intervals, sizes and counts are one error naming the key."""
    p = _write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as e:
        load_config(p, env={})
    assert str(e.value).startswith(f"{p}: {key}: "), str(e.value)


def test_backoff_max_below_initial_is_refused(tmp_path):
    """A reconnect backoff whose ceiling is below its start is a mistake, not a silent clamp."""
    p = _write(tmp_path, "gateway:\n  backoff_initial_s: 5\n  backoff_max_s: 1\n")
    with pytest.raises(ConfigError, match=r"gateway\.backoff_max_s: .*backoff_initial_s"):
        load_config(p, env={})


def test_sim_decimal_nan_is_a_config_error_not_a_traceback(tmp_path):
    """A NaN tick in the simulator's instruments is a ConfigError naming the key, not a decimal.InvalidOperation."""
    p = _write(tmp_path, "sim:\n  symbols:\n  - symbol: BTC-USDT\n    start_price: '100'\n    instruments:\n"
                         "    - {venue: mexc, market: spot, venue_symbol: BTCUSDT, tick: NaN, step: '1', min_qty: '1'}\n")
    with pytest.raises(ConfigError, match=r"sim\.symbols\[0\]\.instruments\[0\]\.tick: must be finite"):
        load_config(p, env={})


@pytest.mark.parametrize(("yaml_text", "key"), [
    ("nats:\n  url: nats://127.0.0.1:99999\n", "nats.url"),
    ("nats:\n  url: nats://127.0.0.1:4222,nats://127.0.0.1:99999\n", "nats.url"),
    ("nats:\n  url: nats://127.0.0.1:0\n", "nats.url"),
    ("nats:\n  url: nats://:4222\n", "nats.url"),
    ("database:\n  url: postgresql://u@127.0.0.1:99999/db\n", "database.url"),
    ("venues:\n  mexc:\n    spot:\n      rest_url: https://api.mexc.com:99999\n      ws_url: wss://x/ws\n",
     "venues.mexc.spot.rest_url"),
    ("venues:\n  gateio:\n    futures:\n      rest_url: https://x\n      ws_url: wss://x:port/ws\n",
     "venues.gateio.futures.ws_url"),
    ("venues:\n  gateio:\n    spot:\n      rest_url: https:///api/v4\n      ws_url: wss://x/ws\n",
     "venues.gateio.spot.rest_url"),
])
def test_url_with_bad_port_or_no_host_is_refused_at_check_time(tmp_path, yaml_text, key):
    """Every URL is parsed at load: a port outside 1..65535 or a missing host fails the check, not the run."""
    p = _write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as e:
        load_config(p, env={})
    assert str(e.value).startswith(f"{p}: {key}: "), str(e.value)


def test_good_urls_still_load(tmp_path):
    """IPv6 hosts, URL lists, user:password and a multi-host PostgreSQL URL are all valid."""
    p = _write(tmp_path, "nats:\n  url: nats://u:p@[::1]:4222, tls://h:4443\n"
                         "database:\n  url: postgresql://u:p@h1:5432,h2:5433/db\n")
    cfg = load_config(p, env={})
    assert cfg.nats.url.startswith("nats://u:p@[::1]") and cfg.database.url.endswith("/db")


@pytest.mark.parametrize(("env", "head"), [
    ({"ARB_GATEWAY__WATCHDOG_S": ".nan"}, "ARB_GATEWAY__WATCHDOG_S=.nan: gateway.watchdog_s: "),
    ({"ARB_NATS__DRAIN_TIMEOUT_S": "-5"}, "ARB_NATS__DRAIN_TIMEOUT_S=-5: nats.drain_timeout_s: "),
    ({"ARB_HTTP__PORT": "abc"}, "ARB_HTTP__PORT=abc: http.port: "),
    ({"NATS_URL": "nats://u:pw@h:99999"}, "NATS_URL=nats://u:***@h:99999: nats.url: "),
    ({"DATABASE_URL": "postgresql://u:pw@h:99999/d"}, "DATABASE_URL=postgresql://u:***@h:99999/d: database.url: "),
    ({"ARB_SIM__DISLOCATIONS": "{every_s: -1}"}, "ARB_SIM__DISLOCATIONS={every_s: -1}: sim.dislocations.every_s: "),
])
def test_error_from_an_environment_variable_names_the_variable(tmp_path, env, head):
    """A bad value that came from the environment is reported with its variable, never as the file's."""
    p = _write(tmp_path, "log:\n  level: info\n")
    with pytest.raises(ConfigError) as e:
        load_config(p, env=env)
    assert str(e.value).startswith(head), str(e.value)
    assert "pw" not in str(e.value)


def test_error_in_the_file_still_names_the_file_when_env_overrides_something_else(tmp_path):
    """Only the keys the environment set are blamed on it."""
    p = _write(tmp_path, "gateway:\n  watchdog_s: -1\n")
    with pytest.raises(ConfigError) as e:
        load_config(p, env={"ARB_GATEWAY__PING_INTERVAL_S": "5", "NATS_URL": "nats://h:4222"})
    assert str(e.value).startswith(f"{p}: gateway.watchdog_s: ")


def test_secret_file_that_is_not_utf8_is_one_clear_error(tmp_path):
    """A secret file in another encoding is a ConfigError naming the variable and path, never showing bytes."""
    f = tmp_path / "secret"
    f.write_bytes(b"\xff\xfeS\x00E\x00C\x00")
    with pytest.raises(ConfigError) as e:
        load_credentials("main", env={"ARB_MAIN_API_KEY": "k", "ARB_MAIN_API_SECRET_FILE": str(f)})
    assert str(e.value) == f"ARB_MAIN_API_SECRET_FILE: {str(f)!r} is not UTF-8 text"


def test_empty_secret_file_is_reported_as_empty_not_missing(tmp_path):
    """An empty (or blank) secret file says so, with its variable and path, instead of 'missing'."""
    f = tmp_path / "secret"
    f.write_text(" \n")
    with pytest.raises(ConfigError) as e:
        load_credentials("main", env={"ARB_MAIN_API_KEY": "k", "ARB_MAIN_API_SECRET_FILE": str(f)})
    assert str(e.value) == f"ARB_MAIN_API_SECRET_FILE: {str(f)!r} is empty"


def test_env_override_of_one_url_keeps_the_default_of_its_sibling():
    """ARB_VENUES__MEXC__SPOT__WS_URL alone points the websocket elsewhere and keeps the default REST URL."""
    cfg = load_config(None, env={"ARB_VENUES__MEXC__SPOT__WS_URL": "ws://127.0.0.1:18081/ws"})
    assert cfg.venues.mexc.spot.ws_url == "ws://127.0.0.1:18081/ws"
    assert cfg.venues.mexc.spot.rest_url == "https://api.mexc.com"


@pytest.mark.parametrize(("env", "message"), [
    ({"ARB_STREAMS__ORD_MAX_AGE_S": "1"}, "streams.ord_max_age_s: expected a finite number of seconds >= 604800"),
    ({"ARB_STREAMS__ORD_MAX_AGE_S": "-5"}, "streams.ord_max_age_s: expected a finite number of seconds >= 604800"),
    ({"ARB_STREAMS__STRAT_MAX_AGE_S": ".nan"}, "streams.strat_max_age_s: expected a finite number"),
    ({"ARB_STREAMS__MD_MAX_BYTES": "10"}, "streams.md_max_bytes: expected >= 1048576"),
    ({"ARB_GATEWAY__LEASE_TTL_S": "0.1"}, "gateway.lease_ttl_s: expected 1..3600"),
    ({"ARB_GATEWAY__IDEMPOTENCY_WINDOW_S": "31000000"}, "longer than ORD keeps events"),
])
def test_stream_limits_and_trading_safety_knobs_have_floors(env, message):
    """A start must never be able to empty ORD (the trading gateways' memory) or make the writer lease useless."""
    with pytest.raises(ConfigError) as e:
        load_config(None, env=env)
    assert message in str(e.value) and next(iter(env)) in str(e.value)
