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
