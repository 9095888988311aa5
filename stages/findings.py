"""Findings stage: ``features`` + ``lead_features`` (+ sex, age, labels and their likelihoods
from ``records``) -> ``findings``, ``answer_keys`` and ``concordance``.

The criteria are evaluated (:mod:`protocol.criteria`), then each record's labels are reconciled
with them (:mod:`protocol.answer_key`): the confounders mark criteria not applicable, every label
is kept, hedged or dropped and definite measured findings are added. One part of each per
features part, redone when the features part or one of the protocol tables is newer than it.
"""

from __future__ import annotations

import polars as pl

from protocol import answer_key, concordance
from protocol.criteria import TABLE, evaluate, facts
from stages.stage import NoParams, Stage
from warehouse import Warehouse


def run_shard(warehouse: Warehouse, part: str, params: NoParams) -> dict[str, int]:
    feats = warehouse.read_part("features", part)
    leads = warehouse.read_part("lead_features", part)
    records = warehouse.read_part("records", part, ["record_id", "sex", "age", "labels", "label_likelihood"])
    records = records.filter(pl.col("record_id").is_in(feats["record_id"].implode()))
    found, keys, agree = answer_key.tables(records, evaluate(facts(feats, leads, records)))
    warehouse.write("findings", found, part)
    warehouse.write("answer_keys", keys, part)
    warehouse.write("concordance", agree, part)
    return {"records": feats.height, "positive": int(found["positive"].sum()),
            "discordant": int((agree["status"] == "discordant").sum())}


STAGE = Stage("findings", input="features", outputs=("findings", "answer_keys", "concordance"),
              counts=("records", "positive", "discordant"), run_shard=run_shard,
              rules=(TABLE, concordance.TABLE, *answer_key.TABLES), parallel=True)
