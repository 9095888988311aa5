"""Ingest stage: source manifests -> checked ``records`` rows, one warehouse part per shard.

``plan`` stages each source's manifest in shards of ``SHARD_SIZE`` rows
(``_staging/records-<source>-<shard>.parquet``) and drops the source's old parts. Every
manifest row is opened with :func:`sources.reader.read_record`; a record that cannot be used
stays in the table with ``status='error'`` and the reader's reason, so nothing vanishes.
After all shards are written, :func:`mark_duplicates` links recordings with identical signals
across every source, and the parts of later stages whose shard no longer exists are removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from schemas.tables import MACHINE_COLUMNS, RECORDS
from sources import mimic, ptbxl, wfdb_folder
from sources.errors import SourceError
from sources.reader import RecordError, extra_leads, read_record
from stages.stage import Stage
from warehouse import Warehouse

MANIFESTS: dict[str, Callable[[str | Path], pl.DataFrame]] = {
    "ptbxl": ptbxl.manifest, "mimic": mimic.manifest, "wfdb": wfdb_folder.manifest,
}
SHARD_SIZE = 1000
STAGING = "_staging"
#: Tables whose parts are named after a records shard (``generations``: ``<shard>.<backend>``).
DOWNSTREAM = ("features", "lead_features", "findings", "concordance", "prompts", "generations")
#: ``records`` columns a source may not have (PTB-XL and WFDB folders carry no cart measurements,
#: a WFDB folder no study or label likelihoods): NULL for that source; any other is required.
OPTIONAL = ("study_id", "sex", "age", "label_likelihood", "label_text", "flags", "unmapped", *MACHINE_COLUMNS)
CHECKED = {"status": pl.Utf8, "error": pl.Utf8, "fs": pl.Float64, "n_samples": pl.Int64, "lead_names": pl.Utf8,
           "extra_leads": pl.List(pl.Utf8), "signal_sha256": pl.Utf8}


def signal_sha256(signal: np.ndarray) -> str:
    """SHA-256 of the decoded float32 (12, n) mV signal at 500 Hz in canonical lead order.

    The decoded signal rather than the ``.dat`` bytes, so that "same samples" means the same
    12-lead recording whatever the file's lead order, storage format, header, record name or
    extra signals. Resampling is part of the signal: PTB-XL's ``records100`` file of a record
    is a downsampled copy and never equals its ``records500`` file. About 0.17 ms for 12 x 5000.
    """
    return hashlib.sha256(np.ascontiguousarray(signal)).hexdigest()


def check_record(path: str) -> dict:
    """fs, n_samples, lead names, extra leads, signal hash and status of one record file."""
    try:
        header, signal = read_record(path)
    except RecordError as exc:
        return _error_row(str(exc))
    except Exception as exc:  # noqa: BLE001 - a record must never stop the run
        return _error_row(f"unreadable record: {type(exc).__name__}: {exc}")
    return {"status": "ok", "error": None, "fs": header.fs, "n_samples": header.n_samples,
            "lead_names": ",".join(header.leads), "extra_leads": extra_leads(header.leads),
            "signal_sha256": signal_sha256(signal)}


def _error_row(reason: str) -> dict:
    return {"status": "error", "error": reason, "extra_leads": []}


def plan(warehouse: Warehouse, force: bool = False, sources: dict[str, str | Path] | None = None,
         shard_size: int = SHARD_SIZE) -> list[str]:
    """Stage every ``{source: root}`` manifest in shards and drop the sources' old parts; returns
    the shard names (``force`` changes nothing: a source given is always read again)."""
    shards = []
    for source, root in (sources or {}).items():
        if source not in MANIFESTS:
            raise SourceError(f"unknown source {source!r}; use one of {', '.join(MANIFESTS)}")
        df = MANIFESTS[source](root)
        dupes = df.filter(pl.col("record_id").is_duplicated())["record_id"].unique().to_list()
        if dupes:
            raise SourceError(f"{source}: duplicate record ids in the index: {', '.join(dupes[:5])}")
        staging = warehouse.root / STAGING
        staging.mkdir(exist_ok=True)
        for old in staging.glob(f"records-{source}-*.parquet"):
            old.unlink()
        warehouse.drop_parts("records", f"{source}-")
        for i in range(max(1, -(-df.height // shard_size))):
            shards.append(f"{source}-{i:05d}")
            df.slice(i * shard_size, shard_size).write_parquet(staging / f"records-{shards[-1]}.parquet")
    return shards


def run_shard(warehouse: Warehouse, shard: str) -> dict[str, int]:
    """Check the staged records of one shard and write them as records part ``shard``."""
    rows = pl.read_parquet(warehouse.root / STAGING / f"records-{shard}.parquet")
    checked = pl.DataFrame([check_record(p) for p in rows["path"]], schema=CHECKED)
    absent = [pl.lit(None, RECORDS.columns[c].dtype.type).alias(c) for c in OPTIONAL if c not in rows.columns]
    df = pl.concat([rows, checked], how="horizontal").with_columns(*absent, duplicate_of=pl.lit(None, pl.Utf8))
    warehouse.write("records", df, shard)
    return {"ok": int((df["status"] == "ok").sum()), "error": int((df["status"] == "error").sum())}


def after(warehouse: Warehouse) -> None:
    """Across all sources: mark duplicate recordings, drop later stages' parts of vanished shards."""
    mark_duplicates(warehouse)
    shards = {p.stem for p in warehouse.parts("records")}
    for table in DOWNSTREAM:
        for part in warehouse.parts(table):
            if part.stem.split(".")[0] not in shards:
                part.unlink()


def by_source(warehouse: Warehouse, sources=None) -> dict[str, dict[str, int]]:
    """ok / error records of each of ``sources`` (default: every source held), as the warehouse
    holds them now."""
    df = warehouse.sql("SELECT source, count(*) FILTER (WHERE status = 'ok') AS ok, "
                       "count(*) FILTER (WHERE status = 'error') AS error FROM records GROUP BY ALL ORDER BY source")
    held = {r["source"]: {"ok": r["ok"], "error": r["error"]} for r in df.iter_rows(named=True)}
    return {s: held.get(s, {"ok": 0, "error": 0}) for s in (held if sources is None else sources)}


def ingest(warehouse: Warehouse, sources: dict[str, str | Path], shard_size: int = SHARD_SIZE) -> dict[str, dict]:
    """Run the stage on ``{source: root}`` without Prefect; returns ok/error counts per source."""
    STAGE.run(warehouse, sources=sources, shard_size=shard_size)
    return by_source(warehouse, sources)


def mark_duplicates(warehouse: Warehouse) -> int:
    """Across every records part: a record whose ``signal_sha256`` equals that of a record with a
    smaller ``record_id`` gets ``duplicate_of`` = the first such record and its split, so one
    recording never sits in two splits. Rows no longer duplicated get their own split back (from
    the source's staged manifest). Rewrites only the parts whose rows change; returns the number
    of duplicates. Error rows have no hash and are never duplicates."""
    keys = pl.concat([_part_keys(p) for p in warehouse.parts("records")])
    if keys.is_empty():
        return 0
    keys = keys.join(_own_splits(warehouse), on="record_id", how="left").with_columns(
        own_split=pl.coalesce("own_split", "split"))
    first = (keys.filter(pl.col("signal_sha256").is_not_null()).sort("record_id")
             .group_by("signal_sha256", maintain_order=True)
             .agg(first_id=pl.col("record_id").first(), first_split=pl.col("own_split").first()))
    dup = pl.col("first_id") != pl.col("record_id")
    marked = keys.join(first, on="signal_sha256", how="left").select(
        "part", "record_id", "split", "duplicate_of",
        new_duplicate_of=pl.when(dup).then("first_id"),
        new_split=pl.when(dup).then("first_split").otherwise("own_split"))
    changed = marked.filter(pl.col("duplicate_of").ne_missing(pl.col("new_duplicate_of"))
                            | pl.col("split").ne_missing(pl.col("new_split")))
    for part in changed["part"].unique().sort():
        _rewrite_part(warehouse, part, marked.filter(pl.col("part") == part))
    return int(marked["new_duplicate_of"].is_not_null().sum())


def _part_keys(part: Path) -> pl.DataFrame:
    """record_id, split, signal_sha256, duplicate_of of one records part and the part's name."""
    return pl.read_parquet(part, columns=["record_id", "split", "signal_sha256", "duplicate_of"]).with_columns(
        part=pl.lit(part.stem))


def _own_splits(warehouse: Warehouse) -> pl.DataFrame:
    """record_id -> the split its source assigned, from the staged shards of :func:`plan`."""
    manifests = sorted((warehouse.root / STAGING).glob("records-*.parquet"))
    empty = pl.DataFrame(schema={"record_id": pl.Utf8, "split": pl.Utf8})
    frames = [pl.read_parquet(m, columns=["record_id", "split"]) for m in manifests]
    return pl.concat([empty, *frames]).rename({"split": "own_split"})


def _rewrite_part(warehouse: Warehouse, part: str, marked: pl.DataFrame) -> None:
    df = pl.read_parquet(warehouse.table_dir("records") / f"{part}.parquet")
    new = marked.select("record_id", duplicate_of="new_duplicate_of", split="new_split")
    df = df.drop("duplicate_of", "split", strict=False).join(new, on="record_id", how="left", maintain_order="left")
    warehouse.write("records", df, part)


STAGE = Stage("ingest", input="records", outputs=("records",), counts=("ok", "error"), run_shard=run_shard,
              plan=plan, after=after)
