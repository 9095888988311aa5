"""FeatureDB against the ground truth of the parametric generator (sources/synthetic.py).

Generates records of every kind in turn (seeded), measures them with FeatureDB and prints,
per kind, the mean and SD of measured - true for the global P duration, PR, QRS, QT and HR and
the frontal QRS axis, with and without the generator's nuisances (white noise, baseline wander,
mains, a noisy lead). Limits: IEC 60601-2-25 for the intervals (mean / SD: P 10/15, PR 10/10,
QRS 10/10, QT 25/30 ms), HR 1/2 bpm, axis 10/10 degrees.

    python bench/sample_truth.py [--n 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import featuredb  # noqa: E402
from sources.synthetic import KINDS, simulate  # noqa: E402

MEASURES = {"p_dur_ms": (10, 15), "pr_ms": (10, 10), "qrs_ms": (10, 10), "qt_ms": (25, 30), "hr_bpm": (1, 2),
            "qrs_axis_deg": (10, 10)}


def errors(n: int, seed: int, noise: bool) -> dict[str, dict[str, np.ndarray]]:
    """kind -> measure -> measured - true (NaN where either is missing)."""
    rng = np.random.default_rng(seed)
    made = [simulate(KINDS[i % len(KINDS)], rng, noise) for i in range(n)]
    got = featuredb.extract(np.stack([s for s, _ in made])).records
    out: dict[str, dict[str, list]] = {}
    for i, (_, truth) in enumerate(made):
        for m in MEASURES:
            d = got[m][i] - getattr(truth, m)
            if m.endswith("_deg"):
                d = (d + 180.0) % 360.0 - 180.0
            out.setdefault(truth.kind, {}).setdefault(m, []).append(d)
    return {k: {m: np.array(v, dtype=float) for m, v in ms.items()} for k, ms in out.items()}


def table(errs: dict[str, dict[str, np.ndarray]]) -> bool:
    head = f"{'kind':<12} " + " ".join(f"{m:>16}" for m in MEASURES)
    print(head)
    print("-" * len(head))
    ok_all = True
    for kind in [k.name for k in KINDS]:
        cells = []
        for m, (lim_mean, lim_sd) in MEASURES.items():
            d = errs[kind][m][~np.isnan(errs[kind][m])]
            if not d.size:
                cells.append(f"{'-':>16}")
                continue
            ok = abs(d.mean()) <= lim_mean and d.std() <= lim_sd
            ok_all &= ok
            cells.append(f"{d.mean():+6.1f}/{d.std():5.1f}{'' if ok else ' NO':>3}".rjust(16))
        print(f"{kind:<12} " + " ".join(cells))
    return ok_all


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for noise in (True, False):
        print(f"\n{args.n} records, noise {'on' if noise else 'off'}: measured - true, mean/SD per kind "
              "(limits P 10/15, PR 10/10, QRS 10/10, QT 25/30 ms, HR 1/2 bpm, axis 10/10 deg)")
        verdict = table(errors(args.n, args.seed, noise))
        print("all within limits" if verdict else "NO marks a kind outside a limit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
