"""The pipeline as a whole: the registry's stages after a shard is dropped at ingest, and two
writers started at once on one warehouse."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from stages.options import IngestParams, SelectionOptions
from stages.stage import NAMES, diagram, get, record_tables
from warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]


def test_docs_show_the_registry_as_it_is():
    assert diagram() in (ROOT / "docs" / "architecture.md").read_text()


def test_every_stage_declares_its_tables_and_parameters():
    for name in NAMES:
        stage = get(name)
        assert stage.name == name and stage.input and stage.params.model_config.get("frozen")
    assert set(record_tables()) >= {"features", "prompts", "generations", "validations", "evidence", "solutions"}


@pytest.mark.slow
def test_a_shard_dropped_at_ingest_leaves_no_part_behind_and_every_stage_reruns_with_force(sample_mimic, tmp_path):
    wh = Warehouse(tmp_path / "w")
    get("ingest").run(wh, IngestParams(sources={"mimic": str(sample_mimic)}, shard_size=3))  # 8 records, 3 shards
    everyone = SelectionOptions(per_subject=False, exclude_flagged=False, require_concordant=False)
    for name in NAMES[1:NAMES.index("evidence") + 1]:
        get(name).run(wh, everyone if name == "select" else None)
    assert {p.stem for p in wh.parts("prompts")} == {"mimic-00000", "mimic-00001", "mimic-00002"}
    assert {p.stem for p in wh.parts("solutions")} - {"mimic-00000"}  # parts of the shards about to go
    get("ingest").run(wh, IngestParams(sources={"mimic": str(sample_mimic)}, shard_size=8))  # now one shard
    shards = {p.stem for p in wh.parts("records")}
    assert shards == {"mimic-00000"}
    for table in record_tables():
        assert {p.stem.split(".")[0] for p in wh.parts(table)} <= shards, table
    counts = {name: get(name).run(wh, everyone if name == "select" else None, force=True)
              for name in NAMES[1:NAMES.index("evidence") + 1]}
    assert counts["evidence"]["shards"] == 1 and counts["evidence"]["samples"] == counts["validate"]["accepted"] > 0
    assert wh.sql("SELECT count(*) FROM corpus").item() == counts["validate"]["accepted"]


def _run(warehouse: Path, *args: str, stderr=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ecg_corpus", "run", "--sample", "--n", "2", "-w", str(warehouse),
                             *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)


@pytest.mark.slow
def test_a_busy_warehouse_makes_a_run_wait_or_with_no_wait_exit_2(tmp_path):
    warehouse = Warehouse(tmp_path / "w")
    log = tmp_path / "waiting.err"
    with warehouse.lock("other-run"), open(log, "w") as err_file:  # another writer, as a running flow holds it
        waiting = _run(warehouse.root, stderr=err_file)
        refused = _run(warehouse.root, "--no-wait")
        _, err = refused.communicate(timeout=120)
        assert refused.returncode == 2 and err.startswith("error: warehouse ") and "run other-run" in err, err
        assert err.count("\n") == 1  # one line, no traceback
        deadline = time.monotonic() + 120
        while "waiting for run other-run" not in log.read_text():
            assert waiting.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert not warehouse.parts("records")  # nothing written while it waits
    assert waiting.wait(300) == 0, log.read_text()
    assert warehouse.sql("SELECT status FROM runs WHERE flow = 'corpus'").rows() == [("completed",)]


@pytest.mark.slow
def test_two_runs_started_at_once_both_complete(tmp_path):
    runs = [_run(tmp_path / "w"), _run(tmp_path / "w")]
    for proc in runs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    done = Warehouse(tmp_path / "w").sql("SELECT status, count(*) AS n FROM runs WHERE flow = 'corpus' GROUP BY ALL")
    assert done.rows() == [("completed", 2)]
    assert not (tmp_path / "w" / "_lock.json").exists()
