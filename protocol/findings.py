"""Findings stage: ``features`` + ``lead_features`` (+ sex from ``records``) -> ``findings``.

One findings part per features part, redone when the features part or the criteria table is
newer than it.
"""

from __future__ import annotations

import polars as pl

from protocol.criteria import TABLE, evaluate, facts
from warehouse import Warehouse


def pending(warehouse: Warehouse, force: bool = False) -> list[str]:
    criteria_mtime = TABLE.stat().st_mtime
    todo = []
    for part in warehouse.parts("features"):
        done = warehouse.table_dir("findings") / part.name
        if force or not done.exists() or done.stat().st_mtime < max(part.stat().st_mtime, criteria_mtime):
            todo.append(part.stem)
    return todo


def run_shard(warehouse: Warehouse, part: str) -> dict[str, int]:
    feats = pl.read_parquet(warehouse.table_dir("features") / f"{part}.parquet")
    leads = pl.read_parquet(warehouse.table_dir("lead_features") / f"{part}.parquet")
    records = warehouse.read("records", ["record_id", "sex", "age"]).filter(pl.col("record_id").is_in(feats["record_id"].implode()))
    found = evaluate(facts(feats, leads, records))
    warehouse.write("findings", found, part)
    return {"records": feats.height, "positive": int(found["positive"].sum())}


def run(warehouse: Warehouse, force: bool = False) -> dict[str, int]:
    todo = pending(warehouse, force)
    results = [run_shard(warehouse, p) for p in todo]
    warehouse.refresh()
    return {"shards": len(todo), **{k: sum(r[k] for r in results) for k in ("records", "positive")}}
