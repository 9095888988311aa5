"""Curation: what the teacher wrote, checked before it is trained on.

    from curation import Facts, validate
    issues = validate(response_text, Facts(features, leads, findings, key))  # [] = accepted

:func:`validate` parses the six-step format (:mod:`curation.parse`), checks every number and
qualitative claim against the record's measurements and findings (:mod:`curation.grounding`)
and the answer against the record's reconciled answer key (:mod:`curation.labels`); the
answer's statements must follow from the steps (:mod:`curation.consistency`). Each problem is an
:class:`Issue` (``code: message``). :data:`CHECKER_VERSION`, the hash of :data:`CHECKER_FILES`,
changes whenever a check or one of its tables does, so stored verdicts know which checker gave them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import Executor
from itertools import repeat
from pathlib import Path

from curation.consistency import TERMS
from curation.consistency import check as _consistency
from curation.grounding import CLAIMS, TOLERANCES, Facts
from curation.grounding import read as _grounding
from curation.labels import MIN_OVERLAP
from curation.labels import check as _labels
from curation.parse import Interpretation, Issue, parse
from protocol.answer_key import TABLES as KEY_TABLES
from protocol.concordance import TABLE as LABEL_CRITERIA
from protocol.criteria import TABLE as CRITERIA
from sources.vocabulary import DATA as VOCABULARY

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent  # the repository (or site-packages): file names are hashed relative to it


def _name(path: Path) -> str:
    return path.resolve().relative_to(_ROOT).as_posix()


#: What the checker is made of, sorted by name: every module of curation/ and every table a check
#: reads (claims, answer terms, tolerances, the criteria whose leads and descriptions grounding
#: names, the label criteria and answer-key tables, and the label vocabulary of
#: :mod:`curation.labels`). A change to any of them re-validates (stages/validate.py).
CHECKER_FILES: tuple[Path, ...] = tuple(sorted(
    (p.resolve() for p in (*_HERE.glob("*.py"), CLAIMS, TERMS, TOLERANCES, CRITERIA, LABEL_CRITERIA, *KEY_TABLES,
                           *VOCABULARY.glob("*.csv"))),
    key=_name))


def _version(files: Sequence[Path]) -> str:
    """SHA-256 over each file's name (relative to the repository) and bytes, in order: the same
    on every machine and checkout, whatever the absolute paths and modification times."""
    digest = hashlib.sha256()
    for path in files:
        name, data = _name(path).encode(), path.read_bytes()
        digest.update(b"%d:%s%d:" % (len(name), name, len(data)))
        digest.update(data)
    return digest.hexdigest()[:16]


#: The hash of :data:`CHECKER_FILES`, stamped on every verdict (``validations.checker_version``).
CHECKER_VERSION = _version(CHECKER_FILES)


def validate(text: str, facts: Facts, min_overlap: float = MIN_OVERLAP) -> list[Issue]:
    """Every issue of one response, format first; an empty list means it is accepted."""
    interpretation, issues = parse(text)
    if interpretation is None:
        return issues
    grounding, asserted = _grounding(interpretation, facts)
    return (issues + grounding + _labels(interpretation.answer, facts.key, min_overlap)
            + _consistency(interpretation, facts, asserted))


def validate_many(items: Sequence[tuple[str, Facts]], executor: Executor | None = None,
                  min_overlap: float = MIN_OVERLAP, chunk: int = 64) -> list[list[Issue]]:
    """:func:`validate` of each ``(text, facts)``, in order; over ``executor`` (a process pool) in
    chunks of ``chunk`` responses when one is given."""
    if executor is None:
        return _validate_chunk(items, min_overlap)
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    return [issues for part in executor.map(_validate_chunk, chunks, repeat(min_overlap)) for issues in part]


def _validate_chunk(items: Sequence[tuple[str, Facts]], min_overlap: float) -> list[list[Issue]]:
    return [validate(text, facts, min_overlap) for text, facts in items]


__all__ = ["CHECKER_FILES", "CHECKER_VERSION", "Facts", "Interpretation", "Issue", "MIN_OVERLAP", "parse", "validate", "validate_many"]
