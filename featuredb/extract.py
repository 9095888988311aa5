"""Batch extraction: (n_records, 12, n_samples) float32 mV -> records and lead tables.

One Numba kernel per record (quality -> detection -> alignment -> median beat ->
delineation -> measurement), run with ``prange`` over the records of a shard; Python only
slices shards and turns the result arrays into polars DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import polars as pl
from numba import njit, prange

from schemas.ecg import LEADS, ST_FORMS, T_POLARITIES

from . import beats as B
from . import delineate as D
from . import pacing as P
from . import quality as Q
from ._numba import skip_blas_probe
from schemas.features import (
    LEAD_BOOL_COLUMNS,
    LEAD_FLOAT_COLUMNS,
    LEAD_QUALITY_NAMES,
    RECORD_BOOL_COLUMNS,
    RECORD_FLOAT_COLUMNS,
    RECORD_INT_COLUMNS,
    RECORD_QUALITY_NAMES,
)
from .detect import align_beats, detect_beats, slope_signals
from .filter import (
    DELINEATION_LOWPASS_HZ,
    P_LOWPASS_HZ,
    QRS_ONSET_LOWPASS_HZ,
    lowpass_sos,
    slope_step_spread,
    sosfiltfilt,
)
from .measure import (
    area,
    frontal_axis,
    qrs_morphology,
    qtc,
    st_levels,
)
from .rhythm import (
    HR,
    IRREGULAR_NRMSSD,
    IRREGULAR_PNN50,
    N_RR_STATS,
    RR_CV,
    RR_MEAN,
    RR_MED,
    RR_NRMSSD,
    RR_PNN50,
    RR_RMSSD,
    RR_SD,
    rr_stats,
)
from .template import gather_beats, median_beats, select_beats, window_len

skip_blas_probe()  # before the first kernel call loads numba.np.arraymath (featuredb._numba)

N_LEADS = len(LEADS)  # the input's axis 1, in canonical order
#: Records per shard: memory is bounded by one shard of signals and results.
SHARD_SIZE = 256
#: A global P wave lasts at least / at most this long (ms), else it is not reported.
P_DUR_RANGE_MS = (D.P_MIN_DUR_MS, D.P_MAX_DUR_MS)
#: A lead's own P wave is searched this far outside the global P wave (ms), where its
#: magnitude floor lies, and then kept inside the global P wave.
P_LEAD_MARGIN_MS = 20.0
#: A lead's noise is judged against its QRS amplitude within this much of the fiducial (ms).
NOISE_QRS_HALF_MS = 80.0
#: A median beat spanning less than this (ms, its good samples) is not delineated.
MIN_BEAT_SPAN_MS = 300.0

# ---- the result matrices' columns (float64; names and order in schemas.features) ---------
(R_HR, R_RR_MEAN, R_RR_SD, R_PDUR, R_PR, R_QRS, R_QT, R_QTCB, R_QTCF, R_QTCFRAM, R_QTCH,
 R_PAX, R_QRSAX, R_TAX, R_PDUR_IQR, R_PDUR_N, R_PR_IQR, R_PR_N, R_QRS_IQR, R_QRS_N,
 R_QT_IQR, R_QT_N, R_NBEATS, R_RR_MED, R_RR_CV, R_RR_RMSSD, R_RR_PNN50, R_RR_NRMSSD,
 R_PFRAC, R_NMED, R_NLEADS, R_QUALITY, R_PABSENT, R_IRREG, R_QRS_LEAD, R_PACE_A, R_PACE_V) = range(len(RECORD_FLOAT_COLUMNS))
N_REC = len(RECORD_FLOAT_COLUMNS)

(L_PAMP, L_QAMP, L_RAMP, L_SAMP, L_TAMP, L_RPRIME, L_RPRIME_AMP, L_PDUR, L_QRSDUR,
 L_TDUR, L_STJ, L_STJ60, L_STSLOPE, L_STFORM, L_TPOL, L_QDUR, L_QDEPTH, L_QUALITY,
 L_NOISE) = range(len(LEAD_FLOAT_COLUMNS))
N_LEAD = len(LEAD_FLOAT_COLUMNS)


@njit(cache=True)
def _fill_edges(m, good, lo, hi):
    """Copy the median beat with NaN outside [lo, hi) replaced by the edge values."""
    n_leads, L = m.shape
    out = np.zeros((n_leads, L))
    for l in range(n_leads):
        if not good[l]:
            continue
        for k in range(L):
            kk = min(max(k, lo), hi - 1)
            out[l, k] = m[l, kk]
    return out


@njit(cache=True)
def _screen(x, fs, lf):
    """Step 1, raw lead quality (:mod:`featuredb.quality`): the cleaned signals, the usable
    leads and their number; each lead's quality code goes to ``lf``."""
    n_leads, n = x.shape
    sig = np.empty((n_leads, n))
    good = np.zeros(n_leads, dtype=np.bool_)
    n_good = 0
    for l in range(n_leads):
        q = Q.raw_lead_quality(x[l], fs, sig[l])
        lf[l, L_QUALITY] = q
        if q == Q.Q_OK:
            good[l] = True
            n_good += 1
    return sig, good, n_good


@njit(cache=True)
def _beats(sig, good, fs):
    """Step 2, QRS detection (Pan-Tompkins/Elgendi slope signals) and beat alignment."""
    n = sig.shape[1]
    e = np.empty(n)
    es = np.empty(n)
    ea = np.empty(n)
    slope_signals(sig, good, fs, e, es, ea)
    return align_beats(ea, detect_beats(es, fs), fs)


@njit(cache=True)
def _rhythm(fid, fs, rec):
    """Step 2, RR statistics and the irregularity flag into ``rec``; returns them."""
    rr = np.empty(N_RR_STATS)
    rr_stats(fid, fs, rr)
    rec[R_NBEATS] = fid.shape[0]
    rec[R_HR] = rr[HR]
    rec[R_RR_MEAN] = rr[RR_MEAN]
    rec[R_RR_SD] = rr[RR_SD]
    rec[R_RR_MED] = rr[RR_MED]
    rec[R_RR_CV] = rr[RR_CV]
    rec[R_RR_RMSSD] = rr[RR_RMSSD]
    rec[R_RR_PNN50] = rr[RR_PNN50]
    rec[R_RR_NRMSSD] = rr[RR_NRMSSD]
    if not np.isnan(rr[RR_NRMSSD]):
        rec[R_IRREG] = 1.0 if (rr[RR_NRMSSD] > IRREGULAR_NRMSSD and rr[RR_PNN50] > IRREGULAR_PNN50) else 0.0
    return rr


@njit(cache=True)
def _median_beat(sig, good, fid, corr, fs, rec, lf):
    """Step 3, the median beat of the selected beats and each lead's noise; a lead whose noise
    is large against its QRS (:func:`featuredb.quality.is_noisy`) is dropped from ``good``.
    Returns the gathered beats, the median beat and the number of leads left."""
    sel = select_beats(fid, corr)
    g = gather_beats(sig, good, fid, sel, fs)
    med, cnt, noise = median_beats(g, good, fs)
    F, L = window_len(fs)
    h80 = D.ms(NOISE_QRS_HALF_MS, fs)
    n_ok = 0
    for l in range(sig.shape[0]):
        if not good[l]:
            continue
        lf[l, L_NOISE] = noise[l]
        lo_v = np.inf
        hi_v = -np.inf
        for k in range(max(0, F - h80), min(L, F + h80 + 1)):
            v = med[l, k]
            if not np.isnan(v):
                lo_v = min(lo_v, v)
                hi_v = max(hi_v, v)
        if not np.isnan(noise[l]) and Q.is_noisy(noise[l], hi_v - lo_v):
            good[l] = False
            lf[l, L_QUALITY] = Q.Q_NOISY
        else:
            n_ok += 1
    rec[R_NLEADS] = n_ok
    rec[R_NMED] = sel.shape[0]
    rec[R_QUALITY] = Q.record_quality(n_ok, fid.shape[0]) if n_ok > 0 else Q.RQ_UNUSABLE
    return g, med, n_ok


@njit(cache=True)
def _filtered(mf, good, lo, hi, sos_d, sos_p, sos_q):
    """The median beat low-passed for delineation (40 Hz), the P wave (20 Hz) and the QRS
    onset (60 Hz)."""
    n_leads, L = mf.shape
    y = np.zeros((n_leads, L))
    z = np.zeros((n_leads, L))
    w = np.zeros((n_leads, L))
    for l in range(n_leads):
        if good[l]:
            sosfiltfilt(sos_d, mf[l], lo, hi, y[l])
            sosfiltfilt(sos_p, mf[l], lo, hi, z[l])
            sosfiltfilt(sos_q, mf[l], lo, hi, w[l])
    return y, z, w


@njit(cache=True)
def _qrs(mf, y, w, good, F, lo, hi, fs, pace_end, sos_d, sos_q, rec, lf):
    """Step 4, the QRS: the global onset (60 Hz beat; not before ``pace_end``, the end of a
    ventricular pacing stimulus, -1: none) and offset (40 Hz beat), refined on the
    unfiltered beat ``mf`` (:func:`featuredb.delineate.refine_boundary`), then each lead's own
    bounds inside them (:func:`featuredb.delineate.lead_qrs`) and the median lead's QRS
    duration. Returns (onset, offset), -1 when not found."""
    n_leads, L = y.shape
    v = np.zeros(L)
    vr = np.zeros(L)
    D.spatial_velocity(mf, good, lo, hi, vr)
    D.spatial_velocity(w, good, lo, hi, v)
    qon, _, _, _ = D.slope_bounds(v, F, lo, hi, fs, D.QRS_GLOBAL_ON_FRAC, D.QRS_GLOBAL_OFF_FRAC, True, pace_end)
    qon = D.refine_boundary(vr, v, qon, F, lo, hi, fs, D.QRS_GLOBAL_ON_FRAC,
                            slope_step_spread(sos_q, D.QRS_GLOBAL_ON_FRAC, fs), True)
    D.spatial_velocity(y, good, lo, hi, v)
    _, qoff, _, _ = D.slope_bounds(v, F, lo, hi, fs, D.QRS_GLOBAL_ON_FRAC, D.QRS_GLOBAL_OFF_FRAC, True, pace_end)
    qoff = D.refine_boundary(vr, v, qoff, F, lo, hi, fs, D.QRS_GLOBAL_OFF_FRAC,
                             slope_step_spread(sos_d, D.QRS_GLOBAL_OFF_FRAC, fs), False)
    if qon < 0 or qoff < 0 or qoff <= qon:
        return -1, -1
    vmax_l = np.zeros(n_leads)
    for l in range(n_leads):
        if not good[l]:
            continue
        D.abs_slope(y[l], lo, hi, v)
        a, b, vmax_l[l] = D.lead_qrs(v, qon, qoff, D.QRS_ON_FRAC, D.QRS_OFF_FRAC)
        if a >= 0:
            lf[l, L_QRSDUR] = (b - a) * 1000.0 / fs
    # the median lead's QRS duration, over the leads with a QRS of their own (slope maximum at
    # least QRS_LEAD_MIN_FRAC of the largest lead's): a lead nearly perpendicular to the QRS
    # loop has no measurable width
    strong = np.full(n_leads, np.nan)
    for l in range(n_leads):
        if good[l] and vmax_l[l] >= D.QRS_LEAD_MIN_FRAC * vmax_l.max():
            strong[l] = lf[l, L_QRSDUR]
    rec[R_QRS_LEAD] = B.nan_median(strong)
    return qon, qoff


@njit(cache=True)
def _t_waves(y, good, base_y, qoff, tlim, fs, lf):
    """Step 5, each lead's T wave (trapezium T end) into ``lf``; returns the global T end (the
    latest of the leads with a T wave of meaningful amplitude, with guard; -1 if none) and the
    leads' T amplitudes that count (the weights of the per-beat T end)."""
    n_leads = y.shape[0]
    tend_l = np.full(n_leads, -1, dtype=np.int64)
    tamp_l = np.full(n_leads, np.nan)
    wt = np.zeros(n_leads)
    for l in range(n_leads):
        if not good[l]:
            continue
        ton, tpk, tend, tamp, pol = D.t_wave(y[l], base_y[l], qoff, tlim, fs)
        if tend >= 0:
            tend_l[l] = tend
            tamp_l[l] = tamp
            lf[l, L_TAMP] = tamp
            lf[l, L_TPOL] = pol
            lf[l, L_TDUR] = (tend - ton) * 1000.0 / fs
    tmax = 0.0
    for l in range(n_leads):
        if tend_l[l] >= 0 and abs(tamp_l[l]) > tmax:
            tmax = abs(tamp_l[l])
    ends = np.empty(n_leads, dtype=np.int64)
    m = 0
    for l in range(n_leads):
        if tend_l[l] >= 0 and abs(tamp_l[l]) >= max(D.T_MIN_MV, D.T_LEAD_MIN_FRAC * tmax):
            ends[m] = tend_l[l]
            wt[l] = tamp_l[l]
            m += 1
    return D.latest_t_end(ends, m, fs), wt


@njit(cache=True)
def _p_wave(z, good, base_z, qon, tend_g, lo, rr_med_s, fs):
    """Step 6, the P wave on the spatial magnitude of the 20 Hz beat relative to the PR level,
    between the previous T wave and the QRS. Returns (onset, offset, the leads' P deflections
    at its peak); onset and offset are -1 when there is none."""
    n_leads, L = z.shape
    pe = qon - D.ms(D.P_END_GUARD_MS, fs)
    ps = max(lo + 1, qon - D.ms(D.P_SEARCH_MS, fs))
    if tend_g >= 0:
        ps = max(ps, tend_g - int(rr_med_s) + D.ms(D.P_AFTER_T_MS, fs))
    wp = np.zeros(n_leads)
    if pe - ps <= D.ms(D.P_MIN_DUR_MS, fs):
        return -1, -1, wp
    sp = np.zeros(L)
    for k in range(ps, pe):
        s = 0.0
        for l in range(n_leads):
            if good[l]:
                d = z[l, k] - base_z[l]
                s += d * d
        sp[k] = np.sqrt(s)
    ppk = D.largest_interior_max(sp, ps, pe)
    if ppk < 0:
        return -1, -1, wp
    a, b, amp = D.magnitude_bounds(sp, ppk, ps, pe, D.P_ON_FRAC, D.P_OFF_FRAC)
    dur = (b - a) * 1000.0 / fs
    if not (amp >= D.P_MIN_MV and P_DUR_RANGE_MS[0] <= dur <= P_DUR_RANGE_MS[1]):
        return -1, -1, wp
    for l in range(n_leads):
        if good[l]:
            wp[l] = z[l, ppk] - base_z[l]
    return a, b, wp


@njit(cache=True)
def _per_beat(g, mf, good, F, fs, wt, wp, qon, qoff, pon, poff, tend_g, tlim):
    """Step 7, each selected beat's QRS, QT, P duration and PR: the median beat's intervals
    shifted by the beat's own event offsets (:func:`featuredb.beats.beat_events`); and the
    share of beats with a P wave."""
    ns = g.shape[0]
    ref = B.beat_events(mf, good, F, fs, wt, wp, pon, poff, tlim, np.zeros((0, 0)), 0.0)
    p_ref_amp = ref[B.EV_P_AMP] if ref[B.EV_P_OK] == 1.0 else 0.0
    out = np.full((4, ns), np.nan)  # QRS, QT, P duration, PR (ms)
    n_p = 0
    for s_ in range(ns):
        ev = B.beat_events(g[s_], good, F, fs, wt, wp, pon, poff, tlim, mf, p_ref_amp)
        dq_on = ev[B.EV_QRS_ON] - ref[B.EV_QRS_ON]
        dq_off = ev[B.EV_QRS_OFF] - ref[B.EV_QRS_OFF]
        out[0, s_] = (qoff - qon + dq_off - dq_on) * 1000.0 / fs
        if tend_g >= 0:
            out[1, s_] = (tend_g - qon + (ev[B.EV_T_END] - ref[B.EV_T_END]) - dq_on) * 1000.0 / fs
        if ev[B.EV_P_OK] == 1.0:
            n_p += 1
            if pon >= 0 and ref[B.EV_P_OK] == 1.0:
                dp_on = ev[B.EV_P_ON] - ref[B.EV_P_ON]
                dp_off = ev[B.EV_P_OFF] - ref[B.EV_P_OFF]
                out[2, s_] = (poff - pon + dp_off - dp_on) * 1000.0 / fs
                out[3, s_] = (qon - pon + dq_on - dp_on) * 1000.0 / fs
    return out, (n_p / ns if ns > 0 else np.nan)


@njit(cache=True)
def _intervals(qon, qoff, tend_g, pon, poff, per_beat, rr_mean, fs, rec):
    """Step 8, the global intervals (IEC 60601-2-25: earliest onset to latest offset over the
    leads), their beat-to-beat IQR and beat counts, and the QTc by four formulas."""
    to_ms = 1000.0 / fs
    rec[R_QRS] = (qoff - qon) * to_ms
    rec[R_QRS_IQR], rec[R_QRS_N] = B.iqr_n(per_beat[0])
    rec[R_QT_N] = 0.0
    if tend_g >= 0:
        rec[R_QT] = (tend_g - qon) * to_ms
        rec[R_QT_IQR], rec[R_QT_N] = B.iqr_n(per_beat[1])
        rec[R_QTCB], rec[R_QTCF], rec[R_QTCFRAM], rec[R_QTCH] = qtc(rec[R_QT], rr_mean)
    rec[R_PDUR_N] = 0.0
    rec[R_PR_N] = 0.0
    if pon >= 0:
        rec[R_PDUR] = (poff - pon) * to_ms
        rec[R_PR] = (qon - pon) * to_ms
        rec[R_PDUR_IQR], rec[R_PDUR_N] = B.iqr_n(per_beat[2])
        rec[R_PR_IQR], rec[R_PR_N] = B.iqr_n(per_beat[3])


@njit(cache=True)
def _lead_p(z, base_z, pon, poff, qon, lo, fs):
    """A lead's P amplitude (the larger deflection of the 20 Hz beat within the P wave) and,
    when it reaches P_LEAD_MIN_MV, its own P duration (ms; NaN otherwise)."""
    ia = pon
    for k in range(pon, poff + 1):
        if abs(z[k] - base_z) > abs(z[ia] - base_z):
            ia = k
    pamp = z[ia] - base_z
    if abs(pamp) < D.P_LEAD_MIN_MV:
        return pamp, np.nan
    mag = np.zeros(z.shape[0])
    a = max(lo, pon - D.ms(P_LEAD_MARGIN_MS, fs))
    b = min(qon, poff + D.ms(P_LEAD_MARGIN_MS, fs))
    for k in range(a, b):
        mag[k] = abs(z[k] - base_z)
    pa_, pb_, _ = D.magnitude_bounds(mag, ia, a, b, D.P_LEAD_ON_FRAC, D.P_LEAD_OFF_FRAC)
    # inside the global P wave, which spans every lead's (IEC 60601-2-25)
    return pamp, max(0, min(pb_, poff) - max(pa_, pon)) * 1000.0 / fs


@njit(cache=True)
def _leads(mf, y, z, good, base_y, base_z, iso_a, iso_b, qon, qoff, tend_g, pon, poff, lo, hi, fs, rec, lf):
    """Step 9, per-lead measurements (QRS morphology and ST on the unfiltered and 40 Hz beats,
    P on the 20 Hz beat) and the P, QRS and T axes from the six limb leads' net areas."""
    lim_ok = np.zeros(6, dtype=np.bool_)
    a_qrs = np.full(6, np.nan)
    a_t = np.full(6, np.nan)
    a_p = np.full(6, np.nan)
    for l in range(mf.shape[0]):
        if not good[l]:
            continue
        base = D.level(mf[l], iso_a, iso_b)
        (lf[l, L_QAMP], lf[l, L_RAMP], lf[l, L_SAMP], lf[l, L_RPRIME], lf[l, L_RPRIME_AMP], lf[l, L_QDUR],
         lf[l, L_QDEPTH]) = qrs_morphology(mf[l], base, qon, qoff, fs)
        lf[l, L_STJ], lf[l, L_STJ60], lf[l, L_STSLOPE], form = st_levels(y[l], base_y[l], qoff, fs, hi)
        if form >= 0:
            lf[l, L_STFORM] = form
        if pon >= 0:
            lf[l, L_PAMP], lf[l, L_PDUR] = _lead_p(z[l], base_z[l], pon, poff, qon, lo, fs)
        if l < 6:
            lim_ok[l] = True
            a_qrs[l] = area(y[l], base_y[l], qon, qoff, fs)
            if tend_g >= 0:
                a_t[l] = area(y[l], base_y[l], qoff, tend_g, fs)
            if pon >= 0:
                a_p[l] = area(z[l], base_z[l], pon, poff, fs)
    rec[R_QRSAX] = frontal_axis(a_qrs, lim_ok)
    if tend_g >= 0:
        rec[R_TAX] = frontal_axis(a_t, lim_ok)
    if pon >= 0:
        rec[R_PAX] = frontal_axis(a_p, lim_ok)


@njit(cache=True)
def _record(x, fs, sos_d, sos_p, sos_q, rec, lf):
    """Measure one record ``x`` (12, n) into ``rec`` (N_REC,) and ``lf`` (12, N_LEAD), step by
    step; a step that finds nothing to measure leaves the rest NaN."""
    rec[:] = np.nan
    lf[:, :] = np.nan
    sig, good, n_good = _screen(x, fs, lf)
    rec[R_NBEATS] = 0.0
    rec[R_NLEADS] = n_good
    rec[R_QUALITY] = Q.RQ_UNUSABLE
    if n_good == 0:
        return
    fid, corr = _beats(sig, good, fs)
    rr = _rhythm(fid, fs, rec)
    if fid.shape[0] < 2:
        return
    # pacemaker stimuli, beat by beat: found, then blanked out of the signal
    where = np.full(P.MAX_SITES, P.NONE, dtype=np.int64)
    frac = np.zeros(P.MAX_SITES)
    if fs >= P.PACE_MIN_FS:
        off = P.stimuli(sig, good, fid, fs)
        where, frac = P.sites(off, fs)
        P.blank(sig, good, fid, off, where, fs)
    g, med, n_ok = _median_beat(sig, good, fid, corr, fs, rec, lf)
    if n_ok == 0:
        return
    F, _ = window_len(fs)
    lo, hi = B._span(med, good, F)
    if hi - lo < D.ms(MIN_BEAT_SPAN_MS, fs):
        return
    mf = _fill_edges(med, good, lo, hi)
    y, z, w = _filtered(mf, good, lo, hi, sos_d, sos_p, sos_q)
    qon, qoff = _qrs(mf, y, w, good, F, lo, hi, fs, P.qrs_not_before(where, F, fs), sos_d, sos_q, rec, lf)
    if qon < 0 or qoff < 0:
        return
    if fs >= P.PACE_MIN_FS:
        rec[R_PACE_A], rec[R_PACE_V] = P.chambers(where, frac, qon, F, fs)
    rr_med_s = rr[RR_MED] * fs / 1000.0 if not np.isnan(rr[RR_MED]) else 1.0 * fs
    tlim = min(hi - 1, F + int(D.T_LIMIT_RR * rr_med_s))
    iso_a, iso_b = D.iso_window(y, good, qon, lo, fs)
    base_y = np.full(y.shape[0], np.nan)
    base_z = np.full(y.shape[0], np.nan)
    for l in range(y.shape[0]):
        if good[l]:
            base_y[l] = D.level(y[l], iso_a, iso_b)
            base_z[l] = D.level(z[l], iso_a, iso_b)
    tend_g, wt = _t_waves(y, good, base_y, qoff, tlim, fs, lf)
    pon, poff, wp = _p_wave(z, good, base_z, qon, tend_g, lo, rr_med_s, fs)
    per_beat, p_frac = _per_beat(g, mf, good, F, fs, wt, wp, qon, qoff, pon, poff, tend_g, tlim)
    rec[R_PFRAC] = p_frac
    if pon >= 0 and p_frac < 0.5:  # the median-beat P wave is reported only if most beats carry it
        pon = -1
        poff = -1
    rec[R_PABSENT] = 1.0 if pon < 0 else 0.0
    _intervals(qon, qoff, tend_g, pon, poff, per_beat, rr[RR_MEAN], fs, rec)
    _leads(mf, y, z, good, base_y, base_z, iso_a, iso_b, qon, qoff, tend_g, pon, poff, lo, hi, fs, rec, lf)


@njit(cache=True, parallel=True)
def _shard(x, fs, sos_d, sos_p, sos_q, rec, lf):
    for i in prange(x.shape[0]):
        _record(x[i], fs, sos_d, sos_p, sos_q, rec[i], lf[i])


@njit(cache=True, parallel=True)
def _detect_shard(x, fs, n_beats):
    for i in prange(x.shape[0]):
        sig, good, _ = _screen(x[i], fs, np.empty((x.shape[1], N_LEAD)))
        fid, _ = _beats(sig, good, fs)
        n_beats[i] = fid.shape[0]


def detect_only(signals: np.ndarray, fs: float = 500) -> np.ndarray:
    """Quality screening, QRS detection and beat alignment only (for stage timing)."""
    x = np.ascontiguousarray(signals, dtype=np.float32)
    out = np.zeros(x.shape[0], dtype=np.int64)
    _detect_shard(x, float(fs), out)
    return out


@dataclass(frozen=True)
class Features:
    """FeatureDB output: one row per record and one row per record x lead."""

    records: pl.DataFrame
    leads: pl.DataFrame


def compute_arrays(signals: np.ndarray, fs: float = 500) -> tuple[np.ndarray, np.ndarray]:
    """Raw result matrices ``(n, N_REC)`` and ``(n, 12, N_LEAD)`` for one batch."""
    x = np.ascontiguousarray(signals, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] != N_LEADS:
        raise ValueError(f"signals must be (n_records, 12, n_samples), got {signals.shape}")
    rec = np.empty((x.shape[0], N_REC))
    lf = np.empty((x.shape[0], N_LEADS, N_LEAD))
    if x.shape[0]:
        sos_d = lowpass_sos(fs, DELINEATION_LOWPASS_HZ)
        sos_p = lowpass_sos(fs, P_LOWPASS_HZ)
        # below 150 Hz sampling the onset beat keeps the delineation bandwidth (Nyquist)
        hz_q = QRS_ONSET_LOWPASS_HZ if fs >= 2.5 * QRS_ONSET_LOWPASS_HZ else DELINEATION_LOWPASS_HZ
        sos_q = lowpass_sos(fs, hz_q)
        _shard(x, float(fs), sos_d, sos_p, sos_q, rec, lf)
    return rec, lf


_REC_INT = frozenset(RECORD_INT_COLUMNS)
_REC_BOOL = frozenset(RECORD_BOOL_COLUMNS)


def _codes(values: np.ndarray, names: Sequence[str]) -> pl.Series:
    idx = np.where(np.isnan(values), -1, values).astype(np.int64)
    lut = np.array(list(names) + [None], dtype=object)
    return pl.Series(lut[idx].tolist(), dtype=pl.Utf8)  # an all-None object array cannot be cast


def _flags(rec: np.ndarray, lf: np.ndarray) -> list[list[str]]:
    out = []
    for i in range(rec.shape[0]):
        f = [
            f"{LEADS[l]}:{LEAD_QUALITY_NAMES[int(lf[i, l, L_QUALITY])]}"
            for l in range(N_LEADS)
            if lf[i, l, L_QUALITY] != Q.Q_OK
        ]
        if rec[i, R_NBEATS] < 2:
            f.append("no_beats")
        if rec[i, R_PABSENT] == 1.0:
            f.append("p_absent")
        if rec[i, R_QRS_N] > 0 and np.isnan(rec[i, R_QT]):
            f.append("t_unmeasured")
        if rec[i, R_IRREG] == 1.0:
            f.append("rr_irregular")
        out.append(f)
    return out


def to_frames(rec: np.ndarray, lf: np.ndarray, record_ids: Sequence[str]) -> Features:
    """Turn result matrices into the ``records`` and ``lead_features`` DataFrames."""
    n = rec.shape[0]
    ids = pl.Series("record_id", list(record_ids), dtype=pl.Utf8)
    cols: list[pl.Series] = [ids]
    for j, name in enumerate(RECORD_FLOAT_COLUMNS):
        v = rec[:, j]
        if name == "quality":
            cols.append(_codes(v, RECORD_QUALITY_NAMES).alias("quality"))
        elif name in _REC_BOOL:
            cols.append(pl.Series(name, np.where(np.isnan(v), None, v == 1.0).tolist(), dtype=pl.Boolean))
        elif name in _REC_INT:
            cols.append(pl.Series(name, np.nan_to_num(v, nan=0.0).astype(np.int32)))
        else:
            cols.append(pl.Series(name, v))
    cols.append(pl.Series("quality_flags", _flags(rec, lf), dtype=pl.List(pl.Utf8)))
    records = pl.DataFrame(cols)

    flat = lf.reshape(n * N_LEADS, N_LEAD)
    lcols: list[pl.Series] = [
        pl.Series("record_id", np.repeat(np.array(list(record_ids), dtype=object), N_LEADS), dtype=pl.Utf8),
        pl.Series("lead", np.tile(np.array(LEADS, dtype=object), n), dtype=pl.Utf8),
    ]
    for j, name in enumerate(LEAD_FLOAT_COLUMNS):
        v = flat[:, j]
        if name == "st_form":
            lcols.append(_codes(v, ST_FORMS).alias(name))
        elif name == "t_polarity":
            lcols.append(_codes(v, T_POLARITIES).alias(name))
        elif name == "quality":
            lcols.append(_codes(v, LEAD_QUALITY_NAMES).alias(name))
        elif name in LEAD_BOOL_COLUMNS:
            lcols.append(pl.Series(name, np.where(np.isnan(v), None, v == 1.0).tolist(), dtype=pl.Boolean))
        else:
            lcols.append(pl.Series(name, v))
    leads = pl.DataFrame(lcols)
    return Features(records, leads)


def extract(signals: np.ndarray, fs: float = 500, record_ids: Sequence[str] | None = None) -> Features:
    """Measure a batch of 12-lead records.

    Parameters
    ----------
    signals : array (n_records, 12, n_samples)
        Millivolts, float32, leads in the order of :data:`LEADS`; a NaN row is a missing lead.
    fs : float
        Sampling rate (Hz); the thresholds are tuned for 500 Hz.
    record_ids : sequence of str, optional
        One id per record (default ``"0"``, ``"1"``, ...).

    Returns
    -------
    Features
        ``records``: one row per record (``record_id`` first); ``leads``: one row per
        record x lead (``record_id``, ``lead`` first).  Unmeasurable values are NaN/null.
    """
    x = np.asarray(signals)
    if x.ndim == 2:
        x = x[None]
    n = x.shape[0]
    if record_ids is None:
        record_ids = [str(i) for i in range(n)]
    if len(record_ids) != n:
        raise ValueError(f"{len(record_ids)} record_ids for {n} records")
    parts = [
        to_frames(*compute_arrays(x[a : a + SHARD_SIZE], fs), record_ids[a : a + SHARD_SIZE])
        for a in range(0, max(n, 1), SHARD_SIZE)
    ] if n else [to_frames(np.empty((0, N_REC)), np.empty((0, N_LEADS, N_LEAD)), [])]
    return Features(pl.concat([p.records for p in parts]), pl.concat([p.leads for p in parts]))


def extract_stream(
    shards: Iterable[tuple[Sequence[str], np.ndarray]], fs: float = 500
) -> Iterator[Features]:
    """Measure an iterable of ``(record_ids, signals)`` shards, yielding one Features each.

    Memory stays bounded by one shard; write each result out (e.g. Parquet) as it comes.
    """
    for ids, sig in shards:
        yield extract(sig, fs=fs, record_ids=list(ids))
