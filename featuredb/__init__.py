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
    Output column names in order.
KERNELS_CACHED
    Whether the compiled kernels were on disk at import; if not, the first ``extract`` call
    compiles them (about a minute on two cores, once per installation and version).
"""

from ._numba import refresh as _refresh_numba_cache
from ._numba import skip_blas_probe as _skip_blas_probe

KERNELS_CACHED = _refresh_numba_cache()
_skip_blas_probe()

from .extract import (  # noqa: E402
    LEAD_FLOAT_COLUMNS,
    LEADS,
    RECORD_FLOAT_COLUMNS,
    SHARD_SIZE,
    Features,
    compute_arrays,
    extract,
    extract_stream,
    to_frames,
)

RECORD_COLUMNS = ("record_id", *RECORD_FLOAT_COLUMNS, "quality_flags")
LEAD_COLUMNS = ("record_id", "lead", *LEAD_FLOAT_COLUMNS)

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
