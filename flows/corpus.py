"""Prefect ``corpus`` flow: every stage in order, on the embedded sample or on given sources.

sample -> ingest -> features -> findings -> select -> prompts -> generate -> validate ->
evidence (-> export) -> report. The flow run is a ``runs`` row (:mod:`stages.runs`) whose id
stamps every row written; each stage is a subflow, so a rerun after a crash or a cancelled run
redoes only what is unfinished (stage shards by their parts, LLM calls by journal and cache).
The sharded CPU stages run on threads, a local process pool or a Dask cluster
(:func:`flows.runners.task_runner`).
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

import llm
from flows.curate import evidence_flow, validate_flow
from flows.export import export_flow
from flows.generate import generate_flow
from flows.runners import task_runner
from flows.stages import FLOWS
from sources.sample import write_sample
from sources.synthetic import KINDS
from stages.runs import recorded
from stages.select import TARGET
from stages.validate import MAX_REPAIRS

SAMPLE_DIR = "_sample"
EXPORTS = "exports"


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
def corpus_flow(warehouse: str, sample: bool = False, n: int | None = None, seed: int = 0,
                ptbxl: str | None = None, mimic: str | None = None, wfdb: str | None = None, force: bool = False,
                workers: int = 1, dask_address: str | None = None,
                target: int = TARGET, per_subject: bool = True, exclude_flagged: bool = True,
                require_concordant: bool = True, backend: str = "rules", model: str | None = None,
                base_url: str | None = None, concurrency: int = llm.DEFAULT_CONCURRENCY,
                timeout_s: float | None = None, max_cost_usd: float | None = None, limit: int | None = None,
                rpm: float | None = None, tpm: float | None = None, refresh: bool = False,
                max_repairs: int = MAX_REPAIRS, export_format: str | None = None, report: bool = True) -> dict:
    """Build the corpus; returns each stage's counts, the run id and the report's path.

    ``target`` records are selected (one per subject unless ``per_subject`` is false, stratified
    by label concept, ``seed`` reproducible); ``force`` redoes the shards of the CPU stages;
    the sample has ``n`` records per layout (default one of each kind); ``export_format``
    (swift or trl) also writes ``<warehouse>/exports/<format>``.
    """
    parameters = dict(locals())
    # Subflows without heartbeats of their own: the corpus run's heartbeat covers them, and each
    # heartbeat thread delays its subflow's exit by up to a second (Prefect 3.8 sleeps in 1 s steps).
    with recorded(warehouse, "corpus", parameters, flow_run.id) as run, \
            temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        if sample:
            n = n or len(KINDS)
            ptbxl = ptbxl or write_sample_task(warehouse, "ptbxl", n, seed)
            mimic = mimic or write_sample_task(warehouse, "mimic", n, seed + 1)
        sources = {k: v for k, v in {"ptbxl": ptbxl, "mimic": mimic, "wfdb": wfdb}.items() if v}
        runner = task_runner(workers, dask_address)
        sharded = {name: FLOWS[name].with_options(task_runner=runner) if runner else FLOWS[name]
                   for name in ("features", "findings", "prompts")}
        selection = {"target": target, "per_subject": per_subject, "seed": seed, "exclude_flagged": exclude_flagged,
                     "require_concordant": require_concordant}
        client = (backend, model, base_url, concurrency, timeout_s, max_cost_usd)
        run.stage("ingest", FLOWS["ingest"], warehouse, params={"sources": sources}, run_id=run.id)
        for name in ("features", "findings"):
            run.stage(name, sharded[name], warehouse, force, run_id=run.id)
        run.stage("select", FLOWS["select"], warehouse, force, params=selection, run_id=run.id)
        run.stage("prompts", sharded["prompts"], warehouse, force, run_id=run.id)
        run.stage("generate", generate_flow, warehouse, *client, limit, rpm, tpm, refresh, run_id=run.id)
        run.stage("validate", validate_flow, warehouse, *client, rpm, tpm, max_repairs, run_id=run.id)
        run.stage("evidence", evidence_flow, warehouse, *client, rpm, tpm, run_id=run.id)
        if export_format:
            out = str(Path(warehouse) / EXPORTS / export_format)
            run.stage("export", export_flow, warehouse, out, export_format, seed=seed, run_id=run.id)
    result = {**run.counts, "run_id": run.id, "report": None}
    if report:
        from stages.report import markdown_summary, write_report

        path = write_report(run.warehouse, run.id)
        create_markdown_artifact(key="corpus-report", markdown=markdown_summary(path),
                                 description=f"corpus run {run.id}")
        result["report"] = str(path)
    return result
