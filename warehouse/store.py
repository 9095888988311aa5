"""The warehouse: immutable Parquet parts per table plus a DuckDB catalog of views.

Layout: ``<root>/<table>/<part>.parquet`` and ``<root>/catalog.duckdb`` holding one view per
table over its parts. A stage writes one part per shard; writing a part again replaces it,
so a rerun never duplicates rows (the datatrove way: outputs keyed by shard).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import duckdb
import polars as pl

from schemas.tables import conform

CATALOG = "catalog.duckdb"
#: ``scheme://...``, or ``scheme:/...`` as ``pathlib`` leaves it: a URL, which a warehouse cannot be.
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")
#: Views over the tables (DESIGN.md): name -> (tables it needs, SQL). ``corpus`` holds the
#: accepted samples, ``rejections`` every reason a record or sample left the corpus, by stage.
VIEWS = {
    "corpus": (("validations", "records", "generations"), """
        SELECT v.sample_id, v.record_id, r.split, g.response AS interpretation, r.labels, {solution} AS solution,
               v.attempt AS attempts, v.backend, v.model
        FROM validations v JOIN records r USING (record_id)
        JOIN generations g ON g.sample_id = v.answered_by AND g.final AND g.status = 'ok' {solutions}
        WHERE v.final AND v.valid"""),
    "rejections": (("selection", "prompts", "generations", "validations"), """
        SELECT stage, code, count(*) AS n FROM (
            SELECT 'select' AS stage, code FROM selection WHERE NOT selected
            UNION ALL SELECT 'prompts', status FROM prompts WHERE status <> 'ok'
            UNION ALL SELECT 'generate', split_part(error, ':', 1) FROM generations
                WHERE final AND status = 'error' AND sample_id LIKE '%#interpretation'
            UNION ALL SELECT 'validate', split_part(unnest(errors), ':', 1) FROM validations WHERE final AND NOT valid)
        GROUP BY ALL ORDER BY stage, n DESC, code"""),
}


class Warehouse:
    """A folder of tables. ``Warehouse(path)`` creates it when missing; every row written
    through it carries ``run_id`` (the ``runs`` row of the run that wrote it, or NULL)."""

    def __init__(self, root: str | os.PathLike, run_id: str | None = None):
        self.run_id = run_id
        if URL.match(str(root)):
            raise NotADirectoryError(f"the warehouse must be a local or mounted folder, not a URL: {root} "
                                     "(its DuckDB catalog and atomic part renames need a file system)")
        self.root = Path(root).resolve()
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"warehouse path is a file, not a folder: {root}")
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def catalog(self) -> Path:
        return self.root / CATALOG

    def table_dir(self, table: str) -> Path:
        return self.root / table

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

    def pending(self, source: str, targets: tuple[str, ...], force: bool = False, newer_than: float = 0.0) -> list[str]:
        """Names of the ``source`` parts whose parts of the same name in ``targets`` are missing
        or older than the source part (or than ``newer_than``, e.g. a rules file's mtime)."""
        todo = []
        for part in self.parts(source):
            stamp = max(part.stat().st_mtime, newer_than)
            done = [self.table_dir(t) / part.name for t in targets]
            if force or not all(d.exists() and d.stat().st_mtime >= stamp for d in done):
                todo.append(part.stem)
        return todo

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

    def tables(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith("_") and self.parts(p.name))

    def refresh(self) -> None:
        """(Re)create one DuckDB view per table over its current parts."""
        with duckdb.connect(str(self.catalog)) as con:
            existing = {r[0] for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
            present = self.tables()
            for table in present:
                glob = str(self.table_dir(table) / "*.parquet").replace("'", "''")
                con.execute(f"CREATE OR REPLACE VIEW {table} AS "
                            f"SELECT * FROM read_parquet('{glob}', union_by_name = true)")
            for name, (needs, query) in VIEWS.items():
                if set(needs) <= set(present):
                    solved = "solutions" in present
                    query = query.format(solution="s.solution" if solved else "NULL::VARCHAR",
                                         solutions="LEFT JOIN solutions s ON s.sample_id = v.sample_id" if solved else "")
                    con.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")
                    present.append(name)
            for gone in existing - set(present):
                con.execute(f"DROP VIEW IF EXISTS {gone}")

    def sql(self, query: str, refresh: bool = True) -> pl.DataFrame:
        """Run a query against the catalog's views (refreshed first, unless the caller just did)."""
        if refresh:
            self.refresh()
        with duckdb.connect(str(self.catalog), read_only=True) as con:
            rel = con.sql(query)
            return rel.pl() if rel is not None else pl.DataFrame()
