"""Answer labels against the reference labels, at concept level (``sources/vocabulary``).

A label written in ``<answer>`` is read as a concept id by its description in
``concepts.csv`` or its id (any case, any order), else through the statement patterns of
``statements.csv`` (the synonyms machine reports use). The answer agrees with the reference
when the concept Jaccard overlap reaches ``min_overlap`` (1.0: the same concepts).
"""

from __future__ import annotations

from functools import lru_cache

from curation.parse import Issue
from sources.vocabulary import concepts, map_statements, normalise

#: Default minimum overlap: the teacher is given the reference labels, so it names exactly them.
MIN_OVERLAP = 1.0


@lru_cache(maxsize=1)
def _by_text() -> dict[str, str]:
    table = {normalise(d): c for c, d in concepts().items()}
    table.update({c.lower(): c for c in concepts()})
    return table


@lru_cache(maxsize=4096)
def concept(label: str) -> str | None:
    """The concept id a written label names, or ``None``."""
    text = normalise(label)
    if text in _by_text():
        return _by_text()[text]
    mapped = map_statements([label]).concepts
    return mapped[0] if len(mapped) == 1 else None


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def check(answer: list[str], reference: list[str], min_overlap: float = MIN_OVERLAP) -> list[Issue]:
    """``unknown_label`` for a label no concept matches; ``label_mismatch`` when the overlap
    with the reference concepts is below ``min_overlap``, naming what is extra and missing."""
    issues = []
    got: set[str] = set()
    for label in answer:
        c = concept(label)
        if c is None:
            issues.append(Issue("unknown_label", f"<answer> label {label!r} is not a known diagnosis; use the "
                                                 "reference label names"))
        else:
            got.add(c)
    ref = set(reference)
    if jaccard(got, ref) < min_overlap:
        names = concepts()
        extra = [f"{names.get(c, c)!r}" for c in sorted(got - ref)]
        missing = [f"{names.get(c, c)!r}" for c in sorted(ref - got)]
        issues.append(Issue("label_mismatch", f"<answer> overlaps the reference labels {jaccard(got, ref):.2f} "
                                              f"(minimum {min_overlap:.2f})"
                                              + (f"; not in the reference: {', '.join(extra)}" if extra else "")
                                              + (f"; missing: {', '.join(missing)}" if missing else "")))
    return issues
