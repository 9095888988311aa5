"""Prefect ``generate`` flow: every pending prompt through one client with one global cap.

The run is one task (one event loop holds the concurrency cap, the rate limits and the
budget); its shards run concurrently inside it. Counts go to the flow result and to a table
artifact of the Prefect run.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_table_artifact

import llm
from stages import generate as stage
from warehouse import Warehouse


def make_backend(backend: str, model: str | None = None, base_url: str | None = None,
                 concurrency: int = llm.runner.DEFAULT_CONCURRENCY, timeout_s: float | None = None) -> llm.Backend | None:
    """``None`` (the rules writer) or an OpenAI-compatible backend; raises ValueError without a key."""
    if backend == "rules":
        return None
    if backend != "openai":
        raise ValueError(f"unknown backend {backend!r}; use rules or openai")
    kwargs = {"concurrency": concurrency}
    if timeout_s:
        kwargs["timeout_s"] = timeout_s
    return llm.OpenAIBackend(model or llm.DEFAULT_MODEL, base_url=base_url or llm.DEFAULT_BASE_URL, **kwargs)


def default_backend() -> str:
    """``openai`` when an API key is set, else the offline ``rules`` writer."""
    return "openai" if llm.resolve_api_key() else "rules"


@task(name="generate-run")
def generate_task(warehouse: str, backend: str, model: str | None, base_url: str | None, concurrency: int,
                  max_cost_usd: float | None, limit: int | None) -> dict:
    summary = stage.run(Warehouse(warehouse), make_backend(backend, model, base_url, concurrency), limit=limit,
                        concurrency=concurrency, max_cost_usd=max_cost_usd)
    return summary.to_dict()


@flow(name="generate")
def generate_flow(warehouse: str, backend: str = "rules", model: str | None = None, base_url: str | None = None,
                  concurrency: int = llm.runner.DEFAULT_CONCURRENCY, max_cost_usd: float | None = None,
                  limit: int | None = None) -> dict:
    counts = generate_task(warehouse, backend, model, base_url, concurrency, max_cost_usd, limit)
    create_table_artifact(key="generate-counts", description="generate: samples by outcome", table=[
        {"outcome": k, "samples": counts[k]} for k in ("total", *llm.runner.OUTCOMES)]
        + [{"outcome": "cost_usd", "samples": round(counts["cost_usd"], 4)}])
    return counts
