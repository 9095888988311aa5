"""Curation: what the teacher wrote, checked before it is trained on.

    from curation import Facts, validate
    issues = validate(response_text, Facts(features, leads, findings, labels))  # [] = accepted

:func:`validate` parses the six-step format (:mod:`curation.parse`), checks every number and
qualitative claim against the record's measurements and findings (:mod:`curation.grounding`)
and the answer against the reference labels (:mod:`curation.labels`). Each problem is an
:class:`Issue` (``code: message``). :data:`CHECKER_VERSION` changes whenever a check or one of
its tables does, so stored verdicts know which checker gave them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from curation.grounding import CLAIMS, TOLERANCES, Facts
from curation.grounding import check as _grounding
from curation.labels import MIN_OVERLAP
from curation.labels import check as _labels
from curation.parse import Interpretation, Issue, parse

_HERE = Path(__file__).resolve().parent
CHECKER_VERSION = hashlib.sha256(b"".join(
    p.read_bytes() for p in (_HERE / "parse.py", _HERE / "grounding.py", _HERE / "labels.py", CLAIMS, TOLERANCES)
)).hexdigest()[:16]


def validate(text: str, facts: Facts, min_overlap: float = MIN_OVERLAP) -> list[Issue]:
    """Every issue of one response, format first; an empty list means it is accepted."""
    interpretation, issues = parse(text)
    if interpretation is None:
        return issues
    return issues + _grounding(interpretation, facts) + _labels(interpretation.answer, facts.labels, min_overlap)


__all__ = ["CHECKER_VERSION", "Facts", "Interpretation", "Issue", "MIN_OVERLAP", "parse", "validate"]
