"""Prompts stage: one interpretation prompt per measured record -> ``prompts``.

A prompts shard is a findings part; it is redone when its findings part or a template is newer.
Records whose signal is unusable get no prompt, nor does a recording identical to an earlier one
(``records.duplicate_of``: counted as ``duplicate``). Every prompt passes
:func:`prompts.render.guard` with the record's identifiers; a refused prompt is counted, logged
and not written.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl

from prompts.render import (
    TEMPLATES, IdentifierError, guard, interpretation_context, interpretation_messages, label_text, prompt_sha256,
    template_version,
)
from sources.vocabulary import concepts
from warehouse import Warehouse

log = logging.getLogger(__name__)
KIND = "interpretation"


COUNTS = ("prompts", "refused", "duplicate")

def sample_id(record_id: str, kind: str = KIND) -> str:
    return f"{record_id}#{kind}"


def identifiers(record: dict) -> list[str]:
    """What must never reach a prompt: subject, study and native ids, the path and file name."""
    native = record["record_id"].split(":", 1)[1]
    path = record.get("path") or ""
    return [record.get("subject_id"), record.get("study_id"), native, path, Path(path).name]


def pending(warehouse: Warehouse, force: bool = False) -> list[str]:
    newest_template = max(p.stat().st_mtime for p in TEMPLATES.iterdir())
    return warehouse.pending("findings", ("prompts",), force, newer_than=newest_template)


def build(features: pl.DataFrame, leads: pl.DataFrame, findings: pl.DataFrame, records: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Prompt rows for the usable records, and the number the identifier guard refused."""
    descriptions = concepts()
    leads_by = leads.partition_by("record_id", as_dict=True)
    found_by = findings.partition_by("record_id", as_dict=True)
    recs = {r["record_id"]: r for r in records.iter_rows(named=True)}
    version = template_version(KIND)
    rows, refused = [], 0
    for feat in features.filter(pl.col("quality") != "unusable").iter_rows(named=True):
        rid = feat["record_id"]
        rec = recs[rid]
        if rec.get("duplicate_of"):
            continue
        ctx = interpretation_context(feat, leads_by[(rid,)].to_dicts(), found_by[(rid,)].to_dicts(), rec["sex"],
                                     label_text(rec["labels"] or [], descriptions))
        messages = interpretation_messages(ctx)
        try:
            guard(messages, identifiers(rec))
        except IdentifierError as exc:
            log.warning("%s: prompt refused: %s", rid, exc)
            refused += 1
            continue
        rows.append({"sample_id": sample_id(rid), "record_id": rid, "kind": KIND, "template_version": version,
                     "prompt_sha256": prompt_sha256(messages), "messages": json.dumps(messages, ensure_ascii=False)})
    schema = {"sample_id": pl.Utf8, "record_id": pl.Utf8, "kind": pl.Utf8, "template_version": pl.Utf8,
              "prompt_sha256": pl.Utf8, "messages": pl.Utf8}
    return pl.DataFrame(rows, schema=schema), refused


def run_shard(warehouse: Warehouse, part: str) -> dict[str, int]:
    read = lambda table: pl.read_parquet(warehouse.table_dir(table) / f"{part}.parquet")  # noqa: E731
    features, leads, findings = read("features"), read("lead_features"), read("findings")
    ids = features["record_id"].to_list()
    records = pl.read_parquet(warehouse.table_dir("records") / f"{part}.parquet",
                              columns=["record_id", "subject_id", "study_id", "path", "sex", "labels", "duplicate_of"])
    records = records.filter(pl.col("record_id").is_in(ids))
    rows, refused = build(features, leads, findings, records)
    warehouse.write("prompts", rows, part)
    return {"prompts": rows.height, "refused": refused, "duplicate": int(records["duplicate_of"].is_not_null().sum())}


def run(warehouse: Warehouse, force: bool = False) -> dict[str, int]:
    todo = pending(warehouse, force)
    return warehouse.finish(todo, [run_shard(warehouse, p) for p in todo], COUNTS)
