"""Ingest stage: source manifests -> checked ``records`` rows, one warehouse part per shard.

Every manifest row is opened with :func:`sources.reader.read_record`; a record that cannot be
used stays in the table with ``status='error'`` and the reader's reason, so nothing vanishes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from sources import mimic, ptbxl, wfdb_folder
from sources.errors import SourceError
from sources.reader import RecordError, read_record
from warehouse import Warehouse

MANIFESTS: dict[str, Callable[[str | Path], pl.DataFrame]] = {
    "ptbxl": ptbxl.manifest, "mimic": mimic.manifest, "wfdb": wfdb_folder.manifest,
}
SHARD_SIZE = 1000
STAGING = "_staging"


def check_record(path: str) -> dict:
    """fs, n_samples, lead names and status of one record file."""
    try:
        header, _ = read_record(path)
    except RecordError as exc:
        return {"status": "error", "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a record must never stop the run
        return {"status": "error", "error": f"unreadable record: {type(exc).__name__}: {exc}"}
    return {"status": "ok", "error": None, "fs": header.fs, "n_samples": header.n_samples,
            "lead_names": ",".join(header.leads)}


def plan(warehouse: Warehouse, source: str, root: str | Path, shard_size: int = SHARD_SIZE) -> tuple[Path, int]:
    """Write the source's manifest to staging, drop its old parts; return (manifest, n_shards)."""
    if source not in MANIFESTS:
        raise SourceError(f"unknown source {source!r}; use one of {', '.join(MANIFESTS)}")
    df = MANIFESTS[source](root)
    dupes = df.filter(pl.col("record_id").is_duplicated())["record_id"].unique().to_list()
    if dupes:
        raise SourceError(f"{source}: duplicate record ids in the index: {', '.join(dupes[:5])}")
    staging = warehouse.root / STAGING
    staging.mkdir(exist_ok=True)
    path = staging / f"records-{source}.parquet"
    df.write_parquet(path)
    warehouse.drop_parts("records", f"{source}-")
    return path, max(1, -(-df.height // shard_size))


def ingest_shard(warehouse: Warehouse, source: str, manifest: Path, shard: int,
                 shard_size: int = SHARD_SIZE) -> dict[str, int]:
    """Check the records of one shard and write them as part ``<source>-<shard>``."""
    rows = pl.read_parquet(manifest).slice(shard * shard_size, shard_size)
    checked = pl.DataFrame([check_record(p) for p in rows["path"]],
                           schema={"status": pl.Utf8, "error": pl.Utf8, "fs": pl.Float64,
                                   "n_samples": pl.Int64, "lead_names": pl.Utf8})
    df = pl.concat([rows, checked], how="horizontal")
    warehouse.write("records", df, f"{source}-{shard:05d}")
    return {"ok": int((df["status"] == "ok").sum()), "error": int((df["status"] == "error").sum())}


def ingest(warehouse: Warehouse, sources: dict[str, str | Path], shard_size: int = SHARD_SIZE) -> dict[str, dict]:
    """Ingest every ``{source: root}``; returns per-source ok/error counts."""
    counts = {}
    for source, root in sources.items():
        manifest, n_shards = plan(warehouse, source, root, shard_size)
        per_shard = [ingest_shard(warehouse, source, manifest, i, shard_size) for i in range(n_shards)]
        counts[source] = {k: sum(c[k] for c in per_shard) for k in ("ok", "error")}
    warehouse.refresh()
    return counts
