"""PTB-XL 1.0.3 (Wagner et al., Scientific Data 7:154, 2020): ``ptbxl_database.csv`` +
``scp_statements.csv`` + ``records500/`` (preferred) or ``records100/``."""

from __future__ import annotations

import ast
from pathlib import Path

import polars as pl

from sources.errors import SourceError
from sources.splits import ptbxl_split
from sources.vocabulary import map_codes

SOURCE = "ptbxl"
AGE_CAP = 90.0  # PTB-XL writes 300 for ages above 89 (HIPAA); we store 90
NOISE_COLUMNS = ("baseline_drift", "static_noise", "burst_noise", "electrodes_problems")  # quality flags


def parse_scp_codes(text: str | None) -> dict[str, float]:
    """The ``scp_codes`` column: a Python dict literal of SCP code -> likelihood (%)."""
    return {str(k): float(v) for k, v in ast.literal_eval(text).items()} if text else {}


def _descriptions(root: Path) -> dict[str, str]:
    path = root / "scp_statements.csv"
    if not path.exists():
        return {}
    df = pl.read_csv(path, infer_schema_length=0)
    return dict(zip(df[df.columns[0]], df["description"]))


def _label_columns(scp_codes: str | None, descriptions: dict[str, str]) -> dict:
    codes = sorted(parse_scp_codes(scp_codes).items(), key=lambda kv: -kv[1])
    text = "; ".join(f"{descriptions.get(c, c)} ({lik:.0f}%)" if lik > 0 else descriptions.get(c, c)
                     for c, lik in codes)
    mapped = map_codes([c for c, _ in codes])
    likelihood = dict(codes)
    return {"labels": mapped.concepts, "label_likelihood": [likelihood[c] for c in mapped.concepts],
            "label_text": text or None, "unmapped": mapped.unmapped}


def _flags(row: tuple) -> list[str]:
    """PTB-XL's signal-quality columns as flags (``static_noise: , I-V1,``)."""
    return [f"{name}: {value.strip(' ,')}" for name, value in zip(NOISE_COLUMNS, row) if value and value.strip(" ,")]


def manifest(root: str | Path) -> pl.DataFrame:
    """One row per ``ptbxl_database.csv`` row; the record path prefers the 500 Hz file."""
    root = Path(root).resolve()
    db = root / "ptbxl_database.csv"
    if not db.is_file():
        raise SourceError(f"not a PTB-XL folder (no ptbxl_database.csv): {root}")
    df = pl.read_csv(db, infer_schema_length=0)
    descriptions = _descriptions(root)

    def pick(hr: str | None, lr: str | None) -> str:
        for rel in (hr, lr):
            if rel and (root / f"{rel}.hea").exists():
                return str(root / rel)
        return str(root / (hr or lr or "missing"))

    labels = [_label_columns(s, descriptions) for s in df["scp_codes"]]
    for col in NOISE_COLUMNS:
        if col not in df.columns:
            df = df.with_columns(pl.lit(None, pl.Utf8).alias(col))
    flags = [_flags(r) for r in df.select(NOISE_COLUMNS).rows()]
    return df.select(
        record_id=pl.format("ptbxl:{}", pl.col("ecg_id").cast(pl.Int64).cast(pl.Utf8).str.zfill(5)),
        source=pl.lit(SOURCE),
        subject_id=pl.col("patient_id").cast(pl.Float64).cast(pl.Int64).cast(pl.Utf8),
        path=pl.Series([pick(h, lr) for h, lr in zip(df["filename_hr"], df["filename_lr"])]),
        sex=pl.col("sex").replace_strict({"0": "M", "1": "F"}, default=None),
        age=pl.col("age").cast(pl.Float64).clip(upper_bound=AGE_CAP),
        split=ptbxl_split(pl.col("strat_fold").cast(pl.Int64)),
        flags=pl.Series(flags, dtype=pl.List(pl.Utf8)),
    ).with_columns(pl.DataFrame(labels, schema={"labels": pl.List(pl.Utf8), "label_likelihood": pl.List(pl.Float64),
                                                 "label_text": pl.Utf8, "unmapped": pl.List(pl.Utf8)}))
