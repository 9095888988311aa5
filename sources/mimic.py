"""MIMIC-IV-ECG 1.0 (Gow et al., PhysioNet 2023): ``record_list.csv``,
``machine_measurements.csv`` (report_0..report_17 and the cart's fiducials) and
``files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN`` WFDB records."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sources.errors import SourceError
from sources.splits import hashed_splits
from sources.vocabulary import map_statements

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
    root = Path(root).resolve()
    rec_list = root / "record_list.csv"
    if not rec_list.is_file():
        raise SourceError(f"not a MIMIC-IV-ECG folder (no record_list.csv): {root}")
    records = pl.read_csv(rec_list, infer_schema_length=0)
    mm_path = root / "machine_measurements.csv"
    if mm_path.is_file():
        mm = pl.read_csv(mm_path, infer_schema_length=0).drop("subject_id", "ecg_time", strict=False)
        records = records.join(mm, on="study_id", how="left")
    for col in [*REPORTS, *MACHINE]:
        if col not in records.columns:
            records = records.with_columns(pl.lit(None, pl.Utf8).alias(col))
    statements = [[s for s in row if s] for row in records.select(REPORTS).rows()]
    mapped = [map_statements(s) for s in statements]
    subjects = records["subject_id"]
    return records.select(
        record_id=pl.format("mimic:{}", pl.col("study_id")),
        source=pl.lit(SOURCE),
        subject_id=pl.col("subject_id"),
        study_id=pl.col("study_id"),
        path=pl.lit(str(root) + "/") + pl.col("path"),
        **{new: pl.col(old).cast(pl.Float64, strict=False).replace(SENTINEL, None) for old, new in MACHINE.items()},
    ).with_columns(
        labels=pl.Series([m.concepts for m in mapped], dtype=pl.List(pl.Utf8)),
        flags=pl.Series([m.flags for m in mapped], dtype=pl.List(pl.Utf8)),
        unmapped=pl.Series([m.unmapped for m in mapped], dtype=pl.List(pl.Utf8)),
        label_text=pl.Series(["; ".join(s) or None for s in statements], dtype=pl.Utf8),
        split=hashed_splits(SOURCE, subjects),
    )
