"""Protocol findings against the cardiologists' statements of PTB-XL (scp_codes, heart_axis).

Runs ingest's PTB-XL manifest, FeatureDB and ``protocol/criteria.csv`` on the records of
../shared/data/ptbxl-sample (ecg_id 1-300, records500) and prints

1. for every criterion its firing rate on normal ECGs (statements NORM and SR only, NORM with
   likelihood >= 50), and the share of normal ECGs with any abnormal criterion (``kind`` in
   criteria.csv: supportive and technical rows are shown, marked ``supp``/``tech``, without a target);
2. sensitivity and specificity of criteria against the statements that name them, with the
   record ids of each disagreement (look at one with ``ecg-corpus show``);
3. QRS axis classes against PTB-XL's ``heart_axis`` column;
4. the global intervals of the normal ECGs (earliest onset to latest offset over the leads, which
   the rules writer states beside the median-lead values the criteria read) beyond the adult
   limits of :data:`NORMAL_LIMITS`, with the record ids.

A diagnostic statement (``diagnostic = 1`` in scp_statements.csv) counts as present only with
likelihood >= 50; rhythm and form statements carry likelihood 0 and count when listed.
Specificity is over the records that carry none of the row's statements. A criterion whose
value could not be measured (positive = NULL) is counted as unknown, outside both rates.
Paced records (PACE) are left out.

    python bench/protocol_ptbxl.py [--data ../shared/data] [--ids]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from protocol.criteria import evaluate, facts, load  # noqa: E402
from sources.ptbxl import manifest, parse_scp_codes  # noqa: E402
from stages.features import measure  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from halves import HALVES, ptbxl_halves  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
#: (statements, criterion, target sensitivity, target specificity); targets from the issue.
ROWS = (
    ({"AFIB"}, "atrial_fibrillation_suspected", 0.9, 0.97),
    ({"AFLT"}, "atrial_fibrillation_suspected", None, None),
    ({"CLBBB", "CRBBB"}, "wide_qrs", 0.9, 0.9),
    ({"IRBBB"}, "rsr_prime_v1", None, None),
    ({"IRBBB"}, "qrs_intermediate", None, None),
    ({"LAFB"}, "left_axis_deviation", 0.8, None),
    ({"LPFB"}, "right_axis_deviation", None, None),
    ({"LVH", "VCLVH"}, "lvh_voltage", 0.7, 0.9),
    ({"1AVB"}, "pr_prolonged", None, None),
    ({"LNGQT"}, "qtc_prolonged", None, None),
    ({"IMI", "ILMI"}, "pathologic_q_inferior", 0.6, 0.9),
    ({"AMI", "ASMI"}, "pathologic_q_anterior", None, None),
    ({"LVOLT"}, "low_voltage", None, None),
    ({"STACH"}, "tachycardia", None, None),
    ({"SBRAD"}, "bradycardia", None, None),
)
#: PTB-XL ``heart_axis`` classes (German "Lagetyp" convention of its reports: "linkstyp" is
#: LAD, "ueberdrehter linkstyp" ALAD), degrees [lo, hi).
AXIS_CLASSES = (("ALAD", -180.0, -30.0), ("LAD", -30.0, 30.0), ("MID", 30.0, 90.0),
                ("RAD", 90.0, 120.0), ("ARAD", 120.0, 180.01))
NORMAL_TARGET, ANY_TARGET = 0.05, 0.15
#: Adult upper limits (AHA/ACCF/HRS 2009, Surawicz et al. Circulation 119:e235): (feature, what, ms).
NORMAL_LIMITS = (("qrs_ms", "QRS, global", 120.0), ("qrs_lead_ms", "QRS, median lead", 120.0),
                 ("pr_ms", "PR, global", 200.0), ("qtc_framingham_ms", "QTc (Framingham), global", 460.0))


def statements(root: Path) -> pl.DataFrame:
    """record_id, the set of present statements and heart_axis, per PTB-XL record."""
    db = pl.read_csv(root / "ptbxl_database.csv", infer_schema_length=0)
    scp = pl.read_csv(root / "scp_statements.csv", infer_schema_length=0)
    diagnostic = set(scp.filter(pl.col("diagnostic") == "1.0")[scp.columns[0]])
    present = [sorted(c for c, lik in parse_scp_codes(s).items() if c not in diagnostic or lik >= 50)
               for s in db["scp_codes"]]
    return pl.DataFrame({
        "record_id": [f"ptbxl:{int(i):05d}" for i in db["ecg_id"]],
        "statements": present,
        "heart_axis": db["heart_axis"],
    })


def measure_ptbxl(root: Path, with_leads: bool = False) -> tuple[pl.DataFrame, ...]:
    """Manifest, features and findings of every record under ``root`` (and the lead features)."""
    man = manifest(root)
    f = measure(man["record_id"].to_list(), man["path"].to_list())
    return (man, f.records, evaluate(facts(f.records, f.leads, man))) + ((f.leads,) if with_leads else ())


def _rate(n: int, d: int) -> str:
    return f"{n / d:.2f}" if d else "-"


def _ids(df: pl.DataFrame) -> str:
    return " ".join(r.split(":")[1] for r in df["record_id"].sort()) or "-"


def criteria_tables(found: pl.DataFrame, normal: pl.Series, ids: bool) -> None:
    """Sections 1 and 2 over the records of ``found``."""
    on_normal = found.filter(pl.col("record_id").is_in(normal.implode()))
    print("1. Criteria on normal ECGs (target for abnormal criteria: each <= 5 %, any <= 15 % of normal ECGs)")
    head = f"{'criterion':<32} {'fires':>5} {'unk':>4} {'rate':>6}  pass" + ("  record ids" if ids else "")
    print(head)
    print("-" * len(head))
    kinds = {c.id: c.kind for c in load()}
    abnormal = [c for c, k in kinds.items() if k == "abnormal"]
    for cid in kinds:
        rows = on_normal.filter(pl.col("criterion") == cid)
        pos = rows.filter(pl.col("positive"))
        unk = rows.filter(pl.col("positive").is_null()).height
        rate = pos.height / max(rows.height - unk, 1)
        verdict = ("yes" if rate <= NORMAL_TARGET else "NO ") if kinds[cid] == "abnormal" else kinds[cid][:4]
        line = f"{cid:<32} {pos.height:>5} {unk:>4} {rate:>6.3f}  {verdict}"
        print(line + (f"  {_ids(pos)}" if ids and pos.height else ""))
    anyp = on_normal.filter(pl.col("criterion").is_in(abnormal), pl.col("positive"))["record_id"].unique()
    rate = anyp.len() / max(normal.len(), 1)
    print(f"{'any abnormal criterion':<32} {anyp.len():>5} {'':>4} {rate:>6.3f}  {'yes' if rate <= ANY_TARGET else 'NO '}\n")

    print("2. Criteria against the statements that name them")
    head = f"{'statements':<12} {'criterion':<30} {'pos':>4} {'neg':>4} {'unk':>4} {'sens':>5} {'spec':>5} {'target':>10}  pass"
    print(head)
    print("-" * len(head))
    misses = []
    for codes, cid, t_sens, t_spec in ROWS:
        got = found.filter(pl.col("criterion") == cid).with_columns(
            truth=pl.col("statements").list.set_intersection(sorted(codes)).list.len() > 0)
        known = got.filter(pl.col("positive").is_not_null())
        tp, fn = known.filter(pl.col("truth") & pl.col("positive")), known.filter(pl.col("truth") & ~pl.col("positive"))
        tn, fp = known.filter(~pl.col("truth") & ~pl.col("positive")), known.filter(~pl.col("truth") & pl.col("positive"))
        sens, spec = _rate(tp.height, tp.height + fn.height), _rate(tn.height, tn.height + fp.height)
        target = f"{t_sens or '-'}/{t_spec or '-'}"
        ok = ((t_sens is None or (tp.height + fn.height and tp.height / (tp.height + fn.height) >= t_sens))
              and (t_spec is None or (tn.height + fp.height and tn.height / (tn.height + fp.height) >= t_spec)))
        name = "/".join(sorted(codes))
        print(f"{name:<12} {cid:<30} {tp.height + fn.height:>4} {tn.height + fp.height:>4} "
              f"{got.height - known.height:>4} {sens:>5} {spec:>5} {target:>10}  "
              + ("" if t_sens is None and t_spec is None else "yes" if ok else "NO"))
        misses.append((name, cid, fn, fp))
    print("\ndisagreements (ecg_id; missed = statement without the criterion, extra = criterion without the statement)")
    for name, cid, fn, fp in misses:
        print(f"  {name} / {cid}: missed {_ids(fn)}; extra {_ids(fp)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--ids", action="store_true", help="list the normal ECGs each criterion fires on")
    args = ap.parse_args(argv)
    root = args.data / "ptbxl-sample"
    if not root.is_dir():
        print(f"PTB-XL sample not found at {root}; place the shared data next to the repository.")
        return 0
    _, feats, found = measure_ptbxl(root)
    truth = statements(root).filter(~pl.col("statements").list.contains("PACE"))
    found = found.join(truth, on="record_id")
    normal = truth.filter(pl.col("statements").list.set_difference(["NORM", "SR"]).list.len() == 0,
                          pl.col("statements").list.contains("NORM"))["record_id"]
    print(f"PTB-XL sample: {truth.height} records (paced left out), {normal.len()} normal (NORM/SR only); sections 1 "
          "and 2 per half (bench/halves.py: tune on the first, judge a change on the second) and whole\n")

    halves = ptbxl_halves(root)
    for group in (*HALVES, "whole"):
        mine = [r for r in truth["record_id"] if group == "whole" or halves[r] == group]
        print(f"=== {group}{' half' if group in HALVES else ''}: {len(mine)} records ===\n")
        criteria_tables(found.filter(pl.col("record_id").is_in(mine)), normal.filter(normal.is_in(mine)), args.ids)

    print("\n3. QRS axis against heart_axis (classes " + ", ".join(f"{c} [{lo:g},{hi:g})" for c, lo, hi in AXIS_CLASSES) + ")")
    axis = feats.select("record_id", "qrs_axis_deg").join(truth.filter(pl.col("heart_axis").is_not_null()),
                                                           on="record_id")
    cls = pl.lit(None, pl.Utf8)
    for name, lo, hi in reversed(AXIS_CLASSES):
        cls = pl.when((pl.col("qrs_axis_deg") >= lo) & (pl.col("qrs_axis_deg") < hi)).then(pl.lit(name)).otherwise(cls)
    axis = axis.with_columns(measured=cls)
    print(f"{'heart_axis':<10} {'n':>4} {'agree':>6} {'median deg':>11}  measured classes")
    for name, _, _ in AXIS_CLASSES:
        rows = axis.filter(pl.col("heart_axis") == name)
        if rows.is_empty():
            continue
        counts = ", ".join(f"{k} {v}" for k, v in sorted(rows["measured"].fill_null("n/a").value_counts().rows()))
        print(f"{name:<10} {rows.height:>4} {(rows['measured'] == name).sum():>6} "
              f"{rows['qrs_axis_deg'].median():>11.0f}  {counts}")
    scored = axis.filter(pl.col("heart_axis").is_in([c for c, _, _ in AXIS_CLASSES]))
    print(f"agreement: {(scored['measured'] == scored['heart_axis']).sum()}/{scored.height}")

    print(f"\n4. Intervals of the {normal.len()} normal ECGs at or beyond the adult limits")
    on = feats.filter(pl.col("record_id").is_in(normal.implode()))
    print(f"{'measure':<26} {'limit ms':>8} {'n':>4} {'median ms':>10}  record ids")
    for column, what, limit in NORMAL_LIMITS:
        beyond = on.filter(pl.col(column) >= limit)
        print(f"{what:<26} {limit:>8.0f} {beyond.height:>4} {on[column].median():>10.0f}  {_ids(beyond)}")
    gap = (on["qrs_ms"] - on["qrs_lead_ms"]).drop_nulls()
    print(f"global minus median-lead QRS: median {gap.median():.0f} ms, 90th percentile {gap.quantile(0.9):.0f} ms, "
          f"over 30 ms on {(gap > 30).sum()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
