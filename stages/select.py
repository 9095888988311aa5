"""Select stage: the corpus selection over every measured record -> ``selection``.

One row per ingested record, ``selected`` or the reason it is not, tried in the order of
``schemas.tables.EXCLUSIONS``: an ``error`` row of ingest; an ``unusable`` signal (FeatureDB
could not measure it); ``flagged``, when a statement of the record's answer key cannot be read
on the leads FeatureDB's own measures find usable (``protocol/concept_leads.csv``: an inferior
infarct needs two of II, III, aVF; a normal ECG eight of the twelve leads). A source's noise note
(PTB-XL's ``static_noise`` or ``baseline_drift`` columns) excludes nothing: it stays in
``records.flags``, since FeatureDB removes baseline wander and judges each lead's noise itself. Then a
``duplicate`` recording (the same ``features.signal_sha256`` as a record with a smaller id);
``discordant`` (the answer key contradicts the record's rhythm or main diagnosis, so no teacher
text can agree with its reader: :mod:`protocol.answer_key`); a second ECG of a ``subject`` (one
per subject by default, the one of the rarest stratum, so rare labels survive); and the
``quota`` of the stratified draw.

The draw is stratified by label concept: a record's stratum is its rarest concept among the
candidates (``unlabelled`` without one), strata are filled smallest first with an equal share
of what is left of the target (water-filling), so a rare stratum is kept whole and the common
ones share the rest. Inside a stratum records are ranked by a seeded hash of their id, so the
draw is reproducible and adding records does not reshuffle the others.

The stage's one shard, ``corpus``, computes the whole selection from its parameters
(:class:`stages.options.SelectionOptions`); it is written as one ``selection`` part per records
part, rewritten only when its rows change or an input part of that shard is newer (every part
with ``force``), so later stages redo only what changed.
"""

from __future__ import annotations

import hashlib

import polars as pl

from protocol import answer_key
from schemas.tables import EXCLUSIONS
from stages.options import SelectionOptions
from stages.stage import WHOLE, NotReady, Stage
from warehouse import Warehouse

UNLABELLED = "unlabelled"
#: Tables whose part of a shard, when newer than the shard's selection part, makes it stale.
INPUTS = ("records", "features", "answer_keys", "concordance")


def plan(warehouse: Warehouse, params: SelectionOptions, force: bool = False) -> list[str]:
    """The selection is always recomputed (it is cheap); ``force`` drops its parts first, so every
    part is rewritten."""
    if force:
        warehouse.drop_parts("selection", "")
    return [WHOLE]


def candidates(warehouse: Warehouse) -> pl.DataFrame:
    """Every ingested record with what the selection looks at, and its records part."""
    records = pl.concat([pl.read_parquet(p, columns=["record_id", "subject_id", "status", "error", "labels", "flags"])
                         .with_columns(part=pl.lit(p.stem)) for p in warehouse.parts("records")])
    features = warehouse.read("features", ["record_id", "quality", "quality_flags", "error", "signal_sha256"])
    concordance = warehouse.read("concordance", ["record_id", "status", "conflicts"])
    if features.is_empty():
        raise NotReady("no features: run the features stage before the selection")
    answer = (warehouse.read("answer_keys", ["record_id", "concept", "status"]).filter(pl.col("status") != "dropped")
              .group_by("record_id").agg(answer=pl.col("concept")))
    usable = (warehouse.read("lead_features", ["record_id", "lead", "quality"]).filter(pl.col("quality") == "ok")
              .group_by("record_id").agg(usable=pl.col("lead")))
    unreadable = [{"record_id": rid, "unreadable": answer_key.unreadable(list(concepts or []), set(leads or []))}
                  for rid, concepts, leads in answer.join(usable, on="record_id", how="left").rows()]
    return (records
            .join(features.rename({"error": "signal_error"}), on="record_id", how="left")
            .join(pl.DataFrame(unreadable, schema={"record_id": pl.Utf8, "unreadable": pl.List(pl.Utf8)}),
                  on="record_id", how="left")
            .join(concordance.rename({"status": "concordance"}), on="record_id", how="left"))


def exclusions(df: pl.DataFrame, exclude_flagged: bool, require_concordant: bool) -> pl.DataFrame:
    """``code`` and ``reason`` of the first exclusion that applies, before subjects and quotas."""
    flags = pl.concat_list(pl.col("quality_flags").fill_null([]), pl.col("flags").fill_null([]))
    first = (pl.col("signal_sha256").is_not_null()
             & (pl.col("record_id") != pl.col("record_id").min().over("signal_sha256")))
    rules = [
        ("error", pl.col("status") == "error", pl.format("ingest: {}", pl.col("error"))),
        ("unusable", pl.col("quality").is_null() | (pl.col("quality") == "unusable"),
         pl.format("signal not measurable: {}", pl.coalesce("signal_error", pl.col("quality_flags").list.join(", "),
                                                             pl.lit("no features row")))),
        ("flagged", pl.lit(exclude_flagged) & (pl.col("unreadable").list.len() > 0),
         pl.format("the answer key cannot be read on the usable leads: {} (quality flags: {})",
                   pl.col("unreadable").list.join("; "), flags.list.join("; "))),
        ("duplicate", first, pl.format("same signal as {}", pl.col("record_id").min().over("signal_sha256"))),
        ("discordant", pl.lit(require_concordant) & (pl.col("concordance") == "discordant"),
         pl.format("the answer key contradicts the rhythm or main diagnosis: {}", pl.col("conflicts").list.join("; "))),
    ]
    code, reason = pl.lit(None, pl.Utf8), pl.lit(None, pl.Utf8)
    for name, when, why in reversed(rules):
        code = pl.when(when.fill_null(False)).then(pl.lit(name)).otherwise(code)
        reason = pl.when(when.fill_null(False)).then(why).otherwise(reason)
    return df.with_columns(code=code, reason=reason)


def _order(seed: int, record_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{record_id}".encode(), digest_size=8).digest(), "big")


def quotas(sizes: dict[str, int], target: int) -> dict[str, int]:
    """Water-filling: strata smallest first, each gets at most an equal share of what is left."""
    left, out = target, {}
    for i, (stratum, size) in enumerate(sorted(sizes.items(), key=lambda kv: (kv[1], kv[0]))):
        out[stratum] = min(size, -(-left // (len(sizes) - i)))
        left -= out[stratum]
    return out


def draw(df: pl.DataFrame, target: int, per_subject: bool, seed: int) -> pl.DataFrame:
    """Strata, ranks and the subject and quota exclusions of the candidates left by
    :func:`exclusions`; every row ends with a code and a reason."""
    pool = df.filter(pl.col("code").is_null())
    freq = pool.select(pl.col("labels").explode().drop_nulls().value_counts()).unnest("labels")
    rarity = dict(zip(freq["labels"], freq["count"]))
    pool = pool.with_columns(
        stratum=pl.Series([min(labels, key=lambda c: (rarity[c], c)) if labels else UNLABELLED
                           for labels in pool["labels"].to_list()], dtype=pl.Utf8),
        order=pl.Series([_order(seed, r) for r in pool["record_id"]], dtype=pl.UInt64))
    pool = pool.with_columns(size=pl.len().over("stratum"))
    if per_subject:  # one ECG per subject: the one of the rarest stratum, then the seeded order
        pool = pool.sort("size", "stratum", "order").with_columns(
            keeper=pl.col("record_id").first().over("subject_id"))
        repeat = pool["keeper"] != pool["record_id"]
        pool = pool.with_columns(
            code=pl.when(repeat).then(pl.lit("subject")),
            reason=pl.when(repeat).then(pl.format("one ECG per subject: {} stands for subject {}", "keeper",
                                                  "subject_id")))
    kept = pool.filter(pl.col("code").is_null()).sort("order").with_columns(
        rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("stratum"), size=pl.len().over("stratum"))
    quota = quotas(dict(kept.group_by("stratum").len().rows()), target)
    kept = kept.with_columns(quota=pl.col("stratum").replace_strict(quota, return_dtype=pl.Int64))
    inside = pl.col("rank") <= pl.col("quota")
    kept = kept.with_columns(
        code=pl.when(inside).then(pl.lit("selected")).otherwise(pl.lit("quota")),
        reason=pl.format("stratum {}: rank {} of {}, quota {}", "stratum", "rank", "size", "quota"))
    done = pl.concat([df.filter(pl.col("code").is_not_null()).with_columns(stratum=pl.lit(None, pl.Utf8)),
                      pool.filter(pl.col("code").is_not_null()).select(*df.columns, "stratum"),
                      kept.select(*df.columns, "stratum", "rank")], how="diagonal_relaxed")
    return done.with_columns(selected=pl.col("code") == "selected")


def run_shard(warehouse: Warehouse, shard: str, params: SelectionOptions) -> dict[str, int]:
    """Compute the selection and write the parts whose rows or inputs changed."""
    df = exclusions(candidates(warehouse), params.exclude_flagged, params.require_concordant)
    df = draw(df, params.target, params.per_subject, params.seed)
    columns = ["record_id", "selected", "code", "stratum", "rank", "reason"]
    for (part,), rows in df.sort("record_id").partition_by("part", as_dict=True).items():
        if _stale(warehouse, part, rows.select(columns)):
            warehouse.write("selection", rows.select(columns), part)
    for gone in {p.stem for p in warehouse.parts("selection")} - set(df["part"]):
        warehouse.part("selection", gone).unlink()
    return {"candidates": df.height, **{c: int((df["code"] == c).sum()) for c in ("selected", *EXCLUSIONS)}}


def _stale(warehouse: Warehouse, part: str, rows: pl.DataFrame) -> bool:
    path = warehouse.part("selection", part)
    if not path.exists():
        return True
    inputs = [warehouse.part(t, part) for t in INPUTS]
    if any(p.exists() and p.stat().st_mtime > path.stat().st_mtime for p in inputs):
        return True
    return not pl.read_parquet(path, columns=rows.columns).equals(rows)


STAGE = Stage("select", input="records", outputs=("selection",),
              counts=("candidates", "selected", *EXCLUSIONS), run_shard=run_shard, params=SelectionOptions, plan=plan)
