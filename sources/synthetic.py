"""A parametric 12-lead ECG generator with known ground truth.

Each wave of each beat is an analytic pulse of the cardiac dipole (the heart vector) in body
coordinates (x left, y inferior, z anterior), projected onto the 12 leads: the limb leads on the
ideal Einthoven triangle (I, II; III, aVR, aVL, aVF by Einthoven's and Goldberger's relations) and
the precordial leads through Dower's transfer coefficients from the Frank leads (Dower et al.,
J Electrocardiol 13:189, 1980). A wave is a half-sine lobe (the T wave skewed to peak late), so it
has an exact onset and end: P, PR, QRS and QT are specified per record, as the global intervals
of IEC 60601-2-25, and the frontal axes are those of the waves' net-area vectors. Kinds are drawn
to match the protocol's criteria (normal, sinus brady/tachycardia, atrial fibrillation with
fibrillatory waves, first-degree AV block, left/right bundle branch block, left anterior
fascicular block, LVH voltage with strain, inferior and anterior infarction with Q waves and ST
elevation, long QT, low voltage, sinus rhythm with premature ventricular complexes), and their labels follow from the truth through the thresholds
of ``protocol/criteria.csv``. Optional, seeded nuisances: white noise, baseline wander, mains
interference and one noisy lead.

Not modelled: P-wave morphology beyond a single lobe (no bifid or biphasic P), U waves,
atrial ectopic beats, AV block beyond first degree, pacing, respiratory axis shifts, lead misplacement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protocol.criteria import load as load_criteria
from schemas.ecg import LEADS
from sources.reader import FS

DURATION_S = 10
#: Dower's transfer coefficients (Frank X, Y, Z -> V1..V6); Frank Z points backwards. Dower's own
#: lead I is 0.632 X, so the Frank vector is taken as 1 / 0.632 times the limb-lead vector.
DOWER_PRECORDIAL = np.array([
    [-0.515, 0.157, -0.917], [0.044, 0.164, -1.387], [0.882, 0.098, -1.277],
    [1.213, 0.127, -0.601], [1.125, 0.127, -0.086], [0.831, 0.076, 0.230],
])
#: Heart vector (x left, y inferior, z anterior) -> I, II, III, aVR, aVL, aVF, V1..V6.
_I, _II = np.array([1.0, 0.0, 0.0]), np.array([0.5, np.sqrt(3) / 2, 0.0])
LEAD_VECTORS = np.vstack([
    _I, _II, _II - _I, -(_I + _II) / 2, _I - _II / 2, _II - _I / 2,
    DOWER_PRECORDIAL * np.array([1.0, 1.0, -1.0]) / 0.632,
])
#: Noise (mV): white, baseline wander (0.1-0.4 Hz), mains (50 or 60 Hz), the noisy lead's EMG.
NOISE_WHITE_MV = (0.003, 0.008)
NOISE_WANDER_MV = (0.03, 0.12)
NOISE_MAINS_MV = (0.002, 0.006)
NOISY_LEAD_MV = 0.08
NOISY_LEAD_P = 0.1
#: The P wave ends at least this long before the QRS (ms): the PR segment carries the baseline.
PR_SEGMENT_MIN_MS = 45.0
#: P wave: duration (ms) and frontal axis (deg) ranges, anterior part.
P_DUR_MS = (90.0, 110.0)
P_AXIS_DEG = (45.0, 65.0)
P_Z = 0.2
#: The T wave fills this share of the JT interval and peaks at this fraction of its length; an
#: ST deviation holds until the last ST_FALL_FRAC of the T wave, then falls to zero at its end.
T_DUR_FRAC = 0.62
T_PEAK_FRAC = 0.62
ST_FALL_FRAC = 0.4
#: RR: sinus beat-to-beat SD (fraction of RR); atrial fibrillation RR range (fractions of the mean).
SINUS_RR_SD = 0.01
AF_RR = (0.65, 1.35)
#: Fibrillatory waves: three components of this amplitude (mV) at 4-8 Hz.
F_WAVE_MV = 0.012
F_WAVE_HZ = (4.0, 8.0)
#: The first QRS starts this long into the record (ms).
FIRST_QRS_MS = (350.0, 650.0)


def _dir(theta_deg: float, z: float) -> np.ndarray:
    """Heart-vector direction: frontal angle (deg, hexaxial: 0 = lead I, 90 = aVF) and anterior part."""
    t = np.deg2rad(theta_deg)
    return np.array([np.cos(t), np.sin(t), z])


@dataclass(frozen=True)
class Lobe:
    """One QRS lobe: duration (ms), amplitude (mV) of its frontal part, frontal angle (deg),
    anterior part relative to the frontal one, and edge shape (:func:`_lobe` ``power``: 2 for a
    lobe that starts and ends flat, 1 for a steep-walled one such as an infarct Q wave)."""

    dur: tuple[float, float]
    amp: tuple[float, float]
    theta: tuple[float, float]
    z: float
    power: int = 2


NORMAL_QRS = (Lobe((18, 22), (0.15, 0.25), (120, 150), 0.8), Lobe((40, 48), (1.0, 1.3), (35, 65), -0.4),
              Lobe((20, 26), (0.2, 0.3), (-130, -110), -0.6))
#: A premature ventricular complex: early (coupling interval as a fraction of the sinus RR), no P,
#: a wide QRS of slow myocardial conduction, a T wave discordant to it (amplitude mV, frontal
#: angle, anterior part), starting this long after the QRS; the next sinus beat comes on time
#: (a full compensatory pause). It is kept out of the truth, which describes the dominant beats.
PVC_COUPLING = (0.6, 0.7)
PVC_QRS = (Lobe((60, 70), (1.3, 1.6), (100, 130), 0.5), Lobe((55, 65), (0.6, 0.8), (-90, -60), -0.6))
PVC_T = ((0.4, 0.6), (-80, -50), -0.3)
PVC_ST_MS = 80.0


@dataclass(frozen=True)
class Kind:
    """A morphology: its parameter ranges and the labels only the morphology can give."""

    name: str
    qrs: tuple[Lobe, ...] = NORMAL_QRS
    hr: tuple[float, float] = (60, 90)
    pr: tuple[float, float] = (140, 180)
    qtc: tuple[float, float] = (390, 425)  # Framingham
    p_wave: bool = True
    p_amp: tuple[float, float] = (0.14, 0.2)
    t_amp: tuple[float, float] = (0.3, 0.45)
    t_theta: tuple[float, float] = (40, 60)
    t_z: float = 0.3
    st: tuple[float, float, float] = (0.0, 0.0, 0.0)  # amplitude (mV), frontal angle, anterior part
    pvcs: int = 0  # premature ventricular complexes per record (at most 2)
    age: tuple[int, int] = (25, 85)  # years, [low, high)
    labels: tuple[str, ...] = ()  # morphology concepts (rate, rhythm and interval labels follow from the truth)


KINDS = (
    Kind("normal"),
    Kind("sinus_brady", hr=(40, 47)),
    Kind("sinus_tachy", hr=(102, 108), pr=(130, 145), qtc=(370, 400)),
    Kind("afib", hr=(80, 110), p_wave=False),
    Kind("avb1", pr=(235, 280), hr=(58, 75)),
    Kind("lbbb", qrs=(Lobe((28, 32), (0.3, 0.4), (-10, 10), 0.6), Lobe((58, 66), (1.3, 1.5), (-5, 25), -0.9),
                      Lobe((48, 54), (0.8, 1.0), (-10, 10), -0.5)),
         t_theta=(160, 190), t_z=0.6, st=(0.1, 175.0, 0.6), labels=("CLBBB",)),
    Kind("rbbb", qrs=(*NORMAL_QRS[:2], Lobe((20, 24), (0.2, 0.3), (-120, -100), -0.4),
                      Lobe((48, 56), (0.45, 0.6), (170, 190), 0.9)), t_z=-0.5, labels=("CRBBB",)),
    Kind("lafb", qrs=(Lobe((18, 22), (0.2, 0.3), (100, 115), 0.5), Lobe((48, 56), (1.0, 1.2), (-70, -55), -0.4),
                      Lobe((20, 26), (0.2, 0.3), (-100, -80), -0.5)), t_theta=(10, 40), labels=("LAFB",)),
    Kind("lvh", age=(40, 85), qrs=(NORMAL_QRS[0], Lobe((50, 56), (2.3, 2.6), (20, 40), -0.6), NORMAL_QRS[2]),
         t_amp=(0.25, 0.35), t_theta=(190, 210), t_z=0.4, st=(0.1, 200.0, 0.3), labels=("LVH",)),
    Kind("inferior_mi", qrs=(Lobe((42, 46), (0.35, 0.45), (-95, -85), 0.6, 1), Lobe((36, 42), (1.0, 1.2), (10, 30), 0.0),
                             Lobe((14, 18), (0.15, 0.25), (-130, -110), -0.6)),
         st=(0.2, 90.0, 0.0), labels=("IMI",)),
    Kind("anterior_mi", qrs=(Lobe((42, 46), (0.5, 0.6), (-10, 10), -1.0, 1), Lobe((36, 42), (1.0, 1.2), (30, 50), -0.5),
                             Lobe((14, 18), (0.15, 0.25), (-130, -110), -0.6)),
         st=(0.25, -40.0, 1.2), t_z=0.6, labels=("AMI",)),
    Kind("long_qt", hr=(55, 70), qtc=(485, 520)),
    # low limb-lead voltage: a QRS loop turned out of the frontal plane (precordial voltage kept)
    Kind("low_voltage", qrs=(Lobe((18, 22), (0.06, 0.08), (120, 150), 2.5), Lobe((44, 52), (0.32, 0.38), (35, 65), -2.2),
                             Lobe((20, 26), (0.07, 0.1), (-130, -110), -2.0)),
         t_amp=(0.12, 0.16), t_z=1.5, labels=("LVOLT",)),
    Kind("pvc", pvcs=2, labels=("PVC",)),
)


@dataclass(frozen=True)
class Truth:
    """What the generator put in the signal: global intervals (ms) and frontal axes (deg)."""

    kind: str
    sex: str
    age: int
    hr_bpm: float
    rr_ms: float
    p_dur_ms: float
    pr_ms: float
    qrs_ms: float
    qt_ms: float
    qtc_framingham_ms: float
    p_axis_deg: float
    qrs_axis_deg: float
    t_axis_deg: float
    noisy_lead: str
    labels: tuple[str, ...]


def _lobe(n: int, peak: float = 0.5, power: int = 1) -> np.ndarray:
    """A lobe of ``n`` samples, zero at both ends, peaking at fraction ``peak`` of its length:
    a half sine (``power`` 1: steep edges) or a raised cosine (``power`` 2: edges that start
    and end flat, as a QRS complex leaves and returns to the baseline)."""
    u = (np.arange(n) + 0.5) / n
    return np.sin(np.pi * u ** (np.log(0.5) / np.log(peak))) ** power


def _ms(v: float) -> int:
    return int(round(v * FS / 1000.0))


def _angle(v: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(v[1], v[0])))


def _threshold(criterion: str, sex: str) -> float:
    return next(c for c in load_criteria() if c.id == criterion).threshold_for(sex)


def labels(kind: Kind, t: dict) -> tuple[str, ...]:
    """Labels from the truth through the thresholds of ``protocol/criteria.csv``, plus the
    kind's morphology labels; NORM when nothing is abnormal (a slow sinus rate aside)."""
    out: list[str] = []
    if not kind.p_wave:
        out.append("AFIB")
    elif t["hr_bpm"] < _threshold("bradycardia", t["sex"]):
        out.append("SBRAD")
    elif t["hr_bpm"] > _threshold("tachycardia", t["sex"]):
        out.append("STACH")
    else:
        out.append("SR")
    if kind.p_wave and t["pr_ms"] > _threshold("pr_prolonged", t["sex"]):
        out.append("1AVB")
    if t["qtc_framingham_ms"] >= _threshold("qtc_prolonged", t["sex"]):
        out.append("LNGQT")
    out += kind.labels
    if out in (["SR"], ["SBRAD"]):
        out.append("NORM")
    return tuple(out)


def simulate(kind: Kind, rng: np.random.Generator, noise: bool = True) -> tuple[np.ndarray, Truth]:
    """One 10 s, 500 Hz record of ``kind``: float32 (12, n) mV in canonical lead order, and its truth."""
    u = lambda r: float(rng.uniform(*r))  # noqa: E731
    n = DURATION_S * FS
    sex, age = ("M" if rng.random() < 0.5 else "F"), int(rng.integers(*kind.age))
    hr = u(kind.hr)
    rr = 60000.0 / hr
    qrs = [(u(lobe.dur), u(lobe.amp), _dir(u(lobe.theta), lobe.z), lobe.power) for lobe in kind.qrs]
    qrs_ms = sum(q[0] for q in qrs)
    pr = u(kind.pr) if kind.p_wave else np.nan
    p_dur = min(u(P_DUR_MS), pr - PR_SEGMENT_MIN_MS) if kind.p_wave else np.nan
    p_amp, p_vec = u(kind.p_amp), _dir(u(P_AXIS_DEG), P_Z)
    qtc = u(kind.qtc)
    if kind.p_wave:
        beats = rr * (1.0 + SINUS_RR_SD * rng.standard_normal(40))
    else:  # atrial fibrillation: irregularly irregular RR
        beats = rr * rng.uniform(*AF_RR, 40)
    onsets = np.cumsum(np.concatenate([[u(FIRST_QRS_MS)], beats]))
    onsets = onsets[onsets < DURATION_S * 1000.0 - 50]
    ectopic = (2, len(onsets) - 3)[: kind.pvcs]  # away from the middle beat the truth axes read
    for k in ectopic:
        onsets[k] = onsets[k - 1] + u(PVC_COUPLING) * rr
    rr_mean = float(np.mean(np.diff(onsets)))
    qt = qtc - 154.0 * (1.0 - rr_mean / 1000.0)  # the Framingham correction (Sagie et al. 1992) undone
    st_amp, st_theta, st_z = kind.st
    st_vec = st_amp * _dir(st_theta, st_z)
    t_amp, t_vec = u(kind.t_amp), _dir(u(kind.t_theta), kind.t_z)
    t_dur = T_DUR_FRAC * (qt - qrs_ms)
    heart = np.zeros((3, n + 2 * FS))  # one second of margin on each side
    off = FS

    def add(start_ms: float, vec: np.ndarray, shape: np.ndarray) -> None:
        a = off + _ms(start_ms)
        if a >= 0 and a + shape.shape[0] <= heart.shape[1]:
            heart[:, a : a + shape.shape[0]] += vec[:, None] * shape[None, :]

    for i, q in enumerate(onsets):
        if i in ectopic:
            at = q
            for lobe in PVC_QRS:
                d = u(lobe.dur)
                add(at, u(lobe.amp) * _dir(u(lobe.theta), lobe.z), _lobe(_ms(d), power=lobe.power))
                at += d
            (amp, theta, z), t_len = PVC_T, _ms(t_dur)
            add(at + PVC_ST_MS, u(amp) * _dir(u(theta), z), _lobe(t_len, T_PEAK_FRAC))
            continue
        if kind.p_wave:
            add(q - pr, p_amp * p_vec, _lobe(_ms(p_dur)))
        at = q
        for d, amp, vec, power in qrs:
            add(at, amp * vec, _lobe(_ms(d), power=power))
            at += d
        if st_amp:  # injury current: rises over the last QRS lobe, holds, falls to zero at T end
            last = max(_ms(qrs[-1][0]), 2)
            hold = _ms(qt - qrs_ms - t_dur * ST_FALL_FRAC)
            fall = _ms(t_dur * ST_FALL_FRAC)
            shape = np.concatenate([(1 - np.cos(np.linspace(0, np.pi, last))) / 2, np.ones(hold), np.linspace(1, 0, fall)])
            add(q + qrs_ms - qrs[-1][0], st_vec, shape)
        add(q + qt - t_dur, t_amp * t_vec, _lobe(_ms(t_dur), T_PEAK_FRAC))
    if not kind.p_wave:  # fibrillatory waves
        tt = np.arange(heart.shape[1]) / FS
        for _ in range(3):
            heart += F_WAVE_MV * _dir(u((0, 360)), u((-1, 1)))[:, None] * np.sin(
                2 * np.pi * u(F_WAVE_HZ) * tt + u((0, 2 * np.pi)))[None, :]
    clean = LEAD_VECTORS @ heart[:, off : off + n]

    # truth axes: frontal angle of each wave's net-area vector (the limb leads' least-squares axis)
    one = onsets[len(onsets) // 2]
    span = lambda a, b: heart[:2, off + _ms(a) : off + _ms(b)].sum(axis=1)  # noqa: E731
    truth = dict(kind=kind.name, sex=sex, age=age, hr_bpm=60000.0 / rr_mean, rr_ms=rr_mean, p_dur_ms=p_dur, pr_ms=pr,
                 qrs_ms=qrs_ms, qt_ms=qt, qtc_framingham_ms=qtc,
                 p_axis_deg=_angle(p_vec) if kind.p_wave else np.nan,
                 qrs_axis_deg=_angle(span(one, one + qrs_ms)), t_axis_deg=_angle(span(one + qrs_ms, one + qt)))
    truth["noisy_lead"] = ""
    signal = clean + (_noise(rng, truth) if noise else 0.0)
    return signal.astype(np.float32), Truth(**truth, labels=labels(kind, truth))


def _noise(rng: np.random.Generator, truth: dict) -> np.ndarray:
    """White noise, baseline wander, mains interference and (sometimes) one noisy lead."""
    n = DURATION_S * FS
    t = np.arange(n) / FS
    out = rng.uniform(*NOISE_WHITE_MV) * rng.standard_normal((12, n))
    for _ in range(2):
        out += (rng.uniform(*NOISE_WANDER_MV, (12, 1))
                * np.sin(2 * np.pi * rng.uniform(0.1, 0.4, (12, 1)) * t + rng.uniform(0, 2 * np.pi, (12, 1))))
    out += rng.uniform(*NOISE_MAINS_MV) * np.sin(2 * np.pi * rng.choice([50.0, 60.0]) * t)
    if rng.random() < NOISY_LEAD_P:
        lead = int(rng.integers(6, 12))
        emg = np.convolve(rng.standard_normal(n), np.ones(3) / 3, mode="same")
        out[lead] += NOISY_LEAD_MV * emg / emg.std()
        truth["noisy_lead"] = LEADS[lead]
    return out
