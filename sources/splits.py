"""Deterministic subject-level splits: every record of a subject lands in the same split.

PTB-XL keeps its recommended stratified folds (Wagner et al. 2020: folds 1-8 train, 9 val,
10 test, assigned per patient). Other sources hash ``source:subject_id`` with SHA-256 into ten
buckets, so a split never depends on which other records were ingested with it.
"""

from __future__ import annotations

import hashlib

import polars as pl

PTBXL_FOLDS = {9: "val", 10: "test"}  # every other fold is train
BUCKETS = ("train",) * 8 + ("val", "test")


def ptbxl_split(strat_fold: pl.Expr) -> pl.Expr:
    return strat_fold.replace_strict(PTBXL_FOLDS, default="train", return_dtype=pl.Utf8)


def hashed_split(source: str, subject_id: str) -> str:
    digest = hashlib.sha256(f"{source}:{subject_id}".encode()).digest()
    return BUCKETS[int.from_bytes(digest[:8], "big") % len(BUCKETS)]


def hashed_splits(source: str, subjects: pl.Series) -> pl.Series:
    """:func:`hashed_split` of each subject, hashed once per distinct subject."""
    distinct = subjects.drop_nulls().unique()
    return subjects.replace_strict(distinct, [hashed_split(source, s) for s in distinct], default=None,
                                   return_dtype=pl.Utf8)
