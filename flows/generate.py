"""Prefect ``generate`` flow: every pending prompt through one client with one global cap.

The run is one task (one event loop holds the concurrency cap, the rate limits and the
budget); its shards run concurrently inside it. Counts go to the flow result and to a table
artifact of the Prefect run; ``run_id`` stamps the rows written.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_table_artifact

import llm
from stages import generate as stage
from warehouse import Warehouse


@task(name="generate-run")
def generate_task(warehouse: str, backend: str, model: str | None, base_url: str | None, concurrency: int,
                  timeout_s: float | None, max_cost_usd: float | None, limit: int | None, rpm: float | None,
                  tpm: float | None, refresh: bool, run_id: str | None) -> dict:
    client = stage.make_backend(backend, model, base_url, concurrency, timeout_s)
    summary = stage.run(Warehouse(warehouse, run_id), client, limit=limit, concurrency=concurrency, max_cost_usd=max_cost_usd,
                        rpm=rpm, tpm=tpm, refresh=refresh)
    return summary.to_dict()


@flow(name="generate")
def generate_flow(warehouse: str, backend: str = "rules", model: str | None = None, base_url: str | None = None,
                  concurrency: int = llm.DEFAULT_CONCURRENCY, timeout_s: float | None = None,
                  max_cost_usd: float | None = None, limit: int | None = None, rpm: float | None = None,
                  tpm: float | None = None, refresh: bool = False, run_id: str | None = None) -> dict:
    counts = generate_task(warehouse, backend, model, base_url, concurrency, timeout_s, max_cost_usd, limit, rpm, tpm,
                           refresh, run_id)
    create_table_artifact(key="generate-counts", description="generate: samples by outcome", table=[
        {"outcome": k, "samples": counts[k]} for k in ("total", *llm.OUTCOMES)]
        + [{"outcome": "cost_usd", "samples": round(counts["cost_usd"], 4)}])
    return counts
