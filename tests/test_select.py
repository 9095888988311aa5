"""The corpus selection on real PTB-XL records: one row per record with its reason, one ECG per
subject, rare labels kept whole, seeded and reproducible, parts rewritten only on change."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from schemas.tables import EXCLUSIONS
from stages.select import quotas
from stages.stage import NoParams, get
from tests.runner import run
from warehouse import Warehouse


@pytest.fixture(scope="module")
def measured(ptbxl_dir, tmp_path_factory, pipeline) -> Warehouse:
    wh = Warehouse(tmp_path_factory.mktemp("select") / "w")
    pipeline(wh, {"ptbxl": ptbxl_dir}, upto="findings")
    return wh


def _selection(wh: Warehouse, **params) -> pl.DataFrame:
    run("select", wh, **params)
    return wh.sql("SELECT s.*, r.subject_id, r.labels, r.flags, f.quality FROM selection s JOIN records r USING (record_id)"
                  " LEFT JOIN features f USING (record_id)")


def test_water_filling_keeps_small_strata_whole():
    assert quotas({"a": 2, "b": 5, "c": 100}, 30) == {"a": 2, "b": 5, "c": 23}
    assert quotas({"a": 2, "b": 5, "c": 100}, 6) == {"a": 2, "b": 2, "c": 2}
    assert sum(quotas({"a": 7, "b": 9, "c": 11}, 100).values()) == 27


@pytest.mark.slow
def test_every_record_has_a_row_and_a_reason(measured):
    sel = _selection(measured, target=100)
    assert sel.height == measured.sql("SELECT count(*) FROM records").item() == 300
    assert set(sel["code"]) <= {"selected", *EXCLUSIONS} and sel["reason"].is_not_null().all()
    assert sel["selected"].sum() == 100
    picked = sel.filter("selected")
    assert picked["subject_id"].is_unique().all()  # one ECG per subject
    assert (picked["quality"] != "unusable").all()
    assert (picked["quality"] == "poor").any()  # a noisy lead the answer key does not read leaves nothing out
    assert (picked["flags"].list.len() > 0).any()  # PTB-XL's noise columns alone do not
    concordance = dict(measured.sql("SELECT record_id, status FROM concordance").rows())
    assert all(concordance[r] != "discordant" for r in picked["record_id"])
    flagged = sel.filter(pl.col("code") == "flagged")
    assert flagged["reason"].str.starts_with("the answer key cannot be read on the usable leads: ").all()
    discordant = sel.filter(pl.col("code") == "discordant")
    assert discordant.height > 0 and discordant["reason"].str.contains(" (expects|contradicted by) ").all()
    for row in sel.filter(pl.col("code") == "subject").iter_rows(named=True):
        keeper = row["reason"].split(": ")[1].split(" ")[0]
        assert sel.filter(pl.col("record_id") == keeper)["subject_id"].item() == row["subject_id"]


@pytest.mark.slow
def test_rare_labels_are_kept_and_common_ones_share_the_rest(measured):
    sel = _selection(measured, target=60)
    kept = sel.filter(pl.col("code").is_in(["selected", "quota"]))
    sizes = dict(kept.group_by("stratum").len().rows())
    chosen = dict(sel.filter("selected").group_by("stratum").len().rows())
    quota = quotas(sizes, 60)
    assert chosen == {s: q for s, q in quota.items() if q}
    smallest = min(sizes.values())
    assert all(chosen[s] == n for s, n in sizes.items() if n == smallest)  # the rarest strata whole
    assert chosen["NORM"] < sizes["NORM"]  # the common stratum is cut
    # every label concept among the candidates is in the selection
    assert set(kept["labels"].explode().drop_nulls()) == set(sel.filter("selected")["labels"].explode().drop_nulls())


@pytest.mark.slow
def test_the_draw_is_seeded(measured):
    a = _selection(measured, target=60, seed=1).filter("selected")["record_id"].sort()
    b = _selection(measured, target=60, seed=1).filter("selected")["record_id"].sort()
    c = _selection(measured, target=60, seed=2).filter("selected")["record_id"].sort()
    assert a.equals(b) and not a.equals(c)


@pytest.mark.slow
def test_parts_are_rewritten_only_when_they_change(measured):
    _selection(measured, target=100)
    stamps = {p.name: p.stat().st_mtime_ns for p in measured.parts("selection")}
    assert run("select", measured, target=100)["selected"] == 100
    assert stamps == {p.name: p.stat().st_mtime_ns for p in measured.parts("selection")}
    run("prompts", measured)
    assert get("prompts").pending(measured, NoParams()) == []
    run("select", measured, target=101)
    assert get("prompts").pending(measured, NoParams())  # a changed selection makes its prompts stale


@pytest.mark.slow
def test_the_same_recording_twice_is_selected_once(ptbxl_dir, tmp_path, pipeline):
    src = tmp_path / "wfdb"
    src.mkdir()
    for name in ("a", "b"):  # one PTB-XL recording under two names
        for ext in ("hea", "dat"):
            text = (ptbxl_dir / f"records500/00000/00003_hr.{ext}").read_bytes()
            (src / f"{name}.{ext}").write_bytes(text.replace(b"00003_hr", name.encode()) if ext == "hea" else text)
    for ext in ("hea", "dat"):
        shutil.copy(ptbxl_dir / f"records500/00000/00004_hr.{ext}", src / f"00004_hr.{ext}")
    wh = Warehouse(tmp_path / "w")
    pipeline(wh, {"wfdb": src}, upto="select")
    codes = dict(wh.sql("SELECT record_id, code FROM selection").rows())
    assert codes["wfdb:b"] == "duplicate" and codes["wfdb:a"] != "duplicate" and codes["wfdb:00004_hr"] != "duplicate"
    assert wh.sql("SELECT reason FROM selection WHERE record_id = 'wfdb:b'").item() == "same signal as wfdb:a"


@pytest.mark.slow
def test_the_select_command_records_its_run(measured):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "ecg_corpus", "select", "-w", str(measured.root), "--target", "50"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "select: 50 of 300 records selected" in run.stdout and "discordant" in run.stdout
    row = measured.sql("SELECT * FROM runs WHERE flow = 'select' ORDER BY started_at DESC LIMIT 1").row(0, named=True)
    assert row["status"] == "completed" and '"target": 50' in row["parameters"]
    assert measured.sql(f"SELECT count(*) FROM selection WHERE run_id = '{row['run_id']}'").item() > 0
    bad = subprocess.run([sys.executable, "-m", "ecg_corpus", "select", "-w", str(measured.root), "--target", "0"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --target must be at least 1"
