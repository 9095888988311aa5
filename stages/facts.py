"""What several stages read of one shard's measurements: the checker's facts (validate,
evidence) and the rules writer's (the ``rules`` backend of :mod:`stages.llm_io`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import polars as pl

import curation
from prompts import rules_writer
from protocol.answer_key import Key, from_rows
from protocol.concordance import by_record
from schemas.ids import INTERPRETATION
from warehouse import Warehouse

#: The rules writer's facts of one record: features row, findings by criterion, answer key.
WriterFacts = tuple[dict, dict[str, dict], Key]


def keys(warehouse: Warehouse, part: str, findings: dict[str, dict[str, dict]]) -> dict[str, Key]:
    """The answer key of every record of a shard, by record_id."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for row in warehouse.read_part("answer_keys", part).iter_rows(named=True):
        rows[row["record_id"]].append(row)
    conflicts = dict(warehouse.read_part("concordance", part, ["record_id", "conflicts"]).rows())
    return {rid: from_rows(rows.get(rid, []), findings.get(rid, {}), conflicts.get(rid)) for rid in findings}


def checked(warehouse: Warehouse, part: str) -> dict[str, curation.Facts]:
    """The checked facts of every record of a shard, by record_id."""
    leads: dict[str, dict] = defaultdict(dict)
    for row in warehouse.read_part("lead_features", part).iter_rows(named=True):
        leads[row["record_id"]][row["lead"]] = row
    found: dict[str, dict] = defaultdict(dict)
    for row in warehouse.read_part("findings", part).iter_rows(named=True):
        found[row["record_id"]][row["criterion"]] = row
    key = keys(warehouse, part, found)
    return {row["record_id"]: curation.Facts(row, leads[row["record_id"]], found[row["record_id"]],
                                             key.get(row["record_id"]) or from_rows([], {}))
            for row in warehouse.read_part("features", part).iter_rows(named=True)}


def checker(warehouse: Warehouse, part: str) -> Callable[[str, str], list[str]]:
    """``check(record_id, text)``: the checker's issues (``code: message``; [] = accepted) of an
    interpretation of one record of a shard, for callers that bring their own texts (a bench
    that must not share the checker's vocabulary imports this, not :mod:`curation`)."""
    record_facts = checked(warehouse, part)
    return lambda record_id, text: [str(i) for i in curation.validate(text, record_facts[record_id])]


def for_writer(warehouse: Warehouse, shard: str) -> dict[str, WriterFacts]:
    """The writer's facts (features row, findings by criterion, answer key) of each ``ok``
    interpretation prompt of prompts part ``shard``, by prompt hash: read from the shard's parts."""
    prompts = warehouse.read_part("prompts", shard, ["record_id", "prompt_sha256", "kind", "status"]).filter(
        pl.col("kind") == INTERPRETATION, pl.col("status") == "ok")
    mine = pl.col("record_id").is_in(prompts["record_id"].implode())
    feats = {r["record_id"]: r for r in warehouse.read_part("features", shard).filter(mine).iter_rows(named=True)}
    found = by_record(warehouse.read_part("findings", shard, ["record_id", "criterion", *rules_writer.FINDING_FIELDS])
                      .filter(mine), rules_writer.FINDING_FIELDS)
    key = keys(warehouse, shard, {rid: found.get(rid, {}) for rid in feats})
    return {sha: (feats[rid], found.get(rid, {}), key[rid])
            for rid, sha in prompts.select("record_id", "prompt_sha256").rows()}
