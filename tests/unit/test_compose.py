"""docker-compose.yml is validated here since no Docker engine runs in CI."""

from pathlib import Path

import pytest
from arb.tools.compose_check import check

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid_and_its_config_passes_config_check():
    """Every service has an image or build, dependencies exist, and the mounted config validates."""
    assert check(ROOT / "docker-compose.yml") == []


def test_compose_check_reports_broken_config(tmp_path):
    """A compose file whose mounted config is invalid is reported with the key path."""
    (tmp_path / "bad.yaml").write_text("nats:\n  url: htp://x\n")
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  sim:\n    image: x\n    command: [arb, sim, --config, /etc/arb/c.yaml]\n"
        "    volumes: ['./bad.yaml:/etc/arb/c.yaml:ro']\n    depends_on: [nats]\n"
    )
    problems = check(tmp_path / "docker-compose.yml")
    assert any("nats.url: expected nats:// or tls:// URL" in p for p in problems)
    assert any("unknown service 'nats'" in p for p in problems)
