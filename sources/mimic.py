"""MIMIC-IV-ECG 1.0 (Gow et al., PhysioNet 2023): ``record_list.csv``,
``machine_measurements.csv`` (report_0..report_17 and the cart's fiducials) and
``files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN`` WFDB records."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sources import storage
from sources.errors import SourceError
from sources.splits import hashed_splits
from sources.vocabulary import map_statement_rows

SOURCE = "mimic"
SENTINEL = 29999  # the cart's "not measured"
MACHINE = {  # machine_measurements.csv column -> records column
    "rr_interval": "machine_rr_interval_ms", "p_onset": "machine_p_onset_ms", "p_end": "machine_p_end_ms",
    "qrs_onset": "machine_qrs_onset_ms", "qrs_end": "machine_qrs_end_ms", "t_end": "machine_t_end_ms",
    "p_axis": "machine_p_axis_deg", "qrs_axis": "machine_qrs_axis_deg", "t_axis": "machine_t_axis_deg",
}
REPORTS = [f"report_{i}" for i in range(18)]


def manifest(root: str | Path) -> pl.DataFrame:
    """One row per ``record_list.csv`` row, joined with its machine measurements."""
    root = storage.resolve(root)
    rec_list = storage.join(root, "record_list.csv")
    if not storage.is_file(rec_list):
        raise SourceError(f"not a MIMIC-IV-ECG folder (no record_list.csv): {root}")
    records = storage.read_csv(rec_list, infer_schema_length=0)
    mm_path = storage.join(root, "machine_measurements.csv")
    if storage.is_file(mm_path):
        mm = storage.read_csv(mm_path, infer_schema_length=0).drop("subject_id", "ecg_time", strict=False)
        records = records.join(mm, on="study_id", how="left")
    records = records.with_columns(pl.lit(None, pl.Utf8).alias(c) for c in [*REPORTS, *MACHINE]
                                   if c not in records.columns)
    return records.select(
        record_id=pl.format("mimic:{}", pl.col("study_id")),
        source=pl.lit(SOURCE),
        subject_id=pl.col("subject_id"),
        study_id=pl.col("study_id"),
        path=pl.lit(root + "/") + pl.col("path"),
        **{new: pl.col(old).cast(pl.Float64, strict=False).replace(SENTINEL, None) for old, new in MACHINE.items()},
    ).with_columns(_labels(records), split=hashed_splits(SOURCE, records["subject_id"]))


def _labels(records: pl.DataFrame) -> pl.DataFrame:
    """labels, label_likelihood (a hedged statement's marker, e.g. "Possible ...": 35; a plain
    one: 100), flags, unmapped (:func:`sources.vocabulary.map_statement_rows`) and label_text of
    each row from its reports, in report order."""
    long = (records.select(REPORTS).with_row_index("row")
            .unpivot(index="row", on=REPORTS, variable_name="report", value_name="statement")
            .filter(pl.col("statement").is_not_null() & (pl.col("statement") != ""))
            .with_columns(pl.col("report").replace_strict(REPORTS, range(len(REPORTS)), return_dtype=pl.Int32))
            .sort("row", "report"))
    text = long.group_by("row").agg(label_text=pl.col("statement").str.join("; "))
    return pl.concat([
        map_statement_rows(long["row"], long["statement"], records.height),
        records.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"))
        .join(text, on="row", how="left", maintain_order="left").drop("row"),
    ], how="horizontal")
