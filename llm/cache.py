"""Content-addressed response cache on a (possibly shared) filesystem.

The key is the sha256 of the canonical JSON of ``{kind, model, messages, params}``; the
answer lives in ``<cache_dir>/<key[:2]>/<key>.json``, written to a temporary file and
renamed into place, so readers on any machine see a whole entry or none. An unreadable
entry counts as a miss. Entries are small and read and written on the caller's thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

from llm.backend import Response, canonical_json, prompt_sha256


def cache_key(kind: str, model: str, messages: list[dict], params: dict) -> str:
    """sha256 of what determines an answer: endpoint kind, model, messages, parameters."""
    payload = {"kind": kind, "model": model, "messages": messages, "params": params}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


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
        path = self.path(key)
        path.parent.mkdir(exist_ok=True)
        entry = {
            "key": key,
            "kind": kind,
            "model": model,
            "prompt_sha256": prompt_sha256(messages),
            "params": params,
            "response": response.to_dict(),
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
        tmp = path.parent / f".{key}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
