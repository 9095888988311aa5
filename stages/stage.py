"""The one stage contract, in datatrove's shape, and the registry of the pipeline's stages.

A stage reads the parts of one table (its shards), writes one part of the same name in each of
its output tables, and counts what it did. A :class:`Stage` is data plus functions:

- ``run_shard(warehouse, shard, params)``: one shard; returns its counts;
- ``plan(warehouse, params, force)`` (optional): which shards to run; by default
  :meth:`Stage.stale`, the shards whose outputs are missing or older than any input part of the
  shard or than the stage's rule files;
- ``ask(warehouse, params, shards, progress)`` (optional): the stage's LLM round trip over the
  planned shards (none, when none is planned) before they run (one event loop, one concurrency
  cap; ``stages/llm_io.py``); returns counts to add;
- ``after(warehouse, params, progress)`` (optional): work over the whole warehouse once the
  shards are written (ingest's cleanup, validate's repair rounds); returns counts to add.

``params`` is the stage's frozen parameters object (``stages/options.py``). The same object
runs without Prefect (:meth:`Stage.run`: the CLI, in this process or over spawned processes)
and as a Prefect flow (``flows/stages.py``, one task per shard). Every shard's counts are kept
in the ``stage_counts`` table (part ``<stage>.<shard>``), so a report reads them later.
:data:`NAMES` is the pipeline in order; what is derived from it (the cleanup after ingest, the
flows, the stage table of docs/architecture.md) is listed by :func:`diagram`.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # the warehouse (duckdb, pandera) loads only where a stage writes
    from warehouse import Warehouse

#: The one shard of a stage that works on the whole warehouse at once (select, export).
WHOLE = "corpus"
#: The stages in pipeline order; ``stages.<name>.STAGE`` is each one's definition.
NAMES = ("ingest", "features", "findings", "select", "prompts", "generate", "validate", "evidence", "export",
         "report")
Progress = Callable[..., None] | None
#: Maps the shard function over the shards: in this process, over a process pool, or as Prefect tasks.
Mapper = Callable[[Callable[[str], dict[str, int]], list[str]], list[dict[str, int]]]


class Options(BaseModel):
    """A stage's parameters: frozen, validated, and a Prefect parameter (``stages/options.py``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoParams(Options):
    """A stage that takes no parameters."""


class NotReady(ValueError):
    """A stage's inputs are missing or unusable: the message says what to run first, or why
    (the command line's exit code 2)."""


@dataclass(frozen=True)
class Stage:
    name: str
    input: str  # the table whose parts are the shards (a part ``<shard>.<x>`` belongs to shard ``<shard>``)
    outputs: tuple[str, ...]  # one part per shard in each
    counts: tuple[str, ...]  # the keys ``run_shard`` returns
    run_shard: Callable[[Warehouse, str, Any], dict[str, int]]
    params: type[Options] = NoParams
    rules: tuple[Path, ...] = ()  # files or folders whose change makes every shard pending
    plan: Callable[[Warehouse, Any, bool], list[str]] | None = None
    ask: Callable[[Warehouse, Any, list[str], Progress], dict] | None = None
    after: Callable[[Warehouse, Any, Progress], dict | None] | None = None
    parallel: bool = False  # CPU-bound shards worth separate processes (a process pool, Dask)

    def stale(self, warehouse: Warehouse, force: bool = False) -> list[str]:
        """The input's shards whose output parts are missing or older than an input part of the
        shard or than a rule file (every shard with ``force``)."""
        files = [p for r in self.rules for p in (sorted(r.iterdir()) if r.is_dir() else [r])]
        rules = max((p.stat().st_mtime for p in files), default=0.0)
        newest: dict[str, float] = {}
        for part in warehouse.parts(self.input):
            shard = part.stem.split(".")[0]
            newest[shard] = max(newest.get(shard, rules), part.stat().st_mtime)
        return [shard for shard, stamp in newest.items()
                if force or not all((d := warehouse.part(t, shard)).exists()
                                    and d.stat().st_mtime >= stamp for t in self.outputs)]

    def pending(self, warehouse: Warehouse, params: Options | None = None, force: bool = False) -> list[str]:
        """The shards to run: the stage's own ``plan``, or :meth:`stale`."""
        if self.plan is not None:
            params = self.params() if params is None else params
            return self.plan(warehouse, params, force)
        return self.stale(warehouse, force)

    def shard(self, warehouse: Warehouse, part: str, params: Options) -> dict[str, int]:
        """Run one shard and keep its counts."""
        counts = self.run_shard(warehouse, part, params)
        if self.counts:
            warehouse.write("stage_counts", pl.DataFrame({
                "stage": self.name, "shard": part, "count": list(self.counts),
                "value": [int(counts[k]) for k in self.counts], "written_at": datetime.now(timezone.utc)}),
                f"{self.name}.{part}")
        return counts

    def run(self, warehouse: Warehouse, params: Options | None = None, force: bool = False, workers: int = 1,
            progress: Progress = None, mapper: Mapper | None = None) -> dict:
        """Every pending shard: plan, ask, the shards (``mapper``, else in this process or over
        ``workers`` spawned processes), the ``after`` step, the catalog refreshed if it wrote; returns the
        shards run and the counts summed, with what ``ask`` and ``after`` counted."""
        params = self.params() if params is None else params
        todo = self.pending(warehouse, params, force)
        asked = self.ask(warehouse, params, todo, progress) if self.ask is not None else {}
        one = _Shard(self, warehouse, params)
        if mapper is not None:
            counts = mapper(one, todo)
        elif workers > 1 and len(todo) > 1 and self.parallel:
            with process_pool(workers) as pool:
                counts = list(pool.map(one, todo))
        else:
            counts = [one(p) for p in todo]
        summed = {"shards": len(todo), **{k: sum(c[k] for c in counts) for k in self.counts}, **asked}
        if self.after is not None:
            summed.update(self.after(warehouse, params, progress) or {})
        if self.outputs:  # a stage that writes no table (export, report) leaves the catalog as it is
            warehouse.refresh()
        return summed


@dataclass(frozen=True)
class _Shard:
    """One shard of a stage with its warehouse and parameters (picklable, for process pools)."""

    stage: Stage
    warehouse: Warehouse
    params: Options

    def __call__(self, part: str) -> dict[str, int]:
        return self.stage.shard(self.warehouse, part, self.params)

    def __reduce__(self):  # a stage travels by name: its functions are module-level in its module
        return _shard_of, (self.stage.name, self.warehouse, self.params)


def _shard_of(name: str, warehouse: Warehouse, params: Options) -> _Shard:
    return _Shard(get(name), warehouse, params)


def get(name: str) -> Stage:
    """The stage called ``name`` (imported on demand: each stage loads its own libraries)."""
    if name not in NAMES:
        raise ValueError(f"unknown stage {name!r}; one of {', '.join(NAMES)}")
    return importlib.import_module(f"stages.{name}").STAGE


def stages() -> list[Stage]:
    """Every stage, in pipeline order."""
    return [get(n) for n in NAMES]


def record_tables() -> tuple[str, ...]:
    """The tables whose parts are named after a ``records`` shard: every output of the stages
    after ingest (a part's shard is its name up to the first dot)."""
    return tuple(dict.fromkeys(t for s in stages()[1:] for t in s.outputs))


def diagram() -> str:
    """The pipeline as a Markdown table (docs/architecture.md holds it; a test keeps it current)."""
    rows = ["| stage | shards of | writes | parameters | Prefect flow |", "|---|---|---|---|---|"]
    for s in stages():
        fields = ", ".join(s.params.model_fields) or "none"
        steps = " + ".join(x for x, f in (("plan", s.plan), ("ask", s.ask), ("after", s.after)) if f is not None)
        rows.append(f"| `{s.name}`{' (' + steps + ')' if steps else ''} | `{s.input}` | "
                    f"{', '.join(f'`{t}`' for t in s.outputs) or 'files'} | `{s.params.__name__}`: {fields} | "
                    f"`{s.name}` |")
    return "\n".join(rows)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Spawned workers (forking a process that runs polars or Numba threads can deadlock), one
    Numba thread each: a process per core beats Numba threads (bench/featuredb_speed.py)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_one_numba_thread)


def _one_numba_thread() -> None:
    import numba

    numba.set_num_threads(1)
