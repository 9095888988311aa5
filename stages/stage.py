"""The one stage contract, in datatrove's shape: a stage reads the parts of one table (its
shards), writes one part of the same name in each of its output tables, and counts what it did.

A :class:`Stage` is data plus two functions: ``run_shard`` (one shard, returns its counts) and
optionally ``plan`` (which shards to run; by default the input parts whose outputs are missing
or older than the part or than the stage's rule files) and ``after`` (work over the whole
warehouse once the shards are written). The same object runs without Prefect
(:meth:`Stage.run`, the CLI) and as a Prefect flow (``flows/stages.py``). Every shard's counts
are kept in the ``stage_counts`` table (part ``<stage>.<shard>``), so a report reads them later.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:  # the warehouse (duckdb, pandera) loads only where a stage writes
    from warehouse import Warehouse


#: The sharded stages in pipeline order; ``stages.<name>.STAGE`` is each one's definition.
NAMES = ("ingest", "features", "findings", "select", "prompts")


@dataclass(frozen=True)
class Stage:
    name: str
    input: str  # the table whose parts are the shards
    outputs: tuple[str, ...]  # one part per shard in each
    counts: tuple[str, ...]  # the keys ``run_shard`` returns
    run_shard: Callable[[Warehouse, str], dict[str, int]]
    rules: tuple[Path, ...] = ()  # files or folders whose change makes every shard pending
    plan: Callable[..., list[str]] | None = None  # (warehouse, force, **params) -> shards
    after: Callable[[Warehouse], None] | None = None

    def pending(self, warehouse: Warehouse, force: bool = False, **params) -> list[str]:
        """The shards to run: the stage's own ``plan``, or the input parts not yet done."""
        if self.plan is not None:
            return self.plan(warehouse, force, **params)
        files = [p for r in self.rules for p in (sorted(r.iterdir()) if r.is_dir() else [r])]
        newest = max((p.stat().st_mtime for p in files), default=0.0)
        return warehouse.pending(self.input, self.outputs, force, newer_than=newest)

    def shard(self, warehouse: Warehouse, part: str) -> dict[str, int]:
        """Run one shard and keep its counts."""
        counts = self.run_shard(warehouse, part)
        warehouse.write("stage_counts", pl.DataFrame({
            "stage": self.name, "shard": part, "count": list(self.counts),
            "value": [int(counts[k]) for k in self.counts], "written_at": datetime.now(timezone.utc)}),
            f"{self.name}.{part}")
        return counts

    def finish(self, warehouse: Warehouse, shards: list[str], counts: list[dict[str, int]]) -> dict[str, int]:
        """After the shards: the stage's ``after`` step, the catalog refreshed, counts summed."""
        if self.after is not None:
            self.after(warehouse)
        warehouse.refresh()
        return {"shards": len(shards), **{k: sum(c[k] for c in counts) for k in self.counts}}

    def run(self, warehouse: Warehouse, force: bool = False, workers: int = 1, **params) -> dict[str, int]:
        """Every pending shard, in this process or over ``workers`` spawned processes."""
        todo = self.pending(warehouse, force, **params)
        if workers > 1 and len(todo) > 1:
            with process_pool(workers) as pool:
                counts = list(pool.map(self.shard, [warehouse] * len(todo), todo))
        else:
            counts = [self.shard(warehouse, p) for p in todo]
        return self.finish(warehouse, todo, counts)


def get(name: str) -> Stage:
    """The stage called ``name`` (imported on demand: each stage loads its own libraries)."""
    if name not in NAMES:
        raise ValueError(f"unknown stage {name!r}; one of {', '.join(NAMES)}")
    return importlib.import_module(f"stages.{name}").STAGE


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Spawned workers (forking a process that runs polars or Numba threads can deadlock), one
    Numba thread each: a process per core beats Numba threads (bench/featuredb_speed.py)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_one_numba_thread)


def _one_numba_thread() -> None:
    import numba

    numba.set_num_threads(1)
