"""A loopback server that speaks the OpenAI chat-completions protocol, with injectable faults.

Serves ``POST /v1/chat/completions`` (and ``/chat/completions``) on 127.0.0.1 with
OpenAI-shaped JSON (``usage`` with DeepSeek's ``prompt_cache_hit_tokens``, and
``reasoning_content`` for models whose name contains ``reasoner``), and ``GET /stats`` with
per-prompt counts of requests and successful answers. Plain asyncio streams, HTTP/1.1
keep-alive, no dependency beyond the standard library.

Faults are deterministic: the n-th request for a prompt draws ``u`` in [0, 1) from
sha256(seed, prompt, n) and fails with the kind whose cumulative fraction covers ``u``:

``rate_limit``   429 with ``Retry-After``
``server_error`` 500
``timeout``      answers only after ``slow_s`` (beyond the client's timeout)
``disconnect``   closes the connection without answering
``blank``        200 with empty content
``bad_json``     200 with malformed JSON content when JSON mode was asked for
``bad_request``  400 (not retryable)

The answer content is ``answer:<prompt_sha256>`` (or a JSON object holding it in JSON mode),
so a test can check that each sample got its own answer; ``ServerConfig.respond`` scripts the
content instead (a function of the request's messages, returned as is).

Run alone: ``python tests/openai_server.py --port 0 --latency-ms 200 --fault rate_limit=0.1``;
it prints ``listening on http://127.0.0.1:PORT`` once ready. In tests: ``with serve_in_thread(
ServerConfig(...)) as server: server.url, server.stats()``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

FAULT_KINDS = (
    "rate_limit",
    "server_error",
    "timeout",
    "disconnect",
    "blank",
    "bad_json",
    "bad_request",
)
CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
CHARS_PER_TOKEN = 4


@dataclass
class ServerConfig:
    """What the server does: latency, fault fractions by kind, and their parameters."""

    latency_ms: float = 0.0
    faults: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    retry_after_s: float = 1.0
    slow_s: float = 5.0
    cache_hit_ratio: float = 0.0
    respond: Callable[[list[dict]], str] | None = None  # the answer to a conversation (default answer:<sha>)

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        if sum(self.faults.values()) > 1.0:
            raise ValueError("fault fractions sum to more than 1")


def canonical_sha256(obj: object) -> str:
    """sha256 of canonical JSON, the same function as ``llm.prompt_sha256``."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _PromptStats:
    __slots__ = ("requests", "ok", "log")

    def __init__(self) -> None:
        self.requests = 0
        self.ok = 0
        self.log: list[tuple[float, str]] = []


class OpenAIServer:
    """The asyncio server; ``start`` binds 127.0.0.1 on ``port`` (0: a free one)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.prompts: dict[str, _PromptStats] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.faults = {kind: 0 for kind in FAULT_KINDS}
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()
        self._started = time.monotonic()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and end open connections."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    @property
    def url(self) -> str:
        """Base URL for the OpenAI client."""
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict:
        """Totals and per-prompt counts: ``{requests, ok, faults, max_in_flight, prompts}``."""
        return {
            "requests": sum(p.requests for p in self.prompts.values()),
            "ok": sum(p.ok for p in self.prompts.values()),
            "faults": dict(self.faults),
            "max_in_flight": self.max_in_flight,
            "prompts": {
                sha: {"requests": p.requests, "ok": p.ok, "log": p.log}
                for sha, p in self.prompts.items()
            },
        }

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line.strip():
                    break
                method, target, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                reply = await self._route(method, target.split("?", 1)[0], body)
                if reply is None:  # the disconnect fault
                    break
                status, extra, payload = reply
                head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                        "Content-Type: application/json",
                        f"Content-Length: {len(payload)}"]
                head += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _route(self, method: str, path: str, body: bytes):
        if method == "GET" and path == "/stats":
            return 200, {}, json.dumps(self.stats()).encode()
        if method == "POST" and path in CHAT_PATHS:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return await self._chat(json.loads(body))
            finally:
                self.in_flight -= 1
        return 404, {}, _error_body("not found", "invalid_request_error")

    def _draw_fault(self, sha: str, n: int) -> str | None:
        digest = hashlib.sha256(f"{self.config.seed}:{sha}:{n}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += self.config.faults.get(kind, 0.0)
            if u < edge:
                return kind
        return None

    async def _chat(self, req: dict):
        cfg = self.config
        messages = req.get("messages") or []
        sha = canonical_sha256(messages)
        stats = self.prompts.setdefault(sha, _PromptStats())
        n = stats.requests
        stats.requests += 1
        json_mode = (req.get("response_format") or {}).get("type") == "json_object"
        fault = self._draw_fault(sha, n)
        if fault == "bad_json" and not json_mode:
            fault = None
        stats.log.append((time.monotonic() - self._started, fault or "ok"))
        if fault:
            self.faults[fault] += 1
        if cfg.latency_ms:
            await asyncio.sleep(cfg.latency_ms / 1000)

        if fault == "rate_limit":
            return 429, {"Retry-After": f"{cfg.retry_after_s:g}"}, _error_body(
                "Rate limit reached", "rate_limit_error")
        if fault == "server_error":
            return 500, {}, _error_body("The server had an error", "server_error")
        if fault == "bad_request":
            return 400, {}, _error_body("Invalid request: prompt too long", "invalid_request_error")
        if fault == "disconnect":
            return None
        if fault == "timeout":
            await asyncio.sleep(cfg.slow_s)

        answer = cfg.respond(messages) if cfg.respond else f"answer:{sha}"
        if fault == "blank":
            content = ""
        elif fault == "bad_json":
            content = '{"answer": "' + answer  # truncated object
        elif json_mode and not cfg.respond:
            content = json.dumps({"answer": answer})
        else:
            content = answer
        if fault is None:
            stats.ok += 1
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // CHARS_PER_TOKEN + 1
        completion_tokens = len(content) // CHARS_PER_TOKEN + 1
        hit = int(prompt_tokens * cfg.cache_hit_ratio)
        message = {"role": "assistant", "content": content}
        model = req.get("model", "")
        if "reasoner" in model:
            message["reasoning_content"] = f"thinking about {sha[:12]}"
        payload = {
            "id": f"chatcmpl-{sha[:16]}-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_cache_hit_tokens": hit,
                "prompt_cache_miss_tokens": prompt_tokens - hit,
            },
        }
        return 200, {}, json.dumps(payload).encode()


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error"}


def _error_body(message: str, kind: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": None}}).encode()


class ServerThread:
    """An ``OpenAIServer`` running on its own event loop in a daemon thread."""

    def __init__(self, config: ServerConfig, port: int = 0) -> None:
        self.server = OpenAIServer(config)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(port,), daemon=True)

    def _run(self, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.server.start(port))
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())
        self._loop.close()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(10)
        return self

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return self.server.url

    def stats(self) -> dict:
        """Stats over HTTP, as a client in another process would see them."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.server.port}/stats", timeout=10) as r:
            return json.loads(r.read())


@contextlib.contextmanager
def serve_in_thread(config: ServerConfig | None = None) -> Iterator[ServerThread]:
    """Run the server in a background thread for the duration of the block."""
    handle = ServerThread(config or ServerConfig()).start()
    try:
        yield handle
    finally:
        handle.close()


def _parse_fault(text: str) -> tuple[str, float]:
    kind, _, fraction = text.partition("=")
    return kind, float(fraction)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fault", action="append", type=_parse_fault, default=[],
                        metavar="KIND=FRACTION", help=f"kinds: {', '.join(FAULT_KINDS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retry-after-s", type=float, default=1.0)
    parser.add_argument("--slow-s", type=float, default=5.0)
    parser.add_argument("--cache-hit-ratio", type=float, default=0.0)
    args = parser.parse_args(argv)
    config = ServerConfig(latency_ms=args.latency_ms, faults=dict(args.fault), seed=args.seed,
                          retry_after_s=args.retry_after_s, slow_s=args.slow_s,
                          cache_hit_ratio=args.cache_hit_ratio)

    async def serve() -> None:
        server = OpenAIServer(config)
        await server.start(args.port)
        print(f"listening on http://127.0.0.1:{server.port}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
