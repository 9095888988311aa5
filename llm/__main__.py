"""Minimal driver: ``python -m llm REQUESTS.jsonl --journal DIR [--cache DIR] ...``.

Each line of REQUESTS.jsonl is ``{"sample_id", "shard", "messages", "params"}``. Prints the
run summary as JSON. The project's CLI is ``ecg-corpus generate``; this one serves tests
and benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections import Counter

from llm.backend import Request
from llm.client import DEFAULT_BASE_URL, DEFAULT_CONCURRENCY, DEFAULT_MODEL, DEFAULT_TIMEOUT_S, OpenAIBackend
from llm.retry import BACKOFF_INITIAL_S, GIVE_UP_AFTER_S, MAX_ATTEMPTS, RetryPolicy
from llm.runner import generate

EXIT_USAGE = 2


def read_requests(path: str) -> list[Request]:
    """The file's requests; ValueError if a sample id repeats (checked before anything is sent)."""
    with open(path, encoding="utf-8") as f:
        requests = [Request(**json.loads(line)) for line in f if line.strip()]
    if repeated := [s for s, n in Counter(r.sample_id for r in requests).items() if n > 1]:
        raise ValueError(f"{path}: duplicate sample ids, e.g. {repeated[:3]}")
    return requests


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m llm", description=__doc__.split("\n\n")[0])
    p.add_argument("requests", help="JSONL file of requests")
    p.add_argument("--journal", required=True, help="journal directory")
    p.add_argument("--cache", help="response cache directory")
    p.add_argument("--base-url", default=DEFAULT_BASE_URL)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    p.add_argument("--rpm", type=float, help="requests per minute")
    p.add_argument("--tpm", type=float, help="tokens per minute")
    p.add_argument("--max-cost", type=float, help="USD for this run")
    p.add_argument("--refresh", action="store_true", help="ignore cached and journaled answers")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds")
    p.add_argument("--max-attempts", type=int, default=MAX_ATTEMPTS)
    p.add_argument("--give-up-after", type=float, default=GIVE_UP_AFTER_S, help="seconds")
    p.add_argument("--backoff", type=float, default=BACKOFF_INITIAL_S, help="first backoff, seconds")
    p.add_argument("--progress", action="store_true", help="live progress bar on stderr")
    args = p.parse_args(argv)
    try:
        requests = read_requests(args.requests)
        backend = OpenAIBackend(args.model, base_url=args.base_url, timeout_s=args.timeout,
                                concurrency=args.concurrency)
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    policy = RetryPolicy(max_attempts=args.max_attempts, give_up_after_s=args.give_up_after,
                         backoff_initial_s=args.backoff)
    with contextlib.ExitStack() as stack:
        bar = None
        if args.progress:
            from rich.console import Console

            from llm.progress import RichProgress

            bar = stack.enter_context(RichProgress(console=Console(stderr=True)))
        summary = asyncio.run(generate(
            requests, backend, journal_dir=args.journal, cache_dir=args.cache,
            concurrency=args.concurrency, max_cost_usd=args.max_cost, rpm=args.rpm,
            tpm=args.tpm, refresh=args.refresh, progress=bar, retry=policy))
    print(json.dumps(summary.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
