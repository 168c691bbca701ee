"""`gunicorn.conf.py`, the web process's settings: each is one gunicorn knows (gunicorn skips a misspelt
name in a config file without a word), and the environment changes them as the README says."""

import runpy
import types
from pathlib import Path
from typing import Any

import pytest
from gunicorn.config import Config

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def load() -> Config:
    """The file read as gunicorn reads it, each value through gunicorn's own validation."""
    config = Config()
    namespace: dict[str, Any] = runpy.run_path(str(CONF))
    for name, value in namespace.items():
        if not name.startswith("__") and not isinstance(value, types.ModuleType):
            # AttributeError for a name gunicorn does not know, ValueError for a bad value
            config.set(name, value)
    return config


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEB_CONCURRENCY", "WEB_THREADS", "WEB_KEEPALIVE"):
        monkeypatch.delenv(name, raising=False)
    config = load()
    assert config.worker_class_str == "gthread"
    assert (config.workers, config.threads) == (4, 4)
    # each connection closed after its response: see the file and docs/performance.md, Orders API
    assert config.keepalive == 0


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "8")
    monkeypatch.setenv("WEB_THREADS", "2")
    monkeypatch.setenv("WEB_KEEPALIVE", "5")
    config = load()
    assert (config.workers, config.threads, config.keepalive) == (8, 2, 5)
