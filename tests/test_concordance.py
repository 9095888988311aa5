"""The reconciled answer key and the rules writer against it, on real PTB-XL records.

The contradiction check below reads only the written text (claims in steps 1-5 against the
labels in ``<answer>``); it shares nothing with the writer or the concordance table.
"""

from __future__ import annotations

import re

import polars as pl
import pytest

from prompts.rules_writer import Refused, write
from protocol.answer_key import from_rows, reconcile
from protocol.concordance import relations
from protocol.criteria import evaluate, facts, load
from sources.vocabulary import concepts
from stages.findings import tables

# (claim, pattern a sentence of steps 1-5 matches when it states the finding)
CLAIMS = {
    "bradycardia": r"\bbradycardic\b",
    "tachycardia": r"\btachycardic\b",
    "af": r"consistent with atrial fibrillation",
    "sinus": r"consistent with a sinus mechanism",
    "no_p": r"sinus mechanism cannot be confirmed",
    "ectopic": r"consistent with an ectopic atrial rhythm",
    "1avb": r"\d+ ms,? (?:is )?prolonged, first degree AV block",
    "wide_qrs": r"QRS.*(?<!not )\bwide\b",
    "narrow_qrs": r"QRS.*(?<!not )\bnarrow\b",
    "mid_qrs": r"intermediate width",
    "lad": r"(?<!with )left axis deviation",
    "rad": r"right axis deviation",
    "extreme": r"extreme axis",
    "normal_axis": r"a normal axis",
    "lvh": r"voltage criteria for left ventricular hypertrophy are met(?![^.]*normal variant)",
    "ravl": r"R in aVL is [\d.]+ mV, above [\d.]+ mV\.",
    "low_voltage": r"low voltage",
    "peaked_p": r"tall, peaked",
    "ischemia": r"(ST elevation|ST depression|T wave inversion|pathologic Q waves) (is|are) present",
    "long_qt": r"Framingham[^.]*, prolonged",
    "short_qt": r"Framingham[^.]*, short",
}
ABNORMAL = set(CLAIMS) - {"sinus", "narrow_qrs", "normal_axis"}
SINUS = ("sinus rhythm", "sinus bradycardia", "sinus tachycardia", "sinus arrhythmia")
# answer label -> claims that must be present / absent
MUST = {"atrial fibrillation": {"af"}, "first degree AV block": {"1avb"}, "sinus bradycardia": {"bradycardia"},
        "sinus tachycardia": {"tachycardia"}, "complete left bundle branch block": {"wide_qrs"},
        "complete right bundle branch block": {"wide_qrs"}, "left anterior fascicular block": {"lad"},
        "left posterior fascicular block": {"rad"}, "long QT-interval": {"long_qt"},
        "low QRS voltages in the frontal and horizontal leads": {"low_voltage"},
        "voltage criteria (QRS) for left ventricular hypertrophy": {"lvh"}}
# answer label -> claims it explains without requiring them (an incomplete block may measure 100-119 ms)
EXPLAINS = {"incomplete right bundle branch block": {"mid_qrs"}, "incomplete left bundle branch block": {"mid_qrs"}}
MUST_NOT = {"sinus bradycardia": {"tachycardia"}, "sinus tachycardia": {"bradycardia"},
            "incomplete right bundle branch block": {"wide_qrs"}, "left anterior fascicular block": {"rad", "normal_axis"},
            "left posterior fascicular block": {"lad", "normal_axis"}, "atrial fibrillation": {"sinus"},
            **{s: {"af", "no_p", "ectopic"} for s in SINUS}}


def contradictions(text: str) -> list[str]:
    """Where the steps of an interpretation contradict its own answer."""
    think = re.search(r"<think>(.*)</think>", text, re.S).group(1)
    steps = re.split(r"\*\*Step \d: [^*]+\*\*", think)[1:6]  # steps 1-5: step 6 restates the answer
    sentences = [s for step in steps for s in re.split(r"(?<=\.)\s+", step.strip())]
    claims = {c for c, pat in CLAIMS.items() for s in sentences if re.search(pat, s)}
    answer = [a.strip() for a in re.search(r"<answer>(.*)</answer>", text, re.S).group(1).split(";")]
    out = []
    # "sinus bradycardia, otherwise normal": a finding another answer label names
    excused = set().union(*(MUST.get(label, set()) | EXPLAINS.get(label, set()) for label in answer))
    if "normal ECG" in answer and (claims & ABNORMAL) - excused:
        out.append(f"normal ECG but claims {sorted((claims & ABNORMAL) - excused)}")
    for label in answer:
        if MUST.get(label, set()) - claims:
            out.append(f"{label} but does not claim {sorted(MUST[label] - claims)}")
        if MUST_NOT.get(label, set()) & claims:
            out.append(f"{label} but claims {sorted(MUST_NOT[label] & claims)}")
    return out


@pytest.fixture(scope="module")
def ptbxl(ptbxl_dir):
    from sources.ptbxl import manifest
    from stages.features import measure

    man = manifest(ptbxl_dir)
    f = measure(man["record_id"].to_list(), man["path"].to_list())
    return man, f.records, f.leads, evaluate(facts(f.records, f.leads, man))


@pytest.mark.slow
def test_no_rules_text_contradicts_its_answer_on_ptbxl(ptbxl, grounding):
    """All 300 records: every text in the fixed format, every number measured, no contradiction."""
    man, feats, leads, found = ptbxl
    found, keys, agree = tables(man, found)
    agree = {r: (s, c) for r, s, c in agree.rows()}
    by_record, key_rows = found.partition_by("record_id", as_dict=True), keys.partition_by("record_id", as_dict=True)
    written, refused, bad = 0, 0, []
    for feat in feats.filter(pl.col("quality") != "unusable").iter_rows(named=True):
        rid = feat["record_id"]
        fd = {r["criterion"]: r for r in by_record[(rid,)].iter_rows(named=True)}
        key = from_rows(list(key_rows[(rid,)].iter_rows(named=True)) if (rid,) in key_rows else [], fd, agree[rid][1])
        try:
            text = write(feat, fd, key)
        except Refused:
            assert agree[rid][0] == "discordant"
            refused += 1
            continue
        written += 1
        assert grounding.format().match(text), text
        assert grounding.stray(text, rid, feats, leads, found) == [], text
        bad += [f"{rid}: {c}" for c in contradictions(text)]
    assert not bad, "\n".join(bad)
    assert written >= 250 and refused == sum(s == "discordant" for s, _ in agree.values())
    assert not any("does not exclude" in t for t in [text]), "no patch sentence"


def test_contradiction_check_catches_a_contradiction():
    text = ("<think>\n**Step 1: Technical, Rate & Rhythm**\nThe ventricular rate is 45 bpm, bradycardic.\n"
            "**Step 2: Conduction, Axis & Intervals**\nThe frontal QRS axis is -60 deg, left axis deviation.\n"
            "**Step 3: Chamber Hypertrophy & Voltage**\nx.\n**Step 4: Ischemia, Infarction & Mimics**\nx.\n"
            "**Step 5: Electrolytes & QT**\nx.\n**Step 6: Final Medical Reasoning**\nx.\n</think>\ns\n"
            "<answer>normal ECG; sinus tachycardia</answer>")
    found = contradictions(text)
    assert any("normal ECG but claims ['bradycardia', 'lad']" in f for f in found)
    assert any("sinus tachycardia but does not claim ['tachycardia']" in f for f in found)


def _row(positive, value=1.0, unit="ms", threshold=None):
    return {"positive": positive, "value": value, "unit": unit, "threshold": threshold, "min_age": None}


def _status(key) -> dict[str, str]:
    return {s.concept: s.status for s in key.statements}


def test_reconcile_keeps_hedges_drops_and_adds():
    # an expected criterion measured negative drops the label; the main diagnosis makes it discordant
    key = reconcile(["LAFB"], [100.0], {"left_axis_deviation": _row(False, -12.0, "deg")})
    assert _status(key) == {"LAFB": "dropped"} and key.conflicts
    # uncertain (PTB-XL likelihood 35) with its Q waves: hedged; uncertain and unsupported: dropped
    assert _status(reconcile(["IMI", "SR"], [35.0, 0.0], {"pathologic_q_inferior": _row(True, 48.0)}))["IMI"] == "hedged"
    assert _status(reconcile(["IMI", "SR"], [15.0, 0.0], {"pathologic_q_inferior": _row(False, 0.0)}))["IMI"] == "dropped"
    # certain but unsupported: LVH without voltage is "possible left ventricular hypertrophy"
    key = reconcile(["LVH"], [100.0], {"lvh_voltage": _row(False, 0.0, "criteria", 1.0)})
    assert [s.statement for s in key.answer] == ["possible left ventricular hypertrophy"]
    # a definite measured finding is added; a borderline one contradicts nothing and is not added
    key = reconcile(["NORM", "SR"], [100.0, 0.0], {"pr_prolonged": _row(True, 240.0)})
    assert _status(key) == {"NORM": "dropped", "SR": "kept", "1AVB": "added"} and key.conflicts
    key = reconcile(["NORM", "SR"], [100.0, 0.0], {"pr_prolonged": _row(True, 206.0)})
    assert _status(key) == {"NORM": "kept", "SR": "kept"} and not key.conflicts
    # sinus bradycardia replaces sinus rhythm and lifts nothing else
    key = reconcile(["NORM", "SR"], [100.0, 0.0], {"bradycardia": _row(True, 47.0, "bpm"), "rate_below_60": _row(True, 47.0, "bpm")})
    assert _status(key)["SBRAD"] == "added" and _status(key)["SR"] == "dropped"


def test_confounders_make_criteria_not_applicable():
    found = {"wide_qrs": _row(True, 150.0), "pathologic_q_anterior": _row(True, 60.0), "lvh_voltage": _row(True, 2.0, "criteria", 1.0)}
    key = reconcile(["CLBBB", "SR"], [100.0, 0.0], found)
    assert {"pathologic_q_anterior", "lvh_voltage", "st_elevation_anterior"} <= set(key.not_applicable)
    assert key.not_applicable["pathologic_q_anterior"] == "CLBBB"
    # a narrow QRS contradicts the block, which then confounds nothing
    assert not reconcile(["CLBBB"], [100.0], {**found, "wide_qrs": _row(False, 100.0)}).not_applicable


def test_label_criteria_table_names_known_concepts_and_criteria():
    known, ids = concepts(), {c.id for c in load()}
    assert all(r.concept in known and r.criterion in ids and r.source for r in relations())
    norm = {r.criterion for r in relations() if r.concept == "NORM"}
    assert norm == {c.id for c in load() if c.kind == "abnormal"}
