"""Any folder of WFDB records (e.g. LUDB). Metadata comes from header comments where present:
``<age>: 51`` / ``<sex>: F`` / ``<diagnoses>:`` followed by statements (LUDB), or
``Age: 74`` / ``Sex: Male`` / ``Dx: 426783006,164889003`` (PhysioNet/CinC Challenge 2020/2021
headers: SNOMED CT codes, mapped by ``sources/data/snomed.csv`` and shown by their term in
``label_text``)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from sources.errors import SourceError
from sources.splits import hashed_splits
from sources.vocabulary import map_statements, snomed_term

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
    root = Path(root).resolve()
    if not root.is_dir():
        raise SourceError(f"WFDB folder not found: {root}")
    rels = [hea.relative_to(root).with_suffix("").as_posix() for hea in sorted(root.rglob("*.hea"))]
    if not rels:
        raise SourceError(f"no WFDB headers (*.hea) under {root}")
    return [f"wfdb:{r}" for r in rels], [str(root / r) for r in rels]


def manifest(root: str | Path) -> pl.DataFrame:
    """One row per ``*.hea`` under ``root``, with metadata from its comments."""
    rows = []
    for record_id, path in zip(*list_records(root)):
        text = Path(f"{path}.hea").read_text(encoding="latin-1")
        meta = parse_comments([ln[1:].strip() for ln in text.splitlines() if ln.startswith("#")])
        mapped = map_statements(meta["statements"])
        rows.append({
            "record_id": record_id, "source": SOURCE, "subject_id": meta.get("subject_id") or record_id[5:],
            "path": path, "sex": meta.get("sex"), "age": meta.get("age"),
            "labels": mapped.concepts, "flags": mapped.flags, "unmapped": mapped.unmapped,
            "label_text": "; ".join(snomed_term(s).strip().rstrip(".") for s in meta["statements"]) or None,
        })
    df = pl.DataFrame(rows, schema_overrides={"labels": pl.List(pl.Utf8), "flags": pl.List(pl.Utf8),
                                               "unmapped": pl.List(pl.Utf8),
                                               "age": pl.Float64, "sex": pl.Utf8, "label_text": pl.Utf8})
    return df.with_columns(split=hashed_splits(SOURCE, df["subject_id"]))
