"""The task runner of the sharded CPU stages (features, findings, prompts)."""

from __future__ import annotations

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner


def task_runner(workers: int = 1, dask_address: str | None = None) -> TaskRunner | None:
    """A Dask cluster (prefect-dask) when ``dask_address`` is given, else a local pool of
    ``workers`` processes, else None: the flow's default threads, enough on one machine since
    FeatureDB's Numba kernels already use every core of a process.

    Use it as ``FLOWS[name].with_options(task_runner=runner)`` when it is not None.
    """
    if dask_address:
        from prefect_dask import DaskTaskRunner  # distributed loads only for a cluster

        return DaskTaskRunner(address=dask_address)
    return ProcessPoolTaskRunner(max_workers=workers) if workers > 1 else None
