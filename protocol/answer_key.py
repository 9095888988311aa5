"""The reconciled answer key of a record: what its answer states, from its labels and its findings.

Labels are a reader's statements (a cardiologist's for PTB-XL, a machine's for MIMIC-IV-ECG),
sometimes uncertain, sometimes based on more than the tracing; the corpus states only what its
measurements allow. Four tables a clinician reviews decide, each row with its source:

* ``label_criteria.csv`` (:mod:`protocol.concordance`): per concept the criteria it expects,
  contradicts or is supported by. A label is **dropped** when a measurement contradicts it (an
  expected criterion measured and not met, a contradicting one met and definite);
* ``answer_key.csv``: per concept what an **uncertain** label (likelihood 15 or 35 on PTB-XL's
  scale, :data:`UNCERTAIN`) or an **unsupported** one (every supporting criterion measured and
  not met or not applicable, or an expected one not measurable) becomes: ``hedge`` ("possible
  ..."), ``drop`` or ``keep``; both at once drop it; and the family member it ``yields_to`` when
  both are labels (one statement of the two: the one of higher likelihood, the one yielded to on
  a tie);
* ``measured_statements.csv``: a definite measured finding no label states is **added**
  (sinus bradycardia, first-degree AV block, ...), one that ``requires`` a reader's label only
  with it (or, without any rhythm label, when nothing measured contradicts it), in place of the
  labels it ``replaces`` (sinus rhythm; an incomplete RBBB whose QRS is wide: the same diagnosis
  at its measured degree, which is then no conflict); a positive criterion short of its
  ``definite`` limit is **borderline**: it contradicts no label and is not added;
* ``confounders.csv``: a confounder (a label the key keeps, or a criterion met) makes criteria
  **not applicable** (LBBB: Q waves, ST, LVH voltage): they neither support nor contradict.

A record is discordant only when the key contradicts its rhythm or its main diagnosis (the first
diagnostic label, the reader's leading statement), or an added finding contradicts its rhythm:
no text can agree with the reader there. Everything else is a key the answer can state.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from protocol.concordance import by_concept
from protocol.criteria import by_id
from schemas.ecg import LEADS
from sources.vocabulary import categories, concepts

HERE = Path(__file__).parent
TABLES = tuple(HERE / n for n in ("answer_key.csv", "measured_statements.csv", "confounders.csv", "concept_leads.csv"))
#: Likelihoods below this (PTB-XL's 15 and 35; a machine statement's "possible" or "probable")
#: are uncertain; 0 is PTB-XL's "not stated" for rhythm and form statements, not a doubt.
UNCERTAIN = 50.0
#: A treatment of answer_key.csv -> the status it gives a label.
TREATMENTS = {"hedge": "hedged", "drop": "dropped", "keep": "kept"}
#: How a hedged statement is written in ``<answer>`` and in the RL solution.
HEDGE = "possible"
_LIMIT = re.compile(r"^(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Statement:
    """One row of the key (``answer_keys``): a label or an added finding."""

    concept: str
    statement: str  # as the answer writes it ('' when dropped)
    origin: str  # label | measured
    status: str  # kept | hedged | dropped | added
    reason: str
    criteria: tuple[str, ...]  # the criteria that support or contradict it, with their state

    @property
    def answered(self) -> bool:
        return self.status != "dropped"


@dataclass(frozen=True)
class Key:
    statements: tuple[Statement, ...]
    not_applicable: dict[str, str]  # criterion -> the confounder that makes it so
    conflicts: tuple[str, ...] = field(default=())  # why the record is discordant ((): it is not)

    @property
    def answer(self) -> list[Statement]:
        return [s for s in self.statements if s.answered]

    @property
    def concepts(self) -> set[str]:
        return {s.concept for s in self.answer}


@dataclass(frozen=True)
class Measured:
    criterion: str
    concept: str
    definite: tuple[str, float] | None | bool  # (op, limit); None: every positive; False: never
    requires: tuple[str, ...]
    unless: tuple[str, ...]
    replaces: tuple[str, ...]


def _split(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.split("|") if x)


@lru_cache(maxsize=1)
def _key_table() -> list[dict]:
    with (HERE / "answer_key.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = [r["concept"] for r in rows if r["uncertain"] not in TREATMENTS or r["unsupported"] not in TREATMENTS
           or (r["concept"] != "*" and r["concept"] not in concepts())
           or any(c not in concepts() for c in _split(r["yields_to"]))]
    if bad or "*" not in {r["concept"] for r in rows}:
        raise ValueError(f"answer_key.csv: unknown concepts or treatments, or no '*' row: {bad}")
    return rows


@lru_cache(maxsize=1)
def treatments() -> dict[str, tuple[str, str]]:
    """Concept -> (uncertain, unsupported) treatment; ``*`` is the default."""
    return {r["concept"]: (r["uncertain"], r["unsupported"]) for r in _key_table()}


@lru_cache(maxsize=1)
def yields() -> dict[str, tuple[str, ...]]:
    """Concept -> the concepts of its family the answer states in its place when both are labels."""
    return {r["concept"]: _split(r["yields_to"]) for r in _key_table() if r["yields_to"]}


@lru_cache(maxsize=1)
def measured() -> dict[str, Measured]:
    """Criterion -> its row of ``measured_statements.csv``."""
    out = {}
    with (HERE / "measured_statements.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            limit = r["definite"].strip()
            m = _LIMIT.match(limit)
            if r["criterion"] not in by_id() or (limit not in ("", "never") and not m) \
                    or any(c not in concepts() for c in (r["concept"], *_split(r["requires"]), *_split(r["unless"]),
                                                         *_split(r["replaces"])) if c):
                raise ValueError(f"measured_statements.csv: bad row {r}")
            definite = None if not limit else False if limit == "never" else (m.group(1), float(m.group(2)))
            out[r["criterion"]] = Measured(r["criterion"], r["concept"], definite, _split(r["requires"]),
                                           _split(r["unless"]), _split(r["replaces"]))
    return out


@lru_cache(maxsize=1)
def confounders() -> dict[str, tuple[tuple[str, ...], str]]:
    """Confounder (a concept, or ``criterion:<id>``) -> (the criteria it makes not applicable, source)."""
    out = {}
    with (HERE / "confounders.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            kind, _, name = r["confounder"].rpartition(":")
            if (kind == "criterion" and name not in by_id()) or (not kind and name not in concepts()):
                raise ValueError(f"confounders.csv: unknown confounder {r['confounder']!r}")
            patterns = r["criteria"].split(";")
            hit = tuple(c for c in by_id() if any(c == p or (p.endswith("*") and c.startswith(p[:-1]))
                                                  for p in patterns))
            out[r["confounder"]] = (hit, r["source"])
    return out


@lru_cache(maxsize=1)
def concept_leads() -> dict[str, tuple[tuple[str, ...], int]]:
    """Concept -> (the leads a statement of it is read on, how many of them must be usable);
    ``*`` for every other concept."""
    with (HERE / "concept_leads.csv").open(newline="") as fh:
        out = {r["concept"]: (tuple(r["leads"].split()), int(r["min_usable"])) for r in csv.DictReader(fh)}
    bad = [c for c, (leads, n) in out.items() if (c != "*" and c not in concepts()) or set(leads) - set(LEADS)
           or not 0 < n <= len(leads)]
    if bad or "*" not in out:
        raise ValueError(f"concept_leads.csv: unknown concepts or leads, or no '*' row: {bad}")
    return out


def unreadable(answer: list[str], usable: set[str]) -> list[str]:
    """Why the statements of ``answer`` (concept ids) cannot be read on the ``usable`` leads:
    a statement whose leads are usable fewer times than its ``min_usable``."""
    table = concept_leads()
    out = []
    for concept in answer:
        leads, need = table.get(concept, table["*"])
        have = [ld for ld in leads if ld in usable]
        if len(have) < need:
            out.append(f"{concept} is read on {' '.join(leads)}: {len(have)} usable, {need} needed")
    return out


def confounder_name(confounder: str) -> str:
    """``CLBBB`` -> 'complete left bundle branch block'; ``criterion:paced_rhythm`` -> 'paced beats'."""
    kind, _, name = confounder.rpartition(":")
    return by_id()[name].description.split(" (")[0] if kind else concepts()[name]


def definite(criterion: str, row: dict | None) -> bool | None:
    """A positive criterion beyond its ``definite`` limit (every positive one without a limit);
    False when it is borderline or not positive; None when not measurable."""
    positive = None if row is None else row.get("positive")
    if not positive:
        return positive
    rule = measured().get(criterion)
    limit = None if rule is None else rule.definite
    if limit is None:
        return True
    if limit is False:
        return False
    op, x = limit
    v = row.get("value")
    return v is not None and {"<": v < x, "<=": v <= x, ">": v > x, ">=": v >= x}[op]


def _met(findings: dict[str, dict], na: dict[str, str], criterion: str) -> bool | None | str:
    """True/False/None (not measurable) or 'na' (a confounder makes it not applicable); a
    combination below its ``min_age`` with its value reached is not applicable either."""
    if criterion in na:
        return "na"
    row = findings.get(criterion)
    if row is None or row.get("positive") is None:
        return None
    if row["positive"] is False and row.get("min_age") is not None and (row.get("value") or 0) >= row["threshold"]:
        return "na"
    return row["positive"]


def _fmt(findings: dict, criterion: str) -> str:
    row = findings.get(criterion) or {}
    v, unit = row.get("value"), row.get("unit") or ""
    return f"{criterion} ({'not measurable' if v is None else f'{v:.3g} {unit}'.strip()})"


def _judge_label(concept: str, labels: list[str], findings: dict, na: dict) -> tuple[str, list[str]]:
    """'contradicted', 'unsupported' (every supporting criterion measured and not met or made not
    applicable by a confounder, or an expected one not measurable) or 'ok', with the criteria
    behind it."""
    rows = by_concept().get(concept, ())
    endorsed = {r.criterion for c in labels if c != concept for r in by_concept().get(c, ())
                if r.relation in ("expects", "supports")}
    against, support, unmet = [], [], []
    for r in rows:
        state = _met(findings, na, r.criterion)
        if r.relation == "expects" and state is False:
            against.append(f"expects {_fmt(findings, r.criterion)}, not met")
        elif r.relation == "contradicts" and state is True and r.criterion not in endorsed \
                and definite(r.criterion, findings.get(r.criterion)):
            against.append(f"contradicted by {_fmt(findings, r.criterion)}, met")
        elif r.relation in ("expects", "supports"):
            (support if state is True else unmet if state is False else []).append(r.criterion)
    if against:
        return "contradicted", against
    unmeasured = [r.criterion for r in rows if r.relation == "expects" and _met(findings, na, r.criterion) is None]
    if unmeasured:
        return "unsupported", [f"expects {_fmt(findings, c)}" for c in unmeasured]
    has_support = [r for r in rows if r.relation == "supports"]
    if has_support and not support and len(unmet) == len(has_support):
        return "unsupported", [f"supported by {_fmt(findings, c)}, not met" for c in unmet]
    if has_support and all(r.criterion in na for r in has_support):
        return "unsupported", [f"supported by {r.criterion}, not applicable with {na[r.criterion]}" for r in has_support]
    return "ok", [f"supported by {_fmt(findings, c)}" for c in support]


def _confounded(labels: list[str], findings: dict) -> dict[str, str]:
    """Criterion -> confounder, from the confounding labels no measurement contradicts and the
    confounding criteria met."""
    na: dict[str, str] = {}
    for name, (criteria, _) in confounders().items():
        kind, _, ident = name.rpartition(":")
        active = (findings.get(ident) or {}).get("positive") is True if kind else \
            ident in labels and _judge_label(ident, labels, findings, {})[0] != "contradicted"
        if active:
            for c in criteria:
                na.setdefault(c, name)
    return na


def reconcile(labels: list[str], likelihoods: list[float | None] | None, findings: dict[str, dict]) -> Key:
    """The key of one record: ``labels`` in the reader's order with their ``likelihoods``,
    ``findings`` by criterion (positive, value, unit, threshold, min_age)."""
    names, kinds, rules = concepts(), categories(), treatments()
    likelihoods = list(likelihoods or []) + [None] * (len(labels) - len(likelihoods or []))
    na = _confounded(labels, findings)
    rows: list[Statement] = []
    conflicts: dict[str, list[str]] = {}
    main = next((c for c in labels if kinds.get(c) == "diagnostic"), None)
    for concept, likelihood in zip(labels, likelihoods):
        verdict, why = _judge_label(concept, labels, findings, na)
        uncertain = likelihood is not None and 0 < likelihood < UNCERTAIN
        on_uncertain, on_unsupported = rules.get(concept, rules["*"])
        if verdict == "contradicted":
            status, reason = "dropped", "the measurements contradict it"
            if kinds.get(concept) == "rhythm" or concept == main:
                conflicts[concept] = [f"{concept} {w}" for w in why]
        elif uncertain and verdict == "unsupported":
            status, reason = "dropped", f"uncertain (likelihood {likelihood:g}) and unsupported"
        elif uncertain:
            status, reason = TREATMENTS[on_uncertain], f"uncertain (likelihood {likelihood:g})"
        elif verdict == "unsupported":
            status = TREATMENTS[on_unsupported]
            reason = ("its expected criterion is not measurable" if why[0].startswith("expects")
                      else "a confounder makes its supporting criteria not applicable" if "not applicable" in why[0]
                      else "its supporting criteria are measured and not met")
        else:
            status, reason = "kept", "no measurement contradicts it"
        rows.append(Statement(concept, _written(names.get(concept, concept), status), "label", status, reason,
                              tuple(why)))
    answered = {s.concept for s in rows if s.answered}
    likelihood = {c: lk or 0.0 for c, lk in zip(labels, likelihoods)}
    for i, s in enumerate(rows):
        stronger = _yields_to(s.concept, likelihood, answered)
        if s.answered and stronger:
            rows[i] = Statement(s.concept, "", s.origin, "dropped", f"stated as {names[stronger]} (one family)",
                                s.criteria)
            answered.discard(s.concept)
    for rule in measured().values():
        if not _adds(rule, labels, {s.concept for s in rows}, answered, findings, na):
            continue
        rows.append(Statement(rule.concept, names.get(rule.concept, rule.concept), "measured", "added",
                              "a definite measured finding no label states", (f"{_fmt(findings, rule.criterion)}, met",)))
        answered.add(rule.concept)
        for i, s in enumerate(rows):
            if s.concept in rule.replaces:
                rows[i] = Statement(s.concept, "", s.origin, "dropped", f"stated as {names.get(rule.concept)}"
                                    + ("" if s.answered else f": {s.reason}"), s.criteria)
                answered.discard(s.concept)
                conflicts.pop(s.concept, None)  # the same diagnosis at its measured degree
    return Key(tuple(rows), na, tuple(w for ws in conflicts.values() for w in ws))


def _yields_to(concept: str, likelihood: dict[str, float], answered: set[str]) -> str | None:
    """The family member stated in place of ``concept``: the one of higher likelihood, the one it
    ``yields_to`` on a tie (a flutter and a fibrillation both stated 0: the fibrillation)."""
    for other in yields().get(concept, ()):
        if other in answered and likelihood.get(other, 0.0) >= likelihood.get(concept, 0.0):
            return other
    for other, preferred in yields().items():
        if concept in preferred and other in answered and likelihood.get(other, 0.0) > likelihood.get(concept, 0.0):
            return other
    return None


def _adds(rule: Measured, labels: list[str], stated: set[str], answered: set[str], findings: dict,
          na: dict[str, str]) -> bool:
    """Whether ``rule`` adds its statement: it has one, no row states it or one that covers it
    (``unless``), its criterion applies and is definite, and a label it ``requires`` is there (or,
    without any rhythm label, nothing measured contradicts the statement)."""
    if not rule.concept or rule.concept in stated or answered & set(rule.unless) or rule.criterion in na \
            or not definite(rule.criterion, findings.get(rule.criterion)):
        return False
    if not rule.requires or set(labels) & set(rule.requires):
        return True
    kinds = categories()
    return not any(kinds.get(c) == "rhythm" for c in labels) \
        and _judge_label(rule.concept, labels, findings, na)[0] != "contradicted"


def from_rows(rows: list[dict], findings: dict[str, dict], conflicts: list[str] | None = None) -> Key:
    """A record's key as stored: its ``answer_keys`` rows (in order), its findings by criterion
    (their ``confounder``) and its concordance conflicts."""
    return Key(tuple(Statement(r["concept"], r["statement"], r["origin"], r["status"], r["reason"],
                               tuple(r["criteria"] or ())) for r in rows),
               {c: row["confounder"] for c, row in findings.items() if row.get("confounder")}, tuple(conflicts or ()))


def _written(name: str, status: str) -> str:
    return "" if status == "dropped" else f"{HEDGE} {name}" if status == "hedged" else name
