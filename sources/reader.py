"""Read a 12-lead WFDB record as float32 (12, n) millivolts at 500 Hz, leads mapped by name.

Format-16 records with one signal file (PTB-XL, MIMIC-IV-ECG, LUDB) are decoded directly with
numpy from a minimal header parser (WFDB header spec, PhysioNet "header(5)"); anything else
goes through ``wfdb.rdrecord``. Signals beyond the 12 standard leads (PTB Diagnostic's Frank
leads vx, vy, vz) are checksummed but not returned; :func:`extra_leads` names them. Every
problem raises :class:`RecordError` with a reason a person can act on. :func:`check_headers`
makes every check that needs no signal read (header, leads, units, signal file sizes) for many
records at once. Paths may be fsspec URLs (:mod:`sources.storage`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit

from schemas.ecg import LEADS
from sources import storage

FS = 500
_LEAD_INDEX = {name.lower(): i for i, name in enumerate(LEADS)}
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "μv": 1e-3, "µv": 1e-3, "v": 1e3}
_DEFAULT_GAIN = 200.0  # WFDB default ADC units per physical unit
_FLAT_PEAK_TO_PEAK_MV = 0.01  # a lead moving less than 10 µV over the record is flat
_NAN_ADC_16 = -32768  # WFDB's "no sample" value in format 16
EXTRA = -1  # lead_order's index of a signal outside the 12 standard leads
#: Bytes per sample of the formats whose signal file size the header fixes (WFDB header spec:
#: byte offset + width x the file's signals x samples); files of other formats: existence only.
_SAMPLE_BYTES = {"16": 2}


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
    hea = f"{path}.hea"
    try:
        data = storage.read_bytes(hea)
    except FileNotFoundError:
        raise RecordError(f"header not found: {storage.split(hea)[1]}") from None
    return parse_header(data, storage.split(hea)[1])


def parse_header(data: bytes, hea_name: str) -> Header:
    """The record line and signal lines of a header file's bytes (WFDB header spec)."""
    lines = [ln for ln in map(str.strip, data.decode("latin-1").splitlines()) if ln]
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
        raise RecordError(f"malformed header {hea_name}: {exc}") from None
    cols = list(zip(*fields)) if fields else [()] * 8
    return Header(name, fs, n_samples, *map(tuple, cols), comments)


def _signal_fields(s: list[str]) -> tuple:
    """(lead, fmt, file, gain, baseline, units, checksum, byte_offset) of one signal line:
    ``file format gain[(baseline)][/units] resolution adc_zero initial_value checksum block_size
    description``, every field after the format optional."""
    fmt, offset = _format_spec(s[1])
    gain, baseline, units = _gain_spec(s[2] if len(s) > 2 else "")
    adc_zero = int(s[4]) if len(s) > 4 else 0
    checksum = int(s[6]) if len(s) > 6 else None
    lead = " ".join(s[8:]) if len(s) > 8 else ""
    return lead, fmt, s[0], gain, adc_zero if baseline is None else baseline, units, checksum, offset


@lru_cache(maxsize=1024)
def _format_spec(spec: str) -> tuple[str, int]:
    """(format, byte offset) of ``format[xsamples_per_frame][:skew][+byte_offset]``, parsed once
    per distinct spec (a source's headers repeat a few)."""
    fmt, offset = spec.split("+") if "+" in spec else (spec, "0")
    return fmt.split("x")[0].split(":")[0], int(offset)


@lru_cache(maxsize=1024)
def _gain_spec(spec: str) -> tuple[float, int | None, str]:
    """(gain, baseline or None when not given, units) of ``gain[(baseline)][/units]``, parsed once
    per distinct spec."""
    units = spec.split("/")[1] if "/" in spec else "mV"
    base = spec.split("/")[0]
    baseline = int(base.split("(")[1].rstrip(")")) if "(" in base else None
    gain = float(base.split("(")[0]) if base else _DEFAULT_GAIN
    return gain or _DEFAULT_GAIN, baseline, units


def lead_order(names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Canonical index of each file signal, :data:`EXTRA` for a signal that is not one of the 12
    standard leads (e.g. PTB Diagnostic's Frank leads vx, vy, vz); raise on duplicate or
    missing standard leads."""
    return np.asarray(_lead_index(tuple(names)))


@lru_cache(maxsize=1024)
def _lead_index(names: tuple[str, ...]) -> tuple[int, ...]:
    """:func:`lead_order` of one lead layout, worked out once (a source's records share a few)."""
    idx = [_LEAD_INDEX.get(name.strip().lower(), EXTRA) for name in names]
    dupes = sorted({LEADS[i] for i in idx if i != EXTRA and idx.count(i) > 1})
    if dupes:
        raise RecordError(f"duplicate leads: {', '.join(dupes)}")
    missing = [lead for i, lead in enumerate(LEADS) if i not in idx]
    if missing:
        extra = extra_leads(names)
        raise RecordError(f"missing leads: {', '.join(missing)}"
                          + (f" (other signals: {', '.join(map(repr, extra))})" if extra else ""))
    return tuple(idx)


def extra_leads(names: tuple[str, ...] | list[str]) -> list[str]:
    """The signal names, in file order, that are not one of the 12 standard leads."""
    return [name for name in names if name.strip().lower() not in _LEAD_INDEX]


def check_headers(paths: Sequence[str]) -> list[Header | RecordError]:
    """Every check of each record that needs no signal read: the header parses, names each of
    the 12 standard leads once, in supported units, and each signal file exists with the size
    the header fixes (:data:`_SAMPLE_BYTES`). Headers are read and files sized in one batch
    (:func:`sources.storage.read_many`, :func:`sources.storage.sizes`)."""
    heas = [f"{p}.hea" for p in paths]
    headers = [_checked_header(storage.split(hea)[1], data) for hea, data in zip(heas, storage.read_many(heas))]
    files = [signal_files(p, h) if isinstance(h, Header) else [] for p, h in zip(paths, headers)]
    wanted = sorted({f.path for fl in files for f in fl})
    size = dict(zip(wanted, storage.sizes(wanted)))
    return [h if isinstance(h, RecordError) else _files_error(h, fl, size) or h for h, fl in zip(headers, files)]


def _checked_header(hea_name: str, data: bytes | Exception) -> Header | RecordError:
    if isinstance(data, FileNotFoundError):
        return RecordError(f"header not found: {hea_name}")
    if isinstance(data, Exception):
        return RecordError(f"unreadable header {hea_name}: {data}")
    try:
        header = parse_header(data, hea_name)
        _lead_index(header.leads)
        for units in set(header.units):
            _unit_scale(units)
    except RecordError as exc:
        return exc
    return header


class SignalFile(NamedTuple):
    path: str
    n_sig: int  # signals stored in it
    size: int | None  # bytes the header fixes (:data:`_SAMPLE_BYTES`), None when it fixes none


def signal_files(path: str | os.PathLike, h: Header) -> list[SignalFile]:
    """The signal files of a record, each with the size its header implies."""
    folder = storage.split(str(path))[0]
    out = []
    for file in dict.fromkeys(h.files):
        sig = [i for i, f in enumerate(h.files) if f == file]
        widths = {_SAMPLE_BYTES.get(h.fmts[i]) for i in sig}
        width = widths.pop() if len(widths) == 1 else None
        size = h.byte_offsets[sig[0]] + width * len(sig) * h.n_samples if width else None
        out.append(SignalFile(storage.join(folder, file), len(sig), size))
    return out


def _files_error(h: Header, files: list[SignalFile], size: dict[str, int | None]) -> RecordError | None:
    """Why the files found (``size``: bytes, None when missing) do not fit the header, if they do not."""
    for f in files:
        name = storage.split(f.path)[1]
        if size[f.path] is None:
            return RecordError(f"signal file not found: {name}")
        if f.size is not None and size[f.path] != f.size:
            return RecordError(_size_error(name, size[f.path], f.size, h.n_samples, f.n_sig))
    return None


def _size_error(name: str, size: int, expected: int, n_samples: int, n_sig: int) -> str:
    """Why a signal file of ``size`` bytes is not the ``expected`` one."""
    what = f"header expects {expected} ({n_samples} samples x {n_sig} signals)"
    if size < expected:
        return f"truncated signal file {name}: {size} bytes, {what}"
    return f"header disagrees with data: {name} has {size} bytes, {what}"


def read_record(path: str | os.PathLike, fs: int = FS) -> tuple[Header, np.ndarray]:
    """Header and signal: float32 (12, n) in mV, the standard leads in canonical order,
    resampled to ``fs``."""
    header = read_header(path)
    order = lead_order(header.leads)
    if _is_plain_format16(header):
        signal = _decode_format16(str(path), header, order)
    else:
        raw = _read_with_wfdb(str(path), header)
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


def signal_sha256(signal: np.ndarray) -> str:
    """SHA-256 of the decoded float32 (12, n) mV signal at 500 Hz in canonical lead order.

    The decoded signal rather than the ``.dat`` bytes, so that "same samples" means the same
    12-lead recording whatever the file's lead order, storage format, header, record name or
    extra signals. Resampling is part of the signal: PTB-XL's ``records100`` file of a record
    is a downsampled copy and never equals its ``records500`` file. About 0.17 ms for 12 x 5000.
    """
    return hashlib.sha256(np.ascontiguousarray(signal)).hexdigest()


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


def _decode_format16(path: str, h: Header, order: np.ndarray) -> np.ndarray:
    """Decode, verify and scale a format-16 file straight into canonical lead order.

    One read of the file and one pass over its samples (:func:`_decode_kernel`): checksums of
    all signals (extra ones included), the flat screen and the float32 (12, n) output in mV.
    """
    ((dat, n_sig, expected),) = signal_files(path, h)
    name = storage.split(dat)[1]
    try:
        buf = storage.read_bytes(dat, expected + 1)
    except FileNotFoundError:
        raise RecordError(f"signal file not found: {name}") from None
    if len(buf) != expected:
        size = len(buf) if len(buf) < expected else storage.sizes([dat])[0]
        raise RecordError(_size_error(name, size, expected, h.n_samples, n_sig))
    adc = np.frombuffer(buf, dtype="<i2").reshape(h.n_samples, n_sig)
    scale = _scales(h)
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


def _scales(h: Header) -> np.ndarray:
    """float32 mV per ADC unit of each signal: a sample is ``(float32(adc) - baseline) * scale``
    in float32 on every path, so one recording decodes to the same bits in any storage format."""
    return np.array([_unit_scale(u) / g for u, g in zip(h.units, h.gains)], dtype=np.float32)


def _unit_scale(units: str) -> float:
    try:
        return _UNIT_TO_MV[units.strip().lower()]
    except KeyError:
        raise RecordError(f"unsupported signal units {units!r}") from None


def _read_with_wfdb(path: str, h: Header) -> np.ndarray:
    """``wfdb.rdrecord`` (of a local copy when ``path`` is a URL), scaled as the format-16 decoder
    scales (:func:`_scales`): wfdb's float64 ``(adc - baseline) / gain`` times the gain is the
    integer ``adc - baseline`` again (missing samples stay NaN)."""
    import wfdb

    if storage.is_url(path):
        with tempfile.TemporaryDirectory() as tmp:
            return _read_with_wfdb(_local_copy(path, h, tmp), h)
    try:
        rec = wfdb.rdrecord(str(path), physical=True)
    except FileNotFoundError as exc:
        raise RecordError(f"signal file not found: {Path(exc.filename or path).name}") from None
    except Exception as exc:  # wfdb raises bare ValueError/IndexError on corrupt data
        raise RecordError(f"unreadable record: {exc}") from None
    adc = np.rint(rec.p_signal.T * np.asarray(rec.adc_gain, dtype=np.float64)[:, None]).astype(np.float32)
    return adc * _scales(h)[:, None]


def _local_copy(path: str, h: Header, folder: str) -> str:
    """Copy a record's header and signal files from a URL into ``folder``; the local path."""
    local = os.path.join(folder, storage.split(path)[1])
    files = [(f"{path}.hea", f"{local}.hea")] + [(f.path, os.path.join(folder, storage.split(f.path)[1]))
                                                 for f in signal_files(path, h)]
    for src, dst in files:
        try:
            Path(dst).write_bytes(storage.read_bytes(src))
        except FileNotFoundError:
            raise RecordError(f"signal file not found: {storage.split(src)[1]}") from None
    return local


def _check_content(signal: np.ndarray) -> None:
    finite = np.isfinite(signal)
    if not finite.any():
        raise RecordError("all samples missing (NaN)")
    ptp = np.where(finite, signal, -np.inf).max(axis=1) + np.where(finite, -signal, -np.inf).max(axis=1)
    if not (ptp >= _FLAT_PEAK_TO_PEAK_MV).any():
        raise RecordError("flat signal: no lead moves more than 0.01 mV")
