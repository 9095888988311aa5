"""QRS (R-peak) detection on a combined multi-lead slope signal.

Follows the structure of Pan & Tompkins (1985): band-limited derivative, rectification,
moving-window integration, adaptive threshold with refractory period and search-back, with
the two-level block threshold of Elgendi (2013) simplified to a robust record level.  The
derivative is the difference ``x[t+k] - x[t-k]`` with ``k = 10 ms`` (a band-pass peaking at
25 Hz with a null at 0 and 50 Hz), summed in absolute value over the usable leads, so one
noisy or missing lead cannot hide the beats.  Fiducials are then refined by
cross-correlation with the median slope template (beat alignment).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .filter import moving_average

#: Half span of the detection derivative (ms): x[t+k] - x[t-k].
DERIV_HALFSPAN_MS = 10.0
#: Moving-window integration width (ms), Pan & Tompkins.
INTEGRATION_MS = 80.0
#: Light smoothing of the slope signal used for alignment (ms).
ALIGN_SMOOTH_MS = 10.0
#: Record level = this quantile of the per-block maxima of the integrated signal ...
LEVEL_BLOCK_MS = 1000.0
LEVEL_QUANTILE = 0.7
#: ... and candidates must exceed this fraction of it.
THRESHOLD_FRAC = 0.3
#: Refractory period (ms): two beats closer than this keep the larger.
REFRACTORY_MS = 250.0
#: Search-back: a gap longer than this many median RR is searched again ...
SEARCHBACK_RR = 1.6
#: ... with this fraction of the threshold.
SEARCHBACK_FRAC = 0.5
#: T-wave rejection (Pan & Tompkins): a candidate within this of the previous beat (ms) ...
#: (Pan & Tompkins use 360 ms; the tall T waves of ventricular pacing peak in slope ~380 ms
#: after the paced QRS and doubled the rate of LUDB record 74; a real beat that early keeps
#: a comparable slope and is not rejected)
T_WAVE_WINDOW_MS = 420.0
#: ... whose integrated slope is below this fraction of the previous beat's is a T wave.
T_WAVE_SLOPE_FRAC = 0.6
#: Alignment: maximum shift (ms) and half-width of the correlation window (ms).
ALIGN_MAX_SHIFT_MS = 30.0
ALIGN_HALF_WINDOW_MS = 100.0


@njit(cache=True)
def slope_signals(sig, good, fs, e, es, ea):
    """Combined rectified slope ``e``, its integration ``es`` and light smoothing ``ea``."""
    n_leads, n = sig.shape
    k = max(1, int(round(DERIV_HALFSPAN_MS * fs / 1000.0)))
    for i in range(n):
        e[i] = 0.0
    for l in range(n_leads):
        if not good[l]:
            continue
        for i in range(k, n - k):
            e[i] += abs(sig[l, i + k] - sig[l, i - k])
    w = int(INTEGRATION_MS * fs / 1000.0) | 1
    moving_average(e, w, es)
    w2 = int(ALIGN_SMOOTH_MS * fs / 1000.0) | 1
    moving_average(e, w2, ea)


@njit(cache=True)
def _quantile_small(v, q):
    s = np.sort(v)
    if s.shape[0] == 0:
        return np.nan
    pos = q * (s.shape[0] - 1)
    i = int(pos)
    j = min(i + 1, s.shape[0] - 1)
    f = pos - i
    return s[i] * (1.0 - f) + s[j] * f


@njit(cache=True)
def _peaks_above(es, thr, lo, hi, refractory):
    """Argmax of each run of ``es > thr`` in [lo, hi), merged under the refractory period."""
    n_max = (hi - lo) // 2 + 1
    pk = np.empty(n_max, dtype=np.int64)
    m = 0
    i = lo
    while i < hi:
        if es[i] > thr:
            best = i
            while i < hi and es[i] > thr:
                if es[i] > es[best]:
                    best = i
                i += 1
            if best == 0 or best == es.shape[0] - 1:
                continue  # a run cut by the record edge: truncated beat or filter transient
            if m > 0 and best - pk[m - 1] < refractory:
                if es[best] > es[pk[m - 1]]:
                    pk[m - 1] = best
            else:
                pk[m] = best
                m += 1
        else:
            i += 1
    return pk[:m]


@njit(cache=True)
def detect_beats(es, fs):
    """R-peak fiducials (sample indices of the integrated slope maxima).

    Parameters
    ----------
    es : float64 (n,) integrated combined slope signal (:func:`slope_signals`).
    fs : sampling rate, Hz.

    Returns
    -------
    int64 (n_beats,) sorted fiducial indices.
    """
    n = es.shape[0]
    blk = int(LEVEL_BLOCK_MS * fs / 1000.0)
    nb = max(1, n // blk)
    mx = np.empty(nb)
    for b in range(nb):
        a = b * blk
        c = n if b == nb - 1 else a + blk
        m = 0.0
        for i in range(a, c):
            if es[i] > m:
                m = es[i]
        mx[b] = m
    level = _quantile_small(mx, LEVEL_QUANTILE)
    if not level > 0.0:
        return np.empty(0, dtype=np.int64)
    thr = THRESHOLD_FRAC * level
    refr = int(REFRACTORY_MS * fs / 1000.0)
    pk = reject_t_waves(es, _peaks_above(es, thr, 0, n, refr), fs)
    if pk.shape[0] < 3:
        return pk
    # search back in long gaps with a lower threshold
    rr = np.diff(pk)
    med = np.median(rr.astype(np.float64))
    extra = np.empty(n // max(refr, 1) + 2, dtype=np.int64)
    ne = 0
    bounds_lo = np.empty(pk.shape[0] + 1, dtype=np.int64)
    bounds_hi = np.empty(pk.shape[0] + 1, dtype=np.int64)
    nbd = 0
    # gaps between beats, and the record edges
    if pk[0] > SEARCHBACK_RR * med:
        bounds_lo[nbd] = 0
        bounds_hi[nbd] = pk[0] - refr
        nbd += 1
    for j in range(rr.shape[0]):
        if rr[j] > SEARCHBACK_RR * med:
            bounds_lo[nbd] = pk[j] + refr
            bounds_hi[nbd] = pk[j + 1] - refr
            nbd += 1
    if n - pk[-1] > SEARCHBACK_RR * med:
        bounds_lo[nbd] = pk[-1] + refr
        bounds_hi[nbd] = n
        nbd += 1
    for g in range(nbd):
        if bounds_hi[g] - bounds_lo[g] < 2:
            continue
        sub = _peaks_above(es, SEARCHBACK_FRAC * thr, bounds_lo[g], bounds_hi[g], refr)
        for s in range(sub.shape[0]):
            if ne < extra.shape[0]:
                extra[ne] = sub[s]
                ne += 1
    if ne == 0:
        return pk
    allp = np.concatenate((pk, extra[:ne]))
    allp.sort()
    # re-apply the refractory period after merging
    keep = np.empty(allp.shape[0], dtype=np.int64)
    m = 0
    for i in range(allp.shape[0]):
        if m > 0 and allp[i] - keep[m - 1] < refr:
            if es[allp[i]] > es[keep[m - 1]]:
                keep[m - 1] = allp[i]
        else:
            keep[m] = allp[i]
            m += 1
    return reject_t_waves(es, keep[:m], fs)


@njit(cache=True)
def reject_t_waves(es, pk, fs):
    """Drop candidates that follow a beat closely with a much smaller slope (T waves)."""
    win = int(T_WAVE_WINDOW_MS * fs / 1000.0)
    keep = np.empty(pk.shape[0], dtype=np.int64)
    m = 0
    for i in range(pk.shape[0]):
        if m > 0 and pk[i] - keep[m - 1] < win:
            a = es[pk[i]]
            b = es[keep[m - 1]]
            if a < T_WAVE_SLOPE_FRAC * b:
                continue
            if b < T_WAVE_SLOPE_FRAC * a:
                keep[m - 1] = pk[i]
                continue
        keep[m] = pk[i]
        m += 1
    return keep[:m]


@njit(cache=True)
def align_beats(ea, pk, fs):
    """Refine fiducials by cross-correlation of the slope signal with its median template.

    Each beat is shifted by the lag (within +-ALIGN_MAX_SHIFT_MS) maximising the
    correlation of ``ea`` around it with the median of ``ea`` around all fiducials.
    Returns the refined fiducials and the best correlation per beat (for ectopy screening).
    """
    n = ea.shape[0]
    nbeat = pk.shape[0]
    h = int(ALIGN_HALF_WINDOW_MS * fs / 1000.0)
    s = int(ALIGN_MAX_SHIFT_MS * fs / 1000.0)
    w = 2 * h + 1
    out = pk.copy()
    corr = np.zeros(nbeat)
    if nbeat == 0:
        return out, corr
    seg = np.full((nbeat, w), np.nan)
    for b in range(nbeat):
        for j in range(w):
            t = pk[b] - h + j
            if 0 <= t < n:
                seg[b, j] = ea[t]
    tmpl = np.empty(w)
    col = np.empty(nbeat)
    for j in range(w):
        m = 0
        for b in range(nbeat):
            if not np.isnan(seg[b, j]):
                col[m] = seg[b, j]
                m += 1
        tmpl[j] = np.median(col[:m]) if m > 0 else 0.0
    tm = tmpl.mean()
    tn = 0.0
    for j in range(w):
        tn += (tmpl[j] - tm) ** 2
    tn = np.sqrt(tn)
    for b in range(nbeat):
        best = -2.0
        best_lag = 0
        for lag in range(-s, s + 1):
            a = pk[b] + lag - h
            if a < 0 or a + w > n:
                continue
            sm = 0.0
            for j in range(w):
                sm += ea[a + j]
            sm /= w
            num = 0.0
            den = 0.0
            for j in range(w):
                d = ea[a + j] - sm
                num += d * (tmpl[j] - tm)
                den += d * d
            c = num / (np.sqrt(den) * tn + 1e-12)
            if c > best:
                best = c
                best_lag = lag
        out[b] = pk[b] + best_lag
        corr[b] = best
    return out, corr
