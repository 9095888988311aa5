"""Crash-safe, append-only journal of attempts: one JSONL file per shard.

Every attempt is one line. `Journal.append` returns only once the line is written and
``fsync``-ed, so a result counts only when it is durable; appends that arrive together are
committed with one ``fsync`` per file (group commit) in a worker thread, off the event loop.
An append may carry a ``before`` action (the runner's cache write), run in that thread
ahead of the line: a crash in between leaves the answer cached, so it is not paid again.
A process killed mid-write leaves at most a torn last line: readers skip it and the next
writer starts on a fresh line.

`read_rows` turns a journal into the ``generations`` table: every attempt, except that a
sample keeps only its latest ``ok`` row, and ``final`` marks each sample's outcome.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".jsonl"
# The ``generations`` contract (DESIGN.md), then the columns this library adds.
GENERATION_COLUMNS = (
    "sample_id", "prompt_sha256", "backend", "model", "attempt", "status", "response",
    "tokens_in", "tokens_out", "latency_ms", "error",
)
EXTRA_COLUMNS = (
    "shard", "request_key", "finish_reason", "reasoning", "tokens_cached_in", "cost_usd",
    "cached", "created_at",
)
COLUMNS = GENERATION_COLUMNS + EXTRA_COLUMNS + ("final",)

_Pending = tuple[str, bytes, "Callable[[], None] | None", asyncio.Future]


class Journal:
    """Appends rows to ``<directory>/<shard>.jsonl`` durably. Use as an async context manager."""

    def __init__(self, directory: str | os.PathLike, *, fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._files: dict[str, int] = {}
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task | None = None

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def append(self, shard: str, row: dict,
                     before: Callable[[], None] | None = None) -> None:
        """Write one row (after running ``before`` in the writer thread); returns once on disk."""
        line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        done = asyncio.get_running_loop().create_future()
        self._pending.append((shard, line, before, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # every waiter of the batch learns it failed
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for *_, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _write(self, batch: list[_Pending]) -> None:
        chunks: dict[str, list[bytes]] = {}
        for shard, line, before, _ in batch:
            if before is not None:
                before()
            chunks.setdefault(shard, []).append(line)
        for shard, lines in chunks.items():
            fd = self._files.get(shard) or self._open(shard)
            data = memoryview(b"".join(lines))
            while data:
                data = data[os.write(fd, data):]
            if self.fsync:
                os.fsync(fd)

    def _open(self, shard: str) -> int:
        path = self.directory / f"{shard}{SUFFIX}"
        new = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":  # torn line of a killed writer
            os.write(fd, b"\n")
        if new and self.fsync:  # make the new file's name durable too
            folder = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        self._files[shard] = fd
        return fd

    async def aclose(self) -> None:
        """Wait for pending rows, then close the files."""
        if self._flusher is not None:
            await self._flusher
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()


def iter_journal(directory: str | os.PathLike) -> Iterator[dict]:
    """Every row of every shard, in file order; torn or corrupt lines are skipped."""
    for path in sorted(Path(directory).glob(f"*{SUFFIX}")):
        with open(path, "rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    log.warning("skipping unreadable journal line %s:%d", path.name, number)


def read_rows(directory: str | os.PathLike) -> list[dict]:
    """The ``generations`` rows of a journal directory, with every column of `COLUMNS`.

    All attempts are kept, except that a sample answered ``ok`` more than once (a refresh,
    or two writers) keeps only its latest ``ok`` row. ``final`` is True on the row that
    is the sample's outcome: that ``ok`` row, or else its latest attempt.
    """
    by_sample: dict[str, list[dict]] = {}
    if Path(directory).is_dir():
        for row in iter_journal(directory):
            by_sample.setdefault(row["sample_id"], []).append(row)
    rows: list[dict] = []
    for attempts in by_sample.values():
        oks = [r for r in attempts if r["status"] == "ok"]
        keep = max(oks, key=_order) if oks else None
        kept = [r for r in attempts if r["status"] != "ok" or r is keep]
        final = keep or max(kept, key=_order)
        for row in sorted(kept, key=_order):
            rows.append({**{c: row.get(c) for c in COLUMNS}, "final": row is final})
    return rows


def read_frame(directory: str | os.PathLike):
    """`read_rows` as a polars DataFrame with a fixed schema (``created_at`` as UTC datetime)."""
    import polars as pl

    schema = {
        "sample_id": pl.Utf8, "prompt_sha256": pl.Utf8, "backend": pl.Utf8, "model": pl.Utf8,
        "attempt": pl.Int32, "status": pl.Utf8, "response": pl.Utf8, "tokens_in": pl.Int64,
        "tokens_out": pl.Int64, "latency_ms": pl.Float64, "error": pl.Utf8, "shard": pl.Utf8,
        "request_key": pl.Utf8, "finish_reason": pl.Utf8, "reasoning": pl.Utf8,
        "tokens_cached_in": pl.Int64, "cost_usd": pl.Float64, "cached": pl.Boolean,
        "created_at": pl.Utf8, "final": pl.Boolean,
    }
    frame = pl.DataFrame(read_rows(directory), schema=schema, orient="row")
    return frame.with_columns(pl.col("created_at").str.to_datetime(time_zone="UTC"))


def _order(row: dict) -> tuple:
    return (row.get("created_at") or "", row.get("attempt") or 0)
