"""Features stage: ``records`` (status ok) -> FeatureDB -> ``features`` + ``lead_features``.

A features shard is a ``records`` part: part ``ptbxl-00000`` of records gives parts of the same
name in both feature tables, so a rerun replaces exactly what it measured, and a shard whose
feature parts are newer than its records part is done.

This is where each signal is read, so this is where the signal checks land: a record the reader
refuses (checksum mismatch, flat or all-missing signal, truncated file) keeps its ``features``
row with quality ``unusable`` and the reason in ``error``; every readable one gets the
``signal_sha256`` of its decoded signal, by which the select stage finds duplicate recordings.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow.parquet as pq

import featuredb
from sources.reader import FS, RecordError, read_signal, signal_sha256
from stages.stage import NoParams, Stage, process_pool

if TYPE_CHECKING:  # the warehouse (duckdb, pandera) loads only where a stage writes
    from warehouse import Warehouse

N_SAMPLES = 10 * FS  # records are measured on their first 10 s, padded with NaN when shorter
BATCH = 256
# FeatureDB's Numba kernels already run on every core; one call at a time per process (the
# default "workqueue" threading layer refuses concurrent parallel calls from several threads).
_EXTRACT = threading.Lock()
READ_COLUMNS = {"error": pl.Utf8, "signal_sha256": pl.Utf8}  # what load adds to FeatureDB's columns


def load(paths: Sequence[str]) -> tuple[np.ndarray, pl.DataFrame]:
    """(n, 12, 5000) float32, and per record the reason it could not be read (``error``, else
    null) and the :func:`~sources.reader.signal_sha256` of its whole signal (null when unread)."""
    out = np.full((len(paths), 12, N_SAMPLES), np.nan, dtype=np.float32)
    errors: list[str | None] = [None] * len(paths)
    hashes: list[str | None] = [None] * len(paths)
    for i, path in enumerate(paths):
        try:
            x = read_signal(path)
        except RecordError as exc:
            errors[i] = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - a record must never stop the run
            errors[i] = f"unreadable record: {type(exc).__name__}: {exc}"
            continue
        hashes[i] = signal_sha256(x)
        x = x[:, :N_SAMPLES]
        out[i, :, : x.shape[1]] = x
    return out, pl.DataFrame({"error": errors, "signal_sha256": hashes}, schema=READ_COLUMNS)


@cache
def _tell_if_compiling() -> None:
    """Say so, once per process, when the first measurement will compile FeatureDB's kernels."""
    if not featuredb.KERNELS_CACHED:
        print("FeatureDB: compiling its Numba kernels for this machine, once per installation "
              "(about a minute on two cores)...", file=sys.stderr, flush=True)


def measure(ids: Sequence[str], paths: Sequence[str]) -> featuredb.Features:
    """FeatureDB over records on disk, in batches; unreadable records keep a row with ``error``,
    readable ones carry ``signal_sha256``.
    A reader thread loads the next batch while the kernels measure this one (file reads and the
    Numba decoder release the GIL)."""
    _tell_if_compiling()
    parts = []
    with ThreadPoolExecutor(1) as reader:
        ahead = reader.submit(load, paths[:BATCH])
        for a in range(0, len(ids), BATCH):
            signals, read = ahead.result()
            if a + BATCH < len(ids):  # one batch ahead, so memory stays bounded
                ahead = reader.submit(load, paths[a + BATCH : a + 2 * BATCH])
            with _EXTRACT:
                f = featuredb.extract(signals, fs=FS, record_ids=list(ids[a : a + BATCH]))
            parts.append(featuredb.Features(pl.concat([f.records, read], how="horizontal"), f.leads))
    if not parts:
        empty = featuredb.extract(np.zeros((0, 12, N_SAMPLES), np.float32))
        return featuredb.Features(empty.records.with_columns(pl.lit(None, t).alias(c) for c, t in READ_COLUMNS.items()),
                                  empty.leads)
    return featuredb.Features(pl.concat([p.records for p in parts]), pl.concat([p.leads for p in parts]))


def run_shard(warehouse: Warehouse, part: str, params: NoParams) -> dict[str, int]:
    """Measure the ok records of one records part and write its two feature parts."""
    rec = warehouse.read_part("records", part, ["record_id", "path", "status"])
    rec = rec.filter(pl.col("status") == "ok")
    f = measure(rec["record_id"].to_list(), rec["path"].to_list())
    warehouse.write("lead_features", f.leads, part)
    warehouse.write("features", f.records, part)
    return {"records": f.records.height, "usable": int((f.records["quality"] != "unusable").sum())}


STAGE = Stage("features", input="records", outputs=("features", "lead_features"), counts=("records", "usable"),
              run_shard=run_shard, parallel=True)


def _folder_batches(ids: list[str], paths: list[str], size: int) -> Iterator[tuple[list[str], list[str]]]:
    for a in range(0, len(ids), size):
        yield ids[a : a + size], paths[a : a + size]


def _measure_batch(batch: tuple[list[str], list[str]]) -> featuredb.Features:
    return measure(*batch)


def run_folder(root: str | Path, out: str | Path, workers: int = 1, shard: int = 512) -> int:
    """FeatureDB alone on a WFDB folder: one Parquet file of record features (streamed) and a
    sibling ``<out>.leads.parquet`` of lead features; returns the number of records."""
    from sources.wfdb_folder import list_records

    ids, paths = list_records(root)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    leads_out = out.with_name(out.stem + ".leads.parquet")
    writers: dict[Path, pq.ParquetWriter] = {}
    batches = _folder_batches(ids, paths, shard)
    pool = process_pool(workers) if workers > 1 else None
    try:
        results = pool.map(_measure_batch, batches) if pool else map(_measure_batch, batches)
        for f in results:
            for path, df in ((out, f.records), (leads_out, f.leads)):
                table = df.to_arrow()
                if path not in writers:
                    writers[path] = pq.ParquetWriter(path, table.schema, compression="zstd")
                writers[path].write_table(table)
    finally:
        for w in writers.values():
            w.close()
        if pool:
            pool.shutdown()
    return len(ids)
