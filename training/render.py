"""Standard 12-lead paper ECG images for ECG-R1's image modality (a pure library: numpy + Pillow).

The page follows the resting-ECG printout conventions of AHA/ACC/HRS (Kligfield et al.,
Circulation 115:1306, 2007) and IEC 60601-2-25: paper speed 25 mm/s, gain 10 mm/mV, a grid of
1 mm minor and 5 mm major lines (0.04 s x 0.1 mV and 0.2 s x 0.5 mV), a 1 mV x 0.2 s
calibration pulse at the start of each row, and the 3 x 4 layout

    I    aVR  V1  V4
    II   aVL  V2  V5
    III  aVF  V3  V6
    II (rhythm strip, 10 s)

where column k shows seconds 2.5k..2.5(k+1) of its three leads, so the four columns are
consecutive in time, as on a real printout, and line up with the rhythm strip below them.

The page is US letter, landscape (279.4 x 215.9 mm), at ``px_per_mm = 200 / 25.4`` by default:
2200 x 1700 pixels, the page and default resolution of ecg-image-kit
(alphanumericslab/ecg-image-kit, ``ecg_plot.py``: 11 x 8.5 in at 200 dpi), the public generator
of synthetic paper ECGs (PhysioNet Challenge 2024). ECG-R1's image sets (PULSE's ECGInstruct,
GEM's ECG-Grounding ``mimic_gen``) do not state their pixel sizes in the sources read; what ECG-R1
states is its input budget: Qwen3-VL with ``IMAGE_MAX_TOKEN_NUM=768`` (``scripts/shells/
sft_train.sh``) downsizes any image to at most 768 x 32 x 32 = 786,432 pixels, and
``px_per_mm=3.6`` (1006 x 777) gives an image within that budget.

Images are palette ("P") images of four colours (paper, minor line, major line, trace), drawn
without anti-aliasing: the grid, labels and calibration pulses are drawn once per size and
cached, each record adds its traces as polylines, and PNGs are written with zlib level 1.
``image.convert("RGB")`` gives an RGB image. The example in ``docs/ecg-example.png`` is record 1
of ``sources.sample.write_sample(tmp, "ptbxl", 1, 0)`` (synthetic), rendered with the defaults.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

#: Bump whenever the drawing changes: cached images live under ``image_dir / RENDERER_VERSION``.
RENDERER_VERSION = "r1"

PAPER_SPEED_MM_S = 25.0  # AHA/IEC standard paper speed
GAIN_MM_MV = 10.0  # AHA/IEC standard gain
DEFAULT_PX_PER_MM = 200 / 25.4  # ecg-image-kit's default 200 dpi: a 2200 x 1700 page
PAGE_MM = (279.4, 215.9)  # US letter, landscape (ecg-image-kit's 11 x 8.5 in page)
PNG_COMPRESS_LEVEL = 1

#: Rows of the 3 x 4 layout, as indices into ``schemas.ecg.LEADS``
#: (I, II, III, aVR, aVL, aVF, V1, ..., V6).
LAYOUT = ((0, 3, 6, 9), (1, 4, 7, 10), (2, 5, 8, 11))
LAYOUT_NAMES = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = 1  # lead II
COLUMN_S = 2.5
RHYTHM_S = 10.0

TRACE_X0_MM = 20.0  # time 0 of every row; the calibration pulse sits in the 10 mm before it
CAL_X0_MM = 12.0  # rise of the calibration pulse (it falls 0.2 s = 5 mm later)
ROW_BASELINES_MM = (45.0, 90.0, 135.0, 180.0)  # three lead rows, then the rhythm strip
LABEL_DX_MM, LABEL_DY_MM, LABEL_SIZE_MM = 1.0, -11.0, 3.5  # label top-left from segment start
TICK_HALF_MM = 2.5  # the short bar marking a lead change between columns
FOOTER_Y_MM = 204.0
TRACE_WIDTH_MM = 0.25
MINOR_WIDTH_MM, MAJOR_WIDTH_MM = 0.12, 0.25

# Palette indices and colours.
PAPER, MINOR, MAJOR, TRACE = 0, 1, 2, 3
COLOURS = {PAPER: (255, 255, 255), MINOR: (250, 206, 214), MAJOR: (236, 128, 150), TRACE: (0, 0, 0)}


def page_size(px_per_mm: float = DEFAULT_PX_PER_MM) -> tuple[int, int]:
    """(width, height) in pixels of the page at ``px_per_mm``."""
    return round(PAGE_MM[0] * px_per_mm), round(PAGE_MM[1] * px_per_mm)


def _px(mm, px_per_mm: float):
    """Millimetres from the page's top-left corner -> integer pixel coordinate (rounded)."""
    return np.rint(np.asarray(mm, dtype=np.float64) * px_per_mm).astype(np.int64)


def _width(mm: float, px_per_mm: float) -> int:
    return max(1, round(mm * px_per_mm))


def _font(size_px: int):
    try:
        return ImageFont.load_default(size=size_px)
    except (TypeError, OSError):  # no FreeType: Pillow's small bitmap font
        return ImageFont.load_default()


@lru_cache(maxsize=8)
def _background(px_per_mm: float) -> Image.Image:
    """The page without traces: grid, calibration pulses, lead labels, column bars, footer.
    Drawn once per resolution; callers copy it."""
    w, h = page_size(px_per_mm)
    img = Image.new("P", (w, h), PAPER)
    img.putpalette([c for i in sorted(COLOURS) for c in COLOURS[i]])
    draw = ImageDraw.Draw(img)
    draw.fontmode = "1"  # palette indices cannot be blended: no anti-aliased glyphs
    minor_w, major_w = _width(MINOR_WIDTH_MM, px_per_mm), _width(MAJOR_WIDTH_MM, px_per_mm)
    for vertical, extent_mm in ((True, PAGE_MM[0]), (False, PAGE_MM[1])):
        for major in (False, True):  # major lines over minor ones
            mms = [m for m in range(int(extent_mm) + 1) if (m % 5 == 0) == major]
            lw, colour = (major_w, MAJOR) if major else (minor_w, MINOR)
            for p in _px(mms, px_per_mm) - lw // 2:
                box = (p, 0, p + lw - 1, h) if vertical else (0, p, w, p + lw - 1)
                draw.rectangle(box, fill=colour)
    trace_w = _width(TRACE_WIDTH_MM, px_per_mm)
    font = _font(max(8, round(LABEL_SIZE_MM * px_per_mm)))
    for row, base in enumerate(ROW_BASELINES_MM):
        cal = [(TRACE_X0_MM - 10.0, base), (CAL_X0_MM, base), (CAL_X0_MM, base - GAIN_MM_MV),
               (CAL_X0_MM + 0.2 * PAPER_SPEED_MM_S, base - GAIN_MM_MV),
               (CAL_X0_MM + 0.2 * PAPER_SPEED_MM_S, base), (TRACE_X0_MM, base)]
        draw.line([tuple(_px(p, px_per_mm).tolist()) for p in cal], fill=TRACE, width=trace_w)
        names = LAYOUT_NAMES[row] if row < 3 else ("II",)
        for col, name in enumerate(names):
            x_mm = TRACE_X0_MM + col * COLUMN_S * PAPER_SPEED_MM_S
            xy = _px((x_mm + LABEL_DX_MM, base + LABEL_DY_MM), px_per_mm)
            draw.text(tuple(xy.tolist()), name, fill=TRACE, font=font)
            if col:
                x, y0, y1 = _px((x_mm, base - TICK_HALF_MM, base + TICK_HALF_MM), px_per_mm).tolist()
                draw.line([(x, y0), (x, y1)], fill=TRACE, width=trace_w)
    footer = f"{PAPER_SPEED_MM_S:g} mm/s   {GAIN_MM_MV:g} mm/mV"
    draw.text(tuple(_px((TRACE_X0_MM - 10.0, FOOTER_Y_MM), px_per_mm).tolist()), footer, fill=TRACE, font=font)
    return img


def _polylines(draw: ImageDraw.ImageDraw, x: np.ndarray, y: np.ndarray, width: int) -> None:
    """Draw (x, y) as polylines broken at non-finite y (gaps draw nothing)."""
    finite = np.isfinite(y)
    if not finite.any():
        return
    edges = np.flatnonzero(np.diff(np.concatenate(([False], finite, [False])).astype(np.int8)))
    for start, stop in zip(edges[::2], edges[1::2]):
        if stop - start == 1:  # a lone sample: a dot of the trace's width
            x0, y0 = int(x[start]), int(y[start])
            draw.rectangle((x0 - width // 2, y0 - width // 2, x0 + (width - 1) // 2, y0 + (width - 1) // 2), fill=TRACE)
            continue
        pts = np.empty((stop - start, 2), dtype=np.int64)
        pts[:, 0] = x[start:stop]
        pts[:, 1] = y[start:stop]
        draw.line(pts.ravel().tolist(), fill=TRACE, width=width)


def render(signal: np.ndarray, fs: int = 500, px_per_mm: float = DEFAULT_PX_PER_MM) -> Image.Image:
    """A 12-lead paper ECG of ``signal``: float (12, n) millivolts at ``fs`` Hz, leads in the
    order of ``schemas.ecg.LEADS``, NaN samples being gaps.

    3 x 4 layout (column k: seconds 2.5k..2.5(k+1)) plus a 10 s lead II rhythm strip, at the
    standard 25 mm/s and 10 mm/mV on a 1 mm / 5 mm grid; 0 mV lies on each row's baseline (the
    level of the calibration pulse's foot). A record shorter than 10 s is drawn as far as it
    goes; one longer is drawn for its first 10 s. Returns a palette ("P") image of
    :func:`page_size` pixels; amplitudes beyond the page are clipped at its edge.
    """
    sig = np.asarray(signal)
    if sig.ndim != 2 or sig.shape[0] != 12:
        raise ValueError(f"signal must be (12, n) in schemas.ecg.LEADS order, got shape {sig.shape}")
    if fs <= 0 or px_per_mm <= 0:
        raise ValueError(f"fs and px_per_mm must be positive (fs={fs}, px_per_mm={px_per_mm})")
    img = _background(float(px_per_mm)).copy()
    draw = ImageDraw.Draw(img)
    h = img.size[1]
    width = _width(TRACE_WIDTH_MM, px_per_mm)
    n_col, n_all = round(COLUMN_S * fs), min(sig.shape[1], round(RHYTHM_S * fs))
    if n_all == 0:
        return img
    # Every row shares one time axis: sample i sits at TRACE_X0 + 25 mm/s * i / fs.
    x_all = _px(TRACE_X0_MM + PAPER_SPEED_MM_S * np.arange(n_all) / fs, px_per_mm)
    mv_px = GAIN_MM_MV * px_per_mm
    segments = [(lead, row, slice(col * n_col, min((col + 1) * n_col, n_all)))
                for row, leads in enumerate(LAYOUT) for col, lead in enumerate(leads)]
    segments.append((RHYTHM_LEAD, 3, slice(0, n_all)))
    for lead, row, part in segments:
        if part.start >= part.stop:
            continue
        v = sig[lead, part].astype(np.float64)
        y = ROW_BASELINES_MM[row] * px_per_mm - v * mv_px
        y[~np.isfinite(y)] = np.nan  # NaN (or inf) samples: a gap
        y = np.rint(np.clip(y, -1.0, h))  # beyond the page: at its edge; NaN stays NaN
        _polylines(draw, x_all[part], y, width)
    return img


def _pnginfo() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"ecg-corpus training.render {RENDERER_VERSION}")
    info.add_text("Comment", f"{PAPER_SPEED_MM_S:g} mm/s, {GAIN_MM_MV:g} mm/mV, 1 mm grid")
    return info


def render_png(signal: np.ndarray, path: str | os.PathLike, *, compress_level: int = PNG_COMPRESS_LEVEL,
               **kw) -> Path:
    """Render ``signal`` (see :func:`render`; ``fs``, ``px_per_mm`` pass through) and write it as
    a PNG at ``path`` atomically (a temporary file in the same folder, then a rename). Returns
    the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = render(signal, **kw)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        img.save(tmp, format="PNG", compress_level=compress_level, pnginfo=_pnginfo())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


_PLAIN_SOURCE = re.compile(r"[A-Za-z0-9-]+")
_PLAIN_REST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


def image_name(record_id: str) -> str:
    """The file name of a record's image: ``ptbxl:00001`` -> ``ptbxl_00001.png``; an id with
    other characters (``wfdb:sub/dir/rec``) -> its characters outside ``[A-Za-z0-9.-]`` as ``_``
    plus 12 hex digits of its SHA-256 (``wfdb_sub_dir_rec_<hash>.png``), so distinct ids never
    share a file."""
    source, sep, rest = record_id.partition(":")
    if sep and _PLAIN_SOURCE.fullmatch(source) and _PLAIN_REST.fullmatch(rest):
        return f"{source}_{rest}.png"
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", record_id).strip("._")[:80] or "record"
    return f"{slug}_{hashlib.sha256(record_id.encode()).hexdigest()[:12]}.png"


def image_folder(image_dir: str | os.PathLike, px_per_mm: float = DEFAULT_PX_PER_MM) -> Path:
    """``image_dir / RENDERER_VERSION`` at the default resolution; another resolution gets its
    own folder (``r1-3.6ppmm``) so the cache never returns an image of the wrong size."""
    folder = RENDERER_VERSION if px_per_mm == DEFAULT_PX_PER_MM else f"{RENDERER_VERSION}-{px_per_mm:g}ppmm"
    return Path(image_dir) / folder


def cached_image(record_id: str, wfdb_path: str, image_dir: Path, **kw) -> Path:
    """The PNG of a record, cached by record and renderer version at
    ``image_dir / RENDERER_VERSION / image_name(record_id)``: an existing file is returned as it
    is; otherwise the signal is read with ``sources.reader.read_signal(wfdb_path)`` (float32
    (12, n) mV at 500 Hz; a ``RecordError`` propagates) and rendered. ``kw``: ``px_per_mm``,
    ``compress_level``."""
    path = image_folder(image_dir, kw.get("px_per_mm", DEFAULT_PX_PER_MM)) / image_name(record_id)
    if path.is_file():
        return path
    # The numba-backed reader is imported only here: render() needs numpy and Pillow alone.
    from sources.reader import FS, read_signal

    return render_png(read_signal(wfdb_path), path, fs=FS, **kw)
