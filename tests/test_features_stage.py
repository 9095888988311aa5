"""The features stage over the warehouse and over a bare WFDB folder."""

from __future__ import annotations

import polars as pl

from stages import features
from stages.ingest import ingest
from warehouse import Warehouse


def test_features_per_ok_record_and_rerun_skips(sample_ptbxl, tmp_path):
    wh = Warehouse(tmp_path / "w")
    ingest(wh, {"ptbxl": sample_ptbxl})
    assert features.STAGE.run(wh) == {"shards": 1, "records": 8, "usable": 8}
    f = wh.sql("SELECT * FROM features ORDER BY record_id")
    assert f["record_id"].to_list() == wh.sql("SELECT record_id FROM records ORDER BY record_id")["record_id"].to_list()
    assert f["error"].is_null().all() and f["hr_bpm"].is_not_nan().all()
    assert wh.sql("SELECT count(*) FROM lead_features").item() == 8 * 12
    assert features.STAGE.pending(wh) == []
    assert features.STAGE.run(wh)["shards"] == 0
    assert features.STAGE.run(wh, force=True)["shards"] == 1
    assert wh.sql("SELECT count(*) FROM features").item() == 8


def test_folder_mode_streams_every_record(ludb_dir, tmp_path):
    out = tmp_path / "ludb.parquet"
    assert features.run_folder(ludb_dir, out, workers=2, shard=32) == 100
    rec = pl.read_parquet(out)
    leads = pl.read_parquet(tmp_path / "ludb.leads.parquet")
    assert rec.height == 100 and rec["record_id"].n_unique() == 100
    assert leads.height == 1200
    assert rec["record_id"].str.starts_with("wfdb:data/").all()
