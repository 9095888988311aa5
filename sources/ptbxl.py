"""PTB-XL 1.0.3 (Wagner et al., Scientific Data 7:154, 2020): ``ptbxl_database.csv`` +
``scp_statements.csv`` + ``records500/`` (preferred) or ``records100/``."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from sources import storage
from sources.errors import SourceError
from sources.splits import ptbxl_split
from sources.vocabulary import map_codes

SOURCE = "ptbxl"
AGE_CAP = 90.0  # PTB-XL writes 300 for ages above 89 (HIPAA); we store 90
NOISE_COLUMNS = ("baseline_drift", "static_noise", "burst_noise", "electrodes_problems")  # quality flags


LABELS = {"labels": pl.List(pl.Utf8), "label_likelihood": pl.List(pl.Float64), "label_text": pl.Utf8,
          "unmapped": pl.List(pl.Utf8)}


def parse_scp_codes(text: str | None) -> dict[str, float]:
    """The ``scp_codes`` column: a Python dict literal of SCP code -> likelihood (%), e.g.
    ``{'NORM': 100.0, 'SR': 0.0}``, read as JSON once its quotes are (a tenth of ``ast.literal_eval``'s time)."""
    return {str(k): float(v) for k, v in json.loads(text.replace("'", '"')).items()} if text else {}


def _descriptions(root: str) -> dict[str, str]:
    path = storage.join(root, "scp_statements.csv")
    if not storage.is_file(path):
        return {}
    df = storage.read_csv(path, infer_schema_length=0)
    return dict(zip(df[df.columns[0]], df["description"]))


def _labels(scp_codes: pl.Series, descriptions: dict[str, str]) -> pl.DataFrame:
    """labels, label_likelihood, label_text and unmapped of each ``scp_codes`` value, worked out
    once per distinct value (PTB-XL repeats them: 21,799 rows, a few thousand values)."""
    out: dict[str, list] = {c: [] for c in LABELS}
    distinct = scp_codes.unique(maintain_order=True)
    for text in distinct:
        codes = sorted(parse_scp_codes(text).items(), key=lambda kv: -kv[1])
        mapped = map_codes([c for c, _ in codes])
        likelihood = dict(codes)
        out["labels"].append(mapped.concepts)
        out["label_likelihood"].append([likelihood[c] for c in mapped.concepts])
        names = [descriptions.get(c, c) for c, _ in codes]
        out["label_text"].append("; ".join(f"{n} ({lik:.0f}%)" if lik > 0 else n for n, (_, lik) in zip(names, codes))
                                 or None)
        out["unmapped"].append(mapped.unmapped)
    table = pl.DataFrame(out, schema=LABELS).with_columns(scp_codes=distinct)
    return scp_codes.to_frame("scp_codes").join(table, on="scp_codes", how="left", nulls_equal=True,
                                                maintain_order="left").drop("scp_codes")


def _flags() -> pl.Expr:
    """PTB-XL's signal-quality columns as flags (``static_noise: , I-V1,`` -> ``static_noise: I-V1``)."""
    values = {name: pl.col(name).str.strip_chars(" ,") for name in NOISE_COLUMNS}
    flags = [pl.when(v != "").then(pl.lit(f"{name}: ") + v) for name, v in values.items()]
    return pl.concat_list(flags).list.drop_nulls()


def _record_paths(root: str, hr: pl.Series, lr: pl.Series) -> pl.Series:
    """Per row the 500 Hz record when its header exists, else the 100 Hz one, else the 500 Hz
    path (an error row at ingest); existence from one listing per folder."""
    listing = storage.Listing()

    def pick(h: str | None, lo: str | None) -> str:
        for rel in (h, lo):
            if rel and f"{storage.join(root, rel)}.hea" in listing:
                return storage.join(root, rel)
        return storage.join(root, h or lo or "missing")

    return pl.Series([pick(h, lo) for h, lo in zip(hr, lr)], dtype=pl.Utf8)


def manifest(root: str | Path) -> pl.DataFrame:
    """One row per ``ptbxl_database.csv`` row; the record path prefers the 500 Hz file."""
    root = storage.resolve(root)
    db = storage.join(root, "ptbxl_database.csv")
    if not storage.is_file(db):
        raise SourceError(f"not a PTB-XL folder (no ptbxl_database.csv): {root}")
    df = storage.read_csv(db, infer_schema_length=0)
    df = df.with_columns(pl.lit(None, pl.Utf8).alias(c) for c in NOISE_COLUMNS if c not in df.columns)
    return df.select(
        record_id=pl.format("ptbxl:{}", pl.col("ecg_id").cast(pl.Int64).cast(pl.Utf8).str.zfill(5)),
        source=pl.lit(SOURCE),
        subject_id=pl.col("patient_id").cast(pl.Float64).cast(pl.Int64).cast(pl.Utf8),
        path=_record_paths(root, df["filename_hr"], df["filename_lr"]),
        sex=pl.col("sex").replace_strict({"0": "M", "1": "F"}, default=None),
        age=pl.col("age").cast(pl.Float64).clip(upper_bound=AGE_CAP),
        split=ptbxl_split(pl.col("strat_fold").cast(pl.Int64)),
        flags=_flags(),
    ).with_columns(_labels(df["scp_codes"], _descriptions(root)))
