"""Prefect ``findings`` flow: evaluate the protocol criteria per features shard."""

from __future__ import annotations

from prefect import flow, task

from protocol import findings as stage
from warehouse import Warehouse


@task(name="findings-shard")
def findings_shard(warehouse: str, part: str) -> dict[str, int]:
    return stage.run_shard(Warehouse(warehouse), part)


@flow(name="findings")
def findings_flow(warehouse: str, force: bool = False) -> dict[str, int]:
    todo = stage.pending(Warehouse(warehouse), force)
    return Warehouse(warehouse).finish(todo, [f.result() for f in findings_shard.map(warehouse, todo)] if todo else [],
                                       stage.COUNTS)
