"""Per-beat global intervals (for ``<interval>_iqr`` / ``<interval>_n``) and P presence.

Each aligned beat is delineated on three one-channel signals: the spatial velocity (QRS),
and the projections of the beat on the median beat's P and T lead vectors (a matched
"P lead" and "T lead").  The same procedure applied to the median beat gives reference
events; a beat's interval is the median-beat interval plus the beat's deviation from that
reference, so per-beat values share the calibration of the representative beat while
their spread (IQR) reflects the beat-to-beat variability.  A beat has a P wave when its
P-window correlates with the median beat's P wave across the leads (Pearson r).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .delineate import (
    PR_LEVEL_MS,
    QRS_MAX_POST_MS,
    QRS_MAX_PRE_MS,
    QRS_OFF_FRAC,
    QRS_ON_FRAC,
    largest_interior_max,
    level,
    magnitude_bounds,
    ms,
    slope_bounds,
    t_wave,
)
from .filter import moving_average

#: Spatial velocity of a beat: derivative half-span (ms) and smoothing (ms).
BEAT_DIFF_MS = 4.0
BEAT_VEL_SMOOTH_MS = 10.0
#: Smoothing of the projected P / T leads (ms).
BEAT_P_SMOOTH_MS = 20.0
BEAT_T_SMOOTH_MS = 30.0
#: P search on a beat: within +-this of the median beat's P boundaries (ms).
BEAT_P_MARGIN_MS = 40.0
#: A beat has a P wave if its multi-lead P window correlates with the median P this well ...
P_BEAT_CORR_MIN = 0.5
#: ... and its projected P amplitude is at least this fraction of the median beat's.
P_BEAT_AMP_FRAC = 0.4
#: Per-beat P boundaries: fraction of the projected P peak.
P_BEAT_FRAC = 0.2

# per-beat event indices
EV_QRS_ON, EV_QRS_OFF, EV_T_END, EV_P_ON, EV_P_OFF, EV_P_OK, EV_P_AMP = range(7)
N_EV = 7


@njit(cache=True)
def _span(x, good, F):
    """Contiguous span [lo, hi) around F where all good leads of ``x`` (leads, L) are finite."""
    n_leads, L = x.shape
    lo = F
    hi = F
    ok = True
    for l in range(n_leads):
        if good[l] and np.isnan(x[l, F]):
            ok = False
    if not ok:
        return F, F
    while lo > 0:
        bad = False
        for l in range(n_leads):
            if good[l] and np.isnan(x[l, lo - 1]):
                bad = True
                break
        if bad:
            break
        lo -= 1
    while hi < L:
        bad = False
        for l in range(n_leads):
            if good[l] and np.isnan(x[l, hi]):
                bad = True
                break
        if bad:
            break
        hi += 1
    return lo, hi


@njit(cache=True)
def _project(x, w, a, b, out):
    """``out[a:b]`` = the lead combination ``sum_l w[l] * x[l]`` (leads of weight 0 skipped)."""
    for i in range(a, b):
        s = 0.0
        for l in range(x.shape[0]):
            if w[l] != 0.0:
                s += w[l] * x[l, i]
        out[i] = s


@njit(cache=True)
def beat_events(x, good, F, fs, wt, wp, p_on, p_off, t_lim, tmpl_p, p_ref_amp):
    """Events of one beat (or of the median beat) ``x`` (leads, L); -1 / NaN if missing.

    ``wt``/``wp``: T and P lead weights (zero for unused leads); ``p_on``/``p_off``: median
    beat P boundaries (-1 when no P); ``tmpl_p`` (leads, L) median beat for the P
    correlation (or None-like empty array to skip); ``p_ref_amp``: median-beat projected P
    amplitude (0 to skip the amplitude test).
    """
    n_leads, L = x.shape
    ev = np.full(N_EV, np.nan)
    lo, hi = _span(x, good, F)
    if hi - lo < ms(200.0, fs):
        return ev
    k = max(1, ms(BEAT_DIFF_MS, fs))
    hv = ms(BEAT_VEL_SMOOTH_MS, fs) | 1
    # the velocity is only needed where slope_bounds looks (QRS limits + smoothing)
    va = max(lo + k, F - ms(QRS_MAX_PRE_MS, fs) - hv)
    vb = min(hi - k, F + ms(QRS_MAX_POST_MS, fs) + hv)
    v = np.zeros(L)
    for i in range(va, vb):
        s = 0.0
        for l in range(n_leads):
            if good[l]:
                d = x[l, i + k] - x[l, i - k]
                s += d * d
        v[i] = np.sqrt(s)
    vs = np.zeros(L)
    moving_average(v, hv, vs)
    on, off, pk, vmax = slope_bounds(vs, F, lo, hi, fs, QRS_ON_FRAC, QRS_OFF_FRAC, True)
    if on < 0:
        return ev
    ev[EV_QRS_ON] = on
    ev[EV_QRS_OFF] = off
    # T end on the projected T lead, computed from the PR level to the T search limit
    tl = min(hi - 1, t_lim)
    ht = ms(BEAT_T_SMOOTH_MS, fs) | 1
    ta = max(lo, min(on - ms(PR_LEVEL_MS, fs), off - 1) - ht)
    tb = min(hi, tl + 2 + ht)
    proj = np.zeros(L)
    pt = np.zeros(L)
    if tb - ta > 2:
        _project(x, wt, ta, tb, proj)
        moving_average(proj[ta:tb], ht, pt[ta:tb])
        base = level(pt, max(lo, on - ms(PR_LEVEL_MS, fs)), on - 1)
        if not np.isnan(base):
            ton, tpk, tend, tamp, pol = t_wave(pt, base, off, tl, fs)
            if tend >= 0:
                ev[EV_T_END] = tend
    # P on the projected P lead
    ev[EV_P_OK] = 0.0
    if p_on >= 0:
        a = max(lo, p_on - ms(BEAT_P_MARGIN_MS, fs))
        b = min(on - 1, p_off + ms(BEAT_P_MARGIN_MS, fs))
        if b - a > ms(40.0, fs):
            hp = ms(BEAT_P_SMOOTH_MS, fs) | 1
            pa_ = max(lo, min(a, on - ms(PR_LEVEL_MS, fs)) - hp)
            pb_ = min(hi, on + hp)
            _project(x, wp, pa_, pb_, proj)
            pp = np.zeros(L)
            moving_average(proj[pa_:pb_], hp, pp[pa_:pb_])
            pb = level(pp, max(lo, on - ms(PR_LEVEL_MS, fs)), on - 1)
            for i in range(a, b):
                pp[i] -= pb
            ppk = largest_interior_max(pp, a, b)
            if ppk >= 0:
                pon, poff, pamp = magnitude_bounds(pp, ppk, a, b, P_BEAT_FRAC, P_BEAT_FRAC)
                amp_ok = p_ref_amp <= 0.0 or pp[ppk] >= P_BEAT_AMP_FRAC * p_ref_amp
                r = 1.0
                if tmpl_p.shape[0] == n_leads:
                    r = _corr_window(x, tmpl_p, good, wp, p_on, p_off)
                if amp_ok and r >= P_BEAT_CORR_MIN:
                    ev[EV_P_ON] = pon
                    ev[EV_P_OFF] = poff
                    ev[EV_P_OK] = 1.0
                    ev[EV_P_AMP] = pp[ppk]
    return ev


@njit(cache=True)
def _corr_window(x, t, good, wp, a, b):
    """Pearson r between x and t over leads with P weight and samples [a, b]."""
    n_leads = x.shape[0]
    n = 0
    for l in range(n_leads):
        if not good[l] or wp[l] == 0.0:
            continue
        for i in range(a, b + 1):
            if np.isnan(x[l, i]) or np.isnan(t[l, i]):
                return -1.0
            n += 1
    if n < 3:
        return -1.0
    num = 0.0
    dx = 0.0
    dt = 0.0
    for l in range(n_leads):
        if not good[l] or wp[l] == 0.0:
            continue
        # remove each lead's own mean so lead offsets do not create correlation
        lx = 0.0
        lt = 0.0
        for i in range(a, b + 1):
            lx += x[l, i]
            lt += t[l, i]
        lx /= b - a + 1
        lt /= b - a + 1
        for i in range(a, b + 1):
            u = x[l, i] - lx
            w = t[l, i] - lt
            num += u * w
            dx += u * u
            dt += w * w
    if dx <= 0.0 or dt <= 0.0:
        return -1.0
    return num / np.sqrt(dx * dt)


@njit(cache=True)
def iqr_n(v):
    """Interquartile range and count of the finite values of ``v``."""
    m = 0
    w = np.empty(v.shape[0])
    for i in range(v.shape[0]):
        if not np.isnan(v[i]):
            w[m] = v[i]
            m += 1
    if m == 0:
        return np.nan, 0
    w = np.sort(w[:m])
    if m == 1:
        return 0.0, 1
    return np.percentile(w, 75.0) - np.percentile(w, 25.0), m


@njit(cache=True)
def nan_median(v):
    """Median of the finite values of ``v`` (NaN when there are none)."""
    w = v[~np.isnan(v)]
    return np.median(w) if w.shape[0] else np.nan
