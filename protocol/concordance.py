"""The label-criteria table: what a record's measured findings say of each reference label.

``protocol/label_criteria.csv`` is the table a clinician reviews: per label concept the
criteria it ``expects`` positive (LAFB -> left axis deviation), the ones it ``contradicts``
(NORM -> every abnormal criterion, ``*abnormal``) and the ones that only ``support`` it (LVH
-> voltage: specific but insensitive, so a negative one never conflicts), each with its
source. :mod:`protocol.answer_key` reads it to keep, hedge or drop each label and to tell a
discordant record (its rhythm or main diagnosis contradicted) from the rest.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

from protocol.criteria import by_id

TABLE = Path(__file__).with_name("label_criteria.csv")
RELATIONS = ("expects", "contradicts", "supports")
ALL_ABNORMAL = "*abnormal"


@dataclass(frozen=True)
class Relation:
    concept: str
    criterion: str
    relation: str
    source: str


@lru_cache(maxsize=1)
def relations() -> tuple[Relation, ...]:
    """The label-criteria table, ``*abnormal`` expanded; checked against criteria.csv."""
    criteria = by_id()
    out: list[Relation] = []
    with TABLE.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["relation"] not in RELATIONS:
                raise ValueError(f"label_criteria.csv: {r['concept']}: unknown relation {r['relation']!r}")
            ids = [c for c, v in criteria.items() if v.kind == "abnormal"] if r["criterion"] == ALL_ABNORMAL else [r["criterion"]]
            for cid in ids:
                if cid not in criteria:
                    raise ValueError(f"label_criteria.csv: {r['concept']}: unknown criterion {cid!r}")
                out.append(Relation(r["concept"], cid, r["relation"], r["source"]))
    return tuple(out)


@lru_cache(maxsize=1)
def by_concept() -> dict[str, tuple[Relation, ...]]:
    """Each concept's relations, in the table's order."""
    out: dict[str, list[Relation]] = {}
    for r in relations():
        out.setdefault(r.concept, []).append(r)
    return {c: tuple(rs) for c, rs in out.items()}


#: The findings fields the answer key reads (:func:`protocol.answer_key.reconcile`).
JUDGED = ("positive", "value", "unit", "threshold", "min_age")


def by_record(findings: pl.DataFrame, fields: tuple[str, ...] = JUDGED) -> dict[str, dict[str, dict]]:
    """Each record's findings as ``{criterion: {field: value}}`` of ``fields``, gathered by one
    group-by rather than a frame per record."""
    grouped = findings.group_by("record_id", maintain_order=True).agg("criterion", *fields)
    return {rid: {c: dict(zip(fields, values)) for c, *values in zip(criteria, *columns)}
            for rid, criteria, *columns in grouped.rows()}
