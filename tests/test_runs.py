"""Lineage: a run's row is written at its start and end, without secrets; rows carry its id."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl
import pytest

from stages.runs import code_version, public, recorded
from warehouse import Warehouse


def test_secrets_never_reach_the_parameters():
    params = {"api_key": "sk-1", "DEEPSEEK_TOKEN": "t", "db_password": "p", "model": "deepseek-chat",
              "base_url": "https://user:pw@api.example.com/v1", "target": 30000}
    assert public(params) == {"model": "deepseek-chat", "base_url": "https://api.example.com/v1", "target": 30000}


def test_a_failed_run_keeps_its_row_and_reason(tmp_path):
    with pytest.raises(RuntimeError), recorded(Warehouse(tmp_path / "w"), "corpus", {"target": 5}) as run:
        run.stage("ingest", lambda: {"ok": 3, "error": 1})
        assert Warehouse(tmp_path / "w").sql("SELECT status FROM runs").item() == "running"
        raise RuntimeError("disk full")
    row = Warehouse(tmp_path / "w").sql("SELECT * FROM runs").row(0, named=True)
    assert (row["run_id"], row["flow"], row["status"], row["error"]) == (run.id, "corpus", "failed",
                                                                           "RuntimeError: disk full")
    assert json.loads(row["counts"]) == {"ingest": {"ok": 3, "error": 1}} and row["finished_at"] is not None
    assert set(json.loads(row["stage_wall_s"])) == {"ingest"} and row["code_version"] == code_version()
    assert row["template_version"] and row["checker_version"]


def test_rows_written_in_a_run_carry_its_id(tmp_path):
    with recorded(Warehouse(tmp_path / "w"), "select", {}) as run:
        run.warehouse.write("stage_counts", pl.DataFrame({
            "stage": ["x"], "shard": ["s"], "count": ["n"], "value": [1], "written_at": [datetime.now(timezone.utc)]}), "s")
    wh = Warehouse(tmp_path / "w")
    wh.refresh()  # written directly, not by a stage (stages refresh the catalog; Warehouse.sql never does)
    assert wh.sql("SELECT DISTINCT run_id FROM stage_counts").item() == run.id
    assert wh.sql("SELECT status FROM runs").item() == "completed"
