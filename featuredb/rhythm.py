"""Rhythm: RR-interval statistics and irregularity measures.

Heart rate from the mean RR; irregularity measures used for atrial fibrillation screening:
coefficient of variation, RMSSD and pNN50 (Task Force of the ESC/NASPE 1996), and the
normalized RMSSD (RMSSD / mean RR) used by Dash et al. (2009) for AF detection on short
records.  Per-beat P-wave presence is measured in :mod:`featuredb.delineate`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Successive RR differences above this count towards pNN50 (ms).
PNN_THRESHOLD_MS = 50.0
#: RR intervals outside [min, max] (ms) are physiologically implausible and ignored.
RR_MIN_MS = 200.0
RR_MAX_MS = 3000.0
#: Irregular rhythm flag: normalized RMSSD above this (Dash 2009 uses ~0.1) ...
IRREGULAR_NRMSSD = 0.1
#: ... and pNN50 above this.
IRREGULAR_PNN50 = 0.3

# indices of the output vector of rr_stats
RR_MEAN, RR_SD, HR, RR_CV, RR_RMSSD, RR_PNN50, RR_NRMSSD, RR_MED, RR_N = range(9)
N_RR_STATS = 9


@njit(cache=True)
def rr_stats(fid, fs, out):
    """Fill ``out[:N_RR_STATS]`` with RR statistics from beat fiducials (sample indices).

    ``hr_bpm = 60000 / mean RR``; NaN when fewer than two beats.
    """
    for i in range(N_RR_STATS):
        out[i] = np.nan
    nb = fid.shape[0]
    out[RR_N] = 0.0
    if nb < 2:
        return
    rr = np.empty(nb - 1)
    m = 0
    for i in range(nb - 1):
        v = (fid[i + 1] - fid[i]) * 1000.0 / fs
        if RR_MIN_MS <= v <= RR_MAX_MS:
            rr[m] = v
            m += 1
    out[RR_N] = m
    if m == 0:
        return
    rr = rr[:m]
    mean = rr.mean()
    out[RR_MEAN] = mean
    out[HR] = 60000.0 / mean
    out[RR_MED] = np.median(rr)
    if m >= 2:
        sd = np.sqrt(((rr - mean) ** 2).sum() / (m - 1))
        out[RR_SD] = sd
        out[RR_CV] = sd / mean
        ss = 0.0
        big = 0
        for i in range(m - 1):
            d = rr[i + 1] - rr[i]
            ss += d * d
            if abs(d) > PNN_THRESHOLD_MS:
                big += 1
        out[RR_RMSSD] = np.sqrt(ss / (m - 1))
        out[RR_PNN50] = big / (m - 1)
        out[RR_NRMSSD] = out[RR_RMSSD] / mean
