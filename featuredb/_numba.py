"""Numba start-up for FeatureDB: a consistent on-disk cache and no needless BLAS probe.

Numba invalidates a cached function only when *its own* source file changes, not when a
kernel it calls (or a threshold it reads) in another module does.  Before the kernels are
imported, :func:`refresh` drops the package's cache files whenever any of its sources (or the
``schemas`` tables the kernels read) changed.

Numba's first call of any kernel imports ``numba.np.arraymath``, which probes for BLAS by
importing all of ``scipy.linalg`` (about 0.4 s, a third of a warm one-record run).  FeatureDB
calls no BLAS routine (no ``np.dot``, ``@`` or ``np.linalg``), so :func:`skip_blas_probe`
loads that module while the probe's target is masked, and unmasks it at once.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
#: The package's sources and the tables its kernels read from ``schemas`` (lead order, codes,
#: the result matrices' columns).
SOURCES = (*sorted(_HERE.glob("*.py")), *(_HERE.parent / "schemas" / f for f in ("ecg.py", "features.py")))


def refresh() -> bool:
    """Drop stale cache files; returns whether the compiled kernels are on disk (a cold cache
    means about a minute of compilation on the first call)."""
    digest = hashlib.sha256()
    for src in SOURCES:
        digest.update(src.name.encode())
        digest.update(src.read_bytes())
    stamp = _HERE / "__pycache__" / "numba_sources.sha256"
    try:
        if stamp.exists() and stamp.read_text() == digest.hexdigest():
            return any(stamp.parent.glob("extract.*.nbi"))
        for f in list(stamp.parent.glob("*.nbi")) + list(stamp.parent.glob("*.nbc")):
            f.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # read-only install: Numba falls back to compiling in memory
        pass
    return False


def skip_blas_probe() -> None:
    """Load ``numba.np.arraymath`` without its ``scipy.linalg`` import (see the module doc);
    a no-op when ``scipy.linalg`` is already loaded.  Kernels that used BLAS would then fail
    to compile with a typing error, never silently."""
    if "scipy.linalg" in sys.modules or "numba.np.arraymath" in sys.modules:
        return
    sys.modules["scipy.linalg.cython_blas"] = None  # makes the probe's import raise ImportError
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        del sys.modules["scipy.linalg.cython_blas"]
