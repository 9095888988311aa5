"""Signal quality per lead: missing, flat, saturated, noisy; record-level quality.

Missing, flat and saturated leads are found on the raw signal before anything else (cheap
single passes); noise is judged later from the beat-to-beat dispersion of the aligned beats
around the median beat (a robust SNR in the spirit of the ensemble-averaging noise estimate
of IEC 60601-2-25), see :func:`featuredb.template.median_beats`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Per-lead quality codes (``lead_features.quality``): indices of ``schemas.features.LEAD_QUALITY_NAMES``.
Q_OK, Q_FLAT, Q_SATURATED, Q_NOISY, Q_MISSING = 0, 1, 2, 3, 4

#: A lead with more than this fraction of NaN samples is missing; fewer NaNs are held.
MISSING_NAN_FRAC = 0.05
#: A lead whose peak-to-peak range is below this (mV) carries no ECG.
FLAT_PTP_MV = 0.05
#: ... or whose successive samples are exactly equal this often (disconnected, zero-filled).
FLAT_ZERO_DIFF_FRAC = 0.8
#: Saturation: samples within this fraction of the range from the lead's extreme value ...
SATURATION_REL_TOL = 0.002
#: ... in plateaus at least this long (ms) ...
SATURATION_RUN_MS = 20.0
#: ... covering at least this fraction of the record.
SATURATION_FRAC = 0.01
#: Noisy: beat-to-beat dispersion (robust SD across aligned beats, mV) above this ...
NOISE_SD_MAX_MV = 0.15
#: ... or median-beat QRS peak-to-peak / dispersion below this.
NOISE_MIN_SNR = 4.0

#: Record quality: 'unusable' below this many usable leads (or fewer than 2 beats) ...
RECORD_MIN_LEADS = 3
#: ... 'ok' needs at least this many usable leads, else 'poor'.
RECORD_OK_LEADS = 11
#: Record quality codes (``features.quality``): indices of ``schemas.features.RECORD_QUALITY_NAMES``.
RQ_OK, RQ_POOR, RQ_UNUSABLE = 0, 1, 2


@njit(cache=True)
def raw_lead_quality(x, fs, out):
    """Classify one raw lead as ok / flat / saturated / missing; fill NaN gaps in ``out``.

    Parameters
    ----------
    x : float32 (n,) raw lead, mV.
    fs : sampling rate, Hz.
    out : float64 (n,) the lead with short NaN gaps held at the previous valid value.

    Returns
    -------
    int : quality code (``Q_*``).
    """
    n = x.shape[0]
    n_nan = 0
    for i in range(n):
        n_nan += np.isnan(x[i])
    if n_nan > MISSING_NAN_FRAC * n or n_nan == n:
        for i in range(n):
            out[i] = 0.0
        return Q_MISSING
    lo = np.inf
    hi = -np.inf
    n_zero = 0
    if n_nan == 0:
        # common case, branch-free passes
        for i in range(n):
            out[i] = x[i]
        for i in range(n):
            lo = min(lo, out[i])
            hi = max(hi, out[i])
        for i in range(1, n):
            n_zero += out[i] == out[i - 1]
    else:
        # hold NaN at the previous valid value (first valid value at the start)
        prev = np.nan
        for i in range(n):
            if not np.isnan(x[i]):
                prev = x[i]
                break
        for i in range(n):
            v = x[i]
            if np.isnan(v):
                v = prev
            out[i] = v
            if i > 0 and v == prev:
                n_zero += 1
            prev = v
            if v < lo:
                lo = v
            if v > hi:
                hi = v
    ptp = hi - lo
    if ptp < FLAT_PTP_MV or n_zero > FLAT_ZERO_DIFF_FRAC * (n - 1):
        return Q_FLAT
    tol = SATURATION_REL_TOL * ptp
    min_run = max(2, int(SATURATION_RUN_MS * fs / 1000.0))
    n_ext = 0
    for i in range(n):
        n_ext += (out[i] >= hi - tol) + (out[i] <= lo + tol)
    if n_ext < SATURATION_FRAC * n:
        return Q_OK  # too few samples at the rails to be saturated
    n_sat = 0
    run_hi = 0
    run_lo = 0
    for i in range(n):
        v = out[i]
        if v >= hi - tol:
            run_hi += 1
        else:
            if run_hi >= min_run:
                n_sat += run_hi
            run_hi = 0
        if v <= lo + tol:
            run_lo += 1
        else:
            if run_lo >= min_run:
                n_sat += run_lo
            run_lo = 0
    if run_hi >= min_run:
        n_sat += run_hi
    if run_lo >= min_run:
        n_sat += run_lo
    if n_sat >= SATURATION_FRAC * n:
        return Q_SATURATED
    return Q_OK


@njit(cache=True)
def is_noisy(dispersion_mv, qrs_ptp_mv):
    """Noisy lead from its beat-to-beat dispersion and its median-beat QRS peak-to-peak."""
    if dispersion_mv > NOISE_SD_MAX_MV:
        return True
    if qrs_ptp_mv < NOISE_MIN_SNR * dispersion_mv:
        return True
    return False


@njit(cache=True)
def record_quality(n_leads_ok, n_beats):
    """Record quality code from the number of usable leads and detected beats."""
    if n_leads_ok < RECORD_MIN_LEADS or n_beats < 2:
        return RQ_UNUSABLE
    if n_leads_ok < RECORD_OK_LEADS:
        return RQ_POOR
    return RQ_OK
