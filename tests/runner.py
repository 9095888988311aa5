"""Stages run in tests without Prefect, each with its parameters object built from keywords."""

from __future__ import annotations

from stages.options import LLMOptions
from stages.stage import get

#: Retries fast enough for the loopback server's injected faults.
FAST_RETRY = {"max_attempts": 8, "give_up_after_s": 60, "backoff_initial_s": 0.005, "backoff_max_s": 0.02}


def run(name: str, warehouse, force: bool = False, **params) -> dict:
    """Stage ``name`` on ``warehouse``; returns its counts."""
    stage = get(name)
    return stage.run(warehouse, stage.params(**params), force)


def loopback(url: str, **options) -> LLMOptions:
    """The openai backend against the loopback server (tests/openai_server.py); the API key comes
    from the environment (the ``api_key`` fixture)."""
    return LLMOptions(backend="openai", base_url=url, timeout_s=5, **{**FAST_RETRY, **options})
