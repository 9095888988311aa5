"""Label concordance and the rules writer against its own answer key, on real PTB-XL records.

The contradiction check below reads only the written text (claims in steps 1-5 against the
labels in ``<answer>``); it shares nothing with the writer or the concordance table.
"""

from __future__ import annotations

import re

import polars as pl
import pytest

from prompts.rules_writer import Refused, write
from protocol.concordance import concordance, judge, relations
from protocol.criteria import evaluate, facts, load
from sources.vocabulary import concepts

# (claim, pattern a sentence of steps 1-5 matches when it states the finding)
CLAIMS = {
    "bradycardia": r"\bbradycardic\b",
    "tachycardia": r"\btachycardic\b",
    "af": r"consistent with atrial fibrillation",
    "sinus": r"consistent with a sinus mechanism",
    "no_p": r"sinus mechanism cannot be confirmed",
    "ectopic": r"consistent with an ectopic atrial rhythm",
    "1avb": r"PR interval is \d+ ms, prolonged",
    "wide_qrs": r"QRS duration is \d+ ms .*\), wide",
    "narrow_qrs": r"QRS duration is \d+ ms .*\), narrow",
    "mid_qrs": r"intermediate width",
    "lad": r"left axis deviation",
    "rad": r"right axis deviation",
    "extreme": r"extreme axis",
    "normal_axis": r"a normal axis",
    "lvh": r"voltage criteria for left ventricular hypertrophy are met",
    "ravl": r"R in aVL is [\d.]+ mV, above [\d.]+ mV\.",
    "low_voltage": r"low voltage",
    "peaked_p": r"peaked at",
    "ischemia": r"(ST elevation|ST depression|T wave inversion|pathologic Q waves) (is|are) present",
    "long_qt": r"\(Framingham correction\), prolonged",
    "short_qt": r"\(Framingham correction\), short",
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
    agree = {r: s for r, s, _ in concordance(man, found).rows()}
    names, by_record = concepts(), found.partition_by("record_id", as_dict=True)
    labels = dict(man.select("record_id", "labels").rows())
    written, refused, bad = 0, 0, []
    for feat in feats.filter(pl.col("quality") != "unusable").iter_rows(named=True):
        rid = feat["record_id"]
        fd = {r["criterion"]: r for r in by_record[(rid,)].iter_rows(named=True)}
        try:
            text = write(feat, fd, labels[rid], names)
        except Refused:
            assert agree[rid] in ("discordant", "unknown")
            refused += 1
            continue
        written += 1
        assert grounding.format().match(text), text
        assert grounding.stray(text, rid, feats, leads, found) == [], text
        bad += [f"{rid}: {c}" for c in contradictions(text)]
    assert not bad, "\n".join(bad)
    assert written >= 200 and refused == sum(s != "concordant" for s in agree.values())


def test_contradiction_check_catches_a_contradiction():
    text = ("<think>\n**Step 1: Technical, Rate & Rhythm**\nThe ventricular rate is 45 bpm, bradycardic.\n"
            "**Step 2: Conduction, Axis & Intervals**\nThe frontal QRS axis is -60 deg, left axis deviation.\n"
            "**Step 3: Chamber Hypertrophy & Voltage**\nx.\n**Step 4: Ischemia, Infarction & Mimics**\nx.\n"
            "**Step 5: Electrolytes & QT**\nx.\n**Step 6: Final Medical Reasoning**\nx.\n</think>\ns\n"
            "<answer>normal ECG; sinus tachycardia</answer>")
    found = contradictions(text)
    assert any("normal ECG but claims ['bradycardia', 'lad']" in f for f in found)
    assert any("sinus tachycardia but does not claim ['tachycardia']" in f for f in found)


def _row(positive, value=1.0, unit="ms"):
    return {"positive": positive, "value": value, "unit": unit}


def test_judge_statuses():
    assert judge(["LAFB"], {"left_axis_deviation": _row(True), "right_axis_deviation": _row(False)}) == ("concordant", [])
    status, conflicts = judge(["LAFB"], {"left_axis_deviation": _row(False, -12.0, "deg")})
    assert status == "discordant" and conflicts == ["LAFB expects left_axis_deviation, not met (-12 deg)"]
    assert judge(["1AVB"], {"pr_prolonged": _row(None, None)}) == ("unknown", [])
    # a co-present label that expects the finding lifts NORM's contradiction ("otherwise normal")
    assert judge(["NORM", "SBRAD"], {"bradycardia": _row(True, 45.0, "bpm")})[0] == "concordant"
    assert judge(["NORM"], {"bradycardia": _row(True, 45.0, "bpm")})[0] == "discordant"
    # supportive relations never conflict
    assert judge(["LVH"], {"lvh_voltage": _row(False)}) == ("concordant", [])


def test_label_criteria_table_names_known_concepts_and_criteria():
    known, ids = concepts(), {c.id for c in load()}
    assert all(r.concept in known and r.criterion in ids and r.source for r in relations())
    norm = {r.criterion for r in relations() if r.concept == "NORM"}
    assert norm == {c.id for c in load() if c.kind == "abnormal"}
