"""The checker reads clinical prose as clinicians write it: one test per way it misread a
teacher's true text or let an untrue one through (each a true sentence that must pass and an
untrue one that must be caught), on hand-made records whose findings the protocol computes."""

from __future__ import annotations

import polars as pl
import pytest

from curation import Facts, validate
from protocol.answer_key import reconcile
from protocol.criteria import evaluate, facts

STEPS = ("Technical, Rate & Rhythm", "Conduction, Axis & Intervals", "Chamber Hypertrophy & Voltage",
         "Ischemia, Infarction & Mimics", "Electrolytes & QT", "Final Medical Reasoning")


def _record(record_facts, **overrides) -> Facts:
    feats, leads = record_facts("x", **overrides)
    found = evaluate(facts(pl.DataFrame([feats]), pl.DataFrame(leads),
                           pl.DataFrame({"record_id": ["x"], "sex": ["M"], "age": [60.0]})))
    found = {r["criterion"]: r for r in found.iter_rows(named=True)}
    return Facts(feats, {r["lead"]: r for r in leads}, found, reconcile(["SR"], None, found))


def _issues(sentence: str, record: Facts, step: int = 4) -> list[str]:
    """The checker's issues of an interpretation whose step ``step`` is ``sentence``."""
    answer = [s.statement for s in record.key.answer]
    bodies = ["Reviewed."] * 6
    bodies[0 if step != 1 else 1] = " ".join(f"{a[0].upper()}{a[1:]}." for a in answer)  # what the answer states
    bodies[step - 1] = sentence
    think = "\n".join(f"**Step {i + 1}: {h}**\n{b}" for i, (h, b) in enumerate(zip(STEPS, bodies)))
    text = f"<think>\n{think}\n</think>\nSummary.\n<answer>{'; '.join(answer)}</answer>"
    return [str(i) for i in validate(text, record)]


@pytest.fixture()
def high_lateral_depression(record_facts) -> Facts:
    """ST depression of 0.1 mV in I and aVL only."""
    return _record(record_facts, st_j_mv_I=-0.1, st_j60_mv_I=-0.1, st_j_mv_aVL=-0.1, st_j60_mv_aVL=-0.1)


def test_territories_are_exact_lead_groups_longest_name_first(high_lateral_depression):
    assert _issues("There is ST depression in the high lateral leads.", high_lateral_depression) == []
    caught = _issues("There is ST depression in the lateral precordial leads.", high_lateral_depression)
    assert caught and "st_contradiction" in caught[0]
    assert _issues("There is ST depression in the inferolateral leads.", high_lateral_depression)


def test_a_territory_belongs_to_the_claim_it_follows(record_facts):
    rec = _record(record_facts, st_j_mv_I=-0.1, st_j60_mv_I=-0.1, st_j_mv_aVL=-0.1, st_j60_mv_aVL=-0.1,
                  t_amp_mv_III=-0.3, t_amp_mv_aVF=-0.3)
    assert _issues("ST depression in I and aVL and T wave inversion in III and aVF.", rec) == []
    assert _issues("ST depression in III and aVF and T wave inversion in I and aVL.", rec)


def test_a_negation_stops_at_a_colon_and_a_comma(record_facts):
    af = _record(record_facts, rr_nrmssd=0.25, p_present_frac=0.0)
    sinus = _record(record_facts)
    assert _issues("No organised atrial activity: atrial fibrillation.", af, step=1) == []
    assert _issues("No organised atrial activity: atrial fibrillation.", sinus, step=1)
    depressed = _record(record_facts, st_j_mv_V5=-0.15, st_j60_mv_V5=-0.15, st_j_mv_V6=-0.15, st_j60_mv_V6=-0.15)
    assert _issues("ST depression in V5-V6, pathological Q waves absent.", depressed) == []
    assert _issues("ST depression: none.", depressed)
    assert _issues("ST elevation: none.", depressed) == []


def test_a_denial_between_subject_and_predicate(record_facts):
    flat, raised = _record(record_facts), _record(record_facts, st_j_mv_II=0.2, st_j_mv_III=0.2, st_j_mv_aVF=0.2)
    assert _issues("The ST segments are not elevated.", flat) == []
    assert _issues("The ST segments are not elevated.", raised)
    assert _issues("The ST segments are elevated in II, III and aVF.", raised) == []


def test_a_pseudo_negation_denies_nothing(record_facts):
    af = _record(record_facts, rr_nrmssd=0.25, p_present_frac=0.0)
    assert _issues("No change from the pattern of atrial fibrillation.", af, step=1) == []
    assert _issues("No change from the pattern of atrial fibrillation.", _record(record_facts), step=1)


def test_lvh_named_with_its_voltage_criteria(record_facts):
    tall = _record(record_facts, s_amp_mv_V1=-2.0, r_amp_mv_V5=2.2)
    assert _issues("LVH by voltage criteria.", tall, step=3) == []
    assert _issues("LVH by voltage criteria.", _record(record_facts), step=3)
    assert _issues("Voltage criteria for LVH are not met.", tall, step=3)


def test_a_rate_per_minute(record_facts):
    rec = _record(record_facts)
    assert _issues("Sinus rhythm at 72 per minute.", rec, step=1) == []
    assert any("hr_mismatch" in i for i in _issues("Sinus rhythm at 110 per minute.", rec, step=1))
    assert _issues("Sinus rhythm, rate 72/minute.", rec, step=1) == []


def test_a_number_is_bound_to_its_own_measure(record_facts):
    rec = _record(record_facts, qt_ms=380.0, qtc_bazett_ms=430.0, qtc_fridericia_ms=425.0, qtc_framingham_ms=428.0,
                  qtc_hodges_ms=426.0)
    assert _issues("QT 380 ms, QTc 428 ms.", rec, step=5) == []
    assert any("qtc_mismatch" in i for i in _issues("QT 380 ms, QTc 380 ms.", rec, step=5))
    assert _issues("QT/QTc 380/428 ms.", rec, step=5) == []
    assert _issues("QT/QTc 428/380 ms.", rec, step=5)
    assert _issues("PR interval (P onset to QRS onset) 160 ms.", rec, step=2) == []


def test_british_and_terse_claims_of_a_missing_tracing_or_a_source(record_facts):
    rec = _record(record_facts)
    assert any("missing_modality_claim" in i for i in _issues("Image not supplied; rate 72 bpm.", rec, step=1))
    assert any("mentions_source" in i for i in _issues("Per the computer interpretation, rate 72 bpm.", rec, step=1))


def test_rate_words_against_the_rate(record_facts):
    assert any("rate_contradiction" in i for i in _issues("Sinus tachycardia at 72 bpm.", _record(record_facts), step=1))
    slow = _record(record_facts, hr_bpm=55.0)
    assert _issues("Sinus bradycardia at 55 bpm.", slow, step=1) == []  # below the traditional 60 bpm
    assert any("rate_contradiction" in i for i in _issues("Sinus bradycardia, rate 72/min.", _record(record_facts), step=1))


def test_shorthand_and_numbers_without_units(record_facts):
    rec = _record(record_facts)
    assert _issues("SR 72/min. Axis +45 (normal). PR 160, QRS 88.", rec, step=2) == []
    assert any("axis_mismatch" in i for i in _issues("Axis -9 (normal).", rec, step=2))
    assert any("axis_contradiction" in i for i in _issues("LAD, axis +45°.", rec, step=2))
    assert _issues("No LAD territory changes.", rec, step=4) == []
    assert _issues("PR 300ms - 1st degree AV block.", rec, step=2)


def test_shorthand_negations_and_unassessable_leads(record_facts):
    rec = _record(record_facts)
    assert _issues("t waves w/o inversion. neg for pathologic q waves.", rec) == []
    inverted = _record(record_facts, t_amp_mv_V5=-0.3, t_amp_mv_V6=-0.3)
    assert _issues("t waves w/o inversion.", inverted)
    missing = _record(record_facts, quality_II="missing", quality_III="missing", quality_aVF="missing",
                      st_j_mv_II=float("nan"), st_j_mv_III=float("nan"), st_j_mv_aVF=float("nan"))
    assert _issues("No ST elevation in the readable leads (II, III, aVF unreadable).", missing) == []


def test_paired_values_a_bare_rate_and_a_young_patients_voltage(record_facts):
    rec = _record(record_facts, qt_ms=380.0, qtc_framingham_ms=428.0, qtc_bazett_ms=430.0, qtc_fridericia_ms=425.0,
                  qtc_hodges_ms=426.0)
    assert _issues("QT/QTc: 380 ms / 428 ms.", rec, step=5) == []
    assert _issues("QT/QTc: 428 ms / 380 ms.", rec, step=5)
    assert any("hr_mismatch" in i for i in _issues("Sinus rhythm, rate 96.", rec, step=1))
    feats, leads = record_facts("y", s_amp_mv_V1=-2.0, r_amp_mv_V5=2.2)
    found = evaluate(facts(pl.DataFrame([feats]), pl.DataFrame(leads),
                           pl.DataFrame({"record_id": ["y"], "sex": ["M"], "age": [25.0]})))
    found = {r["criterion"]: r for r in found.iter_rows(named=True)}
    young = Facts(feats, {r["lead"]: r for r in leads}, found, reconcile(["SR"], None, found))
    assert _issues("Voltage criteria for LVH are met, but not applicable under 35 years.", young, step=3) == []
    assert any("younger than 35" in i for i in _issues("Voltage criteria for LVH are met.", young, step=3))


def test_slashed_axes_are_read_in_order(record_facts):
    rec = _record(record_facts, p_axis_deg=50.0, t_axis_deg=-40.0)
    assert _issues("Frontal P/T axes: 50 degrees / -40 degrees.", rec, step=2) == []
    assert _issues("p/t axes -40 deg / +50 deg.", rec, step=2)
    assert any("unmeasurable_value" in i
               for i in _issues("p/t axes +48 deg / +40 deg.", _record(record_facts, p_axis_deg=float("nan")), step=2))


def test_a_term_inside_another_and_a_named_abbreviation(record_facts):
    rec = _record(record_facts, qt_ms=424.0, qtc_bazett_ms=382.0, qtc_fridericia_ms=395.0, qtc_framingham_ms=390.0,
                  qtc_hodges_ms=392.0)
    assert _issues("The QT interval is 424 msec, and the corrected QT interval (QTc) of 382 msec is not prolonged.",
                   rec, step=5) == []
    assert _issues("The QT interval is 424 msec, and the corrected QT interval (QTc) of 424 msec is not prolonged.",
                   rec, step=5)
    assert _issues("QRS a little wide at 113 milliseconds, borderline.", _record(record_facts, qrs_lead_ms=113.0),
                   step=2) == []


def test_plain_language_rates_abbreviations_and_prolonged_qrs(record_facts):
    """A triage nurse's "beats a minute", a registrar's "approx." (not the end of a sentence), a
    bare width beside "narrow", a ventricular response called irregular, and a QRS called
    prolonged (from 110 ms, intermediate or wide)."""
    rec = _record(record_facts)  # 72 bpm, QRS 84 ms (median lead), axis 45 deg
    assert _issues("Sinus rhythm at about 74 beats a minute.", rec, step=1) == []
    assert any("hr_mismatch" in i for i in _issues("Sinus rhythm at about 99 beats a minute.", rec, step=1))
    assert _issues("Normal axis, approx. +45°.", rec, step=2) == []
    assert any("axis_mismatch" in i for i in _issues("Normal axis, approx. -110°.", rec, step=2))
    assert _issues("QRS narrow (0.09).", rec, step=2) == []
    assert any("qrs_mismatch" in i for i in _issues("QRS narrow (0.17).", rec, step=2))
    assert any("qrs_mismatch" in i for i in _issues("QRS 140, narrow complexes.", rec, step=2))
    assert any("axis_mismatch" in i for i in _issues("Normal axis, approx. +133.", rec, step=2))
    assert any("rhythm_contradiction" in i for i in _issues(
        "The ventricular response is irregularly irregular.", rec, step=1))
    assert _issues("QRS duration of 84 msec, not prolonged.", rec, step=2) == []
    assert any("qrs_width" in i for i in _issues("Prolonged QRS duration of 84 msec.", rec, step=2))


def test_a_cart_and_a_hospital_report(record_facts):
    """An automated cart's axis line and voltage sums, a hospital report's "/mt" and "not analysed"
    leads (first read wrongly on a held-out round of the rewording bench)."""
    rec = _record(record_facts)  # 72 bpm, axes P 50 QRS 45 T 40, S V1 0.3 + R V5 0.8 mV
    assert _issues("AXIS: P 50  QRS 45  T 40.", rec, step=2) == []
    assert any("axis_mismatch" in i for i in _issues("AXIS: P 50  QRS 133  T 40.", rec, step=2))
    assert _issues("P-R-T axes 50 45 40.", rec, step=2) == []
    assert any("axis_mismatch" in i for i in _issues("P-R-T axes 50 45 -80.", rec, step=2))
    no_p = _record(record_facts, p_axis_deg=float("nan"))
    assert _issues("P-R-T axes *** 45 40.", no_p, step=2) == []
    assert any("unmeasurable_value" in i for i in _issues("P-R-T axes 25 45 40.", no_p, step=2))
    assert _issues("SV1+R(V5/V6) 11 mm, RaVL+SV3 11 mm - LVH voltage criteria not met.", rec, step=3) == []
    assert _issues("Rate - 72/mt.", rec, step=1) == []
    assert any("hr_mismatch" in i for i in _issues("Rate - 104/mt.", rec, step=1))
    no_inferior = _record(record_facts, quality_II="noisy", quality_III="noisy", quality_aVF="noisy",
                          st_j_mv_II=float("nan"), st_j_mv_III=float("nan"), st_j_mv_aVF=float("nan"))
    assert _issues("No ST elevation in analyzed leads; II, III, aVF not analyzed.", no_inferior) == []
    assert any("av_block" in i for i in _issues("PR interval 160 ms WITH 1ST DEGREE A-V BLOCK.", rec, step=2))
