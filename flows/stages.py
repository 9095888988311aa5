"""Every stage as a Prefect flow, built from its :class:`stages.stage.Stage` (the registry,
:data:`stages.stage.NAMES`).

A stage's flow takes the warehouse handle (its run id stamps the rows written), the stage's
parameters object (shown and validated by Prefect) and ``force``, and runs
:meth:`Stage.run <stages.stage.Stage.run>`: a parallel stage (the CPU-bound ones) with one task
per shard on the flow's task runner (threads by default, a process pool or a Dask cluster
through ``with_options(task_runner=...)``), any other as one task (its shards are quick, or share
one LLM event loop). Its counts are the flow's result and a table artifact of the run.
"""

from __future__ import annotations

from typing import Optional

from prefect import Flow, flow, task, unmapped
from prefect.artifacts import create_table_artifact

from stages.stage import NAMES, Options, Stage, get
from warehouse import Warehouse


@task(task_run_name="{stage}-{part}")
def stage_shard(stage: str, warehouse: Warehouse, part: str, params: Options) -> dict[str, int]:
    return get(stage).shard(warehouse, part, params)


@task(task_run_name="{stage}")
def stage_run(stage: str, warehouse: Warehouse, params: Options, force: bool) -> dict:
    return get(stage).run(warehouse, params, force)


def stage_flow(stage: Stage) -> Flow:
    """The Prefect flow of ``stage``."""

    def run_stage(warehouse: Warehouse, params: Optional[Options] = None, force: bool = False) -> dict:
        def as_tasks(_one, shards: list[str]) -> list[dict[str, int]]:
            futures = stage_shard.map(unmapped(stage.name), unmapped(warehouse), shards, unmapped(params))
            return [f.result() for f in futures]

        params = stage.params() if params is None else params
        if stage.parallel:
            counts = stage.run(warehouse, params, force, mapper=as_tasks)
        else:
            counts = stage_run(stage.name, warehouse, params, force)
        create_table_artifact(key=f"{stage.name}-counts", description=f"{stage.name}: counts",
                              table=[{"count": k, "value": str(v)} for k, v in counts.items()])
        return counts

    run_stage.__annotations__ = {"warehouse": Warehouse, "params": Optional[stage.params], "force": bool,
                                 "return": dict}
    return flow(run_stage, name=stage.name, description=f"the {stage.name} stage, one task per shard")


FLOWS: dict[str, Flow] = {name: stage_flow(get(name)) for name in NAMES}
