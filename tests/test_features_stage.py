"""The features stage over the warehouse and over a bare WFDB folder: the signal checks (each an
unusable row with its reason) and the signal hash that finds one recording stored twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from schemas.ecg import LEADS
from stages import features
from stages.ingest import ingest
from tests.test_ingest import SHUFFLED, bad_signals, sine_adc, write_record
from warehouse import Warehouse

pytestmark = pytest.mark.slow  # every test runs the features stage (FeatureDB's kernels)


def test_features_per_ok_record_and_rerun_skips(sample_ptbxl, tmp_path):
    wh = Warehouse(tmp_path / "w")
    ingest(wh, {"ptbxl": sample_ptbxl})
    assert features.STAGE.run(wh) == {"shards": 1, "records": 8, "usable": 8}
    f = wh.sql("SELECT * FROM features ORDER BY record_id")
    assert f["record_id"].to_list() == wh.sql("SELECT record_id FROM records ORDER BY record_id")["record_id"].to_list()
    assert f["error"].is_null().all() and f["hr_bpm"].is_not_nan().all()
    assert f["signal_sha256"].str.contains(r"^[0-9a-f]{64}$").all() and f["signal_sha256"].n_unique() == 8
    assert wh.sql("SELECT count(*) FROM lead_features").item() == 8 * 12
    assert features.STAGE.pending(wh, features.STAGE.params()) == []
    assert features.STAGE.run(wh)["shards"] == 0
    assert features.STAGE.run(wh, force=True)["shards"] == 1
    assert wh.sql("SELECT count(*) FROM features").item() == 8


def _features(tmp_path: Path, root: Path) -> dict[str, dict]:
    """Ingest the WFDB folder ``root`` and measure it; features rows by record name."""
    wh = Warehouse(tmp_path / "w")
    ingest(wh, {"wfdb": root})
    features.STAGE.run(wh)
    return {r["record_id"].removeprefix("wfdb:"): r for r in wh.read("features").iter_rows(named=True)}


def test_signal_problems_are_unusable_rows_with_their_reason(tmp_path):
    root = tmp_path / "folder"
    root.mkdir()
    cases = bad_signals(root)
    write_record(root, "good", sine_adc())
    rows = _features(tmp_path, root)
    assert set(rows) == {*cases, "good"}  # ingest passed them all: their headers are right
    for name, fragment in cases.items():
        row = rows[name]
        assert row["quality"] == "unusable" and fragment in row["error"], (name, row["error"])
        assert row["signal_sha256"] is None and np.isnan(row["hr_bpm"])
    assert rows["good"]["error"] is None and rows["good"]["signal_sha256"] is not None


def _copy_record(src: Path, root: Path, name: str) -> None:
    """Copy the WFDB record ``src`` (.hea and .dat) into ``root`` as ``name``."""
    root.mkdir(parents=True, exist_ok=True)
    hea = Path(f"{src}.hea").read_text(encoding="latin-1").replace(src.name, name)
    (root / f"{name}.hea").write_text(hea, encoding="latin-1")
    shutil.copy(f"{src}.dat", root / f"{name}.dat")


def test_one_recording_stored_twice_has_one_hash(ptbxl_dir, tmp_path):
    root = tmp_path / "folder"
    for name in ("first", "second"):
        _copy_record(ptbxl_dir / "records500/00000/00001_hr", root, name)
    _copy_record(ptbxl_dir / "records500/00000/00002_hr", root, "other")
    rows = _features(tmp_path, root)
    assert rows["first"]["signal_sha256"] == rows["second"]["signal_sha256"] != rows["other"]["signal_sha256"]


def test_hash_ignores_lead_order_storage_format_and_extra_leads(tmp_path):
    root = tmp_path / "folder"
    root.mkdir()
    adc = sine_adc()
    frank = sine_adc(3) // 2
    shuffled = np.stack([adc[LEADS.index(lead)] if lead in LEADS else frank[("vx", "vy", "vz").index(lead)]
                         for lead in SHUFFLED])
    write_record(root, "canonical", adc)
    write_record(root, "shuffled_212", shuffled, leads=SHUFFLED, fmt="212")  # read by wfdb, not the decoder
    write_record(root, "shuffled_16", shuffled, leads=SHUFFLED)
    changed = adc.copy()
    changed[5, 1000] += 1  # one sample of aVF, one ADC unit
    write_record(root, "changed", changed)
    rows = _features(tmp_path, root)
    same = {rows[n]["signal_sha256"] for n in ("canonical", "shuffled_212", "shuffled_16")}
    assert len(same) == 1 and rows["changed"]["signal_sha256"] not in same


def test_real_ptbxl_sample_duplicates(ptbxl_dir, tmp_path):
    """PTB-XL 1.0.3 ecg_id 138 and 144 repeat 137 and 143 (same patient, time and samples)."""
    wh = Warehouse(tmp_path / "w")
    ingest(wh, {"ptbxl": ptbxl_dir})
    features.STAGE.run(wh)
    dups = wh.sql("SELECT list(record_id ORDER BY record_id) AS ids FROM features GROUP BY signal_sha256 "
                  "HAVING count(*) > 1 ORDER BY 1")
    assert dups["ids"].to_list() == [["ptbxl:00137", "ptbxl:00138"], ["ptbxl:00143", "ptbxl:00144"]]


def test_folder_mode_streams_every_record(ludb_dir, tmp_path):
    out = tmp_path / "ludb.parquet"
    assert features.run_folder(ludb_dir, out, workers=2, shard=32) == 100
    rec = pl.read_parquet(out)
    leads = pl.read_parquet(tmp_path / "ludb.leads.parquet")
    assert rec.height == 100 and rec["record_id"].n_unique() == 100
    assert rec["signal_sha256"].n_unique() == 100
    assert leads.height == 1200
    assert rec["record_id"].str.starts_with("wfdb:data/").all()
