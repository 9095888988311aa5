"""Where source files live: a local path, read with plain ``os`` calls (the fast path), or a URL
(``memory://``, ``file://``, ``s3://`` with s3fs installed, ...) read through fsspec.

Paths are strings joined with ``/``. Batch calls (:func:`read_many`, :func:`sizes`) read many
files of one source at once: concurrently on fsspec's asynchronous stores (``fs.cat``), from one
listing per folder for sizes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sources.errors import SourceError

if TYPE_CHECKING:
    import polars as pl


def is_url(path: str | os.PathLike) -> bool:
    """True for ``<protocol>://...``: fsspec's rule (``fsspec.core.split_protocol``, a protocol of
    two or more characters), without importing fsspec for local paths."""
    text = str(path)
    return "://" in text and text.index("://") > 1


def resolve(root: str | os.PathLike) -> str:
    """A source root as the prefix of its record paths: an absolute local path, or the URL."""
    return str(root).rstrip("/") if is_url(root) else str(Path(root).resolve())


def join(base: str, rel: str) -> str:
    return f"{base}/{rel}"


def split(path: str) -> tuple[str, str]:
    """(folder, file name); the folder of a bare name is ``.``."""
    folder, sep, name = path.rpartition("/")
    return folder or sep or ".", name


def _fs(path: str):
    """(file system, path on it) of a URL; SourceError when fsspec cannot read its protocol."""
    from fsspec.core import url_to_fs

    try:
        return url_to_fs(path)
    except (ImportError, ValueError) as exc:  # an unknown protocol, or its package not installed
        raise SourceError(f"cannot read {path}: {exc}") from None


def read_bytes(path: str, size: int = -1) -> bytes:
    """The file's first ``size`` bytes (all when -1); FileNotFoundError when it is missing."""
    if not is_url(path):
        with open(path, "rb") as fh:
            return fh.read(size)
    fs, key = _fs(path)
    with fs.open(key, "rb") as fh:
        return fh.read(size)


def read_many(paths: Sequence[str]) -> list[bytes | Exception]:
    """Every file's bytes, or the error that stopped its read (FileNotFoundError when missing)."""
    if not paths or not is_url(paths[0]):
        return [_read_local(p) for p in paths]
    from fsspec.core import strip_protocol

    fs, _ = _fs(paths[0])
    keys = [strip_protocol(p) for p in paths]
    got = fs.cat(keys, on_error="return")
    return [got.get(k, FileNotFoundError(p)) for k, p in zip(keys, paths)]


def _read_local(path: str) -> bytes | Exception:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        return exc


def sizes(paths: Sequence[str]) -> list[int | None]:
    """Every file's size in bytes, None when it does not exist (one listing per folder for URLs)."""
    if not paths or not is_url(paths[0]):
        return [_size_local(p) for p in paths]
    listed: dict[str, dict[str, int]] = {}
    out = []
    for path in paths:
        folder, name = split(path)
        if folder not in listed:
            listed[folder] = {split(e["name"])[1]: e["size"] for e in _ls(folder, detail=True) if e["type"] == "file"}
        out.append(listed[folder].get(name))
    return out


def _size_local(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except (FileNotFoundError, NotADirectoryError):
        return None


def _ls(folder: str, detail: bool) -> list:
    fs, key = _fs(folder)
    try:
        return fs.ls(key, detail=detail)
    except (FileNotFoundError, NotADirectoryError):
        return []


class Listing:
    """``path in listing``: whether a file exists, from one listing of each folder asked about
    (instead of one ``stat`` or object-store request per file)."""

    def __init__(self):
        self._names: dict[str, set[str]] = {}

    def __contains__(self, path: str) -> bool:
        folder, name = split(path)
        if folder not in self._names:
            self._names[folder] = set(_listdir(folder))
        return name in self._names[folder]


def _listdir(folder: str) -> list[str]:
    if is_url(folder):
        return [split(p.rstrip("/"))[1] for p in _ls(folder, detail=False)]
    try:
        return os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []


def is_file(path: str) -> bool:
    if not is_url(path):
        return os.path.isfile(path)
    fs, key = _fs(path)
    return fs.isfile(key)


def is_dir(path: str) -> bool:
    if not is_url(path):
        return os.path.isdir(path)
    fs, key = _fs(path)
    return fs.isdir(key)


def find(root: str, suffix: str) -> list[str]:
    """Paths relative to ``root`` (``/``-separated) of the files under it whose name ends with
    ``suffix``, ordered as ``pathlib`` orders paths (folder by folder)."""
    if is_url(root):
        fs, key = _fs(root)
        key = key.rstrip("/")
        rels = [p[len(key) + 1 :] for p in fs.find(key) if p.endswith(suffix)]
    else:  # what Path(root).rglob(f"*{suffix}") finds (no symlinked folders entered), without its cost
        rels = []
        for folder, dirs, files in os.walk(root):
            base = os.path.relpath(folder, root).replace(os.sep, "/")
            prefix = "" if base == "." else f"{base}/"
            rels += [prefix + name for name in (*dirs, *files) if name.endswith(suffix)]
    return sorted(rels, key=lambda r: r.split("/"))


def read_csv(path: str, **kw) -> pl.DataFrame:
    """``pl.read_csv`` of a local file or of a URL's bytes."""
    import polars as pl

    return pl.read_csv(read_bytes(path) if is_url(path) else path, **kw)
