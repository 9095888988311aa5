"""Evidence stage: EDER key-evidence phrases of every accepted sample -> ``evidence``, and its
RL ``solutions`` string (ECG-R1's format, :func:`curation.evidence.solution`).

Every accepted interpretation gets ``rules`` phrases (:func:`curation.evidence.rules_phrases`,
offline, from its findings). With an LLM backend it is also sent through the evidence prompt
(``prompts/templates/evidence.j2``, JSON mode; prompt rows in ``prompts`` part
``<shard>.evidence``, answers through :mod:`stages.llm_io` like ``generate``'s) and the reply's
phrases are verified verbatim in their step (:func:`curation.evidence.verify`). The solution
carries the LLM's phrases when its reply was usable, else the rules phrases; every phrase not
kept is listed with its reason in ``solutions.dropped``.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

import llm
from curation import evidence as eder
from curation import parse
from prompts.render import TEMPLATES, evidence_messages, prompt_sha256, template_version
from schemas.ids import EVIDENCE, INTERPRETATION, SampleId
from schemas.tables import frame
from stages import facts, llm_io
from stages.options import EvidenceParams
from stages.stage import Stage
from warehouse import Warehouse

RULE_FILES = (Path(eder.__file__), eder.PHRASES, TEMPLATES / f"{EVIDENCE}.j2")


def accepted(warehouse: Warehouse, part: str) -> pl.DataFrame:
    """sample_id, record_id and the accepted text of a shard's accepted samples."""
    final = warehouse.read_part("validations", part).filter("final", "valid")
    text = llm_io.final_answers(warehouse, part, INTERPRETATION).select(answered_by="sample_id", interpretation="response")
    return final.select("sample_id", "record_id", "answered_by").join(text, on="answered_by").drop("answered_by")


def prompt_rows(samples: pl.DataFrame) -> pl.DataFrame:
    """The evidence prompt of every accepted sample, as ``prompts`` rows."""
    rows = []
    version = template_version(EVIDENCE)
    for rid, text in samples.select("record_id", "interpretation").rows():
        interp, _ = parse(text)
        messages = evidence_messages(text, "; ".join(interp.answer))
        rows.append({"sample_id": SampleId(rid, EVIDENCE).format(), "record_id": rid, "kind": EVIDENCE,
                     "template_version": version, "status": "ok", "reason": None,
                     "prompt_sha256": prompt_sha256(messages), "messages": json.dumps(messages, ensure_ascii=False)})
    return frame("prompts", rows)


def run_shard(warehouse: Warehouse, part: str, params: EvidenceParams) -> dict[str, int]:
    """The ``evidence`` and ``solutions`` parts of one shard."""
    samples = accepted(warehouse, part)
    record_facts = facts.checked(warehouse, part)
    replies = dict(llm_io.final_answers(warehouse, part, EVIDENCE).select("record_id", "response").rows())
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
    warehouse.write("evidence", frame("evidence", phrases), part)
    warehouse.write("solutions", frame("solutions", solutions), part)
    return {"samples": len(solutions), "phrases": len(phrases),
            "llm": sum(s["origin"] == "llm" for s in solutions),
            "dropped": sum(len(s["dropped"]) for s in solutions)}


def plan(warehouse: Warehouse, params: EvidenceParams, force: bool = False) -> list[str]:
    """Validations shards whose parts are newer than their ``evidence``/``solutions`` parts, or
    older than a file of the evidence rules; when asking an LLM, also those holding a solution
    whose reply was never asked for (rules phrases, nothing dropped)."""
    todo = STAGE.stale(warehouse, force)
    if params.llm.backend == "rules":
        return todo
    return [part.stem for part in warehouse.parts("validations") if part.stem in todo or not warehouse.read_part(
        "solutions", part.stem, ["origin", "dropped"]).filter(pl.col("origin") == "rules",
                                                              pl.col("dropped").list.len() == 0).is_empty()]


def ask(warehouse: Warehouse, params: EvidenceParams, shards: list[str], progress=None) -> dict:
    """With an LLM, the evidence prompts of the accepted samples of ``shards`` (prompts parts
    ``<shard>.evidence``), sent and published; the rules writer has nothing to ask."""
    if params.llm.backend == "rules":
        return {}
    reqs = []
    for part in shards:
        rows = prompt_rows(accepted(warehouse, part))
        warehouse.write("prompts", rows, f"{part}.{EVIDENCE}")
        reqs += [llm.Request(sample_id=sid, shard=part, messages=json.loads(m), params=dict(llm_io.PARAMS[EVIDENCE]))
                 for sid, m in rows.select("sample_id", "messages").rows()]
    llm_io.ask_and_publish(warehouse, params.llm, reqs, progress)
    return {}


STAGE = Stage("evidence", input="validations", outputs=("evidence", "solutions"),
              counts=("samples", "phrases", "llm", "dropped"), run_shard=run_shard, params=EvidenceParams,
              rules=RULE_FILES, plan=plan, ask=ask)
