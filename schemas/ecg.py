"""The standard 12-lead ECG: lead names in canonical order (every table, reader and kernel uses it)."""

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
