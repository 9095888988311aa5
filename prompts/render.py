"""Render the teacher prompts (Jinja2): the ECG-R1 six-step interpretation prompt, grounded in
the record's measured features and computed protocol criteria, and the EDER evidence-extraction
prompt. Static text comes first and per-record facts last, so an API prefix cache (DeepSeek's
context caching) serves the shared part. Every number in a rendered prompt is a formatted
``features``/``lead_features``/``findings`` value of that record (see :func:`fmt`).

A stage renders many records from column lists: the lead table formatted column by column
(:func:`lead_columns`), each record's rows as slices handed to :func:`context`;
:func:`interpretation_context` is the same for one record's rows as dicts.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import jinja2

from llm import prompt_sha256  # noqa: F401 - the one hash of a prompt, shared with generations
from protocol.answer_key import confounder_name, definite
from protocol.criteria import by_id
from protocol.steps import STEPS
from schemas.ecg import LEADS

TEMPLATES = Path(__file__).with_name("templates")
DECIMALS = {"mV": 2, "ratio": 2, "fraction": 2}  # every other unit is printed as an integer
BARE_UNITS = frozenset(("ratio", "fraction", "beats", "leads"))  # printed without their unit
GLOBALS = (  # (feature column, label, unit)
    ("hr_bpm", "heart rate", "bpm"), ("rr_mean_ms", "mean RR interval", "ms"), ("rr_sd_ms", "RR standard deviation", "ms"),
    ("rr_nrmssd", "RR normalised RMSSD", "ratio"), ("p_present_frac", "beats with a P wave", "fraction"),
    ("n_beats", "beats", "beats"), ("p_dur_ms", "P duration", "ms"), ("pr_ms", "PR interval", "ms"),
    ("qrs_ms", "QRS duration", "ms"), ("qrs_lead_ms", "QRS duration (median lead)", "ms"), ("qt_ms", "QT interval", "ms"),
    ("qtc_bazett_ms", "QTc Bazett", "ms"),
    ("qtc_fridericia_ms", "QTc Fridericia", "ms"), ("qtc_framingham_ms", "QTc Framingham", "ms"),
    ("qtc_hodges_ms", "QTc Hodges", "ms"), ("p_axis_deg", "P axis", "deg"), ("qrs_axis_deg", "QRS axis", "deg"),
    ("t_axis_deg", "T axis", "deg"),
)
LEAD_COLUMNS = (("p_amp_mv", "mV"), ("q_amp_mv", "mV"), ("r_amp_mv", "mV"), ("s_amp_mv", "mV"), ("t_amp_mv", "mV"),
                ("st_j_mv", "mV"), ("st_j60_mv", "mV"), ("st_form", None), ("t_polarity", None), ("p_dur_ms", "ms"),
                ("qrs_dur_ms", "ms"), ("q_dur_ms", "ms"), ("r_prime", None))
#: The ``features``, ``lead_features`` and ``findings`` columns a prompt reads, in the order
#: :func:`lead_columns` and :func:`context` take them.
CONTEXT_FEATURES = ("quality", "quality_flags", "n_leads_ok", *(col for col, _, _ in GLOBALS))
LEAD_FIELDS = ("lead", *(col for col, _ in LEAD_COLUMNS))
FINDING_FIELDS = ("criterion", "step", "value", "threshold", "threshold_high", "min_age", "positive", "confounder")
SEX = {"M": "male", "F": "female"}
NOT_MEASURABLE = "not measurable"
VERDICTS = {True: "met", False: "not met", None: NOT_MEASURABLE}
_SPECS = {unit: f".{d}f" for unit, d in DECIMALS.items()}
_NEGATIVE_ZEROS = ("-0", "-0.00")  # printed without the sign
_YES_NO = {True: "yes", False: "no"}
_PLAIN = (float, int)  # the types fmt_all formats in bulk (exactly, not subclasses such as bool)
_LEAD_UNITS = tuple(unit for _, unit in LEAD_COLUMNS)
_LEAD_ORDER = {lead: i for i, lead in enumerate(LEADS)}


class CriterionRow(NamedTuple):
    """One line of the prompt's criteria list (named fields: Jinja reads them as attributes)."""

    description: str
    value: str
    threshold: str
    verdict: str


class StepRows(NamedTuple):
    """A step heading and its criteria lines."""

    heading: str
    rows: list[CriterionRow]


class IdentifierError(ValueError):
    """A prompt would carry an identifier (subject, study, date, path, free-text note)."""


def fmt(value, unit: str | None) -> str:
    """The one way a measured number is written in a prompt: mV, ratios and fractions with two
    decimals, everything else as an integer, followed by its unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_MEASURABLE
    if isinstance(value, bool):
        return _YES_NO[value]
    if unit is None:
        return str(value)
    number = format(value, _SPECS.get(unit, ".0f"))
    if number in _NEGATIVE_ZEROS:
        number = number[1:]
    return number if unit in BARE_UNITS else f"{number} {unit}"


def fmt_all(values: list, unit: str | None) -> list[str]:
    """``[fmt(v, unit) for v in values]``, with every plain number (an int or a float that is not
    NaN) formatted by one ``str.format`` call instead of one call each, and text kept as it is."""
    if unit is None:
        return [v if type(v) is str else _YES_NO[v] if type(v) is bool else fmt(v, None) for v in values]
    plain = [v for v in values if type(v) in _PLAIN and not math.isnan(v)]
    if not plain:
        return [fmt(v, unit) for v in values]
    suffix = "" if unit in BARE_UNITS else f" {unit}"
    text = "\0".join([f"{{:{_SPECS.get(unit, '.0f')}}}{suffix}"] * len(plain)).format(*plain)
    numbers = text.split("\0")
    if "-0" in text:
        unsigned = {f"{zero}{suffix}": f"{zero[1:]}{suffix}" for zero in _NEGATIVE_ZEROS}
        numbers = [unsigned.get(n, n) for n in numbers]
    if len(plain) == len(values):
        return numbers
    each = iter(numbers)
    return [next(each) if type(v) in _PLAIN and not math.isnan(v) else fmt(v, unit) for v in values]


@lru_cache(maxsize=None)
def _text(name: str) -> str:
    return (TEMPLATES / name).read_text()


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=False, trim_blocks=False, autoescape=False)
    env.globals["steps"] = STEPS  # headings and evidence keys come from protocol/steps.py
    return env


@cache
def _template(name: str) -> jinja2.Template:
    """A compiled template, loaded once per process like :func:`_text` (whose hash versions it)."""
    return _env().get_template(name)


@cache
def _static(name: str) -> str:
    """A template without variables (the system prompt), rendered once."""
    return _template(name).render().strip()


def template_version(kind: str) -> str:
    """sha256 (16 hex) of the template texts behind a prompt kind."""
    names = {"interpretation": ("system.j2", "interpretation.j2"), "evidence": ("evidence.j2",),
             "repair": ("repair.j2",)}[kind]
    return hashlib.sha256("\0".join(_text(n) for n in names).encode()).hexdigest()[:16]


def _verdict(cid: str, value, threshold, positive: bool | None, confounder: str | None) -> str:
    """met / not met / not measurable; ``not applicable (confounder)``; ``met (borderline)`` for a
    positive criterion short of its definite limit (protocol/measured_statements.csv)."""
    if confounder:
        return f"not applicable ({confounder_name(confounder)})"
    if positive and definite(cid, {"positive": positive, "value": value, "threshold": threshold}) is False:
        return "met (borderline: not a diagnosis on its own)"
    return VERDICTS[positive]


@lru_cache(maxsize=4096, typed=True)
def _threshold_text(criterion: str, threshold: float | None, threshold_high: float | None,
                    min_age: float | None) -> str:
    """``>= 460 ms``, ``from 110 ms to below 120 ms``, ``... from 35 years of age`` (memoised: a
    criterion has few distinct thresholds)."""
    c = by_id()[criterion]
    high = f" to below {fmt(threshold_high, c.unit)}" if c.op == "between" else ""
    age = f" from {fmt(min_age, 'years')} of age" if min_age is not None else ""
    return f"{'from' if c.op == 'between' else c.op} {fmt(threshold, c.unit)}{high}{age}"


def interpretation_context(features: dict, leads: list[dict], findings: list[dict], sex: str | None,
                           key: str) -> dict:
    """Template variables from one record's rows (dicts of column -> value)."""
    return context(features, zip(*lead_columns([[row.get(f) for row in leads] for f in LEAD_FIELDS])),
                   [tuple(row.get(f) for f in FINDING_FIELDS) for row in findings], sex, key)


def lead_columns(columns: list[list]) -> list[list[str]]:
    """The per-lead table's columns, formatted (:func:`fmt_all`), from the :data:`LEAD_FIELDS`
    columns of any number of lead rows."""
    lead, *values = columns
    return [lead, *map(fmt_all, values, _LEAD_UNITS)]


def context(features: dict, leads: Iterable[Sequence[str]], findings: Iterable[tuple], sex: str | None,
            key: str) -> dict:
    """:func:`interpretation_context` from one record's formatted lead rows (the rows of
    :func:`lead_columns`, any order), its findings as tuples in :data:`FINDING_FIELDS` order and
    its answer key's statements (``; ``-joined, :func:`key_text`)."""
    criteria = by_id()
    steps = {step.number: [] for step in STEPS[:5]}
    for cid, number, value, threshold, high, min_age, positive, confounder in findings:
        rows = steps.get(number)
        if rows is not None:
            c = criteria[cid]
            rows.append(CriterionRow(c.description, fmt(value, c.unit), _threshold_text(cid, threshold, high, min_age),
                                     _verdict(cid, value, threshold, positive, confounder)))
    lead_table = sorted(leads, key=lambda r: _LEAD_ORDER[r[0]])
    flags = features.get("quality_flags") or []
    return {
        "sex": SEX.get(sex or "", "unknown"),
        "quality": features.get("quality") or NOT_MEASURABLE,
        "n_leads_ok": fmt(features.get("n_leads_ok"), "leads"),
        "quality_flags": ", ".join(flags) if not isinstance(flags, str) else flags,
        "globals": [(label, fmt(features.get(col), unit)) for col, label, unit in GLOBALS if col in features],
        "leads": lead_table,
        "criteria": [StepRows(step.heading, steps[step.number]) for step in STEPS[:5]],
        "key": key,
    }


def interpretation_messages(context: dict) -> list[dict]:
    return [{"role": "system", "content": _static("system.j2")},
            {"role": "user", "content": _template("interpretation.j2").render(**context).strip()}]


def repair_messages(messages: list[dict], response: str, issues: list[str]) -> list[dict]:
    """The conversation so far, the rejected answer, and the checker's issues (``code: message``)
    as the next user turn: the same model is asked again (the repair loop)."""
    return [*messages, {"role": "assistant", "content": response},
            {"role": "user", "content": _template("repair.j2").render(issues=issues).strip()}]


def key_text(statements: Iterable[str]) -> str:
    """The answer key as the prompt and the answer write it: its statements, ``; ``-joined."""
    return "; ".join(statements) or "no diagnostic statement"


def evidence_messages(interpretation: str, labels: str) -> list[dict]:
    return [{"role": "user", "content": _template("evidence.j2").render(
        interpretation=interpretation, labels=labels).strip()}]


_DATE = re.compile(r"\b(19|20|21)\d\d[-/.](0[1-9]|1[0-2])[-/.]\d\d\b|\b\d\d:\d\d:\d\d\b")
_PATH = re.compile(r"(/[\w.-]+){2,}|\b[\w-]+\.(hea|dat|csv|parquet)\b|\bfiles/p\d+")
_MONTH = r"(?:0[1-9]|1[0-2])[-/.]\d"
#: (pattern, what it finds, cheap patterns one of which every match of it contains): the full
#: pattern runs only where a cheap one, each led by a literal (a fast scan), finds something,
#: so a clean prompt costs a few scans and the outcome is still the full pattern's.
_FORBIDDEN = ((_DATE, "a date or time", tuple(re.compile(p) for p in (r":\d\d:", "-" + _MONTH, "/" + _MONTH,
                                                                      r"\." + _MONTH))),
              (_PATH, "a file path", tuple(re.compile(p) for p in (r"/[\w.-]+/", r"\.(?:hea|dat|csv|parquet)\b",
                                                                   r"files/p\d"))))


def guard(messages: list[dict], identifiers: list[str]) -> None:
    """Refuse a prompt that contains any of ``identifiers`` (subject, study and native record
    ids, the record path and its file name), a date or time, or a file path. Numeric ids of
    fewer than five digits cannot be told from measurements and are left to the traceability
    of every number (each one is a formatted feature or finding). An identifier is looked for as
    a substring before its whole-word pattern is compiled."""
    text = "\n".join(m["content"] for m in messages)
    for ident in identifiers:
        ident = str(ident or "").strip()
        if (len(ident) >= (5 if ident.isdigit() else 4) and ident in text
                and re.search(rf"(?<![\w]){re.escape(ident)}(?![\w])", text)):
            raise IdentifierError(f"prompt contains the identifier {ident!r}")
    for pattern, what, hints in _FORBIDDEN:
        m = any(h.search(text) for h in hints) and pattern.search(text)
        if m:
            raise IdentifierError(f"prompt contains {what}: {m.group(0)!r}")
