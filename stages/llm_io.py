"""The pipeline's one LLM round trip, used by generate, validate (repairs) and evidence.

Requests are sent by :func:`ask` through one client (``llm.generate``: one concurrency cap, rate
limits, budget and retries) built by :func:`make_backend` from :class:`stages.options.LLMOptions`.
Every attempt goes to the append-only journal of its shard (the prompts part the request comes
from) under ``<warehouse>/_llm/journal/<backend>-<model>/``, answers to the content-addressed
cache ``<warehouse>/_llm/cache/`` (shared by every run and machine that shares the warehouse), and
:func:`publish` turns a shard's journal into its ``generations`` part; :func:`final_answers`
reads them back. A killed run resumes from the journal without paying twice.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Collection
from pathlib import Path

import polars as pl

import llm
from prompts import rules_writer
from schemas.ids import EVIDENCE, INTERPRETATION, SampleId
from stages import facts
from stages.options import RULES_MODEL, LLMOptions
from warehouse import Warehouse

LLM_DIR = "_llm"
SHARDS_KEPT = 4  # shards whose facts the rules backend holds: the workers straddle at most a few
#: Request parameters by sample kind (repairs ask like the interpretation they repair).
PARAMS = {INTERPRETATION: {"temperature": 0.3, "max_tokens": 4096},
          EVIDENCE: {"temperature": 0.0, "max_tokens": 1024, "json_mode": True}}


class RulesBackend(llm.Backend):
    """The deterministic protocol writer behind the client interface (``backend='rules'``).

    It answers a request from its record's measured facts, found by the request's prompt hash
    among the facts of its shard (the prompts part): each shard's facts are read when its first
    request comes and kept for the last :data:`SHARDS_KEPT` shards, so memory holds a few
    shards, not the corpus. A record whose answer key is discordant gets no text but a failed attempt whose error names the reason
    (``rules_writer.Refused``, not retried), so it is counted. It cannot repair (it would write
    the same text) and writes no evidence replies: the rules phrases are the evidence stage's own."""

    name = "rules"
    model = RULES_MODEL
    cacheable = False

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        self._shards: OrderedDict[str, dict[str, facts.WriterFacts]] = OrderedDict()

    async def generate(self, messages: list[dict], params: dict) -> llm.Response:
        raise ValueError("the rules backend answers only requests of the prompts stage (llm.Request with its shard)")

    async def answer(self, request: llm.Request) -> llm.Response:
        return llm.Response(text=self.write(request.shard, request.prompt_sha256), tokens_in=0, tokens_out=0,
                            finish_reason="stop", model=self.model)

    def write(self, shard: str, prompt_sha256: str) -> str:
        """The interpretation of the prompt ``prompt_sha256`` of prompts part ``shard``."""
        if shard not in self._shards:
            self._shards[shard] = facts.for_writer(self._warehouse, shard)
            while len(self._shards) > SHARDS_KEPT:
                self._shards.popitem(last=False)
        record = self._shards[shard].get(prompt_sha256)
        if record is None:
            raise ValueError("the rules backend answers only prompts built by this warehouse's prompts stage")
        return rules_writer.write(*record)


def make_backend(options: LLMOptions, warehouse: Warehouse) -> llm.Backend:
    """The rules writer, or an OpenAI-compatible client; raises ValueError without an API key."""
    if options.backend == "rules":
        return RulesBackend(warehouse)
    return llm.OpenAIBackend(options.model_name, base_url=options.base_url or llm.DEFAULT_BASE_URL,
                             concurrency=options.concurrency,
                             **({"timeout_s": options.timeout_s} if options.timeout_s else {}))


def journal_dir(warehouse: Warehouse, options: LLMOptions) -> Path:
    """``<warehouse>/_llm/journal/<backend>-<model>``: one journal file per shard."""
    return warehouse.root / LLM_DIR / "journal" / re.sub(r"[^A-Za-z0-9._-]", "_",
                                                         f"{options.backend}-{options.model_name}")


def ask(warehouse: Warehouse, options: LLMOptions, requests: Collection[llm.Request],
        progress=None) -> llm.RunSummary:
    """Send ``requests`` (any collection with ``len`` and ``iter``, read as the workers take
    them) through one client; every attempt is journalled by its shard."""
    return asyncio.run(llm.generate(
        requests, make_backend(options, warehouse), journal_dir=journal_dir(warehouse, options),
        cache_dir=warehouse.root / LLM_DIR / "cache", concurrency=options.concurrency,
        max_cost_usd=options.max_cost_usd, rpm=options.rpm, tpm=options.tpm, refresh=options.refresh,
        progress=progress, retry=options.retry()))


def ask_and_publish(warehouse: Warehouse, options: LLMOptions, requests: list[llm.Request], progress=None) -> None:
    """:func:`ask`, then :func:`publish` every shard the requests came from (the repair and
    evidence rounds; generate publishes shard by shard, one task each)."""
    ask(warehouse, options, requests, progress)
    for shard in sorted({r.shard for r in requests}):
        publish(warehouse, options, shard)


def publish(warehouse: Warehouse, options: LLMOptions, shard: str) -> int:
    """Turn the journal of ``shard`` into its ``generations`` part (``<shard>.<backend>-<model>``);
    returns the rows written. The shard keeps one ``final`` row per sample over every backend
    that answered it: the latest ``ok`` answer, else the latest attempt."""
    journal = journal_dir(warehouse, options)
    part = llm.read_frame(journal, shard).with_columns(record_id=SampleId.record_expr())
    if part.height:
        warehouse.write("generations", part, f"{shard}.{journal.name}")
    _one_final(warehouse, shard)
    return part.height


def final_answers(warehouse: Warehouse, shard: str, kind: str) -> pl.DataFrame:
    """The ``final`` ok answers of a prompts shard over every backend, of the samples of ``kind``
    (``interpretation`` includes its repairs), with the ``sample`` each answers and its ``attempt``
    (1, or 1 + the repair round)."""
    columns = ["sample_id", "record_id", "backend", "model", "response"]
    frames = [pl.read_parquet(p, columns=[*columns, "status", "final"]) for p in warehouse.parts("generations", f"{shard}.")]
    answers = (pl.concat(frames).filter(pl.col("final"), pl.col("status") == "ok", SampleId.kind_expr() == kind)
               .select(columns) if frames else pl.DataFrame(schema=dict.fromkeys(columns, pl.Utf8)))
    return answers.with_columns(sample=SampleId.sample_expr(), attempt=SampleId.attempt_expr())


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
