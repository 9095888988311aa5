"""The generate stage over the warehouse: the offline rules writer, and the OpenAI-compatible
client against the loopback server, faults included; reruns send nothing."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

import llm
from stages import generate
from tests.openai_server import ServerConfig, serve_in_thread
from warehouse import Warehouse

FAST = llm.RetryPolicy(max_attempts=8, give_up_after_s=60, backoff_initial_s=0.005, backoff_max_s=0.02)


@pytest.fixture()
def prompted(sample_mimic, tmp_path, pipeline) -> Warehouse:
    wh = Warehouse(tmp_path / "w")
    # every record, discordant ones included: the rules writer's refusals are tested here
    pipeline(wh, {"mimic": sample_mimic}, per_subject=False, exclude_flagged=False, require_concordant=False)
    return wh


def test_rules_writer_answers_concordant_records_and_counts_the_rest(prompted, grounding):
    summary = generate.run(prompted)
    status = dict(prompted.sql("SELECT record_id, status FROM concordance").rows())
    written = sum(s == "concordant" for s in status.values())
    assert (summary.total, summary.ok, summary.failed) == (8, written, 8 - written)
    gen = prompted.sql("SELECT * FROM generations ORDER BY sample_id")
    assert gen.height == 8 and set(gen["backend"]) == {"rules"}
    prompts = prompted.read("prompts")
    assert gen.join(prompts, on=["sample_id", "prompt_sha256"]).height == 8  # every attempt names its prompt
    feats, leads, found = prompted.read("features"), prompted.read("lead_features"), prompted.read("findings")
    for sid, ok, text, error in gen.select("sample_id", pl.col("status") == "ok", "response", "error").rows():
        rid = sid.split("#")[0]
        if not ok:  # a record that disagrees with its labels gets no text, and the reason
            assert status[rid] != "concordant" and error.startswith(f"Refused: {status[rid]}: "), error
            continue
        assert grounding.format().match(text), text
        assert grounding.stray(text, rid, feats, leads, found) == []
    assert generate.run(prompted).total == 0  # nothing left to do: answers and refusals stand


def test_rules_writer_reads_facts_shard_by_shard_and_writes_what_one_shard_would(prompted, sample_mimic, tmp_path,
                                                                                 monkeypatch):
    from stages.stage import NAMES, get

    sharded = Warehouse(tmp_path / "sharded")
    get("ingest").run(sharded, sources={"mimic": sample_mimic}, shard_size=2)
    for name in NAMES[1:]:
        get(name).run(sharded, **({"per_subject": False, "exclude_flagged": False, "require_concordant": False}
                                  if name == "select" else {}))
    monkeypatch.setattr(generate, "SHARDS_KEPT", 1)  # every shard change reads the facts again
    assert generate.run(sharded).total == 8 and len(sharded.parts("generations")) == 4
    generate.run(prompted)
    texts = [dict(wh.sql("SELECT sample_id, coalesce(response, error) FROM generations").rows()) for wh in (sharded, prompted)]
    assert texts[0] == texts[1]


def test_limit_then_the_rest(prompted):
    first = generate.run(prompted, limit=3)
    assert first.ok + first.failed == 3
    assert prompted.sql("SELECT count(*) FROM generations").item() == 3
    rest = generate.run(prompted)
    assert rest.ok + rest.failed == rest.total == 5
    assert prompted.sql("SELECT count(DISTINCT sample_id) FROM generations").item() == 8


def test_openai_backend_with_faults_then_a_rerun_sends_nothing(prompted):
    config = ServerConfig(faults={"rate_limit": 0.15, "server_error": 0.15, "blank": 0.1}, retry_after_s=0.01, seed=3)
    with serve_in_thread(config) as server:
        backend = llm.OpenAIBackend("deepseek-chat", base_url=server.url, api_key="test", timeout_s=5)
        summary = generate.run(prompted, backend, concurrency=4, retry=FAST)
        assert summary.ok + summary.failed == 8 and summary.ok >= 7
        first = server.stats()
        assert all(p["ok"] <= 1 for p in first["prompts"].values())  # no prompt paid twice
        backend = llm.OpenAIBackend("deepseek-chat", base_url=server.url, api_key="test", timeout_s=5)
        again = generate.run(prompted, backend, concurrency=4, retry=FAST)
        assert server.stats()["requests"] == first["requests"] + again.attempts
        assert again.ok == 0 and again.attempts <= 8 - summary.ok
    gen = prompted.sql("SELECT * FROM generations WHERE final")
    assert gen.height == 8 and gen["sample_id"].n_unique() == 8
    assert set(gen["backend"]) == {"openai"}
    errors = prompted.sql("SELECT error FROM generations WHERE status = 'error'")["error"]
    assert errors.is_not_null().all()


def test_cli_generate(prompted):
    run = lambda *a: subprocess.run([sys.executable, "-m", "ecg_corpus", "generate", "-w", str(prompted.root), *a],  # noqa: E731
                                    capture_output=True, text=True, env={"PATH": "", "HOME": str(prompted.root)})
    res = run("--backend", "rules", "--limit", "2")
    assert res.returncode == 0 and "generate: 2 samples" in res.stdout, res.stderr
    res = run("--backend", "openai")
    assert res.returncode == 2 and "no API key" in res.stderr
    res = run()  # no key set: the offline rules writer
    assert res.returncode == 0 and "generate: 6 samples" in res.stdout, res.stderr
