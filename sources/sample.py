"""Synthetic 12-lead datasets written in the real PTB-XL and MIMIC-IV-ECG layouts.

Signals come from neurokit2's ECGSYN 12-lead simulation (McSharry et al., IEEE TBME 50(3),
2003) with seeded variety: rate, P-wave timing (PR), QRS width, absent P waves with an
irregular rate (atrial fibrillation pattern) and precordial voltage. ECGSYN scales every lead
to a fixed range, so each lead is re-centred on its median (the isoelectric line) and scaled to
a physiological peak-to-peak amplitude; the labels name what the parameters put in the signal.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb
from scipy.signal import resample_poly

from sources.reader import LEADS

DURATION_S = 10
FS = 500
GAIN_ADC_PER_MV = 1000.0
MIMIC_LEADS = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
MIMIC_MISSING = 29999  # the machine-measurement sentinel for "not measured"

# Peak-to-peak amplitude (mV) per canonical lead of a normal adult ECG.
LEAD_PTP_MV = np.array([1.0, 1.4, 0.9, 1.1, 0.7, 1.1, 1.3, 2.0, 2.0, 1.9, 1.7, 1.4])
LVH_GAIN = np.array([1.3, 1.2, 1.0, 1.2, 1.6, 1.0, 2.2, 2.2, 1.8, 1.8, 2.4, 2.4])

# ECGSYN defaults (angles in degrees of the P, Q, R, S, T extrema, amplitudes, widths).
_TI = (-70.0, -15.0, 0.0, 15.0, 100.0)
_AI = (1.2, -5.0, 30.0, -7.5, 0.75)
_BI = (0.25, 0.1, 0.1, 0.1, 0.4)


@dataclass(frozen=True)
class Kind:
    """One simulated morphology and the statements it is labelled with."""

    name: str
    weight: float
    hr_range: tuple[float, float]
    ptbxl: dict[str, float]
    mimic: tuple[str, ...]
    hr_std: float = 1.0
    p_wave: bool = True
    p_angle: float = _TI[0]
    qrs_width: float = 1.0
    lvh: bool = False


KINDS = (
    Kind("normal", 0.35, (60, 95), {"NORM": 100.0, "SR": 0.0}, ("Sinus rhythm", "Normal ECG")),
    Kind("brady", 0.12, (42, 56), {"SBRAD": 0.0, "NORM": 80.0}, ("Sinus bradycardia", "Otherwise normal ECG")),
    Kind("tachy", 0.12, (105, 135), {"STACH": 0.0}, ("Sinus tachycardia", "Borderline ECG")),
    Kind("afib", 0.12, (75, 120), {"AFIB": 0.0}, ("Atrial fibrillation", "Abnormal ECG"),
         hr_std=12.0, p_wave=False),
    Kind("avb1", 0.1, (55, 85), {"1AVB": 100.0, "SR": 0.0}, ("Sinus rhythm", "1st degree A-V block", "Borderline ECG"),
         p_angle=-115.0),
    Kind("wide_qrs", 0.09, (60, 90), {"IVCD": 100.0, "SR": 0.0},
         ("Sinus rhythm", "Intraventricular conduction delay", "Abnormal ECG"), qrs_width=2.4),
    Kind("lvh", 0.1, (60, 90), {"LVH": 100.0, "SR": 0.0},
         ("Sinus rhythm", "Left ventricular hypertrophy", "Abnormal ECG"), lvh=True),
)

SCP_STATEMENTS = {  # code: (description, diagnostic_class, statement category)
    "NORM": ("normal ECG", "NORM", "diagnostic"),
    "SR": ("sinus rhythm", "", "rhythm"),
    "SBRAD": ("sinus bradycardia", "", "rhythm"),
    "STACH": ("sinus tachycardia", "", "rhythm"),
    "AFIB": ("atrial fibrillation", "", "rhythm"),
    "1AVB": ("first degree AV block", "CD", "diagnostic"),
    "IVCD": ("non-specific intraventricular conduction disturbance (block)", "CD", "diagnostic"),
    "LVH": ("left ventricular hypertrophy", "HYP", "diagnostic"),
}


@dataclass(frozen=True)
class Simulated:
    signal: np.ndarray  # (12, n) mV in canonical lead order
    kind: Kind
    hr_bpm: float
    age: int
    sex: str  # "M" or "F"


def simulate(rng: np.random.Generator) -> Simulated:
    """One seeded 10 s, 500 Hz, 12-lead record of a randomly drawn :data:`KINDS` entry."""
    import neurokit2 as nk

    weights = np.array([k.weight for k in KINDS])
    kind = KINDS[rng.choice(len(KINDS), p=weights / weights.sum())]
    hr = float(rng.uniform(*kind.hr_range))
    ti = list(_TI)
    ti[0] = kind.p_angle
    ai = list(_AI)
    ai[0] = ai[0] if kind.p_wave else 0.0
    bi = [b * kind.qrs_width if i in (1, 2, 3) else b for i, b in enumerate(_BI)]
    sim = nk.ecg_simulate(
        duration=DURATION_S, sampling_rate=FS, heart_rate=hr, heart_rate_std=kind.hr_std,
        method="multileads", noise=0.005, random_state=int(rng.integers(2**31)),
        ti=ti, ai=ai, bi=bi,
    )
    z = sim[list(LEADS)].to_numpy().T
    ptp = LEAD_PTP_MV * (LVH_GAIN if kind.lvh else 1.0) * rng.uniform(0.8, 1.2)
    signal = (z - np.median(z, axis=1, keepdims=True)) / 1.6 * ptp[:, None]
    return Simulated(signal.astype(np.float32), kind, hr, int(rng.integers(25, 90)),
                     "M" if rng.random() < 0.5 else "F")


def _write_wfdb(folder: Path, name: str, signal: np.ndarray, leads: tuple[str, ...], fs: int) -> None:
    """Format-16 record, fixed gain, as the PTB-XL and MIMIC-IV-ECG files are."""
    folder.mkdir(parents=True, exist_ok=True)
    order = [LEADS.index(lead) for lead in leads]
    wfdb.wrsamp(
        name, fs=fs, units=["mV"] * 12, sig_name=list(leads), p_signal=signal[order].T.astype(np.float64),
        fmt=["16"] * 12, adc_gain=[GAIN_ADC_PER_MV] * 12, baseline=[0] * 12, write_dir=str(folder),
    )


def write_ptbxl(out: Path, n: int, seed: int) -> Path:
    """PTB-XL 1.0.3 layout: records500/, records100/, ptbxl_database.csv, scp_statements.csv."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    n_patients = max(1, int(n * 0.8))
    for ecg_id in range(1, n + 1):
        sim = simulate(rng)
        sub = f"{(ecg_id // 1000) * 1000:05d}"
        hr_name, lr_name = f"{ecg_id:05d}_hr", f"{ecg_id:05d}_lr"
        _write_wfdb(out / "records500" / sub, hr_name, sim.signal, LEADS, FS)
        _write_wfdb(out / "records100" / sub, lr_name, resample_poly(sim.signal, 1, 5, axis=1), LEADS, 100)
        patient = int(rng.integers(1, n_patients + 1)) + 10000
        rows.append({
            "ecg_id": ecg_id, "patient_id": float(patient), "age": float(sim.age),
            "sex": 0 if sim.sex == "M" else 1, "height": "", "weight": "", "nurse": "", "site": 0.0,
            "device": "CS-12   E", "recording_date": f"1990-01-{1 + ecg_id % 28:02d} 09:00:00",
            "report": sim.kind.name, "scp_codes": repr(sim.kind.ptbxl), "heart_axis": "",
            "infarction_stadium1": "", "infarction_stadium2": "", "validated_by": "",
            "second_opinion": False, "initial_autogenerated_report": False, "validated_by_human": True,
            "baseline_drift": "", "static_noise": "", "burst_noise": "", "electrodes_problems": "",
            "extra_beats": "", "pacemaker": "", "strat_fold": 1 + patient % 10,
            "filename_lr": f"records100/{sub}/{lr_name}", "filename_hr": f"records500/{sub}/{hr_name}",
        })
    _write_csv(out / "ptbxl_database.csv", rows)
    _write_csv(out / "scp_statements.csv", [
        {"": code, "description": desc, "diagnostic": 1.0 if cat == "diagnostic" else "",
         "form": "", "rhythm": 1.0 if cat == "rhythm" else "", "diagnostic_class": cls,
         "diagnostic_subclass": cls, "Statement Category": cat, "SCP-ECG Statement Description": desc,
         "AHA code": "", "aECG REFID": "", "CDISC Code": "", "DICOM Code": ""}
        for code, (desc, cls, cat) in SCP_STATEMENTS.items()
    ])
    return out


def _machine_measurements(sim: Simulated) -> dict[str, int]:
    """Median-beat fiducials (ms from the beat window start) as the cart reports them."""
    rr = 60000.0 / sim.hr_bpm
    f = np.sqrt(sim.hr_bpm / 60)
    scale = np.array([np.sqrt(f), f, 1.0, f, np.sqrt(f)])
    ti = np.array([sim.kind.p_angle, *_TI[1:]]) * scale / 360.0 * rr  # ms from R
    width = np.array(_BI) * f / (2 * np.pi) * rr * 1.5  # visible edge at 1.5 sigma
    width[1:4] *= sim.kind.qrs_width
    r_at = 400.0
    m = {
        "rr_interval": round(rr), "qrs_onset": round(r_at + ti[1] - width[1]),
        "qrs_end": round(r_at + ti[3] + width[3]), "t_end": round(r_at + ti[4] + width[4]),
        "p_onset": round(r_at + ti[0] - width[0]), "p_end": round(r_at + ti[0] + width[0]),
        "p_axis": 60, "qrs_axis": 45, "t_axis": 40,
    }
    if not sim.kind.p_wave:
        m.update(p_onset=MIMIC_MISSING, p_end=MIMIC_MISSING, p_axis=MIMIC_MISSING)
    return m


def write_mimic(out: Path, n: int, seed: int) -> Path:
    """MIMIC-IV-ECG 1.0 layout: files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN, record_list.csv,
    machine_measurements.csv (report_0..report_17 and the cart's intervals)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    records, measurements = [], []
    n_subjects = max(1, int(n * 0.7))
    for i in range(n):
        sim = simulate(rng)
        subject = 10000000 + int(rng.integers(0, n_subjects)) * 37
        study = 40000000 + i * 7919 % 9999991
        rel = f"files/p{str(subject)[:4]}/p{subject}/s{study}/{study}"
        _write_wfdb(out / Path(rel).parent, str(study), sim.signal, MIMIC_LEADS, FS)
        time = f"2180-{1 + i % 12:02d}-{1 + i % 28:02d} 10:{i % 60:02d}:00"
        records.append({"subject_id": subject, "study_id": study, "file_name": study,
                        "ecg_time": time, "path": rel})
        reports = {f"report_{k}": (sim.kind.mimic[k] if k < len(sim.kind.mimic) else "") for k in range(18)}
        measurements.append({"subject_id": subject, "study_id": study, "cart_id": 6848296,
                             "ecg_time": time, **reports, "bandwidth": "0.005-150 Hz",
                             "filtering": "60 Hz notch Baseline filter", **_machine_measurements(sim)})
    _write_csv(out / "record_list.csv", records)
    _write_csv(out / "machine_measurements.csv", measurements)
    return out


def write_sample(out: Path, layout: str, n: int, seed: int) -> Path:
    """Write ``n`` synthetic records in ``layout`` ('ptbxl' or 'mimic') under ``out``."""
    writers = {"ptbxl": write_ptbxl, "mimic": write_mimic}
    if layout not in writers:
        raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(writers)}")
    return writers[layout](Path(out), n, seed)


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

