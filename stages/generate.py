"""Generate stage: ``prompts`` -> LLM (``llm.generate``) -> ``generations``.

Requests are the prompts not yet answered; their journal shard is the prompts part they come
from, under ``<warehouse>/_llm/journal/<backend>-<model>/``, and the content-addressed cache is
``<warehouse>/_llm/cache/`` (shared by every run and machine that shares the warehouse). After
the run each touched shard's journal becomes its ``generations`` part, all attempts included.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import OrderedDict
from collections.abc import Iterator
from functools import cached_property

import polars as pl

import llm
from prompts import rules_writer
from protocol.concordance import by_record
from sources.vocabulary import concepts
from stages.prompts import KIND
from warehouse import Warehouse

LLM_DIR = "_llm"
INTERPRETATION_PARAMS = {"temperature": 0.3, "max_tokens": 4096}
SHARDS_KEPT = 4  # shards whose facts the rules backend holds: the workers straddle at most a few
Facts = tuple[dict, dict[str, dict], list[str]]


class RulesBackend(llm.Backend):
    """The deterministic protocol writer behind the client interface (``backend='rules'``).

    It answers a request from its record's measured facts, found by the request's prompt hash
    among the facts of its shard (the prompts part): each shard's facts are read when its first
    request comes and kept for the last :data:`SHARDS_KEPT` shards, so memory holds a few
    shards, not the corpus. A record whose findings contradict its labels (or cannot be checked
    against them) gets no text but a failed attempt whose error names the reason
    (``rules_writer.Refused``, not retried), so it is counted."""

    name = "rules"
    model = "rules-protocol-writer-1"  # priced by the "rules" row of llm/prices.csv (free)
    cacheable = False

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        self._shards: OrderedDict[str, dict[str, Facts]] = OrderedDict()

    async def generate(self, messages: list[dict], params: dict) -> llm.Response:
        raise ValueError("the rules backend answers only requests of the prompts stage (llm.Request with its shard)")

    async def answer(self, request: llm.Request) -> llm.Response:
        return llm.Response(text=self.write(request.shard, request.prompt_sha256), tokens_in=0, tokens_out=0,
                            finish_reason="stop", model=self.model)

    def write(self, shard: str, prompt_sha256: str) -> str:
        """The interpretation of the prompt ``prompt_sha256`` of prompts part ``shard``."""
        if shard not in self._shards:
            self._shards[shard] = shard_facts(self._warehouse, shard)
            while len(self._shards) > SHARDS_KEPT:
                self._shards.popitem(last=False)
        facts = self._shards[shard].get(prompt_sha256)
        if facts is None:
            raise ValueError("the rules backend answers only prompts built by this warehouse's prompts stage")
        return rules_writer.write(*facts, self._names)

    @cached_property
    def _names(self) -> dict[str, str]:
        return concepts()


def shard_facts(warehouse: Warehouse, shard: str) -> dict[str, Facts]:
    """The writer's facts (features row, findings by criterion, labels) of each ``ok``
    interpretation prompt of prompts part ``shard``, by prompt hash: read from the shard's parts."""
    def read(table: str, columns: list[str] | None = None) -> pl.DataFrame:
        return pl.read_parquet(warehouse.table_dir(table) / f"{shard}.parquet", columns=columns)

    prompts = read("prompts", ["record_id", "prompt_sha256", "kind", "status"]).filter(
        pl.col("kind") == KIND, pl.col("status") == "ok")
    mine = pl.col("record_id").is_in(prompts["record_id"].implode())
    feats = {r["record_id"]: r for r in read("features").filter(mine).iter_rows(named=True)}
    found = by_record(read("findings", ["record_id", "criterion", *rules_writer.FINDING_FIELDS]).filter(mine),
                      rules_writer.FINDING_FIELDS)
    labels = dict(read("records", ["record_id", "labels"]).filter(mine).rows())
    return {sha: (feats[rid], found.get(rid, {}), list(labels.get(rid) or []))
            for rid, sha in prompts.select("record_id", "prompt_sha256").rows()}


def make_backend(backend: str, model: str | None = None, base_url: str | None = None,
                 concurrency: int = llm.DEFAULT_CONCURRENCY, timeout_s: float | None = None) -> llm.Backend | None:
    """``None`` (the rules writer) or an OpenAI-compatible backend; raises ValueError without a key."""
    if backend == "rules":
        return None
    if backend != "openai":
        raise ValueError(f"unknown backend {backend!r}; use rules or openai")
    kwargs = {"concurrency": concurrency}
    if timeout_s:
        kwargs["timeout_s"] = timeout_s
    return llm.OpenAIBackend(model or llm.DEFAULT_MODEL, base_url=base_url or llm.DEFAULT_BASE_URL, **kwargs)


def default_backend() -> str:
    """``openai`` when an API key is set, else the offline ``rules`` writer."""
    return "openai" if llm.resolve_api_key() else "rules"


def journal_dir(warehouse: Warehouse, backend: llm.Backend):
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", f"{backend.name}-{backend.model}")
    return warehouse.root / LLM_DIR / "journal" / slug


class Pending:
    """The interpretation prompts a backend has not settled yet, as a lazy collection of requests
    (``len`` and ``iter``, as :func:`llm.generate` reads them): the sample ids are read up front
    (sorted within each prompts part, parts in order, the first ``limit``), the messages one
    part at a time. A sample is settled by its ``final`` ``ok`` answer to the same prompt; the
    rules writer's refusals stand like its answers (same prompt, same outcome), so a refused
    sample is not asked again until its prompt changes."""

    def __init__(self, warehouse: Warehouse, backend: llm.Backend, limit: int | None = None) -> None:
        self._warehouse = warehouse
        self.samples: dict[str, list[str]] = {}  # prompts part -> pending sample ids
        settled = pl.col("final") & ((pl.col("status") == "ok") | isinstance(backend, RulesBackend))
        left = limit
        for path in warehouse.parts("prompts"):
            prompts = pl.read_parquet(path, columns=["sample_id", "prompt_sha256", "kind", "status"]).filter(
                pl.col("kind") == KIND, pl.col("status") == "ok")
            if prompts.is_empty() or left == 0:
                continue
            done = llm.read_frame(journal_dir(warehouse, backend), path.stem).filter(settled)
            ids = prompts.join(done.select("sample_id", "prompt_sha256"), on=["sample_id", "prompt_sha256"],
                               how="anti")["sample_id"].sort().to_list()[:left]
            if ids:
                self.samples[path.stem] = ids
                left = None if left is None else left - len(ids)

    def __len__(self) -> int:
        return sum(map(len, self.samples.values()))

    def __iter__(self) -> Iterator[llm.Request]:
        for shard, ids in self.samples.items():
            prompts = pl.read_parquet(self._warehouse.table_dir("prompts") / f"{shard}.parquet",
                                      columns=["sample_id", "messages"])
            for sid, messages in prompts.filter(pl.col("sample_id").is_in(ids)).sort("sample_id").rows():
                yield llm.Request(sample_id=sid, shard=shard, messages=json.loads(messages),
                                  params=dict(INTERPRETATION_PARAMS))


def publish(warehouse: Warehouse, backend: llm.Backend, shards: list[str]) -> int:
    """Turn the journals of ``shards`` into ``generations`` parts (``<shard>.<backend>-<model>``);
    returns the rows written. Each shard keeps one ``final`` row per sample over every backend
    that answered it: the latest ``ok`` answer, else the latest attempt."""
    n = 0
    for shard in shards:
        part = llm.read_frame(journal_dir(warehouse, backend), shard).with_columns(
            record_id=pl.col("sample_id").str.split("#").list.first())
        if part.height:
            warehouse.write("generations", part, f"{shard}.{journal_dir(warehouse, backend).name}")
            n += part.height
        _one_final(warehouse, shard)
    warehouse.refresh()
    return n


def final_answers(warehouse: Warehouse, shard: str, kind: str) -> pl.DataFrame:
    """The ``final`` ok answers of a prompts shard over every backend, of the samples whose id
    holds ``#<kind>`` (``interpretation`` includes its repairs, ``evidence``)."""
    columns = ["sample_id", "record_id", "backend", "model", "response"]
    frames = [pl.read_parquet(p, columns=[*columns, "status", "final"]) for p in warehouse.parts("generations", f"{shard}.")]
    if not frames:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.Utf8))
    return pl.concat(frames).filter(pl.col("final"), pl.col("status") == "ok",
                                    pl.col("sample_id").str.contains(f"#{kind}", literal=True)).select(columns)


def _one_final(warehouse: Warehouse, shard: str) -> None:
    parts = warehouse.parts("generations", f"{shard}.")
    if len(parts) < 2:
        return
    rows = pl.concat([pl.read_parquet(p).with_columns(part=pl.lit(p.stem)) for p in parts]).with_row_index("row")
    last = (rows.sort(pl.col("status") == "ok", "created_at", "attempt", nulls_last=False)
            .group_by("sample_id").agg(pl.col("row").last()))
    rows = rows.with_columns(final=pl.col("row").is_in(last["row"].implode()))
    for (name,), part in rows.partition_by("part", as_dict=True).items():
        warehouse.write("generations", part.drop("row", "part"), name)


def run(warehouse: Warehouse, backend: llm.Backend | None = None, *, limit: int | None = None,
        concurrency: int = llm.DEFAULT_CONCURRENCY, max_cost_usd: float | None = None,
        rpm: float | None = None, tpm: float | None = None, refresh: bool = False, progress=None,
        retry: llm.RetryPolicy | None = None) -> llm.RunSummary:
    """Answer the pending interpretation prompts with ``backend`` (``None``: the rules writer)
    and publish ``generations``."""
    backend = backend or RulesBackend(warehouse)
    pending = Pending(warehouse, backend, limit)
    summary = asyncio.run(llm.generate(
        pending, backend, journal_dir=journal_dir(warehouse, backend), cache_dir=warehouse.root / LLM_DIR / "cache",
        concurrency=concurrency, max_cost_usd=max_cost_usd, rpm=rpm, tpm=tpm, refresh=refresh, progress=progress,
        **({"retry": retry} if retry else {})))
    publish(warehouse, backend, list(pending.samples))
    return summary
