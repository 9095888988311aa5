"""Label vocabulary: SCP-ECG backbone, statement mapping, flags, unmapped statements."""

from __future__ import annotations

import csv
import re
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
    assert m.concepts == ["SR", "LAD", "CLBBB", "1AVB", "AMI", "AFIB", "LNGQT", "IMI"]
    assert m.likelihood == [100, 100, 100, 100, 35, 100, 100, 100]  # "possible": PTB-XL's 35
    assert m.flags == ["baseline wander in lead(s) v1", "warning: data quality may affect interpretation"]
    assert m.unmapped == ["some brand-new wording"]
    assert set(m.concepts) <= set(concepts())


@pytest.mark.parametrize("statement, concepts, likelihood", [
    ("Possible left ventricular hypertrophy", ["LVH"], [35]),
    ("Possibly LVH.", ["LVH"], [35]),
    ("Probable left atrial enlargement", ["LAO/LAE"], [35]),
    ("Probably right ventricular hypertrophy", ["RVH"], [35]),
    ("Likely sinus tachycardia", ["STACH"], [35]),
    ("Consider anterior infarct - age undetermined", ["AMI"], [35]),
    ("Suggests inferior infarct", ["IMI"], [35]),
    ("Suspected atrial flutter", ["AFLT"], [35]),
    ("Questionable premature atrial complexes", ["PAC"], [35]),
    ("Borderline prolonged QT interval", ["LNGQT"], [35]),
    ("Cannot rule out Inferior infarct - age undetermined", ["IMI"], [15]),
    ("Cannot exclude left bundle branch block", ["CLBBB"], [15]),
    ("Rule out atrial fibrillation", ["AFIB"], [15]),
    ("Possible probable LVH", ["LVH"], [35]),  # stacked markers: the lowest
    ("Left ventricular hypertrophy", ["LVH"], [100]),
    ("ST-T changes suggest ischemia", ["ISC_"], [100]),  # a marker inside a statement is the rule's
    ("ST depression, consider ischemia", ["ISC_"], [100]),
    ("Borderline ECG", [], []),  # overall grades: no label, hedged or not
    ("Abnormal ECG", [], []),
])
def test_hedged_statements_keep_their_likelihood(statement, concepts, likelihood):
    m = map_statements([statement])
    assert (m.concepts, m.likelihood, m.unmapped, m.flags) == (concepts, likelihood, [], [])


def test_hedges_around_flags_and_unknown_statements():
    m = map_statements(["Possible", "Possible some brand-new wording", "Suspect arm lead reversal"])
    assert m.concepts == m.likelihood == []
    assert m.unmapped == ["possible", "possible some brand-new wording"]  # as written, marker included
    assert m.flags == ["suspect arm lead reversal"]


def test_a_concept_stated_twice_keeps_its_highest_likelihood():
    m = map_statements(["Possible LVH", "Cannot rule out anterior infarct", "Left ventricular hypertrophy",
                        "Possible anterior infarct - age undetermined"])
    assert (m.concepts, m.likelihood) == (["LVH", "AMI"], [100, 35])


def test_hedges_table_is_reviewed():
    with (vocabulary.DATA / "hedges.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["marker"] and r["note"] for r in rows)
    assert {float(r["likelihood"]) for r in rows} == {15, 35}  # below PTB-XL's 50: not stated
    with (vocabulary.DATA / "statements.csv").open(newline="") as fh:
        patterns = [r["pattern"] for r in csv.DictReader(fh)]
    # no statements.csv rule starts with a marker: the markers are hedges.csv's alone
    assert not [p for p in patterns for r in rows if re.match(rf"\^\(?({r['marker']})\b", p)]


def test_hedges_table_with_a_plain_likelihood_raises(tmp_path, monkeypatch):
    (tmp_path / "hedges.csv").write_text("marker,likelihood,note\npossible,100,test\n")
    monkeypatch.setattr(vocabulary, "DATA", tmp_path)
    vocabulary.hedges.cache_clear()
    try:
        with pytest.raises(ValueError, match="hedges.csv: .*\\['possible'\\]"):
            vocabulary.hedges()
    finally:
        monkeypatch.undo()
        vocabulary.hedges.cache_clear()


def test_map_statement_rows_is_map_statements_per_row():
    from sources.vocabulary import map_statement_rows

    rows = [["Sinus rhythm", "Possible LVH", "Left ventricular hypertrophy", "Baseline wander"],
            [], ["Cannot rule out anterior infarct", "Possible anterior infarct", "Unheard-of", "Borderline ECG"],
            ["Probable left atrial enlargement"]]
    got = map_statement_rows(pl.Series([i for i, r in enumerate(rows) for _ in r], dtype=pl.UInt32),
                             pl.Series([s for r in rows for s in r], dtype=pl.Utf8), len(rows))
    assert got.schema == {"labels": pl.List(pl.Utf8), "label_likelihood": pl.List(pl.Float64),
                          "flags": pl.List(pl.Utf8), "unmapped": pl.List(pl.Utf8)}
    for r, row in zip(rows, got.iter_rows(named=True)):
        m = map_statements(r)
        assert row == {"labels": m.concepts, "label_likelihood": m.likelihood, "flags": m.flags, "unmapped": m.unmapped}
    assert got["label_likelihood"].to_list() == [[100, 100], [], [35], [35]]


def test_wfdb_comment_statements_keep_their_likelihood(tmp_path):
    from sources.wfdb_folder import manifest

    header = "r1 12 500 5000\n" + "".join(f"r1.dat 16 1000/mV 16 0 0 0 0 {lead}\n" for lead in LEADS)
    comments = "#<age>: 51\n#<sex>: F\n#<diagnoses>:\n#Rhythm: Sinus rhythm.\n#Possible left ventricular hypertrophy.\n"
    (tmp_path / "r1.hea").write_text(header + comments)
    row = manifest(tmp_path).row(0, named=True)
    assert (row["labels"], row["label_likelihood"]) == (["SR", "LVH"], [100, 35])


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
    assert row["label_likelihood"] == [100, 100, 100]
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
