"""Evidence stage: EDER key-evidence phrases of every accepted sample -> ``evidence``, and its
RL ``solutions`` string (ECG-R1's format, :func:`curation.evidence.solution`).

Every accepted interpretation gets ``rules`` phrases (:func:`curation.evidence.rules_phrases`,
offline, from its findings). With an LLM backend it is also sent through the evidence prompt
(``prompts/templates/evidence.j2``, JSON mode; prompt rows in ``prompts`` part
``<shard>.evidence``, answers journalled and cached like ``generate``'s) and the reply's
phrases are verified verbatim in their step (:func:`curation.evidence.verify`). The solution
carries the LLM's phrases when its reply was usable, else the rules phrases; every phrase not
kept is listed with its reason in ``solutions.dropped``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import polars as pl

import llm
from curation import evidence as eder
from curation import parse
from prompts.render import TEMPLATES, evidence_messages, prompt_sha256, template_version
from stages import generate
from stages.prompts import sample_id
from stages.validate import answers, facts
from warehouse import Warehouse

KIND = "evidence"
PARAMS = {"temperature": 0.0, "max_tokens": 1024, "json_mode": True}
RULE_FILES = (Path(eder.__file__), eder.PHRASES, TEMPLATES / f"{KIND}.j2")


def accepted(warehouse: Warehouse, part: str) -> pl.DataFrame:
    """sample_id, record_id and the accepted text of a shard's accepted samples."""
    final = pl.read_parquet(warehouse.table_dir("validations") / f"{part}.parquet").filter("final", "valid")
    text = answers(warehouse, part).select(answered_by="sample_id", interpretation="response")
    return final.select("sample_id", "record_id", "answered_by").join(text, on="answered_by").drop("answered_by")


def prompt_rows(samples: pl.DataFrame) -> pl.DataFrame:
    """The evidence prompt of every accepted sample, as ``prompts`` rows."""
    rows = []
    version = template_version(KIND)
    for rid, text in samples.select("record_id", "interpretation").rows():
        interp, _ = parse(text)
        messages = evidence_messages(text, "; ".join(interp.answer))
        rows.append({"sample_id": sample_id(rid, KIND), "record_id": rid, "kind": KIND, "template_version": version,
                     "status": "ok", "reason": None, "prompt_sha256": prompt_sha256(messages),
                     "messages": json.dumps(messages, ensure_ascii=False)})
    return pl.DataFrame(rows, schema={"sample_id": pl.Utf8, "record_id": pl.Utf8, "kind": pl.Utf8,
                                      "template_version": pl.Utf8, "status": pl.Utf8, "reason": pl.Utf8,
                                      "prompt_sha256": pl.Utf8, "messages": pl.Utf8})


def write_shard(warehouse: Warehouse, part: str, samples: pl.DataFrame) -> dict[str, int]:
    """The ``evidence`` and ``solutions`` parts of one shard."""
    record_facts = facts(warehouse, part)
    replies = dict(generate.final_answers(warehouse, part, KIND).select("record_id", "response").rows())
    phrases, solutions = [], []
    for sid, rid, text in samples.select("sample_id", "record_id", "interpretation").rows():
        labels = parse(text)[0].answer
        by_origin = {"rules": eder.rules_phrases(record_facts[rid].findings, text)}
        dropped: list[str] = []
        if rid in replies:
            try:
                kept, lost = eder.verify(eder.parse_reply(replies[rid]), text)
                by_origin["llm"] = kept
                dropped = [f"{d.step}: {d.phrase} ({d.reason})" for d in lost]
            except eder.EvidenceFormatError as exc:
                dropped = [f"reply: {exc}"]
        for origin, steps in by_origin.items():
            phrases += [{"sample_id": sid, "record_id": rid, "step": k, "phrase": p, "origin": origin}
                        for k, ps in steps.items() for p in ps]
        origin = "llm" if "llm" in by_origin else "rules"
        chosen = by_origin[origin]
        solutions.append({"sample_id": sid, "record_id": rid, "origin": origin,
                          "steps_with_evidence": sum(bool(ps) for ps in chosen.values()),
                          "solution": eder.solution(labels, chosen), "dropped": dropped})
    warehouse.write("evidence", pl.DataFrame(phrases, schema={"sample_id": pl.Utf8, "record_id": pl.Utf8,
                                                               "step": pl.Utf8, "phrase": pl.Utf8, "origin": pl.Utf8}), part)
    warehouse.write("solutions", pl.DataFrame(solutions, schema={
        "sample_id": pl.Utf8, "record_id": pl.Utf8, "origin": pl.Utf8, "steps_with_evidence": pl.Int32,
        "solution": pl.Utf8, "dropped": pl.List(pl.Utf8)}), part)
    return {"samples": len(solutions), "phrases": len(phrases),
            "llm": sum(s["origin"] == "llm" for s in solutions),
            "dropped": sum(len(s["dropped"]) for s in solutions)}


def pending(warehouse: Warehouse, asking: bool = False, force: bool = False) -> list[str]:
    """Validations shards whose ``solutions`` part is missing or older than their validations
    or than a file of the evidence rules; when ``asking`` an LLM, also those holding a solution
    whose reply was never asked for (rules phrases, nothing dropped)."""
    rules = max(p.stat().st_mtime for p in RULE_FILES)
    todo = []
    for part in warehouse.parts("validations"):
        done = warehouse.table_dir("solutions") / part.name
        if force or not done.exists() or done.stat().st_mtime < max(rules, part.stat().st_mtime):
            todo.append(part.stem)
        elif asking and not pl.read_parquet(done, columns=["origin", "dropped"]).filter(
                pl.col("origin") == "rules", pl.col("dropped").list.len() == 0).is_empty():
            todo.append(part.stem)
    return todo


def run(warehouse: Warehouse, backend: llm.Backend | None = None, *, force: bool = False,
        concurrency: int = llm.DEFAULT_CONCURRENCY, max_cost_usd: float | None = None, rpm: float | None = None,
        tpm: float | None = None, progress=None) -> dict[str, int]:
    """Evidence for the accepted samples of the pending shards (all with ``force``); with
    ``backend``, its phrases first."""
    parts = {part: accepted(warehouse, part) for part in pending(warehouse, backend is not None, force)}
    if backend is not None:
        reqs = []
        for part, samples in parts.items():
            rows = prompt_rows(samples)
            warehouse.write("prompts", rows, f"{part}.{KIND}")
            reqs += [llm.Request(sample_id=sid, shard=part, messages=json.loads(m), params=dict(PARAMS))
                     for sid, m in rows.select("sample_id", "messages").rows()]
        asyncio.run(llm.generate(reqs, backend, journal_dir=generate.journal_dir(warehouse, backend),
                                 cache_dir=warehouse.root / generate.LLM_DIR / "cache", concurrency=concurrency,
                                 max_cost_usd=max_cost_usd, rpm=rpm, tpm=tpm, progress=progress))
        generate.publish(warehouse, backend, sorted({r.shard for r in reqs}))
    counts = [write_shard(warehouse, part, samples) for part, samples in parts.items()]
    warehouse.refresh()
    keys = ("samples", "phrases", "llm", "dropped")
    return {"shards": len(counts), **{k: sum(c[k] for c in counts) for k in keys}}
