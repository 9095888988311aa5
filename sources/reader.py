"""Read a 12-lead WFDB record as float32 (12, n) millivolts at 500 Hz, leads mapped by name.

Format-16 records with one signal file (PTB-XL, MIMIC-IV-ECG, LUDB) are decoded directly with
numpy from a minimal header parser (WFDB header spec, PhysioNet "header(5)"); anything else
goes through ``wfdb.rdrecord``. Signals beyond the 12 standard leads (PTB Diagnostic's Frank
leads vx, vy, vz) are checksummed but not returned; :func:`extra_leads` names them. Every
problem raises :class:`RecordError` with a reason a person can act on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from numba import njit

from schemas.ecg import LEADS

FS = 500
_LEAD_INDEX = {name.lower(): i for i, name in enumerate(LEADS)}
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "μv": 1e-3, "µv": 1e-3, "v": 1e3}
_DEFAULT_GAIN = 200.0  # WFDB default ADC units per physical unit
_FLAT_PEAK_TO_PEAK_MV = 0.01  # a lead moving less than 10 µV over the record is flat
_NAN_ADC_16 = -32768  # WFDB's "no sample" value in format 16
EXTRA = -1  # lead_order's index of a signal outside the 12 standard leads


class RecordError(Exception):
    """A record that cannot be used; the message says why."""


@dataclass(frozen=True)
class Header:
    """The parts of a WFDB header the pipeline uses."""

    name: str
    fs: float
    n_samples: int
    leads: tuple[str, ...]
    fmts: tuple[str, ...]
    files: tuple[str, ...]
    gains: tuple[float, ...]
    baselines: tuple[int, ...]
    units: tuple[str, ...]
    checksums: tuple[int | None, ...]
    byte_offsets: tuple[int, ...]
    comments: tuple[str, ...]


def read_header(path: str | os.PathLike) -> Header:
    """Parse ``<path>.hea`` (path without extension)."""
    hea = Path(f"{path}.hea")
    try:
        text = hea.read_text(encoding="latin-1")
    except FileNotFoundError:
        raise RecordError(f"header not found: {hea.name}") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    comments = tuple(ln.lstrip("#").strip() for ln in lines if ln.startswith("#"))
    body = [ln for ln in lines if not ln.startswith("#")]
    try:
        rec = body[0].split()
        name, n_sig = rec[0], int(rec[1])
        fs = float(rec[2].split("/")[0].split("(")[0]) if len(rec) > 2 else 250.0
        n_samples = int(rec[3]) if len(rec) > 3 else 0
        sig = [ln.split() for ln in body[1 : 1 + n_sig]]
        if len(sig) != n_sig:
            raise ValueError(f"{n_sig} signals declared, {len(sig)} signal lines")
        fields = [_signal_fields(s) for s in sig]
    except (IndexError, ValueError) as exc:
        raise RecordError(f"malformed header {hea.name}: {exc}") from None
    cols = list(zip(*fields)) if fields else [()] * 8
    return Header(name, fs, n_samples, *map(tuple, cols), comments)


def _signal_fields(s: list[str]) -> tuple:
    """(lead, fmt, file, gain, baseline, units, checksum, byte_offset) of one signal line."""
    file_name = s[0]
    fmt_spec = s[1]
    fmt, offset = fmt_spec.split("+") if "+" in fmt_spec else (fmt_spec, "0")
    fmt = fmt.split("x")[0].split(":")[0]
    gain_spec = s[2] if len(s) > 2 else ""
    units = gain_spec.split("/")[1] if "/" in gain_spec else "mV"
    gain_base = gain_spec.split("/")[0]
    adc_zero = int(s[4]) if len(s) > 4 else 0
    baseline = int(gain_base.split("(")[1].rstrip(")")) if "(" in gain_base else adc_zero
    gain = float(gain_base.split("(")[0]) if gain_base else _DEFAULT_GAIN
    checksum = int(s[6]) if len(s) > 6 else None
    lead = " ".join(s[8:]) if len(s) > 8 else ""
    return lead, fmt, file_name, gain or _DEFAULT_GAIN, baseline, units, checksum, int(offset)


def lead_order(names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Canonical index of each file signal, :data:`EXTRA` for a signal that is not one of the 12
    standard leads (e.g. PTB Diagnostic's Frank leads vx, vy, vz); raise on duplicate or
    missing standard leads."""
    idx = [_LEAD_INDEX.get(name.strip().lower(), EXTRA) for name in names]
    dupes = sorted({LEADS[i] for i in idx if i != EXTRA and idx.count(i) > 1})
    if dupes:
        raise RecordError(f"duplicate leads: {', '.join(dupes)}")
    missing = [lead for i, lead in enumerate(LEADS) if i not in idx]
    if missing:
        extra = extra_leads(names)
        raise RecordError(f"missing leads: {', '.join(missing)}"
                          + (f" (other signals: {', '.join(map(repr, extra))})" if extra else ""))
    return np.asarray(idx)


def extra_leads(names: tuple[str, ...] | list[str]) -> list[str]:
    """The signal names, in file order, that are not one of the 12 standard leads."""
    return [name for name in names if name.strip().lower() not in _LEAD_INDEX]


def read_record(path: str | os.PathLike, fs: int = FS) -> tuple[Header, np.ndarray]:
    """Header and signal: float32 (12, n) in mV, the standard leads in canonical order,
    resampled to ``fs``."""
    header = read_header(path)
    order = lead_order(header.leads)
    if _is_plain_format16(header):
        signal = _decode_format16(Path(path).parent, header, order)
    else:
        raw = _read_with_wfdb(path)
        if raw.shape[0] != len(order):
            raise RecordError(f"header lists {len(order)} signals, data has {raw.shape[0]}")
        standard = order != EXTRA
        signal = np.empty((len(LEADS), raw.shape[1]), dtype=np.float32)
        signal[order[standard]] = raw[standard]
        _check_content(signal)
    if header.fs != fs:
        ratio = Fraction(fs) / Fraction(header.fs).limit_denominator(1000)
        from scipy.signal import resample_poly  # only for rates other than 500 Hz (slow to import)

        signal = resample_poly(signal, ratio.numerator, ratio.denominator, axis=1).astype(np.float32)
    return header, signal


def read_signal(path: str | os.PathLike, fs: int = FS) -> np.ndarray:
    """float32 (12, n) mV at ``fs`` Hz in the order of :data:`LEADS`."""
    return read_record(path, fs)[1]


def _is_plain_format16(h: Header) -> bool:
    return set(h.fmts) == {"16"} and len(set(h.files)) == 1 and set(h.byte_offsets) == {0}


@njit(cache=True, nogil=True)
def _decode_kernel(adc, order, base, scale, out, sums, lo, hi):
    """One pass over the interleaved int16 samples (n, n_sig): checksums of every signal, and for
    the standard leads (``order[j] != EXTRA``) min/max of the non-missing samples and the scaled
    float32 values in canonical lead order. Returns the number of missing standard samples."""
    n, n_sig = adc.shape
    n_nan = 0
    for j in range(n_sig):
        o = order[j]
        b = base[j]
        c = scale[j]
        sm = 0
        mn = 32767
        mx = -32768
        if o == EXTRA:
            for i in range(n):
                sm += adc[i, j]
        else:
            for i in range(n):
                v = adc[i, j]
                sm += v
                if v == _NAN_ADC_16:
                    out[o, i] = np.nan
                    n_nan += 1
                else:
                    out[o, i] = (np.float32(v) - b) * c
                    mn = min(mn, v)
                    mx = max(mx, v)
        sums[j] = sm
        lo[j] = mn
        hi[j] = mx
    return n_nan


def _decode_format16(folder: Path, h: Header, order: np.ndarray) -> np.ndarray:
    """Decode, verify and scale a format-16 file straight into canonical lead order.

    One read of the file and one pass over its samples (:func:`_decode_kernel`): checksums of
    all signals (extra ones included), the flat screen and the float32 (12, n) output in mV.
    """
    dat = folder / h.files[0]
    n_sig = len(h.leads)
    expected = 2 * n_sig * h.n_samples
    try:
        with open(dat, "rb") as fh:
            buf = fh.read(expected + 1)
    except FileNotFoundError:
        raise RecordError(f"signal file not found: {dat.name}") from None
    size = len(buf)
    if size < expected:
        raise RecordError(
            f"truncated signal file {dat.name}: {size} bytes, header expects {expected} "
            f"({h.n_samples} samples x {n_sig} signals)"
        )
    if size > expected:
        size = dat.stat().st_size
        raise RecordError(
            f"header disagrees with data: {dat.name} has {size} bytes, header expects "
            f"{expected} ({h.n_samples} samples x {n_sig} signals)"
        )
    adc = np.frombuffer(buf, dtype="<i2").reshape(h.n_samples, n_sig)
    scale = np.array([_unit_scale(u) / g for u, g in zip(h.units, h.gains)], dtype=np.float32)
    base = np.array(h.baselines, dtype=np.float32)
    out = np.empty((len(LEADS), h.n_samples), dtype=np.float32)
    sums = np.empty(n_sig, dtype=np.int64)
    lo = np.empty(n_sig, dtype=np.int64)
    hi = np.empty(n_sig, dtype=np.int64)
    n_nan = _decode_kernel(adc, order.astype(np.int64), base, scale, out, sums, lo, hi)
    for lead, expected_sum, got in zip(h.leads, h.checksums, (sums & 0xFFFF).tolist()):
        if expected_sum is not None and expected_sum & 0xFFFF != got:
            raise RecordError(
                f"header disagrees with data: checksum of lead {lead} is {got}, "
                f"header says {expected_sum}"
            )
    if n_nan == len(LEADS) * h.n_samples:
        raise RecordError("all samples missing (NaN)")
    ptp = np.where(hi >= lo, hi - lo, 0) * np.abs(scale.astype(np.float64))
    if not (ptp >= _FLAT_PEAK_TO_PEAK_MV).any():
        raise RecordError("flat signal: no lead moves more than 0.01 mV")
    return out


def _unit_scale(units: str) -> float:
    try:
        return _UNIT_TO_MV[units.strip().lower()]
    except KeyError:
        raise RecordError(f"unsupported signal units {units!r}") from None


def _read_with_wfdb(path: str | os.PathLike) -> np.ndarray:
    import wfdb

    try:
        rec = wfdb.rdrecord(str(path), physical=True)
    except FileNotFoundError as exc:
        raise RecordError(f"signal file not found: {Path(exc.filename or path).name}") from None
    except Exception as exc:  # wfdb raises bare ValueError/IndexError on corrupt data
        raise RecordError(f"unreadable record: {exc}") from None
    scale = np.array([_unit_scale(u or "mV") for u in rec.units], dtype=np.float32)
    return rec.p_signal.T.astype(np.float32) * scale[:, None]


def _check_content(signal: np.ndarray) -> None:
    finite = np.isfinite(signal)
    if not finite.any():
        raise RecordError("all samples missing (NaN)")
    ptp = np.where(finite, signal, -np.inf).max(axis=1) + np.where(finite, -signal, -np.inf).max(axis=1)
    if not (ptp >= _FLAT_PEAK_TO_PEAK_MV).any():
        raise RecordError("flat signal: no lead moves more than 0.01 mV")
