"""FeatureDB end-to-end speed: read WFDB -> all measurements -> Parquet, per stage.

Usage::

    python bench/featuredb_speed.py [--data ../shared/data] [--sizes 1000 10000] [--nk 10]

Real records (LUDB and PTB-XL 500 Hz) are replicated on disk (hard links under a temporary
folder) to reach each size; every size and configuration runs in fresh subprocesses so
peak memory (``ru_maxrss``) is its own.  Records stream in shards of
``featuredb.SHARD_SIZE``: read (``sources.reader``) into a preallocated shard, measure
(quality, detection, median beats, delineation, measurements: one Numba kernel per record,
``prange`` over the shard), turn into tables and write Parquet.  Configurations: ``serial``
(stages one after the other: exact stage times), ``overlap`` (a reader thread prefetches
the next shard while the kernels run), each as one process with all cores as Numba threads
or as one process per core with one thread.  Wall time and CPU time are both reported: the
machine may be shared, and CPU time per record is what other load does not inflate.  Numba
compilation/cache load is excluded and reported separately.  The neurokit2 peer (clean,
peaks, per-lead DWT delineation) runs on a few records for the ratio (CPU time).
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
from schemas.ecg import LEADS  # noqa: E402


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


def _child(paths_file: str, out_dir: str, mode: str) -> None:
    """Run one size in this process; print a JSON line of timings.

    ``serial``: read a shard, measure it, write it, one after the other (stage times are
    exact).  ``overlap``: a reader thread reads shard k+1 (file reads and the Numba decode
    release the GIL) while the kernels measure shard k; stage times are then the time the
    main thread spent waiting for / running each stage.
    """
    import queue
    import threading

    t0 = time.perf_counter()
    import importlib

    import featuredb

    X = importlib.import_module("featuredb.extract")

    read, reader_name = _reader()
    paths = [p for p in Path(paths_file).read_text().split("\n") if p]
    # warm-up (compile or load the Numba caches) on one record, excluded from the rate
    X.compute_arrays(read(paths[0])[None])
    X.detect_only(read(paths[0])[None])
    t_warm = time.perf_counter() - t0
    stages = dict.fromkeys(("read", "filter+detect", "delineate+measure", "write"), 0.0)
    shard = featuredb.SHARD_SIZE
    starts = list(range(0, len(paths), shard))

    def load(a: int) -> np.ndarray:
        batch = paths[a : a + shard]
        first = read(batch[0])
        sig = np.empty((len(batch), *first.shape), dtype=np.float32)
        sig[0] = first
        for j, p in enumerate(batch[1:], 1):
            sig[j] = read(p)
        return sig

    q: queue.Queue = queue.Queue(maxsize=1)
    if mode == "overlap":
        threading.Thread(target=lambda: [q.put(load(a)) for a in starts], daemon=True).start()
    c_start = time.process_time()
    t_start = time.perf_counter()
    n_rows = 0
    for k, a in enumerate(starts):
        t = time.perf_counter()
        sig = q.get() if mode == "overlap" else load(a)
        stages["read"] += time.perf_counter() - t
        t = time.perf_counter()
        rec, lf = X.compute_arrays(sig)
        stages["delineate+measure"] += time.perf_counter() - t
        t = time.perf_counter()
        f = X.to_frames(rec, lf, [Path(p).name for p in paths[a : a + shard]])
        f.records.write_parquet(Path(out_dir) / f"features-{k:05d}.parquet")
        f.leads.write_parquet(Path(out_dir) / f"lead_features-{k:05d}.parquet")
        stages["write"] += time.perf_counter() - t
        n_rows += f.records.height
    total = time.perf_counter() - t_start
    cpu = time.process_time() - c_start
    if mode == "serial":
        # the detection share of the measure stage, timed apart on the first shard
        sig = load(0)
        t = time.perf_counter()
        X.detect_only(sig)
        t_det = time.perf_counter() - t
        t = time.perf_counter()
        X.compute_arrays(sig)
        frac = t_det / max(time.perf_counter() - t, 1e-9)
        stages["filter+detect"] = frac * stages["delineate+measure"]
        stages["delineate+measure"] -= stages["filter+detect"]
    else:
        stages["filter+detect"] = float("nan")
    import polars as pl

    check = pl.scan_parquet(Path(out_dir) / "features-*.parquet").select(pl.len()).collect().item()
    assert check == n_rows == len(paths), (check, n_rows, len(paths))
    print(json.dumps({
        "n": len(paths), "rows": check, "total_s": total, "cpu_s": cpu, "warm_s": t_warm,
        "stages": stages, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "reader": reader_name, "threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
    }))


def _run_config(paths: list[Path], tmp: Path, tag: str, mode: str, procs: int, cores: int) -> dict:
    """One configuration on ``paths``: ``procs`` child processes, each on an equal slice
    with ``cores // procs`` Numba threads; wall = slowest child, CPU and RSS summed."""
    env = dict(os.environ, NUMBA_NUM_THREADS=str(max(1, cores // procs)))
    kids = []
    for i in range(procs):
        part = paths[i::procs]
        out = tmp / f"out-{tag}-{i}"
        out.mkdir()
        lst = tmp / f"paths-{tag}-{i}.txt"
        lst.write_text("\n".join(str(p) for p in part))
        kids.append(subprocess.Popen(
            [sys.executable, __file__, "--child", str(lst), str(out), mode],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        ))
    res = []
    for k in kids:
        out, err = k.communicate()
        if k.returncode:
            raise RuntimeError(err)
        res.append(json.loads(out.strip().splitlines()[-1]))
    st = {key: max(r["stages"][key] for r in res) for key in res[0]["stages"]}
    return {
        "n": sum(r["n"] for r in res), "total_s": max(r["total_s"] for r in res),
        "cpu_s": sum(r["cpu_s"] for r in res), "warm_s": max(r["warm_s"] for r in res),
        "stages": st, "maxrss_mb": sum(r["maxrss_mb"] for r in res), "reader": res[0]["reader"],
        "config": f"{mode}, {procs} proc x {max(1, cores // procs)} thr",
    }


def _command(paths: list[Path], folder: Path, out: Path, workers: int) -> float:
    """Wall seconds of the shipped command, start-up included: ``ecg-corpus features --wfdb``."""
    folder.mkdir()
    for p in paths:  # the records of this size only, as hard links (headers name their record)
        for ext in (".hea", ".dat"):
            os.link(f"{p}{ext}", folder / f"{p.name}{ext}")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ecg_corpus", "features", "--wfdb", str(folder), "--out", str(out),
                    "--workers", str(workers)], check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t


def _neurokit(paths: list[Path]) -> float:
    sys.path.insert(0, str(ROOT / "bench"))
    from featuredb_accuracy import neurokit_measure

    read, _ = _reader()
    t = time.process_time()
    for p in paths:
        neurokit_measure(read(p))
    return (time.process_time() - t) / len(paths)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--nk", type=int, default=10, help="records for the neurokit2 timing (0: skip)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    src = _sources(args.data)
    if not src:
        print(f"no WFDB records under {args.data.resolve()}: nothing to time")
        return 2
    cores = os.cpu_count() or 1
    configs = [("serial", 1), ("overlap", 1), ("overlap", cores)] if cores > 1 else [("serial", 1), ("overlap", 1)]
    rows = []
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "rec").mkdir()
        paths = _replicate(src, max(args.sizes), tmp / "rec")
        command = {}
        for n in args.sizes:
            for mode, procs in configs:
                rows.append(_run_config(paths[:n], tmp, f"{n}-{mode}-{procs}", mode, procs, cores))
            command[n] = _command(paths[:n], tmp / f"cmd-{n}", tmp / f"cmd-{n}.parquet", cores)
        nk_s = _neurokit(src[: args.nk]) if args.nk else float("nan")
    load1 = os.getloadavg()[0]
    print(f"FeatureDB end to end (read WFDB -> features -> Parquet), {cores} cores, "
          f"reader: {rows[0]['reader']}, shard {__import__('featuredb').SHARD_SIZE} records; "
          f"1-min load average {load0:.1f} before, {load1:.1f} after")
    hdr = (f"{'records':>8} {'configuration':<24} {'wall s':>7} {'rec/s':>6} {'rec/s/core':>10} "
           f"{'core-ms/rec':>11} {'read':>5} {'f+det':>5} {'meas':>5} {'write':>5} {'RSS MB':>7} {'warm s':>6}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        st = r["stages"]
        print(f"{r['n']:>8} {r['config']:<24} {r['total_s']:>7.2f} {r['n'] / r['total_s']:>6.0f} "
              f"{r['n'] / r['total_s'] / cores:>10.0f} {1000 * r['cpu_s'] / r['n']:>11.2f} "
              f"{st['read']:>5.2f} {st['filter+detect']:>5.2f} {st['delineate+measure']:>5.2f} {st['write']:>5.2f} "
              f"{r['maxrss_mb']:>7.0f} {r['warm_s']:>6.1f}")
    best = {}
    for r in rows:
        if r["n"] not in best or r["total_s"] < best[r["n"]]["total_s"]:
            best[r["n"]] = r
    print("(rec/s/core = records / wall / cores; core-ms/rec = CPU time of the run / records,")
    print(" which other load on the machine does not inflate; stage columns: seconds; in overlap")
    print(" mode 'read' is only the wait for the reader thread; RSS: peak, summed over processes;")
    print(" warm s = import + Numba cache load/compile, excluded)")
    for n, r in sorted(best.items()):
        print(f"best at {n}: {r['config']}: {r['n'] / r['total_s'] / cores:.0f} rec/s/core wall, "
              f"{1000 / (1000 * r['cpu_s'] / r['n']):.0f} rec per CPU-second")
    print(f"\nthe shipped command, ecg-corpus features --wfdb DIR --out F --workers {cores} "
          "(wall includes interpreter start, imports, worker spawn and Numba cache load):")
    for n, wall in command.items():
        print(f"{n:>8} records {wall:>7.2f} s {n / wall:>6.0f} rec/s {n / wall / cores:>6.0f} rec/s/core")
    if len(command) > 1:  # the start-up cost cancels out between two sizes
        (n1, t1), (n2, t2) = sorted(command.items())[0], sorted(command.items())[-1]
        print(f"    past start-up ({n1} -> {n2} records): {(n2 - n1) / (t2 - t1) / cores:.0f} rec/s/core, "
              f"start-up about {t1 - n1 * (t2 - t1) / (n2 - n1):.1f} s")
    if args.nk:
        r = best[max(best)]
        fdb = r["total_s"] / r["n"]
        fdb_cpu = r["cpu_s"] / r["n"]
        print(f"\nneurokit2 (clean + peaks + DWT delineation on each of the 12 leads), {args.nk} records, "
              f"1 process: {nk_s:.2f} s/record")
        print(f"FeatureDB ({r['config']}): {1000 * fdb:.2f} ms/record wall on {cores} cores, "
              f"{1000 * fdb_cpu:.2f} CPU-ms/record -> {nk_s / fdb:.0f}x faster wall, "
              f"{nk_s / fdb_cpu:.0f}x per CPU-second")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
