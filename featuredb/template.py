"""Beat alignment and the representative (median) beat of each lead.

Beats are cut around their aligned fiducial, baseline-corrected by linear interpolation
between beat knots placed in the PR segment (the knot method of Meyer & Keiser 1977,
linear instead of cubic), screened for ectopy by their slope-template correlation, and
combined sample by sample with the median (IEC 60601-2-25 "representative beat").  Samples
that would reach into the neighbouring QRS complexes are left out of the median, so short
RR intervals truncate a beat instead of contaminating it.  The across-beat spread gives a
noise estimate per lead (robust SD from the interquartile range).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Window of the median beat around the fiducial (ms).
PRE_MS = 350.0
POST_MS = 650.0
#: Beat knots: baseline level measured this long before the fiducial (ms), averaged over
#: KNOT_HALF_MS either side.
KNOT_MS = 100.0
KNOT_HALF_MS = 8.0
#: A beat sample is used only if it lies this far past the previous fiducial (ms) ...
PREV_GUARD_MS = 120.0
#: ... and this far before the next fiducial (ms).
NEXT_GUARD_MS = 90.0
#: Beats whose slope-template correlation is below this are treated as ectopic/noisy ...
ECTOPIC_CORR_MIN = 0.8
#: ... unless that would leave fewer than this fraction of the beats.
MIN_KEEP_FRAC = 0.5
#: At most this many beats enter the median (the first ones, in time order).
MAX_BEATS = 24
#: Noise estimate: samples within this distance of the fiducial are left out (ms).
NOISE_EXCLUDE_MS = 80.0
#: At least this many beats are needed for a noise estimate.
NOISE_MIN_BEATS = 4


@njit(cache=True)
def window_len(fs):
    pre = int(round(PRE_MS * fs / 1000.0))
    post = int(round(POST_MS * fs / 1000.0))
    return pre, pre + post + 1


@njit(cache=True)
def select_beats(fid, corr):
    """Indices of the beats entering the median: the dominant morphology."""
    nb = fid.shape[0]
    sel = np.empty(nb, dtype=np.int64)
    m = 0
    for b in range(nb):
        if corr[b] >= ECTOPIC_CORR_MIN:
            sel[m] = b
            m += 1
    if m < MIN_KEEP_FRAC * nb:
        m = 0
        for b in range(nb):
            sel[m] = b
            m += 1
    return sel[: min(m, MAX_BEATS)]


@njit(cache=True)
def _baseline(x, fid, fs, out):
    """Linear interpolation between PR-segment knots of all beats (constant at the ends)."""
    n = x.shape[0]
    nb = fid.shape[0]
    ko = int(round(KNOT_MS * fs / 1000.0))
    kh = max(1, int(round(KNOT_HALF_MS * fs / 1000.0)))
    kt = np.empty(nb, dtype=np.int64)
    kv = np.empty(nb)
    m = 0
    for b in range(nb):
        c = fid[b] - ko
        a = max(0, c - kh)
        e = min(n, c + kh + 1)
        if e - a < 1 or c < 0:
            continue
        s = 0.0
        for i in range(a, e):
            s += x[i]
        kt[m] = c
        kv[m] = s / (e - a)
        m += 1
    if m == 0:
        mean = x.mean()
        for i in range(n):
            out[i] = mean
        return
    for i in range(0, min(n, kt[0] + 1)):
        out[i] = kv[0]
    for j in range(m - 1):
        a = kt[j]
        e = kt[j + 1]
        d = e - a
        for i in range(a, e):
            out[i] = kv[j] + (kv[j + 1] - kv[j]) * (i - a) / d
    for i in range(kt[m - 1], n):
        out[i] = kv[m - 1]


@njit(cache=True)
def gather_beats(sig, good, fid, sel, fs):
    """Baseline-corrected beats (n_sel, n_leads, L), NaN where a beat does not reach.

    ``fid`` are all fiducials (neighbours bound each beat); ``sel`` the beats to cut.
    """
    n_leads, n = sig.shape
    pre, L = window_len(fs)
    ns = sel.shape[0]
    g = np.full((ns, n_leads, L), np.nan)
    pg = int(round(PREV_GUARD_MS * fs / 1000.0))
    ng = int(round(NEXT_GUARD_MS * fs / 1000.0))
    nb = fid.shape[0]
    base = np.empty(n)
    for l in range(n_leads):
        if not good[l]:
            continue
        _baseline(sig[l], fid, fs, base)
        for s in range(ns):
            b = sel[s]
            lo = fid[b] - pre
            hi = fid[b] - pre + L
            if lo < 0:
                lo = 0
            if hi > n:
                hi = n
            if b > 0 and lo < fid[b - 1] + pg:
                lo = fid[b - 1] + pg
            if b < nb - 1 and hi > fid[b + 1] - ng:
                hi = fid[b + 1] - ng
            off = fid[b] - pre
            for t in range(lo, hi):
                g[s, l, t - off] = sig[l, t] - base[t]
    return g


@njit(cache=True)
def median_beats(g, good, fs):
    """Median beat per lead (n_leads, L), beats per sample (L,), noise SD per lead (mV).

    The noise SD is the mean over the window (QRS excluded) of the across-beat
    interquartile range / 1.349.
    """
    ns, n_leads, L = g.shape
    pre, _ = window_len(fs)
    med = np.full((n_leads, L), np.nan)
    cnt = np.zeros(L, dtype=np.int64)
    noise = np.full(n_leads, np.nan)
    excl = int(round(NOISE_EXCLUDE_MS * fs / 1000.0))
    min_count = max(1, (ns + 2) // 3)
    # per lead, the beats (ns, L) are sorted column-wise by an odd-even transposition
    # network of row compare-exchanges (branch-free, vectorised over the samples); missing
    # samples sort last as +inf and are left out by the per-sample count
    tb = np.empty((max(ns, 1), L))
    for l in range(n_leads):
        if not good[l]:
            continue
        m_k = np.zeros(L, dtype=np.int64)
        for s in range(ns):
            for k in range(L):
                v = g[s, l, k]
                if np.isnan(v):
                    tb[s, k] = np.inf
                else:
                    tb[s, k] = v
                    m_k[k] += 1
        for rnd in range(ns):
            for s in range(rnd % 2, ns - 1, 2):
                r1 = tb[s]
                r2 = tb[s + 1]
                for k in range(L):
                    u = r1[k]
                    w = r2[k]
                    r1[k] = min(u, w)
                    r2[k] = max(u, w)
        acc = 0.0
        nacc = 0
        for k in range(L):
            m = m_k[k]
            if m > cnt[k]:
                cnt[k] = m
            if m >= min_count:
                if m % 2 == 1:
                    med[l, k] = tb[m // 2, k]
                else:
                    med[l, k] = 0.5 * (tb[m // 2 - 1, k] + tb[m // 2, k])
                if m >= NOISE_MIN_BEATS and abs(k - pre) > excl:
                    q1 = tb[(m - 1) // 4, k]
                    q3 = tb[(3 * (m - 1) + 3) // 4, k]
                    acc += (q3 - q1) / 1.349
                    nacc += 1
        if nacc > 0:
            noise[l] = acc / nacc
    return med, cnt, noise
