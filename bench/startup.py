"""Start-up cost of the command line and of FeatureDB, each in a fresh process.

Times (wall clock, median of ``--runs``) ``ecg-corpus --help``, ``import featuredb`` and
``ecg-corpus features --wfdb DIR --out F`` on one record (a one-record synthetic sample, so no
data folder is needed), all with FeatureDB's Numba kernels already cached; ``--cold`` also
times the features command once after dropping the cache (the first run after an install).

    python bench/startup.py [--runs 5] [--cold]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sources.sample import write_sample  # noqa: E402

CLI = [sys.executable, "-m", "ecg_corpus"]
#: (what, target seconds or None)
TARGETS = {"ecg-corpus --help": 0.5, "import featuredb": None, "features, one record (warm)": 1.5,
           "features, one record (cold cache)": None}


def _wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="also time one run with FeatureDB's cache dropped")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_sample(Path(tmp) / "one", "ptbxl", 1, 0) / "records500"
        features = [*CLI, "features", "--wfdb", str(folder), "--out", str(Path(tmp) / "f.parquet")]
        _wall(features)  # compiles when the cache is cold, so the warm figures below are warm
        cmds = {"ecg-corpus --help": [*CLI, "--help"],
                "import featuredb": [sys.executable, "-c", "import featuredb"],
                "features, one record (warm)": features}
        times = {what: statistics.median(_wall(cmd) for _ in range(args.runs)) for what, cmd in cmds.items()}
        if args.cold:
            for f in (ROOT / "featuredb" / "__pycache__").glob("*.nb[ic]"):
                f.unlink()
            times["features, one record (cold cache)"] = _wall(features)
    print(f"start-up, wall clock, median of {args.runs} fresh processes")
    print(f"{'what':<36} {'s':>7} {'target':>7}  pass")
    for what, s in times.items():
        target = TARGETS[what]
        verdict = "-" if target is None else "yes" if s <= target else "NO"
        print(f"{what:<36} {s:7.2f} {'-' if target is None else f'{target:.1f}':>7}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
