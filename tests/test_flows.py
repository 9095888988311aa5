"""Prefect flows on a temporary server (one per test session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stages.ingest import ingest
from warehouse import Warehouse

pytestmark = pytest.mark.slow


def test_ingest_flow_matches_library(prefect_harness, sample_ptbxl, sample_mimic, tmp_path):
    from flows.stages import FLOWS
    from stages.options import IngestParams

    sources = {"ptbxl": str(sample_ptbxl), "mimic": str(sample_mimic)}
    counts = FLOWS["ingest"](Warehouse(tmp_path / "flow"), IngestParams(sources=sources, shard_size=3))
    assert counts == {"shards": 6, "ok": 16, "error": 0}
    lib = Warehouse(tmp_path / "lib")
    ingest(lib, {"ptbxl": sample_ptbxl, "mimic": sample_mimic})
    query = "SELECT * EXCLUDE (path) FROM records ORDER BY record_id"
    assert Warehouse(tmp_path / "flow").sql(query).equals(lib.sql(query))
    assert len(Warehouse(tmp_path / "flow").parts("records", "ptbxl-")) == 3  # 8 records in shards of 3


def test_corpus_flow_on_embedded_sample(prefect_harness, tmp_path):
    from flows.corpus import corpus_flow

    result = corpus_flow(Warehouse(tmp_path / "w"), sample=True, n=3, seed=1)
    assert result["ingest"] == {"shards": 2, "ok": 6, "error": 0}
    assert result["features"]["records"] == 6
    assert result["select"]["candidates"] == 6
    assert result["prompts"]["ok"] + result["prompts"]["refused"] == result["select"]["selected"] > 0
    answered = result["generate"]["ok"]
    assert result["validate"]["samples"] == answered and result["validate"]["accepted"] == answered > 0
    assert result["evidence"]["samples"] == answered
    wh = Warehouse(tmp_path / "w")
    corpus = wh.sql("SELECT * FROM corpus")
    assert corpus.height == answered and corpus["solution"].is_not_null().all()
    run = wh.sql("SELECT * FROM runs").row(0, named=True)
    assert (run["run_id"], run["flow"], run["status"]) == (result["run_id"], "corpus", "completed")
    assert json.loads(run["counts"])["select"] == result["select"]
    assert set(json.loads(run["stage_wall_s"])) >= {"ingest", "features", "select", "validate", "evidence"}
    for table in ("records", "features", "findings", "selection", "prompts", "generations", "validations", "evidence"):
        assert wh.sql(f"SELECT DISTINCT run_id FROM {table}")["run_id"].to_list() == [result["run_id"]], table
    assert Path(result["report"]).is_file()


def test_corpus_flow_resumes_only_unfinished_shards(prefect_harness, tmp_path):
    """A crash after features leaves a shard without its findings and prompts: the rerun does
    that shard's findings and prompts and nothing else; its LLM answers come from the journal."""
    from flows.corpus import corpus_flow

    first = corpus_flow(Warehouse(tmp_path / "w"), sample=True, n=3, seed=1, report=False)
    wh = Warehouse(tmp_path / "w")
    shard = wh.parts("findings")[0].stem
    for table in ("findings", "concordance", "prompts"):
        (wh.table_dir(table) / f"{shard}.parquet").unlink()
    again = corpus_flow(str(tmp_path / "w"), sample=True, n=3, seed=1, report=False)  # a path, as a deployment gives it
    assert again["ingest"]["shards"] == 0 and again["features"]["shards"] == 0
    assert again["findings"]["shards"] == 1 and again["prompts"]["shards"] == 1
    assert again["generate"]["attempts"] == 0
    assert wh.sql("SELECT count(*) FROM corpus").item() == first["validate"]["accepted"]
    assert wh.sql("SELECT count(*) FROM runs WHERE status = 'completed'").item() == 2


def test_features_flow_fills_both_tables(prefect_harness, sample_mimic, tmp_path):
    from flows.runners import task_runner
    from flows.stages import FLOWS

    wh = Warehouse(tmp_path / "w")
    ingest(wh, {"mimic": sample_mimic})
    on_two = FLOWS["features"].with_options(task_runner=task_runner(workers=2))
    assert on_two(wh) == {"shards": 1, "records": 8, "usable": 8}
    assert wh.sql("SELECT count(*) FROM lead_features").item() == 8 * 12
    assert on_two(wh)["shards"] == 0  # nothing left to do


def test_the_prefect_server_answers_its_own_client_filters(prefect_harness):
    """`prefect deploy` and workers read deployments and work pools through filter endpoints;
    fastapi >= 0.151 made Prefect 3.8.8's server refuse them (422), hence the pin."""
    import asyncio

    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            return await client.read_deployments(), await client.read_work_pools()

    deployments, pools = asyncio.run(read())
    assert isinstance(deployments, list) and isinstance(pools, list)
