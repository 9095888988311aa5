"""Findings stage: ``features`` + ``lead_features`` (+ sex from ``records``) -> ``findings``.

One findings part per features part, redone when the features part or the criteria table is
newer than it.
"""

from __future__ import annotations

import polars as pl

from protocol.criteria import TABLE, evaluate, facts
from warehouse import Warehouse


COUNTS = ("records", "positive")

def pending(warehouse: Warehouse, force: bool = False) -> list[str]:
    return warehouse.pending("features", ("findings",), force, newer_than=TABLE.stat().st_mtime)


def run_shard(warehouse: Warehouse, part: str) -> dict[str, int]:
    feats = pl.read_parquet(warehouse.table_dir("features") / f"{part}.parquet")
    leads = pl.read_parquet(warehouse.table_dir("lead_features") / f"{part}.parquet")
    records = warehouse.read("records", ["record_id", "sex", "age"]).filter(pl.col("record_id").is_in(feats["record_id"].implode()))
    found = evaluate(facts(feats, leads, records))
    warehouse.write("findings", found, part)
    return {"records": feats.height, "positive": int(found["positive"].sum())}


def run(warehouse: Warehouse, force: bool = False) -> dict[str, int]:
    todo = pending(warehouse, force)
    return warehouse.finish(todo, [run_shard(warehouse, p) for p in todo], COUNTS)
