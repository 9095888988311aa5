"""Retry policy: which failures are retried, how long to wait, when to give up.

Retried: HTTP 408/409/429 and 5xx, timeouts, connection errors, `RetryableError` and
`InvalidResponse` (blank content, malformed JSON in JSON mode) unless the answer was cut
at ``max_tokens``. Waits grow exponentially with full jitter and
are at least the server's ``Retry-After``; a request gives up after ``max_attempts`` or
once the next wait would pass ``give_up_after_s`` since its first attempt.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from llm.backend import InvalidResponse, RetryableError

MAX_ATTEMPTS = 6
GIVE_UP_AFTER_S = 30 * 60.0
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 60.0
RETRYABLE_STATUS = frozenset({408, 409, 429})
ERROR_TEXT_MAX = 500


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retries of one request (attempts, total seconds, backoff range)."""

    max_attempts: int = MAX_ATTEMPTS
    give_up_after_s: float = GIVE_UP_AFTER_S
    backoff_initial_s: float = BACKOFF_INITIAL_S
    backoff_max_s: float = BACKOFF_MAX_S

    def retrying(self, before_sleep=None) -> AsyncRetrying:
        """A tenacity controller for one request; ``before_sleep(state)`` may be async."""
        backoff = wait_random_exponential(multiplier=self.backoff_initial_s, max=self.backoff_max_s)

        def wait(state: RetryCallState) -> float:
            pause = backoff(state)
            server_says = retry_after_s(state.outcome.exception())
            return pause if server_says is None else max(pause, server_says)

        return AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.give_up_after_s),
            wait=wait,
            retry=retry_if_exception(is_retryable),
            before_sleep=before_sleep,
            reraise=True,
        )


def is_retryable(exc: BaseException) -> bool:
    """True for transient failures worth another attempt."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    if isinstance(exc, InvalidResponse):
        return exc.retryable
    return isinstance(
        exc, (openai.APIConnectionError, RetryableError, asyncio.TimeoutError, ConnectionError)
    )


def retry_after_s(exc: BaseException | None) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms`` or ``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return None if when is None else max(0.0, when.timestamp() - time.time())


def describe_error(exc: BaseException) -> str:
    """A one-line reason for the ``error`` column."""
    if isinstance(exc, openai.APIStatusError):
        text = f"HTTP {exc.status_code} {type(exc).__name__}: {_api_message(exc)}"
    elif isinstance(exc, openai.APIConnectionError):
        root = _root_cause(exc)
        text = ("timeout: no answer within the request timeout" if _is_timeout(exc)
                else f"connection error: {type(root).__name__}: {root}")
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:ERROR_TEXT_MAX]


def error_kind(exc: BaseException) -> str:
    """A short class of failure for counts: ``http_429``, ``timeout``, ``blank_content``..."""
    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "timeout" if _is_timeout(exc) else "connection"
    if isinstance(exc, InvalidResponse):
        return exc.kind
    return type(exc).__name__


def _root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def _is_timeout(exc: BaseException) -> bool:
    """A timeout by its root cause: transports label some disconnects as timeouts."""
    root = _root_cause(exc)
    return isinstance(root, (TimeoutError, httpx2.TimeoutException))


def _api_message(exc: openai.APIStatusError) -> Any:
    body = exc.body
    if isinstance(body, dict):
        return body.get("message") or body.get("error", {}).get("message") or body
    return body or exc.message
