"""Content-addressed response cache on a (possibly shared) filesystem.

The key is the sha256 of the canonical JSON of ``{kind, model, messages, params}``; the
answer lives in ``<cache_dir>/<key[:2]>/<key>.json``, written to a temporary file and
renamed into place, so readers on any machine see a whole entry or none. An unreadable
entry counts as a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from llm.backend import Response, canonical_json, prompt_sha256

# Temporary names unique across machines sharing the cache and within this process.
_WRITER = f"{socket.gethostname()}-{os.getpid()}"
_serial = itertools.count()


def cache_key(kind: str, model: str, messages: list[dict], params: dict) -> str:
    """sha256 of what determines an answer: the canonical JSON of ``{kind, model, messages, params}``."""
    return request_key(kind, model, canonical_json(messages), params)


def request_key(kind: str, model: str, messages_json: str, params: dict) -> str:
    """`cache_key` from the messages' canonical JSON (``Request.canonical_messages``), so a
    request's messages are encoded once: the payload's keys sort as kind, messages, model,
    params, and its canonical JSON is that text with the other values around it."""
    text = (f'{{"kind":{canonical_json(kind)},"messages":{messages_json},"model":{canonical_json(model)},'
            f'"params":{canonical_json(params)}}}')
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """Responses by `cache_key`, one JSON file each."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Response | None:
        """The cached response, or None when absent or unreadable."""
        try:
            data = json.loads(self.path(key).read_bytes())
            return Response.from_dict(data["response"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, *, kind: str, model: str, messages: list[dict], params: dict,
            response: Response) -> None:
        """Store an answer atomically (temporary file + rename); the last writer wins."""
        self.store(key, self.entry(key, kind=kind, model=model, messages=messages,
                                   params=params, response=response))

    def entry(self, key: str, *, kind: str, model: str, messages: list[dict], params: dict,
              response: Response) -> bytes:
        """The file content of an answer."""
        return json.dumps({
            "key": key,
            "kind": kind,
            "model": model,
            "prompt_sha256": prompt_sha256(messages),
            "params": params,
            "response": response.to_dict(),
            "created_at": datetime.now(timezone.utc).isoformat(),
        }, ensure_ascii=False).encode("utf-8")

    def store(self, key: str, data: bytes) -> None:
        """Write an entry atomically: a temporary file renamed into place."""
        folder = os.path.join(self.directory, key[:2])
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{key}.{_WRITER}-{next(_serial)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, os.path.join(folder, f"{key}.json"))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
