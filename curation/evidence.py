"""EDER key-evidence phrases (ECG-R1, ICML 2026): parse, verify, derive and write them.

ECG-R1's evidence reward (``KeyDiagnosticEvidenceORM`` in its released ``ecg_r1/plugin.py``)
scores a rollout by the share of each step's reference phrases found, case-insensitively and
verbatim, in the same step of the model's ``<think>`` block. A phrase is therefore only useful
when it is short, occurs in its own step and is not given away by the step's heading, which the
reward's step text includes. :func:`verify` enforces that on LLM replies (:func:`parse_reply`)
and on the deterministic ``rules`` phrases (:func:`rules_phrases`, table
``evidence_phrases.csv``); :func:`solution` writes the RL ``solution`` string of docs/design.md
"Training rows" and :func:`parse_solution` reads it back. A pure library: no warehouse, no LLM.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from curation.parse import Interpretation, parse
from prompts.render import fmt
from protocol.criteria import load as load_criteria
from protocol.steps import STEP_BY_NUMBER, STEPS

PHRASES = Path(__file__).with_name("evidence_phrases.csv")
MAX_WORDS = 3  # "fewer than four words" (ECG-R1's extraction prompt)
MAX_PER_STEP = 3  # "no more than three findings" per step (same prompt)
DROP_REASONS = ("empty", "not_in_step", "too_long", "heading_text", "over_limit", "duplicate", "unknown_step",
                "separator")
KEYS = tuple(s.key for s in STEPS)
VALUE = "{value}"  # evidence_phrases.csv: the finding's value as the writer prints it
ANSWER_OPEN, ANSWER_CLOSE = "<|answer|>", "<|/answer|>"
EVIDENCE_OPEN, EVIDENCE_CLOSE = "<|key_diagnostic_evidence|>", "<|/key_diagnostic_evidence|>"
_STEP_BY_KEY = {s.key: s for s in STEPS}

# --- normalise -------------------------------------------------------------------------------
_CHARS = str.maketrans({**dict.fromkeys("‐‑‒–—−", "-"), **dict.fromkeys("′‘’", "'"), **dict.fromkeys("″“”", '"')})
_UNITS = {  # spelling -> (canonical unit, factor applied to the number)
    **dict.fromkeys(("milliseconds", "millisecond", "msecs", "msec", "ms"), ("ms", 1)),
    **dict.fromkeys(("seconds", "second", "secs", "sec", "s"), ("ms", 1000)),
    **dict.fromkeys(("beats per minute", "beats/min", "bpm", "/min"), ("bpm", 1)),
    **dict.fromkeys(("degrees", "degree", "deg", "°"), ("deg", 1)),
    **dict.fromkeys(("millivolts", "millivolt", "mv"), ("mv", 1)),
    "mm": ("mv", Decimal("0.1")),  # 10 mm = 1 mV at standard gain
}
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)(?:\s?(" + "|".join(
    re.escape(u) + (r"(?!\s*/)" if u == "mm" else "") for u in sorted(_UNITS, key=len, reverse=True)) + r")(?!\w))?")


def _number(m: re.Match) -> str:
    unit, factor = _UNITS.get(m.group(2), ("", 1))
    value = format((Decimal(m.group(1)) * factor).normalize(), "f")
    return f"{value} {unit}" if unit else value


#: (pattern, replacement) applied in order after the character mapping; shared by
#: :func:`normalise` and :func:`_mapped` so the two cannot drift apart.
_RULES: tuple[tuple[re.Pattern, str | Callable[[re.Match], str]], ...] = (
    (re.compile(r"\s+"), " "), (_NUMBER, _number), (re.compile(r"^ | $"), ""))


def _chars(text: str) -> str:
    """Dashes and quotes mapped before NFKC (so ″ becomes " rather than NFKC's ′′) and after
    it (compatibility forms NFKC turns into dashes), lower case."""
    return unicodedata.normalize("NFKC", text.translate(_CHARS)).lower().translate(_CHARS)


def normalise(text: str) -> str:
    """The matching form of evidence text, shared by curation and the RL reward.

    Rules, in order: Unicode NFKC; lower case; the dashes ‐ ‑ ‒ – — − become ``-``, the primes
    and curly quotes ′ ‘ ’ become ``'`` and ″ “ ” become ``"``; runs of whitespace become one
    space, ends stripped; every number is written canonically (no trailing zeros, no leading
    zeros, ``.5`` -> ``0.5``) and a unit after it, with or without a space, is unified:
    seconds (``s``, ``sec``, ``seconds``) and milliseconds (``ms``, ``msec``, ``milliseconds``)
    become ``<n> ms``; ``bpm``, ``beats per minute``, ``beats/min``, ``/min`` become ``<n> bpm``;
    ``°``, ``deg``, ``degrees`` become ``<n> deg`` (a sign stays: ``-30°`` -> ``-30 deg``);
    ``mv``/``millivolts`` become ``<n> mv`` and ``mm`` amplitudes ``<n/10> mv`` (10 mm = 1 mV;
    ``mm/s`` and ``mm/mV`` are left alone). So ``0.16 s``, ``160 msec`` and ``160 milliseconds``
    all read ``160 ms``, and ``1.10 mV``, ``1.1 mv`` and ``11 mm`` all read ``1.1 mv``.
    """
    text = _chars(text)
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


def _mapped(text: str) -> tuple[str, list[tuple[int, int]]]:
    """:func:`normalise` with, for each output character, the span of ``text`` it came from."""
    pieces = [(d, (i, i + 1)) for i, c in enumerate(text) for d in _chars(c)]
    out, spans = "".join(d for d, _ in pieces), [s for _, s in pieces]
    for pattern, repl in _RULES:
        chars, new_spans, last = [], [], 0
        for m in pattern.finditer(out):
            new = repl if isinstance(repl, str) else repl(m)
            chars.append(out[last:m.start()] + new)
            new_spans += spans[last:m.start()] + [(spans[m.start()][0], spans[m.end() - 1][1])] * len(new)
            last = m.end()
        out, spans = "".join(chars) + out[last:], new_spans + spans[last:]
    return out, spans


def find_phrase(phrase: str, text: str) -> int:
    """Where normalised ``phrase`` occurs in normalised ``text`` as whole words (-1: nowhere),
    so ``normal`` is not found in ``abnormal`` nor ``regular`` in ``irregular``."""
    pattern = ((r"(?<!\w)" if phrase[0].isalnum() else "") + re.escape(phrase)
               + (r"(?!\w)" if phrase[-1].isalnum() else ""))
    m = re.search(pattern, text)
    return m.start() if m else -1


# --- verify ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dropped:
    """A phrase :func:`verify` did not keep; ``reason`` is one of :data:`DROP_REASONS`."""

    step: str
    phrase: str
    reason: str


_SEPARATOR = re.compile(r";|<\||step_\d")  # what would break the solution string or its reader


def verify(evidence: dict[str, list[str]], interpretation: str) -> tuple[dict[str, list[str]], list[Dropped]]:
    """The phrases of ``evidence`` (step key -> phrases) that ECG-R1's reward can use, and the rest.

    A phrase is kept when, normalised (:func:`normalise`), it is non-empty, not a repeat within
    its step, at most :data:`MAX_WORDS` words, free of the solution's separators (``;``,
    ``<|``, a step key), no part of its step's heading (the reward's step text includes the
    heading, so such a phrase is a free hit), and found as whole words in the body of the same
    step of ``interpretation`` (:func:`curation.parse.parse`); the first :data:`MAX_PER_STEP` such
    phrases of a step are kept. A kept phrase is returned as the interpretation writes it (the
    substring of the step body that normalises to it), or, where no substring normalises to
    exactly the phrase (a boundary inside a converted unit), as given with its whitespace
    collapsed. Every step key is in the result, in step order.
    """
    interp, _ = parse(interpretation)
    return _verify(evidence, interp)


def _verify(evidence: dict[str, list[str]],
            interp: Interpretation | None) -> tuple[dict[str, list[str]], list[Dropped]]:
    kept: dict[str, list[str]] = {k: [] for k in KEYS}
    dropped: list[Dropped] = []
    for key, phrases in evidence.items():
        step = _STEP_BY_KEY.get(key)
        if step is None:
            dropped += [Dropped(key, p, "unknown_step") for p in phrases]
            continue
        body = interp.step(step.number) if interp else ""
        body_norm, heading = normalise(body), normalise(step.heading)
        located: tuple[str, list[tuple[int, int]]] | None = None
        seen: set[str] = set()
        for phrase in phrases:
            norm = normalise(phrase)
            at = find_phrase(norm, body_norm) if norm else -1
            reason = ("empty" if not norm else "duplicate" if norm in seen
                      else "too_long" if len(norm.split()) > MAX_WORDS else "separator" if _SEPARATOR.search(norm)
                      else "heading_text" if norm in heading else "not_in_step" if at < 0
                      else "over_limit" if len(kept[key]) >= MAX_PER_STEP else None)
            seen.add(norm)
            if reason:
                dropped.append(Dropped(key, phrase, reason))
                continue
            located = located or _mapped(body)
            kept[key].append(_original(body, located, norm, at) or " ".join(phrase.split()))
    return kept, dropped


def _original(body: str, located: tuple[str, list[tuple[int, int]]], norm: str, at: int) -> str | None:
    """The substring of ``body`` that normalises to ``norm`` found at ``at`` of its normal form."""
    text, spans = located
    if text[at:at + len(norm)] != norm:  # the per-character NFKC of _mapped differs here
        return None
    original = body[spans[at][0]:spans[at + len(norm) - 1][1]]
    return original if normalise(original) == norm else None


# --- LLM replies -----------------------------------------------------------------------------
class EvidenceFormatError(ValueError):
    """An evidence reply that is not the JSON object evidence.j2 asks for."""


class EvidenceReply(BaseModel):
    """The JSON object of ``prompts/templates/evidence.j2`` (ECG-R1's extraction schema less
    its ``id`` and ``labels`` echo)."""

    model_config = ConfigDict(extra="forbid")
    heart_rate: list[str] = []
    key_diagnostic_evidence: dict[str, list[str]]


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)


def parse_reply(text: str) -> dict[str, list[str]]:
    """The phrases of an evidence reply per step key, all six in step order (missing ones empty).

    A surrounding Markdown fence is tolerated. ``heart_rate`` phrases follow the step 1 phrases
    (the rate is step 1 evidence), so :func:`verify` keeps them only when step 1 has room.
    Raises :class:`EvidenceFormatError` on malformed JSON, a wrong type, an unknown key.
    """
    text = (text or "").strip()
    fenced = _FENCE.match(text)
    try:
        reply = EvidenceReply.model_validate_json(fenced.group(1) if fenced else text)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'reply'}: {err['msg']}" for err in e.errors())
        raise EvidenceFormatError(f"the evidence reply is not the requested JSON object ({problems}); reply "
                                  'with {"heart_rate": [...], "key_diagnostic_evidence": {<step key>: [...]}} only'
                                  ) from None
    unknown = [k for k in reply.key_diagnostic_evidence if k not in _STEP_BY_KEY]
    if unknown:
        raise EvidenceFormatError(f"unknown step keys {unknown}; key_diagnostic_evidence takes only {', '.join(KEYS)}")
    out = {k: list(reply.key_diagnostic_evidence.get(k, [])) for k in KEYS}
    out[KEYS[0]] += reply.heart_rate
    return out


# --- the rules origin ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Row:
    criterion: str
    positive: bool
    phrase: str
    key: str  # the step key of the criterion (criteria.csv)
    unit: str


@lru_cache(maxsize=1)
def _phrase_table() -> tuple[_Row, ...]:
    """``evidence_phrases.csv``, checked against criteria.csv."""
    criteria = {c.id: c for c in load_criteria()}
    with PHRASES.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for n, r in enumerate(rows, start=2):
        c = criteria.get(r["criterion"])
        where = f"{PHRASES.name} line {n}"
        if c is None:
            raise ValueError(f"{where}: {r['criterion']!r} is not a criterion of criteria.csv")
        if r["positive"] not in ("true", "false"):
            raise ValueError(f"{where}: positive must be true or false, not {r['positive']!r}")
        if r["phrase"] != VALUE and not 0 < len(normalise(r["phrase"]).split()) <= MAX_WORDS:
            raise ValueError(f"{where}: {r['phrase']!r} must have 1 to {MAX_WORDS} words")
        out.append(_Row(c.id, r["positive"] == "true", r["phrase"], STEP_BY_NUMBER[c.step].key, c.unit))
    return tuple(out)


def rules_phrases(findings: dict[str, dict], interpretation: str) -> dict[str, list[str]]:
    """The ``rules``-origin evidence of a rules-writer interpretation (:mod:`prompts.rules_writer`).

    Candidates per step, in the order of ``evidence_phrases.csv``: each row whose criterion's
    finding is in the row's state (``positive`` True or False; an unmeasured finding gives
    none), the phrase as the writer words it or, for ``{value}``, the finding's value as the
    writer prints it (:func:`prompts.render.fmt`, e.g. ``47 bpm``). Step 6, the synthesis,
    takes the answer's labels, which the writer restates there. Only what :func:`verify` keeps
    is returned: verbatim in its own step, at most three per step.
    """
    candidates: dict[str, list[str]] = {k: [] for k in KEYS}
    for row in _phrase_table():
        found = findings.get(row.criterion) or {}
        if found.get("positive") is not None and bool(found["positive"]) == row.positive:
            candidates[row.key].append(fmt(found.get("value"), row.unit) if row.phrase == VALUE else row.phrase)
    interp, _ = parse(interpretation)
    if interp is not None:
        candidates[KEYS[-1]] = list(interp.answer)
    return _verify(candidates, interp)[0]


# --- the RL solution string ------------------------------------------------------------------
_SOLUTION = re.compile(re.escape(ANSWER_OPEN) + "(.*?)" + re.escape(ANSWER_CLOSE) + re.escape(EVIDENCE_OPEN)
                       + "(.*) " + re.escape(EVIDENCE_CLOSE), re.DOTALL)
_STEPS_BLOCK = re.compile(" ".join(f"{k}:(?: (.*?))?" for k in KEYS), re.DOTALL)
_UNWRITABLE = re.compile(r";|<\||\n|step_\d", re.IGNORECASE)


def _writable(text: str, what: str) -> None:
    if not text or text != text.strip() or _UNWRITABLE.search(text):
        raise ValueError(f"{what} {text!r} cannot be written in a solution: it must be non-empty, without "
                         "surrounding whitespace, ';', '<|', a line break or a step key")


def solution(labels: list[str], evidence: dict[str, list[str]]) -> str:
    """The RL ``solution`` string (docs/design.md "Training rows"), as ECG-R1's rewards read it.

    ``<|answer|>a; b<|/answer|><|key_diagnostic_evidence|>step_1_technical_rate_rhythm: p; q
    step_2_conduction_axis_intervals: r ... step_6_final_medical_reasoning: s <|/key_diagnostic_evidence|>``
    (one line): labels and phrases joined by ``"; "``, the six steps in order separated by one
    space, one space before the closing tag. A step without phrases is written as its bare key
    (``step_3_chamber_hypertrophy_voltage:``), which ECG-R1's reader (``_parse_gt_custom`` in
    ``ecg_r1/plugin.py``: a step's text runs to the next ``step_<n>`` key, split on ``;``)
    reads as an empty list and its reward skips. Missing steps count as empty; an unknown key,
    or a label or phrase that would break that reading, raises ValueError.
    """
    unknown = [k for k in evidence if k not in _STEP_BY_KEY]
    if unknown:
        raise ValueError(f"unknown step keys {unknown}; use {', '.join(KEYS)}")
    for label in labels:
        _writable(label, "label")
    for key in KEYS:
        for phrase in evidence.get(key, []):
            _writable(phrase, f"{key} phrase")
    steps = " ".join(f"{k}:" + (" " + "; ".join(evidence[k]) if evidence.get(k) else "") for k in KEYS)
    return f"{ANSWER_OPEN}{'; '.join(labels)}{ANSWER_CLOSE}{EVIDENCE_OPEN}{steps} {EVIDENCE_CLOSE}"


def parse_solution(s: str) -> tuple[list[str], dict[str, list[str]]]:
    """The labels and the evidence (all six step keys) of a :func:`solution` string; ValueError
    with what is wrong when ``s`` is not one."""
    m = _SOLUTION.fullmatch(s or "")
    if m is None:
        raise ValueError(f"not an RL solution string: expected {ANSWER_OPEN}a; b{ANSWER_CLOSE}{EVIDENCE_OPEN}"
                         f"{KEYS[0]}: p; q ... {KEYS[-1]}: r {EVIDENCE_CLOSE}, got {s[:80]!r}")
    steps = _STEPS_BLOCK.fullmatch(m.group(2))
    if steps is None:
        raise ValueError("the evidence block must list the six step keys in order, each as 'key:' followed by "
                         f"' p; q' or nothing, separated by one space: {m.group(2)[:120]!r}")
    labels = _split(m.group(1), "answer")
    return labels, {k: _split(steps.group(i) or "", k) for i, k in enumerate(KEYS, start=1)}


def _split(text: str, where: str) -> list[str]:
    items = text.split("; ") if text else []
    if any(not x or x != x.strip() or ";" in x for x in items):
        raise ValueError(f"{where}: {text!r} is not items joined by '; '")
    return items
