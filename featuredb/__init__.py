"""FeatureDB: fast, delineation-grade measurements of 12-lead ECGs (Numba).

Public API
----------
extract(signals, fs=500, record_ids=None) -> Features
    ``signals`` (n_records, 12, n_samples) float32 mV in the order of :data:`LEADS`.
extract_stream(shards, fs=500) -> iterator of Features
    ``shards``: iterable of ``(record_ids, signals)``; bounded memory.
Features(records, leads)
    polars DataFrames: one row per record / per record x lead.
RECORD_COLUMNS, LEAD_COLUMNS
    Output column names in order (:mod:`schemas.features`, which loads no Numba).
KERNELS_CACHED
    Whether the compiled kernels were on disk at import; if not, the first ``extract`` call
    compiles them (about a minute on two cores, once per installation and version).
"""

import importlib

from ._numba import refresh as _refresh_numba_cache
from schemas.features import LEAD_COLUMNS, RECORD_COLUMNS

KERNELS_CACHED = _refresh_numba_cache()  # before any kernel module is imported; loads no Numba

#: Loaded with the kernels (Numba) on first use, so that ``import featuredb`` stays light.
_KERNEL_API = ("LEADS", "SHARD_SIZE", "Features", "compute_arrays", "extract", "extract_stream", "to_frames")


def __getattr__(name: str):
    if name not in _KERNEL_API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    kernels = importlib.import_module(".extract", __name__)
    globals().update({n: getattr(kernels, n) for n in _KERNEL_API})  # ``extract``: the function, not the module
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *_KERNEL_API})


__all__ = [
    "KERNELS_CACHED",
    "LEADS",
    "LEAD_COLUMNS",
    "RECORD_COLUMNS",
    "SHARD_SIZE",
    "Features",
    "compute_arrays",
    "extract",
    "extract_stream",
    "to_frames",
]
