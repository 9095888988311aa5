"""FeatureDB end-to-end speed: read WFDB -> all measurements -> Parquet, per stage.

Usage::

    python bench/featuredb_speed.py [--data ../shared/data] [--sizes 1000 10000] [--nk 10]

Real records (LUDB and PTB-XL 500 Hz) are replicated on disk (hard links under a temporary
folder) to reach each size; every size runs in a fresh subprocess so its peak memory
(``ru_maxrss``) is its own.  Records stream in shards of ``featuredb.SHARD_SIZE``: read,
then filter+detect (QRS detection and beat alignment), delineate (median beats and
delineation), measure, Parquet write.  Numba compilation/cache load is excluded from the
rate and reported separately.  The neurokit2 peer (clean, peaks, per-lead DWT delineation)
runs on a few records for the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data"
sys.path.insert(0, str(ROOT))
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _reader():
    """``sources.reader.read_signal`` when present, else wfdb with leads mapped by name."""
    try:
        from sources.reader import read_signal

        return read_signal, "sources.reader.read_signal"
    except ImportError:
        import wfdb

        def read(path):
            rec = wfdb.rdrecord(str(path))
            names = [s.lower() for s in rec.sig_name]
            return rec.p_signal[:, [names.index(x.lower()) for x in LEADS]].T.astype(np.float32)

        return read, "wfdb.rdrecord"


def _sources(data: Path) -> list[Path]:
    ludb = sorted((data / "ludb-dev" / "data").glob("*.hea"))
    ptb = sorted((data / "ptbxl-sample" / "records500").rglob("*_hr.hea"))
    return [p.with_suffix("") for p in ludb + ptb]


def _replicate(src: list[Path], n: int, folder: Path) -> list[Path]:
    out = []
    for i in range(n):
        s = src[i % len(src)]
        dst = folder / f"r{i:06d}"
        for ext in (".hea", ".dat"):
            target = Path(f"{dst}{ext}")
            if not target.exists():
                try:
                    os.link(f"{s}{ext}", target)
                except OSError:
                    target.write_bytes(Path(f"{s}{ext}").read_bytes())
        # the header names its record and signal file: rewrite it for the new name
        hea = Path(f"{dst}.hea")
        lines = Path(f"{s}.hea").read_text().splitlines()
        head = lines[0].split()
        n_sig = int(head[1])
        lines[0] = " ".join([dst.name] + head[1:])
        for j in range(1, 1 + n_sig):
            parts = lines[j].split(" ", 1)
            lines[j] = f"{dst.name}.dat {parts[1]}"
        hea.unlink()
        hea.write_text("\n".join(lines) + "\n")
        out.append(dst)
    return out


def _child(paths_file: str, out_dir: str) -> None:
    """Run one size in this process; print a JSON line of timings."""
    import polars as pl

    t0 = time.perf_counter()
    import importlib

    import featuredb

    X = importlib.import_module("featuredb.extract")

    read, reader_name = _reader()
    paths = Path(paths_file).read_text().split("\n")
    # warm-up (compile or load the Numba cache) on one record, excluded from the rate
    X.compute_arrays(read(paths[0])[None])
    X.detect_only(read(paths[0])[None])
    t_warm = time.perf_counter() - t0
    stages = dict.fromkeys(("read", "filter+detect", "delineate+measure", "write"), 0.0)
    t_start = time.perf_counter()
    shard = featuredb.SHARD_SIZE
    n_rows = 0
    for k, a in enumerate(range(0, len(paths), shard)):
        t = time.perf_counter()
        sig = np.stack([read(p) for p in paths[a : a + shard]])
        stages["read"] += time.perf_counter() - t
        t = time.perf_counter()
        X.detect_only(sig)
        t_det = time.perf_counter() - t
        stages["filter+detect"] += t_det
        t = time.perf_counter()
        rec, lf = X.compute_arrays(sig)
        stages["delineate+measure"] += max(0.0, time.perf_counter() - t - t_det)
        t = time.perf_counter()
        f = X.to_frames(rec, lf, [Path(p).name for p in paths[a : a + shard]])
        f.records.write_parquet(Path(out_dir) / f"features-{k:05d}.parquet")
        f.leads.write_parquet(Path(out_dir) / f"lead_features-{k:05d}.parquet")
        stages["write"] += time.perf_counter() - t
        n_rows += f.records.height
    total = time.perf_counter() - t_start
    # detect_only repeats the detection done inside compute_arrays: do not count it twice
    total -= stages["filter+detect"]
    check = pl.scan_parquet(Path(out_dir) / "features-*.parquet").select(pl.len()).collect().item()
    print(json.dumps({
        "n": len(paths), "rows": check, "total_s": total, "warm_s": t_warm, "stages": stages,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "reader": reader_name,
        "threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
    }))


def _neurokit(paths: list[Path]) -> float:
    sys.path.insert(0, str(ROOT / "bench"))
    from featuredb_accuracy import neurokit_measure

    read, _ = _reader()
    t = time.perf_counter()
    for p in paths:
        neurokit_measure(read(p))
    return (time.perf_counter() - t) / len(paths)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--nk", type=int, default=10, help="records for the neurokit2 timing (0: skip)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    src = _sources(args.data)
    if not src:
        print(f"no WFDB records under {args.data.resolve()}: nothing to time")
        return 2
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "rec").mkdir()
        paths = _replicate(src, max(args.sizes), tmp / "rec")
        for n in args.sizes:
            out = tmp / f"out{n}"
            out.mkdir()
            lst = tmp / f"paths{n}.txt"
            lst.write_text("\n".join(str(p) for p in paths[:n]))
            res = subprocess.run(
                [sys.executable, __file__, "--child", str(lst), str(out)],
                capture_output=True, text=True, check=True,
            )
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        nk_s = _neurokit(src[: args.nk]) if args.nk else float("nan")
    print(f"FeatureDB end to end (read WFDB -> features -> Parquet), {cores} cores, "
          f"reader: {rows[0]['reader']}, shard {__import__('featuredb').SHARD_SIZE} records")
    hdr = (f"{'records':>8} {'wall s':>7} {'rec/s':>7} {'rec/s/core':>10} {'read':>6} {'filt+det':>8} "
           f"{'delin+meas':>10} {'write':>6} {'peak RSS MB':>11} {'warm-up s':>9}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        st = r["stages"]
        print(f"{r['n']:>8} {r['total_s']:>7.2f} {r['n'] / r['total_s']:>7.0f} {r['n'] / r['total_s'] / cores:>10.0f} "
              f"{st['read']:>6.2f} {st['filter+detect']:>8.2f} {st['delineate+measure']:>10.2f} {st['write']:>6.2f} "
              f"{r['maxrss_mb']:>11.0f} {r['warm_s']:>9.1f}")
    print("(stage columns: seconds in total; warm-up = import + Numba cache load/compile, excluded)")
    if args.nk:
        fdb = rows[-1]["total_s"] / rows[-1]["n"]
        print(f"\nneurokit2 (clean + peaks + 12 x DWT delineation), {args.nk} records, 1 process: "
              f"{nk_s:.2f} s/record")
        print(f"FeatureDB: {1000 * fdb:.2f} ms/record on {cores} cores "
              f"({1000 * fdb * cores:.2f} core-ms/record) -> {nk_s / fdb:.0f}x faster wall, "
              f"{nk_s / (fdb * cores):.0f}x per core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
