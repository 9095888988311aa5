"""The generate stage over the warehouse: the offline rules writer, and the OpenAI-compatible
client against the loopback server, faults included; reruns send nothing."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from schemas.ids import SampleId
from stages import llm_io
from stages.options import LLMOptions
from tests.openai_server import ServerConfig, serve_in_thread
from tests.runner import loopback, run
from warehouse import Warehouse

pytestmark = pytest.mark.slow  # every test needs the prompted warehouse (the pipeline fixture runs FeatureDB)

RULES = LLMOptions(backend="rules")  # the offline writer, whatever key the environment holds


@pytest.fixture()
def prompted(sample_mimic, tmp_path, pipeline) -> Warehouse:
    wh = Warehouse(tmp_path / "w")
    # every record, discordant ones included: the rules writer's refusals are tested here
    pipeline(wh, {"mimic": sample_mimic}, per_subject=False, exclude_flagged=False, require_concordant=False)
    return wh


def test_rules_writer_answers_concordant_records_and_counts_the_rest(prompted, grounding):
    summary = run("generate", prompted, llm=RULES)
    status = dict(prompted.sql("SELECT record_id, status FROM concordance").rows())
    written = sum(s == "concordant" for s in status.values())
    assert (summary["total"], summary["ok"], summary["failed"]) == (8, written, 8 - written)
    gen = prompted.sql("SELECT * FROM generations ORDER BY sample_id")
    assert gen.height == 8 and set(gen["backend"]) == {"rules"}
    prompts = prompted.read("prompts")
    assert gen.join(prompts, on=["sample_id", "prompt_sha256"]).height == 8  # every attempt names its prompt
    feats, leads, found = prompted.read("features"), prompted.read("lead_features"), prompted.read("findings")
    for sid, ok, text, error in gen.select("sample_id", pl.col("status") == "ok", "response", "error").rows():
        rid = SampleId.parse(sid).record_id
        if not ok:  # a record that disagrees with its labels gets no text, and the reason
            assert status[rid] != "concordant" and error.startswith(f"Refused: {status[rid]}: "), error
            continue
        assert grounding.format().match(text), text
        assert grounding.stray(text, rid, feats, leads, found) == []
    assert run("generate", prompted, llm=RULES)["total"] == 0  # nothing left to do: answers and refusals stand


def test_rules_writer_reads_facts_shard_by_shard_and_writes_what_one_shard_would(prompted, sample_mimic, tmp_path,
                                                                                 monkeypatch):
    from stages.stage import NAMES

    sharded = Warehouse(tmp_path / "sharded")
    run("ingest", sharded, sources={"mimic": str(sample_mimic)}, shard_size=2)
    for name in NAMES[1 : NAMES.index("prompts") + 1]:
        run(name, sharded, **({"per_subject": False, "exclude_flagged": False, "require_concordant": False}
                              if name == "select" else {}))
    monkeypatch.setattr(llm_io, "SHARDS_KEPT", 1)  # every shard change reads the facts again
    counts = run("generate", sharded, llm=RULES)
    assert counts["total"] == 8 and len(sharded.parts("generations")) == 4
    assert counts["shards"] == 4 and counts["published"] == 8 and set(counts["by_shard"]) == {
        p.stem for p in sharded.parts("prompts")}
    run("generate", prompted, llm=RULES)
    texts = [dict(wh.sql("SELECT sample_id, coalesce(response, error) FROM generations").rows()) for wh in (sharded, prompted)]
    assert texts[0] == texts[1]


def test_limit_then_the_rest(prompted):
    first = run("generate", prompted, llm=RULES, limit=3)
    assert first["ok"] + first["failed"] == 3
    assert prompted.sql("SELECT count(*) FROM generations").item() == 3
    rest = run("generate", prompted, llm=RULES)
    assert rest["ok"] + rest["failed"] == rest["total"] == 5
    assert prompted.sql("SELECT count(DISTINCT sample_id) FROM generations").item() == 8


def test_openai_backend_with_faults_then_a_rerun_sends_nothing(prompted, api_key):
    config = ServerConfig(faults={"rate_limit": 0.15, "server_error": 0.15, "blank": 0.1}, retry_after_s=0.01, seed=3)
    with serve_in_thread(config) as server:
        options = loopback(server.url, model="deepseek-chat", concurrency=4)
        summary = run("generate", prompted, llm=options)
        assert summary["ok"] + summary["failed"] == 8 and summary["ok"] >= 7
        first = server.stats()
        assert all(p["ok"] <= 1 for p in first["prompts"].values())  # no prompt paid twice
        again = run("generate", prompted, llm=options)
        assert server.stats()["requests"] == first["requests"] + again["attempts"]
        assert again["ok"] == 0 and again["attempts"] <= 8 - summary["ok"]
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
