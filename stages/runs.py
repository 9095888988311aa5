"""Lineage: one ``runs`` row per corpus run or command (docs/design.md), and the run id on every row.

:func:`recorded` opens a run: it takes the warehouse's writer lock (one writing run at a time;
another waits, or fails with :class:`warehouse.WarehouseLocked`), writes the row as ``running``
at once (so a crashed run leaves its trace), gives a :class:`Run` whose warehouse stamps every
row it writes with the run id, times each stage through :meth:`Run.stage`, and rewrites the row
as ``completed`` or ``failed`` (with the error) at the end. Parameters are stored without secrets.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import polars as pl

from warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
SECRET_WORDS = ("key", "token", "secret", "password", "credential")


def public(parameters: dict) -> dict:
    """``parameters`` without secrets: names that say key/token/secret/password/credential are
    left out (in options objects too), and user:password is cut from URLs."""
    out = {}
    for name, value in parameters.items():
        if any(w in name.lower() for w in SECRET_WORDS):
            continue
        if hasattr(value, "model_dump"):  # an options object or the warehouse handle
            value = public(value.model_dump(mode="json"))
        elif isinstance(value, dict):
            value = public(value)
        if isinstance(value, str) and "@" in value and "://" in value:
            url = urlsplit(value)
            value = urlunsplit(url._replace(netloc=url.netloc.rsplit("@", 1)[1]))
        out[name] = value
    return out


@cache
def code_version() -> str:
    """The package version and, in a git checkout, its commit (``+dirty`` with local changes)."""
    try:
        release = version("ecg-corpus")
    except PackageNotFoundError:
        release = "unknown"
    try:
        sha = subprocess.run(["git", "describe", "--always", "--dirty=+dirty", "--abbrev=12"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{release} ({sha})" if sha else release


def versions() -> dict[str, str]:
    """The code, prompt template and checker versions a run's rows were made with."""
    from curation import CHECKER_VERSION
    from prompts.render import template_version

    return {"code_version": code_version(), "template_version": template_version("interpretation"),
            "checker_version": CHECKER_VERSION}


class Run:
    """A run in progress: its id, a warehouse that stamps rows with it, counts and times per stage."""

    def __init__(self, warehouse: Warehouse, flow: str, parameters: dict, run_id: str | None = None):
        if not isinstance(warehouse, Warehouse):
            raise TypeError(f"a run needs a Warehouse, not {type(warehouse).__name__}: "
                            f"pass Warehouse({warehouse!r})")
        self.id = run_id or uuid.uuid4().hex
        self.warehouse = warehouse.with_run(self.id)
        self.row = {"flow": flow, "parameters": json.dumps(public(parameters), default=str, sort_keys=True),
                    **versions(), "started_at": datetime.now(timezone.utc)}
        self.counts: dict[str, dict] = {}
        self.wall_s: dict[str, float] = {}

    def stage(self, name: str, fn: Callable[..., dict], *args, **kwargs) -> dict:
        """Run ``fn`` as stage ``name``: its counts and wall time go into the run's row."""
        start = time.perf_counter()
        counts = fn(*args, **kwargs)
        self.wall_s[name] = round(time.perf_counter() - start, 3)
        self.counts[name] = counts
        self.write("running")
        return counts

    def write(self, status: str, error: str | None = None) -> None:
        finished = None if status == "running" else datetime.now(timezone.utc)
        self.warehouse.write("runs", pl.DataFrame([{
            **self.row, "finished_at": finished, "status": status, "error": error,
            "counts": json.dumps(self.counts, default=str), "stage_wall_s": json.dumps(self.wall_s)}]), self.id)
        if not self.wall_s:  # the first write: the runs view, for readers of the catalog (a view globs
            self.warehouse.refresh()  # its parts when read, so later parts need no refresh)


def _waiting(root: Path) -> Callable[[dict], None]:
    def say(holder: dict) -> None:
        print(f"waiting for run {holder.get('run_id')} (pid {holder.get('pid')}, since {holder.get('started_at')}) "
              f"to finish writing {root}...", file=sys.stderr, flush=True)
    return say


@contextmanager
def recorded(warehouse: Warehouse, flow: str, parameters: dict, run_id: str | None = None,
             wait: bool = True) -> Iterator[Run]:
    """A :class:`Run` whose ``runs`` row is written when it starts, after each stage and at the end,
    holding the warehouse's writer lock throughout: another run writing it is waited for (a
    line on stderr says which), or with ``wait=False`` raises :class:`warehouse.WarehouseLocked`."""
    run = Run(warehouse, flow, parameters, run_id)
    with warehouse.lock(run.id, wait=wait, on_wait=_waiting(warehouse.root)):
        run.row["started_at"] = datetime.now(timezone.utc)  # once the lock is ours, after any wait
        run.write("running")
        try:
            yield run
        except BaseException as exc:
            run.write("failed", f"{type(exc).__name__}: {exc}")
            raise
        run.write("completed")
