"""Answer audit: an independent reading of the accepted corpus answers, per half (bench/halves.py).

Runs the stages ingest -> validate on ../shared/data/ptbxl-sample with the rules backend (the
texts FeatureDB and the protocol alone support), or reads a warehouse (``--warehouse``), and reads
the ``corpus`` answers with a vocabulary of its own: nothing of curation/, prompts/ or protocol/
(the checker, the writer, the rules under test). For the tuning half, the check half and the
whole sample it prints the metrics against their targets, then the record ids of each failing rule:

2. answers a measurement contradicts (hedged statements included); 3. strong measurements the
   answer is silent about (a hedged statement counts as said);
4. a PTB-XL diagnostic statement of likelihood 15 or 35 stated unhedged: codes through
   :data:`CODE_CONCEPTS`, any other diagnostic code by its scp_statements description as a whole
   phrase of a statement (a reworded one is missed), unless a code of likelihood >= 50 states it;
5. an unhedged MI with no Q wave >= 30 ms or QS complex (R < 0.05 mV, Q/S >= 0.1 mV deep) in any
   lead of its territories (all of them without one; posterior alone is not checked);
6. unhedged LVH with Sokolow-Lyon and Cornell measured and no voltage criterion met;
7. patch sentences: a criterion "not met" that "does not exclude" a diagnosis (distinct per sample);
8. the most common sentence of reasoning and summary (numbers masked, headings dropped);
9. retention of readable records (ingest ok, signal measurable; duplicates and a subject's further
   ECGs left out by design); per cardiologists' label (diagnostic codes with likelihood >= 50, every
   rhythm/form code, :data:`LABEL_GROUPS` merged: the classes of the old report) with the ids lost;
   abnormal records (any statement besides NORM and SR) against normal ones.

A statement names the :data:`CONCEPTS` it matches, except after a negation word ("no evidence of
LBBB"); an "incomplete"/"partial" bundle branch block is not complete; a :data:`HEDGE` marker
hedges it. "Both" QRS measures: the global and the median-lead QRS, those measured.

    python bench/answer_audit.py [--data ../shared/data] [--warehouse PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from halves import HALVES, ptbxl_halves
from protocol_ptbxl import DEFAULT_DATA, statements

from sources.ptbxl import parse_scp_codes
from stages.stage import get
from warehouse import Warehouse

STAGES = ("ingest", "features", "findings", "select", "prompts", "generate", "validate")

#: Hedge markers: a statement with one is hedged (these phrases never read as a negation).
HEDGE = re.compile(r"\b(?:possib(?:le|ly)|probab(?:le|ly)|consider(?:ed)?|suspect(?:ed)?|suspicious (?:of|for)|"
                   r"can(?:not|'t| not) (?:be )?(?:excluded?|ruled? out)|not (?:be )?(?:excluded|ruled out)|"
                   r"borderline|likely|questionable|equivocal|may|might)\b|\?")
#: A concept after one of these words in its statement is negated.
NEGATION = re.compile(r"\b(?:no|not|without|absent|absence|negative for|unlikely|ruled out|excluded|resolved)\b")
#: Answer concepts (lower-cased statement). clbbb/crbbb come from BBB; MI territories from TERRITORY.
CONCEPTS = {
    "bbb": r"\b[bt]ifascicular block",
    "ivcd": r"intraventricular conduction (?:delay|disturbance|defect|block)|\bn?ivcd\b|\b(?:wide|broad)(?:ned)? qrs"
            r"|\bqrs (?:widening|prolongation)|\bprolonged qrs",
    "paced": r"\bpac(?:ed|ing|emaker)\b",
    "ventricular": r"\b(?:idio)?ventricular (?:rhythm|tachycardia|escape)|\bidioventricular\b|\bvt\b",
    "preexcitation": r"\bwpw\b|\bwolf{1,2}[ -]parkinson|\bpre-?excitation|\bdelta wave",
    "1avb": r"\b(?:first|1st)[ -]degree (?:av |a-v |atrioventricular )?(?:heart )?block|\b1avb\b"
            r"|\b(?:prolonged|long) pr\b|\bpr(?: interval)? (?:prolongation|prolonged)",
    "avb": r"\b(?:av|a-v|atrioventricular|heart) block|\b[123]avb\b|\bav dissociation",
    "af": r"\batrial (?:fibrillation|flutter)|\bflutter\b|\ba-?fib\b|\baf(?:l|lt)?\b",
    "brady": r"brady",
    "tachy": r"tachy|rapid ventricular response|\brvr\b",
    "lqt": r"\b(?:long|prolonged|lengthened) qtc?\b|\bqtc?(?:[ -]interval)? (?:prolongation|prolonged|lengthening)"
           r"|\blngqt\b",
    "normal": r"\bnormal (?:ecg|ekg|electrocardiogram|tracing)\b|\bwithin normal limits",
    "mi": r"infarct|\bn?stemi\b|\bmi\b",
    "lvh": r"\bleft ventricular (?:hypertrophy|enlargement)|\blvh\b",
}
#: Bundle branch block, complete unless "incomplete"/"partial" (groups 1, 3) or ilbbb/irbbb (group 4);
#: side: group 2 or 5 (none: "bbb" alone).
BBB = re.compile(r"\b(incomplete |partial )?(?:complete )?(?:(left|right) )?bundle[ -]branch block"
                 r"|\b(incomplete |partial )?(?:complete )?([ic])?([lr])bbb\b")
TERRITORY = {"inferior": r"infer(?:ior|o)", "anterior": r"anter(?:ior|o)|septal|apical", "lateral": r"lateral",
             "posterior": r"poster(?:ior|o)"}
#: Q-wave leads per MI territory (Fourth Universal Definition of MI, Thygesen et al., Circulation 2018;
#: 138:e618: contiguous lead groups); posterior MI shows no Q wave in the 12 standard leads.
TERRITORY_LEADS = {"inferior": ("II", "III", "aVF"), "anterior": ("V1", "V2", "V3", "V4"),
                   "lateral": ("I", "aVL", "V5", "V6")}
WIDE = {"bbb", "ivcd", "paced", "ventricular", "preexcitation"}
_MI = ("mi",)
#: PTB-XL statement -> the answer concepts that state it (rule 4; other diagnostic codes by description).
CODE_CONCEPTS = {
    "NORM": ("normal",), "IMI": _MI + ("mi:inferior",), "ILMI": _MI + ("mi:inferior", "mi:lateral"),
    "IPMI": _MI + ("mi:inferior", "mi:posterior"), "IPLMI": _MI + ("mi:inferior", "mi:posterior", "mi:lateral"),
    "AMI": _MI + ("mi:anterior",), "ASMI": _MI + ("mi:anterior",), "ALMI": _MI + ("mi:anterior", "mi:lateral"),
    "LMI": _MI + ("mi:lateral",), "PMI": _MI + ("mi:posterior",), "LVH": ("lvh",), "VCLVH": ("lvh",),
    "CLBBB": ("clbbb",), "CRBBB": ("crbbb",), "1AVB": ("1avb",), "LPR": ("1avb",), "LNGQT": ("lqt",),
    "AFIB": ("af",), "AFLT": ("af",), "SBRAD": ("brady",), "STACH": ("tachy",), "WPW": ("preexcitation",),
    "PACE": ("paced",), "IVCD": ("ivcd",),
}
UNCERTAIN = (15.0, 35.0)  # PTB-XL's likelihoods below "stated" (Wagner et al., Sci Data 2020;7:154)
#: Cardiologists' labels merged for retention (rule 9); every other code is a label of its own.
LABEL_GROUPS = {"AFIB/AFLT": ("AFIB", "AFLT"), "inferior MI": ("IMI", "ILMI", "IPMI", "IPLMI"),
                "anterior MI": ("AMI", "ASMI", "ALMI"), "LVH": ("LVH", "VCLVH")}
#: Thresholds (ms, bpm, mV, shares). Sources: S09 = AHA/ACCF/HRS 2009 part III, Surawicz et al., Circulation
#: 119:e235; K18 = ACC/AHA/HRS 2018 bradycardia guideline, Kusumoto et al., Circulation 140:e382; R09 = part IV,
#: Rautaharju et al., Circulation 119:e241; T18 = Fourth Universal Definition of MI, Thygesen et al., Circulation
#: 138:e618; brief = the audit brief's margins.
LIMIT = {
    "bbb_qrs_ms": 110.0,  # complete BBB: QRS >= 120 (S09), 10 ms spread between the two measures (brief)
    "avb_pr_ms": 190.0,  # first-degree AV block: PR > 200 (K18), 10 ms margin (brief)
    # AF: irregular RR, no distinct P waves (ESC 2020, Hindricks et al., EHJ 42:373); cut-offs: brief
    "af_rr_cv": 0.05, "af_p_frac": 0.8,
    # bradycardia < 60 (K18), sinus tachycardia > 100 bpm (2015 SVT guideline, Page et al., Circulation
    # 133:e506); 5 bpm margins (brief)
    "brady_hr": 65.0, "tachy_hr": 95.0,
    "lqt_qtc_ms": 440.0,  # long QTc >= 450 men / 460 women, linear correction advised (R09); 10 ms margin (brief)
    # "normal ECG": QRS < 120 (S09), PR <= 200 (K18), 60-100 bpm, QTc < 460 (R09); margins (brief)
    "normal_qrs_ms": 120.0, "normal_pr_ms": 220.0, "normal_hr": (45.0, 110.0), "normal_qtc_ms": 480.0,
    "irregular_nrmssd": 0.10, "no_p_frac": 0.5,  # irregular without P waves (brief)
    # strong findings an answer must name: the limits above with wider margins (brief)
    "wide_qrs_ms": 130.0, "long_pr_ms": 240.0, "slow_hr": 50.0, "fast_hr": 110.0, "af_p_absent_frac": 0.3,
    "long_qtc_ms": 490.0, "long_qtc_max_qrs_ms": 120.0,
    "q_ms": 30.0, "qs_depth_mv": 0.10,  # pathologic Q >= 30 ms, 0.1 mV deep, or QS (T18)
    "qs_r_mv": 0.05,  # no R wave: below 0.05 mV (brief; FeatureDB's own R minimum is 0.03)
    # Sokolow-Lyon SV1 + RV5/V6 >= 3.5 (Sokolow & Lyon, Am Heart J 1949;37:161); Cornell RaVL + SV3 > 2.8 men,
    # > 2.0 women (Casale et al., JACC 1985;6:572; unknown sex: 2.0); R aVL > 1.1 (Hancock et al., part V, e251)
    "sokolow_mv": 3.5, "cornell_mv": {"M": 2.8, "F": 2.0}, "ravl_mv": 1.1,
}
#: Rules 2-7: key -> (section, what); their targets are shares of samples (:data:`SHARES`).
RULES = {
    "bbb_narrow": ("2", "complete BBB, QRS < 110 ms (both)"), "avb_short": ("2", "1st-degree AV block, PR < 190 ms"),
    "af_regular": ("2", "AF/flutter, regular with P waves"), "brady_rate": ("2", "bradycardia, HR >= 65"),
    "tachy_rate": ("2", "tachycardia, HR <= 95"), "lqt_short": ("2", "long QT, QTc < 440 ms"),
    "normal_abnormal": ("2", "normal ECG, an abnormal measure"),
    "wide_silent": ("3", "QRS >= 130 ms (both), no wide-QRS cause"), "pr_silent": ("3", "PR >= 240 ms, no AV block"),
    "slow_silent": ("3", "HR < 50, no bradycardia"), "fast_silent": ("3", "HR > 110, no tachycardia/AF"),
    "af_silent": ("3", "irregular, P < 30 %, no AF/flutter"), "lqt_silent": ("3", "QTc >= 490, QRS < 120, no long QT"),
    "uncertain": ("4", "likelihood 15/35 stated without hedge"), "mi_no_q": ("5", "MI, no Q/QS in territory"),
    "lvh_no_voltage": ("6", "LVH, no voltage criterion"), "patch": ("7", "patch sentences"),
}
#: The targets over samples: (rules counted together, what, most share of the accepted samples).
SHARES = (("2+3", ("2", "3"), "contradicted by or silent on a measurement", 0.02),
          ("4", ("4",), "uncertain stated as definite", 0.0),
          ("5+6", ("5", "6"), "MI without Q/QS or LVH without voltage", 0.05),
          ("7", ("7",), "with a patch sentence", 0.0))
#: Sections 8 and 9: key -> (section, what, op, target); targets from the audit brief.
TARGET = {"top_sentence_share": ("8", "most common sentence, share of samples", "<=", 0.5),
          "readable_kept": ("9", "readable records kept", ">=", 0.85),
          "label_kept_min": ("9", "lowest kept share of a label (n >= 3)", ">=", 0.6),
          "abnormal_normal_ratio": ("9", "kept rate, abnormal / normal", ">=", 0.9)}
PATCH = (re.compile(r"\bdo(?:es)? not (?:exclude|rule out)\b|\bdoesn't (?:exclude|rule out)\b", re.IGNORECASE),
         re.compile(r"\bnot (?:be )?(?:met|fulfilled|reached|satisfied)\b|criteri", re.IGNORECASE))
#: What is read of ``features`` and ``lead_features`` (check() unpacks the first seven in this order).
FEATURES = ("hr_bpm", "pr_ms", "qtc_framingham_ms", "qrs_ms", "qrs_lead_ms", "rr_nrmssd", "p_present_frac",
            "rr_sd_ms", "rr_mean_ms")
LEAD_FEATURES = ("q_dur_ms", "q_amp_mv", "r_amp_mv", "s_amp_mv")
HEADING = re.compile(r"\*\*Step \d+:[^*\n]*\*\*")
NUMBER = re.compile(r"[-+\u2212]?\d+(?:[.,]\d+)?")


def build(root: Path, data: Path) -> Warehouse:
    """The stages ingest -> validate on a fresh warehouse under ``root`` (rules backend)."""
    wh = Warehouse(root)
    params = {"ingest": {"sources": {"ptbxl": str(data / "ptbxl-sample")}}, "select": {"target": 1000},
              "generate": {"llm": {"backend": "rules"}}, "validate": {"llm": {"backend": "rules"}}}
    for name in STAGES:
        stage = get(name)
        stage.run(wh, stage.params(**params.get(name, {})), False)
    return wh


def read(statement: str) -> tuple[set[str], bool]:
    """The concepts a statement names (negated ones left out) and whether it is hedged."""
    s = statement.strip().lower()
    hedged = HEDGE.search(s) is not None
    s = HEDGE.sub(lambda m: " " * len(m.group()), s)  # same offsets, no negation read from a hedge

    def said(m: re.Match) -> bool:
        return NEGATION.search(s, 0, m.start()) is None

    out = {c for c, rx in CONCEPTS.items() if any(map(said, re.finditer(rx, s)))}
    for m in filter(said, BBB.finditer(s)):
        if not (m.group(1) or m.group(3) or m.group(4) == "i"):
            side = m.group(2) or m.group(5) or ""
            out |= {"bbb"} | ({"clbbb"} if side.startswith("l") else {"crbbb"} if side.startswith("r") else set())
    if "mi" in out:
        out |= {f"mi:{t}" for t, rx in TERRITORY.items() if re.search(rx, s)}
    return out, hedged


def _num(v) -> float:
    return math.nan if v is None else float(v)


def _both(a: float, b: float, test) -> bool:
    """``test`` holds for every measured one of two values, and one is measured."""
    vals = [v for v in (a, b) if not math.isnan(v)]
    return bool(vals) and all(map(test, vals))


def sentences(text: str) -> tuple[list[str], list[str]]:
    """The sentences of the reasoning and the summary (step headings dropped), and the same masked."""
    think = text.split("<think>", 1)[-1].split("</think>", 1)
    summary = think[1].split("<answer>", 1)[0] if len(think) > 1 else ""
    body = HEADING.sub("\n", think[0] + "\n" + summary)
    out = [s.strip() for line in body.splitlines() for s in re.split(r"(?<=[.!?])\s+", line) if s.strip()]
    return out, [NUMBER.sub("#", s) for s in out]


def check(text: str, f: dict, leads: dict[str, dict], sex: str | None, codes: dict[str, float],
          descriptions: dict[str, str]) -> dict[str, str]:
    """Rule key -> what was measured, for every rule of :data:`RULES` the sample breaks."""
    answer = re.search(r"<answer>(.*?)</answer>", text, re.DOTALL)
    stmts = [(s.strip(), *read(s)) for s in (answer[1] if answer else "").split(";")]
    said = set().union(*(c for _, c, _ in stmts))
    definite = set().union(*(c for _, c, h in stmts if not h))
    hr, pr, qtc, qrs, qrs_lead, nrmssd, p = (f[k] for k in FEATURES[:7])
    cv, L = f["rr_sd_ms"] / f["rr_mean_ms"] if f["rr_mean_ms"] else math.nan, LIMIT  # RR coefficient of variation
    rr, irregular = f"nRMSSD {nrmssd:.2f}, P {p:.2f}", nrmssd > L["irregular_nrmssd"]
    txt = {"qrs": f"QRS {qrs:.0f}/{qrs_lead:.0f}", "pr": f"PR {pr:.0f}", "hr": f"HR {hr:.0f}", "qtc": f"QTc {qtc:.0f}"}
    abnormal = {"qrs": _both(qrs, qrs_lead, lambda v: v >= L["normal_qrs_ms"]), "pr": pr > L["normal_pr_ms"],
                "hr": hr < L["normal_hr"][0] or hr > L["normal_hr"][1], "qtc": qtc >= L["normal_qtc_ms"]}
    why = [txt[k] for k, v in abnormal.items() if v] + [rr] * (irregular and p < L["no_p_frac"])
    tests = {  # rule -> (broken, what was measured)
        "bbb_narrow": (said & {"clbbb", "crbbb"} and _both(qrs, qrs_lead, lambda v: v < L["bbb_qrs_ms"]), txt["qrs"]),
        "avb_short": ("1avb" in said and pr < L["avb_pr_ms"], txt["pr"]),
        "af_regular": ("af" in said and cv < L["af_rr_cv"] and p >= L["af_p_frac"], f"RR CV {cv:.3f}, P {p:.2f}"),
        "brady_rate": ("brady" in said and hr >= L["brady_hr"], txt["hr"]),
        "tachy_rate": ("tachy" in said and hr <= L["tachy_hr"], txt["hr"]),
        "lqt_short": ("lqt" in said and qtc < L["lqt_qtc_ms"], txt["qtc"]),
        "normal_abnormal": ("normal" in said and why, ", ".join(why)),
        "wide_silent": (_both(qrs, qrs_lead, lambda v: v >= L["wide_qrs_ms"]) and not said & WIDE, txt["qrs"]),
        "pr_silent": (pr >= L["long_pr_ms"] and not said & {"avb", "1avb"}, txt["pr"]),
        "slow_silent": (hr < L["slow_hr"] and "brady" not in said, txt["hr"]),
        "fast_silent": (hr > L["fast_hr"] and not said & {"tachy", "af"}, txt["hr"]),
        "af_silent": (irregular and p < L["af_p_absent_frac"] and "af" not in said, rr),
        "lqt_silent": (qtc >= L["long_qtc_ms"] and _both(qrs, qrs_lead, lambda v: v < L["long_qtc_max_qrs_ms"])
                       and "lqt" not in said, txt["qtc"]),
    }
    out = {k: v for k, (broken, v) in tests.items() if broken}
    # 4: uncertain statements stated definitely
    certain = {c for k, lik in codes.items() if k not in descriptions or lik >= 50 for c in CODE_CONCEPTS.get(k, ())}
    weak = []
    for k, lik in codes.items():
        if k in descriptions and lik in UNCERTAIN:
            phrase = rf"(?<![\w-]){re.escape(descriptions[k].lower())}(?![\w-])"
            if ((set(CODE_CONCEPTS[k]) - certain) & definite if k in CODE_CONCEPTS
                    else any(not h and re.search(phrase, s.lower()) for s, _, h in stmts)):
                weak.append(f"{k} {lik:.0f}")
    if weak:
        out["uncertain"] = ", ".join(weak)
    # 5: MI without Q/QS in its territory; 6: LVH without voltage
    for s, c, h in stmts:
        terr = {t[3:] for t in c if t.startswith("mi:")}
        if "mi" not in c or h or terr == {"posterior"}:
            continue
        names = [ld for t in (terr - {"posterior"} or TERRITORY_LEADS) for ld in TERRITORY_LEADS[t]]
        if not any(ld["q_dur_ms"] >= L["q_ms"] or (ld["r_amp_mv"] < L["qs_r_mv"] and  # a Q wave or QS
                                                   min(ld["q_amp_mv"], ld["s_amp_mv"]) <= -L["qs_depth_mv"])
                   for ld in (leads[n] for n in names if n in leads)):
            out["mi_no_q"] = s
    if "lvh" in definite and leads:
        amp = {(n, w[0]): abs(v[w]) for n, v in leads.items() for w in ("r_amp_mv", "s_amp_mv")}
        r56 = [v for v in (amp.get(("V5", "r"), math.nan), amp.get(("V6", "r"), math.nan)) if not math.isnan(v)]
        sokolow = amp.get(("V1", "s"), math.nan) + max(r56, default=math.nan)
        ravl = amp.get(("aVL", "r"), math.nan)
        cornell = ravl + amp.get(("V3", "s"), math.nan)
        if not (sokolow >= L["sokolow_mv"] or cornell > L["cornell_mv"].get(sex, L["cornell_mv"]["F"])
                or ravl > L["ravl_mv"]) and not math.isnan(sokolow + cornell):
            out["lvh_no_voltage"] = f"Sokolow {sokolow:.2f}, Cornell {cornell:.2f}, R aVL {ravl:.2f} ({sex})"
    if patches := {s for s in sentences(text)[0] if PATCH[0].search(s) and PATCH[1].search(s)}:
        out["patch"] = str(len(patches))
    return out


def load(wh: Warehouse, sample: Path) -> pl.DataFrame:
    """One row per record: selection code, the corpus text, the measurements, leads, codes and flags."""
    db = pl.read_csv(sample / "ptbxl_database.csv", infer_schema_length=0)
    scp = pl.read_csv(sample / "scp_statements.csv", infer_schema_length=0)
    descriptions = dict(scp.filter(pl.col("diagnostic") == "1.0").select(scp.columns[0], "description").rows())
    codes = {f"ptbxl:{int(i):05d}": parse_scp_codes(s) for i, s in zip(db["ecg_id"], db["scp_codes"])}
    leads: dict[str, dict] = {}
    for r in wh.sql(f"SELECT record_id, lead, {', '.join(LEAD_FEATURES)} FROM lead_features").iter_rows(named=True):
        leads.setdefault(r["record_id"], {})[r["lead"]] = {k: _num(r[k]) for k in LEAD_FEATURES}
    df = (wh.sql("SELECT r.record_id, r.status, r.sex, s.code FROM records r LEFT JOIN selection s USING (record_id)")
          .join(wh.sql("SELECT record_id, interpretation FROM corpus"), on="record_id", how="left")
          .join(statements(sample).select("record_id", "statements"), on="record_id", how="left"))
    feats = {r["record_id"]: {k: _num(r[k]) for k in FEATURES}
             for r in wh.sql(f"SELECT record_id, {', '.join(FEATURES)} FROM features").iter_rows(named=True)}
    flags = [check(r["interpretation"], feats[r["record_id"]], leads.get(r["record_id"], {}), r["sex"],
                   codes.get(r["record_id"], {}), descriptions) if r["interpretation"] else None
             for r in df.iter_rows(named=True)]
    return df.with_columns(flags=pl.Series(flags, dtype=pl.Object))


def report(df: pl.DataFrame, title: str) -> dict[str, float]:
    """Print the table of one half and return its metrics."""
    acc = df.filter(pl.col("interpretation").is_not_null())
    print(f"=== {title}: {df.height} records, {acc.height} accepted samples ===")
    codes = df.group_by("code").len().sort("len", "code", descending=True)
    print("selection: " + ", ".join(f"{c} {n}" for c, n in codes.rows()))
    metrics: dict[str, float] = {}
    ids = {k: [(r[6:], f[k]) for r, f in zip(acc["record_id"], acc["flags"]) if k in f] for k in RULES}
    print(f"{'':2}{'metric':<44}{'value':>8}  {'target':<8}")
    for k, (sec, what) in RULES.items():
        metrics[k] = len(ids[k])
        print(f"{sec:<2}{what:<44}{len(ids[k]):>8}")
    metrics["patch_sentences"] = sum(int(f["patch"]) for f in acc["flags"] if "patch" in f)
    print(f"{'7':<2}{'  (sentences)':<44}{metrics['patch_sentences']:>8}")
    for key, sections, what, most in SHARES:
        rules = [k for k, (sec, _) in RULES.items() if sec in sections]
        n = sum(any(k in f for k in rules) for f in acc["flags"])
        metrics[f"share_{key}"] = n / acc.height if acc.height else 0.0
        print(f"{key:<4}{what:<42}{metrics[f'share_{key}']:>8.3f}  <= {most:<5}"
              f"{'PASS' if metrics[f'share_{key}'] <= most else 'FAIL'} ({n} of {acc.height} samples)")
    masked = Counter(s for t in acc["interpretation"] for s in set(sentences(t)[1]))
    top = masked.most_common(3)
    metrics["top_sentence_share"] = top[0][1] / acc.height if top else 0.0
    # 9: readable records (ingest ok, measurable), duplicates and a subject's further ECGs left out by design
    base = df.filter((pl.col("status") == "ok") & ~pl.col("code").is_in(["error", "unusable", "duplicate", "subject"]))
    kept = base["interpretation"].is_not_null()
    metrics["readable_kept"] = kept.mean() if base.height else 0.0
    normal = base["statements"].map_elements(lambda s: set(s) <= {"NORM", "SR"}, return_dtype=pl.Boolean)
    ab, no = kept.filter(~normal).mean() or 0.0, kept.filter(normal).mean() or 0.0
    metrics["abnormal_kept"], metrics["normal_kept"] = ab, no
    metrics["abnormal_normal_ratio"] = ab / no if no else 0.0
    group = {c: g for g, cs in LABEL_GROUPS.items() for c in cs}
    labels: dict[str, list] = {}
    for r in base.iter_rows(named=True):
        for g in {group.get(c, c) for c in r["statements"] or ()}:
            labels.setdefault(g, []).append(r)
    scored = {g: rs for g, rs in labels.items() if len(rs) >= 3}
    shares = {g: sum(r["interpretation"] is not None for r in rs) / len(rs) for g, rs in scored.items()}
    metrics["label_kept_min"] = min(shares.values(), default=1.0)
    metrics["labels_below_target"] = sum(v < TARGET["label_kept_min"][3] for v in shares.values())
    for k, (sec, what, op, t) in TARGET.items():
        ok = metrics[k] <= t if op == "<=" else metrics[k] >= t
        extra = f" (abnormal {ab:.2f}, normal {no:.2f})" if k == "abnormal_normal_ratio" else ""
        extra += f" ({metrics['labels_below_target']} of {len(shares)} labels below)" if k == "label_kept_min" else ""
        print(f"{sec:<2}{what:<44}{metrics[k]:>8.2f}  {op} {t:<5}{'PASS' if ok else 'FAIL'}{extra}")
        if sec == "8":
            print("".join(f"     {n / acc.height:.2f}  {s}\n" for s, n in top), end="")
    failing = {k: v for k, v in ids.items() if v}
    if failing:
        print("failing rules (record: measured)")
    for k, v in failing.items():
        print(f"  {k}: " + "; ".join(f"{r} ({why})" for r, why in v))
    print(f"labels (n >= 3): {'label':<12}{'n':>4}{'kept':>5}{'share':>6}  lost (selection code: records)")
    for g in sorted(scored, key=lambda g: (shares[g], g)):
        lost: dict[str, list[str]] = {}
        for r in scored[g]:
            if r["interpretation"] is None:
                why = "rejected by the checker" if r["code"] == "selected" else r["code"]
                lost.setdefault(why, []).append(r["record_id"][6:])
        flag = " LOW" if shares[g] < TARGET["label_kept_min"][3] else ""
        print(f"{'':17}{g:<12}{len(scored[g]):>4}{round(shares[g] * len(scored[g])):>5}{shares[g]:>6.2f}{flag:<5}"
              + "; ".join(f"{c}: {' '.join(sorted(rs))}" for c, rs in sorted(lost.items())))
    small = sorted((g, len(rs), sum(r["interpretation"] is not None for r in rs))
                   for g, rs in labels.items() if len(rs) < 3)
    print("labels (n < 3, not scored; kept/n): " + ", ".join(f"{g} {k}/{n}" for g, n, k in small))
    print()
    return metrics


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--warehouse", type=Path, help="audit this warehouse instead of building one")
    ap.add_argument("--json", type=Path, help="write the metrics of each half here")
    args = ap.parse_args(argv)
    sample = args.data / "ptbxl-sample"
    if not sample.exists():
        print(f"PTB-XL sample not found at {sample.resolve()} (see shared/data/README.md)")
        return 0
    if args.warehouse:
        df = load(Warehouse(args.warehouse), sample)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            df = load(build(Path(tmp) / "wh", args.data), sample)
    df = df.with_columns(half=pl.col("record_id").replace_strict(ptbxl_halves(sample)))
    out = {h: report(df.filter(pl.col("half") == h), f"{h} half") for h in HALVES}
    out["whole"] = report(df, "whole")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
