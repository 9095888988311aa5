"""Paper-ECG image speed: ``training.render`` against a straightforward matplotlib figure.

Usage::

    python bench/render_speed.py [--data ../shared/data] [--n 300] [--peer-n 10] [--px-per-mm 7.874]

Both renderers draw the same records in the same process: real PTB-XL records
(``ptbxl-sample``, paths from ``sources.ptbxl.manifest``, read with
``sources.reader.read_signal`` before the clock starts, replicated to ``--n``), or the synthetic
sample (``sources.sample.write_sample(tmp, "ptbxl", 14, 0)``) when the data folder is absent.
Each image is written as a PNG file. The matplotlib peer is the plot a person would write: one
figure of 11 x 8.5 in at the same pixel size, a 3 x 4 grid of subplots plus a rhythm-strip
subplot, black traces, pink major/minor grid lines from tick locators (as ecg-image-kit draws
them), ``savefig`` PNG; a second matplotlib row draws the same grid as ``vlines``/``hlines``
collections without ticks (matplotlib's time in the first goes mostly to 1,600 tick objects).

images/s per core = images / CPU seconds of the process (``time.process_time``: what other load
on the machine does not inflate); wall seconds are shown beside it. The target is 20 images/s
per core for ``training.render``, PNG encoding and writing included. Exit code 1 when it misses.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data"
sys.path.insert(0, str(ROOT))
from training import render as R  # noqa: E402

TARGET = 20.0  # images/s per core


def _signals(data: Path, n: int, tmp: Path) -> tuple[list[np.ndarray], str]:
    """``n`` signals (distinct records replicated), and where they came from."""
    from sources.reader import read_signal

    ptbxl = data / "ptbxl-sample"
    if ptbxl.is_dir():
        from sources.ptbxl import manifest

        paths = manifest(ptbxl)["path"].to_list()[:n]
        origin = f"PTB-XL sample, {len(paths)} real records at 500 Hz ({ptbxl.resolve()})"
    else:
        from sources.ptbxl import manifest
        from sources.sample import write_sample

        print(f"real data not found: {ptbxl.resolve()} (place the shared data next to the repository);"
              " timing the synthetic sample instead")
        root = write_sample(tmp / "sample", "ptbxl", 14, 0)
        paths = manifest(root)["path"].to_list()
        origin = f"synthetic sample, {len(paths)} records (sources.sample.write_sample(tmp, 'ptbxl', 14, 0))"
    distinct = [read_signal(p) for p in paths]
    return [distinct[i % len(distinct)] for i in range(n)], origin


def _matplotlib_png(signal: np.ndarray, path: Path, dpi: float, tick_grid: bool = True) -> None:
    """The straightforward matplotlib paper ECG: subplots, a grid from tick locators (as
    ecg-image-kit draws it) or, with ``tick_grid=False``, from ``vlines``/``hlines`` collections
    without ticks; savefig PNG."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MultipleLocator

    fs = 500
    fig = plt.figure(figsize=(11, 8.5), dpi=dpi)
    grid = fig.add_gridspec(4, 4, left=0.07, right=0.97, top=0.95, bottom=0.05, hspace=0.05, wspace=0)
    t = np.arange(signal.shape[1]) / fs
    panels = [(grid[r, c], R.LAYOUT[r][c], R.LAYOUT_NAMES[r][c], 2.5 * c, 2.5 * (c + 1))
              for r in range(3) for c in range(4)]
    panels.append((grid[3, :], R.RHYTHM_LEAD, "II", 0.0, 10.0))
    major, minor = "#ec8096", "#faced6"
    for cell, lead, name, t0, t1 in panels:
        ax = fig.add_subplot(cell)
        part = (t >= t0) & (t < t1)
        if tick_grid:
            ax.xaxis.set_major_locator(MultipleLocator(0.2))
            ax.xaxis.set_minor_locator(MultipleLocator(0.04))
            ax.yaxis.set_major_locator(MultipleLocator(0.5))
            ax.yaxis.set_minor_locator(MultipleLocator(0.1))
            ax.grid(which="major", color=major, linewidth=0.6)
            ax.grid(which="minor", color=minor, linewidth=0.3)
            ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        else:
            xs, ys = np.arange(t0, t1 + 1e-9, 0.04), np.arange(-2.0, 2.0 + 1e-9, 0.1)
            ax.vlines(xs, -2, 2, colors=[major if round(x / 0.04) % 5 == 0 else minor for x in xs], linewidths=0.4)
            ax.hlines(ys, t0, t1, colors=[major if round(y / 0.1) % 5 == 0 else minor for y in ys], linewidths=0.4)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.plot(t[part], signal[lead, part], color="black", linewidth=0.6)
        ax.set_xlim(t0, t1)
        ax.set_ylim(-2.0, 2.0)
        ax.text(t0 + 0.05, 1.5, name, fontsize=9)
    fig.savefig(path, dpi=dpi, format="png")
    plt.close(fig)


def _time(label: str, signals: list[np.ndarray], write, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i, sig in enumerate(signals):
        write(sig, out / f"{i:05d}.png")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    files = sorted(out.glob("*.png"))
    from PIL import Image

    with Image.open(files[0]) as im:
        size = im.size
    kb = np.mean([f.stat().st_size for f in files]) / 1024
    return {"renderer": label, "images": len(signals), "cpu": cpu, "wall": wall, "kb": kb, "size": size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=300, help="images by training.render")
    ap.add_argument("--peer-n", type=int, default=10, help="images by the matplotlib peer (0: skip it)")
    ap.add_argument("--px-per-mm", type=float, default=R.DEFAULT_PX_PER_MM)
    args = ap.parse_args(argv)
    ppm = args.px_per_mm
    with tempfile.TemporaryDirectory(prefix="render-bench-") as tmp_name:
        tmp = Path(tmp_name)
        signals, origin = _signals(args.data, args.n, tmp)
        print(f"records: {origin}; {args.n} images by training.render {R.RENDERER_VERSION}, "
              f"{args.peer_n} by matplotlib; {ppm:.3f} px/mm ({ppm * 25.4:.0f} dpi)")
        t0 = time.process_time()
        R._background(float(ppm))
        setup_ms = 1000 * (time.process_time() - t0)
        rows = [_time("training.render", signals,
                      lambda s, p: R.render_png(s, p, px_per_mm=ppm), tmp / "ours")]
        if args.peer_n:
            try:
                import matplotlib

                matplotlib.use("Agg")
                print(f"matplotlib {matplotlib.__version__}, Agg backend")
                for tick_grid, how in ((True, "tick grid"), (False, "line grid")):
                    rows.append(_time(f"matplotlib, {how}", signals[: args.peer_n],
                                      lambda s, p, g=tick_grid: _matplotlib_png(s, p, ppm * 25.4, g),
                                      tmp / f"peer-{tick_grid}"))
            except ImportError:
                print("matplotlib not installed: peer skipped")
    hdr = (f"{'renderer':<22} {'images':>6} {'CPU s':>7} {'wall s':>7} {'images/s/core':>13} "
           f"{'PNG KB':>7} {'pixels':>11} {'target':>8} {'pass':>5}")
    print(hdr)
    print("-" * len(hdr))
    ok = True
    for i, r in enumerate(rows):
        rate = r["images"] / r["cpu"]
        target = f">= {TARGET:g}" if i == 0 else "-"
        verdict = ("yes" if rate >= TARGET else "NO") if i == 0 else "-"
        ok &= i > 0 or rate >= TARGET
        print(f"{r['renderer']:<22} {r['images']:>6} {r['cpu']:>7.2f} {r['wall']:>7.2f} {rate:>13.1f} "
              f"{r['kb']:>7.0f} {r['size'][0]:>5}x{r['size'][1]:<5} {target:>8} {verdict:>5}")
    for peer in rows[1:]:
        ratio = (rows[0]["images"] / rows[0]["cpu"]) / (peer["images"] / peer["cpu"])
        print(f"training.render is {ratio:.0f}x {peer['renderer']} per core")
    print(f"(images/s/core = images / CPU seconds of this process; signals read before the clock; "
          f"the grid background, drawn once per size in {setup_ms:.0f} ms, is outside the clock)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
