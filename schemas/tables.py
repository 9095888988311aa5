"""Pandera (polars) contracts of the warehouse tables, checked on every write (DESIGN.md)."""

from __future__ import annotations

import polars as pl
import pandera.polars as pa

STR, F64, I64, BOOL = pl.Utf8, pl.Float64, pl.Int64, pl.Boolean
STRS, F64S = pl.List(pl.Utf8), pl.List(pl.Float64)


def _col(dtype, *checks, nullable=True, unique=False) -> pa.Column:
    return pa.Column(dtype, list(checks), nullable=nullable, unique=unique)


MACHINE_COLUMNS = (  # MIMIC-IV-ECG cart measurements, kept for agreement checks with FeatureDB
    "machine_rr_interval_ms", "machine_p_onset_ms", "machine_p_end_ms", "machine_qrs_onset_ms",
    "machine_qrs_end_ms", "machine_t_end_ms", "machine_p_axis_deg", "machine_qrs_axis_deg",
    "machine_t_axis_deg",
)

RECORDS = pa.DataFrameSchema(
    {
        "record_id": _col(STR, pa.Check.str_matches(r"^(ptbxl|mimic|wfdb):.+"), nullable=False, unique=True),
        "source": _col(STR, pa.Check.isin(["ptbxl", "mimic", "wfdb"]), nullable=False),
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
        "split": _col(STR, pa.Check.isin(["train", "val", "test"]), nullable=False),
        "status": _col(STR, pa.Check.isin(["ok", "error"]), nullable=False),
        "error": _col(STR),
        "lead_names": _col(STR),
        "extra_leads": _col(STRS, nullable=False),  # signals beyond the 12 standard leads, e.g. vx, vy, vz
        "signal_sha256": _col(STR, pa.Check.str_matches(r"^[0-9a-f]{64}$")),  # null for error rows
        "duplicate_of": _col(STR),  # record_id of the first record with the same signal
        **{c: _col(F64) for c in MACHINE_COLUMNS},
    },
    strict=True,
    checks=[pa.Check(
        lambda data: data.lazyframe.select((pl.col("status") == "ok") | pl.col("error").is_not_null()),
        error="an error row needs an error text",
    )],
)

GLOBAL_FEATURES = (  # DESIGN.md: units in the name, NaN when not measurable
    "hr_bpm", "rr_mean_ms", "rr_sd_ms", "p_dur_ms", "pr_ms", "qrs_ms", "qt_ms", "qtc_bazett_ms",
    "qtc_fridericia_ms", "qtc_framingham_ms", "qtc_hodges_ms", "p_axis_deg", "qrs_axis_deg", "t_axis_deg",
)
QUALITY = ["ok", "poor", "unusable"]
LEAD_QUALITY = ["ok", "flat", "saturated", "noisy", "missing"]
LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]

FEATURES = pa.DataFrameSchema(
    {
        "record_id": _col(STR, nullable=False, unique=True),
        **{c: _col(F64) for c in GLOBAL_FEATURES},
        "quality": _col(STR, pa.Check.isin(QUALITY), nullable=False),
        "error": _col(STR),
    },
    strict=False,
)

LEAD_FEATURES = pa.DataFrameSchema(
    {
        "record_id": _col(STR, nullable=False),
        "lead": _col(STR, pa.Check.isin(LEADS), nullable=False),
        **{c: _col(F64) for c in ("p_amp_mv", "q_amp_mv", "r_amp_mv", "s_amp_mv", "t_amp_mv", "st_j_mv", "st_j60_mv")},
        "quality": _col(STR, pa.Check.isin(LEAD_QUALITY), nullable=False),
    },
    strict=False,
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
        "positive": _col(BOOL),
        "unit": _col(STR),
    },
    strict=True,
    unique=["record_id", "criterion"],
    checks=[pa.Check(
        lambda data: data.lazyframe.select(pl.col("value").is_not_null() | pl.col("positive").is_null()),
        error="an unmeasurable value must give positive = NULL, not false",
    )],
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
        "prompt_sha256": _col(STR, pa.Check.str_matches(r"^[0-9a-f]{64}$"), nullable=False),
        "messages": _col(STR, nullable=False),
    },
    strict=True,
)

GENERATIONS = pa.DataFrameSchema(
    {
        "sample_id": _col(STR, nullable=False),
        "prompt_sha256": _col(STR, nullable=False),
        "backend": _col(STR, nullable=False),
        "model": _col(STR),
        "attempt": _col(I64, pa.Check.ge(1), nullable=False),
        "status": _col(STR, pa.Check.isin(["ok", "error"]), nullable=False),
        "response": _col(STR),
        "tokens_in": _col(I64, pa.Check.ge(0)),
        "tokens_out": _col(I64, pa.Check.ge(0)),
        "latency_ms": _col(F64, pa.Check.ge(0)),
        "error": _col(STR),
    },
    strict=False,
    checks=[pa.Check(
        lambda data: data.lazyframe.select((pl.col("status") == "ok") | pl.col("error").is_not_null()),
        error="a failed attempt needs its reason",
    )],
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {"prompts": PROMPTS, "generations": GENERATIONS, "records": RECORDS, "features": FEATURES, "lead_features": LEAD_FEATURES,
                                          "findings": FINDINGS, "concordance": CONCORDANCE}


def conform(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """Cast the schema's columns (missing ones as nulls) and put them first, keep other columns
    unless the schema is strict, then validate."""
    schema = SCHEMAS[table]
    cols = [pl.col(name).cast(c.dtype.type) if name in df.columns else pl.lit(None, c.dtype.type).alias(name)
            for name, c in schema.columns.items()]
    extra = [] if schema.strict else [c for c in df.columns if c not in schema.columns]
    return schema.validate(df.select(*cols, *extra))
