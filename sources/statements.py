"""Map free-text ECG statements (MIMIC-IV-ECG machine reports, WFDB header comments) to
SCP-ECG concept ids through the reviewable table ``sources/data/statements.csv``.

Each statement is normalised (lower case, trailing punctuation and spaces removed) and matched
against the table's case-insensitive regular expressions in order; the first match wins.
``kind='flag'`` rows are recording-quality warnings (kept as flags, never as diagnoses);
``kind='none'`` rows are statements that carry no label. Unmatched statements are returned so
callers can count and list them.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).with_name("data") / "statements.csv"


@dataclass
class Mapped:
    concepts: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def _rules() -> tuple[tuple[re.Pattern, str, str], ...]:
    with TABLE.open(newline="") as fh:
        return tuple((re.compile(r["pattern"], re.IGNORECASE), r["concept"], r["kind"]) for r in csv.DictReader(fh))


def normalise(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip().rstrip(".;,").strip().lower()


def map_statements(statements: list[str]) -> Mapped:
    """Concept ids (deduplicated, in order), quality flags and unmapped statements."""
    out = Mapped()
    for raw in statements:
        text = normalise(raw)
        if not text:
            continue
        for pattern, concept, kind in _rules():
            if pattern.search(text):
                if kind == "flag":
                    out.flags.append(text)
                elif concept and concept not in out.concepts:
                    out.concepts.append(concept)
                break
        else:
            out.unmapped.append(text)
    return out
