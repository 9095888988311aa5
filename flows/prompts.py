"""Prefect ``prompts`` flow: render the interpretation prompts per findings shard."""

from __future__ import annotations

from prefect import flow, task

from prompts import stage
from warehouse import Warehouse


@task(name="prompts-shard")
def prompts_shard(warehouse: str, part: str) -> dict[str, int]:
    return stage.run_shard(Warehouse(warehouse), part)


@flow(name="prompts")
def prompts_flow(warehouse: str, force: bool = False) -> dict[str, int]:
    todo = stage.pending(Warehouse(warehouse), force)
    return Warehouse(warehouse).finish(todo, [f.result() for f in prompts_shard.map(warehouse, todo)] if todo else [],
                                       stage.COUNTS)
