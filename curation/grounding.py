"""Grounding checks: every number and every qualitative claim of an interpretation against the
record's own measurements (``features``, ``lead_features``) and protocol ``findings``.

Numbers (:data:`MEASURES`, ``protocol/tolerances.csv``): each number with a unit is tied to
the measure named nearest before it in its sentence (``QTc`` before ``QT``; a named QTc formula
selects its column), in the leads named around it, and must lie within the measure's tolerance
of one of its measured values (``max(abs_tol, rel_tol * |measured|)``). Units are read the way
LLMs write them (``0.16 s``, ``160 milliseconds``, ``beats per minute``, ``-30°``, ``2 mm`` = 0.2 mV)
and lead ranges are expanded (``V4-V6``, ``V1 to V3``). Reference values are not claims: ranges
(``120-200 ms``) and numbers after a comparison (``above 1.10 mV``, ``< 440 ms``) are skipped.

Qualitative claims (``curation/claims.csv``): a subject (and predicate) in one clause asserts a
criterion's state; a negation cue before it or after it flips the assertion to the row's
``negated`` state (blank: a negated mention asserts nothing), a hedge (``may``, ``such as``,
``cannot be assessed``...) withdraws it. A claim contradicting a finding that is positive or
negative is an error; a definite claim about a criterion that was not measurable is one too.
Territory families (``st_elevation_*``...) take the territory from the leads or region named in
the clause; none named means every territory.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from curation.parse import Interpretation, Issue
from protocol.criteria import load as load_criteria
from schemas.ecg import LEADS

TOLERANCES = Path(__file__).resolve().parents[1] / "protocol" / "tolerances.csv"
CLAIMS = Path(__file__).with_name("claims.csv")
UNUSABLE_LEAD = ("missing", "flat", "saturated")  # lead_features.quality with no trustworthy amplitude
SHALLOW = 0.5  # share of a territory criterion's threshold from which a deviation is not denied

_UNITS = (  # (regex, canonical unit, factor to the canonical unit)
    (r"milliseconds?|msecs?|ms", "ms", 1.0), (r"seconds?|secs?|s", "ms", 1000.0),
    (r"beats per minute|beats/min|bpm|/min", "bpm", 1.0), (r"°|degrees?|deg", "deg", 1.0),
    (r"millivolts?|mV", "mV", 1.0), (r"mm", "mV", 0.1), (r"[µμu]V", "mV", 0.001),
    (r"(?:usable |interpretable )?leads?", "leads", 1.0), (r"years?|%|mm/mV|mm/s", "", math.nan),
)
_NUMBER = re.compile(r"(?<![\w.])([-+−]?\d+(?:\.\d+)?)(?:\s*(" + "|".join(p for p, _, _ in _UNITS) + r"))?(?![\w/])",
                     re.IGNORECASE)
_RANGE_BEFORE = re.compile(r"\d\s*(?:-|–|—|to)\s*$")
_RANGE_AFTER = re.compile(r"^\s*(?:-|–|—|to)\s*[-+−]?\d")
_COMPARISON = re.compile(r"(?:<|>|≤|≥|=<|>=|<=|\babove|\bbelow|\bover|\bunder|\bexceed\w*|\bgreater than|\bless than"
                         r"|\bmore than|\bat least|\bcut-?off(?: of)?|\bthreshold(?: of)?|\blimit(?: of)?|\bnormal(?: range)?"
                         r"|\bupper|\blower|\bup to normal)\s*(?:of\s*)?$", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.;])\s+")
_CLAUSE = re.compile(r";|\bbut\b|\bwhereas\b|\bwhile\b|\bhowever\b|\balthough\b|\bexcept\b", re.IGNORECASE)
_LEAD = re.compile(r"(?<![\w'])(?:V([1-6])\s*(?:-|–|—|to|through)\s*V?([1-6])|(aVR|aVL|aVF|V[1-6]|III|II|I))(?![\w'])")
_REGIONS = {"inferior": ("II", "III", "aVF"), "high lateral": ("I", "aVL"), "septal": ("V1", "V2"),
            "anteroseptal": ("V1", "V2", "V3", "V4"), "anterior": ("V2", "V3", "V4"),
            "anterolateral": ("V3", "V4", "V5", "V6", "I", "aVL"), "low lateral": ("V5", "V6"),
            "lateral": ("I", "aVL", "V5", "V6")}
_REGION = re.compile(r"\b(" + "|".join(sorted(_REGIONS, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_NEG_BEFORE = re.compile(r"\b(?:no|not|without|absence of|absent|free of|negative for|neither|nor|rules? out|ruled out"
                         r"|lack of|lacks?|nothing)\b[^.]*$", re.IGNORECASE)
_NEG_AFTER = re.compile(r"^\W*(?:\w+\W+){0,4}?(?:not|absent|excluded|ruled out|none)\b", re.IGNORECASE)
_NEG_INSIDE = re.compile(r"\b(?:not|no|without)\b", re.IGNORECASE)
_HEDGE = re.compile(r"\b(?:possible|possibly|probable|probably|may|might|could|can|cannot|unable|not measurable"
                    r"|not assessable|suggest\w*|consider\w*|borderline|equivocal|questionable|versus|vs|differential"
                    r"|mimic\w*|such as|rule out|if|unless|whether|exclude[sd]?)\b", re.IGNORECASE)
_QTC_FORMULA = re.compile(r"\b(Bazett|Fridericia|Framingham|Hodges)\b", re.IGNORECASE)
_BARRIER = r"\b(?:QRS|QTc?|P-?R|axis|R-?R|rhythm|rate|ST|voltage|P[- ]waves?|T[- ]waves?|impression|findings|diagnos\w*)\b"
_QUOTED = re.compile(r"(?<!\w)['‘\"“][^'’\"”]+['’\"”](?!\w)")  # a quoted criterion name is not a claim


@dataclass(frozen=True)
class Measure:
    """A measurable quantity a text may state (one row of ``protocol/tolerances.csv``)."""

    id: str
    unit: str
    keywords: re.Pattern | None
    sources: tuple[str, ...]  # feature column, ``finding:<criterion>`` or ``lead:<lead column>``
    abs_tol: float
    rel_tol: float
    code: str

    def tolerance(self, measured: float) -> float:
        return max(self.abs_tol, self.rel_tol * abs(measured))


@dataclass(frozen=True)
class Claim:
    """A qualitative claim pattern (one row of ``curation/claims.csv``)."""

    claim: str
    subject: str
    pattern: re.Pattern
    criterion: str  # a criterion id, or a family ``prefix_*`` over its territories
    asserts: bool
    negated: bool | None
    code: str


@dataclass
class Facts:
    """What a record's interpretation is checked against: its ``features`` row, its
    ``lead_features`` rows by lead, its ``findings`` rows by criterion and reference labels."""

    features: dict
    leads: dict[str, dict]
    findings: dict[str, dict]
    labels: list[str]


@lru_cache(maxsize=1)
def measures() -> tuple[Measure, ...]:
    with TOLERANCES.open(newline="") as fh:
        return tuple(Measure(r["measure"], r["unit"], re.compile(r["keywords"]) if r["keywords"] else None,
                             tuple(r["sources"].split()), float(r["abs_tol"]), float(r["rel_tol"] or 0), r["code"])
                     for r in csv.DictReader(fh))


@lru_cache(maxsize=1)
def claims() -> tuple[Claim, ...]:
    state = {"true": True, "false": False, "": None}
    with CLAIMS.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        subject = f"(?:{r['subject']})"
        pattern = subject if not r["predicate"] else rf"{subject}(?:(?!{_BARRIER}|[.;]).)*?(?:{r['predicate']})"
        out.append(Claim(r["claim"], subject, re.compile(pattern, re.IGNORECASE), r["criterion"],
                         state[r["asserts"]], state[r["negated"]], r["code"]))
    return tuple(out)


@lru_cache(maxsize=1)
def _subjects() -> tuple[re.Pattern, dict[str, list[Claim]]]:
    """One pattern of every claim subject (group ``s<i>``) and the claims of each group: a clause is
    scanned once, and only the claims whose subject occurs in it are matched in full."""
    subjects = list(dict.fromkeys(c.subject for c in claims()))
    combined = re.compile("|".join(f"(?P<s{i}>{s})" for i, s in enumerate(subjects)), re.IGNORECASE)
    return combined, {f"s{i}": [c for c in claims() if c.subject == s] for i, s in enumerate(subjects)}


def check(interpretation: Interpretation, facts: Facts) -> list[Issue]:
    """Numeric and qualitative grounding issues of the steps and the summary."""
    issues: list[Issue] = []
    parts = [(f"step {s.number}", s.body) for s in interpretation.steps] + [("the summary", interpretation.summary)]
    for where, text in parts:
        for sentence in _SENTENCE.split(text):
            issues += _numbers(where, sentence, facts)
            issues += _claims(where, sentence, facts)
    return list(dict.fromkeys(issues))


# -- numbers -------------------------------------------------------------------------------------

def _numbers(where: str, sentence: str, facts: Facts) -> list[Issue]:
    found = list(_NUMBER.finditer(sentence))
    issues = []
    for i, m in enumerate(found):
        unit, factor = _unit(m.group(2))
        if math.isnan(factor) or _RANGE_BEFORE.search(sentence[:m.start()]) or _RANGE_AFTER.match(sentence[m.end():]):
            continue
        start = found[i - 1].end() if i else 0
        if _COMPARISON.search(sentence[start:m.start()]):
            continue
        measure = _measure(sentence, start, m.start(), unit)
        if measure is None:
            continue
        value = float(m.group(1).replace("−", "-")) * factor
        window = sentence[start:found[i + 1].start() if i + 1 < len(found) else len(sentence)]
        leads = _leads(window) or _leads(sentence)
        issue = _judge_number(where, m.group(0), measure, value, leads, sentence, facts)
        if issue:
            issues.append(issue)
    return issues


def _unit(text: str | None) -> tuple[str, float]:
    if text is None:
        return "", 1.0
    for pattern, unit, factor in _UNITS:
        if re.fullmatch(pattern, text, re.IGNORECASE):
            return unit, factor
    return "", math.nan


def _measure(sentence: str, start: int, end: int, unit: str) -> Measure | None:
    """The measure of this unit named nearest before the number: first in the text since the
    previous number, else in the sentence so far."""
    for lo in (start, 0):
        best, best_key = None, None
        for m in measures():
            if m.unit != unit:
                continue
            if m.keywords is None:
                return m
            for k in m.keywords.finditer(sentence, lo, end):
                key = (k.end(), k.end() - k.start())
                if best_key is None or key > best_key:
                    best, best_key = m, key
        if best is not None:
            return best
    return None


def _judge_number(where: str, stated: str, measure: Measure, value: float, leads: list[str], sentence: str,
                  facts: Facts) -> Issue | None:
    lead_sources = [s for s in measure.sources if s.startswith("lead:")]
    if lead_sources and leads and all(facts.leads.get(ld, {}).get("quality") in UNUSABLE_LEAD for ld in leads):
        bad = ", ".join(f"{ld} is {facts.leads.get(ld, {}).get('quality', 'missing')}" for ld in leads)
        return Issue("flagged_lead", f"{where} states {stated!r} for {', '.join(leads)}, but {bad}")
    candidates = _candidates(measure, leads, sentence, facts)
    measured = [(name, v) for name, v in candidates if v is not None and not math.isnan(v)]
    if not measured:
        return Issue("unmeasurable_value", f"{where} states {stated!r} for {measure.id.replace('_', ' ')}, "
                                           "which is not measurable for this record")
    signed = measure.unit != "mV"  # amplitudes and ST deviations: magnitudes (the text gives the direction)
    for _, v in measured:
        if abs((value if signed else abs(value)) - (v if signed else abs(v))) <= measure.tolerance(v):
            return None
    name, v = min(measured, key=lambda nv: abs(abs(nv[1]) - abs(value)))
    return Issue(measure.code, f"{where} states {stated!r} for {measure.id.replace('_', ' ')}, measured "
                               f"{_show(v, measure.unit)} ({name}; tolerance {_show(measure.tolerance(v), measure.unit)})")


def _candidates(measure: Measure, leads: list[str], sentence: str, facts: Facts) -> list[tuple[str, float | None]]:
    sources = measure.sources
    if measure.id == "qtc" and (formula := _QTC_FORMULA.search(sentence)):
        sources = tuple(s for s in sources if formula.group(1).lower() in s)
    out = []
    for src in sources:
        kind, _, name = src.rpartition(":")
        if kind == "finding":
            out.append((name, (facts.findings.get(name) or {}).get("value")))
        elif kind == "lead":
            for ld in leads or [ld for ld, row in facts.leads.items() if row.get("quality") not in UNUSABLE_LEAD]:
                row = facts.leads.get(ld) or {}
                v = _qrs_amplitude(row) if name == "qrs_amp_mv" else row.get(name)
                out.append((f"{name} {ld}", v))
        else:
            out.append((name, facts.features.get(name)))
    return out


def _qrs_amplitude(row: dict) -> float | None:
    r, s = row.get("r_amp_mv"), row.get("s_amp_mv")
    return None if r is None or s is None else r - s


def _show(v: float, unit: str) -> str:
    return f"{v:.2f} {unit}".strip() if unit in ("mV", "") else f"{v:.0f} {unit}"


def _leads(text: str) -> list[str]:
    out: list[str] = []
    for m in _LEAD.finditer(text):
        if m.group(3):
            names = [m.group(3)]
        else:
            a, b = sorted((int(m.group(1)), int(m.group(2))))
            names = [f"V{i}" for i in range(a, b + 1)]
        out += [n for n in names if n not in out]
    return out


# -- qualitative claims --------------------------------------------------------------------------

def _claims(where: str, sentence: str, facts: Facts) -> list[Issue]:
    issues = []
    combined, by_subject = _subjects()
    for clause in _CLAUSE.split(_QUOTED.sub(" ", sentence)):
        hits = [(m.start(), c) for m in combined.finditer(clause) for c in by_subject[m.lastgroup]]
        if not hits or _HEDGE.search(clause):
            continue
        for start, claim in hits:
            m = claim.pattern.match(clause, start)
            if m is None:
                continue
            issue = _judge_claim(where, claim, m.group(0), _asserted(claim, clause, m), clause, facts)
            if issue:
                issues.append(issue)
    return issues


def _asserted(claim: Claim, clause: str, m: re.Match) -> bool | None:
    before, after = clause[:m.start()], clause[m.end():]
    near_before = " ".join(before.rsplit(",", 1)[-1].split()[-5:])  # negation scope: this phrase
    near_after = " ".join(after.split()[:6])
    negated = bool(_NEG_BEFORE.search(near_before) or _NEG_AFTER.match(near_after)
                   or _NEG_INSIDE.search(m.group(0)))
    return claim.negated if negated else claim.asserts


def _judge_claim(where: str, claim: Claim, said: str, state: bool | None, clause: str, facts: Facts) -> Issue | None:
    if state is None:
        return None
    if not claim.criterion.endswith("_*"):
        row = facts.findings.get(claim.criterion)
        positive = None if row is None else row.get("positive")
        if positive is None:
            return Issue("unmeasured_claim", f"{where} says {said!r}, but {_describe(claim.criterion)} was not "
                                             "measurable for this record")
        if positive != state:
            return Issue(claim.code, f"{where} says {said!r}, but {_describe(claim.criterion)} is "
                                     f"{'met' if positive else 'not met'} ({_value(row)})")
        return None
    family = claim.criterion[:-1]
    rows = {c[len(family):]: r for c, r in facts.findings.items() if c.startswith(family)}
    named = _leads(clause) + [ld for m in _REGION.finditer(clause) for ld in _REGIONS[m.group(1).lower()]]
    if named:
        rows = {t: r for t, r in rows.items() if len(set(_territory_leads(family + t)) & set(named)) >= 2}
        if not rows:
            return None
    states = {t: r.get("positive") for t, r in rows.items()}
    positive_ones = [t for t, p in states.items() if p]
    if named and all(p is None for p in states.values()):
        return Issue("unmeasured_claim", f"{where} says {said!r} in {', '.join(dict.fromkeys(named))}, but "
                                         f"{' and '.join(_describe(family + t) for t in states)} could not be measured")
    # a present claim contradicts only territories whose deviation stays below half the
    # criterion's threshold: a shallower one than the threshold is still a deviation
    if state and not positive_ones and not any((r.get("value") or 0) >= SHALLOW * (r.get("threshold") or 0)
                                               for r in rows.values()):
        if any(p is False for p in states.values()) and (named or all(p is False for p in states.values())):
            return Issue(claim.code, f"{where} says {said!r}{' in ' + ', '.join(dict.fromkeys(named)) if named else ''}"
                                     f", but no territory meets it ({'; '.join(_describe(family + t) + ': ' + _value(rows[t]) for t in states if states[t] is False)})")
    if not state and positive_ones:
        return Issue(claim.code, f"{where} says {said!r}, but "
                                 f"{'; '.join(_describe(family + t) + ' is met (' + _value(rows[t]) + ')' for t in positive_ones)}")
    return None


@lru_cache(maxsize=None)
def _territory_leads(criterion: str) -> tuple[str, ...]:
    """The leads a territory criterion reads, from its expression in criteria.csv."""
    expr = next(c.value for c in load_criteria() if c.id == criterion)
    return tuple(ld for ld in LEADS if re.search(rf"_{ld}\b", expr))


@lru_cache(maxsize=None)
def _describe(criterion: str) -> str:
    return next((c.description for c in load_criteria() if c.id == criterion), criterion)


def _value(row: dict) -> str:
    v, t, unit = row.get("value"), row.get("threshold"), row.get("unit") or ""
    if v is None:
        return "not measurable"
    return f"measured {v:.2f} {unit}, threshold {t:g} {unit}".replace("  ", " ").strip()
