"""FeatureDB on the PTB-XL records that matter: the measures behind the conduction, P wave, ST,
pacing and rhythm criteria against the cardiologists' statements, per half (bench/halves.py).

Runs FeatureDB and ``protocol/criteria.csv`` on ../shared/data/ptbxl-sample (records500) and
prints, for the tuning half, the check half and the whole sample, each measure with its target
(the targets hold only if they hold on the check half and on other PTB-XL records). Classes with
fewer than 10 records in the sample (PACE, CLBBB/CRBBB, STD_, INVT) are too small to halve: they
are listed on the whole sample with their record ids, to be read with ``ecg-corpus show``.
Then the global-versus-lead invariants over every record: the global P and QRS (earliest onset
to latest offset over the leads) can never be shorter than one lead's, so a lead longer than the
global by more than one sample is a measurement error.

Statements: a diagnostic statement counts with likelihood >= 50 (bench/protocol_ptbxl.py);
"normal" records carry only NORM and SR.

    python bench/featuredb_ptbxl.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from halves import HALVES, ptbxl_halves  # noqa: E402
from protocol_ptbxl import DEFAULT_DATA, _ids, measure_ptbxl, statements  # noqa: E402

FS = 500.0
MI = ("IMI", "ILMI", "IPMI", "IPLMI", "AMI", "ASMI", "ALMI", "LMI", "PMI", "INJAS", "INJAL", "INJIN", "INJLA",
      "INJIL")
INFERIOR_MI = ("IMI", "ILMI", "IPMI", "IPLMI")
LBBB = ("CLBBB", "ILBBB")
SMALL = ("PACE", "CLBBB", "CRBBB", "STD_", "INVT")


def has(*codes: str) -> pl.Expr:
    return pl.col("statements").list.set_intersection(list(codes)).list.len() > 0


NORMAL = (pl.col("statements").list.set_difference(["NORM", "SR"]).list.len() == 0) & has("NORM")


class Measures:
    """Every record's statements, half, features, findings (criterion -> positive) and lead values."""

    def __init__(self, root: Path):
        _, feats, found, leads = measure_ptbxl(root, with_leads=True)
        halves = ptbxl_halves(root)
        wide = found.pivot(on="criterion", index="record_id", values="positive")
        lead = leads.pivot(on="lead", index="record_id", values=["p_dur_ms", "r_prime", "qrs_dur_ms"])
        lead = lead.with_columns(qrs_lead_max_ms=pl.max_horizontal(c for c in lead.columns if c.startswith("qrs_dur")),
                                 p_lead_max_ms=pl.max_horizontal(c for c in lead.columns if c.startswith("p_dur")))
        self.df = (statements(root).join(feats, on="record_id").join(wide, on="record_id").join(lead, on="record_id")
                   .with_columns(half=pl.col("record_id").replace_strict(halves)))


def rate(df: pl.DataFrame, cond: pl.Expr) -> tuple[int, int]:
    """(records meeting ``cond``, records where it is known)."""
    known = df.select(cond.alias("c")).drop_nulls()
    return int(known["c"].sum()), known.height


#: (measure, records it is scored on, the condition counted, target: (">=" or "<=", value), or None).
ROWS: tuple[tuple[str, pl.Expr, pl.Expr, tuple[str, float] | None], ...] = (
    ("CLBBB/CRBBB -> wide QRS (median lead)", has("CLBBB", "CRBBB"), pl.col("wide_qrs"), (">=", 0.9)),
    ("LAFB -> left axis deviation", has("LAFB"), pl.col("left_axis_deviation"), (">=", 0.8)),
    ("LVH -> voltage, sensitivity", has("LVH", "VCLVH"), pl.col("lvh_voltage"), (">=", 0.7)),
    ("LVH -> voltage, specificity", ~has("LVH", "VCLVH", "SEHYP"), ~pl.col("lvh_voltage"), (">=", 0.9)),
    ("inferior MI -> inferior Q, sensitivity", has(*INFERIOR_MI) & ~has(*LBBB, "PACE"),
     pl.col("pathologic_q_inferior"), (">=", 0.6)),
    ("no MI -> no inferior Q, specificity", ~has(*MI, *LBBB, "PACE"), ~pl.col("pathologic_q_inferior"), (">=", 0.9)),
    ("NORM with lead-II P >= 120 ms", NORMAL, pl.col("p_dur_ms_II") >= 120, ("<=", 0.2)),
    ("NORM with global P >= 120 ms (no target)", NORMAL, pl.col("p_dur_ms") >= 120, None),
    ("NORM with an rsR' in V1", NORMAL, pl.col("r_prime_V1"), ("<=", 0.05)),
    ("CRBBB/IRBBB with an rsR' in V1 or V2", has("CRBBB", "IRBBB"), pl.col("r_prime_V1") | pl.col("r_prime_V2"),
     (">=", 0.9)),
    ("IRBBB median-lead QRS 100-119 ms", has("IRBBB"), pl.col("qrs_lead_ms").is_between(100, 119.99), (">=", 0.8)),
    ("STD_ -> ST depression", has("STD_"), pl.col("st_depression"), (">=", 0.7)),
    ("NORM with ST depression", NORMAL, pl.col("st_depression"), ("<=", 0.02)),
    ("unpaced with a paced rhythm", ~has("PACE"), pl.col("paced_rhythm"), ("<=", 0.01)),
    ("SR read as without P (P in < half the beats)", has("SR"), pl.col("p_present_frac") < 0.5, ("<=", 0.03)),
    ("SR read as an ectopic atrial rhythm", has("SR"), pl.col("ectopic_atrial_rhythm"), ("<=", 0.03)),
    ("SR with a P axis outside 0-90 deg (no target)", has("SR"), ~pl.col("p_axis_deg").is_between(0, 90), None),
)


def _share(n: int, d: int) -> str:
    return f"{n}/{d} ({n / d:.2f})" if d else "-"


def _pass(n: int, d: int, target: tuple[str, float] | None) -> str:
    if not d or target is None:
        return "-"
    op, value = target
    return "yes" if (n / d >= value if op == ">=" else n / d <= value) else "NO"


def table(m: Measures, out: Callable[[str], None] = print) -> None:
    groups = {h: m.df.filter(pl.col("half") == h) for h in HALVES} | {"whole": m.df}
    head = f"{'measure':<46} " + " ".join(f"{g:>15}" for g in groups) + f" {'target':>7}  verdict (check half; small classes: whole)"
    out(head)
    out("-" * len(head))
    for name, scope, cond, target in ROWS:
        cells = {g: rate(df.filter(scope), cond) for g, df in groups.items()}
        small = all(code in SMALL for code in name.split(" ->")[0].split("/"))  # judged on the whole sample
        verdict = f"{_pass(*cells['whole'], target)} (whole)" if small else _pass(*cells["check"], target)
        out(f"{name:<46} " + " ".join(f"{_share(*cells[g]):>15}" for g in groups)
            + (f" {target[0]}{target[1]:>5}" if target else f" {'-':>7}") + f"  {verdict}")
    for g, df in groups.items():
        gap = df.filter(NORMAL).select(pl.col("qrs_ms") - pl.col("qrs_lead_ms"))["qrs_ms"].drop_nulls()
        out(f"NORM global minus median-lead QRS ({g}): median {gap.median():.0f} ms, 90th percentile "
            f"{gap.quantile(0.9):.0f} ms (target <= 20)")


def small_classes(m: Measures, out: Callable[[str], None] = print) -> None:
    out("\nclasses too small to halve (whole sample; ecg_id: median-lead QRS ms / global QRS ms, criteria)")
    for code in SMALL:
        rows = m.df.filter(has(code)).sort("record_id")
        out(f"{code} ({rows.height}):")
        for r in rows.iter_rows(named=True):
            fired = [c for c in ("paced_rhythm", "wide_qrs", "qrs_intermediate", "rsr_prime_v1", "st_depression", "absent_p_waves",
                                 "atrial_fibrillation_suspected", "t_inversion_lateral", "t_inversion_anterior",
                                 "t_inversion_inferior") if r.get(c)]
            if r.get("paced_rhythm"):
                fired[0] += f" (atrial {r['pace_atrial_frac']:.2f}, ventricular {r['pace_ventricular_frac']:.2f} of beats)"
            out(f"  {r['record_id'].split(':')[1]}: {r['qrs_lead_ms']:.0f} / {r['qrs_ms']:.0f} ms; "
                f"{', '.join(fired) or 'none of the conduction, ST, P or T criteria'}")
    paced = m.df.filter(has("PACE"))
    n, d = rate(paced, pl.col("paced_rhythm"))
    out(f"PACE -> paced_rhythm: {_share(n, d)} (target >= 0.9)")


def invariants(m: Measures, out: Callable[[str], None] = print) -> None:
    tol = 1000.0 / FS  # one sample
    out(f"\nglobal-versus-lead invariants over {m.df.height} records (a lead longer than the global by more than "
        f"{tol:.0f} ms)")
    for what, lead, glob in (("QRS", "qrs_lead_max_ms", "qrs_ms"), ("QRS median lead", "qrs_lead_ms", "qrs_ms"),
                             ("P", "p_lead_max_ms", "p_dur_ms")):
        broken = m.df.filter(pl.col(lead) > pl.col(glob) + tol)
        worst = broken.select((pl.col(lead) - pl.col(glob)).max()).item() if broken.height else 0.0
        out(f"  {what:<16} {broken.height:>4} records, by up to {worst:.0f} ms: {_ids(broken.head(20))}"
            + (" ..." if broken.height > 20 else ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args(argv)
    root = args.data / "ptbxl-sample"
    if not root.is_dir():
        print(f"PTB-XL sample not found at {root}; place the shared data next to the repository.")
        return 0
    m = Measures(root)
    counts = m.df.group_by("half").len().sort("half")
    print("PTB-XL sample: " + ", ".join(f"{h} half {n}" for h, n in counts.rows()) + " records (split by patient)\n")
    table(m)
    small_classes(m)
    invariants(m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
