"""Protocol findings against the cardiologists' labels of LUDB (ludb.csv).

Runs FeatureDB and the criteria of protocol/criteria.csv on the 100 LUDB records in
../shared/data/ludb-dev and prints sensitivity and specificity per criterion, with the counts
behind them. Records with a pacemaker are left out (their wide paced QRS is not a conduction
label in LUDB); a criterion whose value could not be measured (positive = NULL) is counted as
"unknown", outside both rates.

Two conventions differ from ours and are shown as such:
- LUDB's signals are scaled to 1 mV peak to peak in every lead (see the per-lead gains of its
  headers), so amplitude criteria (LVH voltage) cannot be scored on LUDB; the row is printed
  for completeness only.
- LUDB calls "left axis deviation" any axis below 0 degrees (its "horizontal" class covers
  0 to +30); our criterion is the AHA/ACCF/HRS one (below -30). The extra row scores the
  measured axis against LUDB's own boundary.

    python bench/protocol_ludb.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from protocol.criteria import evaluate, facts
from sources.wfdb_folder import manifest
from stages.features import measure

sys.path.insert(0, str(Path(__file__).resolve().parent))
from halves import HALVES, ludb_half  # noqa: E402

LUDB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ludb-dev"

# (LUDB column, label regex matched case-insensitively, our criterion)
ROWS = (
    ("Electric axis of the heart", "left axis deviation", "left_axis_deviation"),
    ("Electric axis of the heart", "left axis deviation", "qrs_axis_below_0"),
    ("Electric axis of the heart", "right axis deviation", "right_axis_deviation"),
    ("Rhythms", "sinus bradycardia", "bradycardia"),
    ("Rhythms", "sinus tachycardia", "tachycardia"),
    ("Rhythms", "atrial fibrillation", "atrial_fibrillation_suspected"),
    ("Hypertrophies", "left ventricular hypertrophy", "lvh_voltage"),
    ("Conduction abnormalities", "i degree av block", "pr_prolonged"),
    ("Conduction abnormalities", r"\bcomplete (left|right) bundle branch block", "wide_qrs"),
    ("Conduction abnormalities", "incomplete right bundle branch block", "rsr_prime_v1"),
)


def table(labels: pl.DataFrame, found: pl.DataFrame) -> None:
    """Sensitivity and specificity of each row over the records of ``labels``."""
    head = f"{'LUDB label':<44} {'criterion':<30} {'pos':>4} {'neg':>4} {'unk':>4} {'sens':>6} {'spec':>6}"
    print(head)
    print("-" * len(head))
    for column, pattern, criterion in ROWS:
        truth = labels.select("record_id", truth=pl.col(column).fill_null("").str.to_lowercase().str.contains(pattern))
        got = found.filter(pl.col("criterion") == criterion).select("record_id", "positive").join(truth, on="record_id")
        known = got.filter(pl.col("positive").is_not_null())
        tp = known.filter(pl.col("truth") & pl.col("positive")).height
        pos = known.filter(pl.col("truth")).height
        tn = known.filter(~pl.col("truth") & ~pl.col("positive")).height
        neg = known.filter(~pl.col("truth")).height
        sens = f"{tp / pos:.2f}" if pos else "-"
        spec = f"{tn / neg:.2f}" if neg else "-"
        print(f"{pattern.replace(chr(92) + 'b', ''):<44} {criterion:<30} {pos:>4} {neg:>4} {got.height - known.height:>4} "
              f"{sens:>6} {spec:>6}")


def main() -> int:
    if not LUDB.is_dir():
        print(f"LUDB not found at {LUDB}; place the shared data next to the repository.")
        return 0
    man = manifest(LUDB)
    f = measure(man["record_id"].to_list(), man["path"].to_list())
    found = evaluate(facts(f.records, f.leads, man))
    axis_below_0 = f.records.select("record_id", criterion=pl.lit("qrs_axis_below_0"),
                                    positive=pl.col("qrs_axis_deg").fill_nan(None) < 0)
    found = pl.concat([found.select("record_id", "criterion", "positive"), axis_below_0])
    labels = pl.read_csv(LUDB / "ludb.csv", infer_schema_length=0).with_columns(
        record_id=pl.format("wfdb:data/{}", pl.col("ID")))
    headers = dict(zip(man["record_id"], man["label_text"].fill_null("")))
    # ludb.csv lists conduction blocks by name; complete bundle branch blocks are only in the headers
    labels = labels.with_columns(pl.concat_str(
        [pl.col("Conduction abnormalities").fill_null(""), pl.col("record_id").replace_strict(headers, default="")],
        separator="\n").alias("Conduction abnormalities"))
    paced = labels.filter(pl.col("Cardiac pacing").is_not_null())["record_id"]
    detected = set(found.filter(pl.col("criterion") == "paced_rhythm", pl.col("positive"))["record_id"])
    ids = lambda rs: " ".join(r.removeprefix("wfdb:data/") for r in sorted(rs)) or "-"  # noqa: E731
    print(f"cardiac pacing -> paced_rhythm, all {labels.height} records: {len(detected & set(paced))}/{paced.len()} "
          f"paced records (missed {ids(set(paced) - detected)}); {len(detected - set(paced))}/"
          f"{labels.height - paced.len()} unpaced records positive ({ids(detected - set(paced))})\n")
    labels = labels.filter(~pl.col("record_id").is_in(paced.implode()))
    labels = labels.with_columns(half=pl.col("ID").map_elements(ludb_half, return_dtype=pl.Utf8))
    print(f"LUDB: {labels.height} records ({paced.len()} paced left out), split by bench/halves.py: "
          + ", ".join(f"{h} {n}" for h, n in labels.group_by("half").len().sort("half").rows()))
    for group in (*HALVES, "whole"):
        print(f"\n{group}{' half' if group in HALVES else ''}")
        table(labels if group == "whole" else labels.filter(pl.col("half") == group), found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
