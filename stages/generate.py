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
from collections.abc import Callable

import polars as pl

import llm
from prompts import rules_writer
from sources.vocabulary import concepts
from stages.prompts import record_slices
from warehouse import Warehouse

LLM_DIR = "_llm"
INTERPRETATION_PARAMS = {"temperature": 0.3, "max_tokens": 4096}


class RulesBackend(llm.Backend):
    """The deterministic protocol writer behind the client interface (``backend='rules'``).

    It answers a prompt from the record's measured facts, looked up by the prompt's hash (the
    request's own, computed once for its journal row and cache key); a record whose findings
    contradict its labels (or cannot be checked against them) gets no text but a failed attempt
    whose error names the reason (``rules_writer.Refused``, not retried), so it is counted."""

    name = "rules"
    model = "rules-protocol-writer-1"  # priced by the "rules" row of llm/prices.csv (free)
    cacheable = False

    def __init__(self, answers: dict[str, Callable[[], str]]) -> None:
        self._answers = answers

    async def generate(self, messages: list[dict], params: dict) -> llm.Response:
        return self._write(llm.prompt_sha256(messages))

    async def answer(self, request: llm.Request) -> llm.Response:
        return self._write(request.prompt_sha256)

    def _write(self, key: str) -> llm.Response:
        if key not in self._answers:
            raise ValueError("the rules backend answers only prompts built by this warehouse's prompts stage")
        text = self._answers[key]()
        return llm.Response(text=text, tokens_in=0, tokens_out=0, finish_reason="stop", model=self.model)


def rules_backend(warehouse: Warehouse, prompts: pl.DataFrame) -> RulesBackend:
    """A rules backend for these prompt rows, from their records' features, findings and labels.
    Findings are held as column lists; a record's rows become dicts only when it is answered."""
    ids = prompts["record_id"].unique().implode()
    feats = {r["record_id"]: r for r in warehouse.read("features").filter(pl.col("record_id").is_in(ids)).iter_rows(named=True)}
    found, slices = record_slices(warehouse.read("findings").filter(pl.col("record_id").is_in(ids)))
    columns, values = found.columns, [found[c].to_list() for c in found.columns]
    labels = dict(warehouse.read("records", ["record_id", "labels"]).filter(pl.col("record_id").is_in(ids)).rows())
    names = concepts()

    def answer(rid: str) -> Callable[[], str]:
        def write() -> str:
            rows = (dict(zip(columns, row)) for row in zip(*(v[slices[rid]] for v in values)))
            fd = {r["criterion"]: r for r in rows}
            return rules_writer.write(feats[rid], fd, list(labels.get(rid) or []), names)
        return write

    return RulesBackend({sha: answer(rid) for sha, rid in prompts.select("prompt_sha256", "record_id").rows()})


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


def requests(prompts: pl.DataFrame) -> list[llm.Request]:
    return [llm.Request(sample_id=sid, shard=part, messages=json.loads(messages), params=dict(INTERPRETATION_PARAMS))
            for sid, part, messages in prompts.select("sample_id", "part", "messages").rows()]


def select_prompts(warehouse: Warehouse, backend: llm.Backend, limit: int | None = None) -> pl.DataFrame:
    """Interpretation prompts whose sample has no ``ok`` answer from this backend yet, in order.
    The rules writer's refusals stand like its answers (same prompt, same outcome): a refused
    sample is not asked again until its prompt changes."""
    frames = [pl.read_parquet(p).with_columns(part=pl.lit(p.stem)) for p in warehouse.parts("prompts")]
    if not frames:
        return pl.DataFrame(schema={"sample_id": pl.Utf8, "record_id": pl.Utf8, "prompt_sha256": pl.Utf8,
                                    "messages": pl.Utf8, "part": pl.Utf8})
    prompts = pl.concat(frames).filter(pl.col("kind") == "interpretation", pl.col("status") == "ok").sort("sample_id")
    done = llm.read_frame(journal_dir(warehouse, backend)) if journal_dir(warehouse, backend).exists() else None
    if done is not None and done.height:
        settled = pl.col("final") & ((pl.col("status") == "ok") | isinstance(backend, RulesBackend))
        ok = done.filter(settled)
        prompts = prompts.join(ok.select("sample_id", "prompt_sha256"), on=["sample_id", "prompt_sha256"], how="anti")
    return prompts.head(limit) if limit is not None else prompts


def publish(warehouse: Warehouse, backend: llm.Backend, shards: list[str]) -> int:
    """Turn the journals of ``shards`` into ``generations`` parts (``<shard>.<backend>-<model>``);
    returns the rows written. Each shard keeps one ``final`` row per sample over every backend
    that answered it: the latest ``ok`` answer, else the latest attempt."""
    rows = llm.read_frame(journal_dir(warehouse, backend)).with_columns(
        record_id=pl.col("sample_id").str.split("#").list.first())
    n = 0
    for shard in shards:
        part = rows.filter(pl.col("shard") == shard)
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
    prompts = select_prompts(warehouse, backend or RulesBackend({}), limit)
    backend = backend or rules_backend(warehouse, prompts)
    reqs = requests(prompts) if prompts.height else []
    summary = asyncio.run(llm.generate(
        reqs, backend, journal_dir=journal_dir(warehouse, backend), cache_dir=warehouse.root / LLM_DIR / "cache",
        concurrency=concurrency, max_cost_usd=max_cost_usd, rpm=rpm, tpm=tpm, refresh=refresh, progress=progress,
        **({"retry": retry} if retry else {})))
    publish(warehouse, backend, sorted({r.shard for r in reqs}))
    return summary
