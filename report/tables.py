"""Pure summaries of warehouse frames for the run report: counts per split, reason groups,
label coverage, retention of normal and abnormal records, generation costs and stage wall times."""

from __future__ import annotations

import json

import polars as pl

from schemas.ids import REPAIR, SampleId
from schemas.tables import SPLITS

TOTAL = "total"
#: A generation's kind: ``repair`` for the answer to a repair, else its sample's kind.
KIND = (pl.when(SampleId.attempt_expr() > 1).then(pl.lit(REPAIR))
        .otherwise(SampleId.kind_expr().fill_null("other")))


def per_split(counts: pl.DataFrame, measures: list[str]) -> pl.DataFrame:
    """Long ``(measure, split, n)`` rows -> one row per measure of ``measures`` (0 where it has no
    rows) with a column per split of :data:`schemas.tables.SPLITS` and the total."""
    rows = [{"measure": m, **{s: 0 for s in SPLITS}} for m in measures]
    index = dict(zip(measures, rows))
    for measure, split, n in counts.select("measure", "split", "n").iter_rows():
        index[measure][split] += n
    return pl.DataFrame(rows, schema={"measure": pl.Utf8, **{s: pl.Int64 for s in SPLITS}}).with_columns(
        pl.sum_horizontal(SPLITS).alias(TOTAL))


def reason_groups(reasons: pl.Series) -> pl.DataFrame:
    """Reasons grouped by their prefix (the text before the first ``:``, numbers as ``N``),
    most frequent first, each with its count and one full example."""
    df = pl.DataFrame({"example": reasons.drop_nulls().cast(pl.Utf8)})
    prefix = pl.col("example").str.split(":").list.first().str.replace_all(r"\d+", "N").str.strip_chars()
    return (df.with_columns(reason=prefix).group_by("reason")
            .agg(n=pl.len().cast(pl.Int64), example=pl.col("example").min())
            .sort(["n", "reason"], descending=[True, False]).select("reason", "n", "example"))


def label_coverage(labels: dict[str, pl.Series], names: dict[str, str]) -> pl.DataFrame:
    """Per label concept, the records carrying it at each stage of ``labels`` (stage -> a Series
    of concept-id lists, the source first), ``kept`` = last stage / source and ``lost`` (in the
    source, absent from the last stage); rarest source concepts first."""
    stages = list(labels)
    counts = [(s.list.unique().explode().drop_nulls().value_counts(name=stage)
               .rename({s.name: "concept"}).with_columns(pl.col("concept").cast(pl.Utf8)))
              for stage, s in labels.items()]
    out = counts[0]
    for frame in counts[1:]:
        out = out.join(frame, on="concept", how="left")
    source, last = stages[0], stages[-1]
    out = out.with_columns(pl.col(stages[1:]).fill_null(0).cast(pl.Int64), pl.col(source).cast(pl.Int64))
    description = pl.col("concept").replace_strict(names, default="", return_dtype=pl.Utf8)
    return (out.with_columns(description=description, kept=pl.col(last) / pl.col(source), lost=pl.col(last) == 0)
            .sort([source, "concept"]).select("concept", "description", *stages, "kept", "lost"))


#: Statements a normal record carries; any other makes it abnormal (retention).
NORMAL = ("NORM", "SR")
#: Selection codes that leave a record out by design, not for what it is: one per signal, one per subject.
BY_DESIGN = ("duplicate", "subject")
#: Selection codes of records that cannot be read at all.
UNREADABLE = ("error", "unusable")


def retention(records: pl.DataFrame) -> pl.DataFrame:
    """Normal against abnormal records (``records``: labels, code, accepted): the readable ones
    less those left out by design (:data:`BY_DESIGN`), how many reached the corpus and the share;
    a last row gives the abnormal share over the normal one."""
    df = records.filter(~pl.col("code").is_in(UNREADABLE + BY_DESIGN)).with_columns(
        group=pl.when(pl.col("labels").list.set_difference(list(NORMAL)).list.len() > 0)
        .then(pl.lit("abnormal")).otherwise(pl.lit("normal")))
    out = pl.concat([df, df.with_columns(group=pl.lit(TOTAL))]).group_by("group").agg(
        records=pl.len().cast(pl.Int64), accepted=pl.col("accepted").sum().cast(pl.Int64))
    out = out.with_columns(kept=pl.col("accepted") / pl.col("records")).sort(
        pl.col("group").replace_strict({"normal": 0, "abnormal": 1, TOTAL: 2}, default=3))
    rate = dict(out.select("group", "kept").rows())
    ratio = rate.get("abnormal", 0.0) / rate["normal"] if rate.get("normal") else None
    return pl.concat([out, pl.DataFrame({"group": ["abnormal / normal"], "records": [None], "accepted": [None],
                                         "kept": [ratio]}, schema=out.schema)])


def coverage_stages(coverage: pl.DataFrame) -> list[str]:
    """The stage columns of a :func:`label_coverage` frame, the source first."""
    return coverage.columns[2:-2]


def coverage_headline(coverage: pl.DataFrame) -> str:
    """One sentence: how many source concepts the last stage keeps, and those it loses."""
    stages = coverage_stages(coverage)
    source, last = stages[0], stages[-1]
    lost = coverage.filter("lost")["concept"].to_list()
    kept = coverage.height - len(lost)
    text = f"{kept} of {coverage.height} label concepts of the {source} records are in the {last} records"
    return text + (f"; lost entirely: {', '.join(lost)}" if lost else "; none lost")


def generation_costs(generations: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """API attempts per kind (from the sample id, :data:`KIND`): attempts, ok, tokens in and
    out, cost, and the attempts and cost written by ``run_id``; the most attempts first, then
    the total."""
    by_kind = (generations.with_columns(kind=KIND,
                                        this_run=(pl.col("run_id") == run_id).fill_null(False))
               .group_by("kind").agg(
                   attempts=pl.len().cast(pl.Int64), ok=(pl.col("status") == "ok").sum().cast(pl.Int64),
                   tokens_in=pl.col("tokens_in").sum(), tokens_out=pl.col("tokens_out").sum(),
                   cost_usd=pl.col("cost_usd").fill_null(0.0).sum(),
                   run_attempts=pl.col("this_run").sum().cast(pl.Int64),
                   run_cost_usd=pl.col("cost_usd").filter("this_run").fill_null(0.0).sum())
               .sort(["attempts", "kind"], descending=[True, False]))
    total = by_kind.select(pl.lit(TOTAL).alias("kind"), pl.exclude("kind").sum())
    return pl.concat([by_kind, total])


def count_text(value) -> str:
    """A value of ``runs.counts`` as text: numbers with separators, a mapping as ``name value, ...``
    (one inside it in parentheses, a deeper one by its size)."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_inner(v)}" for k, v in value.items()) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def _inner(value) -> str:
    if not isinstance(value, dict):
        return count_text(value)
    if any(isinstance(v, dict) for v in value.values()):
        return f"(items: {len(value):,})"
    return f"({count_text(value)})"


def stage_counts(counts_json: str) -> pl.DataFrame:
    """``runs.counts`` (JSON ``{stage: {count: value}}``) -> one row per stage, its counts as text."""
    counts = json.loads(counts_json or "{}")
    return pl.DataFrame({"stage": list(counts), "counts": [count_text(c) for c in counts.values()]},
                        schema={"stage": pl.Utf8, "counts": pl.Utf8})


def stage_wall(wall_json: str) -> pl.DataFrame:
    """``runs.stage_wall_s`` (JSON ``{stage: seconds}``) -> stage, seconds and share of the sum,
    then the total."""
    wall = json.loads(wall_json or "{}")
    df = pl.DataFrame({"stage": list(wall), "wall_s": [float(v) for v in wall.values()]},
                      schema={"stage": pl.Utf8, "wall_s": pl.Float64})
    total = df["wall_s"].sum()
    df = pl.concat([df, pl.DataFrame({"stage": [TOTAL], "wall_s": [total]})])
    return df.with_columns(share=pl.col("wall_s") / total if total else pl.lit(None, pl.Float64))
