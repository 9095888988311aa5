"""Prefect ``validate``, ``evidence`` and ``curate`` flows: validation with the repair loop, then
EDER evidence and solutions.

Each is one task (one event loop holds the LLM's concurrency cap and budget); counts go to the
flow result and to a table artifact of the Prefect run. ``run_id`` stamps the rows written.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_table_artifact

import llm
from stages import evidence, generate, validate
from warehouse import Warehouse


def _artifact(stage: str, counts: dict) -> None:
    create_table_artifact(key=f"{stage}-counts", description=f"{stage}: counts",
                          table=[{"count": k, "value": v} for k, v in counts.items()])


@task(name="validate-run")
def validate_task(warehouse: str, backend: str, model: str | None, base_url: str | None, concurrency: int,
                  timeout_s: float | None, max_cost_usd: float | None, rpm: float | None, tpm: float | None,
                  max_repairs: int, run_id: str | None) -> dict:
    client = generate.make_backend(backend, model, base_url, concurrency, timeout_s)
    return validate.run(Warehouse(warehouse, run_id), client, max_repairs=max_repairs, concurrency=concurrency,
                        max_cost_usd=max_cost_usd, rpm=rpm, tpm=tpm)


@task(name="evidence-run")
def evidence_task(warehouse: str, backend: str, model: str | None, base_url: str | None, concurrency: int,
                  timeout_s: float | None, max_cost_usd: float | None, rpm: float | None, tpm: float | None,
                  run_id: str | None) -> dict:
    client = generate.make_backend(backend, model, base_url, concurrency, timeout_s)
    return evidence.run(Warehouse(warehouse, run_id), client, concurrency=concurrency, max_cost_usd=max_cost_usd,
                        rpm=rpm, tpm=tpm)


@flow(name="validate")
def validate_flow(warehouse: str, backend: str = "rules", model: str | None = None, base_url: str | None = None,
                  concurrency: int = llm.DEFAULT_CONCURRENCY, timeout_s: float | None = None,
                  max_cost_usd: float | None = None, rpm: float | None = None, tpm: float | None = None,
                  max_repairs: int = validate.MAX_REPAIRS, run_id: str | None = None) -> dict:
    """Every answer checked into ``validations``; invalid ones repaired up to ``max_repairs`` times."""
    counts = validate_task(warehouse, backend, model, base_url, concurrency, timeout_s, max_cost_usd, rpm, tpm,
                           max_repairs, run_id)
    _artifact("validate", counts)
    return counts


@flow(name="evidence")
def evidence_flow(warehouse: str, backend: str = "rules", model: str | None = None, base_url: str | None = None,
                  concurrency: int = llm.DEFAULT_CONCURRENCY, timeout_s: float | None = None,
                  max_cost_usd: float | None = None, rpm: float | None = None, tpm: float | None = None,
                  run_id: str | None = None) -> dict:
    """EDER phrases of the accepted samples into ``evidence``, RL strings into ``solutions``."""
    counts = evidence_task(warehouse, backend, model, base_url, concurrency, timeout_s, max_cost_usd, rpm, tpm, run_id)
    _artifact("evidence", counts)
    return counts


@flow(name="curate")
def curate_flow(warehouse: str, backend: str = "rules", model: str | None = None, base_url: str | None = None,
                concurrency: int = llm.DEFAULT_CONCURRENCY, timeout_s: float | None = None,
                max_cost_usd: float | None = None, rpm: float | None = None, tpm: float | None = None,
                max_repairs: int = validate.MAX_REPAIRS, run_id: str | None = None) -> dict:
    """``{"validate": counts, "evidence": counts}`` of the warehouse's answers."""
    client = (backend, model, base_url, concurrency, timeout_s, max_cost_usd, rpm, tpm)
    return {"validate": validate_flow(warehouse, *client, max_repairs, run_id),
            "evidence": evidence_flow(warehouse, *client, run_id)}
