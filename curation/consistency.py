"""The answer against its own reasoning: three checks over the claims the grounding reader found
(:class:`curation.grounding.Assertion`, claims by concept and clause with NegEx/ConText scopes).

* ``unsupported_answer``: an answer statement no step speaks of: neither a claim of a criterion
  the statement rests on (``label_criteria.csv``, ``measured_statements.csv``) nor one of its
  terms (``curation/answer_terms.csv``: "infarct" for the infarcts, "sinus" for the sinus rhythms)
  in steps 1-5;
* ``finding_not_in_answer``: a definite claim in steps 1-5 of a criterion that a statement is made
  from (``measured_statements.csv``: a prolonged QTc is long QT) while the answer states neither
  it nor one that covers it (``unless``): call the finding borderline, or state it;
* ``unhedged_after_unmet``: a sentence that denies a criterion a statement rests on (one it
  expects, or one that supports it where the key would hedge it without) and names that
  statement without a hedge ("no pathologic Q waves; old inferior infarction").
"""

from __future__ import annotations

import csv
import re
from functools import cache, lru_cache
from pathlib import Path

from curation.grounding import LISTS, Assertion, Facts
from curation.labels import concept, hedged
from curation.parse import Interpretation, Issue
from protocol.answer_key import measured, treatments
from protocol.concordance import by_concept
from sources.vocabulary import concepts

TERMS = Path(__file__).with_name("answer_terms.csv")
_HEDGE = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in
                                             f"{LISTS['hedge']}|{LISTS['doubt']}".split("|")) + r")(?!\w)")


@lru_cache(maxsize=1)
def terms() -> dict[str, re.Pattern]:
    """Concept -> the pattern of the words that name it in prose."""
    out = {}
    with TERMS.open(newline="") as fh:
        for r in csv.DictReader(fh):
            for c in r["concepts"].split("|"):
                if c not in concepts():
                    raise ValueError(f"answer_terms.csv: unknown concept {c!r}")
                out[c] = re.compile(r["terms"])
    return out


@cache
def _pattern(c: str) -> re.Pattern:
    """The words that name concept ``c``: its terms, else its description."""
    return terms().get(c) or re.compile(re.escape(concepts().get(c, c).lower()))


@cache
def _rests_on(c: str) -> frozenset[str]:
    """The criteria statement ``c`` rests on: expected or supporting, or the one it is added from."""
    return frozenset({r.criterion for r in by_concept().get(c, ()) if r.relation in ("expects", "supports")}
                     | {m.criterion for m in measured().values() if m.concept == c})


@cache
def _label_rests_on(c: str) -> frozenset[str]:
    """The criteria a label ``c`` expects, or is supported by when an unsupported ``c`` is not kept
    (answer_key.csv: a flutter conducts regularly or irregularly), as claims name them."""
    keep = treatments().get(c, treatments()["*"])[1] == "keep"
    return frozenset(_family(r.criterion) for r in by_concept().get(c, ())
                     if r.relation == "expects" or (r.relation == "supports" and not keep))


def _family(criterion: str) -> str:
    """``st_elevation_inferior`` -> ``st_elevation_*`` (the claims' territory families)."""
    for prefix in ("st_elevation", "st_depression", "t_inversion", "pathologic_q"):
        if criterion.startswith(prefix):
            return f"{prefix}_*"
    return criterion


def check(interpretation: Interpretation, facts: Facts, asserted: list[Assertion]) -> list[Issue]:
    """The three checks of the module docstring over the claims ``asserted`` (the grounding reader's)."""
    issues: list[Issue] = []
    steps = [a for a in asserted if a.where != "the summary" and a.where != "step 6"]
    reasoning = "\n".join(s.body for s in interpretation.steps if s.number < 6).lower()
    answer = {c: hedged(label) for label in interpretation.answer if (c := concept(label))}
    for c in answer:
        rests = {_family(k) for k in _rests_on(c)}
        if not any(a.criterion in rests for a in steps) and not _pattern(c).search(reasoning):
            issues.append(Issue("unsupported_answer", f"<answer> states {concepts().get(c, c)!r}, but no step speaks "
                                                      "of it: name the finding it follows from"))
    for a in steps:
        rule = measured().get(a.criterion)
        row = facts.findings.get(a.criterion) or {}
        if a.state and rule is not None and rule.concept and row.get("positive") and not row.get("confounder") \
                and rule.concept not in answer and not set(rule.unless) & set(answer):
            issues.append(Issue("finding_not_in_answer", f"{a.where} asserts {a.criterion.replace('_', ' ')}, which "
                                                         f"the answer does not state as {concepts()[rule.concept]!r}: "
                                                         "state it, or call the finding borderline"))
        if a.state is False:
            for c, is_hedged in answer.items():
                if not is_hedged and a.criterion in _label_rests_on(c) \
                        and _pattern(c).search(a.sentence) and not _HEDGE.search(a.sentence):
                    issues.append(Issue("unhedged_after_unmet", f"{a.where} denies {a.criterion.replace('_', ' ')} "
                                                                f"and keeps {concepts()[c]!r} unhedged in the same "
                                                                "sentence"))
    return list(dict.fromkeys(issues))
