"""`generate`: run requests through a backend, at most once per answer, surviving crashes.

For each request, in order: skip it if the journal already holds an ``ok`` answer to the
same request (same `cache_key`); else take the answer of an identical request of this run,
or the response cache's; else send it, retrying within the `RetryPolicy`. Every attempt
becomes one journal row, written at once and counted once ``fsync``-ed; a new answer is
stored in the cache alongside. Requests run in the order given (give them shard by shard)
through one pool of workers, so consecutive shards overlap within the global cap
(``concurrency``, plus optional RPM/TPM limits). The requests are read as the workers take
them: a lazy collection (``len`` and ``iter``) keeps only the requests in flight in memory.
Sample ids must be unique: a repeated one raises ValueError once the requests before it are done.

``max_cost_usd`` applies to this call: no new request starts once the cost so far plus
the expected cost of the requests in flight reaches it; finished work is kept.
``refresh`` ignores the cache and the journal's earlier answers (new answers then replace
them); a killed refresh run resumes by running again without ``refresh``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from llm.backend import Backend, InvalidResponse, Request, Response
from llm.cache import ResponseCache, request_key
from llm.client import DEFAULT_CONCURRENCY, JSON_MODE
from llm.journal import Journal, iter_journal
from llm.limits import Limiter, estimate_tokens
from llm.pricing import PriceTable
from llm.retry import RetryPolicy, describe_error, error_kind, is_retryable

log = logging.getLogger(__name__)

# Workers per concurrency slot: spare workers keep the slots busy while others back off
# or wait for their journal commit.
WORKERS_PER_SLOT = 4
OUTCOMES = ("skipped", "cached", "ok", "failed", "stopped")


@dataclass
class RunSummary:
    """Counts of one `generate` call (also what the progress display shows).

    Outcomes per sample: ``skipped`` (already ``ok`` in the journal), ``cached`` (served by
    the cache, no request), ``ok`` (answered now), ``failed`` (ended ``error``), ``stopped``
    (not finished: the budget was reached). ``attempts`` counts requests sent; ``errors``
    counts failed attempts by kind; ``shards`` holds the outcomes per shard.
    """

    total: int = 0
    skipped: int = 0
    cached: int = 0
    ok: int = 0
    failed: int = 0
    stopped: int = 0
    attempts: int = 0
    tokens_in: int = 0
    tokens_cached_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    budget_reached: bool = False
    errors: dict[str, int] = field(default_factory=Counter)
    shards: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def done(self) -> int:
        """Samples that have an answer."""
        return self.skipped + self.cached + self.ok

    @property
    def finished(self) -> int:
        """Samples this call is through with."""
        return self.done + self.failed + self.stopped

    def to_dict(self) -> dict:
        data = asdict(self)
        data["errors"] = dict(self.errors)
        data.update(done=self.done, finished=self.finished)
        return data


class _BudgetReached(Exception):
    """No new request may start: ``max_cost_usd`` is reached."""


class _Attempts:
    """What one sample's retry loop has seen so far."""

    __slots__ = ("number", "latency_ms", "response")

    def __init__(self, number: int) -> None:
        self.number = number
        self.latency_ms: float | None = None
        self.response: Response | None = None


async def generate(
    requests: Collection[Request],
    backend: Backend,
    *,
    journal_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_cost_usd: float | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    refresh: bool = False,
    progress: Callable[[RunSummary], None] | None = None,
    retry: RetryPolicy = RetryPolicy(),
    prices: PriceTable | None = None,
) -> RunSummary:
    """Generate an answer for every request; returns the counts. Rows go to the journal.

    ``progress(summary)`` is called after each sample finishes. The backend's connections
    are closed at the end (it reopens them if used again).
    """
    run = _Run(backend, journal_dir=journal_dir, cache_dir=cache_dir,
               limiter=Limiter(concurrency, rpm=rpm, tpm=tpm), max_cost_usd=max_cost_usd,
               refresh=refresh, progress=progress, retry=retry,
               prices=prices or PriceTable.load())
    try:
        return await run.execute(requests)
    finally:
        await backend.aclose()


class _Run:
    def __init__(self, backend: Backend, *, journal_dir, cache_dir, limiter: Limiter,
                 max_cost_usd, refresh, progress, retry: RetryPolicy, prices: PriceTable) -> None:
        self.backend = backend
        self.journal_dir = journal_dir
        self.cache = ResponseCache(cache_dir) if cache_dir is not None and backend.cacheable else None
        self.limiter = limiter
        self.max_cost_usd = max_cost_usd
        self.refresh = refresh
        self.progress = progress
        self.retry = retry
        self.price = prices.get(backend.model)
        if self.price is None:
            if max_cost_usd is not None:
                raise ValueError(f"no price for model {backend.model!r}: add it to the price "
                                 "table to use a cost limit")
            log.warning("no price for model %r: costs are not counted", backend.model)
        self.summary = RunSummary()
        self.in_flight = 0
        self.paid_attempts = 0
        self.sharing: dict[str, asyncio.Future] = {}  # request key -> answer of the sample asking
        self.prior_attempts: dict[str, int] = {}
        self.journal: Journal | None = None

    async def execute(self, requests: Collection[Request]) -> RunSummary:
        started = time.perf_counter()
        self.summary.total = len(requests)
        answered, self.prior_attempts = _journal_state(self.journal_dir)
        seen: set[str] = set()
        repeated: list[str] = []

        def todo() -> Iterator[tuple[Request, str]]:
            """The requests as the workers take them (a lazy collection is read as it goes)."""
            for req in requests:
                if req.sample_id in seen:
                    repeated.append(req.sample_id)
                    return
                seen.add(req.sample_id)
                key = request_key(self.backend.name, self.backend.model, req.canonical_messages, req.params)
                if not self.refresh and key in answered.get(req.sample_id, ()):
                    self._count(req, "skipped")
                else:
                    yield req, key

        queue = todo()

        async def worker() -> None:
            for req, key in queue:
                await self._sample(req, key)

        workers = min(len(requests), self.limiter.concurrency * WORKERS_PER_SLOT)
        async with Journal(self.journal_dir) as self.journal, asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
        self.summary.elapsed_s = time.perf_counter() - started
        if repeated:
            raise ValueError(f"duplicate sample id {repeated[0]!r}: the requests before it were run, none after it")
        return self.summary

    async def _sample(self, req: Request, key: str) -> None:
        """One sample: a shared or cached answer if there is one, else the backend."""
        base = self.prior_attempts.get(req.sample_id, 0)
        while (other := self.sharing.get(key)) is not None:  # same request in flight
            shared = await asyncio.shield(other)
            if shared is not None:
                return await self._record_cached(req, key, base + 1, shared)
        if self.cache and not self.refresh:
            hit = self.cache.get(key)
            if hit is not None:
                return await self._record_cached(req, key, base + 1, hit)
        self.sharing[key] = asyncio.get_running_loop().create_future()
        response = None
        try:
            response = await self._attempts(req, key, _Attempts(base))
        finally:
            self.sharing.pop(key).set_result(response)

    async def _attempts(self, req: Request, key: str, state: _Attempts) -> Response | None:
        """Send with retries; journal every attempt; the answer, or None when it ended without."""
        first = state.number

        async def before_sleep(retry_state) -> None:
            await self._record_error(req, key, state, retry_state.outcome.exception(),
                                     f"retrying in {retry_state.next_action.sleep:.2f} s")

        try:
            async for attempt in self.retry.retrying(before_sleep):
                with attempt:
                    response = await self._call(req, state)
        except _BudgetReached:
            self._count(req, "stopped")
            return None
        except Exception as exc:
            tries = state.number - first
            if not is_retryable(exc):
                verdict = "not retryable"
            elif tries >= self.retry.max_attempts:
                verdict = f"gave up after {tries} attempts"
            else:
                verdict = f"gave up: retrying would pass {self.retry.give_up_after_s:g} s"
            await self._record_error(req, key, state, exc, verdict)
            self._count(req, "failed")
            return None
        await self.journal.append(
            req.shard, self._row(req, key, state.number, "ok", response, cost=self._cost(response)),
            then=self._cache_writer(req, key, response))
        self._count(req, "ok")
        return response

    async def _call(self, req: Request, state: _Attempts) -> Response:
        """One request within the limits; raises on failure, blank or invalid answers."""
        estimate = estimate_tokens(req.messages, req.params) if self.limiter.tpm else 0
        async with self.limiter.slot(estimate) as slot:
            if self._budget_exhausted():  # checked last, with the slot in hand
                raise _BudgetReached
            state.number += 1
            state.latency_ms = state.response = None
            self.in_flight += 1
            self.summary.attempts += 1
            start = time.perf_counter()
            try:
                response = await self.backend.answer(req)
            finally:
                self.in_flight -= 1
                state.latency_ms = (time.perf_counter() - start) * 1000
            slot.settle(response.tokens_in + response.tokens_out)
        state.response = response
        self._charge(response)
        _validate(response, req.params)
        return response

    def _budget_exhausted(self) -> bool:
        if self.max_cost_usd is None:
            return False
        spent = self.summary.cost_usd
        expected = spent / self.paid_attempts * self.in_flight if self.paid_attempts else 0.0
        if spent + expected >= self.max_cost_usd:
            self.summary.budget_reached = True
        return self.summary.budget_reached

    def _cost(self, response: Response) -> float | None:
        return self.price.cost(response) if self.price else None

    def _charge(self, response: Response) -> None:
        s = self.summary
        s.tokens_in += response.tokens_in or 0
        s.tokens_cached_in += response.tokens_cached_in or 0
        s.tokens_out += response.tokens_out or 0
        if self.price:
            s.cost_usd += self.price.cost(response)
            self.paid_attempts += 1

    def _cache_writer(self, req: Request, key: str, response: Response) -> Callable[[], None] | None:
        """Stores the answer in the cache; run by the journal's writer thread."""
        if self.cache is None:
            return None
        data = self.cache.entry(key, kind=self.backend.name, model=self.backend.model,
                                messages=req.messages, params=req.params, response=response)
        return lambda: self.cache.store(key, data)

    async def _record_cached(self, req: Request, key: str, attempt: int, response: Response) -> None:
        await self.journal.append(req.shard, self._row(req, key, attempt, "ok", response, cost=0.0, cached=True))
        self._count(req, "cached")

    async def _record_error(self, req: Request, key: str, state: _Attempts, exc: BaseException,
                            verdict: str) -> None:
        self.summary.errors[error_kind(exc)] += 1
        response = state.response if isinstance(exc, InvalidResponse) else None
        row = self._row(req, key, state.number, "error", response,
                        error=f"{describe_error(exc)}; {verdict}",
                        cost=self._cost(response) if response else None)
        row["latency_ms"] = _ms(state.latency_ms)
        await self.journal.append(req.shard, row)

    def _row(self, req: Request, key: str, attempt: int, status: str, response: Response | None,
             *, error: str | None = None, cost: float | None = None, cached: bool = False) -> dict:
        r = response
        return {
            "sample_id": req.sample_id,
            "prompt_sha256": req.prompt_sha256,
            "backend": self.backend.name,
            "model": self.backend.model,
            "attempt": attempt,
            "status": status,
            "response": r.text if r else None,
            "tokens_in": r.tokens_in if r else None,
            "tokens_out": r.tokens_out if r else None,
            "latency_ms": _ms(r.latency_ms) if r else None,
            "error": error,
            "shard": req.shard,
            "request_key": key,
            "finish_reason": r.finish_reason if r else None,
            "reasoning": r.reasoning if r else None,
            "tokens_cached_in": r.tokens_cached_in if r else None,
            "cost_usd": cost,
            "cached": cached,
            "created_at": datetime.now(timezone.utc).isoformat(),
        }

    def _count(self, req: Request, outcome: str) -> None:
        setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
        self.summary.shards.setdefault(req.shard, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
        if self.progress:
            self.progress(self.summary)


def _validate(response: Response, params: dict) -> None:
    """Blank content, and in JSON mode anything but a JSON object, are failures; retryable
    unless the answer was cut at ``max_tokens`` (it would be cut again)."""
    text = response.text
    retryable = response.finish_reason != "length"
    if text is None or not text.strip():
        raise InvalidResponse(f"blank content (finish_reason={response.finish_reason})",
                              response, kind="blank_content", retryable=retryable)
    if params.get(JSON_MODE):
        try:
            value = json.loads(text)
        except ValueError:
            raise InvalidResponse(
                f"invalid JSON in JSON mode (finish_reason={response.finish_reason}): {text[:80]!r}",
                response, kind="invalid_json", retryable=retryable) from None
        if not isinstance(value, dict):
            raise InvalidResponse("JSON mode answer is not an object", response,
                                  kind="invalid_json", retryable=retryable)


def _journal_state(journal_dir) -> tuple[dict[str, set[str]], dict[str, int]]:
    """Per sample: the request keys answered ``ok``, and the highest attempt number."""
    answered: dict[str, set[str]] = {}
    attempts: dict[str, int] = {}
    if os.path.isdir(journal_dir):
        for row in iter_journal(journal_dir):
            sample = row["sample_id"]
            attempts[sample] = max(attempts.get(sample, 0), row.get("attempt") or 0)
            if row.get("status") == "ok":
                answered.setdefault(sample, set()).add(row.get("request_key"))
    return answered, attempts


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
