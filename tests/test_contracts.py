"""Table contracts and the stage contract: a wrong frame fails naming what is wrong; every
record leaves a row or a count."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from schemas.tables import SCHEMAS, ContractError
from stages import prompts as prompts_stage
from stages.stage import NAMES, get
from warehouse import Warehouse


@pytest.fixture(scope="module")
def measured(sample_mimic, tmp_path_factory, pipeline):
    wh = Warehouse(tmp_path_factory.mktemp("contracts") / "w")
    pipeline(wh, {"mimic": sample_mimic}, upto="findings")
    return wh


@pytest.mark.slow
def test_a_renamed_column_fails_naming_both(measured):
    df = measured.read("features").rename({"qtc_bazett_ms": "qtc_bazet_ms"})
    with pytest.raises(ContractError, match="features: missing column qtc_bazett_ms; unknown column qtc_bazet_ms"):
        measured.write("features", df, "renamed")


@pytest.mark.slow
def test_an_extra_column_and_an_unknown_table_fail(measured):
    with pytest.raises(ContractError, match="lead_features: unknown column note"):
        measured.write("lead_features", measured.read("lead_features").with_columns(note=pl.lit("x")), "extra")
    with pytest.raises(ContractError, match="no contract for table 'featurez'"):
        measured.write("featurez", measured.read("features"), "p")
    assert not measured.parts("featurez") and len(measured.parts("features")) == 1


def test_every_table_a_stage_writes_has_a_strict_contract():
    written = {t for name in NAMES for t in get(name).outputs} | {"generations", "stage_counts"}
    assert written <= set(SCHEMAS)
    assert all(schema.strict for schema in SCHEMAS.values())


@pytest.mark.slow
def test_a_refused_record_keeps_a_prompt_row_with_its_reason(measured):
    part = measured.parts("features")[0].stem
    read = lambda t: pl.read_parquet(measured.table_dir(t) / f"{part}.parquet")  # noqa: E731
    feats, records = read("features"), read("records")
    ids = feats["record_id"].to_list()
    # an identifier that reaches the prompt: a word of the prompt written as a study id
    records = records.with_columns(study_id=pl.when(pl.col("record_id") == ids[3]).then(pl.lit("Protocol"))
                                   .otherwise("study_id"))
    rows = prompts_stage.build(feats, read("lead_features"), read("findings"), records, read("answer_keys"))
    assert rows.height == feats.height
    status = dict(rows.select("record_id", "status").rows())
    reason = dict(rows.select("record_id", "reason").rows())
    assert (status[ids[3]], reason[ids[3]]) == ("refused", "prompt contains the identifier 'Protocol'")
    assert {status[i] for i in ids if i != ids[3]} == {"ok"}
    measured.write("prompts", rows, part)  # the contract accepts rows without messages when they say why
    ok = rows.filter(pl.col("status") == "ok")
    assert ok["messages"].is_not_null().all() and rows.filter(pl.col("status") != "ok")["messages"].is_null().all()


@pytest.mark.slow
def test_every_row_names_the_run_that_wrote_it(measured, tmp_path):
    wh = Warehouse(tmp_path / "w", run_id="run-1")
    wh.write("features", measured.read("features"), "p")
    assert wh.read("features")["run_id"].unique().to_list() == ["run-1"]
    assert all("run_id" in schema.columns for schema in SCHEMAS.values())


@pytest.mark.slow
def test_stage_counts_are_kept_per_shard(measured):
    counts = measured.sql("SELECT stage, shard, count, value FROM stage_counts ORDER BY stage, count")
    features = dict(counts.filter(pl.col("stage") == "features").select("count", "value").rows())
    assert features == {"records": 8, "usable": 8}
    assert set(counts["stage"]) == {"ingest", "features", "findings"}


def test_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="unknown stage 'curate'"):
        get("curate")


@pytest.mark.slow
def test_reingest_with_fewer_shards_removes_stale_parts(sample_mimic, tmp_path):
    from stages.ingest import ingest

    wh = Warehouse(tmp_path / "w")
    ingest(wh, {"mimic": sample_mimic}, shard_size=3)
    get("features").run(wh)
    assert len(wh.parts("features")) == 3
    ingest(wh, {"mimic": sample_mimic}, shard_size=8)
    assert [p.stem for p in wh.parts("records")] == ["mimic-00000"]
    assert [p.stem for p in wh.parts("features")] == ["mimic-00000"]  # its records part is newer: pending again
    assert get("features").pending(wh) == ["mimic-00000"]
    assert np.isfinite(wh.sql("SELECT count(*) FROM features").item())
