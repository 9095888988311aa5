"""A PTB-XL folder of ``n`` records made from the real PTB-XL sample, for scale benchmarks.

Replica ``k`` of a record is a real recording with one sample of one lead raised by 1 µV (its
header checksum updated), so every replica is a distinct signal (no duplicates) that measures
like its original; it gets its own ``ecg_id`` and its own patient. Every other column of
``ptbxl_database.csv`` is the original's, so labels, noise flags and folds follow the real
distribution.

    python bench/replicate.py OUT --n 10000
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ptbxl-sample"
RATE = "records500"


def _replica_signal(dat: bytes, hea: str, old: str, new: str, k: int) -> tuple[bytes, str]:
    lines = hea.splitlines()
    n_sig, n = int(lines[0].split()[1]), int(lines[0].split()[3])
    sig = np.frombuffer(dat, "<i2").reshape(n, n_sig).copy()
    lead, pos = (k // (n - 1)) % n_sig, 1 + k % (n - 1)  # never sample 0 (the header's initial value)
    sig[pos, lead] += 1
    fields = lines[1 + lead].split()
    fields[6] = str((int(fields[6]) + 1) % 65536 if int(fields[6]) >= 0 else int(fields[6]) + 1)
    lines[1 + lead] = " ".join(fields)
    text = "\n".join(lines).replace(old, new) + "\n"
    return sig.tobytes(), text


def replicate(out: Path, n: int, source: Path = DATA) -> Path:
    """Write ``n`` records under ``out`` (PTB-XL layout, 500 Hz files only); reused when done."""
    marker = out / ".replicated"
    if marker.exists() and marker.read_text() == str(n):
        return out
    if out.exists():
        shutil.rmtree(out)
    db = pl.read_csv(source / "ptbxl_database.csv", infer_schema_length=0)
    out.mkdir(parents=True)
    shutil.copy(source / "scp_statements.csv", out / "scp_statements.csv")
    rows = []
    for i in range(n):
        k, orig = divmod(i, db.height)
        row = db.row(orig, named=True)
        ecg_id = i + 1
        old = Path(row["filename_hr"]).name
        rel = f"{RATE}/{ecg_id // 1000 * 1000:05d}/{ecg_id:05d}_hr"
        hea = (source / f"{row['filename_hr']}.hea").read_text()
        dat = (source / f"{row['filename_hr']}.dat").read_bytes()
        if k:
            dat, hea = _replica_signal(dat, hea, old, Path(rel).name, k - 1)
        else:
            hea = hea.replace(old, Path(rel).name)
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / f"{rel}.dat").write_bytes(dat)
        (out / f"{rel}.hea").write_text(hea)
        patient = float(row["patient_id"]) + k * 100_000
        rows.append({**row, "ecg_id": str(ecg_id), "patient_id": f"{patient:.1f}", "filename_hr": rel,
                     "filename_lr": rel.replace(RATE, "records100").replace("_hr", "_lr")})
    pl.DataFrame(rows, schema=db.schema).write_csv(out / "ptbxl_database.csv")
    marker.write_text(str(n))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"skipped: the PTB-XL sample is not at {DATA}")
    print(replicate(args.out, args.n))


if __name__ == "__main__":
    main()
