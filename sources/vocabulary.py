"""Label vocabulary: SCP-ECG statement codes (as PTB-XL ships them in scp_statements.csv,
plus the axis codes LAD/RAD) are the canonical concept ids, in ``sources/data/concepts.csv``.

Free-text statements (MIMIC-IV-ECG machine reports, WFDB header comments) are mapped through
the reviewable table ``sources/data/statements.csv``: each statement is normalised (lower case,
trailing punctuation and spaces removed) and matched against its case-insensitive regular
expressions in order; the first match wins. ``kind='flag'`` rows are recording-quality warnings
(kept as flags, never as diagnoses); ``kind='none'`` rows carry no label (hedged statements
such as "possible ...", overall grades such as "abnormal ECG"). A statement no row matches is
returned as unmapped, stored with its record and listed by ``ecg-corpus labels``.

SNOMED CT codes (PhysioNet/CinC Challenge 2020/2021 headers, ``# Dx: 426783006,164889003``) are
looked up first in the reviewed table ``sources/data/snomed.csv``: every code the Challenge 2021
scores plus the unscored ones with an SCP-ECG equivalent. A row with an empty concept is a
reviewed code with no SCP-ECG equivalent (e.g. "bundle branch block" of unstated side): it carries
no label and is not unmapped. A code missing from the table is unmapped.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

DATA = Path(__file__).with_name("data")


@dataclass
class Mapped:
    concepts: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def concepts() -> dict[str, str]:
    """Concept id -> description."""
    with (DATA / "concepts.csv").open(newline="") as fh:
        return {r["concept"]: r["description"] for r in csv.DictReader(fh)}


@lru_cache(maxsize=1)
def _rules() -> tuple[tuple[re.Pattern, str, str], ...]:
    with (DATA / "statements.csv").open(newline="") as fh:
        rules = tuple((re.compile(r["pattern"], re.IGNORECASE), r["concept"], r["kind"]) for r in csv.DictReader(fh))
    _check_concepts("statements.csv", [c for _, c, _ in rules])
    return rules


@lru_cache(maxsize=1)
def snomed() -> dict[str, tuple[str, str]]:
    """SNOMED CT code -> (Challenge term, concept id or '' for no label), from ``snomed.csv``."""
    with (DATA / "snomed.csv").open(newline="") as fh:
        rows = [(r["snomed"], r["term"], r["concept"]) for r in csv.DictReader(fh)]
    table = {code: (term, concept) for code, term, concept in rows}
    if len(table) != len(rows):
        raise ValueError("snomed.csv lists a SNOMED CT code more than once")
    _check_concepts("snomed.csv", [concept for _, _, concept in rows])
    return table


def _check_concepts(table: str, used: list[str]) -> None:
    unknown = {c for c in used if c and c not in concepts()}
    if unknown:
        raise ValueError(f"{table} maps to concepts missing from concepts.csv: {sorted(unknown)}")


def snomed_term(statement: str) -> str:
    """The Challenge's term for a SNOMED CT code, any other statement unchanged."""
    return snomed().get(statement.strip(), (statement,))[0]


def normalise(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip().rstrip(".;,").strip().lower()


def map_statements(statements: list[str]) -> Mapped:
    """Concept ids (deduplicated, in order), quality flags and unmapped statements; a SNOMED CT
    code is looked up in ``snomed.csv`` before the regular expressions."""
    out = Mapped()
    for raw in statements:
        text = normalise(raw)
        if not text:
            continue
        if text in snomed():
            _add(out, snomed()[text][1])
            continue
        for pattern, concept, kind in _rules():
            if pattern.search(text):
                if kind == "flag":
                    out.flags.append(text)
                else:
                    _add(out, concept)
                break
        else:
            out.unmapped.append(text)
    return out


def map_statement_rows(row: pl.Series, statement: pl.Series, n_rows: int) -> pl.DataFrame:
    """:func:`map_statements` of ``n_rows`` rows at once: ``row`` (0 .. n_rows - 1) and
    ``statement`` list each row's statements in order; returns labels, flags and unmapped per
    row. Each distinct statement is mapped once (a statement gives at most one of each), then a
    row's concepts are deduplicated in order, as ``map_statements`` of the row does."""
    import polars as pl

    distinct = statement.unique()
    mapped = [map_statements([s]) for s in distinct]
    table = pl.DataFrame({"statement": distinct, **{k: [(getattr(m, k) or [None])[0] for m in mapped]
                                                    for k in ("concepts", "flags", "unmapped")}},
                         schema={"statement": pl.Utf8, "concepts": pl.Utf8, "flags": pl.Utf8, "unmapped": pl.Utf8})
    per_row = (pl.DataFrame({"row": row, "statement": statement}, schema={"row": pl.UInt32, "statement": pl.Utf8})
               .join(table, on="statement", how="left", maintain_order="left")
               .group_by("row").agg(labels=pl.col("concepts").drop_nulls().unique(maintain_order=True),
                                    flags=pl.col("flags").drop_nulls(), unmapped=pl.col("unmapped").drop_nulls()))
    return (pl.DataFrame({"row": pl.int_range(n_rows, dtype=pl.UInt32, eager=True)})
            .join(per_row, on="row", how="left", maintain_order="left")
            .select(pl.col("labels", "flags", "unmapped").fill_null(pl.lit([], pl.List(pl.Utf8)))))


def _add(out: Mapped, concept: str) -> None:
    if concept and concept not in out.concepts:
        out.concepts.append(concept)


def map_codes(codes: list[str]) -> Mapped:
    """SCP-ECG codes (PTB-XL ``scp_codes``): known ones are concepts, the rest unmapped."""
    known = concepts()
    return Mapped(concepts=[c for c in codes if c in known], unmapped=[c for c in codes if c not in known])
