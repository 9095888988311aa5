"""Prefect ``ingest`` flow: one task per source to plan, one task per shard to check and write,
then one task that marks duplicate recordings across all sources."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task, unmapped

from sources import ingest as stage
from warehouse import Warehouse


@task(name="plan-source")
def plan_source(warehouse: str, source: str, root: str, shard_size: int) -> tuple[str, int]:
    manifest, n_shards = stage.plan(Warehouse(warehouse), source, root, shard_size)
    return str(manifest), n_shards


@task(name="ingest-shard")
def ingest_shard(warehouse: str, source: str, manifest: str, shard: int, shard_size: int) -> dict[str, int]:
    return stage.ingest_shard(Warehouse(warehouse), source, Path(manifest), shard, shard_size)


@task(name="mark-duplicates")
def mark_duplicates(warehouse: str) -> int:
    return stage.mark_duplicates(Warehouse(warehouse))


@flow(name="ingest")
def ingest_flow(warehouse: str, ptbxl: str | None = None, mimic: str | None = None, wfdb: str | None = None,
                shard_size: int = stage.SHARD_SIZE) -> dict[str, dict[str, int]]:
    """Fill ``records`` from any subset of sources; returns ok/error counts per source."""
    sources = {k: v for k, v in {"ptbxl": ptbxl, "mimic": mimic, "wfdb": wfdb}.items() if v}
    counts = {}
    for source, root in sources.items():
        manifest, n_shards = plan_source(warehouse, source, str(root), shard_size)
        futures = ingest_shard.map(unmapped(warehouse), unmapped(source), unmapped(manifest), range(n_shards),
                                   unmapped(shard_size))
        results = [f.result() for f in futures]
        counts[source] = {k: sum(r[k] for r in results) for k in ("ok", "error")}
    mark_duplicates(warehouse)
    Warehouse(warehouse).refresh()
    return counts
