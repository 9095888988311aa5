"""The offline ``rules`` teacher: a deterministic protocol writer.

From a record's features, findings and reconciled answer key (:mod:`protocol.answer_key`) it
writes the full ECG-R1 interpretation (six steps inside ``<think>``, a summary, ``<answer>``)
with the number formatting of the prompts (:func:`prompts.render.fmt`), so every value it states
is a measured one. It reasons towards the key, never towards a label the key dropped:

* a criterion that could not be measured is said to be so, never read as absent; one a
  confounder makes not applicable is named with it ("QS complexes in V1-V3 are expected with
  left bundle branch block and are not a sign of infarction");
* a positive criterion short of its ``definite`` limit is called borderline and named as no
  diagnosis; a definite one is named with the statement the key adds for it;
* a supportive pattern (``kind=supportive``) is a measurement, named as a diagnosis only when
  the key states it; a hedged statement is written "possible ..." wherever it is named;
* a QRS of 110-119 ms is of intermediate width, never narrow.

Normal steps are said briefly and the phrasing varies with the record (a seeded choice among
equivalent sentences, :func:`_say`), so the corpus is not one template. A record whose key is
discordant gets no text (:class:`Refused`). Its rows say ``backend='rules'``.
"""

from __future__ import annotations

import hashlib
from functools import cache

from prompts.render import NOT_MEASURABLE, fmt
from protocol.answer_key import Key, confounder_name, definite
from protocol.concordance import JUDGED, by_concept
from protocol.criteria import by_id
from protocol.steps import STEPS
from sources.vocabulary import categories, concepts

#: The findings fields the writer reads.
FINDING_FIELDS = (*JUDGED, "confounder")
#: Step 4's territorial findings: (criterion id prefix, what, verb), in the order written.
TERRITORIAL = (("st_elevation", "ST elevation", "is"), ("st_depression", "ST depression", "is"),
               ("t_inversion", "T wave inversion", "is"), ("pathologic_q", "pathologic Q waves", "are"))
TERRITORIES = {"inferior": "the inferior leads (II, III, aVF)", "high_lateral": "I and aVL",
               "septal": "V1-V2", "anterior": "V2-V4", "low_lateral": "V4-V6", "lateral": "the lateral leads"}
#: What a confounder does to the QRS and the repolarisation, in the words step 4 uses.
EXPECTED = {
    "CLBBB": "QS complexes in V1-V3 and ST-T changes opposite to the QRS are expected with {name} and are not a sign "
             "of infarction or ischemia",
    "PACE": "the paced QRS carries its own Q waves and ST-T changes, which are not read for infarction or ischemia",
    "criterion:paced_rhythm": "the paced QRS carries its own Q waves and ST-T changes, which are not read for "
                              "infarction or ischemia",
    "WPW": "delta waves mimic Q waves and move the ST-T segment with pre-excitation, so neither is read for infarction",
    "CRBBB": "T inversion and ST depression in the right precordial leads are expected with {name}",
}


class Refused(ValueError):
    """The record's key contradicts its rhythm or main diagnosis: no text is written."""


def _say(seed: str | None, slot: str, *options: str) -> str:
    """One of equivalent ``options``, chosen by a hash of the record's ``seed`` and the ``slot``
    (the first one without a seed)."""
    if seed is None:
        return options[0]
    return options[int.from_bytes(hashlib.blake2b(f"{seed}:{slot}".encode(), digest_size=2).digest(), "big")
                   % len(options)]


def _met(findings: dict, cid: str) -> bool | None:
    row = findings.get(cid)
    return None if row is None else row["positive"]


def _na(findings: dict, cid: str) -> str | None:
    return (findings.get(cid) or {}).get("confounder")


def _v(findings: dict, cid: str, unit: str) -> str:
    row = findings.get(cid)
    return fmt(row["value"] if row else None, unit)


def _borderline(findings: dict, cid: str) -> bool:
    return bool(_met(findings, cid)) and definite(cid, findings.get(cid)) is False


@cache
def _territory(criterion: str) -> tuple[tuple[str, str], ...]:
    return tuple((prefix, TERRITORIES[criterion[len(prefix) + 1:]]) for prefix, _, _ in TERRITORIAL
                 if criterion.startswith(f"{prefix}_") and criterion[len(prefix) + 1:] in TERRITORIES)


class _Writer:
    def __init__(self, features: dict, findings: dict, key: Key, varied: bool):
        self.f, self.fd, self.key = features, findings, key
        self.answer = {s.concept: s for s in key.answer}
        self.seed = f"{features.get('hr_bpm')}:{features.get('qrs_ms')}:{features.get('qt_ms')}" if varied else None

    def say(self, slot: str, *options: str) -> str:
        return _say(self.seed, slot, *options)

    def name(self, concept: str) -> str:
        return self.answer[concept].statement

    def has(self, *concepts: str) -> str | None:
        return next((c for c in concepts if c in self.answer), None)

    # -- step 1 ------------------------------------------------------------------------------
    def step1(self) -> str:
        f, fd = self.f, self.fd
        flags = [x.split(":")[0] for x in (f.get("quality_flags") or []) if ":" in x]
        n = fmt(f.get("n_leads_ok"), "leads")
        text = [f"Only {n} leads are usable: {', '.join(flags)} {'is' if len(flags) == 1 else 'are'} noisy or "
                "clipped." if flags else
                self.say("quality", f"Technical quality is good, with {n} usable leads.",
                         f"All {n} leads are usable.", f"The tracing is technically adequate, with {n} usable leads.")]
        hr = fmt(f.get("hr_bpm"), "bpm")
        if hr == NOT_MEASURABLE:
            text.append("The rate is not measurable.")
        else:
            rate = ("bradycardic" if _met(fd, "bradycardia") or (self.has("SBRAD") and _met(fd, "rate_below_60"))
                    else "below 60 bpm" if _met(fd, "rate_below_60")
                    else "tachycardic" if definite("tachycardia", fd.get("tachycardia"))
                    or (self.has("STACH") and _met(fd, "tachycardia"))
                    else "at the upper limit of normal" if _met(fd, "tachycardia") else "within the normal range")
            text.append(self.say("rate", f"The ventricular rate is {hr}, {rate}.", f"Heart rate {hr}, {rate}."))
        irregular, no_p = _met(fd, "irregular_rhythm"), _met(fd, "absent_p_waves")
        paced = self.has("PACE")
        if paced:
            share = max(f.get("pace_atrial_frac") or 0, f.get("pace_ventricular_frac") or 0)
            text.append(f"Pacemaker stimuli precede {fmt(share, 'fraction')} of the beats, a paced rhythm."
                        if _met(fd, "paced_rhythm") else f"{self.name(paced)[0].upper()}{self.name(paced)[1:]}: no "
                        "pacemaker stimulus is resolved at this sampling rate and filter.")
            return " ".join(text)
        if irregular is None or no_p is None:
            text.append("The rhythm cannot be classified: RR regularity or P waves are not measurable.")
            return " ".join(text)
        rr = f"RR intervals are {'irregular' if irregular else 'regular'} (normalised RMSSD {_v(fd, 'irregular_rhythm', 'ratio')})"
        premature = self.has("PVC", "PAC", "PRC(S)")
        rr += f", as premature complexes make them ({self.name(premature)})," if irregular and premature else ""
        rr_end = rr.rstrip(",")  # where the sentence goes on after it with a colon or a full stop
        p = f"P waves are found in a share of {_v(fd, 'absent_p_waves', 'fraction')} of beats"
        flutter = self.has("AFLT")
        if flutter and (no_p or _met(fd, "atrial_fibrillation_suspected")):
            text.append(f"{rr} and {p}: no sinus P wave precedes the QRS, and the atrial activity is read as "
                        f"{self.name(flutter)} with {'variable' if irregular else 'regular'} conduction.")
        elif _met(fd, "atrial_fibrillation_suspected") or (no_p and self.has("AFIB")):
            text.append(f"{rr} and {p}, so organised atrial activity is absent, consistent with "
                        f"{self.name('AFIB')}." if self.has("AFIB") else f"{rr} and {p}.")
        elif self.has("SARRH") and not irregular:
            text.append(f"The RR intervals vary from beat to beat and {p}, {self.name('SARRH')}.")
        elif flutter:
            text.append(f"{rr} and {p}; the atrial activity is read as {self.name(flutter)}.")
        elif no_p:
            text.append(f"{rr} but {p}, so a sinus mechanism cannot be confirmed.")
        elif _met(fd, "ectopic_atrial_rhythm"):
            text.append(f"{rr} and {p}, but the P axis is {fmt(self.f.get('p_axis_deg'), 'deg')}, outside the sinus "
                        "range of 0 to 90 deg, with an inverted P wave, consistent with an ectopic atrial rhythm.")
        else:
            sinus = self.has("SBRAD", "STACH", "SARRH", "SR")
            mechanism = self.name(sinus) if sinus else "a sinus mechanism"
            text.append(self.say("rhythm", f"{rr} and {p}, {mechanism}.",
                                 f"{p}, each before its QRS, and {rr_end}: {mechanism}.",
                                 f"{mechanism[0].upper()}{mechanism[1:]}: {rr_end}, and {p}."))
        return " ".join(text)

    # -- step 2 ------------------------------------------------------------------------------
    def step2(self) -> str:
        f, fd = self.f, self.fd
        axis = fmt(f.get("qrs_axis_deg"), "deg")
        if axis == NOT_MEASURABLE:
            text = ["The QRS axis is not measurable."]
        else:
            block = self.has("LAFB", "LPFB")
            cls = ("the axis of the paced beats, not classified" if _na(fd, "left_axis_deviation")
                   else "an extreme axis" if _met(fd, "extreme_axis")
                   else "a borderline leftward axis" if _borderline(fd, "left_axis_deviation") and not self.has("LAFB")
                   else "left axis deviation" if _met(fd, "left_axis_deviation")
                   else "a borderline rightward axis" if _borderline(fd, "right_axis_deviation")
                   and not self.has("LPFB", "RVH")
                   else "right axis deviation" if _met(fd, "right_axis_deviation") else "a normal axis")
            cls += f", as in {self.name(block)}" if block and _met(fd, "left_axis_deviation" if block == "LAFB"
                                                                    else "right_axis_deviation") else ""
            text = [self.say("axis", f"The frontal QRS axis is {axis}, {cls}.", f"QRS axis {axis}: {cls}.",
                             f"Frontal axis: {axis}, {cls}.")]
        pr = fmt(f.get("pr_ms"), "ms")
        if pr == NOT_MEASURABLE:
            text.append("The PR interval is not measurable.")
        else:
            cls = (f"prolonged, {self.name('1AVB')}" if _met(fd, "pr_prolonged") and self.has("1AVB")
                   else "prolonged" if _met(fd, "pr_prolonged") and self.has("LPR")
                   else "borderline prolonged" if _met(fd, "pr_prolonged")
                   else f"below {fmt(fd['pr_short']['threshold'], 'ms')}" if _met(fd, "pr_short") else "normal")
            text.append(self.say("pr", f"The PR interval is {pr}, {cls}.", f"PR {pr}, {cls}.",
                                 f"A PR interval of {pr} is {cls}."))
        qrs = _v(fd, "wide_qrs", "ms")
        if qrs == NOT_MEASURABLE:
            text.append("QRS duration is not measurable.")
        else:
            block = self.has("CLBBB", "CRBBB", "IVCD", "WPW")
            incomplete = self.has("IRBBB", "ILBBB", "IVCD")
            cls = ("wide, as paced beats are" if _met(fd, "wide_qrs") and self.has("PACE")
                   else f"wide, in keeping with {self.name(block)}" if _met(fd, "wide_qrs") and block
                   else "wide" if _met(fd, "wide_qrs")
                   else f"of intermediate width, in keeping with {self.name(incomplete)}"
                   if _met(fd, "qrs_intermediate") and incomplete
                   else "at the upper limit of normal width" if _met(fd, "qrs_intermediate")
                   else "narrow")
            glob = fmt(f.get('qrs_ms'), 'ms')
            text.append(self.say("qrs", f"The QRS lasts {qrs} in the median lead ({glob} from the earliest onset "
                                 f"to the latest offset), {cls}.",
                                 f"QRS duration {qrs} (median lead; {glob} globally), {cls}.",
                                 f"The QRS complex is {cls}, {qrs} in the median lead and {glob} over all leads."))
        rsr = _met(fd, "rsr_prime_v1")
        if qrs != NOT_MEASURABLE and incomplete and not _met(fd, "qrs_intermediate") and not _met(fd, "wide_qrs"):
            text.append(f"V1 shows the rsR' form of {self.name(incomplete)} on a QRS below 110 ms." if rsr else
                        f"With a QRS below 110 ms, {self.name(incomplete)} rests on the QRS form alone.")
        elif rsr is not None and (rsr or self.has("CRBBB", "IRBBB")):
            text.append("V1 shows a terminal r' wave (rsR')." if rsr else "There is no rsR' pattern in V1.")
        return " ".join(t for t in text if t)

    # -- step 3 ------------------------------------------------------------------------------
    def step3(self) -> str:
        fd = self.fd
        voltage = f"Sokolow-Lyon voltage is {_v(fd, 'sokolow_lyon', 'mV')} and Cornell voltage {_v(fd, 'cornell_voltage', 'mV')}"
        lvh, confounder = self.has("LVH", "VCLVH"), _na(fd, "lvh_voltage")
        met = _met(fd, "lvh_voltage")
        young = met is False and (fd.get("lvh_voltage") or {}).get("min_age") is not None \
            and ((fd["lvh_voltage"].get("value") or 0) >= fd["lvh_voltage"]["threshold"])
        if confounder:
            text = [(f"{voltage}; voltage criteria for left ventricular hypertrophy do not apply with "
                     f"{confounder_name(confounder)}.")]
        elif met is None:
            text = [f"{voltage}; voltage criteria for left ventricular hypertrophy cannot be assessed."]
        elif met:
            text = [f"{voltage}, so voltage criteria for left ventricular hypertrophy are met"
                    + (f", consistent with {self.name(lvh)}." if lvh else
                       "; voltage alone, without repolarisation change, may be a normal variant.")]
        elif young:
            text = [(f"{voltage}: QRS voltage is high, but below {fmt(fd['lvh_voltage']['min_age'], 'years')} of "
                     "age voltage alone is not specific for left ventricular hypertrophy.")]
        else:
            text = [self.say("lvh", f"{voltage}, so no voltage criterion for left ventricular hypertrophy is met"
                             + (f"; {self.name(lvh)} rests on other signs." if lvh else "."),
                             f"No LVH voltage criterion is met ({voltage})"
                             + (f"; {self.name(lvh)} rests on other signs." if lvh else "."))]
        if _met(fd, "ravl_voltage") and not _na(fd, "ravl_voltage"):
            text.append(f"R in aVL is {_v(fd, 'ravl_voltage', 'mV')}, above {fmt(fd['ravl_voltage']['threshold'], 'mV')}, "
                        "which a leftward frontal axis alone can produce.")
        if _met(fd, "low_voltage"):
            text.append(f"Limb lead QRS amplitudes reach at most {_v(fd, 'low_voltage', 'mV')}, low voltage.")
        if _met(fd, "peaked_p"):
            text.append(f"The P wave in II is {_v(fd, 'peaked_p', 'mV')} tall"
                        + (", borderline." if _borderline(fd, "peaked_p") else ", peaked, suggesting right atrial abnormality."))
        wide_p = _met(fd, "wide_p")
        atrial = self.has("LAO/LAE")
        if wide_p is not None and (wide_p or atrial):
            text.append(f"The P wave lasts {_v(fd, 'wide_p', 'ms')} in lead II"
                        + (f", wide, consistent with {self.name(atrial)}." if wide_p and atrial else "."))
        return " ".join(text)

    # -- step 4 ------------------------------------------------------------------------------
    def step4(self) -> str:
        fd = self.fd
        text: list[str] = []
        confounders = dict.fromkeys(c for c in (fd.get(k, {}).get("confounder") for k in fd) if c)
        for c in confounders:
            if c in EXPECTED:
                said = EXPECTED[c].format(name=confounder_name(c))
                text.append(f"{said[0].upper()}{said[1:]}.")
        quiet = []
        for prefix, what, verb in TERRITORIAL:
            rows = [(k, text_) for k in fd for p, text_ in _territory(k) if p == prefix]
            open_ = [(k, t) for k, t in rows if not _na(fd, k)]
            if not open_:
                continue
            where = [t for k, t in open_ if _met(fd, k)]
            unknown = [t for k, t in open_ if _met(fd, k) is None]
            if where:
                text.append(f"{what[0].upper()}{what[1:]} {verb} present in {' and '.join(where)}.")
            elif unknown and len(unknown) == len(open_):
                text.append(f"{what[0].upper()}{what[1:]} cannot be assessed.")
            elif unknown:
                text.append(f"No {what} {verb} seen in two contiguous leads; {' and '.join(unknown)} cannot be assessed.")
            else:
                quiet.append(what)
        for what in quiet:
            verb = "are" if what.endswith("s") else "is"
            text.append(self.say(what, f"No {what} {verb} seen in two contiguous leads.",
                                 f"There {verb} no {what} in two contiguous leads.",
                                 f"{what[0].upper()}{what[1:]} {verb} absent in contiguous leads."))
        for s in self.key.answer:
            rows = by_concept().get(s.concept, ())
            q = [r.criterion for r in rows if r.criterion.startswith(("pathologic_q", "st_", "t_inversion"))]
            if not q and _group(s.concept) != "repolarisation":
                continue
            supported = [c for c in q if _met(fd, c) and not _na(fd, c)]
            if q and all(_na(fd, c) for c in q):
                text.append(f"With {confounder_name(_na(fd, q[0]))}, {self._list(sorted({_what(c) for c in q}))} "
                            f"cannot show it, so the {s.statement} remains unconfirmed.")
            elif s.status == "hedged" and q and not supported:
                text.append(f"Without {self._list(sorted({_what(c) for c in q}))} in its leads, the "
                            f"{s.statement} remains unconfirmed.")
            elif supported:
                text.append(self.say(s.concept, f"These are consistent with {s.statement}.",
                                     f"This supports {s.statement}."))
            elif _group(s.concept) == "repolarisation":
                deviated = any(_met(fd, k) and not _na(fd, k) for k in fd if k.startswith(("st_", "t_inversion")))
                text.append(f"The ST-T changes are consistent with {s.statement}." if deviated else
                            f"{s.statement[0].upper()}{s.statement[1:]}: no ST deviation or T inversion reaches the "
                            "territorial thresholds.")
        return " ".join(text)

    @staticmethod
    def _list(items: list[str]) -> str:
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]

    # -- step 5 ------------------------------------------------------------------------------
    def step5(self) -> str:
        fd = self.fd
        qtc = _v(fd, "qtc_prolonged", "ms")
        if qtc == NOT_MEASURABLE:
            text = ["The QT interval is not measurable."]
        else:
            confounder = _na(fd, "qtc_prolonged")
            cls = ("which the wide QRS lengthens, so the QTc limits do not apply" if confounder
                   else f"prolonged, {self.name('LNGQT')}" if _met(fd, "qtc_prolonged") and self.has("LNGQT")
                   else "borderline prolonged" if _met(fd, "qtc_prolonged")
                   else "short" if _met(fd, "qtc_short") else "normal")
            text = [self.say("qt", f"The QT interval is {fmt(self.f.get('qt_ms'), 'ms')} with a QTc of {qtc} "
                             f"(Framingham correction), {cls}.",
                             f"QT {fmt(self.f.get('qt_ms'), 'ms')}, QTc {qtc} by Framingham, {cls}.",
                             f"The Framingham QTc is {qtc} (QT {fmt(self.f.get('qt_ms'), 'ms')}), {cls}.")]
        tall = _met(fd, "peaked_t")
        if tall:
            text.append(f"The tallest T wave in V2-V4 is {_v(fd, 'peaked_t', 'mV')}"
                        + (", tall, a pattern that can accompany hyperkalemia." if self.has("EL")
                           else ", tall but without other signs of an electrolyte disorder."))
        return " ".join(text)

    # -- step 6 and the summary ----------------------------------------------------------------
    def step6(self) -> str:
        answer = [s.statement for s in self.key.answer]
        if not answer:
            return "No diagnostic statement follows from the measurements."
        lead, rest = answer[0], answer[1:]
        hedged = [s.statement for s in self.key.answer if s.status == "hedged"]
        added = [s.statement for s in self.key.answer if s.status == "added"]
        text = [self.say("synthesis", f"Taken together, the tracing shows: {'; '.join(answer)}.",
                         f"The findings add up to: {'; '.join(answer)}.",
                         f"In summary, {lead}" + (f"; with it: {'; '.join(rest)}." if rest else "."))]
        for s in added:
            text.append(f"The measured {s} is part of the conclusion.")
        for s in hedged:
            text.append(f"{s[0].upper()}{s[1:]} cannot be confirmed from the measurements alone.")
        return " ".join(text)

    def summary(self) -> str:
        f = self.f
        answer = [s.statement for s in self.key.answer]
        rhythm = next((s.statement for s in self.key.answer if _group(s.concept) == "rhythm"), None)
        others = [a for a in answer if a != rhythm]
        parts = [f"{rhythm[0].upper()}{rhythm[1:]} at {fmt(f.get('hr_bpm'), 'bpm')}" if rhythm
                 else f"A rate of {fmt(f.get('hr_bpm'), 'bpm')}"]
        parts.append(f"QRS {_v(self.fd, 'wide_qrs', 'ms')} and QTc {_v(self.fd, 'qtc_prolonged', 'ms')}")
        return (self.say("summary", "; ".join(parts) + ". ", ", ".join(parts) + ". ",
                         f"{parts[1]}, with {parts[0][0].lower()}{parts[0][1:]}. ")
                + (self.say("conclusion", f"Conclusion: {'; '.join(others)}.", f"Impression: {'; '.join(others)}.",
                            f"Overall, {'; '.join(others)}.") if others else "No further abnormality is stated."))


@cache
def _group(concept: str) -> str:
    """``rhythm``, ``repolarisation`` (an ST or T statement) or ''."""
    if categories().get(concept) == "rhythm":
        return "rhythm"
    name = concepts().get(concept, "")
    return "repolarisation" if any(w in name for w in ("ST", "T-wave", "T abnormal", "ischemic", "injury")) else ""


def _what(criterion: str) -> str:
    return next(what for prefix, what, _ in TERRITORIAL if criterion.startswith(prefix))


def write(features: dict, findings: dict[str, dict], key: Key, varied: bool = True) -> str:
    """The interpretation of one record. ``findings`` maps criterion id to its findings row
    (with its ``confounder``); ``key`` is the record's reconciled answer key; ``varied=False``
    words every sentence in its first phrasing (a bench that edits the writer's sentences).

    Raises :class:`Refused` with the reason when the key is discordant."""
    if key.conflicts:
        raise Refused("discordant: the measurements contradict the rhythm or main diagnosis: " + "; ".join(key.conflicts))
    w = _Writer(features, findings, key, varied)
    paragraphs = [w.step1(), w.step2(), w.step3(), w.step4(), w.step5(), w.step6()]
    said = " ".join(paragraphs[:5]).lower()
    for s in key.answer:
        name = concepts().get(s.concept, s.concept).lower()
        measured = any(_met(findings, r.criterion) for r in by_concept().get(s.concept, ())
                       if r.relation in ("expects", "supports"))  # low voltage: said where it is measured
        if s.concept != "NORM" and not measured and name not in said and s.statement.lower() not in said:
            step = 2 if categories().get(s.concept) == "diagnostic" and "hypertrophy" in name else 3
            unmeasured = [r.criterion for r in by_concept().get(s.concept, ())
                          if r.relation == "expects" and _met(findings, r.criterion) is None]
            said_of = (f"cannot be confirmed: {by_id()[unmeasured[0]].description.split(' (')[0]} is not measurable"
                       if unmeasured else "is read from the form of the complexes, which no protocol criterion measures")
            paragraphs[step] = f"{paragraphs[step]} {s.statement[0].upper()}{s.statement[1:]} {said_of}.".strip()
    paragraphs[3] = paragraphs[3] or "No territorial finding is measured."
    think = "\n".join(f"**{s.heading}**\n{p}" for s, p in zip(STEPS, paragraphs))
    answer = "; ".join(s.statement for s in key.answer)
    return f"<think>\n{think}\n</think>\n{w.summary()}\n<answer>{answer}</answer>"
