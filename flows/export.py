"""Prefect ``export`` flow: the curated corpus as ms-swift or TRL training files
(:mod:`stages.export`), with the files and their row counts as a table artifact."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_table_artifact

from stages import export
from warehouse import Warehouse


@flow(name="export")
def export_flow(warehouse: str, out: str, format: str = "swift", rl_size: int | None = None,
                imd: tuple[float, float] | None = None, seed: int = 0, run_id: str | None = None) -> dict:
    """Write the export to ``out``; returns ``{file: rows}``."""
    manifest = export.run(Warehouse(warehouse, run_id), out, format, rl_size=rl_size, imd=imd, seed=seed)
    rows = {name: f["rows"] for name, f in manifest["files"].items()}
    create_table_artifact(key="export-files", description=f"export ({format}) -> {out}",
                          table=[{"file": k, "rows": v} for k, v in rows.items()])
    return rows
