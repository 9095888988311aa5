"""Prompts stage: one interpretation prompt row per selected record -> ``prompts``.

A prompts shard is a ``selection`` part (the select stage rewrites a part when its records,
measurements or selection change); it is also redone when a template is newer. Every selected
record keeps a row: ``status='ok'`` with its messages, or ``refused`` with the reason when
:func:`prompts.render.guard` found one of the record's identifiers in the prompt.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from prompts.render import (
    CONTEXT_FEATURES,
    FINDING_FIELDS,
    LEAD_FIELDS,
    TEMPLATES,
    IdentifierError,
    context,
    guard,
    interpretation_messages,
    key_text,
    lead_columns,
    prompt_sha256,
    template_version,
)
from schemas.ids import INTERPRETATION, SampleId
from schemas.tables import frame
from stages.stage import NoParams, NotReady, Stage
from warehouse import Warehouse


def identifiers(record: dict) -> list[str]:
    """What must never reach a prompt: subject, study and native ids, the path and file name."""
    native = record["record_id"].split(":", 1)[1]
    path = record.get("path") or ""
    return [record.get("subject_id"), record.get("study_id"), native, path, Path(path).name]


def record_slices(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, slice]]:
    """The frame with each record's rows contiguous (stably sorted by ``record_id`` unless they
    already are, as stages write them) and each record's slice of it."""
    runs = frame["record_id"].rle().struct.unnest()
    if runs.height != runs["value"].n_unique():
        frame = frame.sort("record_id", maintain_order=True)
        runs = frame["record_id"].rle().struct.unnest()
    ends = runs["len"].cum_sum().to_list()
    return frame, {rid: slice(end - n, end) for rid, n, end in zip(runs["value"].to_list(), runs["len"].to_list(), ends)}


def build(features: pl.DataFrame, leads: pl.DataFrame, findings: pl.DataFrame, records: pl.DataFrame,
          keys: pl.DataFrame) -> pl.DataFrame:
    """One prompt row per record of ``records``: its messages, or why it has none; ``keys`` are
    the records' ``answer_keys`` rows (the statements the answer states, in order). The frames
    are read as column lists (the lead table formatted for all records at once) and each
    record's rows as slices of them: no frame, and no long-lived row object, per record."""
    answer = dict(keys.filter(pl.col("status") != "dropped").group_by("record_id", maintain_order=True)
                  .agg("statement").rows())
    wanted = ["record_id", *CONTEXT_FEATURES]
    feats = {r["record_id"]: r for r in features.select(c for c in features.columns if c in wanted).iter_rows(named=True)}
    leads, lead_span = record_slices(leads)
    findings, found_span = record_slices(findings)
    lead_cols = lead_columns([leads[f].to_list() if f in leads.columns else [None] * leads.height for f in LEAD_FIELDS])
    found_cols = [findings[f].to_list() for f in FINDING_FIELDS]
    version = template_version(INTERPRETATION)
    rows = []
    for rec in records.iter_rows(named=True):
        rid = rec["record_id"]
        row = {"sample_id": SampleId(rid).format(), "record_id": rid, "kind": INTERPRETATION, "template_version": version,
               "status": "ok", "reason": None, "prompt_sha256": None, "messages": None}
        mine, found = lead_span[rid], found_span[rid]
        ctx = context(feats[rid], zip(*(c[mine] for c in lead_cols)), zip(*(c[found] for c in found_cols)), rec["sex"],
                      key_text(answer.get(rid, [])))
        messages = interpretation_messages(ctx)
        try:
            guard(messages, identifiers(rec))
        except IdentifierError as exc:
            rows.append({**row, "status": "refused", "reason": str(exc)})
            continue
        rows.append({**row, "prompt_sha256": prompt_sha256(messages), "messages": json.dumps(messages, ensure_ascii=False)})
    return frame("prompts", rows)


def plan(warehouse: Warehouse, params: NoParams, force: bool = False) -> list[str]:
    """The stale selection shards; a warehouse without a selection is refused with what to run."""
    if not warehouse.parts("selection"):
        raise NotReady(f"no selection in {warehouse.root}: run `ecg-corpus select` first (prompts are rendered "
                         "for the selected records only)")
    return STAGE.stale(warehouse, force)


def run_shard(warehouse: Warehouse, part: str, params: NoParams) -> dict[str, int]:
    picked = warehouse.read_part("selection", part).filter("selected")["record_id"].implode()
    mine = pl.col("record_id").is_in(picked)
    features, leads, findings = (warehouse.read_part(t, part).filter(mine) for t in ("features", "lead_features", "findings"))
    records = warehouse.read_part("records", part, ["record_id", "subject_id", "study_id", "path", "sex"]).filter(mine)
    rows = build(features, leads, findings, records, warehouse.read_part("answer_keys", part).filter(mine))
    warehouse.write("prompts", rows, part)
    return {s: int((rows["status"] == s).sum()) for s in STAGE.counts}


STAGE = Stage("prompts", input="selection", outputs=("prompts",), counts=("ok", "refused"),
              run_shard=run_shard, rules=(TEMPLATES,), plan=plan, parallel=True)
