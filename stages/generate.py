"""Generate stage: ``prompts`` -> the LLM (:mod:`stages.llm_io`) -> ``generations``.

``plan`` finds the prompts shards holding interpretation prompts the backend has not settled
yet, ``ask`` sends them all through one client (one event loop, one concurrency cap), and each
shard's ``run_shard`` publishes its journal, all attempts included, as its ``generations`` part.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import polars as pl

import llm
from schemas.ids import INTERPRETATION
from stages import llm_io
from stages.options import GenerateParams, LLMOptions
from stages.stage import Stage
from warehouse import Warehouse

class Pending:
    """The interpretation prompts a backend has not settled yet, as a lazy collection of requests
    (``len`` and ``iter``, as :func:`llm.generate` reads them): the sample ids are read up front
    (sorted within each prompts part, parts in order, the first ``limit``), the messages one
    part at a time. A sample is settled by its ``final`` ``ok`` answer to the same prompt; the
    rules writer's refusals stand like its answers (same prompt, same outcome), so a refused
    sample is not asked again until its prompt changes."""

    def __init__(self, warehouse: Warehouse, options: LLMOptions, limit: int | None = None,
                 shards: list[str] | None = None) -> None:
        self._warehouse = warehouse
        self.samples: dict[str, list[str]] = {}  # prompts part -> pending sample ids
        settled = pl.col("final") & ((pl.col("status") == "ok") | (options.backend == "rules"))
        journal = llm_io.journal_dir(warehouse, options)
        left = limit
        for shard in shards if shards is not None else [p.stem for p in warehouse.parts("prompts")]:
            prompts = warehouse.read_part("prompts", shard, ["sample_id", "prompt_sha256", "kind", "status"]).filter(
                pl.col("kind") == INTERPRETATION, pl.col("status") == "ok")
            if prompts.is_empty() or left == 0:
                continue
            done = llm.read_frame(journal, shard).filter(settled)
            ids = prompts.join(done.select("sample_id", "prompt_sha256"), on=["sample_id", "prompt_sha256"],
                               how="anti")["sample_id"].sort().to_list()[:left]
            if ids:
                self.samples[shard] = ids
                left = None if left is None else left - len(ids)

    def __len__(self) -> int:
        return sum(map(len, self.samples.values()))

    def __iter__(self) -> Iterator[llm.Request]:
        for shard, ids in self.samples.items():
            prompts = self._warehouse.read_part("prompts", shard, ["sample_id", "messages"])
            for sid, messages in prompts.filter(pl.col("sample_id").is_in(ids)).sort("sample_id").rows():
                yield llm.Request(sample_id=sid, shard=shard, messages=json.loads(messages),
                                  params=dict(llm_io.PARAMS[INTERPRETATION]))


def plan(warehouse: Warehouse, params: GenerateParams, force: bool = False) -> list[str]:
    """The prompts shards with unsettled prompts (``force`` does not apply: a settled answer is
    paid for; ``refresh`` bypasses the cache)."""
    return list(Pending(warehouse, params.llm, params.limit).samples)


def ask(warehouse: Warehouse, params: GenerateParams, shards: list[str], progress=None) -> dict:
    """Answer the unsettled prompts of ``shards``; returns the run's counts (``llm.RunSummary``,
    its outcomes per shard as ``by_shard``)."""
    counts = llm_io.ask(warehouse, params.llm, Pending(warehouse, params.llm, params.limit, shards), progress).to_dict()
    counts["by_shard"] = counts.pop("shards")
    return counts


def run_shard(warehouse: Warehouse, shard: str, params: GenerateParams) -> dict[str, int]:
    return {"published": llm_io.publish(warehouse, params.llm, shard)}


STAGE = Stage("generate", input="prompts", outputs=("generations",), counts=("published",), run_shard=run_shard,
              params=GenerateParams, plan=plan, ask=ask)
