"""Label vocabulary: SCP-ECG backbone, statement mapping, flags, unmapped statements."""

from __future__ import annotations

import csv
import shutil

import polars as pl
import pytest

from sources import vocabulary
from sources.ptbxl import parse_scp_codes
from schemas.ecg import LEADS
from sources.vocabulary import concepts, map_codes, map_statements, snomed


def test_every_ptbxl_scp_code_maps_to_a_concept(ptbxl_dir):
    db = pl.read_csv(ptbxl_dir / "ptbxl_database.csv", infer_schema_length=0)
    codes = {c for text in db["scp_codes"] for c in parse_scp_codes(text)}
    statements = pl.read_csv(ptbxl_dir / "scp_statements.csv", infer_schema_length=0)
    codes |= set(statements[statements.columns[0]])
    left = sorted(c for c in codes if map_codes([c]).unmapped)
    assert left == [], f"SCP codes with no concept: {left}"


def test_mimic_machine_statements():
    m = map_statements([
        "Sinus rhythm", "Left axis deviation", "Left bundle branch block.", "1st degree A-V block",
        "Possible anterior infarct - age undetermined", "Baseline wander in lead(s) V1",
        "Warning: Data quality may affect interpretation", "Abnormal ECG", "Atrial fibrillation with rapid ventricular response",
        "Prolonged QT interval", "Inferior infarct - age undetermined", "Some brand-new wording",
    ])
    assert m.concepts == ["SR", "LAD", "CLBBB", "1AVB", "AFIB", "LNGQT", "IMI"]
    assert m.flags == ["baseline wander in lead(s) v1", "warning: data quality may affect interpretation"]
    assert m.unmapped == ["some brand-new wording"]
    assert set(m.concepts) <= set(concepts())


def test_ludb_statements_all_map(ludb_dir):
    from sources.wfdb_folder import manifest

    man = manifest(ludb_dir)
    assert man["unmapped"].list.len().sum() == 0
    assert man["labels"].list.len().min() > 0


@pytest.mark.slow
def test_labels_command_lists_unmapped(sample_mimic, tmp_path):
    import subprocess
    import sys

    root = tmp_path / "mimic"
    shutil.copytree(sample_mimic, root)
    mm = pl.read_csv(root / "machine_measurements.csv", infer_schema_length=0)
    mm.with_columns(report_5=pl.lit("Unheard-of statement")).write_csv(root / "machine_measurements.csv")
    w = str(tmp_path / "w")
    assert subprocess.run([sys.executable, "-m", "ecg_corpus", "ingest", "-w", w, "--mimic", str(root)]).returncode == 0
    res = subprocess.run([sys.executable, "-m", "ecg_corpus", "labels", "-w", w, "--unmapped"],
                         capture_output=True, text=True)
    assert res.returncode == 0 and "unheard-of statement" in res.stdout and "unmapped statements: 1" in res.stdout


def test_challenge_snomed_codes(tmp_path):
    """PhysioNet/CinC Challenge 2020/2021 header: SNOMED CT codes in ``# Dx:``."""
    from sources.wfdb_folder import manifest

    header = "A0001 12 500 5000\n" + "".join(f"A0001.mat 16 1000/mV 16 0 0 0 0 {lead}\n" for lead in LEADS)
    comments = "# Age: 74\n# Sex: Male\n# Dx: 426783006,164889003,59118001,6374002,999999999\n# Rx: Unknown\n"
    (tmp_path / "A0001.hea").write_text(header + comments)
    row = manifest(tmp_path).row(0, named=True)
    assert row["labels"] == ["SR", "AFIB", "CRBBB"]  # 6374002 (bundle branch block) is reviewed: no label
    assert row["unmapped"] == ["999999999"]
    assert (row["age"], row["sex"]) == (74, "M")
    assert row["label_text"].startswith("sinus rhythm; atrial fibrillation; right bundle branch block")


def test_snomed_table_is_reviewed():
    with (vocabulary.DATA / "snomed.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sum("dx_mapping_scored.csv" in r["source"] for r in rows) == 30  # every code the Challenge 2021 scores
    assert all(r["snomed"].isdigit() and r["term"] and r["source"] for r in rows)
    assert all("no label" in r["source"] for r in rows if not r["concept"])  # an empty concept says why
    assert set(concepts()) >= {c for _, c in snomed().values() if c}
    assert map_statements(["713427006", "59118001"]).concepts == ["CRBBB"]  # scored as one diagnosis
    assert map_statements(["164909002"]).concepts == map_statements(["733534002"]).concepts == ["CLBBB"]


def test_snomed_table_with_an_unknown_concept_raises(tmp_path, monkeypatch):
    shutil.copy(vocabulary.DATA / "concepts.csv", tmp_path)
    (tmp_path / "snomed.csv").write_text("snomed,term,concept,source\n1,x,NOPE,test\n")
    monkeypatch.setattr(vocabulary, "DATA", tmp_path)
    for cached in (vocabulary.concepts, vocabulary.snomed):
        cached.cache_clear()
    try:
        with pytest.raises(ValueError, match="snomed.csv maps to concepts missing from concepts.csv: \\['NOPE'\\]"):
            vocabulary.snomed()
    finally:
        monkeypatch.undo()
        for cached in (vocabulary.concepts, vocabulary.snomed):
            cached.cache_clear()
