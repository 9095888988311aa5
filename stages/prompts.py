"""Prompts stage: one interpretation prompt row per measured record -> ``prompts``.

A prompts shard is a findings part; it is redone when its findings part or a template is newer.
Every measured record keeps a row: ``status='ok'`` with its messages, or no messages and the
reason: ``unusable`` (the signal's quality), ``duplicate`` (a recording identical to an earlier
one, ``records.duplicate_of``) or ``refused`` (:func:`prompts.render.guard` found one of the
record's identifiers in the prompt).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from prompts.render import (
    TEMPLATES,
    IdentifierError,
    guard,
    interpretation_context,
    interpretation_messages,
    label_text,
    prompt_sha256,
    template_version,
)
from sources.vocabulary import concepts
from stages.stage import Stage
from warehouse import Warehouse

KIND = "interpretation"


def sample_id(record_id: str, kind: str = KIND) -> str:
    return f"{record_id}#{kind}"


def identifiers(record: dict) -> list[str]:
    """What must never reach a prompt: subject, study and native ids, the path and file name."""
    native = record["record_id"].split(":", 1)[1]
    path = record.get("path") or ""
    return [record.get("subject_id"), record.get("study_id"), native, path, Path(path).name]


def build(features: pl.DataFrame, leads: pl.DataFrame, findings: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """One prompt row per measured record: its messages, or why it has none."""
    descriptions = concepts()
    leads_by = leads.partition_by("record_id", as_dict=True)
    found_by = findings.partition_by("record_id", as_dict=True)
    recs = {r["record_id"]: r for r in records.iter_rows(named=True)}
    version = template_version(KIND)
    rows = []
    for feat in features.iter_rows(named=True):
        rid = feat["record_id"]
        rec = recs[rid]
        row = {"sample_id": sample_id(rid), "record_id": rid, "kind": KIND, "template_version": version,
               "status": "ok", "reason": None, "prompt_sha256": None, "messages": None}
        if feat["quality"] == "unusable":
            why = feat["error"] or ", ".join(feat["quality_flags"] or []) or "no measurable beats"
            rows.append({**row, "status": "unusable", "reason": f"signal quality unusable: {why}"})
            continue
        if rec.get("duplicate_of"):
            rows.append({**row, "status": "duplicate", "reason": f"same signal as {rec['duplicate_of']}"})
            continue
        ctx = interpretation_context(feat, leads_by[(rid,)].to_dicts(), found_by[(rid,)].to_dicts(), rec["sex"],
                                     label_text(rec["labels"] or [], descriptions))
        messages = interpretation_messages(ctx)
        try:
            guard(messages, identifiers(rec))
        except IdentifierError as exc:
            rows.append({**row, "status": "refused", "reason": str(exc)})
            continue
        rows.append({**row, "prompt_sha256": prompt_sha256(messages), "messages": json.dumps(messages, ensure_ascii=False)})
    schema = {"sample_id": pl.Utf8, "record_id": pl.Utf8, "kind": pl.Utf8, "template_version": pl.Utf8,
              "status": pl.Utf8, "reason": pl.Utf8, "prompt_sha256": pl.Utf8, "messages": pl.Utf8}
    return pl.DataFrame(rows, schema=schema)


def run_shard(warehouse: Warehouse, part: str) -> dict[str, int]:
    read = lambda table: pl.read_parquet(warehouse.table_dir(table) / f"{part}.parquet")  # noqa: E731
    features, leads, findings = read("features"), read("lead_features"), read("findings")
    records = pl.read_parquet(warehouse.table_dir("records") / f"{part}.parquet",
                              columns=["record_id", "subject_id", "study_id", "path", "sex", "labels", "duplicate_of"])
    records = records.filter(pl.col("record_id").is_in(features["record_id"].implode()))
    rows = build(features, leads, findings, records)
    warehouse.write("prompts", rows, part)
    return {s: int((rows["status"] == s).sum()) for s in STAGE.counts}


STAGE = Stage("prompts", input="findings", outputs=("prompts",), counts=("ok", "unusable", "duplicate", "refused"),
              run_shard=run_shard, rules=(TEMPLATES,))
