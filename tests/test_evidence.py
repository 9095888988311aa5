"""EDER evidence phrases (curation/evidence.py): the matching form, verification with every drop
reason, LLM replies, the rules origin on hand-made and real PTB-XL records, the RL solution."""

from __future__ import annotations

import re

import polars as pl
import pytest

from curation.evidence import (
    DROP_REASONS,
    KEYS,
    Dropped,
    EvidenceFormatError,
    normalise,
    parse_reply,
    parse_solution,
    rules_phrases,
    solution,
    verify,
)
from curation.parse import parse
from prompts.render import fmt
from prompts.rules_writer import write
from protocol.answer_key import reconcile
from protocol.criteria import evaluate, facts
from protocol.steps import STEPS



@pytest.mark.parametrize("text, expected", [
    ("0.16 s", "160 ms"), ("0.16 sec", "160 ms"), ("0.160 seconds", "160 ms"), ("160 msec", "160 ms"),
    ("160 milliseconds", "160 ms"), ("160ms", "160 ms"),
    ("72 beats per minute", "72 bpm"), ("72 beats/min", "72 bpm"), ("72/min", "72 bpm"), ("72 BPM", "72 bpm"),
    ("-30°", "-30 deg"), ("−30 degrees", "-30 deg"), ("+90 deg", "+90 deg"),
    ("2 mm", "0.2 mv"), ("11 mm", "1.1 mv"), ("1.10 mV", "1.1 mv"), ("1.1 millivolts", "1.1 mv"), (".5 mV", "0.5 mv"),
    ("100 ms", "100 ms"), ("a share of 1.00 of beats", "a share of 1 of beats"), ("25 mm/s", "25 mm/s"),
    ("  First‑degree\u00a0AV  block ", "first-degree av block"),
    ("ST–T changes — V1−V3", "st-t changes - v1-v3"),
    ("rsR′ in V1", "rsr' in v1"), ("“peaked” P″", '"peaked" p"'), ("ﬁve Ｖ1", "five v1"),
])
def test_normalise(text, expected):
    assert normalise(text) == expected
    assert normalise(expected) == expected  # the matching form is a fixed point


def _interpretation(*bodies: str) -> str:
    think = "\n".join(f"**{s.heading}**\n{b}" for s, b in zip(STEPS, bodies))
    return f"<think>\n{think}\n</think>\nSummary.\n<answer>sinus bradycardia; first degree AV block</answer>"


TEXT = _interpretation(
    "The ventricular rate is 47 beats/min, bradycardic. RR intervals are regular.",
    "The PR interval is 0.24 s, prolonged, indicating first‑degree AV block. The frontal QRS axis is −45°.",
    "An abnormal voltage pattern is absent.",
    "No ST elevation is seen in two contiguous leads.",
    "The QTc is 440 ms, normal.",
    "Integrating rate and rhythm: sinus bradycardia; first degree AV block.",
)


def test_verify_keeps_original_text_and_drops_with_each_reason():
    evidence = {
        KEYS[0]: ["47 bpm", "BRADYCARDIC", "bradycardic ", "", "Rate & Rhythm", "RR intervals are regular",
                  "tachycardic", "ventricular rate", "are regular"],
        KEYS[1]: ["240 ms", "first-degree AV block", "-45 deg", "bradycardic"],
        KEYS[2]: ["normal", "abnormal voltage"],
        KEYS[5]: ["bradycardia; first", "sinus bradycardia"],
        "step_7_extra": ["anything"],
    }
    kept, dropped = verify(evidence, TEXT)
    assert kept == {KEYS[0]: ["47 beats/min", "bradycardic", "ventricular rate"],
                    KEYS[1]: ["0.24 s", "first‑degree AV block", "−45°"],  # as the interpretation writes them
                    KEYS[2]: ["abnormal voltage"], KEYS[3]: [], KEYS[4]: [], KEYS[5]: ["sinus bradycardia"]}
    assert list(kept) == list(KEYS)
    assert dropped == [
        Dropped(KEYS[0], "bradycardic ", "duplicate"), Dropped(KEYS[0], "", "empty"),
        Dropped(KEYS[0], "Rate & Rhythm", "heading_text"), Dropped(KEYS[0], "RR intervals are regular", "too_long"),
        Dropped(KEYS[0], "tachycardic", "not_in_step"), Dropped(KEYS[0], "are regular", "over_limit"),
        Dropped(KEYS[1], "bradycardic", "not_in_step"),  # it is in step 1, not step 2
        Dropped(KEYS[2], "normal", "not_in_step"),  # whole words: not inside "abnormal"
        Dropped(KEYS[5], "bradycardia; first", "separator"),
        Dropped("step_7_extra", "anything", "unknown_step")]
    assert {d.reason for d in dropped} == set(DROP_REASONS)


def test_verify_keeps_a_phrase_inside_a_converted_unit_as_given():
    assert verify({KEYS[1]: ["MS"]}, TEXT)[0][KEYS[1]] == ["MS"]  # found in "240 ms", which the text writes "0.24 s"


def test_verify_of_an_unparsable_interpretation_keeps_nothing():
    kept, dropped = verify({KEYS[0]: ["bradycardic"]}, "no think block here")
    assert kept == {k: [] for k in KEYS} and dropped == [Dropped(KEYS[0], "bradycardic", "not_in_step")]


def test_parse_reply_good_and_fenced():
    reply = ('{"heart_rate": ["47 bpm"], "key_diagnostic_evidence": {"step_2_conduction_axis_intervals": '
             '["first-degree AV block"], "step_1_technical_rate_rhythm": ["bradycardic"]}}')
    expected = {k: [] for k in KEYS} | {KEYS[0]: ["bradycardic", "47 bpm"], KEYS[1]: ["first-degree AV block"]}
    assert parse_reply(reply) == expected and list(parse_reply(reply)) == list(KEYS)
    assert parse_reply(f"```json\n{reply}\n```") == expected
    assert parse_reply(f"```\n{reply}```") == expected


@pytest.mark.parametrize("reply, says", [
    ('{"heart_rate": ["47 bpm"], "key_diagnostic_evidence": {', "Invalid JSON"),
    ("The evidence is: bradycardic", "Invalid JSON"),
    ('{"key_diagnostic_evidence": {"step_1": ["bradycardic"]}}', "step_1"),
    ('{"id": "x", "key_diagnostic_evidence": {}}', "id"),
    ('{"key_diagnostic_evidence": {"step_1_technical_rate_rhythm": "bradycardic"}}',
     "step_1_technical_rate_rhythm: Input should be a valid array"),
    ('{"heart_rate": []}', "key_diagnostic_evidence"),
])
def test_parse_reply_rejects_what_is_not_the_schema(reply, says):
    with pytest.raises(EvidenceFormatError, match=re.escape(says)) as err:
        parse_reply(reply)
    assert isinstance(err.value, ValueError)


EVIDENCE = {KEYS[0]: ["bradycardic", "47 bpm"], KEYS[1]: ["first-degree AV block"], KEYS[2]: [], KEYS[3]: [],
            KEYS[4]: ["without peaking"], KEYS[5]: ["sinus bradycardia"]}


def test_solution_format_and_round_trip():
    s = solution(["sinus bradycardia", "first degree AV block"], EVIDENCE)
    assert s == ("<|answer|>sinus bradycardia; first degree AV block<|/answer|><|key_diagnostic_evidence|>"
                 "step_1_technical_rate_rhythm: bradycardic; 47 bpm step_2_conduction_axis_intervals: first-degree AV "
                 "block step_3_chamber_hypertrophy_voltage: step_4_ischemia_infarction_mimics: step_5_electrolytes_qt: "
                 "without peaking step_6_final_medical_reasoning: sinus bradycardia <|/key_diagnostic_evidence|>")
    assert parse_solution(s) == (["sinus bradycardia", "first degree AV block"], EVIDENCE)
    empty = {k: [] for k in KEYS}
    assert parse_solution(solution([], empty)) == ([], empty)
    assert parse_solution(solution(["normal ECG"], {})) == (["normal ECG"], empty)  # missing steps are empty


def ecg_r1_reads(s: str) -> dict[str, list[str]]:
    """How ECG-R1's evidence reward reads a solution (ecg_r1/plugin.py, _parse_gt_custom): a
    step's text runs to the next step key, phrases split on ';'."""
    block = re.search(r"<\|key_diagnostic_evidence\|>(.*?)<\|[/\\]key_diagnostic_evidence\|>", s, re.DOTALL).group(1)
    pairs = re.findall(r"(step_\d+_[a-z_]+):\s*(.*?)(?=\s*step_\d+|$)", block.strip(), re.DOTALL | re.IGNORECASE)
    return {k.lower(): [e.strip() for e in v.split(";") if e.strip()] for k, v in pairs}


def test_ecg_r1_reward_reads_the_solution():
    assert ecg_r1_reads(solution(["x"], EVIDENCE)) == EVIDENCE


@pytest.mark.parametrize("labels, evidence", [
    (["a; b"], {}), ([" padded"], {}), ([""], {}), (["x"], {KEYS[0]: ["p;q"]}), (["x"], {KEYS[0]: ["see step_2"]}),
    (["x"], {"step_7_extra": ["p"]}),
])
def test_solution_refuses_what_it_cannot_write(labels, evidence):
    with pytest.raises(ValueError):
        solution(labels, evidence)


@pytest.mark.parametrize("s", [
    "", "<|answer|>a<|/answer|>",
    "<|answer|>a<|/answer|><|key_diagnostic_evidence|>step_1_technical_rate_rhythm: p <|/key_diagnostic_evidence|>",
    solution(["a"], EVIDENCE).replace(KEYS[1], KEYS[2], 1),  # steps out of order
    solution(["a", "b"], EVIDENCE).replace("a; b", "a;;b"),
])
def test_parse_solution_rejects_malformed_strings(s):
    with pytest.raises(ValueError):
        parse_solution(s)


def _check_rules(findings: dict, text: str) -> dict[str, list[str]]:
    """rules_phrases of one text, with what must hold for every one."""
    phrases = rules_phrases(findings, text)
    interp, _ = parse(text)
    assert list(phrases) == list(KEYS)
    for step in STEPS:
        got = phrases[step.key]
        assert len(got) <= 3 and len(set(got)) == len(got)
        assert all(p in interp.step(step.number) for p in got), (step.key, got)  # verbatim, as written
    assert verify(phrases, text) == (phrases, [])
    assert parse_solution(solution(interp.answer, phrases)) == (interp.answer, phrases)
    return phrases


def test_rules_phrases_on_a_hand_made_record(record_facts):
    feats, leads = record_facts("r", hr_bpm=45.0, pr_ms=240.0, qrs_axis_deg=-50.0)
    records = pl.DataFrame({"record_id": ["r"], "sex": ["M"], "age": [60.0]})
    found = {r["criterion"]: r for r in evaluate(facts(pl.DataFrame([feats]), pl.DataFrame(leads), records))
             .iter_rows(named=True)}
    text = write(feats, found, reconcile(["SBRAD", "1AVB", "LAFB"], None, found))
    phrases = _check_rules(found, text)
    assert phrases[KEYS[0]] == ["bradycardic", "45 bpm", "are regular"]
    assert phrases[KEYS[1]] == ["degree AV block", "left axis deviation", "240 ms"]
    assert phrases[KEYS[3]] == ["No ST depression", "elevation is absent"]
    assert phrases[KEYS[4]] == [fmt(found["qtc_prolonged"]["value"], "ms")]


@pytest.fixture(scope="module")
def ptbxl_texts(ptbxl_records) -> list[tuple[dict, str]]:
    """(findings by criterion, rules text) of every PTB-XL sample record the writer answers."""
    return [(r["findings"], r["text"]) for r in ptbxl_records if r["text"] is not None]


@pytest.mark.slow
def test_rules_phrases_on_ptbxl(ptbxl_texts):
    """Every rules text of the sample: phrases verbatim in their step, <= 3 a step, the solution
    round-trips; rate, rhythm and conduction findings are carried as the writer states them."""
    assert len(ptbxl_texts) >= 200
    filled = 0
    for fd, text in ptbxl_texts:
        phrases = _check_rules(fd, text)
        filled += all(phrases[k] for k in KEYS[:2])
        interp = parse(text)[0]
        for cid, phrase in (("bradycardia", "bradycardic"), ("tachycardia", "tachycardic"),
                            ("atrial_fibrillation_suspected", "atrial fibrillation"),
                            ("pr_prolonged", "degree AV block"), ("left_axis_deviation", "left axis deviation")):
            step = STEPS[fd[cid]["step"] - 1]
            if fd[cid]["positive"] and phrase in interp.step(step.number):  # as the writer states it
                assert phrase in phrases[step.key], (cid, phrases[step.key])
        if fd["bradycardia"]["positive"] or fd["tachycardia"]["positive"]:
            assert fmt(fd["bradycardia"]["value"], "bpm") in phrases[KEYS[0]]
        assert phrases[KEYS[5]] == [x for x in parse(text)[0].answer if len(x.split()) <= 3][:3]
    assert filled >= 0.9 * len(ptbxl_texts)
