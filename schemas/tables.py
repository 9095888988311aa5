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
        "split": _col(STR, pa.Check.isin(["train", "val", "test"]), nullable=False),
        "status": _col(STR, pa.Check.isin(["ok", "error"]), nullable=False),
        "error": _col(STR),
        "lead_names": _col(STR),
        **{c: _col(F64) for c in MACHINE_COLUMNS},
    },
    strict=True,
    checks=[pa.Check(
        lambda data: data.lazyframe.select((pl.col("status") == "ok") | pl.col("error").is_not_null()),
        error="an error row needs an error text",
    )],
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {"records": RECORDS}


def conform(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """Add the schema's missing columns as nulls, order and cast them, then validate."""
    schema = SCHEMAS[table]
    cols = []
    for name, column in schema.columns.items():
        dtype = column.dtype.type
        cols.append(pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype).alias(name))
    return schema.validate(df.select(cols))
