"""The reconciled answer key on the LLM path, against the loopback server, on real PTB-XL records:
the prompt carries the key and the criteria a confounder makes not applicable; an answer that
keeps a dropped label, leaves out an added finding or asserts a confounded Q-wave infarct is
rejected with its own code and accepted after repair."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from protocol.answer_key import confounder_name
from sources.vocabulary import concepts
from stages.llm_io import RulesBackend
from tests.openai_server import ServerConfig, canonical_sha256, serve_in_thread
from tests.runner import loopback, run
from warehouse import Warehouse


@pytest.fixture(scope="module")
def prompted(ptbxl_dir, pipeline, tmp_path_factory) -> Warehouse:
    wh = Warehouse(tmp_path_factory.mktemp("keys") / "w")
    pipeline(wh, {"ptbxl": ptbxl_dir}, upto="prompts")
    return wh


def _first(wh: Warehouse, where: str) -> str:
    """The first selected record (by id) whose answer_keys rows meet ``where``."""
    return wh.sql(f"SELECT min(k.record_id) FROM answer_keys k JOIN selection s USING (record_id) "
                  f"WHERE s.selected AND {where}").item()


def _prompt(wh: Warehouse, record_id: str) -> tuple[str, str, str]:
    """(prompts part, prompt hash, user message) of a record's interpretation prompt."""
    for part in wh.parts("prompts"):
        rows = pl.read_parquet(part).filter(pl.col("record_id") == record_id, pl.col("kind") == "interpretation")
        if rows.height:
            return part.stem, rows["prompt_sha256"].item(), json.loads(rows["messages"].item())[-1]["content"]
    raise LookupError(record_id)


def _answer(text: str, statements: list[str]) -> str:
    """``text`` with ``statements`` as its answer."""
    return re.sub(r"<answer>.*</answer>", f"<answer>{'; '.join(statements)}</answer>", text)


@pytest.mark.slow
def test_the_prompt_carries_the_key_and_a_wrong_answer_is_repaired(prompted, api_key):
    wh = prompted
    dropped = _first(wh, "k.status = 'dropped' AND k.reason = 'the measurements contradict it'")
    added = _first(wh, "k.status = 'added' AND k.concept = 'LAD'")
    confounded = _first(wh, "k.concept = 'CLBBB' AND k.status = 'kept'")
    assert dropped and added and confounded
    keys = {rid: wh.sql(f"SELECT concept, statement, status FROM answer_keys WHERE record_id = '{rid}'")
            for rid in (dropped, added, confounded)}
    for rid, key in keys.items():
        _, _, prompt = _prompt(wh, rid)
        stated = key.filter(pl.col("status") != "dropped")["statement"].to_list()
        assert f"Answer key: {'; '.join(stated)}" in prompt  # the key, not the labels
        for statement in key.filter(pl.col("status") == "dropped")["concept"]:
            assert statement not in stated
    assert f"not applicable ({confounder_name('CLBBB')})" in _prompt(wh, confounded)[2]

    rules = RulesBackend(wh)
    good = {}
    for rid in keys:
        part, sha, _ = _prompt(wh, rid)
        good[rid] = rules.write(part, sha)
    def stated(rid: str) -> list[str]:
        return keys[rid].filter(pl.col("status") != "dropped")["statement"].to_list()

    name = concepts()[keys[dropped].filter(pl.col("status") == "dropped")["concept"][0]]
    bad = {dropped: _answer(good[dropped], [*stated(dropped), name]),
           added: _answer(good[added], [x for x in stated(added) if x != "left axis deviation"]),
           confounded: good[confounded].replace("**Step 4: Ischemia, Infarction & Mimics**\n",
                                                "**Step 4: Ischemia, Infarction & Mimics**\nPathologic Q waves are "
                                                "present in V1-V3, an old anteroseptal infarction. ")}
    assert all(bad[rid] != good[rid] for rid in bad)
    by_sha = {_prompt(wh, rid)[1]: rid for rid in keys}
    every = {sha: rules.write(part.stem, sha) for part in wh.parts("prompts")
             for sha in pl.read_parquet(part).filter(pl.col("status") == "ok")["prompt_sha256"]}

    def respond(messages: list[dict]) -> str:
        first = canonical_sha256(messages[:2])
        rid = by_sha.get(first)
        return bad[rid] if rid and len(messages) == 2 else every[first]

    with serve_in_thread(ServerConfig(respond=respond)) as server:
        options = loopback(server.url, model="deepseek-chat", concurrency=4)
        run("generate", wh, llm=options)
        counts = run("validate", wh, llm=options, max_repairs=1)
    assert counts["rejected"] == 0 and counts["repaired"] == 3
    v = wh.sql("SELECT record_id, attempt, valid, errors FROM validations WHERE attempt = 1 AND NOT valid")
    codes = {rid: {e.split(":")[0] for e in errors} for rid, _, _, errors in v.rows()}
    assert set(codes) == {dropped, added, confounded}
    assert "dropped_label" in codes[dropped]
    assert "missing_finding" in codes[added]
    assert "confounded_claim" in codes[confounded]
    corpus = wh.sql("SELECT record_id, attempts, answer_key FROM corpus")
    assert dict(corpus.filter(pl.col("record_id").is_in(list(keys))).select("record_id", "attempts").rows()) \
        == {rid: 2 for rid in keys}
