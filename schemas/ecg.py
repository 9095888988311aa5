"""The standard 12-lead ECG: lead names in canonical order and the names of the coded lead
measurements (every table, reader and kernel uses them)."""

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
#: ``lead_features.st_form`` and ``t_polarity`` values, in the order of FeatureDB's codes.
ST_FORMS = ("upsloping", "horizontal", "downsloping")
T_POLARITIES = ("positive", "negative", "biphasic", "flat")
