"""Answer audit: what the corpus says about the PTB-XL sample, per half (bench/halves.py).

Runs the stages ingest -> validate on ../shared/data/ptbxl-sample with the rules backend (the
texts FeatureDB and the protocol alone support; an LLM writes in other words from the same
prompts) and prints, for the tuning half, the check half and the whole sample:

1. where the records go: selected, or the selection's reason for leaving them out, and the
   accepted samples (``corpus``);
2. the accepted answers against the measurements: answers that name a label whose finding
   (``protocol/label_criteria.csv``, ``expects``) was measured negative, and answers that leave
   out a positive abnormal criterion (the text reports it, no label of the answer expects or
   supports it), "normal ECG" answers among them;
3. the cardiologists' classes (statements with likelihood >= 50): records in the sample and
   in the corpus, so a class the selection loses shows as 0.

    python bench/answer_audit.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from halves import HALVES, ptbxl_halves  # noqa: E402
from protocol_ptbxl import DEFAULT_DATA, statements  # noqa: E402

from curation.labels import concept  # noqa: E402
from protocol.concordance import relations  # noqa: E402
from protocol.criteria import load  # noqa: E402
from stages.stage import get  # noqa: E402
from warehouse import Warehouse  # noqa: E402

#: The cardiologists' classes reported (PTB-XL statement codes; a record may be in several).
CLASSES = {
    "NORM": ("NORM",), "AFIB/AFLT": ("AFIB", "AFLT"), "PACE": ("PACE",), "CLBBB": ("CLBBB",), "CRBBB": ("CRBBB",),
    "IRBBB": ("IRBBB",), "LAFB": ("LAFB",), "1AVB": ("1AVB",), "LVH": ("LVH", "VCLVH"),
    "inferior MI": ("IMI", "ILMI", "IPMI", "IPLMI"), "anterior MI": ("AMI", "ASMI", "ALMI"),
    "STD_": ("STD_",), "NDT/ISC": ("NDT", "ISC_", "ISCAL", "ISCAN", "ISCIN", "ISCLA", "ISCAS", "ISCIL"),
    "LNGQT": ("LNGQT",),
}
STAGES = ("ingest", "features", "findings", "select", "prompts", "generate", "validate")


def build(root: Path, data: Path) -> Warehouse:
    """The stages ingest -> validate on a fresh warehouse under ``root`` (rules backend)."""
    wh = Warehouse(root)
    params = {"ingest": {"sources": {"ptbxl": str(data / "ptbxl-sample")}}, "select": {"target": 1000},
              "generate": {"llm": {"backend": "rules"}}, "validate": {"llm": {"backend": "rules"}}}
    for name in STAGES:
        stage = get(name)
        stage.run(wh, stage.params(**params.get(name, {})), False)
    return wh


def answers(wh: Warehouse) -> pl.DataFrame:
    """Every record's selection code and, for accepted samples, its answer's concepts."""
    sel = wh.sql("SELECT record_id, code FROM selection")
    corpus = wh.sql("SELECT record_id, interpretation FROM corpus")
    corpus = corpus.with_columns(answer=pl.col("interpretation").str.extract(r"<answer>(.*)</answer>").map_elements(
        lambda a: [c for c in map(concept, a.split(";")) if c], return_dtype=pl.List(pl.Utf8)))
    return sel.join(corpus.select("record_id", "answer"), on="record_id", how="left")


def audit(wh: Warehouse, df: pl.DataFrame) -> pl.DataFrame:
    """Per accepted answer: labels whose expected finding is negative, and the positive abnormal
    findings no label of it expects or supports."""
    found = wh.sql("SELECT record_id, criterion, positive FROM findings")
    pos = found.filter(pl.col("positive")).group_by("record_id").agg(pl.col("criterion").alias("pos"))
    neg = found.filter(~pl.col("positive")).group_by("record_id").agg(pl.col("criterion").alias("neg"))
    rel = relations()
    expects = {(r.concept, r.criterion) for r in rel if r.relation == "expects"}
    names = {(r.concept, r.criterion) for r in rel if r.relation in ("expects", "supports")}
    abnormal = {c.id for c in load() if c.kind == "abnormal"}
    rows = []
    for r in df.filter(pl.col("answer").is_not_null()).join(pos, on="record_id", how="left") \
            .join(neg, on="record_id", how="left").iter_rows(named=True):
        p, n, ans = set(r["pos"] or ()), set(r["neg"] or ()), r["answer"]
        unsupported = sorted(f"{c}:{k}" for c, k in expects if c in ans and k in n)
        named = {k for c, k in names if c in ans}
        rows.append({"record_id": r["record_id"], "unsupported": unsupported, "unnamed": sorted((p & abnormal) - named),
                     "normal": "NORM" in ans})
    return pl.DataFrame(rows, schema={"record_id": pl.Utf8, "unsupported": pl.List(pl.Utf8),
                                      "unnamed": pl.List(pl.Utf8), "normal": pl.Boolean})


def report(df: pl.DataFrame, aud: pl.DataFrame, title: str) -> None:
    print(f"=== {title}: {df.height} records ===")
    codes = df.group_by("code").len().sort("len", descending=True)
    print("1. selection: " + ", ".join(f"{c} {n}" for c, n in codes.rows())
          + f"; accepted samples {df['answer'].is_not_null().sum()}")
    a = aud.filter(pl.col("record_id").is_in(df["record_id"].implode()))
    bad = a.filter(pl.col("unsupported").list.len() > 0)
    left = a.filter(pl.col("unnamed").list.len() > 0)
    print(f"2. accepted answers {a.height}: a label its measured finding contradicts {bad.height}"
          + "".join(f"\n     {r}: {', '.join(u)}" for r, u in bad.select("record_id", "unsupported").rows())
          + f"; an abnormal finding the answer leaves out {left.height} ('normal ECG' among them "
          + f"{left['normal'].sum()})"
          + "".join(f"\n     {r[6:]}{' (normal ECG)' if n else ''}: {', '.join(u)}"
                    for r, u, n in left.select("record_id", "unnamed", "normal").rows()))
    print(f"3. {'class':<12} {'sample':>6} {'corpus':>6}  left out (selection code: records)")
    for name, codes_ in CLASSES.items():
        rows = df.filter(pl.col("statements").list.set_intersection(list(codes_)).list.len() > 0)
        if rows.height == 0:
            continue
        out = rows.filter(pl.col("answer").is_null()).group_by("code").agg(pl.col("record_id").str.slice(6))
        kept = rows["answer"].is_not_null().sum()
        flag = "  LOST" if kept == 0 else ""
        print(f"   {name:<12} {rows.height:>6} {kept:>6}{flag}  "
              + "; ".join(f"{c}: {' '.join(sorted(ids))}" for c, ids in out.sort("code").rows()))
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args(argv)
    sample = args.data / "ptbxl-sample"
    if not sample.exists():
        print(f"PTB-XL sample not found at {sample.resolve()} (see shared/data/README.md)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        wh = build(Path(tmp) / "wh", args.data)
        df = answers(wh).join(statements(sample), on="record_id")
        aud = audit(wh, df)
    halves = ptbxl_halves(sample)
    df = df.with_columns(half=pl.col("record_id").replace_strict(halves))
    for h in HALVES:
        report(df.filter(pl.col("half") == h), aud, f"{h} half")
    report(df, aud, "whole")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
