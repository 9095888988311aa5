"""Signal reader: numpy format-16 decoding equals wfdb, leads by name, 100 Hz -> 500 Hz."""

from __future__ import annotations

import re

import numpy as np
import pytest
import wfdb
from scipy.signal import butter, sosfiltfilt

from sources.reader import EXTRA, LEADS, RecordError, extra_leads, lead_order, read_record, read_signal, signal_sha256


def test_format16_decode_matches_wfdb_on_ptbxl(ptbxl_dir):
    path = ptbxl_dir / "records500/00000/00001_hr"
    ours = read_signal(path)
    ref = wfdb.rdrecord(str(path)).p_signal.T
    assert ours.dtype == np.float32 and ours.shape == (12, 5000)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_ludb_lower_case_leads_and_per_lead_gains(ludb_dir):
    path = ludb_dir / "data/1"
    header, ours = read_record(path)
    assert header.leads[3] == "avr"
    ref = wfdb.rdrecord(str(path))
    for i, name in enumerate(ref.sig_name):
        np.testing.assert_allclose(ours[LEADS.index({"avr": "aVR", "avl": "aVL", "avf": "aVF"}.get(name, name.upper()))],
                                   ref.p_signal[:, i], atol=1e-5)


def test_mimic_lead_order_is_mapped_by_name(sample_mimic):
    rec = next(sample_mimic.glob("files/*/*/*/*.hea")).with_suffix("")
    header = wfdb.rdheader(str(rec))
    assert header.sig_name[4] == "aVF"  # MIMIC-IV-ECG stores aVF before aVL
    raw = wfdb.rdrecord(str(rec)).p_signal.T
    ours = read_signal(rec)
    np.testing.assert_allclose(ours[LEADS.index("aVF")], raw[4], atol=1e-5)
    np.testing.assert_allclose(ours[LEADS.index("aVL")], raw[5], atol=1e-5)


def test_records100_equals_records500_resampled(ptbxl_dir):
    """Stated tolerance: after a common 35 Hz low-pass (PTB-XL's 100 Hz files keep < 50 Hz),
    the upsampled 100 Hz record differs from the 500 Hz one by <= 0.05 mV RMS (median <= 0.02)
    and correlates at >= 0.99, on every record of the sample."""
    sos = butter(4, 35, fs=500, output="sos")
    rms, corr = [], []
    for hea in sorted((ptbxl_dir / "records500").glob("*/*_hr.hea")):
        hr = hea.with_suffix("")
        lr = ptbxl_dir / "records100" / hr.parent.name / hr.name.replace("_hr", "_lr")
        a, b = read_signal(hr), read_signal(lr)
        assert a.shape == b.shape == (12, 5000)
        fa, fb = (sosfiltfilt(sos, x, axis=1)[:, 100:-100] for x in (a, b))
        rms.append(np.sqrt(np.mean((fa - fb) ** 2)))
        corr.append(np.corrcoef(fa.ravel(), fb.ravel())[0, 1])
    assert len(rms) == 300
    assert max(rms) <= 0.05 and np.median(rms) <= 0.02
    assert min(corr) >= 0.99


@pytest.mark.parametrize("names, reason", [
    (["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "MLII"], "missing leads: V6 (other signals: 'MLII')"),
    (["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5"], "missing leads: V6"),
    (["I", "I", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"], "duplicate leads: I"),
    (["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "vx", "v1"], "duplicate leads: V1"),
])
def test_lead_order_errors(names, reason):
    with pytest.raises(RecordError, match=re.escape(reason)):
        lead_order(names)


def test_extra_signals_are_extra_leads_in_file_order():
    names = ["vz", "I", "II", "III", "aVR", "aVL", "aVF", "vx", "V1", "V2", "V3", "V4", "V5", "V6", "vy"]
    order = lead_order(names)
    assert [names[j] for j in np.argsort(order)][3:] == list(LEADS) and (order == EXTRA).sum() == 3
    assert extra_leads(names) == ["vz", "vx", "vy"]


def test_lead_order_is_case_insensitive():
    names = ["v6", "V5", "v4", "v3", "v2", "v1", "AVF", "avl", "aVR", "iii", "II", "i"]
    assert [LEADS[i] for i in lead_order(names)] == [n.upper().replace("AV", "aV") for n in names]


def test_one_recording_decodes_to_the_same_bits_in_any_format(tmp_path):
    """Format 16 (numpy decoder) and 212 (wfdb.rdrecord) of the same samples: identical float32,
    so sources.reader.signal_sha256 finds the copy."""
    t = np.arange(5000) / 500
    adc = (800 * np.sin(2 * np.pi * 1.2 * t) * np.linspace(0.5, 1.5, 12)[:, None]).astype(np.int16)
    adc[3, ::7] += 3  # values whose scaling rounds
    for fmt in ("16", "212"):
        wfdb.wrsamp(f"r{fmt}", fs=500, units=["mV"] * 12, sig_name=list(LEADS), d_signal=adc.T, fmt=[fmt] * 12,
                    adc_gain=[200.0] * 12, baseline=[-7] * 12, write_dir=str(tmp_path))
    a, b = read_signal(tmp_path / "r16"), read_signal(tmp_path / "r212")
    assert a.tobytes() == b.tobytes() and signal_sha256(a) == signal_sha256(b)
