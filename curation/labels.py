"""The answer against the record's reconciled answer key (:mod:`protocol.answer_key`), at concept level.

A statement written in ``<answer>`` is read as a concept id by its description in
``concepts.csv`` or its id (any case, any order), else through the statement patterns of
``statements.csv`` (the synonyms machine reports use), after a leading uncertainty marker
(``possible``, ``probable``... of ``hedges.csv``) is taken off: the statement is then hedged.
The answer must state the key's statements, each hedged one hedged: a label the key dropped
is ``dropped_label``, a measured finding the key added and the answer leaves out
``missing_finding``, a hedged statement stated as definite ``unhedged_label``; beyond those the
concept Jaccard overlap with the key must reach ``min_overlap`` (1.0: the same concepts).
"""

from __future__ import annotations

from functools import lru_cache

from curation.parse import Issue
from protocol.answer_key import Key
from sources.vocabulary import PLAIN, concepts, map_statements, normalise, strip_hedge

#: Default minimum overlap: the teacher is given the reconciled key, so it names exactly it.
MIN_OVERLAP = 1.0


@lru_cache(maxsize=1)
def _by_text() -> dict[str, str]:
    table = {normalise(d): c for c, d in concepts().items()}
    table.update({c.lower(): c for c in concepts()})
    return table


@lru_cache(maxsize=4096)
def concept(label: str) -> str | None:
    """The concept id a written label names (an uncertainty marker aside), or ``None``."""
    text = strip_hedge(normalise(label))[0]
    if text in _by_text():
        return _by_text()[text]
    mapped = map_statements([text]).concepts
    return mapped[0] if len(mapped) == 1 else None


def hedged(label: str) -> bool:
    """The written label opens with an uncertainty marker ("possible LVH")."""
    return strip_hedge(normalise(label))[1] < PLAIN


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def check(answer: list[str], key: Key, min_overlap: float = MIN_OVERLAP) -> list[Issue]:
    """The answer's issues against ``key`` (see the module docstring)."""
    issues = []
    got: dict[str, bool] = {}
    for label in answer:
        c = concept(label)
        if c is None:
            issues.append(Issue("unknown_label", f"<answer> label {label!r} is not a known diagnosis; use the "
                                                 "answer key's statements"))
        else:
            got[c] = got.get(c, True) and hedged(label)
    names = concepts()
    by_concept = {s.concept: s for s in key.statements}
    for c, is_hedged in got.items():
        s = by_concept.get(c)
        if s is not None and s.status == "dropped":
            issues.append(Issue("dropped_label", f"<answer> states {names.get(c, c)!r}, which the answer key drops: "
                                                 f"{s.reason}" + (f" ({'; '.join(s.criteria)})" if s.criteria else "")))
        elif s is not None and s.status == "hedged" and not is_hedged:
            issues.append(Issue("unhedged_label", f"<answer> states {names.get(c, c)!r} as definite; the answer key "
                                                  f"has it uncertain ({s.reason}): write {s.statement!r}"))
    for s in key.answer:
        if s.status == "added" and s.concept not in got:
            issues.append(Issue("missing_finding", f"<answer> leaves out {s.statement!r}, a measured finding of the "
                                                   f"answer key ({'; '.join(s.criteria)})"))
    ref, mine = key.concepts, {c for c in got if by_concept.get(c) is None or by_concept[c].status != "dropped"}
    if jaccard(mine, ref) < min_overlap:
        extra = [f"{names.get(c, c)!r}" for c in sorted(mine - ref)]
        missing = [f"{by_concept[c].statement!r}" for c in sorted(ref - mine)]
        issues.append(Issue("label_mismatch", f"<answer> overlaps the answer key {jaccard(mine, ref):.2f} "
                                              f"(minimum {min_overlap:.2f})"
                                              + (f"; not in the key: {', '.join(extra)}" if extra else "")
                                              + (f"; missing: {', '.join(missing)}" if missing else "")))
    return issues
