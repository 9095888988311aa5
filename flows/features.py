"""Prefect ``features`` flow: one task per records part, on a process pool or a Dask cluster."""

from __future__ import annotations

from prefect import flow, task
from prefect.task_runners import ProcessPoolTaskRunner

from stages import features as stage
from warehouse import Warehouse


@task(name="features-shard")
def features_shard(warehouse: str, part: str) -> dict[str, int]:
    return stage.run_shard(Warehouse(warehouse), part)


@flow(name="features")
def features_flow(warehouse: str, force: bool = False) -> dict[str, int]:
    """Measure every pending records shard; returns summed counts."""
    todo = stage.pending(Warehouse(warehouse), force)
    return Warehouse(warehouse).finish(todo, [f.result() for f in features_shard.map(warehouse, todo)] if todo else [],
                                       stage.COUNTS)


def features_flow_on(workers: int = 1, dask_address: str | None = None):
    """The flow on threads (FeatureDB's Numba kernels already use every core of the process),
    on a local pool of ``workers`` processes, or on a Dask scheduler (prefect-dask)."""
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return features_flow.with_options(task_runner=DaskTaskRunner(address=dask_address))
    return features_flow.with_options(task_runner=ProcessPoolTaskRunner(max_workers=workers)) if workers > 1 \
        else features_flow
