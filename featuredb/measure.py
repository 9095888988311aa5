"""Measurements on the delineated median beat: amplitudes, Q waves, R', ST, axes, QTc.

Conventions (clinically conventional, relied on by the protocol criteria):

* All amplitudes are relative to the isoelectric PR-segment level of the lead (mV).
* ``r_amp_mv >= 0`` is the largest positive QRS deflection; ``q_amp_mv <= 0`` the negative
  deflection before the first R and ``s_amp_mv <= 0`` the deepest one after it (0 when absent),
  so in an rSR' complex the S is the one between r and R' and the R' is reported;
  ``q_depth_mv = -q_amp_mv >= 0``.  A QS complex (no R) reports its depth in both
  ``q_amp_mv`` and ``s_amp_mv`` and its width in ``q_dur_ms``; ``r_amp_mv = 0``.
  So Sokolow-Lyon is ``-s_amp_mv[V1] + r_amp_mv[V5]`` and Cornell
  ``r_amp_mv[aVL] - s_amp_mv[V3]``.
* ST level at J (global QRS offset) and J+60 ms, averaged over +-ST_AVG_MS.
* P, QRS and T axes from the net areas of the six limb leads, least-squares projected on
  the hexaxial reference system (a generalisation of the I/aVF net-area method of
  AHA/ACCF/HRS 2007, Kligfield et al. Circulation 115:1306): every usable limb lead votes, so
  one small or noisy lead cannot swing the axis.  On PTB-XL it agrees with the
  cardiologists' ``heart_axis`` classes better than the net amplitudes of I and III
  (bench/protocol_ptbxl.py).
* QTc: Bazett (1920) QT/RR^1/2, Fridericia (1920) QT/RR^1/3, Framingham (Sagie et al. 1992)
  QT + 154 (1 - RR), Hodges et al. (1983) QT + 1.75 (HR - 60); RR in s, QT in ms.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: An R wave must rise at least this far above the PR level (mV).
R_MIN_MV = 0.03
#: A Q wave must be at least this deep (mV).
Q_MIN_MV = 0.03
#: R': a second positive deflection after an S that dips below the PR level, at least
#: this tall (mV) ...
R_PRIME_MIN_MV = 0.05
#: ... and falling again by at least this much before the QRS ends (a deflection inside the
#: QRS, as the rsR' of AHA/ACCF/HRS 2009, not the upstroke into the ST segment at the end of a
#: late QRS offset; its rise above the S is at least R_PRIME_MIN_MV + Q_MIN_MV) (mV).
R_PRIME_NOTCH_MV = 0.05
#: ST values are averaged over +-this around their time point (ms).
ST_AVG_MS = 4.0
#: ST measured at J and J + ST_LATE_MS (ms).
ST_LATE_MS = 60.0
#: ST form: slope beyond +-this is up-/downsloping, else horizontal (mV/s).
ST_FORM_SLOPE_MV_PER_S = 0.5
ST_UPSLOPING, ST_HORIZONTAL, ST_DOWNSLOPING = 0, 1, 2  # indices of schemas.ecg.ST_FORMS

#: Hexaxial angles (degrees) of I, II, III, aVR, aVL, aVF (positive = clockwise, down).
LIMB_ANGLES_DEG = np.array([0.0, 60.0, 120.0, -150.0, -30.0, 90.0])


@njit(cache=True)
def qrs_morphology(m, base, on, off, fs):
    """QRS deflections of one lead between global onset ``on`` and offset ``off``.

    Returns
    -------
    q_amp, r_amp, s_amp, r_prime (0/1), r_prime_amp, q_dur_ms, q_depth (mV / ms)
    """
    if on < 0 or off <= on:
        return np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan
    ir = on
    for k in range(on, off + 1):
        if m[k] > m[ir]:
            ir = k
    r = m[ir] - base
    if r < R_MIN_MV:
        # QS complex (or an isoelectric lead): depth as Q and S, width as Q duration
        imin = on
        for k in range(on, off + 1):
            if m[k] < m[imin]:
                imin = k
        d = min(0.0, m[imin] - base)
        if -d < Q_MIN_MV:
            return 0.0, max(r, 0.0), 0.0, 0.0, np.nan, 0.0, 0.0
        # width: from onset to the return to the PR level
        e = imin
        while e < off and m[e] - base < 0.0:
            e += 1
        return d, 0.0, d, 0.0, np.nan, (e - on) * 1000.0 / fs, -d
    # the first R: the first positive deflection reaching R_MIN_MV, climbed to its peak (the
    # largest one when there is a single R; the r of an rSR' complex otherwise)
    i1 = on
    while i1 < ir and m[i1] - base < R_MIN_MV:
        i1 += 1
    while i1 < ir and m[i1 + 1] >= m[i1]:
        i1 += 1
    # Q: negative deflection before the first R
    iq = on
    for k in range(on, i1 + 1):
        if m[k] < m[iq]:
            iq = k
    q = m[iq] - base
    qdur = 0.0
    if q <= -Q_MIN_MV:
        # Q spans from onset to the zero crossing on the way up to R
        e = iq
        while e < i1 and m[e] - base < 0.0:
            e += 1
        qdur = (e - on) * 1000.0 / fs
    else:
        q = 0.0
    # S: deepest point after the first R
    isd = i1
    for k in range(i1, off + 1):
        if m[k] < m[isd]:
            isd = k
    s = min(0.0, m[isd] - base)
    if s > -Q_MIN_MV:
        s = 0.0
    # R': a positive peak after a below-baseline S
    rp = 0.0
    rpa = np.nan
    if s < 0.0:
        ip = isd
        for k in range(isd, off + 1):
            if m[k] > m[ip]:
                ip = k
        v = m[ip] - base
        # a deflection, not the rise into the ST segment: it falls again before the QRS ends
        fall = m[ip]
        for k in range(ip, off + 1):
            fall = min(fall, m[k])
        if v >= R_PRIME_MIN_MV and m[ip] - fall >= R_PRIME_NOTCH_MV:
            rp = 1.0
            rpa = v
    return q, r, s, rp, rpa, qdur, -q


@njit(cache=True)
def st_levels(m, base, j, fs, hi):
    """ST level at J and J+60 ms (mV), slope (mV/s) and form code (-1 if unmeasurable)."""
    h = int(round(ST_AVG_MS * fs / 1000.0))
    late = j + int(round(ST_LATE_MS * fs / 1000.0))
    if j - h < 0 or late + h >= hi:
        return np.nan, np.nan, np.nan, -1
    a = 0.0
    c = 0.0
    for k in range(-h, h + 1):
        a += m[j + k]
        c += m[late + k]
    a = a / (2 * h + 1) - base
    c = c / (2 * h + 1) - base
    slope = (c - a) / (ST_LATE_MS / 1000.0)
    if slope > ST_FORM_SLOPE_MV_PER_S:
        form = ST_UPSLOPING
    elif slope < -ST_FORM_SLOPE_MV_PER_S:
        form = ST_DOWNSLOPING
    else:
        form = ST_HORIZONTAL
    return a, c, slope, form


@njit(cache=True)
def area(m, base, a, b, fs):
    """Net area of ``m - base`` over [a, b] (mV*ms)."""
    if a < 0 or b <= a:
        return np.nan
    s = 0.0
    for k in range(a, b + 1):
        s += m[k] - base
    return s * 1000.0 / fs


@njit(cache=True)
def frontal_axis(areas, ok):
    """Frontal-plane axis (degrees, -180..180] from net areas of the six limb leads.

    Least-squares fit of a 2-D vector whose projections on the hexaxial lead directions
    best match the available leads' net areas; NaN with fewer than two usable leads.
    """
    sxx = 0.0
    sxy = 0.0
    syy = 0.0
    bx = 0.0
    by = 0.0
    n = 0
    for i in range(6):
        if not ok[i] or np.isnan(areas[i]):
            continue
        th = LIMB_ANGLES_DEG[i] * np.pi / 180.0
        c = np.cos(th)
        s = np.sin(th)
        sxx += c * c
        sxy += c * s
        syy += s * s
        bx += c * areas[i]
        by += s * areas[i]
        n += 1
    if n < 2:
        return np.nan
    det = sxx * syy - sxy * sxy
    if abs(det) < 1e-9:
        return np.nan
    vx = (syy * bx - sxy * by) / det
    vy = (sxx * by - sxy * bx) / det
    if vx == 0.0 and vy == 0.0:
        return np.nan
    return np.arctan2(vy, vx) * 180.0 / np.pi


@njit(cache=True)
def qtc(qt_ms, rr_ms):
    """(Bazett, Fridericia, Framingham, Hodges) corrected QT in ms."""
    if np.isnan(qt_ms) or np.isnan(rr_ms) or rr_ms <= 0:
        return np.nan, np.nan, np.nan, np.nan
    rr = rr_ms / 1000.0
    hr = 60.0 / rr
    return (
        qt_ms / np.sqrt(rr),
        qt_ms / rr ** (1.0 / 3.0),
        qt_ms + 154.0 * (1.0 - rr),
        qt_ms + 1.75 * (hr - 60.0),
    )
