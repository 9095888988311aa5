"""Label vocabulary: SCP-ECG backbone, statement mapping, flags, unmapped statements."""

from __future__ import annotations

import polars as pl

from sources.ptbxl import parse_scp_codes
from sources.vocabulary import concepts, map_codes, map_statements


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


def test_labels_command_lists_unmapped(sample_mimic, tmp_path):
    import shutil
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
