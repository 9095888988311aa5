"""The three RL rewards of ECG-R1 (format, diagnosis accuracy, key-diagnostic evidence), made exact.

Pure functions ``(completion, solution) -> float`` in [0, 1]: ``completion`` is the model's text,
``solution`` the RL string of docs/design.md "Training rows" (:func:`curation.evidence.solution`).
ECG-R1's released rewards (``ecg_r1/plugin.py`` of PKUDigitalHealth/ECG-R1: ``FormatRewardORM``,
``DiagnosisAccuracyORM``, ``KeyDiagnosticEvidenceORM``) are the baseline; each function here
says where it differs:

- :func:`format_reward`: ECG-R1 pays 1.0 for any non-empty ``<think>...</think>``; here the whole
  fixed format is checked by :func:`curation.parse.parse` (the six headings in order, one
  paragraph each, a one-paragraph summary, a non-empty ``<answer>``, nothing outside).
- :func:`accuracy_reward`: ECG-R1 compares lower-cased label strings; here labels are compared
  as concepts (:func:`curation.labels.concept`), so synonyms, ids, case and order do not matter.
- :func:`evidence_reward`: ECG-R1 looks for each phrase case-insensitively anywhere in the
  step's text *including its heading* and as any substring; here both sides go through
  :func:`curation.evidence.normalise` (units, dashes, numbers), the phrase must occur as whole
  words and only the step's body counts. The averaging is ECG-R1's: per step, then the mean
  over the steps that have reference phrases.

A completion of any shape (None, not a string, empty, garbage, no tags) scores 0.0 and never
raises; a ``solution`` that is not an RL solution string raises ValueError (it is our own data,
so a bad one is a bug upstream, not a bad rollout). :func:`reward` is the weighted sum that
GRPO trainers (TRL, ms-swift) compute from the three with ``reward_weights=WEIGHTS``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

from curation.evidence import find_phrase, normalise, parse_solution
from curation.labels import concept, hedged, jaccard
from curation.parse import Interpretation, Issue, content_issues, parse
from protocol.answer_key import HEDGE
from protocol.steps import STEPS
from sources.vocabulary import normalise as normalise_label

__all__ = ["BROKEN", "FORMAT_FLOOR", "WEIGHTS", "accuracy_reward", "evidence_reward", "format_reward", "label_key",
           "reward"]

log = logging.getLogger(__name__)

#: Default weights of (format, accuracy, evidence) in :func:`reward`, ECG-R1's (all 1.0).
WEIGHTS: tuple[float, float, float] = (1.0, 1.0, 1.0)
#: What a completion whose structure is intact but has format issues keeps at least.
FORMAT_FLOOR = 0.5
#: Issue codes that mean the structure is broken (format 0.0): no ``<think>``, never closed,
#: no ``<answer>...</answer>`` after it.
BROKEN = frozenset({"missing_think", "unclosed_think", "missing_answer"})

_THINK_CLOSE, _ANSWER_OPEN, _ANSWER_CLOSE = "</think>", "<answer>", "</answer>"


# --- the reference ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Reference:
    labels: frozenset[str]  # label keys (:func:`label_key`)
    phrases: tuple[tuple[int, tuple[str, ...]], ...]  # (step number, normalised phrases), steps with any


@lru_cache(maxsize=8192)
def _reference(solution: str) -> _Reference:
    labels, evidence = parse_solution(solution)
    number = {s.key: s.number for s in STEPS}
    phrases = tuple((number[k], tuple(normalise(p) for p in v)) for k, v in evidence.items() if v)
    return _Reference(frozenset(label_key(x) for x in labels), phrases)


def _checked(solution: object) -> _Reference:
    """The parsed ``solution``; ValueError when it is not an RL solution string."""
    if not isinstance(solution, str):
        raise ValueError(  # noqa: TRY004 - the contract: a bad solution is a ValueError, whatever its type
            f"the solution must be an RL solution string, not {type(solution).__name__}")
    return _reference(solution)


def label_key(label: str) -> str:
    """What a written label is compared as: its concept id (``possible:`` and the id when it is
    hedged, "possible inferior myocardial infarction": the answer key's uncertain statements,
    :data:`protocol.answer_key.HEDGE`), else ``text:`` and its normalised text (lower case,
    whitespace collapsed, trailing ``.;,`` dropped), so an unknown label still matches the same
    text written differently in case or spacing, and never a concept."""
    c = concept(label)
    if c is None:
        return "text:" + normalise_label(label)
    return f"{HEDGE}:{c}" if hedged(label) else c


# --- the completion --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Completion:
    interpretation: Interpretation | None
    format_issues: tuple[Issue, ...]
    answer: tuple[str, ...] | None  # labels of the <answer> after </think>; None when there is none


def _answer(text: str) -> tuple[str, ...] | None:
    """The labels of the first ``<answer>...</answer>`` after the first ``</think>`` (anywhere when
    there is no ``</think>``), as :func:`curation.parse.parse` reads them; linear time."""
    close = text.find(_THINK_CLOSE)
    start = text.find(_ANSWER_OPEN, close + len(_THINK_CLOSE) if close >= 0 else 0)
    end = text.find(_ANSWER_CLOSE, start + len(_ANSWER_OPEN)) if start >= 0 else -1
    if end < 0:
        return None
    return tuple(x.strip() for x in text[start + len(_ANSWER_OPEN):end].split(";") if x.strip())


@lru_cache(maxsize=2048)
def _read(text: str) -> _Completion:
    """The completion parsed once for all three rewards (a GRPO step scores each completion
    with each reward in turn)."""
    answer = _answer(text)
    interpretation, issues = parse(text)
    content = set(content_issues(interpretation)) if interpretation is not None else set()
    return _Completion(interpretation, tuple(i for i in issues if i not in content), answer)


def _completion(completion: object) -> _Completion | None:
    if not isinstance(completion, str) or not completion.strip():
        return None
    return _read(completion)


def _safely(score, completion: object, reference: _Reference) -> float:
    """``score(completion, reference)`` for a readable completion, 0.0 for any other or on any
    error (logged: a reward must never stop a training run)."""
    try:
        read = _completion(completion)
        return 0.0 if read is None else float(score(read, reference))
    except Exception:  # a rollout can be anything; the run must go on
        log.warning("reward %s failed on a completion; scored 0.0", score.__name__, exc_info=True)
        return 0.0


# --- the rewards -----------------------------------------------------------------------------
def format_reward(completion: object, solution: str) -> float:
    """How closely ``completion`` keeps ECG-R1's fixed format (docs/design.md "Interpretation format").

    1.0: no format issue from :func:`curation.parse.parse` (``<think>``, the six bold headings of
    :data:`protocol.steps.STEPS` in order, each followed by one paragraph, ``</think>``, a
    one-paragraph summary, a non-empty ``<answer>label; label</answer>``, nothing outside).
    Content issues of the same parser (a mention of a report or prompt, a claim that the ECG is
    missing, a disclaimer: :func:`curation.parse.content_issues`) are not format and cost nothing.

    Partial credit: 0.0 when the structure is broken (no ``<think>``, ``<think>`` never closed,
    no ``<answer>...</answer>`` after it, or not one step heading recognised, codes
    :data:`BROKEN`); otherwise ``FORMAT_FLOOR + (1 - FORMAT_FLOOR) * 2 ** -n`` with ``n`` the
    number of format issues (a misspelt or missing heading, a step out of order or repeated, an
    empty step, a list or a line break in a step or the summary, an empty summary or answer, text
    outside the structure; each occurrence counts): 0.75 for one issue, 0.625 for two, tending to
    0.5, so every issue fixed is worth something and any intact structure beats a broken one.
    ECG-R1's ``FormatRewardORM`` pays 1.0 for any non-empty ``<think>...</think>``.
    ``solution`` is only checked (ValueError when it is not an RL solution string).
    """
    return _safely(_format, completion, _checked(solution))


def _format(read: _Completion, reference: _Reference) -> float:
    if read.interpretation is None or not read.interpretation.steps:
        return 0.0
    if any(i.code in BROKEN for i in read.format_issues):
        return 0.0
    return FORMAT_FLOOR + (1.0 - FORMAT_FLOOR) * 2.0 ** -len(read.format_issues)


def accuracy_reward(completion: object, solution: str) -> float:
    """The Jaccard overlap of the completion's ``<answer>`` labels and the solution's, as concepts.

    The answer is the first ``<answer>...</answer>`` after ``</think>`` (anywhere when there is no
    ``</think>``: the format reward judges the structure, this one the diagnosis), split on
    ``;``. Each label on both sides becomes its concept id through :func:`curation.labels.concept`
    (descriptions, ids and the statement synonyms of ``sources/data/statements.csv``, any case),
    a hedged one ("possible ...", the answer key's uncertain statements) its own key, an unknown
    label its normalised text (:func:`label_key`); then ``|A & B| / |A | B|`` over the sets, so
    order, case, repeats and synonyms do not matter, and a statement the key holds uncertain
    scores only when the completion hedges it too (stating it as definite is a wrong diagnosis,
    and so is hedging a definite one). Both empty: 1.0. No ``<answer>``
    closed: 0.0. ECG-R1's ``DiagnosisAccuracyORM`` takes the same Jaccard over the lower-cased
    strings, so ``NORM`` or ``normal sinus rhythm`` against ``normal ECG`` or ``sinus rhythm``
    scores as a wrong diagnosis there.
    """
    return _safely(_accuracy, completion, _checked(solution))


def _accuracy(read: _Completion, reference: _Reference) -> float:
    if read.answer is None:
        return 0.0
    return jaccard({label_key(x) for x in read.answer}, set(reference.labels))


def evidence_reward(completion: object, solution: str) -> float:
    """The share of the solution's key-evidence phrases the completion states in their own step.

    For every step with reference phrases: the fraction of its phrases found in the body of the
    same step of the completion's ``<think>`` block (:meth:`curation.parse.Interpretation.step`,
    the first block under that step's heading; the heading line itself is not searched), both
    sides through :func:`curation.evidence.normalise` (case, Unicode dashes and quotes,
    whitespace, ``0.16 s`` = ``160 ms``, ``11 mm`` = ``1.1 mv``), as whole words (``normal`` is
    not found in ``abnormal``). A missing step scores 0 for its phrases. The reward is the mean
    of these fractions over the steps that have phrases: ECG-R1's averaging
    (``KeyDiagnosticEvidenceORM``: per step, then the mean over steps with reference evidence,
    not over all phrases), so a step with one phrase weighs as much as a step with three. Steps
    without reference phrases are skipped; when no step has any, a completion with a readable
    ``<think>`` block scores 1.0 (nothing to miss; ECG-R1 gives 0.0), one without 0.0.
    """
    return _safely(_evidence, completion, _checked(solution))


def _evidence(read: _Completion, reference: _Reference) -> float:
    if read.interpretation is None:
        return 0.0
    if not reference.phrases:
        return 1.0
    shares = []
    for number, phrases in reference.phrases:
        body = normalise(read.interpretation.step(number))
        hits = sum(1 for p in phrases if p and body and find_phrase(p, body) >= 0)
        shares.append(hits / len(phrases))
    return sum(shares) / len(shares)


def reward(completion: object, solution: str, weights: tuple[float, float, float] = WEIGHTS) -> float:
    """``weights[0] * format + weights[1] * accuracy + weights[2] * evidence``: the total a GRPO
    trainer (TRL, ms-swift) computes from the three rewards with ``reward_weights=weights``
    (0 to 3 with :data:`WEIGHTS`). ValueError for weights that are not three finite numbers >= 0
    or a bad ``solution``; 0.0 for an unreadable completion."""
    if (not isinstance(weights, (tuple, list)) or len(weights) != 3
            or not all(isinstance(w, (int, float)) and math.isfinite(w) and w >= 0 for w in weights)):
        raise ValueError(f"weights must be three finite numbers >= 0 (format, accuracy, evidence), not {weights!r}")
    ref = _checked(solution)
    return float(sum(w * _safely(f, completion, ref) for w, f in zip(weights, (_format, _accuracy, _evidence)) if w))
