"""The warehouse: immutable Parquet parts per table plus a DuckDB catalog of views.

Layout: ``<root>/<table>/<part>.parquet`` and ``<root>/catalog.duckdb`` holding one view per
table over its parts. A stage writes one part per shard; writing a part again replaces it,
so a rerun never duplicates rows (the datatrove way: outputs keyed by shard).

The catalog is relocatable: its views name their parts relative to the warehouse
(``read_parquet('features/*.parquet', union_by_name = true)``), and every connection this
module opens sets DuckDB's ``file_search_path`` to the root, so a copied or moved warehouse
reads its own parts. With plain DuckDB, run ``cd W && duckdb catalog.duckdb`` (the current
directory is searched), or set ``SET file_search_path = '/path/to/W'`` before querying.

Only writers touch the catalog: :meth:`Warehouse.refresh` builds a new one in a temporary
file and renames it onto ``catalog.duckdb``, so a reader is never refused and never sees a
half-written catalog; :meth:`Warehouse.sql` only reads. One writer at a time holds
:meth:`Warehouse.lock` (``<root>/_lock.json``); readers never look at it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from schemas.ids import INTERPRETATION, SampleId
from schemas.tables import conform

CATALOG = "catalog.duckdb"
#: The writer's lock file: ``{"run_id", "pid", "host", "started_at"}`` of the run writing.
LOCK = "_lock.json"
#: An unreadable (half-written) lock file older than this many seconds is stale.
LOCK_STALE_S = 5.0
#: ``scheme://...``, or ``scheme:/...`` as ``pathlib`` leaves it: a URL, which a warehouse cannot be.
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")
#: Views over the tables (docs/design.md): name -> (tables it needs, SQL). ``corpus`` holds the
#: accepted samples with the reference labels (``records.labels``) and the reconciled answer key
#: they were judged against (``answer_keys``, its stated statements), ``rejections`` every reason
#: a record or sample left the corpus, by stage.
VIEWS = {
    "corpus": (("validations", "records", "generations", "answer_keys"), """
        SELECT v.sample_id, v.record_id, r.split, g.response AS interpretation, r.labels, k.answer_key,
               {solution} AS solution, v.attempt AS attempts, v.backend, v.model
        FROM validations v JOIN records r USING (record_id)
        LEFT JOIN (SELECT record_id, list(statement) FILTER (WHERE status <> 'dropped') AS answer_key
                   FROM answer_keys GROUP BY record_id) k USING (record_id)
        JOIN generations g ON g.sample_id = v.answered_by AND g.final AND g.status = 'ok' {solutions}
        WHERE v.final AND v.valid"""),
    "rejections": (("selection", "prompts", "generations", "validations"), """
        SELECT stage, code, count(*) AS n FROM (
            SELECT 'select' AS stage, code FROM selection WHERE NOT selected
            UNION ALL SELECT 'prompts', status FROM prompts WHERE status <> 'ok'
            UNION ALL SELECT 'generate', split_part(error, ':', 1) FROM generations
                WHERE final AND status = 'error' AND {interpretations}
            UNION ALL SELECT 'validate', split_part(unnest(errors), ':', 1) FROM validations WHERE final AND NOT valid)
        GROUP BY ALL ORDER BY stage, n DESC, code"""),
}


class WarehouseLocked(RuntimeError):
    """Another run is writing the warehouse (:meth:`Warehouse.lock` with ``wait=False``)."""

    def __init__(self, root: str | os.PathLike, holder: dict):
        self.root, self.holder = Path(root), dict(holder)
        super().__init__(f"warehouse {self.root} is being written by run {holder.get('run_id')} "
                         f"(pid {holder.get('pid')}, since {holder.get('started_at')}); wait for it or stop it")

    def __reduce__(self):  # picklable across processes despite the two-argument constructor
        return type(self), (self.root, self.holder)


def _quote(text: str | os.PathLike) -> str:
    """``text`` as the inside of a SQL string literal."""
    return str(text).replace("'", "''")


#: Locks this process holds: root -> [run id, thread id, depth, pid] (re-entrant per run id).
_HELD: dict[Path, list] = {}
_HELD_GUARD = threading.Lock()


class Warehouse(BaseModel):
    """A folder of tables. ``Warehouse(path)`` creates it when missing; every row written
    through it carries ``run_id`` (the ``runs`` row of the run that wrote it, or NULL).

    A frozen pydantic model: picklable, a valid Prefect flow or task parameter, and validating
    a plain path (``str`` or ``Path``) gives ``Warehouse(root=path)``."""

    model_config = ConfigDict(frozen=True)

    root: Path
    run_id: str | None = None

    def __init__(self, root: str | os.PathLike | None = None, run_id: str | None = None, /, **data: Any):
        super().__init__(root=data.pop("root", root) if root is None else root,
                         run_id=data.pop("run_id", run_id), **data)

    @model_validator(mode="before")
    @classmethod
    def _from_path(cls, data: Any) -> Any:
        return {"root": data} if isinstance(data, (str, os.PathLike)) else data

    @field_validator("root", mode="before")
    @classmethod
    def _folder(cls, root: Any) -> Path:
        if isinstance(root, Warehouse):
            root = root.root
        if URL.match(str(root)):
            raise NotADirectoryError(f"the warehouse must be a local or mounted folder, not a URL: {root} "
                                     "(its DuckDB catalog and atomic part renames need a file system)")
        folder = Path(root).resolve()
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"warehouse path is a file, not a folder: {root}")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        """A path string or the object: a deployment passes the warehouse as a path."""
        schema = handler.resolve_ref_schema(handler(core_schema))
        return {"title": schema.get("title", cls.__name__), "description": "the warehouse folder",
                "anyOf": [{"type": "string", "format": "path"},
                          {k: v for k, v in schema.items() if k not in ("title", "description")}]}

    def with_run(self, run_id: str | None) -> Warehouse:
        """This warehouse, stamping the rows it writes with ``run_id``."""
        return self.model_copy(update={"run_id": run_id})

    @property
    def catalog(self) -> Path:
        return self.root / CATALOG

    def table_dir(self, table: str) -> Path:
        return self.root / table

    def part(self, table: str, part: str) -> Path:
        """The file of part ``part`` of ``table`` (it may not exist yet)."""
        return self.table_dir(table) / f"{part}.parquet"

    def parts(self, table: str, prefix: str = "") -> list[Path]:
        folder = self.table_dir(table)
        return sorted(folder.glob(f"{prefix}*.parquet")) if folder.is_dir() else []

    def write(self, table: str, df: pl.DataFrame, part: str) -> Path:
        """Stamp ``df`` with this run's id, check it against the table's contract
        (:func:`schemas.tables.conform`: a table without one is refused) and write it as part
        ``part``, atomically."""
        df = conform(table, df.with_columns(run_id=pl.lit(self.run_id, pl.Utf8)))
        folder = self.table_dir(table)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{part}.parquet"
        tmp = folder / f".{part}.{uuid.uuid4().hex}.tmp"
        df.write_parquet(tmp, compression="zstd", statistics=True)
        os.replace(tmp, final)
        return final

    def drop_parts(self, table: str, prefix: str) -> int:
        """Delete the parts whose name starts with ``prefix``; returns how many."""
        parts = self.parts(table, prefix)
        for p in parts:
            p.unlink()
        return len(parts)

    def read(self, table: str, columns: list[str] | None = None) -> pl.DataFrame:
        """The whole table (all parts), or an empty frame when it has none."""
        parts = self.parts(table)
        if not parts:
            return pl.DataFrame()
        return pl.concat([pl.read_parquet(p, columns=columns) for p in parts], how="diagonal_relaxed")

    def read_part(self, table: str, part: str, columns: list[str] | None = None) -> pl.DataFrame:
        """Part ``part`` of ``table`` (``<root>/<table>/<part>.parquet``)."""
        path = self.part(table, part)
        if not path.is_file():
            raise FileNotFoundError(f"no part {part!r} of table {table!r} in warehouse {self.root} ({path})")
        return pl.read_parquet(path, columns=columns)

    def tables(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith("_") and self.parts(p.name))

    def _search_root(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        """``con`` resolving relative paths (the catalog's views) against the root."""
        con.execute(f"SET file_search_path = '{_quote(self.root)}'")
        return con

    def refresh(self) -> None:
        """(Re)create one DuckDB view per table over its current parts, named relative to the
        root: built in a temporary file, then renamed onto the catalog (readers are never
        refused, never see it half-written)."""
        tmp = self.root / f".catalog.{uuid.uuid4().hex}.tmp.duckdb"
        try:
            with self._search_root(duckdb.connect(str(tmp))) as con:
                present = self.tables()
                for table in present:
                    glob = _quote(f"{table}/*.parquet")
                    con.execute(f"CREATE OR REPLACE VIEW {table} AS "
                                f"SELECT * FROM read_parquet('{glob}', union_by_name = true)")
                for name, (needs, query) in VIEWS.items():
                    if set(needs) <= set(present):
                        solved = "solutions" in present
                        query = query.format(solution="s.solution" if solved else "NULL::VARCHAR",
                                             solutions="LEFT JOIN solutions s ON s.sample_id = v.sample_id" if solved else "",
                                             interpretations=SampleId.sql_answers(INTERPRETATION))
                        con.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")
                        present.append(name)
                con.execute("CHECKPOINT")
            # a write-ahead log left beside the old catalog does not belong to the new one
            Path(f"{self.catalog}.wal").unlink(missing_ok=True)
            os.replace(tmp, self.catalog)
        finally:
            tmp.unlink(missing_ok=True)
            Path(f"{tmp}.wal").unlink(missing_ok=True)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the catalog, its views resolving parts against the root.

        The catalog is attached to an in-memory database rather than opened directly: DuckDB
        keeps one instance per file per process, and a connection still open elsewhere in this
        process would otherwise hold on to the catalog that :meth:`refresh` has since replaced."""
        if not self.catalog.is_file():
            raise FileNotFoundError(f"no stage has written this warehouse yet: {self.root} has no {CATALOG} "
                                    "(a stage, or Warehouse.refresh(), creates it)")
        con = self._search_root(duckdb.connect(":memory:"))
        try:
            con.execute(f"ATTACH '{_quote(self.catalog)}' AS warehouse (READ_ONLY)")
            con.execute("USE warehouse")
        except BaseException:
            con.close()
            raise
        return con

    def sql(self, query: str, params: list | tuple | dict | None = None) -> pl.DataFrame:
        """Run a query against the catalog's views, read-only, with DuckDB parameters (``?`` with
        a list, ``$name`` with a dict). Never refreshes the catalog: writers do."""
        with self.connect() as con:
            rel = con.sql(query, params=params)
            return rel.pl() if rel is not None else pl.DataFrame()

    # The writer's lock ------------------------------------------------------------------

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK

    def holder(self) -> dict | None:
        """The lock file's content (``None`` when no run holds the lock); an unreadable file
        gives ``{"unreadable": True, ...}``."""
        try:
            text = self.lock_file.read_text()
        except FileNotFoundError:
            return None
        return self._parse_holder(text)

    @staticmethod
    def _parse_holder(text: str) -> dict:
        try:
            info = json.loads(text)
            if isinstance(info, dict) and {"run_id", "pid", "host", "started_at"} <= set(info):
                return info
        except ValueError:
            pass
        return {"run_id": None, "pid": None, "host": None, "started_at": None, "unreadable": True}

    def _stale(self, info: dict) -> bool:
        """Whether the lock ``info`` describes is abandoned: unreadable for longer than
        :data:`LOCK_STALE_S`, or held by a process of this host that no longer exists."""
        if info.get("unreadable"):
            try:
                return time.time() - self.lock_file.stat().st_mtime > LOCK_STALE_S
            except FileNotFoundError:
                return False
        if info["host"] != socket.gethostname() or not isinstance(info["pid"], int):
            return False  # another machine's process: only its host can tell
        try:
            os.kill(info["pid"], 0)
        except ProcessLookupError:
            return True
        except (PermissionError, OSError):
            return False
        return False

    def _clear_stale(self, seen: str) -> None:
        """Delete the lock file if it still reads ``seen``; one process clears at a time (so a
        fresh lock taken meanwhile by another process is never deleted)."""
        guard = self.root / f"{LOCK}.clearing"
        try:
            os.close(os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            with suppress(FileNotFoundError):
                if time.time() - guard.stat().st_mtime > LOCK_STALE_S:
                    guard.unlink(missing_ok=True)  # left by a process that died while clearing
            return
        try:
            with suppress(FileNotFoundError):
                if self.lock_file.read_text() == seen:
                    self.lock_file.unlink()
        finally:
            guard.unlink(missing_ok=True)

    def _try_lock(self, info: dict) -> bool:
        try:
            fd = os.open(self.lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(info))
            f.flush()
            os.fsync(f.fileno())
        return True

    @contextmanager
    def lock(self, run_id: str, wait: bool = True, poll_s: float = 1.0,
             on_wait: Callable[[dict], None] | None = None) -> Iterator[dict]:
        """Hold the warehouse's writer lock for run ``run_id`` (yields the lock's content).

        The lock is ``<root>/_lock.json``, created atomically. A lock left by a dead process
        of this host, or unreadable for a few seconds, is cleared. When another run holds it:
        with ``wait`` call ``on_wait(holder)`` once and poll every ``poll_s`` seconds until it
        is free; without, raise :class:`WarehouseLocked`. Re-entrant for the same run id in
        the same process; released on exit if the file still holds this run."""
        me = threading.get_ident()
        with _HELD_GUARD:
            held = _HELD.get(self.root)
            if held is not None and held[0] == run_id and held[3] == os.getpid():
                held[2] += 1
                reentered = True
            else:
                reentered = False
        if reentered:
            try:
                yield self.holder() or {}
            finally:
                with _HELD_GUARD:
                    held[2] -= 1
            return

        info = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        waited = False
        while not self._try_lock(info):
            try:
                seen = self.lock_file.read_text()
            except FileNotFoundError:
                continue  # released meanwhile: try again at once
            holder = self._parse_holder(seen)
            if self._stale(holder):
                self._clear_stale(seen)
                continue
            if holder.get("unreadable"):
                time.sleep(min(poll_s, 0.05))  # being written this instant, or stale in a few seconds
                continue
            with _HELD_GUARD:
                mine = _HELD.get(self.root)
                deadlock = mine is not None and mine[1] == me and mine[3] == os.getpid()
            if not wait or deadlock:  # this very thread holds it for another run: waiting never ends
                raise WarehouseLocked(self.root, holder)
            if not waited and on_wait is not None:
                on_wait(holder)
            waited = True
            time.sleep(poll_s)
        with _HELD_GUARD:
            _HELD[self.root] = [run_id, me, 1, os.getpid()]
        try:
            yield info
        finally:
            with _HELD_GUARD:
                _HELD.pop(self.root, None)
            with suppress(FileNotFoundError):
                current = self._parse_holder(self.lock_file.read_text())
                if current.get("run_id") == run_id and current.get("pid") == os.getpid():
                    self.lock_file.unlink(missing_ok=True)
