"""Grounding checks: every number and every qualitative claim of an interpretation against the
record's own measurements (``features``, ``lead_features``) and protocol ``findings``.

Numbers (``protocol/tolerances.csv``): each number with a unit is bound to one measure, the one
whose keyword comes nearest before it since the previous number (else earlier in its sentence;
``qtc`` before ``qt``; a keyword inside a parenthesis that holds no number explains, it does not
name: "PR (P onset to QRS onset) 160 ms"; numbers joined by slashes take the slashed keywords in
order: "QT/QTc 380/428 ms"; a named QTc formula selects its column), in the leads named around
it, and must lie within the measure's tolerance of its measured value (``max(abs_tol, rel_tol *
|measured|)``). Units are read the way clinicians write them (``0.16 s``, ``160 milliseconds``,
``beats per minute``, ``72/min``, ``per minute``, ``-30°``, ``2 mm`` = 0.2 mV) and lead ranges are
expanded (``V4-V6``, ``V1 to V3``). Reference values are not claims: ranges (``120-200 ms``) and
numbers after a comparison (``above 1.10 mV``, ``< 440 ms``) are skipped. A number for a measure
that was not measurable is an error, and so is one stated for a lead that is missing, flat or
saturated.

Qualitative claims (``curation/claims.csv``): a subject (and a predicate later in the clause,
with no other measure named between) asserts a criterion's state. Scopes follow NegEx/ConText
(Chapman et al. 2001, Harkema et al. 2009): a sentence is cut into clauses at ``;`` and at
contrasting conjunctions (``but``, ``whereas``...); a negation before the claim in its own phrase
(after the last comma, colon or semicolon: "no organised atrial activity: atrial fibrillation"
asserts it), inside it ("ST segments are not elevated") or just after it in its phrase ("ST
elevation: none") gives the row's ``negated`` state (blank: a negated mention asserts nothing),
unless the trigger is a pseudo-negation ("no change"); a hedge in the claim's phrase (``may``,
``such as``, ``cannot be assessed``...) withdraws it; a subject inside a longer one is not read
on its own (``axis`` in ``left axis deviation``). A claim contradicting a finding that is
positive or negative is an error; a definite claim about a criterion that was not measurable is
one too. Territory families (``st_elevation_*``...) take the territory from the leads or regions
named after the claim (else before it), up to the claims beside it, regions as exact lead groups
with the longest name first ("high lateral" is I and aVL); none named: every territory. A present
claim is contradicted only where the deviation stays below half the criterion's threshold
(:data:`SHALLOW`: half of it, three quarters for Q waves).
"""

from __future__ import annotations

import bisect
import csv
import math
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate
from pathlib import Path

from curation.parse import Interpretation, Issue
from curation.phrases import Found, Lexicon
from protocol.answer_key import Key, confounder_name
from protocol.criteria import load as load_criteria
from schemas.ecg import LEADS

TOLERANCES = Path(__file__).resolve().parents[1] / "protocol" / "tolerances.csv"
CLAIMS = Path(__file__).with_name("claims.csv")
UNUSABLE_LEAD = ("missing", "flat", "saturated")  # lead_features.quality with no trustworthy amplitude
#: Share of a territory criterion's threshold from which a present claim is not contradicted (a
#: deviation that shallow may be read as one); Q waves from 30 ms, the Fourth Universal
#: Definition's width (Thygesen et al. 2018) against the 40 ms of Minnesota Code 1-1.
SHALLOW = {"pathologic_q_": 0.75}
SHALLOW_DEFAULT = 0.5
GAP = 120  # most characters between a claim's subject and its predicate

_UNITS = (  # (regex, canonical unit, factor to it); NaN factor: a number that is never a measurement
    (r"milliseconds?|msecs?|ms", "ms", 1.0), (r"seconds?|secs?|s", "ms", 1000.0),
    (r"beats (?:per|a|each) min(?:ute)?|beats/min(?:ute)?|per min(?:ute)?|a minute|bpm|/min(?:ute)?|/mt|per mt", "bpm",
     1.0),
    (r"°|degrees?|deg", "deg", 1.0),
    (r"millivolts?|mv", "mV", 1.0), (r"mm", "mV", 0.1), (r"[µμu]v", "mV", 0.001),
    (r"(?:usable |interpretable )?leads?", "leads", 1.0), (r"years?|%|mm/mv|mm/s", "", math.nan),
)
_UNIT_RES = tuple((re.compile(p), u, f) for p, u, f in _UNITS)
#: A number (group 1: optional sign, digits, decimals; not inside a word or after a point) and
#: its unit (group 2). Written to open with the character a number starts with, so the regex
#: engine skips straight to candidates: the sign-or-digit, then "not after a word character or a
#: point" as a lookbehind over two characters, then more digits (at least one after a sign); a
#: slash may follow only when a number does ("8/12", "380/428 ms": a chain, :func:`_chain`).
_NUMBER = re.compile(r"([-+−\d](?<![\w.].)(?:(?<=\d)\d*|(?<!\d)\d+)(?:\.\d+)?)(?:\s*("
                     + "|".join(p for p, _, _ in _UNITS) + r"))?(?!\w|/(?!\d))")
#: A sentence ends at a full stop, not at one that closes an abbreviation ("approx. 70/min",
#: "path. Q waves").
_SENTENCE = re.compile(r"(?<=\.)(?<!approx\.)(?<!\bca\.)(?<!\bvs\.)(?<!e\.g\.)(?<!i\.e\.)(?<!\bcf\.)(?<!\bpath\.)\s+")
_PAREN = re.compile(r"\([^()]*\)")  # an innermost parenthesis
_APOSTROPHES = ("'", "’")
_AGE = re.compile(r"\b(?:years?|yrs?|aged?|young|younger|under \d+)\b")
_JOIN = re.compile(r"\s*(?:/|of(?: the)?)\s*")  # between the numbers of a chain
#: Not read for claims: a quoted criterion name, a parenthesis holding a number (a measurement or
#: a reference range: "(normal 120-200 ms)").
_MASKED = re.compile(r"(?<!\w)['‘\"“][^'’\"”]+['’\"”](?!\w)|\([^()]*\d[^()]*\)")
#: A lead name, or a range of chest leads; a lone "i" is lead I only after "in", "lead" or "of"
#: or where a lead list or a parenthesis goes on ("i and avl", "i, avl", "lead i (0.1 mv)"), not
#: the pronoun ("i note").
_LEAD = re.compile(r"(?<![\w'])(?:v([1-6])\s*(?:-|–|—|to|through|thru)\s*v?([1-6])|(avr|avl|avf|v[1-6]|iii|ii|"
                   r"(?:(?<=in )|(?<=lead )|(?<=leads )|(?<=of ))i|"
                   r"i(?=\s*(?:$|[,;:.)(/&+-]|and\b|or\b|to\b|through\b|leads?\b|avl\b|avr\b|avf\b|ii\b|iii\b|v[1-6]\b))))"
                   r"(?![\w'])")
_LEAD_NAME = {lead.lower(): lead for lead in LEADS}
#: Territories as exact lead groups; a longer name is read before the shorter one inside it
#: ("high lateral" is I and aVL, not also the "lateral" V5-V6).
_REGIONS = {"inferior": ("II", "III", "aVF"), "high lateral": ("I", "aVL"), "septal": ("V1", "V2"),
            "anteroseptal": ("V1", "V2", "V3", "V4"), "anterior": ("V2", "V3", "V4"),
            "anterolateral": ("V3", "V4", "V5", "V6", "I", "aVL"), "low lateral": ("V5", "V6"),
            "lateral precordial": ("V5", "V6"), "left precordial": ("V4", "V5", "V6"),
            "right precordial": ("V1", "V2", "V3"), "mid precordial": ("V3", "V4"),
            "inferolateral": ("II", "III", "aVF", "V5", "V6"),
            "lateral": ("I", "aVL", "V5", "V6")}
_REGION_NAMES = "|".join(sorted(_REGIONS, key=len, reverse=True))  # longest first
_REGION = re.compile(rf"(?<!\w)({_REGION_NAMES})(?!\w)")
_REGION_LEADS = re.compile(rf"(?:{_REGION_NAMES})\s+leads?\b")
_RANGE_END = re.compile(r"\d\s*[a-zµμ°/]*\s*(?:-|–|—|to)\s*$")
_RANGE_START = re.compile(r"\s*(?:-|–|—|to)\s*[-+−]?\d+(?:\.\d+)?(?!st\b|nd\b|rd\b|th\b)")  # not "- 1st degree"
#: What may stand between a measure term and a number written without its unit ("axis -9",
#: "PR: 160", "normal axis (55)", "QTc is 410", "QRS narrow (0.09)", "QTc prolonged — 460"): the
#: number then takes the term's unit.
#: A bare interval below this is in seconds ("PR 0.16", "QRS narrow (0.09)"), not milliseconds.
_BARE_SECONDS = 3.0
#: A sex-specific value is a reference: "(450 ms in men, 460 ms in women)".
_FOR_SEX = re.compile(r"\s*(?:in|for)\s+(?:men|women|males|females|male|female)\b")
_PLUS = re.compile(r"\splus\s|\+")
#: A bound, not a measurement: "a QRS of 120 ms or more".
_OR_MORE = re.compile(r"\s*(?:or|and)\s+(?:more|less|longer|shorter|above|below|greater|over|higher|lower)\b")
#: A rate written without its unit: "rate 96", "HR: 72", "sinus @ 68".
_RATE_BEFORE = re.compile(r"(?:\b(?:heart rate|ventricular rate|rate|hr)\b|@)[\s:=]*(?:(?:is|of|at)\s*)?$")
_BARE = re.compile(r"[\s:=(~—–-]*,?\s*(?:(?:is|of|at|was|measures|measured|measuring|about|approx|normal|nl|narrow|broad|"
                   r"wide|prolonged|long|short|borderline|leftward|rightward)\b[\s:=(~.—–-]*){0,2}")
_SYMBOLS = ("<", ">", "≤", "≥", "=")  # a number after one of these is a reference value
#: A cart's axis line, its three axes in order: "P-R-T axes 50 45 40" (GE MUSE) or "axis: P 50
#: QRS 45 T 40" (Philips); "***" where an axis was not measured. Each with a literal that every
#: match holds, looked for first (a fast scan).
_AXIS_VALUE = r"([-+−]?\d+|\*+)"
_AXIS_LINES = (("t axes", re.compile(rf"\bp-?r-?t axes\s+{_AXIS_VALUE}\s+{_AXIS_VALUE}\s+{_AXIS_VALUE}")),
               (" qrs ", re.compile(rf"\baxis:?\s+p\s+{_AXIS_VALUE}\s+qrs\s+{_AXIS_VALUE}\s+t\s+{_AXIS_VALUE}")))
_AXIS_MEASURES = ("p_axis", "qrs_axis", "t_axis")
#: Words that make a bare number after a term of two measures its duration ("QRS narrow (0.09)").
_DURATION = re.compile(r"\b(?:narrow|wide|broad|prolonged|long|short)\b")
_DURATION_AFTER = 24  # characters after the number where such a word still qualifies it
#: The fixed phrase lists of the checker (the claims' and measures' own come from their CSVs).
LISTS = {
    "clause": "but|whereas|while|however|although|except",
    "comparison": "above|below|over|under|exceeds|exceeding|exceed|greater than|less than|more than|at least|"
                  "cutoff|cut off|threshold|thresholds|limit|normal|upper|lower|range|between|short of|needed|"
                  "required|criterion of|beyond|than|reach|reaches|reached|reaching",
    "reference": "normal|reference|ref|range|upper limit|lower limit|up to|limit|threshold|cutoff|cut off|"
                 "normally|typically",
    "neg_before": "no|not|without|w o|absence of|absent|free of|negative for|neg for|neither|nor|rule out|rules out|"
                  "ruled out|lack of|lacks|nothing|doesn t|does not|do not|don t|fails to|fail to|not meeting",
    "neg_after": "not|absent|excluded|ruled out|none|nil",
    # where a negation before a claim stops (ConText terminations): a new finding or a new clause
    "terminate": "with|w|which|and the|and there|and a|and an|showing|consistent with|c w|in keeping with",
    # negation words that deny nothing (NegEx pseudo-negations)
    "pseudo": "no change|no significant change|no interval change|not only|not necessarily|no further|"
              "without further|not changed",
    "neg_inside": "not|no|without|w o",
    "hedge": "possible|possibly|probable|probably|may|might|could|can|cannot|unable|not measurable|not assessable|"
             "n/a|not applicable|not assessed|unassessable|indeterminate|unreadable|not readable|not analysable|"
             "not analyzed|not analysed|"
             "not analyzable|uninterpretable|not interpretable|not evaluable|unevaluable|non evaluable|"
             "couldn t|could not|not able to|slightly|a little|a bit|mildly|marginally|somewhat|"
             # a value at a limit (a borderline finding, not a normal one)
             "upper limit of normal|lower limit of normal|border of normal|edge of normal|high normal|low normal|"
             # hypothetical mentions (ConText): a finding looked for, or a criterion applied
             "looking for|look for|looking next for|sought|search for|searching for|screen for|we apply|applying|"
             "needed for|required for|needed to|would be|would need|would suggest|would indicate|must be|"
             "must have|defined as|is defined|are defined|by definition|"
             "suggest|suggests|suggesting|suggestive|consider|considered|borderline|equivocal|questionable|versus|vs|"
             "differential|mimic|mimics|mimicking|such as|rule out|if|unless|whether|exclude|excludes|excluded|"
             # qualifiers the measurements cannot judge (ST discordant to the QRS in a bundle branch block)
             "concordant|discordant|secondary|expected|appropriate",
    "doubt": "excluded|ruled out|possible|suspected|uncertain|questionable|likely|unlikely",  # of a claim, after it
    "barrier": "qrs|qt|qtc|pr|axis|rr|rhythm|rate|st|voltage|voltages|amplitude|amplitudes|morphology|p wave|t wave|"
               "p waves|t waves|impression|findings|"
               "diagnosis|diagnoses",
    "formula": "bazett|fridericia|framingham|hodges",
}
NEAR = 40  # characters around a claim read for its negation (about six words)
#: Where a negation's or a hedge's scope stops (ConText terminations): a comma, colon or semicolon
#: before the claim; a comma or semicolon after it (a colon after a heading leads to its value:
#: "ST elevation: none").
_PRE_STOP, _POST_STOP = ",:;", ",;"
_STOPS = re.compile(f"[{_PRE_STOP}]")
_DASH = re.compile(r"\s[-–—]+>?\s")  # "no organised P waves - atrial fibrillation": a spaced dash ends a phrase


@dataclass(frozen=True)
class Measure:
    """A measurable quantity a text may state (one row of ``protocol/tolerances.csv``)."""

    id: str
    unit: str
    keywords: str  # phrase list; empty: the unit alone names the measure
    sources: tuple[str, ...]  # feature column, ``finding:<criterion>`` or ``lead:<lead column>``
    abs_tol: float
    rel_tol: float
    code: str

    def tolerance(self, measured: float) -> float:
        return max(self.abs_tol, self.rel_tol * abs(measured))


@dataclass(frozen=True)
class Claim:
    """A qualitative claim (one row of ``curation/claims.csv``)."""

    claim: str
    subject: str  # phrase list
    predicate: str  # phrase list that must follow the subject in its clause, or empty
    criterion: str  # a criterion id, or a family ``prefix_*`` over its territories
    asserts: bool | None
    negated: bool | None
    code: str
    diagnosis: bool  # reads its criterion as a diagnosis (pathologic Q waves), not as a form or a value


@dataclass
class Facts:
    """What a record's interpretation is checked against: its ``features`` row, its
    ``lead_features`` rows by lead, its ``findings`` rows by criterion (with their
    ``confounder``) and its reconciled answer key."""

    features: dict
    leads: dict[str, dict]
    findings: dict[str, dict]
    key: Key


@dataclass(frozen=True)
class Assertion:
    """A claim as read: where, its criterion (or family ``prefix_*``), its state (None: hedged),
    the leads or territories named with it and its sentence."""

    where: str
    criterion: str
    state: bool | None
    scope: str
    sentence: str


@lru_cache(maxsize=1)
def measures() -> tuple[Measure, ...]:
    with TOLERANCES.open(newline="") as fh:
        return tuple(Measure(r["measure"], r["unit"], r["keywords"], tuple(r["sources"].split()),
                             float(r["abs_tol"]), float(r["rel_tol"] or 0), r["code"]) for r in csv.DictReader(fh))


@lru_cache(maxsize=1)
def claims() -> tuple[Claim, ...]:
    state = {"true": True, "false": False, "": None}
    with CLAIMS.open(newline="") as fh:
        return tuple(Claim(r["claim"], r["subject"], r["predicate"], r["criterion"], state[r["asserts"]],
                           state[r["negated"]], r["code"], r["diagnosis"] == "true") for r in csv.DictReader(fh))


@lru_cache(maxsize=1)
def _lexicon() -> tuple[Lexicon, dict[str, tuple[Claim, ...]]]:
    """Every phrase list of the checker in one lexicon, and the claims of each subject list."""
    subjects = list(dict.fromkeys(c.subject for c in claims()))
    lists = {**LISTS, **{f"kw:{m.id}": m.keywords for m in measures() if m.keywords},
             **{f"subject:{i}": s for i, s in enumerate(subjects)},
             **{f"predicate:{c.predicate}": c.predicate for c in claims() if c.predicate}}
    by_subject = {f"subject:{i}": tuple(c for c in claims() if c.subject == s) for i, s in enumerate(subjects)}
    return Lexicon(lists), by_subject


def read(interpretation: Interpretation, facts: Facts) -> tuple[list[Issue], list[Assertion]]:
    """Numeric and qualitative grounding issues of the steps and the summary, and every claim read."""
    issues: list[Issue] = []
    asserted: list[Assertion] = []
    lexicon, by_subject = _lexicon()
    parts = [(f"step {s.number}", s.body) for s in interpretation.steps] + [("the summary", interpretation.summary)]
    text = "\n".join(body for _, body in parts)  # one scan of every part; each part read in its bounds
    low = text.lower()
    text = text if len(text) == len(low) else low  # quoted in messages as written
    found = lexicon.scan(low)
    hits = sorted(((a, b, cs) for name, cs in by_subject.items() for a, b in found.spans.get(name, ())),
                  key=lambda h: h[:2])
    keywords = _covering(sorted(((e, e - a, m) for m in measures() if m.keywords for a, e in found.spans.get(f"kw:{m.id}", ())
                                 if low[a - 1:a] not in _APOSTROPHES), key=lambda k: k[:2]))  # not the s of "t's"
    end = -1
    for where, body in parts:
        lo, part_end = end + 1, end + 1 + len(body)
        for boundary in [*_SENTENCE.finditer(low, lo, part_end), None]:
            hi = boundary.start() if boundary else part_end
            issues += _numbers(where, low, text, lo, hi, found, keywords, facts)
            first = bisect.bisect_left(hits, (lo,))
            in_sentence = [h for h in hits[first:bisect.bisect_left(hits, (hi,), first)] if h[1] <= hi]
            if in_sentence:
                issues += _claims(where, low, text, lo, hi, in_sentence, found, facts, asserted)
            lo = boundary.end() if boundary else lo
        end = part_end
    return list(dict.fromkeys(issues)), asserted


# -- numbers -------------------------------------------------------------------------------------

def _numbers(where: str, text: str, orig: str, lo: int, hi: int, found: Found, keywords: list,
             facts: Facts) -> list[Issue]:
    """A number is bound to one measure: the measure term nearest before it since the previous
    number (else earlier in the sentence), outside any parenthesis that does not hold the number
    ("PR (P onset to QRS onset) 160 ms" is the PR); numbers joined by slashes take the slashed
    terms before them in order ("QT/QTc 342/339 ms") and the unit after the last; a cart's axis
    line gives its three numbers to the P, QRS and T axes (:func:`_axis_lines`)."""
    numbers = list(_NUMBER.finditer(text, lo, hi))
    explained = [(a, b) for a, b in (m.span() for m in _PAREN.finditer(text, lo, hi))
                 if not _NUMBER.search(text, a, b) and len(text[a + 1:b - 1].split()) > 2] \
        if text.find("(", lo, hi) >= 0 else []  # "(QTc)" names, "(P onset to QRS onset)" explains
    if explained:  # this sentence's keywords, less those inside them
        keywords = [k for k in keywords[bisect.bisect_left(keywords, (lo,)):bisect.bisect_right(keywords, (hi, math.inf))]
                    if not _inside(k[0] - k[1], explained)]
    formulas = [text[a:b] for a, b in found.within("formula", lo, hi)] if numbers else []
    issues, taken = _axis_lines(where, text, orig, lo, hi, facts)
    for i, m in enumerate(numbers):
        if taken and _inside(m.start(), taken):
            continue
        chain = _chain(text, numbers, i)
        unit, factor = _unit(m.group(2) or numbers[chain[-1]].group(2))
        if not unit and not math.isnan(factor):
            unit = _bare_unit(text, keywords, lo, numbers[chain[0]].start())
            if unit == "ms" and abs(float(m.group(1).replace("−", "-"))) < _BARE_SECONDS:
                factor = 1000.0  # "PR 0.16": an interval written in seconds
            if not unit and _RATE_BEFORE.search(text, lo, numbers[chain[0]].start()):
                unit = "bpm"
        first = numbers[chain[0]]
        start = numbers[chain[0] - 1].end() if chain[0] else lo
        before = text[start:first.start()].rstrip()
        if math.isnan(factor) or _is_range(text[max(lo, m.start() - 24):m.start()], text[m.end():hi]) \
                or _is_reference(before, start, found) or _in_reference(text, lo, m.start(), found) \
                or _FOR_SEX.match(text, m.end(), hi) or _OR_MORE.match(text, m.end(), hi) \
                or _between(text, numbers, chain[0], start, found):
            continue
        named = _measures(keywords, start, first.start(), unit) or _measures(keywords, lo, first.start(), unit)
        if len(chain) > 1 and len(named) >= len(chain):
            named = named[:len(chain)][::-1]  # nearest first: the slashed terms in the order written
            measure = named[chain.index(i)]
        elif named and i == chain[0]:  # one term: a count of a total ("8/12 leads", "11 of 12")
            # a sum spelt out before its value ("Sokolow-Lyon, S in V1 plus the taller R in V5: 2.2 mV")
            # is the composite measure's, not its last wave's
            summed = _PLUS.search(text, start, first.start())
            composite = next((x for x in named if x.sources[0].startswith("finding:")), None)
            if summed and composite is None:  # "SV1+R(V5/V6) 12.3 mm": a sum, not one wave's amplitude
                continue
            measure = composite if summed else named[0]
        else:
            continue
        value = float(m.group(1).replace("−", "-")) * factor
        window = text[start:numbers[i + 1].start() if i + 1 < len(numbers) else hi]
        leads = _leads(window) or _leads(text[lo:hi])
        issue = _judge_number(where, orig[m.start():m.end()], measure, value, leads, formulas, facts)
        if issue:
            issues.append(issue)
    return issues


def _axis_lines(where: str, text: str, orig: str, lo: int, hi: int, facts: Facts) -> tuple[list[Issue], list]:
    """The issues of a cart's axis lines in ``[lo, hi)`` (:data:`_AXIS_LINES`: each number the
    P, QRS and T axis in turn) and the spans of their numbers, which no other measure takes."""
    issues, taken = [], []
    for hint, pattern in _AXIS_LINES:
        if text.find(hint, lo, hi) < 0:
            continue
        for m in pattern.finditer(text, lo, hi):
            for k, measure in enumerate(_AXIS_MEASURES, start=1):
                taken.append(m.span(k))
                if not m.group(k).startswith("*"):
                    issue = _judge_number(where, orig[m.start(k):m.end(k)], _measure(measure),
                                          float(m.group(k).replace("−", "-")), [], [], facts)
                    if issue:
                        issues.append(issue)
    return issues, taken


def _covering(keywords: list) -> list:
    """The measure terms less those that start inside another one ("corrected QT interval" is the
    QTc's term, not also the QT's "QT interval")."""
    spans = sorted({(e - n, e) for e, n, _ in keywords})
    starts = [a for a, _ in spans]
    reach = list(accumulate((e for _, e in spans), max))  # the furthest end of the spans up to each one

    def inside(at: int) -> bool:
        i = bisect.bisect_left(starts, at) - 1  # the spans that start before ``at``
        return i >= 0 and reach[i] > at
    return [k for k in keywords if not inside(k[0] - k[1])]


def _bare_unit(text: str, keywords: list, lo: int, at: int) -> str:
    """The unit of the measure term right before a number written without one (:data:`_BARE`
    between them), when the term names measures of one unit only; else ''."""
    i = bisect.bisect_right(keywords, (at, math.inf)) - 1
    if i < 0 or keywords[i][0] - keywords[i][1] < lo or not _BARE.fullmatch(text, keywords[i][0], at):
        return ""
    units, j = set(), i
    while j >= 0 and keywords[j][:2] == keywords[i][:2]:  # every measure of that very term
        units.add(keywords[j][2].unit)
        j -= 1
    if len(units) > 1 and "ms" in units and _DURATION.search(text, keywords[i][0], at + _DURATION_AFTER):
        return "ms"  # "QRS narrow (0.09)", "QRS 0.09, narrow": a width, not an amplitude
    if units == {"mV"} and keywords[i][1] == 1:
        return ""  # "T -7" after a lone wave letter ("AXIS: P 30 QRS 17 T -7"): no amplitude without its unit
    return units.pop() if len(units) == 1 else ""


def _chain(text: str, numbers: list, i: int) -> list[int]:
    """The indices of the numbers joined to number ``i`` in order: by slashes (``342/339 ms``,
    ``382 ms / 435 ms``, ``8/12``) or by ``of`` after a bare count (``11 of the 12``)."""
    def joined(k: int) -> bool:  # numbers k and k + 1
        between = text[numbers[k].end():numbers[k + 1].start()]
        return between.strip() == "/" or (not numbers[k].group(2) and bool(_JOIN.fullmatch(between)))
    a = b = i
    while a and joined(a - 1):
        a -= 1
    while b + 1 < len(numbers) and joined(b):
        b += 1
    return list(range(a, b + 1))


def _between(text: str, numbers: list, k: int, start: int, found: Found) -> bool:
    """Number ``k`` is the second bound of "between -30° and +90°" (the first is a comparison)."""
    return bool(k and text[start:numbers[k].start()].strip() == "and"
                and _is_reference(text[numbers[k - 2].end() if k > 1 else 0:numbers[k - 1].start()].rstrip(),
                                  numbers[k - 2].end() if k > 1 else 0, found))


def _is_reference(before: str, start: int, found: Found) -> bool:
    """The number follows a comparison (``above``, ``<``, ``threshold of``...): a reference value."""
    stem = before.removesuffix(" of").removesuffix(" the").rstrip()
    end = start + len(stem)
    return stem.endswith(_SYMBOLS) or any(e == end for _, e in found.within("comparison", start, end))


@lru_cache(maxsize=256)
def _in_reference(text: str, lo: int, at: int, found: Found) -> bool:
    """The number is inside a parenthesis that opens with a reference word: ``(normal up to 200 ms)``."""
    opening = text.rfind("(", lo, at)
    if opening < 0 or text.find(")", opening, at) >= 0:
        return False
    head = opening + 1 + len(text[opening + 1:at]) - len(text[opening + 1:at].lstrip())
    return text.startswith(_SYMBOLS, head) or any(a == head for a, _ in found.within("reference", head, at))


@lru_cache(maxsize=256)
def _unit(text: str | None) -> tuple[str, float]:
    if text is None:
        return "", 1.0
    return next(((u, f) for r, u, f in _UNIT_RES if r.fullmatch(text)), ("", math.nan))


def _is_range(before: str, after: str) -> bool:
    """``120-200 ms``, ``-30° to +90°``: the number ends or starts a range of reference values."""
    return bool(_RANGE_END.search(before) or _RANGE_START.match(after))


def _measures(keywords: list[tuple[int, int, Measure]], lo: int, hi: int, unit: str) -> list[Measure]:
    """The measures of this unit named in ``[lo, hi)`` (``keywords``: ``(end, length, measure)`` of
    every keyword, sorted), the one whose keyword ends nearest ``hi`` first (the longer keyword on
    a tie: ``p axis`` over ``axis``). A unit without keywords (bpm) names its measure."""
    plain = _unnamed(unit)
    if plain:
        return list(plain)
    named: list[Measure] = []
    i = bisect.bisect_right(keywords, (hi, math.inf)) - 1
    while i >= 0 and keywords[i][0] - keywords[i][1] >= lo:
        m = keywords[i][2]
        if m.unit == unit and m not in named and keywords[i][0] <= hi:
            named.append(m)
        i -= 1
    return named


@cache
def _measure(measure_id: str) -> Measure:
    """The measure of ``protocol/tolerances.csv`` called ``measure_id``."""
    return next(m for m in measures() if m.id == measure_id)


@cache
def _unnamed(unit: str) -> tuple[Measure, ...]:
    """The measures of ``unit`` that have no keywords (the unit alone names them)."""
    return tuple(m for m in measures() if m.unit == unit and not m.keywords)


def _judge_number(where: str, stated: str, measure: Measure, value: float, leads: list[str], formulas: list[str],
                  facts: Facts) -> Issue | None:
    lead_sources = any(s.startswith("lead:") for s in measure.sources)
    if lead_sources and leads and all(facts.leads.get(ld, {}).get("quality", "missing") in UNUSABLE_LEAD
                                      for ld in leads):
        bad = ", ".join(f"{ld} is {facts.leads.get(ld, {}).get('quality', 'missing')}" for ld in leads)
        return Issue("flagged_lead", f"{where} states {stated!r} for {', '.join(leads)}, but {bad}")
    measured = [(name, v) for name, v in _candidates(measure, leads, formulas, facts)
                if v is not None and not math.isnan(v)]
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


def _candidates(measure: Measure, leads: list[str], formulas: list[str],
                facts: Facts) -> list[tuple[str, float | None]]:
    sources = measure.sources
    if measure.id == "qtc" and formulas:  # the QTc formulas named in the sentence select their columns
        sources = tuple(s for s in sources if any(f in s for f in formulas))
    out = []
    for src in sources:
        kind, _, name = src.rpartition(":")
        if kind == "finding":
            out.append((name, (facts.findings.get(name) or {}).get("value")))
        elif kind == "lead":
            for ld in leads or [ld for ld, row in facts.leads.items() if row.get("quality") not in UNUSABLE_LEAD]:
                row = facts.leads.get(ld) or {}
                out.append((f"{name} {ld}", _qrs_amplitude(row) if name == "qrs_amp_mv" else row.get(name)))
        else:
            out.append((name, facts.features.get(name)))
    return out


def _qrs_amplitude(row: dict) -> float | None:
    r, s = row.get("r_amp_mv"), row.get("s_amp_mv")
    return None if r is None or s is None else r - s


def _show(v: float, unit: str) -> str:
    return f"{v:.2f} {unit}".strip() if unit in ("mV", "") else f"{v:.0f} {unit}"


def _leads(text: str) -> list[str]:
    """The leads ``text`` names, ranges expanded (``V4-V6``, ``V1 to V3``), in order."""
    return list(_lead_names(text))


@lru_cache(maxsize=1024)
def _lead_names(text: str) -> tuple[str, ...]:
    """:func:`_leads`, memoised: a sentence's leads are read again for each of its numbers."""
    out: list[str] = []
    for m in _LEAD.finditer(text):
        if m.group(3):
            names = [_LEAD_NAME[m.group(3)]]
        else:
            a, b = sorted((int(m.group(1)), int(m.group(2))))
            names = [f"V{i}" for i in range(a, b + 1)]
        out += [n for n in names if n not in out]
    return tuple(out)


# -- qualitative claims --------------------------------------------------------------------------

def _claims(where: str, text: str, orig: str, lo: int, hi: int, hits: list, found: Found,
            facts: Facts, asserted: list[Assertion]) -> list[Issue]:
    """The claims of one sentence, from its subject ``hits`` ``(start, end, claims)``; each one
    read is appended to ``asserted``."""
    issues = []
    masked = [m.span() for m in _MASKED.finditer(text, lo, hi)]
    hits = [h for h in hits if not _inside(h[0], masked)
            and not any(o[0] <= h[0] and h[1] <= o[1] and o[:2] != h[:2] for o in hits)]
    for c0, c1 in _clauses(text, lo, hi, found, hits):
        mine = [h for h in hits if c0 <= h[0] and h[1] <= c1]
        for k, (a, b, cs) in enumerate(mine):
            # the leads and territories of this claim: those named after it, before the next claim,
            # else those named before it, after the previous one
            own = text[b:mine[k + 1][0] if k + 1 < len(mine) else c1]
            own = own if _territory(own) else text[mine[k - 1][1] if k else c0:a]
            for claim in cs:
                span = _span(claim, a, b, c1, found, masked, mine)
                if span is None or claim.asserts is None:
                    continue
                hedged = _hedged(text, c0, c1, *span, found)
                state = None if hedged else _asserted(claim, text, c0, c1, *span, found)
                asserted.append(Assertion(where, claim.criterion, state, own, text[lo:hi]))
                if hedged:
                    continue
                issue = _judge_claim(where, claim, orig[span[0]:span[1]], state, own, text[lo:hi], facts)
                if issue:
                    issues.append(issue)
    return issues


def _inside(at: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= at < b for a, b in spans)


@lru_cache(maxsize=1024)
def _phrase(text: str, c0: int, c1: int, a: int, b: int) -> tuple[int, int]:
    """The phrase around a claim ``[a, b)`` in its clause: from the last of :data:`_PRE_STOP` (or a
    spaced dash) before it to the first of :data:`_POST_STOP` after it, those inside a parenthesis
    aside ("no ST elevation in readable leads (II, III, aVF unreadable)" is one phrase)."""
    parens = [m.span() for m in _PAREN.finditer(text, c0, c1)]
    stops = [m.start() for m in _STOPS.finditer(text, c0, c1) if not _inside(m.start(), parens)]
    start = max([c0, *(k + 1 for k in stops if k < a), *(m.end() for m in _DASH.finditer(text, c0, a))])
    return start, min([c1, *(k for k in stops if k >= b and text[k] in _POST_STOP)])


def _find(text: str, ch: str, lo: int, hi: int) -> int:
    """Where ``ch`` first occurs in ``[lo, hi)``, else ``hi``: a negation after a claim stays out of
    a parenthesis that follows it ("AF (irregular, P waves absent)"), as it stops at the next
    measure named ("irregular, P waves absent")."""
    i = text.find(ch, lo, hi)
    return hi if i < 0 else i


def _negation(found: Found, name: str, lo: int, hi: int) -> bool:
    """A trigger of negation list ``name`` in ``[lo, hi)`` that is not part of a pseudo-negation."""
    hits = found.within(name, lo, hi)
    if not hits:
        return False
    pseudo = found.within("pseudo", max(0, lo - NEAR), hi + NEAR)
    return any(not any(p <= a and e <= q for p, q in pseudo) for a, e in hits)


def _hedged(text: str, c0: int, c1: int, a: int, b: int, found: Found) -> bool:
    """A hedge in the claim's own phrase, or in a relative clause right after it, withdraws it
    ("possible atrial fibrillation", "such as bundle branch block", "atrial fibrillation, which
    cannot be excluded"); one in another phrase does not."""
    start, end = _phrase(text, c0, c1, a, b)
    if found.any("hedge", start, end):
        return True
    if end < c1 and text[end + 1:c1].lstrip().startswith(("which ", "that ")):
        after = text.find(",", end + 1, c1)
        return found.any("doubt", end, c1 if after < 0 else after)
    return False


def _clauses(text: str, lo: int, hi: int, found: Found, hits: list) -> list[tuple[int, int]]:
    """A sentence cut at ``;`` and at contrasting conjunctions (``but``, ``whereas``...); a piece
    after a ``;`` without a claim or a hedge of its own goes on the one before it, as the next
    item of its list ("T inversion: I, aVL (1.9 mm); V2-V4 (3.1 mm)") or its qualifier ("axis
    -70 deg; normal")."""
    semicolons, i = [], text.find(";", lo, hi)
    while i >= 0:
        semicolons.append((i, i + 1))
        i = text.find(";", i + 1, hi)
    out, start = [], lo
    for a, b in sorted(semicolons + found.within("clause", lo, hi)):
        out.append((start, a, text[a] == ";"))  # whether the next piece follows a semicolon
        start = b
    out.append((start, hi, False))
    merged = [out[0][:2]]
    for k in range(1, len(out)):
        c0, c1 = out[k][:2]
        if out[k - 1][2] and _continues(text[c0:c1]) and not any(c0 <= h[0] < c1 for h in hits) \
                and not found.any("hedge", c0, c1):
            merged[-1] = (merged[-1][0], c1)
        else:
            merged.append((c0, c1))
    return merged


def _continues(piece: str) -> bool:
    """A piece of a list that goes on the item before it: leads ("V2-V4 (3.1 mm)"), a territory's
    leads ("high lateral leads I, aVL") or a bare qualifier ("normal")."""
    piece = piece.strip()
    return bool(_LEAD.match(piece) or _REGION_LEADS.match(piece)) or len(piece.split()) <= 2


def _span(claim: Claim, a: int, b: int, clause_end: int, found: Found, masked: list[tuple[int, int]],
          subjects: list) -> tuple[int, int] | None:
    """The claim's text: its subject, or the subject through the first predicate after it in
    the clause (outside parentheses with numbers, not a word of another claim's subject: the
    "normal" of "normal axis") with no other measure named between."""
    if not claim.predicate:
        return a, b
    hit = [h for h in found.within(f"predicate:{claim.predicate}", b, min(clause_end, b + GAP))
           if not _inside(h[0], masked) and not any(o[0] <= h[0] < o[1] for o in subjects)]
    if not hit or found.any("barrier", b, hit[0][0]):
        return None
    return a, hit[0][1]


def _asserted(claim: Claim, text: str, c0: int, c1: int, a: int, b: int, found: Found) -> bool | None:
    start, end = _phrase(text, c0, c1, a, b)  # negation scope: this phrase, six words either side
    negations = found.within("neg_before", start, a)
    start = max([start, a - NEAR, *(e for t, e in found.within("terminate", start, a)
                                    if not any(n == t for n, _ in negations))])
    negated = (_negation(found, "neg_before", start, a)
               or _negation(found, "neg_after", b, min(end, b + NEAR, _find(text, "(", b, end),
                                                       *(h for h, _ in found.within("barrier", b, end)[:1])))
               or _negation(found, "neg_inside", a, b))
    return claim.negated if negated else claim.asserts


def _judge_claim(where: str, claim: Claim, said: str, state: bool | None, scope: str, sentence: str,
                 facts: Facts) -> Issue | None:
    """The issue of one claim: ``scope`` names its leads and territories; ``sentence`` may say that a
    criterion met by its measure is withheld for the patient's age."""
    if state is None:
        return None
    if not claim.criterion.endswith("_*"):
        row = facts.findings.get(claim.criterion)
        if row is not None and row.get("confounder"):
            return _confounded(where, claim, said, state, [claim.criterion], row["confounder"])
        positive = None if row is None else row.get("positive")
        if positive is None:
            return Issue("unmeasured_claim", f"{where} says {said!r}, but {_describe(claim.criterion)} was not "
                                             "measurable for this record")
        young = not positive and row.get("min_age") is not None and (row.get("value") or 0) >= row["threshold"]
        if positive != state and not (young and _AGE.search(sentence)):  # "met, but not under 35 years"
            return Issue(claim.code, f"{where} says {said!r}, but {_describe(claim.criterion)} is "
                                     f"{'met' if positive else 'not met'} ({_value(row)}"
                                     + (f"; the patient is younger than {row['min_age']:g} years" if young else "") + ")")
        return None
    family = claim.criterion[:-1]
    rows = {c[len(family):]: r for c, r in facts.findings.items() if c.startswith(family)}
    named = _territory(scope)
    if named:
        rows = {t: r for t, r in rows.items() if len(set(_territory_leads(family + t)) & set(named)) >= 2}
        if not rows:
            return None
    confounded = {t: r["confounder"] for t, r in rows.items() if r.get("confounder")}
    if confounded and len(confounded) == len(rows):
        return _confounded(where, claim, said, state, [family + t for t in rows], next(iter(confounded.values())))
    rows = {t: r for t, r in rows.items() if t not in confounded}
    states = {t: r.get("positive") for t, r in rows.items()}
    where_said = f"{where} says {said!r}" + (f" in {', '.join(dict.fromkeys(named))}" if named else "")
    if named and all(p is None for p in states.values()):
        return Issue("unmeasured_claim", f"{where_said}, but {' and '.join(_describe(family + t) for t in states)} "
                                         "could not be measured")
    positive = [t for t, p in states.items() if p]
    flat = [t for t, p in states.items()  # measured, negative and without even a shallow deviation
            if p is False and (rows[t].get("value") or 0) < SHALLOW.get(family, SHALLOW_DEFAULT) * (rows[t].get("threshold") or 0)]
    # named territories: each one must deviate; none named: a contradiction only when none does
    if state and flat and (named or len(flat) == len(states)):
        return Issue(claim.code, f"{where_said}, but " + ("no territory meets it" if len(flat) == len(states) else
                                                          "not every territory named meets it") + " ("
                                 + "; ".join(f"{_describe(family + t)}: {_value(rows[t])}" for t in flat) + ")")
    if not state and positive:
        return Issue(claim.code, f"{where_said}, but "
                                 + "; ".join(f"{_describe(family + t)} is met ({_value(rows[t])})" for t in positive))
    return None


def _confounded(where: str, claim: Claim, said: str, state: bool, criteria: list[str], confounder: str) -> Issue | None:
    """A criterion a confounder makes not applicable is not judged against its measurement; a
    definite claim that reads it as a diagnosis (``diagnosis`` in claims.csv: pathologic Q waves,
    not the QS complexes a left bundle branch block gives; LVH by voltage) is an error, a
    description of the deviation ("T inversion in V1-V3" with a right bundle branch block) or a
    denial is not."""
    if not state or not claim.diagnosis:
        return None
    return Issue("confounded_claim", f"{where} says {said!r}, but {' and '.join(_describe(c) for c in criteria)} "
                                     f"{'does' if len(criteria) == 1 else 'do'} not apply with "
                                     f"{confounder_name(confounder)}: name the confounder instead")


def _territory(text: str) -> list[str]:
    """The leads ``text`` names, itself or by territory (``high lateral``: I, aVL)."""
    regions = _REGION.finditer(text.replace("antero-", "antero").replace("infero-", "infero").replace("-", " "))
    return _leads(text) + [ld for m in regions for ld in _REGIONS[m.group(1)]]


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
