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
from protocol.concordance import by_concept, by_record
from protocol.criteria import TABLE, evaluate, facts
from schemas.tables import frame
from stages.stage import NoParams, Stage
from warehouse import Warehouse


def tables(records: pl.DataFrame, findings: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``findings`` with each criterion's ``confounder`` (null: applicable), ``answer_keys`` and
    ``concordance`` (record_id, status, conflicts) of ``records`` (record_id, labels, label_likelihood)."""
    found = by_record(findings)
    keys, agree, na_rows = [], [], []
    for rid, labels, likelihoods in records.select("record_id", "labels", "label_likelihood").rows():
        mine = found.get(rid, {})
        key = answer_key.reconcile(list(labels or []), likelihoods, mine)
        keys += [{"record_id": rid, "concept": s.concept, "statement": s.statement, "origin": s.origin,
                  "status": s.status, "reason": s.reason, "criteria": list(s.criteria)} for s in key.statements]
        na_rows += [(rid, c, who) for c, who in key.not_applicable.items()]
        unknown = any(r.relation == "expects" and (mine.get(r.criterion) or {}).get("positive") is None
                      and r.criterion not in key.not_applicable
                      for s in key.answer if s.origin == "label" for r in by_concept().get(s.concept, ()))
        agree.append({"record_id": rid, "status": "discordant" if key.conflicts else "unknown" if unknown
                      else "concordant", "conflicts": list(key.conflicts)})
    na = pl.DataFrame(na_rows, schema={"record_id": pl.Utf8, "criterion": pl.Utf8, "confounder": pl.Utf8}, orient="row")
    return (findings.drop("confounder").join(na, on=["record_id", "criterion"], how="left", maintain_order="left"),
            frame("answer_keys", keys),
            pl.DataFrame(agree, schema={"record_id": pl.Utf8, "status": pl.Utf8, "conflicts": pl.List(pl.Utf8)}))


def run_shard(warehouse: Warehouse, part: str, params: NoParams) -> dict[str, int]:
    feats = warehouse.read_part("features", part)
    leads = warehouse.read_part("lead_features", part)
    records = warehouse.read_part("records", part, ["record_id", "sex", "age", "labels", "label_likelihood"])
    records = records.filter(pl.col("record_id").is_in(feats["record_id"].implode()))
    found, keys, agree = tables(records, evaluate(facts(feats, leads, records)))
    warehouse.write("findings", found, part)
    warehouse.write("answer_keys", keys, part)
    warehouse.write("concordance", agree, part)
    return {"records": feats.height, "positive": int(found["positive"].sum()),
            "discordant": int((agree["status"] == "discordant").sum())}


STAGE = Stage("findings", input="features", outputs=("findings", "answer_keys", "concordance"),
              counts=("records", "positive", "discordant"), run_shard=run_shard,
              rules=(TABLE, concordance.TABLE, *answer_key.TABLES), parallel=True)
