"""Any folder of WFDB records (e.g. LUDB). Metadata comes from header comments where present:
``<age>: 51`` / ``<sex>: F`` / ``<diagnoses>:`` followed by statements (LUDB), or
``Age: 74`` / ``Sex: Male`` / ``Dx: 426783006,164889003`` (PhysioNet/CinC Challenge 2020/2021
headers: SNOMED CT codes, mapped by ``sources/data/snomed.csv`` and shown by their term in
``label_text``)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from sources import storage
from sources.errors import SourceError
from sources.splits import hashed_splits
from sources.vocabulary import map_statement_rows, snomed_term

SOURCE = "wfdb"
_KEY_VALUE = re.compile(r"^<?([A-Za-z_ ]+)>?:\s*(.*)$")
_SEX = {"m": "M", "male": "M", "f": "F", "female": "F"}


def parse_comments(lines: list[str]) -> dict:
    """age, sex, subject and diagnosis statements from header comment lines."""
    meta: dict = {"statements": []}
    in_diagnoses = False
    for line in lines:
        m = _KEY_VALUE.match(line)
        key = m.group(1).strip().lower() if m else ""
        if m and key in ("age", "sex", "subject_id", "patient_id", "dx", "diagnoses"):
            value = m.group(2).strip()
            in_diagnoses = key == "diagnoses"
            if key == "age":
                meta["age"] = float(value) if re.fullmatch(r"\d+(\.\d+)?", value) else None
            elif key == "sex":
                meta["sex"] = _SEX.get(value.lower())
            elif key in ("subject_id", "patient_id"):
                meta["subject_id"] = value
            elif key == "dx":
                meta["statements"] += [s.strip() for s in value.split(",") if s.strip()]
        elif in_diagnoses and line:
            meta["statements"].append(line)
    return meta


def list_records(root: str | Path) -> tuple[list[str], list[str]]:
    """Record ids (``wfdb:<path relative to root>``) and paths of every ``*.hea`` under ``root``."""
    root = storage.resolve(root)
    if not storage.is_dir(root):
        raise SourceError(f"WFDB folder not found: {root}")
    rels = [r.removesuffix(".hea") for r in storage.find(root, ".hea")]
    if not rels:
        raise SourceError(f"no WFDB headers (*.hea) under {root}")
    return [f"wfdb:{r}" for r in rels], [storage.join(root, r) for r in rels]


def _comments(data: bytes | Exception) -> list[str]:
    """A header's comment lines; none when it cannot be read (ingest makes that record an error row)."""
    if isinstance(data, Exception):
        return []
    return [ln[1:].strip() for ln in data.decode("latin-1").splitlines() if ln.startswith("#")]


def manifest(root: str | Path) -> pl.DataFrame:
    """One row per ``*.hea`` under ``root``, with metadata from its comments (headers read in one
    batch, each distinct statement mapped once; ``label_likelihood`` from its uncertainty marker,
    :func:`sources.vocabulary.map_statement_rows`)."""
    ids, paths = list_records(root)
    metas = [parse_comments(_comments(d)) for d in storage.read_many([f"{p}.hea" for p in paths])]
    rows = [i for i, m in enumerate(metas) for _ in m["statements"]]
    statements = [s for m in metas for s in m["statements"]]
    subjects = pl.Series([m.get("subject_id") or rid[5:] for m, rid in zip(metas, ids)], dtype=pl.Utf8)
    df = pl.DataFrame({
        "record_id": ids, "source": SOURCE, "subject_id": subjects, "path": paths,
        "sex": pl.Series([m.get("sex") for m in metas], dtype=pl.Utf8),
        "age": pl.Series([m.get("age") for m in metas], dtype=pl.Float64),
    })
    labels = map_statement_rows(pl.Series(rows, dtype=pl.UInt32), pl.Series(statements, dtype=pl.Utf8), len(ids))
    text = ["; ".join(snomed_term(s).strip().rstrip(".") for s in m["statements"]) or None for m in metas]
    return pl.concat([df, labels], how="horizontal").with_columns(
        label_text=pl.Series(text, dtype=pl.Utf8), split=hashed_splits(SOURCE, subjects))
