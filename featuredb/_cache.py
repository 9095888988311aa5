"""Keep Numba's on-disk cache consistent across modules.

Numba invalidates a cached function only when *its own* source file changes, not when a
kernel it calls (or a threshold it reads) in another module does.  Before the kernels are
imported, this drops the package's cache files whenever any of its sources changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def refresh() -> bool:
    """Drop stale cache files; returns whether the compiled kernels are on disk (a cold cache
    means about two minutes of compilation on the first call)."""
    digest = hashlib.sha256()
    for src in sorted(_HERE.glob("*.py")):
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
