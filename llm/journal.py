"""Crash-safe, append-only journal of attempts: one JSONL file per shard.

Every attempt is one line. `Journal.append` writes the line at once (so it survives the
process being killed) and returns only once it is ``fsync``-ed (so it survives the machine
failing): a result counts only when it is durable. Appends that arrive while an ``fsync``
runs share the next one (group commit), run in a worker thread off the event loop, along
with each append's optional ``then`` action (the runner's cache write). A process killed
mid-write leaves at most a torn last line: readers skip it and the next writer starts on a
fresh line.

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
# The ``generations`` contract (docs/design.md), then the columns this library adds.
GENERATION_COLUMNS = (
    "sample_id", "prompt_sha256", "backend", "model", "attempt", "status", "response",
    "tokens_in", "tokens_out", "latency_ms", "error",
)
EXTRA_COLUMNS = (
    "shard", "request_key", "finish_reason", "reasoning", "tokens_cached_in", "cost_usd",
    "cached", "created_at",
)
COLUMNS = GENERATION_COLUMNS + EXTRA_COLUMNS + ("final",)


class Journal:
    """Appends rows to ``<directory>/<shard>.jsonl`` durably. Use as an async context manager."""

    def __init__(self, directory: str | os.PathLike, *, fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._files: dict[str, int] = {}
        self._unsynced: set[int] = set()
        self._waiters: list[asyncio.Future] = []
        self._actions: list[Callable[[], None]] = []
        self._syncer: asyncio.Task | None = None

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def append(self, shard: str, row: dict, then: Callable[[], None] | None = None) -> None:
        """Write one row; returns once it is on disk and ``then`` has run in the writer thread."""
        line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        fd = self._files.get(shard) or self._open(shard)
        data = memoryview(line)
        while data:  # O_APPEND: one write per line, whole lines at the end of the file
            data = data[os.write(fd, data):]
        if self.fsync:
            self._unsynced.add(fd)
        if then is not None:
            self._actions.append(then)
        elif not self.fsync:
            return
        done = asyncio.get_running_loop().create_future()
        self._waiters.append(done)
        if self._syncer is None or self._syncer.done():
            self._syncer = asyncio.create_task(self._sync())
        await done

    async def _sync(self) -> None:
        """Group commit: one fsync per file covers every line written before it started."""
        while self._waiters:
            waiters, self._waiters = self._waiters, []
            files, self._unsynced = self._unsynced, set()
            actions, self._actions = self._actions, []
            try:
                await asyncio.to_thread(_run_then_fsync, actions, files)
            except Exception as exc:
                for done in waiters:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for done in waiters:
                    if not done.done():
                        done.set_result(None)

    def _open(self, shard: str) -> int:
        path = self.directory / f"{shard}{SUFFIX}"
        new = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":  # torn line of a killed writer
            os.write(fd, b"\n")
        if new and self.fsync:  # make the new file's name durable too
            _fsync_all([os.open(self.directory, os.O_RDONLY)], close=True)
        self._files[shard] = fd
        return fd

    async def aclose(self) -> None:
        """Wait for pending rows, then close the files."""
        if self._syncer is not None:
            await self._syncer
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()


def iter_journal(directory: str | os.PathLike, shard: str | None = None) -> Iterator[dict]:
    """Every row of every shard (or of ``shard``), in file order; torn or corrupt lines are skipped."""
    for path in sorted(Path(directory).glob(f"{shard or '*'}{SUFFIX}")):
        with open(path, "rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    log.warning("skipping unreadable journal line %s:%d", path.name, number)


def read_rows(directory: str | os.PathLike, shard: str | None = None) -> list[dict]:
    """The ``generations`` rows of a journal directory (or of its ``shard``), with every column
    of `COLUMNS`.

    All attempts are kept, except that a sample answered ``ok`` more than once (a refresh,
    or two writers) keeps only its latest ``ok`` row. ``final`` is True on the row that
    is the sample's outcome: that ``ok`` row, or else its latest attempt.
    """
    by_sample: dict[str, list[dict]] = {}
    if Path(directory).is_dir():
        for row in iter_journal(directory, shard):
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


def read_frame(directory: str | os.PathLike, shard: str | None = None):
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
    frame = pl.DataFrame(read_rows(directory, shard), schema=schema, orient="row")
    return frame.with_columns(pl.col("created_at").str.to_datetime(time_zone="UTC"))


def _run_then_fsync(actions: list[Callable[[], None]], fds: set[int]) -> None:
    for action in actions:
        try:
            action()
        except Exception:  # an action's failure must not fail the rows of the batch
            log.exception("journal: a post-write action failed")
    _fsync_all(fds)


def _fsync_all(fds, *, close: bool = False) -> None:
    for fd in fds:
        try:
            os.fsync(fd)
        finally:
            if close:
                os.close(fd)


def _order(row: dict) -> tuple:
    return (row.get("created_at") or "", row.get("attempt") or 0)
