"""LLM generation: one client for OpenAI-compatible endpoints, a response cache, a crash-safe
journal, retries, rate limits and a cost budget.

    from llm import OpenAIBackend, Request, generate, read_rows
    summary = asyncio.run(generate(requests, OpenAIBackend("deepseek-chat"),
                                   journal_dir=".../journal", cache_dir=".../cache"))
    rows = read_rows(".../journal")   # the ``generations`` table
"""

import importlib

#: Public name -> the submodule that defines it; each is imported on first use (PEP 562), so
#: ``from llm import prompt_sha256`` does not load the OpenAI client.
_WHERE = {
    **dict.fromkeys(("Backend", "FunctionBackend", "InvalidResponse", "Request", "Response", "RetryableError",
                     "canonical_json", "prompt_sha256"), "backend"),
    **dict.fromkeys(("ResponseCache", "cache_key"), "cache"),
    **dict.fromkeys(("DEFAULT_BASE_URL", "DEFAULT_CONCURRENCY", "DEFAULT_MODEL", "OpenAIBackend", "resolve_api_key"),
                    "client"),
    **dict.fromkeys(("COLUMNS", "GENERATION_COLUMNS", "Journal", "read_frame", "read_rows"), "journal"),
    "Limiter": "limits", **dict.fromkeys(("Price", "PriceTable"), "pricing"), "RetryPolicy": "retry",
    **dict.fromkeys(("OUTCOMES", "RunSummary", "generate"), "runner"),
}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'llm' has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module(f"llm.{_WHERE[name]}"), name)  # once per name
    return value
