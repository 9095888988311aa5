"""Label vocabulary: SCP-ECG statement codes (as PTB-XL ships them in scp_statements.csv,
plus the axis codes LAD/RAD) are the canonical concept ids, in ``sources/data/concepts.csv``.

Free-text statements (MIMIC-IV-ECG machine reports, WFDB header comments) are mapped through
the reviewable table ``sources/data/statements.csv``: each statement is normalised (lower case,
trailing punctuation and spaces removed) and matched against its case-insensitive regular
expressions in order; the first match wins. ``kind='flag'`` rows are recording-quality warnings
(kept as flags, never as diagnoses); ``kind='none'`` rows carry no label (overall grades such as
"abnormal ECG"). A statement no row matches is returned as unmapped, stored with its record and
listed by ``ecg-corpus labels``.

Uncertainty is kept as a likelihood on PTB-XL's scale (``scp_codes``: 15/35/50/80/100, 50 and
above read as stated): a leading marker of the reviewable table ``sources/data/hedges.csv``
("possible", "probable", "cannot rule out", ...) is stripped before the rules are matched and
gives the concept that marker's likelihood (the lowest when markers are stacked); a plain
statement gives 100. When the rest after the marker matches no rule, the whole statement is
matched instead ("borderline ECG" is an overall grade, no label) and is otherwise unmapped. A
concept stated more than once keeps its highest likelihood.

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
#: The likelihood of a statement without an uncertainty marker (PTB-XL's "stated").
PLAIN = 100.0


@dataclass
class Mapped:
    concepts: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    #: Per concept, in the same order, its likelihood on PTB-XL's scale (100: stated plainly).
    likelihood: list[float] = field(default_factory=list)


@lru_cache(maxsize=1)
def _concept_rows() -> tuple[dict, ...]:
    with (DATA / "concepts.csv").open(newline="") as fh:
        return tuple(csv.DictReader(fh))


@lru_cache(maxsize=1)
def concepts() -> dict[str, str]:
    """Concept id -> description."""
    return {r["concept"]: r["description"] for r in _concept_rows()}


@lru_cache(maxsize=1)
def categories() -> dict[str, str]:
    """Concept id -> category (``diagnostic``, ``form``, ``rhythm``, ``axis``)."""
    return {r["concept"]: r["category"] for r in _concept_rows()}


@lru_cache(maxsize=1)
def _rules() -> tuple[tuple[re.Pattern, str, str], ...]:
    with (DATA / "statements.csv").open(newline="") as fh:
        rules = tuple((re.compile(r["pattern"], re.IGNORECASE), r["concept"], r["kind"]) for r in csv.DictReader(fh))
    _check_concepts("statements.csv", [c for _, c, _ in rules])
    return rules


@lru_cache(maxsize=1)
def hedges() -> tuple[tuple[re.Pattern, float], ...]:
    """(marker at the start of a normalised statement, followed by the rest, likelihood) of each
    ``hedges.csv`` row."""
    with (DATA / "hedges.csv").open(newline="") as fh:
        rows = [(r["marker"], float(r["likelihood"])) for r in csv.DictReader(fh)]
    bad = [marker for marker, likelihood in rows if not 0 < likelihood < PLAIN]
    if bad:
        raise ValueError(f"hedges.csv: a marker's likelihood must lie between 0 and {PLAIN:.0f}: {bad}")
    return tuple((re.compile(rf"^(?:{marker}) (?P<rest>.+)$", re.IGNORECASE), likelihood)
                 for marker, likelihood in rows)


def strip_hedge(text: str) -> tuple[str, float]:
    """A normalised statement without its leading uncertainty markers, and the likelihood they
    stand for (the lowest of them; :data:`PLAIN` when there is none)."""
    likelihood = PLAIN
    while True:
        for pattern, marker_likelihood in hedges():
            m = pattern.match(text)
            if m:
                text, likelihood = m["rest"], min(likelihood, marker_likelihood)
                break
        else:
            return text, likelihood


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


def _rule(text: str) -> tuple[str, str] | None:
    """(concept, kind) of the first ``statements.csv`` rule matching ``text``, None when none does."""
    for pattern, concept, kind in _rules():
        if pattern.search(text):
            return concept, kind
    return None


def map_statements(statements: list[str]) -> Mapped:
    """Concept ids (deduplicated, in order) with their likelihoods, quality flags and unmapped
    statements (flags and unmapped as normalised, markers included); a SNOMED CT code is looked
    up in ``snomed.csv`` before the regular expressions, a leading uncertainty marker
    (``hedges.csv``) stripped before them."""
    out = Mapped()
    for raw in statements:
        text = normalise(raw)
        if not text:
            continue
        if text in snomed():
            _add(out, snomed()[text][1], PLAIN)
            continue
        rest, likelihood = strip_hedge(text)
        hit = _rule(rest) if rest != text else None
        if hit is None:  # no marker, or nothing known after it ("borderline ecg" is a grade)
            hit, likelihood = _rule(text), PLAIN
        if hit is None:
            out.unmapped.append(text)
        elif hit[1] == "flag":
            out.flags.append(text)
        else:
            _add(out, hit[0], likelihood)
    return out


def map_statement_rows(row: pl.Series, statement: pl.Series, n_rows: int) -> pl.DataFrame:
    """:func:`map_statements` of ``n_rows`` rows at once: ``row`` (0 .. n_rows - 1) and
    ``statement`` list each row's statements in order; returns labels, label_likelihood, flags
    and unmapped per row. Each distinct statement is mapped once (a statement gives at most one
    of each), then a row's concepts are deduplicated in order, each with its highest likelihood,
    as ``map_statements`` of the row does."""
    import polars as pl

    distinct = statement.unique()
    mapped = [map_statements([s]) for s in distinct]
    table = pl.DataFrame({"statement": distinct, **{k: [(getattr(m, k) or [None])[0] for m in mapped]
                                                    for k in ("concepts", "likelihood", "flags", "unmapped")}},
                         schema={"statement": pl.Utf8, "concepts": pl.Utf8, "likelihood": pl.Float64,
                                 "flags": pl.Utf8, "unmapped": pl.Utf8})
    joined = (pl.DataFrame({"row": row, "statement": statement}, schema={"row": pl.UInt32, "statement": pl.Utf8})
              .join(table, on="statement", how="left", maintain_order="left"))
    labels = (joined.filter(pl.col("concepts").is_not_null())
              .group_by("row", "concepts", maintain_order=True).agg(pl.col("likelihood").max())
              .group_by("row", maintain_order=True).agg(labels=pl.col("concepts"), label_likelihood=pl.col("likelihood")))
    others = joined.group_by("row").agg(flags=pl.col("flags").drop_nulls(), unmapped=pl.col("unmapped").drop_nulls())
    return (pl.DataFrame({"row": pl.int_range(n_rows, dtype=pl.UInt32, eager=True)})
            .join(labels, on="row", how="left", maintain_order="left")
            .join(others, on="row", how="left", maintain_order="left")
            .select(pl.col("labels", "flags", "unmapped").fill_null(pl.lit([], pl.List(pl.Utf8))),
                    pl.col("label_likelihood").fill_null(pl.lit([], pl.List(pl.Float64))))
            .select("labels", "label_likelihood", "flags", "unmapped"))


def _add(out: Mapped, concept: str, likelihood: float) -> None:
    """``concept`` with ``likelihood``; one already there keeps the higher of its two."""
    if not concept:
        return
    if concept in out.concepts:
        i = out.concepts.index(concept)
        out.likelihood[i] = max(out.likelihood[i], likelihood)
    else:
        out.concepts.append(concept)
        out.likelihood.append(likelihood)


def map_codes(codes: list[str]) -> Mapped:
    """SCP-ECG codes (PTB-XL ``scp_codes``): known ones are concepts, the rest unmapped. A code
    carries no marker: likelihood 100 each (PTB-XL's own come from ``scp_codes``)."""
    known = concepts()
    found = [c for c in codes if c in known]
    return Mapped(concepts=found, likelihood=[PLAIN] * len(found), unmapped=[c for c in codes if c not in known])
