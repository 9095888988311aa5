"""Pacemaker stimuli, beat by beat, on the unfiltered signal.

A pacing stimulus lasts 0.1-2 ms (the test pulses of IEC 60601-2-27), far shorter than any
cardiac wave: at 500 Hz it is a sample or two whose spatial second difference (the L2 norm
over the usable leads) stands high above the baseline just before it.  A native QRS is
never that abrupt against the baseline before it, though the apex of a narrow one is sharp, so the search
ends before the beat's fiducial.  A stimulus is a pacing site when it recurs at the same
place in a share of the beats; sites are told apart by the delay to the QRS onset that
follows (a ventricular stimulus starts the QRS, an atrial one precedes it by the AV delay).
The stimuli are blanked (linear interpolation across them, all leads) before the median
beat is built, and the QRS onset is searched after a ventricular one: cardiologists start a
paced QRS after the spike (LUDB's marks).  Below PACE_MIN_FS the spike falls between
samples or is smoothed away, and pacing is not measured (NaN, never "not paced").

On the 300 PTB-XL and 100 LUDB records (too few paced ones to halve: 3 and 8, read on the
whole), every paced record has a site in >= 30 % of its beats and no unpaced one does, for
any PACE_QUIET_RATIO from 10 to 40 (at 5, LUDB 39 reads paced; at 80, PTB-XL 00190 is lost)
and PACE_TIMING_TOL_MS from 20 to 50 ms; at PACE_MIN_MV 0.3 with a ratio of 20 or less, LUDB 2
reads paced.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .delineate import ms

#: Pacing is measured at this sampling rate and above (Hz).
PACE_MIN_FS = 400.0
#: A stimulus: the largest spatial second difference in the search window, at least this
#: much (mV; a spike of one or two samples, so the same at 500 and 1000 Hz) ...
PACE_MIN_MV = 0.5
#: ... and at least this many times the median spatial second difference of the
#: PACE_QUIET_MS before it (the roughness of the baseline the spike stands on).
PACE_QUIET_RATIO = 15.0
PACE_QUIET_MS = 20.0
#: Searched from this long before each beat's fiducial ...
PACE_SEARCH_MS = 300.0
#: ... to this long before it (the sharp apex of a narrow native QRS lies at the fiducial;
#: a stimulus just before a narrow QRS lies 15-20 ms before it).
PACE_SEARCH_END_MS = 10.0
#: A site: stimuli within this of one place relative to the fiducial (ms; the fiducial of
#: a fusion beat moves against the stimulus: LUDB 95 spreads over 28 ms) ...
PACE_TIMING_TOL_MS = 30.0
#: ... in at least this share of the beats (LUDB 90, bipolar pacing: 40 %).
PACE_MIN_BEAT_FRAC = 0.3
#: Each stimulus is blanked over +-this (ms).
PACE_BLANK_MS = 6.0
#: A site at least this long before the QRS onset is atrial (the AV delay of dual-chamber
#: pacing is programmed at 100-250 ms; a ventricular stimulus starts the QRS at once), and
#: two stimuli of one beat are two sites when at least this far apart.
PACE_AV_MIN_MS = 80.0
#: Sites reported per record: atrial and ventricular.
MAX_SITES = 2
NONE = -(1 << 30)


@njit(cache=True)
def _second_difference(sig, good, out):
    n_leads, n = sig.shape
    out[:] = 0.0
    for k in range(1, n - 1):
        s = 0.0
        for l in range(n_leads):
            if good[l]:
                d = sig[l, k + 1] - 2.0 * sig[l, k] + sig[l, k - 1]
                s += d * d
        out[k] = np.sqrt(s)


@njit(cache=True)
def _strongest(s2, a, b, avoid, sep, n_quiet):
    """The sample of largest ``s2`` in [a, b), at least ``sep`` from ``avoid``, if it is a
    stimulus; else -1."""
    best = -1
    for k in range(a, b):
        if (avoid < 0 or abs(k - avoid) >= sep) and (best < 0 or s2[k] > s2[best]):
            best = k
    if best < 0 or s2[best] < PACE_MIN_MV:
        return -1
    if s2[best] < PACE_QUIET_RATIO * np.median(s2[best - 1 - n_quiet:best - 1]):
        return -1
    return best


@njit(cache=True)
def stimuli(sig, good, fid, fs):
    """Each beat's stimuli (up to two), as offsets from its fiducial (samples; NONE if none)."""
    n = sig.shape[1]
    s2 = np.empty(n)
    _second_difference(sig, good, s2)
    n_quiet = ms(PACE_QUIET_MS, fs)
    sep = ms(PACE_AV_MIN_MS, fs)
    off = np.full((fid.shape[0], 2), NONE, dtype=np.int64)
    for i in range(fid.shape[0]):
        a = max(n_quiet + 2, fid[i] - ms(PACE_SEARCH_MS, fs))
        b = min(n - 1, fid[i] - ms(PACE_SEARCH_END_MS, fs))
        k1 = _strongest(s2, a, b, -1, sep, n_quiet)
        if k1 < 0:
            continue
        off[i, 0] = k1 - fid[i]
        k2 = _strongest(s2, a, b, k1, sep, n_quiet)
        if k2 >= 0:
            off[i, 1] = k2 - fid[i]
    return off


@njit(cache=True)
def _near(off, i, c, tol):
    """Beat ``i``'s stimulus within ``tol`` of ``c`` (the closer of two), NONE if none."""
    best = NONE
    for j in range(2):
        if abs(off[i, j] - c) <= tol and (best == NONE or abs(off[i, j] - c) < abs(best - c)):
            best = off[i, j]
    return best


@njit(cache=True)
def sites(off, fs):
    """Pacing sites: offsets from the fiducial (samples, in time order; NONE for none; the
    median of the site's stimuli) and the share of beats with a stimulus there."""
    tol = ms(PACE_TIMING_TOL_MS, fs)
    sep = ms(PACE_AV_MIN_MS, fs)
    nb = off.shape[0]
    where = np.full(MAX_SITES, NONE, dtype=np.int64)
    frac = np.zeros(MAX_SITES)
    for s in range(MAX_SITES):
        best = 0
        c_best = NONE
        for i in range(nb):
            for j in range(2):
                c = off[i, j]
                if c == NONE or (s > 0 and abs(c - where[0]) < sep):
                    continue
                m = 0
                for k in range(nb):
                    m += _near(off, k, c, tol) != NONE
                if m > best:
                    best = m
                    c_best = c
        if nb == 0 or best < PACE_MIN_BEAT_FRAC * nb:
            break
        at = np.empty(best)
        m = 0
        for k in range(nb):
            o = _near(off, k, c_best, tol)
            if o != NONE:
                at[m] = o
                m += 1
        where[s] = int(round(np.median(at)))
        frac[s] = best / nb
    if where[1] != NONE and where[1] < where[0]:
        where[0], where[1] = where[1], where[0]
        frac[0], frac[1] = frac[1], frac[0]
    return where, frac


@njit(cache=True)
def blank(sig, good, fid, off, where, fs):
    """Replace each stimulus at a site by a straight line across +-PACE_BLANK_MS, all leads."""
    n = sig.shape[1]
    tol = ms(PACE_TIMING_TOL_MS, fs)
    h = ms(PACE_BLANK_MS, fs)
    for i in range(fid.shape[0]):
        for j in range(2):
            c = off[i, j]
            if c == NONE:
                continue
            at_site = False
            for s in range(MAX_SITES):
                if where[s] != NONE and abs(c - where[s]) <= tol:
                    at_site = True
            if not at_site:
                continue
            p = max(0, fid[i] + c - h)
            q = min(n - 1, fid[i] + c + h)
            for l in range(sig.shape[0]):
                if good[l]:
                    for k in range(p + 1, q):
                        sig[l, k] = sig[l, p] + (sig[l, q] - sig[l, p]) * (k - p) / (q - p)


@njit(cache=True)
def chambers(where, frac, qon, F, fs):
    """(atrial, ventricular) share of paced beats, given the QRS onset ``qon`` of the median
    beat whose fiducial is ``F``: a site less than PACE_AV_MIN_MS before the onset is
    ventricular."""
    atrial = 0.0
    ventricular = 0.0
    for s in range(MAX_SITES):
        if where[s] == NONE:
            continue
        if qon >= 0 and qon - (F + where[s]) < ms(PACE_AV_MIN_MS, fs):
            ventricular = max(ventricular, frac[s])
        else:
            atrial = max(atrial, frac[s])
    return atrial, ventricular


@njit(cache=True)
def qrs_not_before(where, F, fs):
    """The earliest QRS onset of the median beat: after the blanked stimulus of the last site
    (-1 without a site).  An atrial site lies far before the QRS and never binds."""
    last = NONE
    for s in range(MAX_SITES):
        if where[s] != NONE:
            last = max(last, where[s])
    return -1 if last == NONE else F + last + ms(PACE_BLANK_MS, fs) + 1
