"""Validate stage: every answer in ``generations`` checked (``curation.validate``) into
``validations``, then the repair rounds.

A shard is a prompts shard; it is redone when one of its ``generations`` parts or a checker
file (``curation.CHECKER_FILES``) is newer than its ``validations`` part. Each interpretation
sample's attempts are judged in order: attempt 1 is its ``final`` generated answer, attempt
``k + 1`` the answer to repair ``k`` (:class:`schemas.ids.SampleId`). The last attempt is the
sample's verdict (``final``). ``after`` then sends every sample whose last attempt is invalid,
and that has repairs left, back to the model with its errors (``prompts/templates/repair.j2``)
through :mod:`stages.llm_io`, and validates again: at most ``max_repairs`` rounds, nothing asked
twice on a rerun. The offline rules writer cannot repair (it would write the same text), so
with it the first verdict stands.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import ProcessPoolExecutor

import polars as pl

import curation
import llm
from prompts.render import repair_messages
from schemas.ids import INTERPRETATION, SampleId
from schemas.tables import frame
from stages import facts, llm_io
from stages.options import ValidateParams
from stages.stage import Stage, process_pool
from warehouse import Warehouse

#: Checker processes (the checks are CPU-bound and independent per response), and the fewest
#: responses of a shard worth them: spawning the workers costs about a second, more than
#: checking a few hundred responses in this process.
WORKERS = min(2, os.cpu_count() or 1)
POOL_FROM = 600


class _Checkers:
    """The process pool that checks the responses of the large shards: spawned when a shard of
    at least :data:`POOL_FROM` responses first needs it, shut down by the stage's ``after``."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._opening = threading.Lock()  # a flow runs shards on threads

    def pool(self, responses: int) -> ProcessPoolExecutor | None:
        if WORKERS < 2 or responses < POOL_FROM:
            return None
        with self._opening:
            if self._pool is None:
                self._pool = process_pool(WORKERS)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


_CHECKERS = _Checkers()


def run_shard(warehouse: Warehouse, part: str, params: ValidateParams) -> dict[str, int]:
    """Judge every attempt of the shard's samples; counts accepted and rejected samples."""
    record_facts = facts.checked(warehouse, part)
    todo = list(llm_io.final_answers(warehouse, part, INTERPRETATION).sort("sample", "attempt").iter_rows(named=True))
    verdicts = curation.validate_many([(r["response"], record_facts[r["record_id"]]) for r in todo],
                                      _CHECKERS.pool(len(todo)))
    rows = []
    for r, issues in zip(todo, verdicts):
        rows.append({"sample_id": r["sample"], "record_id": r["record_id"], "attempt": r["attempt"],
                     "answered_by": r["sample_id"], "response_sha256": hashlib.sha256(r["response"].encode()).hexdigest(),
                     "valid": not issues, "errors": [str(i) for i in issues], "checker_version": curation.CHECKER_VERSION,
                     "backend": r["backend"], "model": r["model"]})
    out = frame("validations", rows, exclude=("final",))
    out = out.with_columns(final=pl.col("attempt") == pl.col("attempt").max().over("sample_id"))
    warehouse.write("validations", out, part)
    last = out.filter("final")
    return {"accepted": int(last["valid"].sum()), "rejected": int((~last["valid"]).sum()),
            "repaired": int((last["valid"] & (last["attempt"] > 1)).sum())}


def repair_requests(warehouse: Warehouse, round_: int) -> list[llm.Request]:
    """Repair ``round_`` requests: samples whose last attempt is attempt ``round_`` and invalid,
    each its prompt followed by every rejected answer and that answer's errors, in order."""
    reqs = []
    for part in warehouse.parts("validations"):
        attempts = pl.read_parquet(part)
        todo = attempts.filter(pl.col("final"), ~pl.col("valid"), pl.col("attempt") == round_)["sample_id"]
        if todo.is_empty():
            continue
        prompts = dict(warehouse.read_part("prompts", part.stem, ["sample_id", "messages"])
                       .filter(pl.col("sample_id").is_in(todo.implode())).rows())
        text = dict(llm_io.final_answers(warehouse, part.stem, INTERPRETATION).select("sample_id", "response").rows())
        history = attempts.filter(pl.col("sample_id").is_in(todo.implode())).sort("attempt").partition_by(
            "sample_id", as_dict=True)
        for sid in todo:
            messages = json.loads(prompts[sid])
            for answered_by, errors in history[(sid,)].select("answered_by", "errors").rows():
                messages = repair_messages(messages, text[answered_by], list(errors))
            reqs.append(llm.Request(sample_id=SampleId.parse(sid).repaired(round_).format(), shard=part.stem,
                                    messages=messages, params=dict(llm_io.PARAMS[INTERPRETATION])))
    return reqs


def after(warehouse: Warehouse, params: ValidateParams, progress=None) -> dict[str, int]:
    """Up to ``max_repairs`` repair rounds (none with the rules writer), each validated again;
    returns the counts of the last verdicts over the whole table and the repair requests made."""
    requests = 0
    try:
        for round_ in range(1, params.max_repairs + 1 if params.llm.backend != "rules" else 1):
            reqs = repair_requests(warehouse, round_)
            if not reqs:
                break
            llm_io.ask_and_publish(warehouse, params.llm, reqs, progress)
            requests += len(reqs)
            for shard in STAGE.stale(warehouse):
                STAGE.shard(warehouse, shard, params)
    finally:
        _CHECKERS.close()
    totals = warehouse.read("validations", ["final", "valid", "attempt"])
    totals = totals.filter("final") if totals.height else pl.DataFrame(schema={"valid": pl.Boolean, "attempt": pl.Int32})
    return {"samples": totals.height, "accepted": int(totals["valid"].sum()), "rejected": int((~totals["valid"]).sum()),
            "repaired": int((totals["valid"] & (totals["attempt"] > 1)).sum()), "repair_requests": requests}


STAGE = Stage("validate", input="generations", outputs=("validations",), counts=("accepted", "rejected", "repaired"),
              run_shard=run_shard, params=ValidateParams, rules=curation.CHECKER_FILES, after=after)
