"""Protocol criteria on hand-made facts with known answers."""

from __future__ import annotations

import math

import polars as pl
import pytest

from protocol.criteria import evaluate, facts, load
from protocol.steps import STEPS
from schemas.tables import conform
from schemas.ecg import LEADS

NAN = math.nan


def _evaluate(*records: tuple[dict, list[dict]], sex: list[str | None] | None = None,
              age: list[float | None] | None = None) -> dict:
    feats = pl.DataFrame([r[0] for r in records])
    leads = pl.DataFrame([row for r in records for row in r[1]])
    recs = pl.DataFrame({"record_id": feats["record_id"], "sex": sex or [None] * feats.height,
                         "age": age or [60.0] * feats.height}, schema_overrides={"sex": pl.Utf8, "age": pl.Float64})
    out = evaluate(facts(feats, leads, recs))
    conform("findings", out)  # the table contract holds
    return {(r["record_id"], r["criterion"]): r for r in out.iter_rows(named=True)}


def test_table_is_readable_data():
    criteria = load()
    ids = [c.id for c in criteria]
    assert len(ids) == len(set(ids)) >= 40
    assert {c.step for c in criteria} == {1, 2, 3, 4, 5}
    assert all(c.source and c.description for c in criteria)
    assert [s.number for s in STEPS] == [1, 2, 3, 4, 5, 6] and len({s.heading for s in STEPS}) == 6
    for required in ("bradycardia", "tachycardia", "irregular_rhythm", "absent_p_waves", "atrial_fibrillation_suspected",
                     "pr_short", "pr_prolonged", "qrs_intermediate", "wide_qrs", "rsr_prime_v1", "left_axis_deviation",
                     "right_axis_deviation", "lvh_voltage", "low_voltage", "peaked_p", "wide_p", "st_elevation",
                     "st_depression", "pathologic_q", "qtc_prolonged", "qtc_short"):
        assert required in ids


def test_normal_record_has_no_positive_finding(record_facts):
    got = _evaluate(record_facts("n"))
    positives = sorted(c for (_, c), r in got.items() if r["positive"])
    assert positives == []
    assert all(r["positive"] is not None for r in got.values())


def test_rate_intervals_axis_and_nan(record_facts):
    got = _evaluate(record_facts("a", hr_bpm=48.0, pr_ms=NAN, qrs_lead_ms=114.0, qrs_axis_deg=-45.0),
                    record_facts("b", hr_bpm=130.0, pr_ms=230.0, qrs_lead_ms=150.0, qrs_axis_deg=120.0),
                    record_facts("c", hr_bpm=55.0, qrs_ms=124.0, qrs_lead_ms=100.0))
    assert got["a", "bradycardia"]["positive"] and not got["a", "tachycardia"]["positive"]
    assert got["a", "pr_prolonged"]["positive"] is None and got["a", "pr_prolonged"]["value"] is None
    assert got["a", "qrs_intermediate"]["positive"] and not got["a", "wide_qrs"]["positive"]
    assert got["a", "left_axis_deviation"]["positive"] and not got["a", "right_axis_deviation"]["positive"]
    assert got["b", "tachycardia"]["positive"] and got["b", "pr_prolonged"]["positive"]
    assert got["b", "wide_qrs"]["positive"] and not got["b", "qrs_intermediate"]["positive"]
    assert got["b", "right_axis_deviation"]["positive"]
    # 55 bpm is not bradycardia (Spodick's 50 bpm), and the global QRS does not make a wide QRS
    assert not got["c", "bradycardia"]["positive"] and not got["c", "wide_qrs"]["positive"]


@pytest.mark.parametrize("sex, expected_threshold, positive", [("M", 450, True), ("F", 460, False), (None, 460, False)])
def test_qtc_threshold_is_sex_specific(sex, expected_threshold, positive, record_facts):
    got = _evaluate(record_facts("q", qtc_framingham_ms=455.0), sex=[sex])
    assert got["q", "qtc_prolonged"]["threshold"] == expected_threshold
    assert got["q", "qtc_prolonged"]["positive"] is positive


def test_contiguous_leads_and_territories(record_facts):
    got = _evaluate(record_facts("inf", st_j_mv_II=0.15, st_j_mv_aVF=0.12),
                    record_facts("one", st_j_mv_II=0.40),
                    record_facts("ant", st_j_mv_V2=0.25, st_j_mv_V3=0.15, st_j_mv_V4=0.3),
                    record_facts("q", q_dur_ms_III=45.0, q_dur_ms_aVF=42.0, t_amp_mv_V5=-0.2, t_amp_mv_V6=-0.15))
    assert got["inf", "st_elevation_inferior"]["positive"] and got["inf", "st_elevation"]["positive"]
    assert got["inf", "st_elevation_inferior"]["value"] == pytest.approx(0.12)
    assert not got["one", "st_elevation_inferior"]["positive"]  # one lead is not two contiguous leads
    assert not got["ant", "st_elevation_anterior"]["positive"]  # V2 and V4 are not contiguous; V3 is below 0.2
    assert got["q", "pathologic_q_inferior"]["positive"] and got["q", "pathologic_q"]["positive"]
    assert got["q", "t_inversion_lateral"]["positive"] and not got["q", "t_inversion_anterior"]["positive"]


def test_voltage_criteria(record_facts):
    got = _evaluate(record_facts("sok", s_amp_mv_V1=-1.6, r_amp_mv_V5=2.1),
                    record_facts("cor", r_amp_mv_aVL=1.0, s_amp_mv_V3=-1.3),
                    record_facts("low", **{f"{c}_{lead}": v for lead in LEADS[:6] for c, v in (("r_amp_mv", 0.3), ("s_amp_mv", -0.1))}),
                    sex=["M", "F", None])
    assert got["sok", "sokolow_lyon"]["value"] == pytest.approx(3.7) and got["sok", "lvh_voltage"]["positive"]
    assert got["cor", "cornell_voltage"]["positive"] and got["cor", "cornell_voltage"]["threshold"] == 2.0
    assert got["cor", "lvh_voltage"]["value"] == 1.0
    assert got["low", "low_voltage"]["positive"] and not got["low", "lvh_voltage"]["positive"]


def test_lvh_voltage_applies_from_its_min_age(record_facts):
    sok = dict(s_amp_mv_V1=-1.6, r_amp_mv_V5=2.1)
    got = _evaluate(record_facts("young", **sok), record_facts("adult", **sok), record_facts("unknown", **sok),
                    record_facts("unmeasured", s_amp_mv_V1=NAN, r_amp_mv_aVL=NAN), age=[18.0, 35.0, None, 18.0])
    assert got["young", "sokolow_lyon"]["positive"] and got["young", "lvh_voltage"]["value"] == 1.0
    assert got["young", "lvh_voltage"]["positive"] is False and got["young", "lvh_voltage"]["min_age"] == 35.0
    assert got["adult", "lvh_voltage"]["positive"] and got["unknown", "lvh_voltage"]["positive"]
    assert got["unmeasured", "lvh_voltage"]["positive"] is None  # age never turns unknown into false


def test_combinations_follow_kleene_logic(record_facts):
    got = _evaluate(record_facts("af", rr_nrmssd=0.2, p_present_frac=0.0),
                    record_facts("unk", rr_nrmssd=0.2, p_present_frac=NAN),
                    record_facts("neg", rr_nrmssd=0.01, p_present_frac=NAN))
    assert got["af", "atrial_fibrillation_suspected"]["positive"] is True
    assert got["unk", "atrial_fibrillation_suspected"]["positive"] is None  # cannot be decided
    assert got["neg", "atrial_fibrillation_suspected"]["positive"] is False  # regular: refuted whatever P says


def test_ectopic_atrial_rhythm_needs_an_axis_outside_0_90_and_an_inverted_p(record_facts):
    got = _evaluate(record_facts("low", p_axis_deg=-60.0, p_amp_mv_II=-0.12, p_amp_mv_aVF=-0.1),
                    record_facts("left", p_axis_deg=120.0, p_amp_mv_I=-0.12),
                    record_facts("flat", p_axis_deg=-8.0, p_amp_mv_aVF=-0.02),  # a horizontal sinus P
                    record_facts("upright", p_axis_deg=95.0),
                    record_facts("none", p_axis_deg=NAN, p_present_frac=0.0))
    assert got["low", "ectopic_atrial_rhythm"]["positive"] and got["left", "ectopic_atrial_rhythm"]["positive"]
    assert got["low", "p_axis_outside_sinus"]["value"] == 60.0 and got["left", "p_axis_outside_sinus"]["value"] == 30.0
    assert got["flat", "p_axis_outside_sinus"]["positive"] and not got["flat", "ectopic_atrial_rhythm"]["positive"]
    assert not got["upright", "ectopic_atrial_rhythm"]["positive"]
    assert got["none", "ectopic_atrial_rhythm"]["positive"] is False  # the P is upright where measured
    assert got["none", "p_axis_outside_sinus"]["positive"] is None
