"""The run report: a warehouse built by the real stages on the embedded sample, a ``runs`` row
written here, then the HTML folder and the Markdown summary."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from report import plots
from report import tables as rt
from stages.ingest import ingest
from stages.options import LLMOptions
from stages.report import markdown_summary, write_report
from tests.runner import run
from training.render import image_name
from warehouse import Warehouse

RUN = "run-0001"
STARTED = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _write_run(root, run_id: str = RUN) -> None:
    Warehouse(root, run_id=run_id).write("runs", pl.DataFrame({
        "flow": "corpus", "parameters": json.dumps({"sample": True, "backend": "rules"}),
        "code_version": "0.1.0+test", "template_version": "t1", "checker_version": "c1",
        "started_at": STARTED, "finished_at": STARTED + timedelta(minutes=2, seconds=5), "status": "completed",
        "counts": json.dumps({"ingest": {"ok": 16, "error": 0}, "generate": {  # as the generate stage gives them
            "shards": 2, "published": 17, "ok": 16, "failed": 1, "cost_usd": 0.25, "budget_reached": False,
            "errors": {"Refused": 1}, "by_shard": {"a": {"ok": 8}, "b": {"ok": 8}}}}),
        "stage_wall_s": json.dumps({"ingest": 1.5, "features": 20.0, "generate": 0.5}), "error": None}), run_id)


@pytest.fixture(scope="module")
def curated(sample_ptbxl, sample_mimic, tmp_path_factory, pipeline) -> Warehouse:
    """Ingest to validation on both embedded samples with the rules writer, and a runs row."""
    wh = Warehouse(tmp_path_factory.mktemp("report") / "w")
    pipeline(wh, {"ptbxl": sample_ptbxl, "mimic": sample_mimic})
    rules = LLMOptions(backend="rules")  # the offline writer, whatever key the environment holds
    run("generate", wh, llm=rules)
    run("validate", wh, llm=rules)
    _write_run(wh.root)
    return wh


@pytest.fixture(scope="module")
def page(curated) -> tuple[Warehouse, str]:
    path = write_report(curated, RUN)
    assert path == curated.root / "reports" / RUN / "report.html"
    return curated, path.read_text()


def _figures(html: str) -> dict[str, str]:
    """Image file -> caption of every figure."""
    return dict(re.findall(r'<img src="([^"]+)"[^>]*></a><figcaption>(.*?)</figcaption>', html))


@pytest.mark.slow
def test_report_names_the_run_and_every_linked_png_is_valid(page):
    wh, html = page
    folder = wh.root / "reports" / RUN
    assert f"ecg-corpus run {RUN}" in html and '<span class="status completed">completed</span>' in html
    assert "2 min 5 s" in html and "0.1.0+test" in html
    for title in ("Run", "Counts per stage and split", "Errors and rejections", "Label coverage",
                  "Measurement distributions", "One accepted sample", "Tokens, cost and wall time"):
        assert f". {title}</h2>" in html
    links = set(re.findall(r'(?:src|href)="([^"#]+)"', html))
    assert len(links) == len(plots.MEASURES) + 1  # the histograms and the ECG
    for link in links:
        assert "/" not in link  # relative, inside the folder
        with Image.open(folder / link) as img:
            img.verify()
            assert img.format == "PNG"


@pytest.mark.slow
def test_histogram_captions_state_the_nan_counts(page):
    wh, html = page
    captions = _figures(html)
    features = wh.read("features").filter(pl.col("error").is_null())
    missing = {}
    for m in plots.MEASURES:
        values = features[m.column].fill_nan(None)
        missing[m.column] = values.null_count()
        assert (f"source: {values.len() - missing[m.column]:,} measured, {missing[m.column]:,} not measurable (NaN)"
                in captions[f"hist_{m.column}.png"])
    assert missing["pr_ms"] > 0  # atrial fibrillation has no PR: the caption says so


@pytest.mark.slow
def test_the_sample_shown_is_the_first_accepted_one_with_its_text(page):
    wh, html = page
    first = wh.sql("SELECT record_id, interpretation FROM corpus ORDER BY sample_id LIMIT 1").row(0, named=True)
    assert f"<pre>{escape(first['interpretation'])}</pre>" in html
    assert f"ecg_{image_name(first['record_id'])}" in _figures(html)


@pytest.mark.slow
def test_counts_costs_and_rejections(page):
    wh, html = page
    split_rows = rt.per_split(wh.sql("SELECT 'x' AS measure, split, count(*) AS n FROM corpus GROUP BY split"), ["x"])
    accepted = split_rows.row(0, named=True)
    cells = "".join(f'<td class="num">{accepted[c]:,}</td>' for c in ("train", "val", "test", "total"))
    assert f"<td>accepted (corpus)</td>{cells}" in html
    assert ("<td>generate</td><td>shards 2, published 17, ok 16, failed 1, cost_usd 0.25, budget_reached no, "
            "errors (Refused 1), by_shard (items: 2)</td>") in html  # runs.counts
    assert '<td>features</td><td class="num">20.0</td><td class="num">91%</td>' in html  # runs.stage_wall_s
    assert "<td>interpretation</td>" in html and "not available" not in html.split("Label coverage</h2>")[1]


@pytest.mark.slow
def test_markdown_summary(page):
    wh, _ = page
    md = markdown_summary(wh.root / "reports" / RUN / "report.html")
    assert md.startswith(f"# ecg-corpus run {RUN}") and f"`{wh.root / 'reports' / RUN / 'report.html'}`" in md
    assert "| accepted (corpus) |" in md and "label concepts of the source records are in the accepted records" in md
    assert len(md.splitlines()) < 40


@pytest.mark.slow
def test_selection_adds_its_counts_coverage_and_histogram_group(curated, tmp_path):
    wh = Warehouse(shutil.copytree(curated.root, tmp_path / "w"))
    wh.drop_parts("selection", "")
    ok = wh.read("records").filter(pl.col("status") == "ok").sort("record_id")["record_id"]
    picked = ok.head(5)
    wh.write("selection", pl.DataFrame({
        "record_id": ok, "selected": ok.is_in(picked.implode()),
        "code": pl.Series(["selected" if r in picked.to_list() else "quota" for r in ok]),
        "stratum": "NORM", "rank": pl.int_range(1, ok.len() + 1, eager=True),
        "reason": ["selected" if r in picked.to_list() else "quota: stratum NORM full" for r in ok]}), "all")
    html = write_report(wh, RUN).read_text()
    assert "<td>selected</td>" in html and "<td>quota</td>" in html and "quota: stratum NORM full" in html
    assert "<th>selected</th>" in html  # a coverage column
    for caption in (c for f, c in _figures(html).items() if f.startswith("hist_")):
        measured, nan = re.search(r"selected: (\d+) measured, (\d+) not measurable", caption).groups()
        assert int(measured) + int(nan) == 5


def test_sections_degrade_without_their_tables(sample_ptbxl, tmp_path):
    wh = Warehouse(tmp_path / "w")
    ingest(wh, {"ptbxl": sample_ptbxl})
    path = write_report(wh, RUN)
    html = path.read_text()
    assert "not available: no runs table in the warehouse" in html
    assert "not available: no features table in the warehouse" in html
    assert "not available: no corpus view in the warehouse" in html
    assert "not available: no selection table or corpus view to compare the source with" in html
    assert "<td>ingested ok</td>" in html and not list(path.parent.glob("*.png"))
    assert "not available: no runs table" in markdown_summary(path)
    _write_run(wh.root, "another-run")
    assert f"not available: no runs row for run {RUN}" in write_report(wh, RUN).read_text()


def test_run_id_must_be_a_folder_name(tmp_path):
    with pytest.raises(ValueError, match="plain folder name"):
        write_report(Warehouse(tmp_path), "../x")


def test_reason_groups_and_generation_kinds():
    groups = rt.reason_groups(pl.Series(["missing leads: V6", "missing leads: V1, V2", "header lists 13 signals, data has 12",
                                         None]))
    assert groups.rows() == [("missing leads", 2, "missing leads: V1, V2"),
                             ("header lists N signals, data has N", 1, "header lists 13 signals, data has 12")]
    gens = pl.DataFrame({"sample_id": ["a#interpretation", "a#interpretation#repair1", "a#interpretation#repair2",
                                       "a#evidence"], "status": ["ok", "error", "ok", "ok"],
                         "tokens_in": [10, None, 30, 5], "tokens_out": [1, None, 3, 2],
                         "cost_usd": [0.5, None, 0.25, 0.125], "run_id": [RUN, RUN, "old", None]})
    costs = {r["kind"]: r for r in rt.generation_costs(gens, RUN).iter_rows(named=True)}
    assert costs["repair"]["attempts"] == 2 and costs["repair"]["ok"] == 1 and costs["repair"]["tokens_in"] == 30
    assert costs["total"]["cost_usd"] == 0.875 and costs["total"]["run_attempts"] == 2
    assert costs["total"]["run_cost_usd"] == 0.5


def test_label_coverage_marks_lost_concepts_rarest_first():
    cov = rt.label_coverage({"source": pl.Series([["NORM", "SR"], ["AFIB"], ["NORM", "SR"], ["LVH", "SR"]]),
                             "accepted": pl.Series([["NORM", "SR"]], dtype=pl.List(pl.Utf8))},
                            {"AFIB": "atrial fibrillation"})
    assert cov["concept"].to_list() == ["AFIB", "LVH", "NORM", "SR"]
    assert cov.filter("lost")["concept"].to_list() == ["AFIB", "LVH"]
    assert cov["description"][0] == "atrial fibrillation" and cov["kept"][3] == pytest.approx(1 / 3)
    assert rt.coverage_headline(cov).endswith("lost entirely: AFIB, LVH")


def test_histogram_caption_counts_nan_and_out_of_range(tmp_path):
    hr = next(m for m in plots.MEASURES if m.column == "hr_bpm")
    values = {"source": np.array([60.0, np.nan, 250.0, 10.0, 75.0]), "accepted": np.array([60.0])}
    text = plots.caption(values, hr)
    assert "source: 4 measured, 1 not measurable (NaN), not drawn: 1 below 20 bpm, 1 above 220 bpm" in text
    assert "accepted: 1 measured, 0 not measurable (NaN)." in text
    with Image.open(plots.histogram(values, hr, tmp_path / "hr.png")) as img:
        assert img.format == "PNG" and img.size[0] > 400


def test_importing_the_stage_leaves_matplotlib_unloaded():
    code = "import sys, stages.report; sys.exit(any(m.startswith('matplotlib') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1]).returncode == 0
