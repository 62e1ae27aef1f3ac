"""Validate docker-compose.yml without a Docker engine: structure, images/builds, and that every arb
service's config file passes `arb config check`."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from ..config.loader import load_config
from ..core.errors import ConfigError


def check(path: Path) -> list[str]:
    problems: list[str] = []
    doc = yaml.safe_load(path.read_text())
    services = doc.get("services") or {}
    if not services:
        return [f"{path}: no services"]
    for name, svc in services.items():
        if not isinstance(svc, dict):
            problems.append(f"{path}: services.{name}: expected a mapping")
            continue
        if "image" not in svc and "build" not in svc:
            problems.append(f"{path}: services.{name}: needs image or build")
        for dep in svc.get("depends_on") or []:
            if dep not in services:
                problems.append(f"{path}: services.{name}.depends_on: unknown service {dep!r}")
        cmd = svc.get("command") or []
        if cmd[:1] == ["arb"] and "--config" in cmd:
            cfg_in_container = cmd[cmd.index("--config") + 1]
            for vol in svc.get("volumes") or []:
                src, _, dst = vol.partition(":")
                if dst.split(":")[0] == cfg_in_container:
                    try:
                        load_config(path.parent / src, env={})
                    except ConfigError as e:
                        problems.append(f"services.{name}: {e}")
    return problems


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "docker-compose.yml")
    problems = check(path)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"{path}: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
