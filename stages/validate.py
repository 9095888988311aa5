"""Validate stage: every answer in ``generations`` checked (``curation.validate``) into
``validations``, and the repair loop.

A shard is a prompts shard; it is redone when one of its ``generations`` parts or a checker
file is newer than its ``validations`` part. Each interpretation sample's attempts are judged in
order: attempt 1 is its ``final`` generated answer, attempt ``k + 1`` the answer to repair ``k``
(generations ``sample_id`` ``<sample>#repair<k>``). The last attempt is the sample's verdict
(``final``). :func:`run` then sends every sample whose last attempt is invalid, and that has
repairs left, back to the model with its errors (``prompts/templates/repair.j2``) through the
same journal and cache as ``generate``, and validates again: at most ``max_repairs`` rounds,
nothing asked twice on a rerun. The offline rules writer cannot repair (it would write the
same text), so with it the first verdict stands.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import polars as pl

import curation
import llm
from prompts.render import repair_messages
from stages import generate
from stages.stage import Stage, process_pool
from warehouse import Warehouse

KIND = "interpretation"
REPAIR = "#repair"
MAX_REPAIRS = 2
#: Checker processes of :func:`run` (the checks are CPU-bound and independent per response), and
#: the fewest responses of a shard worth them: spawning the workers costs about a second, more
#: than checking a few hundred responses in this process.
WORKERS = min(2, os.cpu_count() or 1)
POOL_FROM = 600
CHECKER_FILES = tuple(Path(curation.__file__).parent.glob("*.py")) + (curation.grounding.CLAIMS,
                                                                      curation.grounding.TOLERANCES)


def repair_id(sample_id: str, k: int) -> str:
    return f"{sample_id}{REPAIR}{k}"


def facts(warehouse: Warehouse, part: str) -> dict[str, curation.Facts]:
    """The checked facts of every record of a shard, by record_id."""
    read = lambda table: pl.read_parquet(warehouse.table_dir(table) / f"{part}.parquet")  # noqa: E731
    leads: dict[str, dict] = defaultdict(dict)
    for row in read("lead_features").iter_rows(named=True):
        leads[row["record_id"]][row["lead"]] = row
    found: dict[str, dict] = defaultdict(dict)
    for row in read("findings").iter_rows(named=True):
        found[row["record_id"]][row["criterion"]] = row
    labels = dict(pl.read_parquet(warehouse.table_dir("records") / f"{part}.parquet", columns=["record_id", "labels"]).rows())
    return {row["record_id"]: curation.Facts(row, leads[row["record_id"]], found[row["record_id"]],
                                             list(labels.get(row["record_id"]) or []))
            for row in read("features").iter_rows(named=True)}


def answers(warehouse: Warehouse, part: str) -> pl.DataFrame:
    """The ``final`` ok answers of a shard's interpretation samples and their repairs, with the
    base ``sample`` and ``attempt`` (1 + the repair round)."""
    base = pl.col("sample_id").str.split(REPAIR)
    return generate.final_answers(warehouse, part, KIND).with_columns(sample=base.list.first(),
                             attempt=(base.list.get(1, null_on_oob=True).cast(pl.Int32).fill_null(0) + 1).cast(pl.Int32))


class _Checkers:
    """The process pool that checks the responses of the large shards of one :func:`run`:
    opened by ``run``, its workers spawned when a shard of at least :data:`POOL_FROM` responses
    first needs them, shut down when ``run`` ends. Outside ``run`` every shard is checked here."""

    def __init__(self) -> None:
        self.workers = 0
        self._pool: ProcessPoolExecutor | None = None

    @contextlib.contextmanager
    def open(self, workers: int) -> Iterator[None]:
        self.workers = workers
        try:
            yield
        finally:
            if self._pool is not None:
                self._pool.shutdown()
            self.workers, self._pool = 0, None

    def pool(self, responses: int) -> ProcessPoolExecutor | None:
        if self.workers < 2 or responses < POOL_FROM:
            return None
        if self._pool is None:
            self._pool = process_pool(self.workers)
        return self._pool


_CHECKERS = _Checkers()


def run_shard(warehouse: Warehouse, part: str) -> dict[str, int]:
    """Judge every attempt of the shard's samples; counts accepted and rejected samples."""
    record_facts = facts(warehouse, part)
    todo = list(answers(warehouse, part).sort("sample", "attempt").iter_rows(named=True))
    verdicts = curation.validate_many([(r["response"], record_facts[r["record_id"]]) for r in todo],
                                      _CHECKERS.pool(len(todo)))
    rows = []
    for r, issues in zip(todo, verdicts):
        rows.append({"sample_id": r["sample"], "record_id": r["record_id"], "attempt": r["attempt"],
                     "answered_by": r["sample_id"], "response_sha256": hashlib.sha256(r["response"].encode()).hexdigest(),
                     "valid": not issues, "errors": [str(i) for i in issues], "checker_version": curation.CHECKER_VERSION,
                     "backend": r["backend"], "model": r["model"]})
    out = pl.DataFrame(rows, schema={"sample_id": pl.Utf8, "record_id": pl.Utf8, "attempt": pl.Int32,
                                     "answered_by": pl.Utf8, "response_sha256": pl.Utf8, "valid": pl.Boolean,
                                     "errors": pl.List(pl.Utf8), "checker_version": pl.Utf8, "backend": pl.Utf8,
                                     "model": pl.Utf8})
    out = out.with_columns(final=pl.col("attempt") == pl.col("attempt").max().over("sample_id"))
    warehouse.write("validations", out, part)
    last = out.filter("final")
    return {"accepted": int(last["valid"].sum()), "rejected": int((~last["valid"]).sum()),
            "repaired": int((last["valid"] & (last["attempt"] > 1)).sum())}


def plan(warehouse: Warehouse, force: bool = False) -> list[str]:
    """Prompts shards whose validations part is missing or older than one of their
    generations parts or than a checker file."""
    checker = max(p.stat().st_mtime for p in CHECKER_FILES)
    todo = []
    for p in warehouse.parts("prompts"):
        gens = warehouse.parts("generations", f"{p.stem}.")
        done = warehouse.table_dir("validations") / p.name
        newest = max([checker, *(g.stat().st_mtime for g in gens)])
        if gens and (force or not done.exists() or done.stat().st_mtime < newest):
            todo.append(p.stem)
    return todo


STAGE = Stage("validate", input="generations", outputs=("validations",), counts=("accepted", "rejected", "repaired"),
              run_shard=run_shard, plan=plan)


def repair_requests(warehouse: Warehouse, round_: int) -> list[llm.Request]:
    """Repair ``round_`` requests: samples whose last attempt is attempt ``round_`` and invalid,
    each its prompt followed by every rejected answer and that answer's errors, in order."""
    reqs = []
    for part in warehouse.parts("validations"):
        attempts = pl.read_parquet(part)
        todo = attempts.filter(pl.col("final"), ~pl.col("valid"), pl.col("attempt") == round_)["sample_id"]
        if todo.is_empty():
            continue
        prompts = dict(pl.read_parquet(warehouse.table_dir("prompts") / part.name, columns=["sample_id", "messages"])
                       .filter(pl.col("sample_id").is_in(todo.implode())).rows())
        text = dict(answers(warehouse, part.stem).select("sample_id", "response").rows())
        history = attempts.filter(pl.col("sample_id").is_in(todo.implode())).sort("attempt").partition_by(
            "sample_id", as_dict=True)
        for sid in todo:
            messages = json.loads(prompts[sid])
            for answered_by, errors in history[(sid,)].select("answered_by", "errors").rows():
                messages = repair_messages(messages, text[answered_by], list(errors))
            reqs.append(llm.Request(sample_id=repair_id(sid, round_), shard=part.stem, messages=messages,
                                    params=dict(generate.INTERPRETATION_PARAMS)))
    return reqs


def run(warehouse: Warehouse, backend: llm.Backend | None = None, *, max_repairs: int = MAX_REPAIRS,
        force: bool = False, concurrency: int = llm.DEFAULT_CONCURRENCY, max_cost_usd: float | None = None,
        rpm: float | None = None, tpm: float | None = None, progress=None, workers: int = WORKERS) -> dict[str, int]:
    """Validate the pending shards (over ``workers`` checker processes where a shard is large),
    then up to ``max_repairs`` repair rounds with ``backend`` (``None``, the rules writer: none).
    Returns the counts of the last verdicts and the repair requests made."""
    with _CHECKERS.open(workers):
        counts = STAGE.run(warehouse, force=force)
        requests = 0
        for round_ in range(1, max_repairs + 1 if backend is not None else 1):
            reqs = repair_requests(warehouse, round_)
            if not reqs:
                break
            asyncio.run(llm.generate(reqs, backend, journal_dir=generate.journal_dir(warehouse, backend),
                                     cache_dir=warehouse.root / generate.LLM_DIR / "cache", concurrency=concurrency,
                                     max_cost_usd=max_cost_usd, rpm=rpm, tpm=tpm, progress=progress))
            requests += len(reqs)
            generate.publish(warehouse, backend, sorted({r.shard for r in reqs}))
            counts = STAGE.run(warehouse)
    totals = warehouse.read("validations").filter("final")
    return {"samples": totals.height, "accepted": int(totals["valid"].sum()),
            "rejected": int((~totals["valid"]).sum()), "repaired": int((totals["valid"] & (totals["attempt"] > 1)).sum()),
            "repair_requests": requests, "shards": counts["shards"]}
