"""Findings stage: ``features`` + ``lead_features`` (+ sex, age and labels from ``records``) ->
``findings`` and ``concordance``.

One part of each per features part, redone when the features part, the criteria table or the
label-criteria table is newer than it.
"""

from __future__ import annotations

import polars as pl

from protocol import concordance
from protocol.criteria import TABLE, evaluate, facts
from stages.stage import NoParams, Stage
from warehouse import Warehouse


def run_shard(warehouse: Warehouse, part: str, params: NoParams) -> dict[str, int]:
    feats = warehouse.read_part("features", part)
    leads = warehouse.read_part("lead_features", part)
    records = warehouse.read_part("records", part, ["record_id", "sex", "age", "labels"])
    records = records.filter(pl.col("record_id").is_in(feats["record_id"].implode()))
    found = evaluate(facts(feats, leads, records))
    agree = concordance.concordance(records, found)
    warehouse.write("findings", found, part)
    warehouse.write("concordance", agree, part)
    return {"records": feats.height, "positive": int(found["positive"].sum()),
            "discordant": int((agree["status"] == "discordant").sum())}


STAGE = Stage("findings", input="features", outputs=("findings", "concordance"),
              counts=("records", "positive", "discordant"), run_shard=run_shard, rules=(TABLE, concordance.TABLE),
              parallel=True)
