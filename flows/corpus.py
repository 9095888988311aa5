"""Prefect ``corpus`` flow: every stage in order, on the embedded sample or on given sources."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow, task
from prefect.task_runners import ProcessPoolTaskRunner

import llm
from flows.curate import curate_flow
from flows.generate import generate_flow
from flows.stages import features_flow, findings_flow, ingest_flow, prompts_flow
from sources.sample import write_sample
from sources.synthetic import KINDS
from stages.validate import MAX_REPAIRS

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


def features_on(workers: int = 1, dask_address: str | None = None):
    """The features flow on threads (FeatureDB's Numba kernels already use every core of the
    process), on a local pool of ``workers`` processes, or on a Dask scheduler (prefect-dask)."""
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return features_flow.with_options(task_runner=DaskTaskRunner(address=dask_address))
    return features_flow.with_options(task_runner=ProcessPoolTaskRunner(max_workers=workers)) if workers > 1 \
        else features_flow


@flow(name="corpus")
def corpus_flow(warehouse: str, sample: bool = False, n: int | None = None, seed: int = 0,
                ptbxl: str | None = None, mimic: str | None = None, wfdb: str | None = None, force: bool = False,
                workers: int = 1, dask_address: str | None = None, backend: str = "rules",
                model: str | None = None, base_url: str | None = None, concurrency: int = llm.DEFAULT_CONCURRENCY,
                timeout_s: float | None = None, max_cost_usd: float | None = None, limit: int | None = None,
                rpm: float | None = None, tpm: float | None = None, refresh: bool = False,
                max_repairs: int = MAX_REPAIRS) -> dict:
    """Sample (optional) -> ingest -> features -> findings -> prompts -> generate -> validate ->
    evidence; returns each stage's counts (``force`` redoes the shards of features, findings and
    prompts; the sample has ``n`` records per layout, by default one of each kind)."""
    if sample:
        n = n or len(KINDS)
        ptbxl = ptbxl or write_sample_task(warehouse, "ptbxl", n, seed)
        mimic = mimic or write_sample_task(warehouse, "mimic", n, seed + 1)
    sources = {k: v for k, v in {"ptbxl": ptbxl, "mimic": mimic, "wfdb": wfdb}.items() if v}
    counts = {"ingest": ingest_flow(warehouse, params={"sources": sources})}
    counts["features"] = features_on(workers, dask_address)(warehouse, force)
    counts["findings"] = findings_flow(warehouse, force)
    counts["prompts"] = prompts_flow(warehouse, force)
    counts["generate"] = generate_flow(warehouse, backend, model, base_url, concurrency, timeout_s, max_cost_usd, limit,
                                       rpm, tpm, refresh)
    counts.update(curate_flow(warehouse, backend, model, base_url, concurrency, timeout_s, max_cost_usd, rpm, tpm,
                              max_repairs))
    return counts
