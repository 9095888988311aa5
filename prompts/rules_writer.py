"""The offline ``rules`` teacher: a deterministic protocol writer.

From a record's features, findings and reference labels it writes the full ECG-R1
interpretation (six steps inside ``<think>``, a summary, ``<answer>``) with the same number
formatting as the prompts (:func:`prompts.render.fmt`), so every value it states is a measured
one. It states each step in the terms of the answer key: a record whose findings contradict its
labels (:func:`protocol.concordance.judge`), or whose labels expect a finding that could not
be measured, gets no text (:class:`Refused`, with the reason); a criterion
that could not be measured is said to be so, never read as absent; a supportive pattern
(``kind=supportive`` in criteria.csv) is described as a measurement and named as a diagnosis
only when the labels carry it; a supporting criterion of a label that is not met is said not
to exclude it; voltage reached below a criterion's ``min_age`` is called unspecific. Its rows
say ``backend='rules'``.
"""

from __future__ import annotations

from functools import cache, lru_cache

from protocol.concordance import JUDGED, Relation, judge, relations
from protocol.criteria import by_id
from protocol.steps import STEPS
from prompts.render import NOT_MEASURABLE, fmt

#: The findings fields the writer (and :func:`judge`) reads.
FINDING_FIELDS = (*JUDGED, "threshold", "min_age")
#: Step 4's territorial findings: (criterion id prefix, what, verb), in the order written.
TERRITORIAL = (("st_elevation", "ST elevation", "is"), ("st_depression", "ST depression", "is"),
         ("t_inversion", "T wave inversion", "is"), ("pathologic_q", "pathologic Q waves", "are"))
TERRITORIES = {"inferior": "the inferior leads (II, III, aVF)", "high_lateral": "I and aVL",
               "septal": "V1-V2", "anterior": "V2-V4", "low_lateral": "V4-V6", "lateral": "the lateral leads"}


@lru_cache(maxsize=1)
def _supports() -> tuple[Relation, ...]:
    """The ``supports`` rows of the label-criteria table, in its order."""
    return tuple(r for r in relations() if r.relation == "supports")


class Refused(ValueError):
    """The record's findings contradict its labels, or do not reach them: no text is written."""


def _met(findings: dict, cid: str) -> bool | None:
    row = findings.get(cid)
    return None if row is None else row["positive"]


def _below_min_age(findings: dict, cid: str) -> bool:
    """A combination of criteria (``any``/``all``, compared with >=) that reached its threshold
    but is not positive because the patient is younger than its ``min_age``."""
    row = findings.get(cid) or {}
    return (row.get("positive") is False and row.get("min_age") is not None
            and (row.get("value") or 0) >= row["threshold"])


def _v(findings: dict, cid: str, unit: str) -> str:
    row = findings.get(cid)
    return fmt(row["value"] if row else None, unit)


@cache
def _territory(criterion: str) -> tuple[tuple[str, str], ...]:
    """(prefix, territory text) for each :data:`TERRITORIAL` prefix that ``criterion`` is
    ``<prefix>_<territory>`` of (memoised per criterion id)."""
    return tuple((prefix, TERRITORIES[criterion[len(prefix) + 1:]]) for prefix, _, _ in TERRITORIAL
                 if criterion.startswith(f"{prefix}_") and criterion[len(prefix) + 1:] in TERRITORIES)


def _territories(findings: dict) -> dict[str, list[tuple[str, bool | None]]]:
    """Per :data:`TERRITORIAL` prefix, (territory text, met) of its territory criteria in findings order."""
    out: dict[str, list[tuple[str, bool | None]]] = {prefix: [] for prefix, _, _ in TERRITORIAL}
    for k in findings:
        for prefix, text in _territory(k):
            out[prefix].append((text, _met(findings, k)))
    return out


def _step1(f: dict, fd: dict, labels: list[str]) -> str:
    flags = f.get("quality_flags") or []
    flags = [x for x in flags if x not in ("p_absent", "rr_irregular")] if not isinstance(flags, str) else [flags]
    quality = f.get("quality") or NOT_MEASURABLE
    text = [f"Technical quality is {quality} with {fmt(f.get('n_leads_ok'), 'leads')} usable leads"
            + (f" and warnings for {', '.join(flags)}." if flags else ".")]
    hr = fmt(f.get("hr_bpm"), "bpm")
    rate = "bradycardic" if _met(fd, "bradycardia") else "tachycardic" if _met(fd, "tachycardia") else "within the normal range"
    text.append(f"The ventricular rate is {hr}, {rate}." if hr != NOT_MEASURABLE else "The rate is not measurable.")
    irregular, no_p = _met(fd, "irregular_rhythm"), _met(fd, "absent_p_waves")
    if irregular is None or no_p is None:
        text.append("The rhythm cannot be classified: RR regularity or P waves are not measurable.")
        return " ".join(text)
    rr = f"RR intervals are {'irregular' if irregular else 'regular'} (normalised RMSSD {_v(fd, 'irregular_rhythm', 'ratio')})"
    rr += ", as premature ventricular complexes make them," if irregular and "PVC" in labels else ""
    p = f"P waves are found in a share of {_v(fd, 'absent_p_waves', 'fraction')} of beats"
    if _met(fd, "atrial_fibrillation_suspected"):
        text.append(f"{rr} and {p}, so organised atrial activity is absent, consistent with atrial fibrillation.")
    elif no_p:
        text.append(f"{rr} but {p}, so a sinus mechanism cannot be confirmed.")
    elif _met(fd, "ectopic_atrial_rhythm"):
        text.append(f"{rr} and {p}, but the P axis is {fmt(f.get('p_axis_deg'), 'deg')}, outside the sinus range of "
                    f"0 to 90 deg, with an inverted P wave, consistent with an ectopic atrial rhythm.")
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
                    else f"below {fmt(fd['pr_short']['threshold'], 'ms')}" if _met(fd, "pr_short") else "normal")
        text.append(f"The PR interval is {pr}, {pr_class}.")
    qrs = _v(fd, "wide_qrs", "ms")
    qrs_class = ("wide, indicating a ventricular conduction delay such as bundle branch block" if _met(fd, "wide_qrs")
                 else "of intermediate width" if _met(fd, "qrs_intermediate") else "narrow")
    text.append(f"The QRS duration is {qrs} in the median lead ({fmt(f.get('qrs_ms'), 'ms')} from the earliest onset "
                f"to the latest offset), {qrs_class}." if qrs != NOT_MEASURABLE else "QRS duration is not measurable.")
    rsr = _met(fd, "rsr_prime_v1")
    if rsr is None:
        text.append("The QRS morphology of V1 is not measurable.")
    else:
        text.append("V1 shows a terminal r' wave (rsR')." if rsr else "There is no rsR' pattern in V1.")
    return " ".join(text)


def _step3(f: dict, fd: dict, labels: list[str]) -> str:
    lvh = _met(fd, "lvh_voltage")
    text = [f"Sokolow-Lyon voltage is {_v(fd, 'sokolow_lyon', 'mV')} and Cornell voltage {_v(fd, 'cornell_voltage', 'mV')}, so "
            + ("voltage criteria for left ventricular hypertrophy are met." if lvh
               else f"QRS voltage is high, but below {fmt(fd['lvh_voltage']['min_age'], 'years')} of age voltage alone "
                    "is not specific for left ventricular hypertrophy." if _below_min_age(fd, "lvh_voltage")
               else "voltage criteria for left ventricular hypertrophy cannot be assessed." if lvh is None
               else "no voltage criterion for left ventricular hypertrophy is met.")]
    if _met(fd, "ravl_voltage"):
        text.append(f"R in aVL is {_v(fd, 'ravl_voltage', 'mV')}, above {fmt(fd['ravl_voltage']['threshold'], 'mV')}, "
                    "which a leftward frontal axis alone can produce.")
    if _met(fd, "low_voltage"):
        text.append(f"Limb lead QRS amplitudes reach at most {_v(fd, 'low_voltage', 'mV')}, low voltage.")
    if _met(fd, "peaked_p"):
        text.append(f"The P wave in II is peaked at {_v(fd, 'peaked_p', 'mV')}, suggesting right atrial abnormality.")
    wide_p = _met(fd, "wide_p")
    if wide_p is not None:
        text.append(f"The P wave lasts {_v(fd, 'wide_p', 'ms')} in lead II"
                    + (", wide, consistent with left atrial abnormality." if wide_p and "LAO/LAE" in labels else "."))
    return " ".join(text)


def _step4(fd: dict) -> str:
    text = []
    territories = _territories(fd)
    for prefix, what, verb in TERRITORIAL:
        found = territories[prefix]
        where = [t for t, met in found if met is True]
        unknown = [t for t, met in found if met is None]
        if where:
            text.append(f"{what[0].upper()}{what[1:]} {verb} present in {' and '.join(where)}.")
        elif unknown and not any(met is False for _, met in found):
            text.append(f"{what[0].upper()}{what[1:]} cannot be assessed.")
        elif unknown:
            text.append(f"No {what} {verb} seen in two contiguous leads; {' and '.join(unknown)} cannot be assessed.")
        else:
            text.append(f"No {what} {verb} seen in two contiguous leads.")
    return " ".join(text)


def _step5(f: dict, fd: dict, labels: list[str]) -> str:
    qtc = _v(fd, "qtc_prolonged", "ms")
    if qtc == NOT_MEASURABLE:
        text = ["The QT interval is not measurable."]
    else:
        qt_class = "prolonged" if _met(fd, "qtc_prolonged") else "short" if _met(fd, "qtc_short") else "normal"
        text = [f"The QT interval is {fmt(f.get('qt_ms'), 'ms')} with a QTc of {qtc} (Framingham correction), {qt_class}."]
    tall = _met(fd, "peaked_t")
    if tall is not None:
        text.append(f"The tallest T wave in V2-V4 is {_v(fd, 'peaked_t', 'mV')}"
                    + (", tall, a pattern that can accompany hyperkalemia." if tall and "EL" in labels
                       else ", tall but without other signs of an electrolyte disorder." if tall else ", without peaking."))
    return " ".join(text)


def _step6(fd: dict, labels: list[str], names: dict[str, str]) -> str:
    described = [names.get(c, c) for c in labels]
    text = [f"Integrating rate, rhythm, conduction, voltage, repolarization and QT, the measured findings support "
            f"the final impression of {'; '.join(described) if described else 'no specific diagnosis'}."]
    criteria = by_id()
    for r in _supports():
        if r.concept in labels and _met(fd, r.criterion) is False and not _below_min_age(fd, r.criterion):
            text.append(f"The protocol criterion '{criteria[r.criterion].description}' is not met, which does not exclude "
                        f"{names.get(r.concept, r.concept)}.")
    return " ".join(text)


def write(features: dict, findings: dict[str, dict], labels: list[str], names: dict[str, str]) -> str:
    """The interpretation of one record. ``findings`` maps criterion id to its findings row;
    ``labels`` are the reference concept ids in order, ``names`` their descriptions.

    Raises :class:`Refused` with the reason when the record is not concordant."""
    status, conflicts = judge(labels, findings)
    if status == "discordant":
        raise Refused("discordant: the findings contradict the labels: " + "; ".join(conflicts))
    if status == "unknown":
        raise Refused("unknown: a finding the labels expect is not measurable")
    paragraphs = [_step1(features, findings, labels), _step2(features, findings), _step3(features, findings, labels),
                  _step4(findings), _step5(features, findings, labels), _step6(findings, labels, names)]
    think = "\n".join(f"**{s.heading}**\n{p}" for s, p in zip(STEPS, paragraphs))
    summary = " ".join(paragraphs[:2]) + " " + paragraphs[5]
    answer = "; ".join(names.get(c, c) for c in labels)
    return f"<think>\n{think}\n</think>\n{summary}\n<answer>{answer}</answer>"
