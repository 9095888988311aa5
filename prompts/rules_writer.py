"""The offline ``rules`` teacher: a deterministic protocol writer.

From a record's features, findings and reference labels it writes the full ECG-R1
interpretation (six steps inside ``<think>``, a summary, ``<answer>``) with the same number
formatting as the prompts (:func:`prompts.render.fmt`), so every value it states is a measured
one. It reasons only from the computed criteria; it is what development, the demo and most
tests run, and its rows say ``backend='rules'``.
"""

from __future__ import annotations

from protocol.steps import STEPS
from prompts.render import NOT_MEASURABLE, fmt

TERRITORIES = {"inferior": "the inferior leads (II, III, aVF)", "high_lateral": "I and aVL",
               "septal": "V1-V2", "anterior": "V2-V4", "low_lateral": "V4-V6", "lateral": "the lateral leads"}


def _met(findings: dict, cid: str) -> bool | None:
    row = findings.get(cid)
    return None if row is None else row["positive"]


def _v(findings: dict, cid: str, unit: str) -> str:
    row = findings.get(cid)
    return fmt(row["value"] if row else None, unit)


def _territories(findings: dict, prefix: str) -> list[str]:
    return [TERRITORIES[k[len(prefix) + 1:]] for k in findings
            if k.startswith(prefix + "_") and k[len(prefix) + 1:] in TERRITORIES and _met(findings, k)]


def _step1(f: dict, fd: dict) -> str:
    flags = f.get("quality_flags") or []
    flags = [x for x in flags if x != "p_absent"] if not isinstance(flags, str) else [flags]
    quality = f.get("quality") or NOT_MEASURABLE
    text = [f"Technical quality is {quality} with {fmt(f.get('n_leads_ok'), 'leads')} usable leads"
            + (f" and warnings for {', '.join(flags)}." if flags else ".")]
    hr = fmt(f.get("hr_bpm"), "bpm")
    rate = "bradycardic" if _met(fd, "bradycardia") else "tachycardic" if _met(fd, "tachycardia") else "within the normal range"
    text.append(f"The ventricular rate is {hr}, {rate}." if hr != NOT_MEASURABLE else "The rate is not measurable.")
    irregular, no_p = _met(fd, "irregular_rhythm"), _met(fd, "absent_p_waves")
    rr = f"RR intervals are {'irregular' if irregular else 'regular'} (normalised RMSSD {_v(fd, 'irregular_rhythm', 'ratio')})"
    p = f"P waves are found in a share of {_v(fd, 'absent_p_waves', 'fraction')} of beats"
    if _met(fd, "atrial_fibrillation_suspected"):
        text.append(f"{rr} and {p}, so organised atrial activity is absent, consistent with atrial fibrillation.")
    elif no_p:
        text.append(f"{rr} but {p}, so a sinus mechanism cannot be confirmed.")
    else:
        text.append(f"{rr} and {p}, consistent with a sinus mechanism.")
    return " ".join(text)


def _step2(f: dict, fd: dict) -> str:
    axis = fmt(f.get("qrs_axis_deg"), "deg")
    axis_class = ("left axis deviation" if _met(fd, "left_axis_deviation") else "right axis deviation"
                  if _met(fd, "right_axis_deviation") else "an extreme axis" if _met(fd, "extreme_axis") else "a normal axis")
    text = [f"The frontal QRS axis is {axis}, {axis_class}." if axis != NOT_MEASURABLE else "The QRS axis is not measurable."]
    pr = fmt(f.get("pr_ms"), "ms")
    if pr == NOT_MEASURABLE:
        text.append("The PR interval is not measurable.")
    else:
        pr_class = ("prolonged, indicating first-degree AV block" if _met(fd, "pr_prolonged")
                    else "short" if _met(fd, "pr_short") else "normal")
        text.append(f"The PR interval is {pr}, {pr_class}.")
    qrs = fmt(f.get("qrs_ms"), "ms")
    qrs_class = ("wide, indicating a ventricular conduction delay such as bundle branch block" if _met(fd, "wide_qrs")
                 else "of intermediate width" if _met(fd, "qrs_intermediate") else "narrow")
    text.append(f"The QRS duration is {qrs}, {qrs_class}." if qrs != NOT_MEASURABLE else "QRS duration is not measurable.")
    text.append("An rsR' pattern is present in V1." if _met(fd, "rsr_prime_v1") else "There is no rsR' pattern in V1.")
    return " ".join(text)


def _step3(f: dict, fd: dict) -> str:
    text = [f"Sokolow-Lyon voltage is {_v(fd, 'sokolow_lyon', 'mV')}, Cornell voltage {_v(fd, 'cornell_voltage', 'mV')} "
            f"and R in aVL {_v(fd, 'ravl_voltage', 'mV')}, so "
            + ("voltage criteria for left ventricular hypertrophy are met." if _met(fd, "lvh_voltage")
               else "no voltage criterion for left ventricular hypertrophy is met.")]
    if _met(fd, "low_voltage"):
        text.append(f"Limb lead QRS amplitudes reach at most {_v(fd, 'low_voltage', 'mV')}, low voltage.")
    if _met(fd, "peaked_p"):
        text.append(f"The P wave in II is peaked at {_v(fd, 'peaked_p', 'mV')}, suggesting right atrial abnormality.")
    if _met(fd, "wide_p"):
        text.append(f"The P wave is wide at {_v(fd, 'wide_p', 'ms')}, suggesting left atrial abnormality.")
    if not any(_met(fd, c) for c in ("low_voltage", "peaked_p", "wide_p")):
        text.append("There is no low voltage and no sign of atrial abnormality.")
    return " ".join(text)


def _step4(f: dict, fd: dict) -> str:
    text = []
    for prefix, what, verb in (("st_elevation", "ST elevation", "is"), ("st_depression", "ST depression", "is"),
                               ("t_inversion", "T wave inversion", "is"), ("pathologic_q", "pathologic Q waves", "are")):
        where = _territories(fd, prefix)
        text.append(f"{what[0].upper()}{what[1:]} {verb} present in {' and '.join(where)}." if where
                    else f"No {what} {verb} seen in two contiguous leads.")
    return " ".join(text)


def _step5(f: dict, fd: dict) -> str:
    qtc = fmt(f.get("qtc_bazett_ms"), "ms")
    if qtc == NOT_MEASURABLE:
        text = ["The QT interval is not measurable."]
    else:
        qt_class = "prolonged" if _met(fd, "qtc_prolonged") else "short" if _met(fd, "qtc_short") else "normal"
        text = [f"The QT interval is {fmt(f.get('qt_ms'), 'ms')} with a Bazett-corrected QTc of {qtc}, {qt_class}."]
    text.append(f"The tallest T wave in V2-V4 is {_v(fd, 'peaked_t', 'mV')}, "
                + ("peaked, a pattern seen in hyperkalemia." if _met(fd, "peaked_t") else "without peaking."))
    return " ".join(text)


def _step6(fd: dict, labels: list[str]) -> str:
    return (f"Integrating rate, rhythm, conduction, voltage, repolarization and QT, the measured findings support "
            f"the final impression of {'; '.join(labels) if labels else 'no specific diagnosis'}.")


def write(features: dict, findings: dict[str, dict], labels: list[str]) -> str:
    """The interpretation of one record. ``findings`` maps criterion id to its findings row;
    ``labels`` are the reference label descriptions, in order."""
    paragraphs = [_step1(features, findings), _step2(features, findings), _step3(features, findings),
                  _step4(features, findings), _step5(features, findings), _step6(findings, labels)]
    think = "\n".join(f"**{s.heading}**\n{p}" for s, p in zip(STEPS, paragraphs))
    summary = " ".join(paragraphs[:2]) + " " + paragraphs[5]
    return f"<think>\n{think}\n</think>\n{summary}\n<answer>{'; '.join(labels)}</answer>"
