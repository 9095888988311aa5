"""training.render: page size, grid, calibration pulse, scales (25 mm/s, 10 mm/mV), gaps, cache."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from training import render as R

FS = 500
DEFAULT = R.DEFAULT_PX_PER_MM


def _rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"))


def _px(mm: float, ppm: float) -> int:
    return int(np.rint(mm * ppm))


def _is_trace(a: np.ndarray, x_mm: float, y_mm: float, ppm: float) -> bool:
    return tuple(a[_px(y_mm, ppm), _px(x_mm, ppm)]) == R.COLOURS[R.TRACE]


def _x_mm(t_s: float) -> float:
    """Page x of time t on every row: time 0 at TRACE_X0, 25 mm per second."""
    return R.TRACE_X0_MM + 25.0 * t_s


def _blank(seconds: float = 10.0) -> np.ndarray:
    return np.full((12, int(seconds * FS)), np.nan, dtype=np.float32)


@pytest.mark.parametrize("ppm", [DEFAULT, 4.0, 10.0])
def test_page_size_follows_px_per_mm(ppm):
    img = R.render(np.zeros((12, 5000), np.float32), px_per_mm=ppm)
    assert img.size == (round(279.4 * ppm), round(215.9 * ppm)) == R.page_size(ppm)
    if ppm == DEFAULT:
        assert img.size == (2200, 1700)  # ecg-image-kit's 11 x 8.5 in page at 200 dpi


@pytest.mark.parametrize("ppm", [DEFAULT, 4.0])
def test_grid_major_every_5_mm_minor_every_mm(ppm):
    a = _rgb(R.render(_blank(), px_per_mm=ppm))
    y = _px(67.5, ppm)  # between two horizontal lines, away from the traces and labels
    for x_mm in (100.0, 150.0, 255.0):
        assert tuple(a[y, _px(x_mm, ppm)]) == R.COLOURS[R.MAJOR]
        assert tuple(a[y, _px(x_mm + 1, ppm)]) == R.COLOURS[R.MINOR]
        assert tuple(a[y, _px(x_mm + 0.5, ppm)]) == R.COLOURS[R.PAPER]
    x = _px(102.5, ppm)  # horizontal lines, read down a column between vertical lines
    assert tuple(a[_px(65.0, ppm), x]) == R.COLOURS[R.MAJOR]
    assert tuple(a[_px(66.0, ppm), x]) == R.COLOURS[R.MINOR]
    assert R.COLOURS[R.MAJOR] != R.COLOURS[R.MINOR] != R.COLOURS[R.PAPER]


@pytest.mark.parametrize("ppm", [DEFAULT, 4.0])
def test_calibration_pulse_is_10_mm_tall_and_5_mm_wide(ppm):
    a = _rgb(R.render(_blank(), px_per_mm=ppm))
    black = np.all(a == R.COLOURS[R.TRACE], axis=2)
    for base in R.ROW_BASELINES_MM:  # every row, rhythm strip included
        band = slice(_px(base - 15, ppm), _px(base + 5, ppm))
        top = np.flatnonzero(black[band, _px(R.CAL_X0_MM + 2.5, ppm)])  # middle of the pulse
        foot = np.flatnonzero(black[band, _px(R.CAL_X0_MM - 1.0, ppm)])  # baseline before it
        assert top.size and foot.size
        height_px = foot.mean() - top.mean()
        assert abs(height_px - 10.0 * ppm) <= 1.0, (base, height_px)
        row = _px(base - 5, ppm)  # half way up: the rising and falling edges, 0.2 s apart
        edges = np.flatnonzero(black[row, : _px(R.TRACE_X0_MM, ppm)])
        assert edges.size
        assert abs((edges.max() - edges.min()) - 5.0 * ppm) <= 2 * R._width(R.TRACE_WIDTH_MM, ppm)


@pytest.mark.parametrize("ppm", [DEFAULT, 4.0])
def test_trace_follows_25_mm_per_s_and_10_mm_per_mv(ppm):
    sig = np.zeros((12, 5000), np.float32)
    sig[0, 500:750] = 1.0  # lead I: 1 mV from 1.0 s to 1.5 s
    sig[9, 4000:4200] = -0.5  # V4: -0.5 mV from 8.0 s to 8.4 s
    a = _rgb(R.render(sig, px_per_mm=ppm))
    b_i, b_ii, _, b_rhythm = R.ROW_BASELINES_MM
    # Lead I (row 0, column 0): 1 mV is 10 mm above the baseline during the pulse only.
    assert _is_trace(a, _x_mm(1.2), b_i - 10, ppm)
    assert not _is_trace(a, _x_mm(1.2), b_i, ppm)
    assert _is_trace(a, _x_mm(0.5), b_i, ppm) and not _is_trace(a, _x_mm(0.5), b_i - 10, ppm)
    assert _is_trace(a, _x_mm(1.8), b_i, ppm) and not _is_trace(a, _x_mm(1.8), b_i - 10, ppm)
    # 25 mm/s: the pulse's top spans 0.5 s = 12.5 mm on the page.
    row = np.all(a[_px(b_i - 10, ppm)] == R.COLOURS[R.TRACE], axis=1)
    span = np.flatnonzero(row[_px(_x_mm(0.2), ppm): _px(_x_mm(2.4), ppm)])
    assert abs((span.max() - span.min()) - 12.5 * ppm) <= 2 * R._width(R.TRACE_WIDTH_MM, ppm)
    # V4 is row 0, column 3 (8.0 s lies in 7.5..10 s): -0.5 mV is 5 mm below the baseline.
    assert _is_trace(a, _x_mm(8.2), b_i + 5, ppm) and not _is_trace(a, _x_mm(8.2), b_i, ppm)
    # Lead II (row 1 and the rhythm strip) is flat: the pulse is lead I's alone.
    assert _is_trace(a, _x_mm(1.2), b_ii, ppm) and not _is_trace(a, _x_mm(1.2), b_ii - 10, ppm)
    assert _is_trace(a, _x_mm(1.2), b_rhythm, ppm) and not _is_trace(a, _x_mm(1.2), b_rhythm - 10, ppm)


def test_rhythm_strip_is_lead_ii_over_10_s_and_columns_are_consecutive():
    sig = np.zeros((12, 5000), np.float32)
    sig[1, 4500:4600] = 1.0  # lead II at 9.0-9.2 s: only in the rhythm strip (row 1 shows II for 0-2.5 s)
    sig[4, 1500:1600] = 1.0  # aVL at 3.0-3.2 s: row 1, column 1
    sig[4, 200:300] = 1.0  # aVL at 0.4-0.6 s: not shown (column 0 of row 1 is lead II)
    a = _rgb(R.render(sig))
    _, b_ii, _, b_rhythm = R.ROW_BASELINES_MM
    assert _is_trace(a, _x_mm(9.1), b_rhythm - 10, DEFAULT)
    assert not _is_trace(a, _x_mm(9.1), b_ii - 10, DEFAULT)  # row 1 at 9.1 s is V5
    assert _is_trace(a, _x_mm(3.1), b_ii - 10, DEFAULT)
    assert not _is_trace(a, _x_mm(0.5), b_ii - 10, DEFAULT) and _is_trace(a, _x_mm(0.5), b_ii, DEFAULT)


def test_nan_gap_leaves_no_trace():
    sig = np.zeros((12, 5000), np.float32)
    sig[0, 500:1000] = np.nan  # lead I: no samples from 1.0 s to 2.0 s
    sig[0, 750] = 0.5  # one lone sample inside the gap: a dot
    a = _rgb(R.render(sig))
    black = np.all(a == R.COLOURS[R.TRACE], axis=2)
    for other in R.ROW_BASELINES_MM[1:]:  # the other rows' flat traces; everything else must be blank
        black[_px(other - 1, DEFAULT): _px(other + 1, DEFAULT)] = False
    base = R.ROW_BASELINES_MM[0]
    for lo, hi in ((1.0, 1.45), (1.55, 2.0)):
        cols = slice(_px(_x_mm(lo) + 0.5, DEFAULT), _px(_x_mm(hi) - 0.5, DEFAULT))
        assert not black[:, cols].any(), (lo, hi)  # the whole page height, not only row 0
    # Up to the gap's edges nothing leaves row 0's baseline (no stroke towards a NaN sample).
    edge = black[:, _px(_x_mm(0.99), DEFAULT): _px(_x_mm(2.01), DEFAULT) + 1].copy()
    edge[_px(base - 1, DEFAULT): _px(base + 1, DEFAULT)] = False
    dot = _px(_x_mm(1.5), DEFAULT) - _px(_x_mm(0.99), DEFAULT)
    edge[:, dot - 3: dot + 4] = False
    assert not edge.any()
    assert _is_trace(a, _x_mm(1.5), base - 5, DEFAULT)  # the lone sample
    assert _is_trace(a, _x_mm(0.9), base, DEFAULT) and _is_trace(a, _x_mm(2.1), base, DEFAULT)
    assert _is_trace(a, _x_mm(1.5), R.ROW_BASELINES_MM[3], DEFAULT)  # lead II's strip is whole


def test_short_record_is_drawn_as_far_as_it_goes():
    a = _rgb(R.render(np.zeros((12, 1500), np.float32)))  # 3 s
    _, b_ii, _, b_rhythm = R.ROW_BASELINES_MM
    assert _is_trace(a, _x_mm(2.8), b_ii, DEFAULT) and _is_trace(a, _x_mm(2.8), b_rhythm, DEFAULT)
    black = np.all(a == R.COLOURS[R.TRACE], axis=2)
    black[:, [_px(_x_mm(t), DEFAULT) + d for t in (5.0, 7.5) for d in (-1, 0, 1)]] = False  # lead-change bars
    cols = slice(_px(_x_mm(3.0) + 0.5, DEFAULT), a.shape[1])
    for base in R.ROW_BASELINES_MM:
        assert not black[_px(base - 2, DEFAULT): _px(base + 2, DEFAULT), cols].any()


def test_render_refuses_a_signal_of_the_wrong_shape():
    with pytest.raises(ValueError, match="12, n"):
        R.render(np.zeros((8, 5000), np.float32))


def test_render_png_writes_a_png_atomically(tmp_path):
    out = R.render_png(np.zeros((12, 5000), np.float32), tmp_path / "sub" / "x.png", px_per_mm=4.0)
    assert out == tmp_path / "sub" / "x.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out) as im:
        assert im.size == R.page_size(4.0)
    assert [p.name for p in out.parent.iterdir()] == ["x.png"]  # no temporary file left


def test_image_names_are_file_safe_and_distinct():
    assert R.image_name("ptbxl:00001") == "ptbxl_00001.png"
    assert R.image_name("mimic:40689238") == "mimic_40689238.png"
    names = {R.image_name(i) for i in ("wfdb:sub/dir/rec", "wfdb:a/b_c", "wfdb:a_b/c", "wfdb:../x", "ptbxl:00001")}
    assert len(names) == 5
    for name in names:
        assert "/" not in name and ":" not in name and not name.startswith(".")
    assert R.image_name("wfdb:sub/dir/rec").startswith("wfdb_sub_dir_rec_")


def test_cached_image_renders_once(tmp_path, monkeypatch):
    from sources.ptbxl import manifest
    from sources.sample import write_sample

    root = write_sample(tmp_path / "ptbxl", "ptbxl", 1, 0)
    record_id, path = manifest(root).select("record_id", "path").row(0)
    assert record_id == "ptbxl:00001" and path.endswith("records500/00000/00001_hr")
    image_dir = tmp_path / "images"
    first = R.cached_image(record_id, path, image_dir)
    assert first == image_dir / R.RENDERER_VERSION / "ptbxl_00001.png"
    with Image.open(first) as im:
        assert im.size == (2200, 1700)
        assert np.all(np.asarray(im.convert("RGB")) == R.COLOURS[R.TRACE], axis=2).sum() > 10_000
    mtime = first.stat().st_mtime_ns

    def no_render(*args, **kw):
        raise AssertionError("a cached image was rendered again")

    monkeypatch.setattr(R, "render", no_render)
    second = R.cached_image(record_id, path, image_dir)
    assert second == first and second.stat().st_mtime_ns == mtime
    # Another resolution is another file, never the cached one of the wrong size.
    monkeypatch.undo()
    small = R.cached_image(record_id, path, image_dir, px_per_mm=4.0)
    assert small != first and small.parent.parent == image_dir
    with Image.open(small) as im:
        assert im.size == R.page_size(4.0)


def test_layout_indices_name_the_printed_leads():
    from schemas.ecg import LEADS

    assert [[LEADS[i] for i in row] for row in R.LAYOUT] == [list(names) for names in R.LAYOUT_NAMES]
    assert LEADS[R.RHYTHM_LEAD] == "II"
