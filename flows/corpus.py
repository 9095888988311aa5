"""Prefect ``corpus`` flow: every stage of the registry in order, on the embedded sample or on
given sources.

sample -> ingest -> features -> findings -> select -> prompts -> generate -> validate ->
evidence (-> export) -> report (:data:`stages.stage.NAMES`; each stage's flow is built by
``flows/stages.py``). The flow run is a ``runs`` row (:mod:`stages.runs`) that holds the
warehouse's write lock; its id stamps every row written. Each stage is a subflow, so a rerun
after a crash or a cancelled run redoes only what is unfinished (stage shards by their parts,
LLM calls by journal and cache). The parallel CPU stages run on threads, a local process pool or
a Dask cluster (:func:`flows.runners.task_runner`).
"""

from __future__ import annotations

import json
from typing import Literal, Optional

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from flows.runners import task_runner
from flows.stages import FLOWS
from schemas.tables import SOURCES
from sources.sample import LAYOUTS, write_sample
from sources.synthetic import KINDS
from stages.options import (
    EvidenceParams,
    ExportOptions,
    GenerateParams,
    IngestParams,
    LLMOptions,
    SelectionOptions,
    ValidateParams,
)
from stages.runs import recorded
from stages.stage import NAMES, get
from training.export import FORMATS
from warehouse import Warehouse

SAMPLE_DIR = "_sample"
EXPORTS = "exports"


@task(name="write-sample")
def write_sample_task(warehouse: Warehouse, layout: str, n: int, seed: int) -> str:
    """Synthetic dataset under ``<warehouse>/_sample/<layout>``; reused when already written."""
    out = warehouse.root / SAMPLE_DIR / layout
    marker = out / ".complete.json"
    spec = {"layout": layout, "n": n, "seed": seed}
    if not (marker.exists() and json.loads(marker.read_text()) == spec):
        write_sample(out, layout, n, seed)
        marker.write_text(json.dumps(spec))
    return str(out)


@flow(name="corpus")
def corpus_flow(warehouse: Warehouse, sources: Optional[dict[Literal[SOURCES], str]] = None,
                sample: bool = False, n: Optional[int] = None, seed: int = 0,
                selection: SelectionOptions = SelectionOptions(), llm: Optional[LLMOptions] = None,
                limit: Optional[int] = None, max_repairs: Optional[int] = None,
                export_format: Optional[Literal[FORMATS]] = None,
                workers: int = 1, dask_address: Optional[str] = None, force: bool = False, wait: bool = True,
                report: bool = True) -> dict:
    """Build the corpus; returns each stage's counts, the run id and the report's path.

    ``sources`` maps a source name to its folder; ``sample`` adds the embedded synthetic sample
    (``n`` records per layout, default one of each kind, written with ``seed``). ``selection``
    picks the records, ``llm`` (default :class:`LLMOptions`, its backend chosen when the run
    starts) answers, validates (``max_repairs`` rounds, default :class:`ValidateParams`) and
    writes evidence, ``limit`` caps the samples generated;
    ``force`` redoes the shards of the CPU stages; ``export_format`` (swift or trl) also writes
    ``<warehouse>/exports/<format>`` with the selection's seed. With ``wait`` false a run finding
    the warehouse locked by another writer stops at once instead of waiting.
    """
    llm, sources = llm or LLMOptions(), sources or {}
    parameters = dict(locals())
    # Subflows without heartbeats of their own: the corpus run's heartbeat covers them, and each
    # heartbeat thread delays its subflow's exit by up to a second (Prefect 3.8 sleeps in 1 s steps).
    with recorded(warehouse, "corpus", parameters, flow_run.id, wait=wait) as run, \
            temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        if sample:
            n = n or len(KINDS)
            sources = {**{layout: write_sample_task(warehouse, layout, n, seed + i)
                          for i, layout in enumerate(LAYOUTS)}, **sources}
        params = {
            "ingest": IngestParams(sources=sources), "select": selection,
            "generate": GenerateParams(llm=llm, limit=limit),
            "validate": ValidateParams(llm=llm, **({} if max_repairs is None else {"max_repairs": max_repairs})),
            "evidence": EvidenceParams(llm=llm),
            "export": export_format and ExportOptions(out=warehouse.root / EXPORTS / export_format,
                                                      format=export_format, seed=selection.seed),
        }
        runner = task_runner(workers, dask_address)
        for name in NAMES[:NAMES.index("report")]:
            if name == "export" and not export_format:
                continue
            stage = FLOWS[name].with_options(task_runner=runner) if runner and get(name).parallel else FLOWS[name]
            run.stage(name, stage, run.warehouse, params.get(name), force)
    result = {**run.counts, "run_id": run.id, "report": None}
    if report:
        from stages.report import PAGE, markdown_summary, report_dir

        FLOWS["report"](run.warehouse)
        path = report_dir(run.warehouse, run.id) / PAGE
        create_markdown_artifact(key="corpus-report", markdown=markdown_summary(path),
                                 description=f"corpus run {run.id}")
        result["report"] = str(path)
    return result
