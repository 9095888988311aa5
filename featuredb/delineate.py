"""Delineation of the median beat: QRS onset/offset, T peak/end, P onset/peak/offset.

Slope-threshold delineation in the spirit of Laguna et al. (1994) and Martinez et al.
(2004): each boundary is where the wave's slope (or magnitude) decays to a fixed fraction of
its maximum, searched outward from the wave.  Global boundaries follow IEC 60601-2-25: on
the representative beat, the earliest onset and latest offset over the leads, with the
single most extreme lead dropped as a guard against one outlying lead.

* QRS: spatial velocity (L2 norm over the usable leads of the first derivative of the 40 Hz
  median beat), onset/offset where it falls to a fraction of its QRS maximum (Laguna
  1994's "Kon/Koff" rule on a multi-lead detector, which equals the earliest/latest lead
  activity without one lead's noise deciding).  The filter smears a sharp QRS edge outward
  (up to 14 ms at 60 Hz, 22 ms at 40 Hz, ringing included), so each global boundary is then
  moved inward onto the unfiltered beat over at most that spread, while that beat stays
  below the same threshold (:func:`refine_boundary`); a gradual edge, where both beats cross
  together, keeps it.  A lead's own QRS is searched inward from the global bounds on the
  lead's own slope (:func:`lead_qrs`).
* T end: trapezium-area method (Vázquez-Seisdedos et al. 2011, the area idea of Zhang et al.
  2006), on each lead with a T wave of meaningful amplitude, latest lead with guard.
* P: spatial magnitude of the 20 Hz median beat relative to the PR level, onset/offset at
  a fraction of the P maximum; per-lead P on the same rule, kept inside the global P.  A P
  wave that is not clearly there (atrial fibrillation) is reported absent, never invented.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --- QRS -------------------------------------------------------------------------------
#: Search for the QRS slope maximum within +-this of the fiducial (ms).
QRS_PEAK_SEARCH_MS = 60.0
#: The QRS extends at most this far before / after the fiducial (ms).
QRS_MAX_PRE_MS = 150.0
QRS_MAX_POST_MS = 160.0
#: Core of the QRS: samples whose slope exceeds this fraction of the maximum ...  The terminal
#: delay of a bundle branch block (the late R' in V1, the slurred S in I and V6) is a second
#: hump of the spatial velocity after the main deflections: PTB-XL 00287's (CLBBB by statement,
#: a class too small to halve, read on the whole sample; a check-half record) reaches 12.4 % and
#: dipped to 6 % before it, so at 0.15 the global QRS ended in the dip, 116 ms against the
#: tracing's ~170 (160 ms at 0.14).  No LUDB record moves between 0.15 and 0.14; at 0.13 and
#: below LUDB's biventricular-paced record 93 reads 10 ms longer (check-half SD 9.6 -> 9.7 ms).
QRS_CORE_FRAC = 0.14
#: ... reached from the maximum without a stretch longer than this below it (ms).  The QRS's
#: own slope dips (a notch, the apex of a deflection, the junction of two) are far shorter; a
#: slope above the core fraction after a longer quiet stretch belongs to the next wave: the
#: steep T wave of a short QT inside QRS_MAX_POST_MS (a synthetic sinus tachycardia's T
#: wave, 16 % of the QRS slope maximum, put its QRS offset at that limit, 123 ms late).  On
#: LUDB no global boundary moves for any gap from 30 to 60 ms (one at 20 ms).
QRS_CORE_MAX_GAP_MS = 40.0
#: Onset / offset: slope falls below this fraction of the QRS slope maximum: one beat's QRS
#: (featuredb.beats), and a lead's own QRS (:func:`lead_qrs`: searched inward from the global
#: bounds, which by IEC 60601-2-25 span every lead's).  Against LUDB's per-lead marks (median
#: over the beats; tuning / check half) the inward search reads each lead -0.6 / 14.4 and
#: +1.2 / 17.0 ms and the median lead -0.1 / 9.4 and +2.4 / 12.6 ms; the former outward
#: search from each lead's own slope peak read -8.7 / 19.5 and -4.8 / 23.2 ms (the median lead
#: -8.9 / 8.8 and -5.0 / 12.3): it stopped at the slow return of an S wave (V5, V6 -16 ms)
#: and ran past the global bounds in 186 of PTB-XL's 300 records.
QRS_ON_FRAC = 0.02
QRS_OFF_FRAC = 0.035
#: Global QRS on the median beat's spatial velocity: onset / offset where it falls to its
#: noise floor (a low quantile / the median of the slope between the QRS search limit and the
#: QRS core, on each side) plus this fraction of the rise above it.  LUDB's cardiologists
#: mark the QRS where the spatial velocity is within ~1 % of its peak; the floor keeps
#: fibrillatory or paced baselines from dragging the boundaries outward.  The onset is read
#: on the 60 Hz beat (``filter.QRS_ONSET_LOWPASS_HZ``), the offset on the 40 Hz beat, and
#: both are then refined on the unfiltered beat (:func:`refine_boundary`, no constant of its
#: own: the same fractions, the filters' ``filter.slope_step_spread``).  Without that step a
#: sharp edge reads early / late by the filter's response: the parametric generator's QRS
#: (sources/synthetic.py, edges that reach half the QRS slope maximum within 4 ms) read
#: 10-28 ms long, onset 6-11 ms early on the 60 Hz beat (its ringing lobe 5-6 samples ahead
#: of the edge exceeds 1 %), offset 8-17 ms late on the 40 Hz beat; refined, +6 ms (the
#: central difference's and the last-quiet-sample convention's one sample at each end).
#: LUDB's gradual edges barely move (QRS -6.3 / 9.6 -> -6.7 / 9.3 ms against the
#: cardiologists; P, PR, QT and the PTB-XL protocol bench unchanged).
#: :func:`refine_boundary` moves a boundary by at least this many samples or not at all: the
#: central-difference slope spans one sample either side, so a one-sample move is within its
#: own resolution (on LUDB such moves came from noise dips of the unfiltered beat).
REFINE_MIN_MOVE = 2
QRS_GLOBAL_ON_FRAC = 0.01
QRS_GLOBAL_OFF_FRAC = 0.0075
#: The onset-side floor is this quantile of the pre-QRS spatial velocity.  The median (0.5)
#: counts the P wave's and the PR segment's own slopes as noise and starts LUDB's QRS late
#: where small initial deflections precede the main rise; the quietest fifth (0.2) on the
#: 60 Hz beat reads LUDB's onsets with less spread (QRS SD 9.95 -> 9.6 ms with 0.5 -> 0.2),
#: while the tests' synthetic QRS stays 10 ms from its truth.  On the 40 Hz beat a low floor
#: puts that QRS 14 ms long (0.1 quantile, 1.5 % or 0.2, 1 %): the filter's tail then counts
#: as QRS.
QRS_ON_FLOOR_QUANTILE = 0.2
#: A lead's own QRS width counts towards the median-lead QRS duration if its slope maximum is
#: at least this fraction of the largest lead's.
QRS_LEAD_MIN_FRAC = 0.15
#: Guard: drop this many most-extreme leads at each end of the global rule.
GUARD_LEADS = 1

# --- T wave ------------------------------------------------------------------------------
#: T peak search starts this long after the QRS offset (ms) ...
T_START_MS = 40.0
#: ... and T end search ends at min(fiducial + T_LIMIT_RR * RR, end of window).
T_LIMIT_RR = 0.72
#: Biphasic T: the smaller lobe is at least this fraction of the larger one ...
T_BIPHASIC_FRAC = 0.3
#: ... and at least this large (mV).
T_MIN_MV = 0.05
#: Flat T: both lobes below this (mV).
T_FLAT_MV = 0.05
#: Trapezium method: steepest-descent point searched within this after the terminal peak,
#: reference point this far after it (ms).
T_DESCENT_SEARCH_MS = 100.0
T_REF_MS = 150.0
#: Global T end: lead T ends later than the median lead by more than this (ms) are outliers
#: (U waves, noise), then the latest remaining lead after the guard is taken.
T_OUTLIER_MS = 50.0
#: T onset: ascending-limb slope falls below this fraction of its maximum.
T_ON_SLOPE_FRAC = 0.2
#: A lead joins the global T end rule if its T amplitude is at least this fraction of the
#: largest lead's.
T_LEAD_MIN_FRAC = 0.3

# --- P wave ------------------------------------------------------------------------------
#: P search window: from max(QRS onset - P_SEARCH_MS, previous T end + P_AFTER_T_MS) to
#: QRS onset - P_END_GUARD_MS (ms).
P_SEARCH_MS = 320.0
P_AFTER_T_MS = 40.0
P_END_GUARD_MS = 6.0
#: PR level: mean of the beat over [QRS onset - PR_LEVEL_MS, QRS onset - 2 ms] (ms).
PR_LEVEL_MS = 14.0
#: P onset / offset: spatial magnitude falls below this fraction of its maximum.  The
#: atrial repolarisation tail makes the offset shallower than the onset, hence the lower
#: offset fraction (on LUDB 15 %/15 % read P 18 ms short; 12 %/5 % is within 4 ms, lower
#: onset fractions start to pick up noise: the PR SD grows).
P_ON_FRAC = 0.12
P_OFF_FRAC = 0.05
#: A lead's own P duration: the same search on the lead's P magnitude, with its own fractions.
#: One lead has no spatial sum to carry the atrial repolarisation tail: against LUDB's lead-II
#: marks the global 12 %/5 % read lead II 7 ms long (tuning half +7.2/11.3 ms, check half
#: +5.5/13.7), 12 %/12 % reads -1.7/10.0 and -1.9/13.3, and -2.9/11.3 and -2.9/13.6 once kept
#: inside the global P (featuredb.extract; bench/featuredb_accuracy.py).
P_LEAD_ON_FRAC = 0.12
P_LEAD_OFF_FRAC = 0.12
#: A wave ends early at a local minimum of its magnitude only below this fraction of its rise
#: (a plateau of another origin), never at the notch of a bifid P wave.
P_KNEE_FRAC = 0.3
#: P present on the median beat: spatial P magnitude above floor by this much (mV).
P_MIN_MV = 0.04
#: Per-lead P: amplitude below this (mV) leaves the lead's P duration unmeasured.
P_LEAD_MIN_MV = 0.03
#: A P wave lasts at least / at most this long (ms).
P_MIN_DUR_MS = 40.0
P_MAX_DUR_MS = 200.0

# T polarity codes (lead_features.t_polarity)
T_POSITIVE, T_NEGATIVE, T_BIPHASIC, T_FLAT = 0, 1, 2, 3  # indices of schemas.ecg.T_POLARITIES


@njit(cache=True)
def ms(v, fs):
    """Milliseconds to samples (rounded)."""
    return int(round(v * fs / 1000.0))


@njit(cache=True)
def abs_slope(y, lo, hi, out):
    """``|y[k+1] - y[k-1]| / 2`` on [lo+1, hi-1), zero at the ends."""
    for k in range(lo, hi):
        out[k] = 0.0
    for k in range(lo + 1, hi - 1):
        out[k] = abs(y[k + 1] - y[k - 1]) * 0.5


@njit(cache=True)
def _median_range(v, a, b):
    return np.median(v[a:b])


@njit(cache=True)
def _quantile_range(v, a, b, q):
    """Quantile ``q`` of ``v[a:b]`` (linear interpolation, as ``np.quantile``)."""
    s = np.sort(v[a:b])
    x = q * (s.shape[0] - 1)
    i = int(x)
    if i >= s.shape[0] - 1:
        return s[s.shape[0] - 1]
    return s[i] + (x - i) * (s[i + 1] - s[i])


@njit(cache=True)
def qrs_core(v, F, lo, hi, fs):
    """Peak and core of a QRS slope curve ``v`` around fiducial ``F``.

    The peak is the maximum within +-QRS_PEAK_SEARCH_MS; the core spans the samples above
    QRS_CORE_FRAC of it within the QRS limits that are reached from the peak without
    crossing more than QRS_CORE_MAX_GAP_MS below that fraction.  Returns the peak (-1 if none), the maximum, the QRS limits [a2, b2) and
    the first and last core samples.
    """
    a = max(lo + 1, F - ms(QRS_PEAK_SEARCH_MS, fs))
    b = min(hi - 1, F + ms(QRS_PEAK_SEARCH_MS, fs) + 1)
    if b <= a:
        return -1, 0.0, 0, 0, -1, -1
    pk = a
    for k in range(a, b):
        if v[k] > v[pk]:
            pk = k
    vmax = v[pk]
    if not vmax > 0.0:
        return -1, 0.0, 0, 0, -1, -1
    a2 = max(lo + 1, F - ms(QRS_MAX_PRE_MS, fs))
    b2 = min(hi - 1, F + ms(QRS_MAX_POST_MS, fs))
    core = QRS_CORE_FRAC * vmax
    gap = ms(QRS_CORE_MAX_GAP_MS, fs)
    first = pk
    k = pk - 1
    while k >= a2 and first - k <= gap:
        if v[k] >= core:
            first = k
        k -= 1
    last = pk
    k = pk + 1
    while k < b2 and k - last <= gap:
        if v[k] >= core:
            last = k
        k += 1
    return pk, vmax, a2, b2, first, last


@njit(cache=True)
def slope_bounds(v, F, lo, hi, fs, frac_on, frac_off, noise_floor=False, min_on=-1):
    """Onset, offset, peak and maximum of a slope curve ``v`` around fiducial ``F``.

    The peak and the QRS core are those of :func:`qrs_core`; onset/offset are
    where ``v`` falls below its noise floor (with ``noise_floor``: the median slope between
    the search limit and the QRS core on that side, for single noisy beats; on the onset
    side its QRS_ON_FLOOR_QUANTILE quantile; else 0) plus ``frac_on``/``frac_off`` of the
    rise above it, searched outward.  The onset is not placed before ``min_on`` (the end
    of a ventricular pacing stimulus, :mod:`featuredb.pacing`; -1: no bound).
    """
    pk, vmax, a2, b2, first, last = qrs_core(v, F, lo, hi, fs)
    if pk < 0:
        return -1, -1, -1, 0.0
    # noise floor on each side: median slope between the QRS limit and the QRS core
    f_on = 0.0
    f_off = 0.0
    if noise_floor:
        f_on = _quantile_range(v, a2, first, QRS_ON_FLOOR_QUANTILE) if first > a2 else 0.0
        f_off = _median_range(v, last + 1, b2) if b2 > last + 1 else 0.0
    thr_on = f_on + frac_on * (vmax - f_on)
    on = first
    while on > a2 and v[on] > thr_on:
        on -= 1
    if on < min_on:
        on = min(min_on, pk)
    thr_off = f_off + frac_off * (vmax - f_off)
    off = last
    while off < b2 - 1 and v[off] > thr_off:
        off += 1
    return on, off, pk, vmax


@njit(cache=True)
def lead_qrs(v, qon, qoff, frac_on, frac_off):
    """One lead's QRS inside the global one [``qon``, ``qoff``]: its onset is the first sample
    from ``qon`` on, its offset the last up to ``qoff``, where the lead's slope ``v`` exceeds
    ``frac_on`` / ``frac_off`` of its maximum over the global QRS.  Returns onset, offset and
    that maximum ((-1, -1, 0) for a lead without slope)."""
    vmax = 0.0
    for k in range(qon, qoff + 1):
        vmax = max(vmax, v[k])
    if not vmax > 0.0:
        return -1, -1, 0.0
    on = qon
    while v[on] <= frac_on * vmax:
        on += 1
    off = qoff
    while v[off] <= frac_off * vmax:
        off -= 1
    return on, off, vmax


@njit(cache=True)
def refine_boundary(raw, v, bound, F, lo, hi, fs, frac, spread, onset):
    """Move a global QRS boundary read on the filtered slope ``v`` inward onto ``raw``.

    ``v``: spatial velocity of the low-passed beat the boundary ``bound`` was found on
    (:func:`slope_bounds` with the noise floor and ``frac``); ``raw``: that of the unfiltered
    (pacing-blanked) median beat.  The filter smears a sharp QRS edge outward by up to
    ``spread`` samples (:func:`filter.slope_step_spread`), so a filtered boundary may sit on
    the filter's own response where the unfiltered beat is still flat.  From ``bound``, the
    boundary moves towards the QRS core, at most ``spread`` samples, as long as the next
    sample's unfiltered velocity is at or below the unfiltered beat's noise floor (taken as in
    :func:`slope_bounds`: QRS_ON_FLOOR_QUANTILE before the core, the median after it) plus
    ``frac`` of the filtered QRS rise, i.e. the same threshold over the unfiltered noise.  A
    gradual edge is where both beats cross the threshold together: the boundary stays (a move
    shorter than REFINE_MIN_MOVE is not made).
    ``onset``: True for the onset (moves later), False for the offset (moves earlier).
    """
    pk, vmax, a2, b2, first, last = qrs_core(v, F, lo, hi, fs)
    if pk < 0 or bound < 0:
        return bound
    k = bound
    if onset:
        if first <= a2:
            return bound
        f_v = _quantile_range(v, a2, first, QRS_ON_FLOOR_QUANTILE)
        f_r = _quantile_range(raw, a2, first, QRS_ON_FLOOR_QUANTILE)
        thr = f_r + frac * (vmax - f_v)
        lim = min(bound + spread, first)
        while k < lim and raw[k + 1] <= thr:
            k += 1
        if k - bound < REFINE_MIN_MOVE:
            return bound
    else:
        if b2 <= last + 1:
            return bound
        f_v = _median_range(v, last + 1, b2)
        f_r = _median_range(raw, last + 1, b2)
        thr = f_r + frac * (vmax - f_v)
        lim = max(bound - spread, last)
        while k > lim and raw[k - 1] <= thr:
            k -= 1
        if bound - k < REFINE_MIN_MOVE:
            return bound
    return k


@njit(cache=True)
def spatial_velocity(y, good, lo, hi, out):
    """L2 norm over the good leads of ``(y[k+1] - y[k-1]) / 2`` on [lo+1, hi-1)."""
    for k in range(lo, hi):
        out[k] = 0.0
    for k in range(lo + 1, hi - 1):
        s = 0.0
        for l in range(y.shape[0]):
            if good[l]:
                d = 0.5 * (y[l, k + 1] - y[l, k - 1])
                s += d * d
        out[k] = np.sqrt(s)


@njit(cache=True)
def latest_t_end(ends, n, fs):
    """Global T end: drop leads later than the median by T_OUTLIER_MS, then guard."""
    if n == 0:
        return -1
    s = np.sort(ends[:n])
    med = s[(n - 1) // 2]
    lim = med + ms(T_OUTLIER_MS, fs)
    m = 0
    for i in range(n):
        if s[i] <= lim:
            m = i + 1
    return guarded_extreme(s, m, True, GUARD_LEADS)


@njit(cache=True)
def guarded_extreme(vals, n, latest, guard):
    """Earliest (``latest=False``) or latest value after dropping ``guard`` extreme ones."""
    if n == 0:
        return -1
    s = np.sort(vals[:n])
    g = guard if n > guard + 1 else 0
    if latest:
        return s[n - 1 - g]
    return s[g]


#: PR (isoelectric) level: the flattest ISO_WIN_MS window within ISO_SEARCH_MS before the
#: QRS onset (least summed absolute slope over the leads).
ISO_SEARCH_MS = 50.0
ISO_WIN_MS = 10.0


@njit(cache=True)
def iso_window(y, good, qon, lo, fs):
    """Start and end of the flattest window before the QRS onset (the PR segment)."""
    w = max(2, ms(ISO_WIN_MS, fs))
    a0 = max(lo + 1, qon - ms(ISO_SEARCH_MS, fs))
    best = np.inf
    ba = max(lo, qon - w)
    for a in range(a0, qon - w + 1):
        s = 0.0
        for l in range(y.shape[0]):
            if good[l]:
                for k in range(a, a + w):
                    s += abs(y[l, k + 1] - y[l, k - 1])
        if s < best:
            best = s
            ba = a
    return ba, ba + w


@njit(cache=True)
def level(y, a, b):
    """Mean of ``y[a:b]`` (NaN if empty)."""
    if b <= a:
        return np.nan
    s = 0.0
    for k in range(a, b):
        s += y[k]
    return s / (b - a)


@njit(cache=True)
def t_wave(y, base, qrs_off, tlim, fs, descent_ms=T_DESCENT_SEARCH_MS, ref_ms=T_REF_MS):
    """T wave of one lead (Vázquez-Seisdedos 2011 trapezium T end).

    Returns
    -------
    t_on, t_peak, t_end : int sample indices (-1 when no T wave).
    amp : float dominant-lobe amplitude relative to ``base`` (mV, signed).
    polarity : int ``T_*`` code.
    """
    a = qrs_off + ms(T_START_MS, fs)
    b = tlim
    if b - a < ms(60.0, fs):
        return -1, -1, -1, np.nan, -1
    ip = -1
    ineg = -1
    vp = 0.0
    vn = 0.0
    for k in range(a + 1, b - 1):
        d = y[k] - base
        # interior local extrema only (a monotone slope at the window edge is not a peak)
        if y[k] >= y[k - 1] and y[k] >= y[k + 1] and d > vp:
            vp = d
            ip = k
        if y[k] <= y[k - 1] and y[k] <= y[k + 1] and d < vn:
            vn = d
            ineg = k
    if ip < 0 and ineg < 0:
        return -1, -1, -1, np.nan, -1
    if abs(vp) >= abs(vn):
        dom, dval, oth, oval = ip, vp, ineg, vn
    else:
        dom, dval, oth, oval = ineg, vn, ip, vp
    polarity = T_POSITIVE if dval > 0 else T_NEGATIVE
    term = dom
    first = dom
    if oth >= 0 and abs(oval) >= T_BIPHASIC_FRAC * abs(dval) and abs(oval) >= T_MIN_MV:
        polarity = T_BIPHASIC
        if oth > dom:
            term = oth
        else:
            first = oth
    if abs(dval) < T_FLAT_MV:
        polarity = T_FLAT
    s = 1.0 if y[term] - base > 0 else -1.0
    # steepest return towards baseline after the terminal peak
    e = min(b - 1, term + ms(descent_ms, fs))
    xm = term
    best = 0.0
    for k in range(term + 1, e):
        d = -s * (y[k + 1] - y[k - 1])
        if d > best:
            best = d
            xm = k
    xr = min(b - 1, xm + ms(ref_ms, fs))
    tend = xm
    amax = -np.inf
    for k in range(xm, xr + 1):
        ar = s * (y[xm] - y[k]) * (2 * xr - k - xm)
        if ar > amax:
            amax = ar
            tend = k
    # T onset: ascending limb slope drops below a fraction of its maximum
    s1 = 1.0 if y[first] - base > 0 else -1.0
    xa = first
    best = 0.0
    for k in range(max(qrs_off + 1, 1), first):
        d = s1 * (y[k + 1] - y[k - 1])
        if d > best:
            best = d
            xa = k
    ton = xa
    while ton > qrs_off and s1 * (y[ton + 1] - y[ton - 1]) > T_ON_SLOPE_FRAC * best:
        ton -= 1
    return ton, dom, tend, dval, polarity


@njit(cache=True)
def magnitude_bounds(s, pk, lo, hi, frac_on, frac_off):
    """Outward search from ``pk`` for where ``s`` drops to floor + frac * (peak - floor), or
    stops falling (a local minimum below P_KNEE_FRAC of the rise), whichever comes first.

    The floor is taken separately on each side of the peak (a wave sitting on a raised
    level on one side, e.g. the end of a T wave before a P wave, keeps a sharp onset); the
    local-minimum stop ends a wave where it meets a plateau of another origin (the atrial
    repolarisation tail of a long PR segment) instead of running through it.
    Returns onset, offset and the amplitude above the higher floor.
    """
    f1 = s[pk]
    for k in range(lo, pk + 1):
        if s[k] < f1:
            f1 = s[k]
    f2 = s[pk]
    for k in range(pk, hi):
        if s[k] < f2:
            f2 = s[k]
    on = pk
    thr = f1 + frac_on * (s[pk] - f1)
    knee = f1 + P_KNEE_FRAC * (s[pk] - f1)
    while on > lo and s[on] > thr and (s[on - 1] <= s[on] or s[on] > knee):
        on -= 1
    off = pk
    thr = f2 + frac_off * (s[pk] - f2)
    knee = f2 + P_KNEE_FRAC * (s[pk] - f2)
    while off < hi - 1 and s[off] > thr and (s[off + 1] <= s[off] or s[off] > knee):
        off += 1
    return on, off, s[pk] - max(f1, f2)


@njit(cache=True)
def largest_interior_max(s, lo, hi):
    """Index of the largest interior local maximum of ``s`` on (lo, hi-1); -1 if none."""
    best = -1
    for k in range(lo + 1, hi - 1):
        if s[k] >= s[k - 1] and s[k] >= s[k + 1]:
            if best < 0 or s[k] > s[best]:
                best = k
    return best
