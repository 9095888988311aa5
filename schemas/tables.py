"""Pandera (polars) contracts of the warehouse tables, checked on every write (docs/design.md)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.features import (
    LEAD_BOOL_COLUMNS,
    LEAD_COLUMNS,
    LEAD_QUALITY_NAMES,
    RECORD_BOOL_COLUMNS,
    RECORD_COLUMNS,
    RECORD_INT_COLUMNS,
    RECORD_QUALITY_NAMES,
)
from schemas.ecg import LEADS, ST_FORMS, T_POLARITIES

STR, F64, I64, I32, BOOL = pl.Utf8, pl.Float64, pl.Int64, pl.Int32, pl.Boolean
STRS, F64S = pl.List(pl.Utf8), pl.List(pl.Float64)


def _col(dtype, *checks, nullable=True, unique=False) -> pa.Column:
    return pa.Column(dtype, list(checks), nullable=nullable, unique=unique)


SPLITS = ("train", "val", "test")  # subject-level, from ingest
SOURCES = ("ptbxl", "mimic", "wfdb")  # record_id = "<source>:<native id>"
MACHINE_COLUMNS = (  # MIMIC-IV-ECG cart measurements, kept for agreement checks with FeatureDB
    "machine_rr_interval_ms", "machine_p_onset_ms", "machine_p_end_ms", "machine_qrs_onset_ms",
    "machine_qrs_end_ms", "machine_t_end_ms", "machine_p_axis_deg", "machine_qrs_axis_deg",
    "machine_t_axis_deg",
)

RECORDS = pa.DataFrameSchema(
    {
        "record_id": _col(STR, pa.Check.str_matches(rf"^({'|'.join(SOURCES)}):.+"), nullable=False, unique=True),
        "source": _col(STR, pa.Check.isin(list(SOURCES)), nullable=False),
        "subject_id": _col(STR, nullable=False),
        "study_id": _col(STR),
        "path": _col(STR, nullable=False),
        "fs": _col(F64, pa.Check.gt(0)),
        "n_samples": _col(I64, pa.Check.ge(0)),
        "sex": _col(STR, pa.Check.isin(["M", "F"])),
        "age": _col(F64, pa.Check.in_range(0, 120)),
        "labels": _col(STRS, nullable=False),
        "label_likelihood": _col(F64S),
        "label_text": _col(STR),
        "flags": _col(STRS),
        "unmapped": _col(STRS),
        "split": _col(STR, pa.Check.isin(list(SPLITS)), nullable=False),
        "status": _col(STR, pa.Check.isin(["ok", "error"]), nullable=False),
        "error": _col(STR),
        "lead_names": _col(STR),
        "extra_leads": _col(STRS, nullable=False),  # signals beyond the 12 standard leads, e.g. vx, vy, vz
        **{c: _col(F64) for c in MACHINE_COLUMNS},
    },
    strict=True,
    checks=[pa.Check(
        lambda data: data.lazyframe.select((pl.col("status") == "ok") | pl.col("error").is_not_null()),
        error="an error row needs an error text",
    )],
)

#: FeatureDB's columns, in its order (schemas.features: the docs/design.md globals with units in
#: the name and NaN when not measurable, each interval's beat-to-beat IQR and beat count, RR
#: statistics, ...); the typed and checked ones here, every other one Float64.
_FEATURE_COLUMNS = {
    "record_id": _col(STR, nullable=False, unique=True),
    **{c: _col(I32, pa.Check.ge(0)) for c in RECORD_INT_COLUMNS},
    **{c: _col(BOOL) for c in RECORD_BOOL_COLUMNS},
    "n_leads_ok": _col(I32, pa.Check.in_range(0, len(LEADS))),
    "quality": _col(STR, pa.Check.isin(list(RECORD_QUALITY_NAMES)), nullable=False),
    "qrs_lead_ms": _col(F64),  # median of the leads' own QRS durations
    "quality_flags": _col(STRS),
}
FEATURES = pa.DataFrameSchema(
    {
        **{c: _FEATURE_COLUMNS.get(c) or _col(F64) for c in RECORD_COLUMNS},
        "error": _col(STR),  # why an unreadable record has no measurement
        # SHA-256 of the decoded signal (sources.reader.signal_sha256): equal for one recording
        # stored twice; null for an unreadable record
        "signal_sha256": _col(STR, pa.Check.str_matches(r"^[0-9a-f]{64}$")),
    },
    strict=True,
)

_LEAD_FEATURE_COLUMNS = {
    "record_id": _col(STR, nullable=False),
    "lead": _col(STR, pa.Check.isin(list(LEADS)), nullable=False),
    **{c: _col(BOOL) for c in LEAD_BOOL_COLUMNS},
    "st_form": _col(STR, pa.Check.isin(list(ST_FORMS))),
    "t_polarity": _col(STR, pa.Check.isin(list(T_POLARITIES))),
    "quality": _col(STR, pa.Check.isin(list(LEAD_QUALITY_NAMES)), nullable=False),
}
LEAD_FEATURES = pa.DataFrameSchema(
    {c: _LEAD_FEATURE_COLUMNS.get(c) or _col(F64) for c in LEAD_COLUMNS},
    strict=True,
    unique=["record_id", "lead"],
)

FINDINGS = pa.DataFrameSchema(
    {
        "record_id": _col(STR, nullable=False),
        "criterion": _col(STR, nullable=False),
        "step": _col(I64, pa.Check.in_range(1, 6), nullable=False),
        "value": _col(F64),
        "threshold": _col(F64),
        "threshold_high": _col(F64),
        "min_age": _col(F64),
        "positive": _col(BOOL),  # as measured; NULL: not measurable
        "unit": _col(STR),
        "confounder": _col(STR),  # what makes it not applicable (protocol/confounders.csv); NULL: applicable
    },
    strict=True,
    unique=["record_id", "criterion"],
    checks=[pa.Check(
        lambda data: data.lazyframe.select(pl.col("value").is_not_null() | pl.col("positive").is_null()),
        error="an unmeasurable value must give positive = NULL, not false",
    )],
)

ANSWER_KEYS = pa.DataFrameSchema(
    {
        "record_id": _col(STR, nullable=False),
        "concept": _col(STR, nullable=False),
        "statement": _col(STR, nullable=False),  # as the answer writes it; '' when dropped
        "origin": _col(STR, pa.Check.isin(["label", "measured"]), nullable=False),
        "status": _col(STR, pa.Check.isin(["kept", "hedged", "dropped", "added"]), nullable=False),
        "reason": _col(STR, nullable=False),
        "criteria": _col(STRS, nullable=False),  # the criteria that support or contradict it, measured
    },
    strict=True,
    unique=["record_id", "concept"],
)

CONCORDANCE = pa.DataFrameSchema(
    {
        "record_id": _col(STR, nullable=False, unique=True),
        "status": _col(STR, pa.Check.isin(["concordant", "discordant", "unknown"]), nullable=False),
        "conflicts": _col(STRS, nullable=False),
    },
    strict=True,
    checks=[pa.Check(
        lambda data: data.lazyframe.select((pl.col("status") == "discordant") == (pl.col("conflicts").list.len() > 0)),
        error="a discordant record names its conflicts, and only a discordant one has any",
    )],
)

PROMPTS = pa.DataFrameSchema(
    {
        "sample_id": _col(STR, nullable=False, unique=True),
        "record_id": _col(STR, nullable=False),
        "kind": _col(STR, pa.Check.isin(["interpretation", "evidence"]), nullable=False),
        "template_version": _col(STR, nullable=False),
        "status": _col(STR, pa.Check.isin(["ok", "refused"]), nullable=False),
        "reason": _col(STR),  # why a record has no prompt
        "prompt_sha256": _col(STR, pa.Check.str_matches(r"^[0-9a-f]{64}$")),
        "messages": _col(STR),
    },
    strict=True,
    checks=[pa.Check(
        lambda data: data.lazyframe.select(
            pl.when(pl.col("status") == "ok").then(pl.col("messages").is_not_null() & pl.col("prompt_sha256").is_not_null())
            .otherwise(pl.col("messages").is_null() & pl.col("reason").is_not_null())),
        error="a prompt row has messages (status ok) or, without them, the reason",
    )],
)

GENERATIONS = pa.DataFrameSchema(
    {
        "sample_id": _col(STR, nullable=False),
        "record_id": _col(STR, nullable=False),
        "prompt_sha256": _col(STR, nullable=False),
        "backend": _col(STR, nullable=False),
        "model": _col(STR),
        "attempt": _col(I32, pa.Check.ge(1), nullable=False),
        "status": _col(STR, pa.Check.isin(["ok", "error"]), nullable=False),
        "response": _col(STR),
        "tokens_in": _col(I64, pa.Check.ge(0)),
        "tokens_out": _col(I64, pa.Check.ge(0)),
        "latency_ms": _col(F64, pa.Check.ge(0)),
        "error": _col(STR),
        "shard": _col(STR),
        "request_key": _col(STR),
        "finish_reason": _col(STR),
        "reasoning": _col(STR),
        "tokens_cached_in": _col(I64, pa.Check.ge(0)),
        "cost_usd": _col(F64, pa.Check.ge(0)),
        "cached": _col(BOOL),
        "created_at": _col(pl.Datetime("us", "UTC")),
        "final": _col(BOOL, nullable=False),  # the sample's outcome, one per sample over every backend
    },
    strict=True,
    checks=[pa.Check(
        lambda data: data.lazyframe.select((pl.col("status") == "ok") | pl.col("error").is_not_null()),
        error="a failed attempt needs its reason",
    )],
)

VALIDATIONS = pa.DataFrameSchema(
    {
        "sample_id": _col(STR, nullable=False),
        "record_id": _col(STR, nullable=False),
        "attempt": _col(I32, pa.Check.ge(1), nullable=False),  # 1: the generated answer, k + 1: repair k
        "answered_by": _col(STR, nullable=False),  # the generations sample_id of the response judged
        "response_sha256": _col(STR, pa.Check.str_matches(r"^[0-9a-f]{64}$"), nullable=False),
        "valid": _col(BOOL, nullable=False),
        "errors": _col(STRS, nullable=False),  # "code: message", in reading order
        "checker_version": _col(STR, nullable=False),
        "backend": _col(STR, nullable=False),
        "model": _col(STR),
        "final": _col(BOOL, nullable=False),  # the sample's last attempt: its verdict
    },
    strict=True,
    unique=["sample_id", "attempt"],
    checks=[pa.Check(lambda data: data.lazyframe.select(pl.col("valid") == (pl.col("errors").list.len() == 0)),
                     error="a response is valid exactly when it has no errors")],
)

EVIDENCE = pa.DataFrameSchema(
    {
        "sample_id": _col(STR, nullable=False),
        "record_id": _col(STR, nullable=False),
        "step": _col(STR, pa.Check.str_matches(r"^step_[1-6]_[a-z_]+$"), nullable=False),  # protocol/steps.py keys
        "phrase": _col(STR, nullable=False),
        "origin": _col(STR, pa.Check.isin(["llm", "rules"]), nullable=False),
    },
    strict=True,
)

SOLUTIONS = pa.DataFrameSchema(
    {
        "sample_id": _col(STR, nullable=False, unique=True),
        "record_id": _col(STR, nullable=False),
        "origin": _col(STR, pa.Check.isin(["llm", "rules"]), nullable=False),  # whose phrases it carries
        "steps_with_evidence": _col(I32, pa.Check.in_range(0, 6), nullable=False),
        "solution": _col(STR, nullable=False),  # ECG-R1's RL solution string
        "dropped": _col(STRS, nullable=False),  # "step: phrase (reason)" for every phrase not kept
    },
    strict=True,
)

STAGE_COUNTS = pa.DataFrameSchema(
    {
        "stage": _col(STR, nullable=False),
        "shard": _col(STR, nullable=False),
        "count": _col(STR, nullable=False),
        "value": _col(I64, pa.Check.ge(0), nullable=False),
        "written_at": _col(pl.Datetime("us", "UTC"), nullable=False),
    },
    strict=True,
)

#: Why the select stage left a record out (``selection.code``), in the order they are tried.
EXCLUSIONS = ("error", "unusable", "flagged", "duplicate", "discordant", "subject", "quota")

SELECTION = pa.DataFrameSchema(
    {
        "record_id": _col(STR, nullable=False, unique=True),
        "selected": _col(BOOL, nullable=False),
        "code": _col(STR, pa.Check.isin(["selected", *EXCLUSIONS]), nullable=False),
        "stratum": _col(STR),  # the record's rarest label concept among the candidates
        "rank": _col(I64, pa.Check.ge(1)),  # its place in the stratum's seeded order
        "reason": _col(STR, nullable=False),
    },
    strict=True,
    checks=[pa.Check(lambda data: data.lazyframe.select(pl.col("selected") == (pl.col("code") == "selected")),
                     error="a record is selected exactly when its code is 'selected'")],
)

RUNS = pa.DataFrameSchema(
    {
        "flow": _col(STR, nullable=False),  # the flow or command that ran
        "parameters": _col(STR, nullable=False),  # JSON, secrets left out
        "code_version": _col(STR, nullable=False),
        "template_version": _col(STR, nullable=False),
        "checker_version": _col(STR, nullable=False),
        "started_at": _col(pl.Datetime("us", "UTC"), nullable=False),
        "finished_at": _col(pl.Datetime("us", "UTC")),
        "status": _col(STR, pa.Check.isin(["running", "completed", "failed"]), nullable=False),
        "counts": _col(STR, nullable=False),  # JSON {stage: {count: value}}
        "stage_wall_s": _col(STR, nullable=False),  # JSON {stage: seconds}
        "error": _col(STR),
    },
    strict=True,
)

#: Every row of every table names the run that wrote it (``runs.run_id``; NULL outside a run).
LINEAGE = {"run_id": _col(STR)}
SCHEMAS: dict[str, pa.DataFrameSchema] = {name: schema.add_columns(LINEAGE) for name, schema in {
    "records": RECORDS, "features": FEATURES, "lead_features": LEAD_FEATURES, "findings": FINDINGS,
    "answer_keys": ANSWER_KEYS, "concordance": CONCORDANCE, "selection": SELECTION, "prompts": PROMPTS, "generations": GENERATIONS,
    "validations": VALIDATIONS, "evidence": EVIDENCE, "solutions": SOLUTIONS, "stage_counts": STAGE_COUNTS,
    "runs": RUNS,
}.items()}


class ContractError(ValueError):
    """A frame that does not have its table's columns: names the table and the columns."""


def frame(table: str, rows: list[dict], exclude: tuple[str, ...] = ()) -> pl.DataFrame:
    """``rows`` as a frame of ``table``'s columns and types, but the lineage columns (stamped
    when the warehouse writes it) and ``exclude`` (columns the caller adds)."""
    return pl.DataFrame(rows, schema={n: c.dtype.type for n, c in SCHEMAS[table].columns.items()
                                      if n not in LINEAGE and n not in exclude})


def conform(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """``df`` checked against the table's contract: exactly its columns (a missing, extra or
    unknown table is a :class:`ContractError` naming them; the lineage columns are NULL when
    absent), cast to their types, in the
    contract's order, then validated."""
    if table not in SCHEMAS:
        raise ContractError(f"no contract for table {table!r}; the tables are {', '.join(SCHEMAS)}")
    schema = SCHEMAS[table]
    df = df.with_columns(pl.lit(None, pl.Utf8).alias(c) for c in LINEAGE if c not in df.columns)
    missing = [c for c in schema.columns if c not in df.columns]
    extra = [c for c in df.columns if c not in schema.columns]
    if missing or extra:
        raise ContractError(f"{table}: " + "; ".join(
            f"{what} column{'s' if len(cols) > 1 else ''} {', '.join(cols)}"
            for what, cols in (("missing", missing), ("unknown", extra)) if cols))
    return schema.validate(df.select(pl.col(n).cast(c.dtype.type) for n, c in schema.columns.items()))
