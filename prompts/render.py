"""Render the teacher prompts (Jinja2): the ECG-R1 six-step interpretation prompt, grounded in
the record's measured features and computed protocol criteria, and the EDER evidence-extraction
prompt. Static text comes first and per-record facts last, so an API prefix cache (DeepSeek's
context caching) serves the shared part. Every number in a rendered prompt is a formatted
``features``/``lead_features``/``findings`` value of that record (see :func:`fmt`).
"""

from __future__ import annotations

import hashlib
import math
import re
from functools import lru_cache
from pathlib import Path

import jinja2

from llm import prompt_sha256  # noqa: F401 - the one hash of a prompt, shared with generations
from protocol.criteria import load as load_criteria
from protocol.steps import STEPS
from schemas.ecg import LEADS

TEMPLATES = Path(__file__).with_name("templates")
DECIMALS = {"mV": 2, "ratio": 2, "fraction": 2}  # every other unit is printed as an integer
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
SEX = {"M": "male", "F": "female"}
NOT_MEASURABLE = "not measurable"


class IdentifierError(ValueError):
    """A prompt would carry an identifier (subject, study, date, path, free-text note)."""


def fmt(value, unit: str | None) -> str:
    """The one way a measured number is written in a prompt: mV, ratios and fractions with two
    decimals, everything else as an integer, followed by its unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_MEASURABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit is None:
        return str(value)
    number = f"{value:.{DECIMALS.get(unit, 0)}f}"
    if number in ("-0", "-0.00"):
        number = number[1:]
    return number if unit in ("ratio", "fraction", "beats", "leads") else f"{number} {unit}"


@lru_cache(maxsize=None)
def _text(name: str) -> str:
    return (TEMPLATES / name).read_text()


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=False, trim_blocks=False, autoescape=False)
    env.globals["steps"] = STEPS  # headings and evidence keys come from protocol/steps.py
    return env


def template_version(kind: str) -> str:
    """sha256 (16 hex) of the template texts behind a prompt kind."""
    names = {"interpretation": ("system.j2", "interpretation.j2"), "evidence": ("evidence.j2",),
             "repair": ("repair.j2",)}[kind]
    return hashlib.sha256("\0".join(_text(n) for n in names).encode()).hexdigest()[:16]


def label_text(labels: list[str], descriptions: dict[str, str]) -> str:
    return "; ".join(descriptions.get(c, c) for c in labels)


def interpretation_context(features: dict, leads: list[dict], findings: list[dict], sex: str | None,
                           labels: str) -> dict:
    """Template variables from one record's rows (dicts of column -> value)."""
    by_id = {c.id: c for c in load_criteria()}
    steps = []
    for step in STEPS[:5]:
        rows = []
        for f in findings:
            if f["step"] != step.number:
                continue
            c = by_id[f["criterion"]]
            verdict = {True: "met", False: "not met", None: NOT_MEASURABLE}[f["positive"]]
            high = f" to below {fmt(f['threshold_high'], c.unit)}" if c.op == "between" else ""
            age = f" from {fmt(f['min_age'], 'years')} of age" if f["min_age"] is not None else ""
            threshold = f"{'from' if c.op == 'between' else c.op} {fmt(f['threshold'], c.unit)}{high}{age}"
            value = fmt(f["value"], c.unit)
            rows.append({"description": c.description, "value": value, "threshold": threshold, "verdict": verdict})
        steps.append({"heading": step.heading, "rows": rows})
    order = {lead: i for i, lead in enumerate(LEADS)}
    lead_rows = [[row["lead"], *(fmt(row.get(col), unit) for col, unit in LEAD_COLUMNS)]
                 for row in sorted(leads, key=lambda r: order[r["lead"]])]
    flags = features.get("quality_flags") or []
    return {
        "sex": SEX.get(sex or "", "unknown"),
        "quality": features.get("quality") or NOT_MEASURABLE,
        "n_leads_ok": fmt(features.get("n_leads_ok"), "leads"),
        "quality_flags": ", ".join(flags) if not isinstance(flags, str) else flags,
        "globals": [(label, fmt(features.get(col), unit)) for col, label, unit in GLOBALS if col in features],
        "leads": lead_rows,
        "criteria": steps,
        "labels": labels,
    }


def interpretation_messages(context: dict) -> list[dict]:
    env = _env()
    return [{"role": "system", "content": env.get_template("system.j2").render().strip()},
            {"role": "user", "content": env.get_template("interpretation.j2").render(**context).strip()}]


def repair_messages(messages: list[dict], response: str, issues: list[str]) -> list[dict]:
    """The conversation so far, the rejected answer, and the checker's issues (``code: message``)
    as the next user turn: the same model is asked again (the repair loop)."""
    return [*messages, {"role": "assistant", "content": response},
            {"role": "user", "content": _env().get_template("repair.j2").render(issues=issues).strip()}]


def evidence_messages(interpretation: str, labels: str) -> list[dict]:
    return [{"role": "user", "content": _env().get_template("evidence.j2").render(
        interpretation=interpretation, labels=labels).strip()}]


_DATE = re.compile(r"\b(19|20|21)\d\d[-/.](0[1-9]|1[0-2])[-/.]\d\d\b|\b\d\d:\d\d:\d\d\b")
_PATH = re.compile(r"(/[\w.-]+){2,}|\b[\w-]+\.(hea|dat|csv|parquet)\b|\bfiles/p\d+")


def guard(messages: list[dict], identifiers: list[str]) -> None:
    """Refuse a prompt that contains any of ``identifiers`` (subject, study and native record
    ids, the record path and its file name), a date or time, or a file path. Numeric ids of
    fewer than five digits cannot be told from measurements and are left to the traceability
    of every number (each one is a formatted feature or finding)."""
    text = "\n".join(m["content"] for m in messages)
    for ident in identifiers:
        ident = str(ident or "").strip()
        if len(ident) >= (5 if ident.isdigit() else 4) and re.search(rf"(?<![\w]){re.escape(ident)}(?![\w])", text):
            raise IdentifierError(f"prompt contains the identifier {ident!r}")
    for pattern, what in ((_DATE, "a date or time"), (_PATH, "a file path")):
        m = pattern.search(text)
        if m:
            raise IdentifierError(f"prompt contains {what}: {m.group(0)!r}")
