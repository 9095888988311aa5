"""The backend contract: a request, a response, and the class every backend implements.

A backend turns chat messages and generation parameters into a `Response`. The OpenAI
backend (`llm.client.OpenAIBackend`) and the offline rules backend share this interface,
so the runner treats them alike and every row records ``backend = Backend.name``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Awaitable, Callable

SHARD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def prompt_sha256(messages: list[dict]) -> str:
    """sha256 of the canonical JSON of the messages (the ``prompt_sha256`` column)."""
    return hashlib.sha256(canonical_json(messages).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Request:
    """One sample to generate.

    ``params`` holds generation parameters: ``temperature``, ``max_tokens``, ``top_p``,
    ``seed``, ``stop``, ``json_mode`` (bool: ask for a JSON object and reject answers that
    are not one), and any provider-specific field, passed through in the request body.
    ``shard`` names the journal file (letters, digits, ``._-``).
    """

    sample_id: str
    shard: str
    messages: list[dict]
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not SHARD_NAME.match(self.shard):
            raise ValueError(f"shard {self.shard!r} is not a safe file name ([A-Za-z0-9._-])")

    @cached_property
    def canonical_messages(self) -> str:
        """``canonical_json(messages)``, encoded once: `prompt_sha256` and the cache key hash it."""
        return canonical_json(self.messages)

    @cached_property
    def prompt_sha256(self) -> str:
        return hashlib.sha256(self.canonical_messages.encode("utf-8")).hexdigest()


@dataclass
class Response:
    """What a backend answered. ``tokens_in`` counts all prompt tokens, cached ones included."""

    text: str | None
    reasoning: str | None = None
    tokens_in: int = 0
    tokens_cached_in: int = 0
    tokens_out: int = 0
    finish_reason: str | None = None
    latency_ms: float = 0.0
    model: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Response:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})


class RetryableError(Exception):
    """A transient failure a backend reports; the runner retries it within its policy."""


class InvalidResponse(Exception):
    """An answer that arrived (and may have been paid for) but cannot be used.

    Retryable unless ``retryable=False`` (an answer cut at ``max_tokens`` would be cut again).
    """

    def __init__(self, reason: str, response: Response | None = None, *,
                 kind: str = "invalid_response", retryable: bool = True) -> None:
        super().__init__(reason)
        self.response = response
        self.kind = kind
        self.retryable = retryable


class Backend:
    """Base class of backends.

    Subclasses set ``name`` (the ``backend`` column, also the cache's endpoint kind) and
    ``model``, and implement `generate`. ``cacheable = False`` keeps a cheap deterministic
    backend out of the response cache. Raise `RetryableError` for transient failures; any
    other exception ends the sample with status ``error``.
    """

    name: str = "backend"
    model: str = ""
    cacheable: bool = True

    async def generate(self, messages: list[dict], params: dict) -> Response:
        raise NotImplementedError

    async def answer(self, request: Request) -> Response:
        """What the runner calls: `generate` of the request's messages and params. A backend
        that looks its answers up by the request's keys (``prompt_sha256``, computed once per
        request) overrides it."""
        return await self.generate(request.messages, request.params)

    async def aclose(self) -> None:
        """Release connections; the backend may be used again afterwards."""


class FunctionBackend(Backend):
    """Wrap ``async def fn(messages, params) -> Response`` as a backend."""

    def __init__(
        self,
        fn: Callable[[list[dict], dict], Awaitable[Response]],
        *,
        name: str,
        model: str,
        cacheable: bool = True,
    ) -> None:
        self._fn = fn
        self.name = name
        self.model = model
        self.cacheable = cacheable

    async def generate(self, messages: list[dict], params: dict) -> Response:
        return await self._fn(messages, params)
