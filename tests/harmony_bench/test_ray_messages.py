"""What Ray prints at the start of a run: its token-authentication notice is not shown (the
setting itself stays on). The worker-death paragraph is Ray's own print and stays (docs/distributed.md)."""

import importlib
import logging
from types import SimpleNamespace

import pytest

from harmony_bench.executors import RAY_TOKEN_LOGGER, _init_ray


def test_the_token_notice_logger_is_the_one_ray_uses():
    pytest.importorskip("ray")
    module = importlib.import_module(RAY_TOKEN_LOGGER)  # a renamed module in a new Ray fails here
    assert module.logger.name == RAY_TOKEN_LOGGER


def test_starting_ray_raises_the_token_notice_to_errors_only(monkeypatch):
    logger = logging.getLogger(RAY_TOKEN_LOGGER)
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    calls = []
    _init_ray(SimpleNamespace(init=lambda **kw: calls.append(kw)), SimpleNamespace(quiet=False, ray_address=None))
    assert calls == [{"address": "local", "include_dashboard": False, "logging_level": logging.WARNING,
                      "log_to_driver": True}]
    assert not logger.isEnabledFor(logging.WARNING) and logger.isEnabledFor(logging.ERROR)
