"""Unit tests of the llm library's parts: keys, cache, journal, prices, retry policy, limits."""

from __future__ import annotations

import asyncio
import json
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import httpx2
import openai
import pytest

from llm import PriceTable, Request, Response, ResponseCache, cache_key, prompt_sha256, read_rows
from llm.backend import InvalidResponse
from llm.client import parse_completion, request_body
from llm.journal import Journal, iter_journal
from llm.limits import TokenBucket
from llm.retry import describe_error, is_retryable, retry_after_s

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "ECG 1"}]


def _status_error(status: int, headers: dict | None = None) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(status, headers=headers or {}, request=request,
                               json={"error": {"message": "nope"}})
    cls = {429: openai.RateLimitError, 500: openai.InternalServerError,
           400: openai.BadRequestError}.get(status, openai.APIStatusError)
    return cls("nope", response=response, body={"message": "nope"})


def test_prompt_sha256_is_canonical():
    reordered = [{"content": "Be brief.", "role": "system"}, {"content": "ECG 1", "role": "user"}]
    assert prompt_sha256(MESSAGES) == prompt_sha256(reordered)
    assert prompt_sha256(MESSAGES) != prompt_sha256(MESSAGES[:1])
    assert Request("a", "s0", MESSAGES).prompt_sha256 == prompt_sha256(MESSAGES)


def test_request_rejects_unsafe_shard_names():
    with pytest.raises(ValueError):
        Request("a", "../escape", MESSAGES)


def test_cache_key_depends_on_kind_model_messages_params():
    base = cache_key("openai", "deepseek-chat", MESSAGES, {"temperature": 0})
    assert base == cache_key("openai", "deepseek-chat", MESSAGES, {"temperature": 0})
    assert base != cache_key("rules", "deepseek-chat", MESSAGES, {"temperature": 0})
    assert base != cache_key("openai", "deepseek-reasoner", MESSAGES, {"temperature": 0})
    assert base != cache_key("openai", "deepseek-chat", MESSAGES[:1], {"temperature": 0})
    assert base != cache_key("openai", "deepseek-chat", MESSAGES, {"temperature": 0.7})


def test_request_key_is_the_cache_key_of_the_canonical_payload():
    import hashlib

    from llm import canonical_json
    from llm.cache import request_key

    messages = [*MESSAGES, {"content": "é \"q\"\n", "role": "user", "name": ["x", 1.5, None]}]
    for kind, model, params in (("openai", "deepseek-chat", {"temperature": 0}), ("rules", "ü", {"b": {"z": [1]}, "a": 1})):
        payload = canonical_json({"kind": kind, "model": model, "messages": messages, "params": params})
        expected = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        request = Request("a", "s0", messages, params)
        assert cache_key(kind, model, messages, params) == expected
        assert request_key(kind, model, request.canonical_messages, params) == expected


def test_cache_round_trip_and_unreadable_entry_is_a_miss(tmp_path):
    cache = ResponseCache(tmp_path)
    key = cache_key("openai", "m", MESSAGES, {})
    assert cache.get(key) is None
    response = Response("text", "why", 10, 4, 3, "stop", 12.5, "m")
    cache.put(key, kind="openai", model="m", messages=MESSAGES, params={}, response=response)
    assert cache.get(key) == response
    assert cache.path(key).parent.name == key[:2]
    assert [p.name for p in cache.path(key).parent.iterdir()] == [f"{key}.json"]  # no temp left
    cache.path(key).write_text('{"response": {"te')  # torn by a crash of a non-atomic writer
    assert cache.get(key) is None


def test_journal_survives_a_torn_last_line(tmp_path):
    async def write(rows):
        async with Journal(tmp_path) as journal:
            for row in rows:
                await journal.append("s0", row)

    asyncio.run(write([{"sample_id": "a", "attempt": 1, "status": "ok"}]))
    with open(tmp_path / "s0.jsonl", "ab") as f:
        f.write(b'{"sample_id": "b", "att')  # killed mid-write
    asyncio.run(write([{"sample_id": "c", "attempt": 1, "status": "ok"}]))
    assert [r["sample_id"] for r in iter_journal(tmp_path)] == ["a", "c"]


def _row(sample, attempt, status, created, **extra):
    return {"sample_id": sample, "attempt": attempt, "status": status, "created_at": created,
            "response": "r" if status == "ok" else None,
            "error": None if status == "ok" else "boom", **extra}


def test_read_rows_keeps_every_attempt_and_the_latest_ok(tmp_path):
    rows = [
        _row("a", 1, "error", "2025-01-01T00:00:01"),
        _row("a", 2, "ok", "2025-01-01T00:00:02"),
        _row("a", 3, "ok", "2025-01-01T00:00:03"),  # a refresh
        _row("b", 1, "error", "2025-01-01T00:00:01"),
        _row("b", 2, "error", "2025-01-01T00:00:02"),
    ]
    (tmp_path / "s0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = read_rows(tmp_path)
    assert [(r["sample_id"], r["attempt"], r["final"]) for r in out] == [
        ("a", 1, False), ("a", 3, True), ("b", 1, False), ("b", 2, True)]
    assert set(out[0]) >= {"sample_id", "prompt_sha256", "backend", "model", "attempt", "status",
                           "response", "tokens_in", "tokens_out", "latency_ms", "error"}


def test_price_table_costs_and_prefix_match():
    prices = PriceTable.load()
    chat = prices.get("deepseek-chat")
    response = Response("x", tokens_in=1_000_000, tokens_cached_in=400_000, tokens_out=1_000_000)
    expected = (600_000 * chat.input_usd_per_mtok + 400_000 * chat.cached_input_usd_per_mtok
                + 1_000_000 * chat.output_usd_per_mtok) / 1e6
    assert chat.cost(response) == pytest.approx(expected)
    assert prices.get("gpt-4o-mini-2024-07-18") == prices.get("gpt-4o-mini")
    assert prices.get("rules").cost(response) == 0
    assert prices.get("no-such-model") is None


def test_retry_after_header_forms():
    assert retry_after_s(_status_error(429, {"Retry-After": "7"})) == 7
    assert retry_after_s(_status_error(429, {"retry-after-ms": "250"})) == 0.25
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after_s(_status_error(429, {"Retry-After": later})) <= 30
    assert retry_after_s(_status_error(429)) is None
    assert retry_after_s(ValueError()) is None


def test_retry_classification():
    assert is_retryable(_status_error(429))
    assert is_retryable(_status_error(500))
    assert is_retryable(_status_error(503))
    assert not is_retryable(_status_error(400))
    assert is_retryable(InvalidResponse("blank"))
    assert is_retryable(openai.APITimeoutError(httpx2.Request("POST", "http://127.0.0.1/")))
    assert not is_retryable(KeyError("bug"))
    assert describe_error(_status_error(400)).startswith("HTTP 400 BadRequestError: nope")


def test_parse_completion_deepseek_and_openai_usage():
    deepseek = {"model": "deepseek-reasoner", "choices": [{"message": {
        "content": "a", "reasoning_content": "because"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 6}}
    r = parse_completion(deepseek, 5.0)
    assert (r.text, r.reasoning, r.tokens_in, r.tokens_cached_in, r.tokens_out, r.finish_reason) \
        == ("a", "because", 10, 6, 2, "stop")
    oai = {"choices": [{"message": {"content": "b"}, "finish_reason": "length"}],
           "usage": {"prompt_tokens": 9, "completion_tokens": 1,
                     "prompt_tokens_details": {"cached_tokens": 4}}}
    assert parse_completion(oai, 1.0).tokens_cached_in == 4
    with pytest.raises(InvalidResponse):
        parse_completion({"error": "x"}, 1.0)


def test_request_body_json_mode_and_passthrough():
    body = request_body("m", MESSAGES, {"json_mode": True, "temperature": 0, "thinking": {"x": 1}})
    assert body == {"model": "m", "messages": MESSAGES, "temperature": 0, "thinking": {"x": 1},
                    "response_format": {"type": "json_object"}}
    assert "response_format" not in request_body("m", MESSAGES, {"json_mode": False})


def test_token_bucket_never_exceeds_its_rate():
    rate_per_s, takes = 200.0, 21

    async def drain() -> float:
        bucket = TokenBucket(rate_per_s * 60, burst_s=1 / rate_per_s)  # capacity of one
        start = time.monotonic()
        for _ in range(takes):
            await bucket.take(1)
        return time.monotonic() - start

    # The first take is free; each later one waits for a refill.
    assert asyncio.run(drain()) >= (takes - 1) / rate_per_s * 0.95


def test_journal_runs_actions_and_survives_their_failure(tmp_path):
    ran = []

    async def write():
        async with Journal(tmp_path) as journal:
            await journal.append("s0", {"sample_id": "a"}, then=lambda: ran.append("a"))
            await journal.append("s0", {"sample_id": "b"}, then=lambda: 1 / 0)

    asyncio.run(write())
    assert ran == ["a"] and [r["sample_id"] for r in iter_journal(tmp_path)] == ["a", "b"]
