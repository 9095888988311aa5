"""Ingest stage: source manifests -> checked ``records`` rows, one warehouse part per shard.

``plan`` stages each source's manifest in shards of ``IngestParams.shard_size`` rows
(``_staging/records-<source>-<shard>.parquet``); only the shards whose rows changed run again,
and the source's shards that no longer exist are dropped. Every
manifest row is checked from its header and the size of its signal files
(:func:`sources.reader.check_headers`), never from its signal: the checks that need the
samples (checksums, flat or missing signal) are the features stage's, which reads them anyway.
A record that fails stays in the table with ``status='error'`` and the reason, so nothing
vanishes. After all shards are written, the parts of later stages whose shard no longer exists
are removed (every output table of the stages after ingest, :func:`stages.stage.record_tables`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from schemas.tables import MACHINE_COLUMNS, RECORDS
from sources import mimic, ptbxl, wfdb_folder
from sources.errors import SourceError
from sources.reader import RecordError, check_headers, extra_leads
from stages.options import IngestParams
from stages.stage import Stage, record_tables
from warehouse import Warehouse

MANIFESTS: dict[str, Callable[[str | Path], pl.DataFrame]] = {
    "ptbxl": ptbxl.manifest, "mimic": mimic.manifest, "wfdb": wfdb_folder.manifest}
STAGING = "_staging"
#: ``records`` columns a source may not have (PTB-XL and WFDB folders carry no cart measurements,
#: a WFDB folder no study id): NULL for that source; any other is required.
OPTIONAL = ("study_id", "sex", "age", "label_likelihood", "label_text", "flags", "unmapped", *MACHINE_COLUMNS)
CHECKED = {"status": pl.Utf8, "error": pl.Utf8, "fs": pl.Float64, "n_samples": pl.Int64, "lead_names": pl.Utf8,
           "extra_leads": pl.List(pl.Utf8)}


def check_records(paths: Sequence[str]) -> pl.DataFrame:
    """status, error, fs, n_samples, lead names and extra leads of each record, from its header
    and the size of its signal files (:func:`sources.reader.check_headers`)."""
    rows = []
    for h in check_headers(paths):
        if isinstance(h, RecordError):
            rows.append({"status": "error", "error": str(h), "extra_leads": []})
        else:
            rows.append({"status": "ok", "error": None, "fs": h.fs, "n_samples": h.n_samples,
                         "lead_names": ",".join(h.leads), "extra_leads": extra_leads(h.leads)})
    return pl.DataFrame(rows, schema=CHECKED)


def plan(warehouse: Warehouse, params: IngestParams, force: bool = False) -> list[str]:
    """Stage every ``{source: root}`` manifest in shards; returns the shards to run: those whose
    staged rows changed or whose records part is missing or older (every shard with ``force``).
    The source's shards beyond its new count are dropped, so a rerun redoes only what changed."""
    shards = []
    staging = warehouse.root / STAGING
    staging.mkdir(exist_ok=True)
    shard_size = params.shard_size
    for source, root in params.sources.items():
        df = MANIFESTS[source](root)
        dupes = df.filter(pl.col("record_id").is_duplicated())["record_id"].unique().to_list()
        if dupes:
            raise SourceError(f"{source}: duplicate record ids in the index: {', '.join(dupes[:5])}")
        names = [f"{source}-{i:05d}" for i in range(max(1, -(-df.height // shard_size)))]
        for i, name in enumerate(names):
            rows, staged = df.slice(i * shard_size, shard_size), staging / f"records-{name}.parquet"
            if force or not _done(warehouse, staged, rows):
                rows.write_parquet(staged)
                shards.append(name)
        for old in staging.glob(f"records-{source}-*.parquet"):
            if old.stem.removeprefix("records-") not in names:
                old.unlink()
                warehouse.drop_parts("records", old.stem.removeprefix("records-"))
    return shards


def _done(warehouse: Warehouse, staged: Path, rows: pl.DataFrame) -> bool:
    """Whether a shard's records part already holds these staged rows."""
    part = warehouse.part("records", staged.stem.removeprefix("records-"))
    return (staged.exists() and part.exists() and part.stat().st_mtime >= staged.stat().st_mtime
            and pl.read_parquet(staged).equals(rows))


def run_shard(warehouse: Warehouse, shard: str, params: IngestParams) -> dict[str, int]:
    """Check the staged records of one shard and write them as records part ``shard``."""
    rows = pl.read_parquet(warehouse.root / STAGING / f"records-{shard}.parquet")
    absent = [pl.lit(None, RECORDS.columns[c].dtype.type).alias(c) for c in OPTIONAL if c not in rows.columns]
    df = pl.concat([rows, check_records(rows["path"].to_list())], how="horizontal").with_columns(*absent)
    warehouse.write("records", df, shard)
    return {"ok": int((df["status"] == "ok").sum()), "error": int((df["status"] == "error").sum())}


def after(warehouse: Warehouse, params: IngestParams, progress=None) -> None:
    """Drop later stages' parts of shards that no longer exist (across all sources)."""
    shards = {p.stem for p in warehouse.parts("records")}
    for table in record_tables():
        for part in warehouse.parts(table):
            if part.stem.split(".")[0] not in shards:
                part.unlink()


def by_source(warehouse: Warehouse, sources=None) -> dict[str, dict[str, int]]:
    """ok / error records of each of ``sources`` (default: every source held), as the records
    parts hold them now (read directly: no catalog refresh)."""
    held: dict[str, dict[str, int]] = {}
    if parts := warehouse.parts("records"):
        status = pl.read_parquet(parts, columns=["source", "status"])
        for source, state, n in status.group_by("source", "status").len().sort("source").rows():
            held.setdefault(source, {"ok": 0, "error": 0})[state] = n
    return {s: held.get(s, {"ok": 0, "error": 0}) for s in (held if sources is None else sources)}


def ingest(warehouse: Warehouse, sources: dict[str, str | Path], **params) -> dict[str, dict[str, int]]:
    """Run the stage on ``{source: root}`` without Prefect (``params``: the rest of
    :class:`IngestParams`); returns ok/error counts per source."""
    STAGE.run(warehouse, IngestParams(sources={k: str(v) for k, v in sources.items()}, **params))
    return by_source(warehouse, sources)


STAGE = Stage("ingest", input="records", outputs=("records",), counts=("ok", "error"), run_shard=run_shard,
              params=IngestParams, plan=plan, after=after)
