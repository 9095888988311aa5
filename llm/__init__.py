"""LLM generation: one client for OpenAI-compatible endpoints, a response cache, a crash-safe
journal, retries, rate limits and a cost budget.

    from llm import OpenAIBackend, Request, generate, read_rows
    summary = asyncio.run(generate(requests, OpenAIBackend("deepseek-chat"),
                                   journal_dir=".../journal", cache_dir=".../cache"))
    rows = read_rows(".../journal")   # the ``generations`` table
"""

from llm.backend import (
    Backend,
    FunctionBackend,
    InvalidResponse,
    Request,
    Response,
    RetryableError,
    canonical_json,
    prompt_sha256,
)
from llm.cache import ResponseCache, cache_key
from llm.client import DEFAULT_BASE_URL, DEFAULT_CONCURRENCY, DEFAULT_MODEL, OpenAIBackend, resolve_api_key
from llm.journal import COLUMNS, GENERATION_COLUMNS, Journal, read_frame, read_rows
from llm.limits import Limiter
from llm.pricing import Price, PriceTable
from llm.retry import RetryPolicy
from llm.runner import RunSummary, generate

__all__ = [
    "Backend", "FunctionBackend", "InvalidResponse", "Request", "Response", "RetryableError",
    "canonical_json", "prompt_sha256", "ResponseCache", "cache_key", "DEFAULT_BASE_URL", "DEFAULT_CONCURRENCY",
    "DEFAULT_MODEL", "OpenAIBackend", "resolve_api_key", "COLUMNS", "GENERATION_COLUMNS",
    "Journal", "read_frame", "read_rows", "Limiter", "Price", "PriceTable", "RetryPolicy",
    "RunSummary", "generate",
]
