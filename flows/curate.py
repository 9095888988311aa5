"""Prefect ``curate`` flow: validate (with the repair loop), then EDER evidence and solutions.

Each step is one task (one event loop holds the LLM's concurrency cap and budget); counts go
to the flow result and to a table artifact of the Prefect run.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_table_artifact

import llm
from stages import evidence, generate, validate
from warehouse import Warehouse


@task(name="validate-run")
def validate_task(warehouse: str, backend: str, model: str | None, base_url: str | None, concurrency: int,
                  timeout_s: float | None, max_cost_usd: float | None, rpm: float | None, tpm: float | None,
                  max_repairs: int) -> dict:
    client = generate.make_backend(backend, model, base_url, concurrency, timeout_s)
    return validate.run(Warehouse(warehouse), client, max_repairs=max_repairs, concurrency=concurrency,
                        max_cost_usd=max_cost_usd, rpm=rpm, tpm=tpm)


@task(name="evidence-run")
def evidence_task(warehouse: str, backend: str, model: str | None, base_url: str | None, concurrency: int,
                  timeout_s: float | None, max_cost_usd: float | None, rpm: float | None, tpm: float | None) -> dict:
    client = generate.make_backend(backend, model, base_url, concurrency, timeout_s)
    return evidence.run(Warehouse(warehouse), client, concurrency=concurrency, max_cost_usd=max_cost_usd, rpm=rpm,
                        tpm=tpm)


@flow(name="curate")
def curate_flow(warehouse: str, backend: str = "rules", model: str | None = None, base_url: str | None = None,
                concurrency: int = llm.DEFAULT_CONCURRENCY, timeout_s: float | None = None,
                max_cost_usd: float | None = None, rpm: float | None = None, tpm: float | None = None,
                max_repairs: int = validate.MAX_REPAIRS) -> dict:
    """``{"validate": counts, "evidence": counts}`` of the warehouse's answers."""
    client = (backend, model, base_url, concurrency, timeout_s, max_cost_usd, rpm, tpm)
    counts = {"validate": validate_task(warehouse, *client, max_repairs), "evidence": evidence_task(warehouse, *client)}
    create_table_artifact(key="curate-counts", description="curate: samples and phrases", table=[
        {"stage": stage, "count": k, "value": v} for stage, c in counts.items() for k, v in c.items()])
    return counts
