"""The synthetic sample is real WFDB in the real layouts, with labels that match the signal."""

from __future__ import annotations

import numpy as np
import polars as pl
import wfdb
from scipy.signal import find_peaks

from sources.reader import read_signal
from sources.sample import KINDS


def test_ptbxl_layout(sample_ptbxl):
    db = pl.read_csv(sample_ptbxl / "ptbxl_database.csv")
    assert {"ecg_id", "patient_id", "age", "sex", "scp_codes", "strat_fold", "filename_lr", "filename_hr"} <= set(db.columns)
    assert (sample_ptbxl / "scp_statements.csv").exists()
    for rel_hr, rel_lr in zip(db["filename_hr"], db["filename_lr"]):
        hr, lr = wfdb.rdheader(str(sample_ptbxl / rel_hr)), wfdb.rdheader(str(sample_ptbxl / rel_lr))
        assert (hr.fs, hr.sig_len, lr.fs, lr.sig_len) == (500, 5000, 100, 1000)
        assert set(hr.fmt) == {"16"}


def test_mimic_layout(sample_mimic):
    rl = pl.read_csv(sample_mimic / "record_list.csv")
    mm = pl.read_csv(sample_mimic / "machine_measurements.csv")
    assert {f"report_{i}" for i in range(18)} <= set(mm.columns)
    assert {"rr_interval", "p_onset", "p_end", "qrs_onset", "qrs_end", "t_end", "p_axis", "qrs_axis", "t_axis"} <= set(mm.columns)
    for subject, study, path in rl.select("subject_id", "study_id", "path").rows():
        assert path == f"files/p{str(subject)[:4]}/p{subject}/s{study}/{study}"
        h = wfdb.rdheader(str(sample_mimic / path))
        assert h.sig_name == ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]
        assert (h.fs, h.sig_len) == (500, 5000)


def test_rate_labels_match_the_signal(sample_ptbxl):
    """Counted R peaks in lead II agree with the labelled rhythm's rate range."""
    db = pl.read_csv(sample_ptbxl / "ptbxl_database.csv")
    by_code = {next(iter(k.ptbxl)): k for k in KINDS}
    for rel, codes in zip(db["filename_hr"], db["scp_codes"]):
        kind = next(by_code[c] for c in by_code if f"'{c}'" in codes)
        x = read_signal(sample_ptbxl / rel)[1]
        peaks, _ = find_peaks(x, height=0.5 * x.max(), distance=150)
        hr = 60 * 500 / np.median(np.diff(peaks))
        lo, hi = kind.hr_range
        assert lo - 12 <= hr <= hi + 12, (rel, kind.name, hr)
