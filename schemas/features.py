"""FeatureDB's output columns, in order: the one list that the kernels (``featuredb.extract``)
fill and the table contracts (``schemas.tables``: ``features``, ``lead_features``) check.

Plain Python without imports, so the contracts load neither Numba nor FeatureDB.
"""

# ---- records (one row per record) ------------------------------------------------------------
#: The globals of docs/design.md: units in the name, NaN when not measurable.
GLOBAL_FEATURES = (
    "hr_bpm", "rr_mean_ms", "rr_sd_ms", "p_dur_ms", "pr_ms", "qrs_ms", "qt_ms", "qtc_bazett_ms",
    "qtc_fridericia_ms", "qtc_framingham_ms", "qtc_hodges_ms", "p_axis_deg", "qrs_axis_deg", "t_axis_deg",
)
#: Intervals also measured beat by beat: each has ``<interval>_iqr`` (ms) and ``<interval>_n`` (beats).
INTERVALS = ("p_dur_ms", "pr_ms", "qrs_ms", "qt_ms")
#: RR statistics beyond the globals (fit to flag atrial fibrillation) and P presence per beat.
RHYTHM_FEATURES = ("rr_median_ms", "rr_cv", "rr_rmssd_ms", "rr_pnn50", "rr_nrmssd", "p_present_frac")

#: The record result matrix's columns (float64; :data:`RECORD_INT_COLUMNS` and
#: :data:`RECORD_BOOL_COLUMNS` become integers and booleans, ``quality`` its name).
RECORD_FLOAT_COLUMNS = (
    *GLOBAL_FEATURES,
    *(f"{i}_{s}" for i in INTERVALS for s in ("iqr", "n")),
    "n_beats", *RHYTHM_FEATURES, "n_beats_median", "n_leads_ok",
    "quality", "p_absent", "rr_irregular", "qrs_lead_ms", "pace_atrial_frac", "pace_ventricular_frac",
)
#: ``pace_atrial_frac`` / ``pace_ventricular_frac``: the share of beats with a pacemaker
#: stimulus at an atrial / a ventricular pacing site (0 when none; NaN below the sampling
#: rate that resolves a stimulus, ``featuredb.pacing.PACE_MIN_FS``).
RECORD_INT_COLUMNS = ("n_beats", "n_beats_median", "n_leads_ok", *(f"{i}_n" for i in INTERVALS))
RECORD_BOOL_COLUMNS = ("p_absent", "rr_irregular")
#: ``quality`` of a record, in the order of its codes (``featuredb.quality.RQ_*``).
RECORD_QUALITY_NAMES = ("ok", "poor", "unusable")
#: The ``features`` frame's columns, in order.
RECORD_COLUMNS = ("record_id", *RECORD_FLOAT_COLUMNS, "quality_flags")

# ---- leads (one row per record x lead) -------------------------------------------------------
#: The lead result matrix's columns (float64; ``r_prime`` becomes a boolean, ``st_form``,
#: ``t_polarity`` and ``quality`` the names of their codes).
LEAD_FLOAT_COLUMNS = (
    "p_amp_mv", "q_amp_mv", "r_amp_mv", "s_amp_mv", "t_amp_mv", "r_prime", "r_prime_amp_mv",
    "p_dur_ms", "qrs_dur_ms", "t_dur_ms", "st_j_mv", "st_j60_mv", "st_slope_mv_per_s",
    "st_form", "t_polarity", "q_dur_ms", "q_depth_mv", "quality", "noise_mv",
)
LEAD_BOOL_COLUMNS = ("r_prime",)
#: ``quality`` of a lead, in the order of its codes (``featuredb.quality.Q_*``).
LEAD_QUALITY_NAMES = ("ok", "flat", "saturated", "noisy", "missing")
#: The ``lead_features`` frame's columns, in order.
LEAD_COLUMNS = ("record_id", "lead", *LEAD_FLOAT_COLUMNS)
