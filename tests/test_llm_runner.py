"""`llm.generate` through the real openai client against the loopback server, with faults."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from openai_server import ServerConfig, serve_in_thread  # noqa: E402

from llm import (  # noqa: E402
    FunctionBackend,
    OpenAIBackend,
    PriceTable,
    Request,
    Response,
    RetryableError,
    RetryPolicy,
    generate,
    read_rows,
)
from llm.journal import iter_journal  # noqa: E402
from llm.runner import WORKERS_PER_SLOT  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FAST = RetryPolicy(max_attempts=6, give_up_after_s=60, backoff_initial_s=0.005, backoff_max_s=0.02)
TIMEOUT_S = 10.0  # client timeout: never reached but by the slow fault
FAULT_TIMEOUT_S = 0.25  # client timeout of the fault test; its slow fault answers after SLOW_S
SLOW_S = 1.0


def make_requests(n: int, *, shard_size: int = 50, json_mode: bool = False,
                  prefix: str = "ecg") -> list[Request]:
    params = {"temperature": 0.0, "max_tokens": 256, "json_mode": json_mode}
    return [Request(f"{prefix}:{i:04d}", f"shard{i // shard_size:02d}",
                    [{"role": "system", "content": "You are a cardiologist."},
                     {"role": "user", "content": f"Interpret ECG {prefix} {i}."}], params)
            for i in range(n)]


def run(requests, server, tmp_path, *, model="deepseek-chat", concurrency=16, policy=FAST,
        journal="journal", timeout_s=TIMEOUT_S, **kwargs):
    backend = OpenAIBackend(model, base_url=server.url, api_key="test", timeout_s=timeout_s,
                            concurrency=concurrency)
    return asyncio.run(generate(requests, backend, journal_dir=tmp_path / journal,
                                cache_dir=tmp_path / "cache", concurrency=concurrency,
                                retry=policy, **kwargs))


def finals(rows) -> dict[str, dict]:
    out = {}
    for row in rows:
        if row["final"]:
            assert row["sample_id"] not in out, "a sample has two outcomes"
            out[row["sample_id"]] = row
    return out


def test_thirty_percent_faults_lose_nothing(tmp_path):
    faults = {"rate_limit": 0.06, "server_error": 0.06, "timeout": 0.04, "disconnect": 0.04,
              "blank": 0.05, "bad_json": 0.05}
    assert sum(faults.values()) == pytest.approx(0.30)
    config = ServerConfig(latency_ms=2, faults=faults, retry_after_s=0.01, slow_s=SLOW_S, seed=7)
    requests = make_requests(300, json_mode=True)
    with serve_in_thread(config) as server:
        summary = run(requests, server, tmp_path, timeout_s=FAULT_TIMEOUT_S)
        stats = server.stats()

    rows = read_rows(tmp_path / "journal")
    outcome = finals(rows)
    assert set(outcome) == {r.sample_id for r in requests}  # nothing lost
    assert summary.ok + summary.failed == len(requests)
    for request in requests:
        final = outcome[request.sample_id]
        if final["status"] == "ok":  # its own answer, as a JSON object
            assert json.loads(final["response"]) == {"answer": f"answer:{request.prompt_sha256}"}
        else:
            assert final["status"] == "error" and final["error"]
    assert all(r["error"] for r in rows if r["status"] == "error")
    # Every request the server saw is one journaled attempt, within the retry bound; on a loaded
    # machine an attempt may time out before the server reads it: journaled, unseen, a timeout.
    unseen = len(rows) - stats["requests"]
    assert len(rows) == summary.attempts and 0 <= unseen <= summary.errors.get("timeout", 0)
    assert max(p["requests"] for p in stats["prompts"].values()) <= FAST.max_attempts
    assert sum(stats["faults"].values()) > 0.2 * stats["requests"]
    assert {"http_429", "http_500", "timeout", "connection", "blank_content",
            "invalid_json"} <= set(summary.errors)
    per_sample = Counter(r["sample_id"] for r in rows)
    for row in rows:  # attempts are numbered 1..n without gaps
        assert 1 <= row["attempt"] <= per_sample[row["sample_id"]]


def test_second_run_sends_zero_requests(tmp_path):
    requests = make_requests(120)
    with serve_in_thread(ServerConfig(faults={"server_error": 0.2})) as server:
        first = run(requests, server, tmp_path)
        sent = server.stats()["requests"]
        second = run(requests, server, tmp_path)
        assert server.stats()["requests"] == sent
        # Another machine: its own journal, the shared cache.
        elsewhere = run(requests, server, tmp_path, journal="journal-elsewhere")
        assert server.stats()["requests"] == sent
    assert first.ok == len(requests)
    assert (second.skipped, second.attempts, second.cost_usd) == (len(requests), 0, 0)
    assert (elsewhere.cached, elsewhere.attempts) == (len(requests), 0)
    cached_rows = read_rows(tmp_path / "journal-elsewhere")
    assert all(r["cached"] and r["cost_usd"] == 0 and r["final"] for r in cached_rows)
    assert len(finals(read_rows(tmp_path / "journal"))) == len(requests)


def test_refresh_asks_again_and_keeps_one_answer(tmp_path):
    requests = make_requests(30)
    with serve_in_thread(ServerConfig()) as server:
        run(requests, server, tmp_path)
        summary = run(requests, server, tmp_path, refresh=True)
        stats = server.stats()
    assert summary.ok == len(requests) and stats["requests"] == 2 * len(requests)
    rows = read_rows(tmp_path / "journal")
    assert len(rows) == len(requests) and all(r["attempt"] == 2 for r in rows)


def test_changed_prompt_is_generated_again(tmp_path):
    with serve_in_thread(ServerConfig()) as server:
        run(make_requests(10), server, tmp_path)
        changed = [Request(r.sample_id, r.shard, r.messages + [{"role": "user", "content": "v2"}],
                           r.params) for r in make_requests(10)]
        summary = run(changed, server, tmp_path)
    assert summary.ok == 10
    outcome = finals(read_rows(tmp_path / "journal"))
    assert {row["prompt_sha256"] for row in outcome.values()} == {r.prompt_sha256 for r in changed}


def test_retry_after_is_honoured(tmp_path):
    wait_s = 0.2
    config = ServerConfig(faults={"rate_limit": 0.5}, retry_after_s=wait_s, seed=3)
    with serve_in_thread(config) as server:
        summary = run(make_requests(20), server, tmp_path)
        prompts = server.stats()["prompts"]
    assert summary.ok == 20 and summary.errors["http_429"] > 0
    gaps = [later[0] - earlier[0] for p in prompts.values()
            for earlier, later in zip(p["log"], p["log"][1:]) if earlier[1] == "rate_limit"]
    assert gaps and min(gaps) >= 0.9 * wait_s  # backoff alone would be ~10 ms


def test_gives_up_within_bounds_and_says_why(tmp_path):
    with serve_in_thread(ServerConfig(faults={"rate_limit": 1.0}, retry_after_s=0)) as server:
        summary = run(make_requests(10, prefix="busy"), server, tmp_path)
        assert all(p["requests"] == FAST.max_attempts for p in server.stats()["prompts"].values())
    assert summary.failed == 10
    outcome = finals(read_rows(tmp_path / "journal"))
    assert all("gave up after 6 attempts" in r["error"] for r in outcome.values())

    with serve_in_thread(ServerConfig(faults={"bad_request": 1.0})) as server:
        run(make_requests(10, prefix="bad"), server, tmp_path, journal="bad")
        assert all(p["requests"] == 1 for p in server.stats()["prompts"].values())
    outcome = finals(read_rows(tmp_path / "bad"))
    assert all(r["error"].startswith("HTTP 400") and "not retryable" in r["error"]
               for r in outcome.values())

    patient = RetryPolicy(max_attempts=50, give_up_after_s=1.0, backoff_initial_s=0.005)
    with serve_in_thread(ServerConfig(faults={"rate_limit": 1.0}, retry_after_s=5)) as server:
        run(make_requests(3, prefix="slow"), server, tmp_path, journal="slow", policy=patient)
        assert all(p["requests"] == 1 for p in server.stats()["prompts"].values())
    outcome = finals(read_rows(tmp_path / "slow"))
    assert all("retrying would pass 1 s" in r["error"] for r in outcome.values())


def test_concurrency_cap_holds(tmp_path):
    with serve_in_thread(ServerConfig(latency_ms=20)) as server:
        summary = run(make_requests(150), server, tmp_path, concurrency=6)
        assert server.stats()["max_in_flight"] <= 6
    assert summary.ok == 150
    assert set(summary.shards) == {"shard00", "shard01", "shard02"}


def test_budget_stops_new_requests_and_keeps_finished_work(tmp_path):
    requests = make_requests(200)
    price = PriceTable.load().get("deepseek-chat")
    with serve_in_thread(ServerConfig(latency_ms=2)) as server:
        probe = run(requests[:1], server, tmp_path, journal="probe")
        budget = probe.cost_usd * 50  # about 50 answers' worth
        summary = run(requests, server, tmp_path, concurrency=4, max_cost_usd=budget)
        assert server.stats()["requests"] == 1 + summary.attempts
        rest = run(requests, server, tmp_path, concurrency=4)
    assert price is not None and summary.budget_reached
    assert 0 < summary.ok < len(requests) and summary.done + summary.stopped == len(requests)
    assert summary.cost_usd <= budget + 5 * probe.cost_usd  # about the requests in flight
    assert len(read_rows(tmp_path / "journal")) >= summary.ok
    assert (rest.skipped, rest.ok) == (summary.done, summary.stopped)
    assert len(finals(read_rows(tmp_path / "journal"))) == len(requests)


def test_same_prompt_twice_in_a_run_is_sent_once(tmp_path):
    one = make_requests(1)[0]
    twins = [one, Request("ecg:twin", one.shard, one.messages, one.params)]
    with serve_in_thread(ServerConfig(latency_ms=20)) as server:
        summary = run(twins, server, tmp_path)
        assert server.stats()["requests"] == 1
    assert (summary.ok, summary.cached) == (1, 1)


def test_reasoning_cached_tokens_and_cost_are_recorded(tmp_path):
    with serve_in_thread(ServerConfig(cache_hit_ratio=0.5)) as server:
        summary = run(make_requests(5), server, tmp_path, model="deepseek-reasoner")
    price = PriceTable.load().get("deepseek-reasoner")
    rows = read_rows(tmp_path / "journal")
    for row in rows:
        assert row["reasoning"].startswith("thinking about ")
        assert row["tokens_cached_in"] == row["tokens_in"] // 2 and row["tokens_out"] > 0
        assert row["finish_reason"] == "stop" and row["latency_ms"] > 0
        assert row["cost_usd"] == pytest.approx(price.cost(Response(
            "x", tokens_in=row["tokens_in"], tokens_cached_in=row["tokens_cached_in"],
            tokens_out=row["tokens_out"])))
    assert summary.cost_usd == pytest.approx(sum(r["cost_usd"] for r in rows))


def test_a_plugged_in_backend_is_retried_and_named(tmp_path):
    calls = Counter()

    async def rules(messages, params):
        calls[messages[-1]["content"]] += 1
        if calls[messages[-1]["content"]] == 1:
            raise RetryableError("warming up")
        return Response(text="rule-based answer", tokens_in=0, tokens_out=0)

    backend = FunctionBackend(rules, name="rules", model="rules", cacheable=False)
    requests = make_requests(20)
    summary = asyncio.run(generate(requests, backend, journal_dir=tmp_path / "journal",
                                   cache_dir=tmp_path / "cache", retry=FAST))
    rows = read_rows(tmp_path / "journal")
    assert summary.ok == 20 and summary.cost_usd == 0 and not (tmp_path / "cache").exists()
    assert {r["backend"] for r in rows} == {"rules"} and len(rows) == 40
    assert all(n == 2 for n in calls.values())


class Lazy:
    """A lazy collection of requests (``len`` and ``iter``) that counts the requests it has made."""

    def __init__(self, requests: list[Request]) -> None:
        self.requests, self.made = requests, 0

    def __len__(self) -> int:
        return len(self.requests)

    def __iter__(self):
        for req in self.requests:
            self.made += 1
            yield req


def test_a_lazy_collection_is_read_as_the_workers_take_it(tmp_path):
    answered, ahead = 0, []

    async def answer(messages, params):
        nonlocal answered
        ahead.append(lazy.made - answered)  # requests made but not yet answered
        await asyncio.sleep(0)
        answered += 1
        return Response(text="ok", tokens_in=0, tokens_out=0)

    lazy = Lazy(make_requests(400, shard_size=100))
    backend = FunctionBackend(answer, name="fn", model="fn", cacheable=False)
    summary = asyncio.run(generate(lazy, backend, journal_dir=tmp_path / "journal", concurrency=2, retry=FAST))
    assert summary.total == summary.ok == 400 and set(summary.shards) == {f"shard{i:02d}" for i in range(4)}
    assert max(ahead) <= 2 * WORKERS_PER_SLOT  # never the whole collection at once
    assert [r["sample_id"] for r in iter_journal(tmp_path / "journal")] == [r.sample_id for r in lazy.requests]


def test_a_repeated_sample_id_stops_the_run_after_the_requests_before_it(tmp_path):
    async def answer(messages, params):
        return Response(text="ok", tokens_in=0, tokens_out=0)

    requests = make_requests(30)
    requests.insert(20, requests[3])
    backend = FunctionBackend(answer, name="fn", model="fn", cacheable=False)
    with pytest.raises(ValueError, match="duplicate sample id 'ecg:0003'"):
        asyncio.run(generate(requests, backend, journal_dir=tmp_path / "journal", retry=FAST))
    assert len(read_rows(tmp_path / "journal")) == 20


@pytest.mark.slow
def test_the_driver_refuses_a_file_with_a_repeated_sample_id_before_sending(tmp_path):
    rows = [{"sample_id": "a", "shard": "s", "messages": [{"role": "user", "content": "x"}]}] * 2
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = subprocess.run([sys.executable, "-m", "llm", str(tmp_path / "r.jsonl"), "--journal", str(tmp_path / "j")],
                         capture_output=True, text=True, cwd=REPO, env={**os.environ, "OPENAI_API_KEY": "test"})
    assert res.returncode == 2 and "duplicate sample ids, e.g. ['a']" in res.stderr
    assert not (tmp_path / "j").exists()


def _driver(requests_file: Path, tmp_path: Path, server, concurrency: int) -> list[str]:
    return [sys.executable, "-m", "llm", str(requests_file), "--journal", str(tmp_path / "journal"),
            "--cache", str(tmp_path / "cache"), "--base-url", server.url,
            "--concurrency", str(concurrency), "--backoff", "0.005", "--timeout", "5"]


@pytest.mark.slow
def test_sigkill_midway_then_resume_loses_nothing_and_pays_once(tmp_path):
    n, concurrency = 300, 16
    requests = make_requests(n, shard_size=60)
    requests_file = tmp_path / "requests.jsonl"
    requests_file.write_text("".join(
        json.dumps({"sample_id": r.sample_id, "shard": r.shard, "messages": r.messages,
                    "params": r.params}) + "\n" for r in requests))
    env = {k: v for k, v in os.environ.items() if k not in ("DEEPSEEK_API_KEY", "OPENAI_API_KEY")}
    env["OPENAI_API_KEY"] = "test"
    journal = tmp_path / "journal"

    def journaled() -> int:
        return sum(1 for p in journal.glob("*.jsonl") for _ in p.open("rb")) if journal.exists() else 0

    with serve_in_thread(ServerConfig(latency_ms=40, faults={"server_error": 0.1})) as server:
        driver = subprocess.Popen(_driver(requests_file, tmp_path, server, concurrency), cwd=REPO,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while journaled() < n // 3 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        assert driver.returncode == -signal.SIGKILL, "the driver finished before the kill"
        killed_at = server.stats()

        resumed = subprocess.run(_driver(requests_file, tmp_path, server, concurrency), cwd=REPO,
                                 env=env, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        summary = json.loads(resumed.stdout)
        stats = server.stats()

    assert 0 < killed_at["ok"] < n
    assert summary["skipped"] > 0 and summary["done"] == n
    answers = [p["ok"] for p in stats["prompts"].values()]
    assert len(answers) == n and min(answers) >= 1
    # Answered twice only if the answer was in flight at the kill; never three times.
    assert max(answers) <= 2 and sum(a - 1 for a in answers) <= concurrency
    outcome = finals(read_rows(journal))
    assert len(outcome) == n and all(r["status"] == "ok" for r in outcome.values())
    # The raw journal itself holds exactly one answer per sample.
    raw_ok = Counter(r["sample_id"] for r in iter_journal(journal) if r["status"] == "ok")
    assert raw_ok == Counter(r.sample_id for r in requests)


def test_an_answer_cut_at_max_tokens_is_not_retried(tmp_path):
    async def truncated(messages, params):
        return Response(text='{"answer": "cut', finish_reason="length", tokens_in=5, tokens_out=9)

    backend = FunctionBackend(truncated, name="openai", model="deepseek-chat")
    summary = asyncio.run(generate(make_requests(3, json_mode=True), backend,
                                   journal_dir=tmp_path / "journal", retry=FAST))
    rows = read_rows(tmp_path / "journal")
    assert summary.failed == 3 and summary.attempts == 3 and summary.cost_usd > 0
    assert all("invalid JSON" in r["error"] and "not retryable" in r["error"]
               and r["response"] == '{"answer": "cut' and r["cost_usd"] > 0 for r in rows)


def test_cost_limit_needs_a_price(tmp_path):
    backend = FunctionBackend(None, name="openai", model="unpriced-model")
    with pytest.raises(ValueError, match="no price"):
        asyncio.run(generate(make_requests(1), backend, journal_dir=tmp_path, max_cost_usd=1.0))


def test_progress_bar_shows_counts(tmp_path):
    from io import StringIO

    from rich.console import Console

    from llm.progress import RichProgress

    async def answer(messages, params):
        return Response(text="ok")

    out = StringIO()
    backend = FunctionBackend(answer, name="rules", model="rules")
    with RichProgress(console=Console(file=out, width=160)) as bar:
        summary = asyncio.run(generate(make_requests(7), backend, journal_dir=tmp_path,
                                       progress=bar))
    assert summary.ok == 7
    assert "7/7" in out.getvalue() and "failed 0" in out.getvalue()


@pytest.mark.slow
def test_driver_rejects_unusable_arguments(tmp_path):
    result = subprocess.run([sys.executable, "-m", "llm", str(tmp_path / "missing.jsonl"),
                             "--journal", str(tmp_path / "j")], cwd=REPO, capture_output=True,
                            text=True, env={**os.environ, "OPENAI_API_KEY": "test"})
    assert result.returncode == 2 and "missing.jsonl" in result.stderr


def test_rate_limits_pass_every_request(tmp_path):
    with serve_in_thread(ServerConfig()) as server:
        summary = run(make_requests(40), server, tmp_path, rpm=60_000, tpm=10_000_000)
    assert summary.ok == 40
