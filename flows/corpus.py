"""Prefect ``corpus`` flow: every stage in order, on the embedded sample or on given sources."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow, task

from flows.features import features_flow_on
from flows.findings import findings_flow
from flows.generate import generate_flow
from flows.ingest import ingest_flow
from flows.prompts import prompts_flow
from sources.sample import write_sample

SAMPLE_DIR = "_sample"


@task(name="write-sample")
def write_sample_task(warehouse: str, layout: str, n: int, seed: int) -> str:
    """Synthetic dataset under ``<warehouse>/_sample/<layout>``; reused when already written."""
    out = Path(warehouse) / SAMPLE_DIR / layout
    marker = out / ".complete.json"
    spec = {"layout": layout, "n": n, "seed": seed}
    if not (marker.exists() and json.loads(marker.read_text()) == spec):
        write_sample(out, layout, n, seed)
        marker.write_text(json.dumps(spec))
    return str(out)


@flow(name="corpus")
def corpus_flow(warehouse: str, sample: bool = False, n: int = 13, seed: int = 0,
                ptbxl: str | None = None, mimic: str | None = None, wfdb: str | None = None,
                workers: int = 1, dask_address: str | None = None, backend: str = "rules",
                model: str | None = None, base_url: str | None = None, concurrency: int = 32,
                max_cost_usd: float | None = None, limit: int | None = None) -> dict:
    """Sample (optional) -> ingest -> features -> findings -> prompts -> generate; returns each
    stage's counts."""
    if sample:
        ptbxl = ptbxl or write_sample_task(warehouse, "ptbxl", n, seed)
        mimic = mimic or write_sample_task(warehouse, "mimic", n, seed + 1)
    counts = {"records": ingest_flow(warehouse, ptbxl=ptbxl, mimic=mimic, wfdb=wfdb)}
    counts["features"] = features_flow_on(workers, dask_address)(warehouse)
    counts["findings"] = findings_flow(warehouse)
    counts["prompts"] = prompts_flow(warehouse)
    counts["generate"] = generate_flow(warehouse, backend, model, base_url, concurrency, max_cost_usd, limit)
    return counts
