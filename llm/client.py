"""`OpenAIBackend`: any OpenAI-compatible chat-completions endpoint (DeepSeek by default).

Built on ``openai.AsyncOpenAI`` with its own retries off (``max_retries=0``; the runner
retries with `llm.retry.RetryPolicy`) and a connection pool sized to the concurrency. The
request goes through the client's generic ``post`` and the JSON is read directly, so any
provider field (``reasoning_content``, ``prompt_cache_hit_tokens``) is kept and no typed
model is built per answer. Uses the aiohttp transport when aiohttp is installed (about half
the CPU per request of the default one).
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import httpx2
import openai

from llm.backend import Backend, InvalidResponse, Response

DEFAULT_BASE_URL = "https://api.deepseek.com"
DEFAULT_MODEL = "deepseek-chat"
API_KEY_VARIABLES = ("DEEPSEEK_API_KEY", "OPENAI_API_KEY")
DEFAULT_CONCURRENCY = 32
# DeepSeek may hold a request open for many minutes under load (sending keep-alive
# blank lines); the read timeout is per read, so it bounds silence, not the whole answer.
DEFAULT_TIMEOUT_S = 15 * 60.0
CONNECT_TIMEOUT_S = 30.0
# The ``params`` key asking for a JSON-object answer (``response_format``).
JSON_MODE = "json_mode"


def resolve_api_key() -> str | None:
    """The key from ``DEEPSEEK_API_KEY`` or ``OPENAI_API_KEY``, in that order."""
    for name in API_KEY_VARIABLES:
        if value := os.environ.get(name):
            return value
    return None


def request_body(model: str, messages: list[dict], params: dict) -> dict:
    """The chat-completions body: ``json_mode`` becomes ``response_format``."""
    body = {"model": model, "messages": messages}
    body.update((k, v) for k, v in params.items() if k != JSON_MODE)
    if params.get(JSON_MODE):
        body["response_format"] = {"type": "json_object"}
    return body


def parse_completion(data: dict, latency_ms: float) -> Response:
    """A `Response` from chat-completions JSON (OpenAI or DeepSeek usage fields)."""
    try:
        choice = data["choices"][0]
        message = choice.get("message") or {}
    except (KeyError, IndexError, TypeError) as exc:
        raise InvalidResponse(f"no choices in the answer: {str(data)[:200]}") from exc
    usage = data.get("usage") or {}
    cached = usage.get("prompt_cache_hit_tokens")
    if cached is None:
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Response(
        text=message.get("content"),
        reasoning=message.get("reasoning_content"),
        tokens_in=usage.get("prompt_tokens") or 0,
        tokens_cached_in=cached,
        tokens_out=usage.get("completion_tokens") or 0,
        finish_reason=choice.get("finish_reason"),
        latency_ms=latency_ms,
        model=data.get("model"),
    )


class OpenAIBackend(Backend):
    """Chat completions from an OpenAI-compatible endpoint.

    Parameters
    ----------
    model : model name sent to the endpoint (and looked up in the price table).
    base_url : endpoint root, e.g. ``https://api.deepseek.com`` or ``http://127.0.0.1:8000/v1``.
    api_key : defaults to `resolve_api_key`; a missing key raises ``ValueError``.
    timeout_s : longest silence while waiting for an answer.
    concurrency : connection-pool size; match the runner's concurrency.
    """

    name = "openai"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key = api_key or resolve_api_key()
        if not self.api_key:
            raise ValueError(f"no API key: set one of {', '.join(API_KEY_VARIABLES)}")
        self.timeout = httpx2.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s))
        self.limits = httpx2.Limits(max_connections=concurrency,
                                    max_keepalive_connections=concurrency)
        self._client: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _connect(self) -> openai.AsyncOpenAI:
        """The client of the running event loop (connections belong to one loop)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = openai.AsyncOpenAI(
                api_key=self.api_key,
                base_url=self.base_url,
                max_retries=0,
                timeout=self.timeout,
                http_client=_http_client(self.limits, self.timeout),
            )
            self._loop = loop
        return self._client

    async def generate(self, messages: list[dict], params: dict) -> Response:
        client = self._connect()
        start = time.perf_counter()
        raw = await client.post("/chat/completions", body=request_body(self.model, messages, params),
                                cast_to=httpx2.Response)
        latency_ms = (time.perf_counter() - start) * 1000
        try:
            data = json.loads(raw.content)
        except ValueError as exc:
            raise InvalidResponse(f"answer is not JSON: {raw.content[:200]!r}") from exc
        return parse_completion(data, latency_ms)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _http_client(limits: httpx2.Limits, timeout: httpx2.Timeout) -> httpx2.AsyncClient:
    try:
        return openai.DefaultAioHttpClient(limits=limits, timeout=timeout)
    except RuntimeError:  # aiohttp not installed
        return openai.DefaultAsyncHttpxClient(limits=limits, timeout=timeout)
