#!/usr/bin/env python3
"""Set up kafkaops on a fresh machine and run the main job or the tests: one command each.

    python3 dev.py demo    # venv + install + Kafka + up + database + produce + consume: the whole pipeline
    python3 dev.py test    # venv + install + Kafka + the whole test suite (unit and integration)
    python3 dev.py setup   # only the set-up part (both Kafka installs: 3.9.2 ZooKeeper mode, 4.x KRaft)
    python3 dev.py lint    # ruff check, ruff format --check, mypy and lint-imports (part of `test`)
    python3 dev.py test tests/unit   # a quick run: only the tests that need no services

Works on Linux, macOS and Windows (needs Python 3.11+, Java 17, and Maven for the Kafka jars).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
KAFKAOPS = [str(PY), "-m", "kafkaops"]


def run(cmd: list[str], **kw: object) -> None:
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    code = subprocess.call(cmd, cwd=ROOT, **kw)  # type: ignore[arg-type]
    if code != 0:
        sys.exit(code)


def setup(env: dict[str, str] | None = None) -> None:
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    run([str(PY), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", ".[test]"])
    run([*KAFKAOPS, "install"], env=env)  # Kafka 3.9.2: the procedure's ZooKeeper-mode stack
    run([*KAFKAOPS, "install", "--mode", "kraft"], env=env)  # Kafka 4.x beside it: the KRaft stack


def demo() -> None:
    setup()
    run([*KAFKAOPS, "up"])
    run([*KAFKAOPS, "db", "init", "--demo"])
    run([*KAFKAOPS, "db", "seed", "20"])
    run([*KAFKAOPS, "produce"])
    run([*KAFKAOPS, "consume", "--from-beginning", "--exit-at-end", "--max-messages", "20"])
    print("\nThe pipeline is up. Try: .venv/bin/kafkaops status | doctor | topics list | down", file=sys.stderr)


def test(extra: list[str]) -> None:
    env = dict(os.environ)
    # The tests start their own ZooKeeper, broker and PostgreSQL on free ports; they share one Kafka
    # install, kept apart from the user's own KAFKAOPS_HOME.
    env.setdefault("KAFKAOPS_TEST_HOME", str(Path.home() / ".cache" / "kafkaops-test"))
    setup(dict(env, KAFKAOPS_HOME=env["KAFKAOPS_TEST_HOME"]))
    if not extra:  # the whole run: lint, format and types first (seconds), then every test
        lint()
    run([str(PY), "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra], env=env)


def lint() -> None:
    """What CI checks besides the tests: ruff's lint and format, mypy over kafkaops/, and the import
    contracts (lint-imports; all configured in pyproject.toml)."""
    paths = ["kafkaops", "tests", "bench", "dev.py"]
    run([str(PY), "-m", "ruff", "check", *paths])
    run([str(PY), "-m", "ruff", "format", "--check", *paths])
    run([str(PY), "-m", "mypy"])
    run([str(BIN / ("lint-imports.exe" if os.name == "nt" else "lint-imports")), "--no-cache"])


def main() -> None:
    args = sys.argv[1:]
    what = args[0] if args else "help"
    if what == "setup":
        setup()
    elif what == "demo":
        demo()
    elif what == "test":
        test(args[1:])
    elif what == "lint":
        lint()
    else:
        print(__doc__)
        sys.exit(0 if what in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main()
