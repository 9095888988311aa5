"""Every sharded stage as a Prefect flow, built from its :class:`stages.stage.Stage`.

A flow plans the stage's shards (``params`` go to the stage's ``plan``, e.g. ingest's
``sources``), maps one task per shard on the flow's task runner (threads by default, a process
pool or a Dask cluster through ``with_options(task_runner=...)``), then runs the stage's
``after`` step and returns its summed counts. Rows are stamped with ``run_id`` (the corpus
run's, see ``stages/runs.py``).
"""

from __future__ import annotations

from prefect import Flow, flow, task, unmapped

from stages.stage import NAMES, get
from warehouse import Warehouse


@task(task_run_name="{stage}-{part}")
def stage_shard(stage: str, warehouse: str, part: str, run_id: str | None = None) -> dict[str, int]:
    return get(stage).shard(Warehouse(warehouse, run_id), part)


def stage_flow(name: str) -> Flow:
    """The Prefect flow of stage ``name``."""

    def run_stage(warehouse: str, force: bool = False, params: dict | None = None,
                  run_id: str | None = None) -> dict[str, int]:
        stage, wh = get(name), Warehouse(warehouse, run_id)
        todo = stage.pending(wh, force, **(params or {}))
        futures = stage_shard.map(unmapped(name), unmapped(str(wh.root)), todo, unmapped(run_id)) if todo else []
        return stage.finish(wh, todo, [f.result() for f in futures])

    return flow(run_stage, name=name, description=f"the {name} stage, one task per shard")


FLOWS: dict[str, Flow] = {name: stage_flow(name) for name in NAMES}
ingest_flow, features_flow, findings_flow, select_flow, prompts_flow = (FLOWS[n] for n in NAMES)
