"""Ingest into the warehouse: real PTB-XL and LUDB, the sample layouts, and every bad header or
signal file (the checks that need the samples are the features stage's: test_features_stage.py)."""

from __future__ import annotations

import re

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import wfdb

from stages.ingest import ingest
from schemas.ecg import LEADS
from sources import reader
from sources.reader import read_signal
from sources.sample import MIMIC_HEDGED
from warehouse import Warehouse


def test_ptbxl_sample_all_ok_labels_and_subject_splits(ptbxl_dir, tmp_path):
    wh = Warehouse(tmp_path / "w")
    counts = ingest(wh, {"ptbxl": ptbxl_dir})
    assert counts == {"ptbxl": {"ok": 300, "error": 0}}
    rec = wh.read("records")
    db = pl.read_csv(ptbxl_dir / "ptbxl_database.csv", infer_schema_length=0)
    assert rec.height == db.height == 300
    assert (rec["status"] == "ok").all()
    assert rec["record_id"][0] == "ptbxl:00001" and rec["path"][0].endswith("records500/00000/00001_hr")
    assert (rec["fs"] == 500).all() and (rec["n_samples"] == 5000).all()
    with_codes = db["scp_codes"].str.len_chars() > 2
    assert rec.filter(with_codes)["labels"].list.len().min() > 0
    # PTB-XL's recommended folds: 9 = val, 10 = test
    folds = db.select(record_id=pl.format("ptbxl:{}", pl.col("ecg_id").str.zfill(5)), fold=pl.col("strat_fold").cast(int))
    joined = rec.join(folds, on="record_id")
    assert joined.filter(pl.col("fold") == 9)["split"].unique().to_list() == ["val"]
    assert joined.filter(pl.col("fold") == 10)["split"].unique().to_list() == ["test"]
    assert set(joined.filter(pl.col("fold") <= 8)["split"]) == {"train"}
    _assert_no_subject_leakage(rec)


def _assert_no_subject_leakage(rec: pl.DataFrame) -> None:
    per_subject = rec.group_by("source", "subject_id").agg(pl.col("split").n_unique().alias("n"))
    assert per_subject["n"].max() == 1, "a subject appears in more than one split"


def test_ludb_through_wfdb_source(ludb_dir, tmp_path):
    wh = Warehouse(tmp_path / "w")
    assert ingest(wh, {"wfdb": ludb_dir}) == {"wfdb": {"ok": 100, "error": 0}}
    rec = wh.sql("SELECT * FROM records ORDER BY record_id")
    assert rec.height == 100
    one = rec.filter(pl.col("record_id") == "wfdb:data/1").row(0, named=True)
    assert one["lead_names"].split(",")[3] == "avr"  # lower-case names mapped by name
    assert one["sex"] == "F" and one["age"] == 51
    assert "SBRAD" in one["labels"] and "Sinus bradycardia" in one["label_text"]
    _assert_no_subject_leakage(rec)


def test_mimic_layout_machine_measurements_and_sentinels(sample_mimic, tmp_path):
    wh = Warehouse(tmp_path / "w")
    counts = ingest(wh, {"mimic": sample_mimic})
    assert counts == {"mimic": {"ok": 8, "error": 0}}
    rec = wh.read("records")
    mm = pl.read_csv(sample_mimic / "machine_measurements.csv")
    assert rec["record_id"].str.starts_with("mimic:").all()
    assert rec["labels"].list.len().min() > 0
    assert (rec["label_likelihood"].list.len() == rec["labels"].list.len()).all()
    # a cart's "Possible ..." keeps its concept at 35 (below PTB-XL's 50), plain statements 100
    likelihoods = {(rid, c): lik for rid, cs, ls in rec.select("study_id", "labels", "label_likelihood").rows()
                   for c, lik in zip(cs, ls)}
    hedged = {(str(row["study_id"]), concept) for row in mm.iter_rows(named=True) for k in range(18)
              for concept, statement in MIMIC_HEDGED.items() if row[f"report_{k}"] == statement}
    assert hedged and all(likelihoods[key] == 35 for key in hedged)
    assert all(lik == 100 for key, lik in likelihoods.items() if key not in hedged)
    no_p = mm.filter(pl.col("p_onset") == 29999)["study_id"].cast(pl.Utf8)
    got = rec.filter(pl.col("study_id").is_in(no_p.to_list()))
    assert got["machine_p_onset_ms"].is_null().all()
    assert rec["machine_qrs_onset_ms"].is_not_null().all()
    assert rec["machine_rr_interval_ms"].min() > 300
    _assert_no_subject_leakage(rec)


def test_rerun_replaces_rows(sample_ptbxl, tmp_path):
    wh = Warehouse(tmp_path / "w")
    ingest(wh, {"ptbxl": sample_ptbxl})
    ingest(wh, {"ptbxl": sample_ptbxl})
    assert wh.sql("SELECT count(*) AS n, count(DISTINCT record_id) AS d FROM records").row(0) == (8, 8)


# --- bad input: each case is an error row with a reason, and the good records still land ---

def _copy_good(sample_ptbxl: Path, root: Path, n: int = 3) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for hea in sorted((sample_ptbxl / "records500").glob("*/*.hea"))[:n]:
        for f in hea.parent.glob(hea.stem + ".*"):
            shutil.copy(f, root / f.name)
        out.append(root / hea.stem)
    return out


def write_record(root: Path, name: str, adc: np.ndarray, leads=LEADS, fmt: str = "16") -> Path:
    wfdb.wrsamp(name, fs=500, units=["mV"] * len(leads), sig_name=list(leads), d_signal=adc.T.astype(np.int16),
                fmt=[fmt] * len(leads), adc_gain=[1000.0] * len(leads), baseline=[0] * len(leads),
                write_dir=str(root))
    return root / name


def sine_adc(n_leads=12, n=5000) -> np.ndarray:
    t = np.arange(n) / 500
    return (800 * np.sin(2 * np.pi * 1.2 * t)[None, :] * np.linspace(0.5, 1.5, n_leads)[:, None]).astype(np.int16)


def _bad_headers(root: Path, good: Path) -> dict[str, str]:
    """One record per problem its header and a ``stat`` of its signal file show; return record
    name -> expected error fragment."""
    cases = {}
    # missing .dat
    for f in good.parent.glob(good.name + ".*"):
        shutil.copy(f, root / f.name.replace(good.name, "missing_dat"))
    (root / "missing_dat.hea").write_text((root / "missing_dat.hea").read_text().replace(good.name, "missing_dat"))
    (root / "missing_dat.dat").unlink()
    cases["missing_dat"] = "signal file not found: missing_dat.dat"
    write_record(root, "missing_212", sine_adc(), fmt="212")  # any format: the file must exist
    Path(root / "missing_212.dat").unlink()
    cases["missing_212"] = "signal file not found: missing_212.dat"
    # format 16: the size is 2 bytes x signals x samples, no more and no less
    rec = write_record(root, "truncated", sine_adc())
    data = Path(f"{rec}.dat").read_bytes()
    Path(f"{rec}.dat").write_bytes(data[: len(data) // 2])
    cases["truncated"] = "truncated signal file truncated.dat: 60000 bytes, header expects 120000 (5000 samples x 12"
    rec = write_record(root, "too_long", sine_adc())
    Path(f"{rec}.dat").write_bytes(data + data[:240])
    cases["too_long"] = "header disagrees with data: too_long.dat has 120240 bytes, header expects 120000"
    # unknown, missing and duplicated leads
    write_record(root, "unknown_lead", sine_adc(), leads=[*LEADS[:11], "MLII"])
    cases["unknown_lead"] = "missing leads: V6 (other signals: 'MLII')"
    write_record(root, "missing_lead", sine_adc(11), leads=list(LEADS[:11]))
    cases["missing_lead"] = "missing leads: V6"
    hea = Path(f"{write_record(root, 'dup_lead', sine_adc(15), leads=SHUFFLED)}.hea")
    hea.write_text(hea.read_text().replace(" V4\n", " V3\n"))  # wfdb.wrsamp refuses duplicate names
    cases["dup_lead"] = "duplicate leads: V3"
    # units the reader cannot convert to mV
    hea = Path(f"{write_record(root, 'bad_units', sine_adc())}.hea")
    hea.write_text(hea.read_text().replace("/mV", "/degC", 1))
    cases["bad_units"] = "unsupported signal units 'degC'"
    # a header that cannot be parsed
    (root / "garbage.hea").write_text("garbage\n")
    cases["garbage"] = "malformed header garbage.hea"
    return cases


def bad_signals(root: Path) -> dict[str, str]:
    """One record per problem only its samples show (ingest passes them, the features stage
    refuses them); return record name -> expected error fragment."""
    cases = {}
    rec = write_record(root, "bad_checksum", sine_adc())
    adc = sine_adc()
    adc[2, 100] += 7
    Path(f"{rec}.dat").write_bytes(adc.T.astype("<i2").tobytes())
    cases["bad_checksum"] = "header disagrees with data: checksum of lead III"
    rec = write_record(root, "bad_extra_checksum", sine_adc(15), leads=SHUFFLED)
    adc = sine_adc(15)
    adc[SHUFFLED.index("vy"), 100] += 7
    Path(f"{rec}.dat").write_bytes(adc.T.astype("<i2").tobytes())
    cases["bad_extra_checksum"] = "checksum of lead vy"
    write_record(root, "all_nan", np.full((12, 5000), -32768, dtype=np.int16))
    cases["all_nan"] = "all samples missing"
    write_record(root, "flat", np.zeros((12, 5000), dtype=np.int16))
    cases["flat"] = "flat signal"
    write_record(root, "flat_212", np.zeros((12, 5000), dtype=np.int16), fmt="212")  # read by wfdb
    cases["flat_212"] = "flat signal"
    return cases


FRANK = ["vx", "vy", "vz"]  # PTB Diagnostic's extra signals
SHUFFLED = ["V3", "vx", "aVL", "I", "V6", "vy", "II", "aVR", "V1", "III", "vz", "V5", "aVF", "V2", "V4"]


@pytest.mark.parametrize("fmt", ["16", "212"])  # 16: the numpy decoder, 212: wfdb.rdrecord
def test_record_with_frank_leads_keeps_the_12_standard_ones(tmp_path, fmt):
    root = tmp_path / "folder"
    root.mkdir()
    adc = sine_adc(len(SHUFFLED))
    rec = write_record(root, "ptbdiag", adc, leads=SHUFFLED, fmt=fmt)
    wh = Warehouse(tmp_path / "w")
    assert ingest(wh, {"wfdb": root}) == {"wfdb": {"ok": 1, "error": 0}}
    row = wh.read("records").row(0, named=True)
    assert row["status"] == "ok" and row["extra_leads"] == FRANK
    written = adc[[SHUFFLED.index(lead) for lead in LEADS]] / 1000.0
    np.testing.assert_allclose(read_signal(rec), written, atol=1e-6)


def test_every_bad_header_is_an_error_row_and_the_run_goes_on(sample_ptbxl, tmp_path):
    root = tmp_path / "folder"
    good = _copy_good(sample_ptbxl, root)
    cases = _bad_headers(root, good[0])
    signals = bad_signals(root)  # the header and file size are right: ok here, refused by features
    wh = Warehouse(tmp_path / "w")
    counts = ingest(wh, {"wfdb": root})
    assert counts == {"wfdb": {"ok": len(good) + len(signals), "error": len(cases)}}
    rec = wh.read("records")
    for name, fragment in cases.items():
        row = rec.filter(pl.col("record_id") == f"wfdb:{name}").row(0, named=True)
        assert row["status"] == "error" and fragment in row["error"], (name, row["error"])
    ok = {f"wfdb:{name}" for name in [g.name for g in good] + list(signals)}
    assert set(rec.filter(pl.col("status") == "ok")["record_id"]) == ok
    errors = rec.filter(pl.col("status") == "error")
    assert (errors["extra_leads"].list.len() == 0).all() and errors["fs"].is_null().all()


def test_ingest_reads_headers_only(sample_ptbxl, tmp_path, monkeypatch):
    def no_signal(*args):
        raise AssertionError("ingest read a signal")

    monkeypatch.setattr(reader, "_decode_format16", no_signal)
    monkeypatch.setattr(reader, "_read_with_wfdb", no_signal)
    assert ingest(Warehouse(tmp_path / "w"), {"ptbxl": sample_ptbxl}) == {"ptbxl": {"ok": 8, "error": 0}}


@pytest.fixture
def memory_copy(tmp_path):
    """``memory_copy(folder)``: the files of ``folder`` copied into fsspec's in-memory file system;
    returns the ``memory://`` URL of the copy (removed after the test)."""
    import fsspec

    mem, prefix = fsspec.filesystem("memory"), f"/{tmp_path.name}"

    def copy(folder: Path) -> str:
        for f in folder.rglob("*"):
            if f.is_file():
                mem.pipe(f"{prefix}/{folder.name}/{f.relative_to(folder).as_posix()}", f.read_bytes())
        return f"memory://{prefix}/{folder.name}"

    yield copy
    if mem.exists(prefix):
        mem.rm(prefix, recursive=True)


@pytest.mark.slow
def test_a_source_in_an_object_store_gives_the_rows_of_the_local_folder(sample_ptbxl, tmp_path, memory_copy):
    from stages import features

    root = tmp_path / "ptbxl"
    shutil.copytree(sample_ptbxl, root)
    (root / "records500/00000/00002_hr.dat").unlink()  # an error row at ingest
    dat = root / "records500/00000/00003_hr.dat"
    dat.write_bytes(b"\x07" + dat.read_bytes()[1:])  # a checksum error in features
    url = memory_copy(root)
    got = {}
    for where, source in (("local", root), ("memory", url)):
        wh = Warehouse(tmp_path / where)
        assert ingest(wh, {"ptbxl": source}) == {"ptbxl": {"ok": 7, "error": 1}}
        features.STAGE.run(wh)
        got[where] = (wh.sql("SELECT * EXCLUDE (path) FROM records ORDER BY record_id"),
                      wh.sql("SELECT * FROM features ORDER BY record_id"), wh.sql("SELECT path FROM records")["path"])
    for local, memory in zip(got["local"][:2], got["memory"][:2]):
        assert local.equals(memory, null_equal=True)
    records, feats, paths = got["memory"]
    assert paths.str.starts_with(url + "/records500/").all()
    assert records.filter(pl.col("record_id") == "ptbxl:00002")["error"].item() == "signal file not found: 00002_hr.dat"
    assert "checksum of lead" in feats.filter(pl.col("record_id") == "ptbxl:00003")["error"].item()
    assert feats["signal_sha256"].null_count() == 1 and feats["hr_bpm"].is_not_nan().sum() == 6


def test_a_wfdb_folder_in_an_object_store_other_formats_too(tmp_path, memory_copy):
    root = tmp_path / "folder"
    rels = {"a/f16": "16", "b/f212": "212"}  # 212: wfdb.rdrecord on a local copy
    for rel, fmt in rels.items():
        (root / rel).parent.mkdir(parents=True)
        write_record((root / rel).parent, (root / rel).name, sine_adc(), fmt=fmt)
    url = memory_copy(root)
    wh = Warehouse(tmp_path / "w")
    assert ingest(wh, {"wfdb": url}) == {"wfdb": {"ok": 2, "error": 0}}
    paths = dict(wh.sql("SELECT record_id, path FROM records").rows())
    assert paths == {f"wfdb:{rel}": f"{url}/{rel}" for rel in rels}
    for rel in rels:
        np.testing.assert_array_equal(read_signal(paths[f"wfdb:{rel}"]), read_signal(root / rel))


@pytest.mark.slow
def test_the_warehouse_is_a_folder_not_a_url(sample_ptbxl, tmp_path):
    with pytest.raises(NotADirectoryError, match="must be a local or mounted folder, not a URL: s3://bucket/w"):
        Warehouse("s3://bucket/w")
    res = _cli("ingest", "-w", "memory://w", "--ptbxl", str(sample_ptbxl), cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and "not a URL" in res.stderr, res.stderr
    res = _cli("ingest", "-w", str(tmp_path / "w"), "--ptbxl", "memory://nothing/here", cwd=tmp_path)
    assert res.returncode == 2 and "no ptbxl_database.csv" in res.stderr, res.stderr


def test_csv_row_pointing_to_nothing(sample_ptbxl, tmp_path):
    root = tmp_path / "ptbxl"
    shutil.copytree(sample_ptbxl, root)
    db = pl.read_csv(root / "ptbxl_database.csv", infer_schema_length=0)
    ghost = db.head(1).with_columns(ecg_id=pl.lit("999"), filename_hr=pl.lit("records500/00000/00999_hr"),
                                    filename_lr=pl.lit("records100/00000/00999_lr"))
    pl.concat([db, ghost]).write_csv(root / "ptbxl_database.csv")
    wh = Warehouse(tmp_path / "w")
    assert ingest(wh, {"ptbxl": root}) == {"ptbxl": {"ok": 8, "error": 1}}
    row = wh.sql("SELECT status, error FROM records WHERE record_id = 'ptbxl:00999'").row(0)
    assert row == ("error", "header not found: 00999_hr.hea")


def test_ptbxl_falls_back_to_100hz(sample_ptbxl, tmp_path):
    root = tmp_path / "ptbxl"
    shutil.copytree(sample_ptbxl, root)
    for f in (root / "records500/00000").glob("00001_hr.*"):
        f.unlink()
    wh = Warehouse(tmp_path / "w")
    ingest(wh, {"ptbxl": root})
    row = wh.sql("SELECT path, fs, status FROM records WHERE record_id = 'ptbxl:00001'").row(0)
    assert row[0].endswith("records100/00000/00001_lr") and row[1] == 100 and row[2] == "ok"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecg_corpus", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.slow
def test_wrong_path_is_one_line_and_exit_2(tmp_path):
    res = _cli("ingest", "--warehouse", str(tmp_path / "w"), "--ptbxl", str(tmp_path / "nope"), cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "ptbxl folder not found" in res.stderr
    (tmp_path / "empty").mkdir()
    res = _cli("ingest", "--warehouse", str(tmp_path / "w"), "--mimic", str(tmp_path / "empty"), cwd=tmp_path)
    assert res.returncode == 2 and "no record_list.csv" in res.stderr


@pytest.mark.slow
def test_cli_ingest_and_sql(sample_mimic, tmp_path):
    res = _cli("ingest", "-w", str(tmp_path / "w"), "--mimic", str(sample_mimic), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert re.search(r"│ mimic\s+│\s+8 │\s+0 │", res.stdout), res.stdout
    res = _cli("sql", "-w", str(tmp_path / "w"), "SELECT count(*) AS n FROM records WHERE status = 'ok'", cwd=tmp_path)
    assert res.returncode == 0 and re.search(r"│ 8 +│", res.stdout), res.stdout
    res = _cli("sql", "-w", str(tmp_path / "w"), "SELECT * FROM nope", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith("error: SQL error")


@pytest.mark.slow
def test_unusable_arguments_exit_2(tmp_path):
    for args in (("ingest",), ("features", "-w", str(tmp_path), "--workers", "x"), ("nope",),
                 ("sample", str(tmp_path / "s"), "--layout", "foo"), ("findings", "-w", str(tmp_path / "missing"))):
        res = _cli(*args, cwd=tmp_path)
        assert res.returncode == 2, (args, res.stderr)
        assert "Traceback" not in res.stderr
