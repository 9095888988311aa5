"""One global cap on requests in flight, plus optional requests- and tokens-per-minute.

The token buckets hold ``BURST_S`` seconds of their rate, so a run starts at once but
cannot exceed the rate over any longer window. The token bucket is charged an estimate
before the request (prompt characters / 4 + ``max_tokens``) and settled with the real usage.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

BURST_S = 10.0
CHARS_PER_TOKEN = 4
DEFAULT_COMPLETION_TOKENS = 1024


def estimate_tokens(messages: list[dict], params: dict) -> int:
    """Rough prompt + completion tokens, for the tokens-per-minute bucket."""
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    return chars // CHARS_PER_TOKEN + int(params.get("max_tokens") or DEFAULT_COMPLETION_TOKENS)


class TokenBucket:
    """A token bucket refilled at ``per_minute / 60`` per second, holding ``BURST_S`` of it."""

    def __init__(self, per_minute: float, burst_s: float = BURST_S) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, amount: float) -> None:
        """Wait until ``amount`` (at most the capacity) is available, then take it."""
        amount = min(amount, self.capacity)
        async with self._lock:  # first come, first served
            self._refill()
            while self.level < amount:
                await asyncio.sleep((amount - self.level) / self.rate)
                self._refill()
            self.level -= amount

    def give_back(self, amount: float) -> None:
        """Return an over-estimate (positive) or charge an under-estimate (negative)."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class Limiter:
    """The global limits every request of a run passes through."""

    def __init__(self, concurrency: int, rpm: float | None = None, tpm: float | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self.rpm = TokenBucket(rpm) if rpm else None
        self.tpm = TokenBucket(tpm) if tpm else None

    @contextlib.asynccontextmanager
    async def slot(self, estimated_tokens: int) -> AsyncIterator[_Slot]:
        """Hold one of the ``concurrency`` slots once the rate limits allow a request."""
        async with self._slots:
            if self.rpm:
                await self.rpm.take(1)
            if self.tpm:
                await self.tpm.take(estimated_tokens)
            yield _Slot(self.tpm, estimated_tokens)


class _Slot:
    __slots__ = ("_bucket", "_estimate")

    def __init__(self, bucket: TokenBucket | None, estimate: int) -> None:
        self._bucket = bucket
        self._estimate = estimate

    def settle(self, tokens_used: int) -> None:
        """Correct the tokens-per-minute charge with the tokens actually used."""
        if self._bucket:
            self._bucket.give_back(self._estimate - tokens_used)
