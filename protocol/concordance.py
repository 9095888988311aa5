"""Label concordance: do a record's measured findings agree with its reference labels?

``protocol/label_criteria.csv`` is the table a clinician reviews: per label concept the
criteria it ``expects`` positive (LAFB -> left axis deviation), the ones it ``contradicts``
(NORM -> every abnormal criterion, ``*abnormal``) and the ones that only ``support`` it (LVH
-> voltage: specific but insensitive, so a negative one never conflicts), each with its
source. A record is

* ``discordant`` when an expected criterion is negative or a contradicting one positive
  (unless another of its labels expects or supports that criterion: "sinus bradycardia,
  otherwise normal ECG"); every conflict is named;
* ``unknown`` when no conflict is found but an expected criterion could not be measured;
* ``concordant`` otherwise.
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
def _by_concept() -> dict[str, list[tuple[int, Relation]]]:
    """Each concept's relations with their row numbers (to keep the table's order across concepts)."""
    out: dict[str, list[tuple[int, Relation]]] = {}
    for i, r in enumerate(relations()):
        out.setdefault(r.concept, []).append((i, r))
    return out


def _fmt(value: float | None, unit: str) -> str:
    return "not measurable" if value is None else f"{value:.3g} {unit}"


def judge(labels: list[str], findings: dict[str, dict]) -> tuple[str, list[str]]:
    """Status and conflicts of one record; ``findings`` maps criterion id to its row
    (``positive``, ``value``, ``unit``)."""
    by_concept = _by_concept()
    mine = [r for _, r in sorted(x for concept in set(labels) for x in by_concept.get(concept, ()))]
    endorsed = {r.criterion for r in mine if r.relation in ("expects", "supports")}
    conflicts, unknown = [], False
    for r in mine:
        row = findings.get(r.criterion)
        positive = None if row is None else row["positive"]
        if r.relation == "expects" and positive is None:
            unknown = True
        elif r.relation == "expects" and not positive:
            conflicts.append(f"{r.concept} expects {r.criterion}, not met ({_fmt(row['value'], row['unit'])})")
        elif r.relation == "contradicts" and positive and r.criterion not in endorsed:
            conflicts.append(f"{r.concept} contradicts {r.criterion}, met ({_fmt(row['value'], row['unit'])})")
    return ("discordant" if conflicts else "unknown" if unknown else "concordant"), conflicts


#: The findings fields :func:`judge` reads.
JUDGED = ("positive", "value", "unit")


def by_record(findings: pl.DataFrame, fields: tuple[str, ...] = JUDGED) -> dict[str, dict[str, dict]]:
    """Each record's findings as ``{criterion: {field: value}}`` of ``fields``, gathered by one
    group-by rather than a frame per record."""
    grouped = findings.group_by("record_id", maintain_order=True).agg("criterion", *fields)
    return {rid: {c: dict(zip(fields, values)) for c, *values in zip(criteria, *columns)}
            for rid, criteria, *columns in grouped.rows()}


def concordance(records: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """``concordance`` rows (record_id, status, conflicts) for ``records`` (record_id, labels)."""
    found = by_record(findings)
    rows = []
    for rid, labels in records.select("record_id", "labels").rows():
        status, conflicts = judge(labels or [], found.get(rid, {}))
        rows.append({"record_id": rid, "status": status, "conflicts": conflicts})
    return pl.DataFrame(rows, schema={"record_id": pl.Utf8, "status": pl.Utf8, "conflicts": pl.List(pl.Utf8)})
