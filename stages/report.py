"""Run report: ``<warehouse>/reports/<run_id>/report.html`` with its PNG files beside it (relative
links, so the folder moves as one), and ``summary.md``, the short Markdown summary for a Prefect
markdown artifact (:func:`markdown_summary`).

The report reads the warehouse as it stands after the run: tables keep the rows of earlier runs
(a rerun skips finished shards), while the ``runs`` row says what this run did. Each block
degrades to one line, "not available: <why>", when a table it needs is absent (e.g. a run
stopped before validation). The pages and plots come from the pure library :mod:`report`;
matplotlib loads only when a report is written.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import cached_property
from html import escape
from pathlib import Path

import polars as pl

from report import html, plots
from report import tables as rt
from schemas.ids import INTERPRETATION, SampleId
from stages.stage import NoParams, NotReady, Stage
from warehouse import Warehouse
from warehouse.store import VIEWS

REPORTS = "reports"  # <warehouse>/reports/<run_id>/
PAGE, SUMMARY = "report.html", "summary.md"
TOP = 10  # reason groups shown per table
TOP_SUMMARY = 5  # rejection reasons in the Markdown summary
#: Records per split at each stage: (measure, tables needed, SQL giving split and n).
SPLIT_MEASURES = (
    ("ingested ok", ("records",), "SELECT split, count(*) AS n FROM records WHERE status = 'ok' GROUP BY split"),
    ("ingest errors", ("records",), "SELECT split, count(*) AS n FROM records WHERE status = 'error' GROUP BY split"),
    ("selected", ("records", "selection"), "SELECT r.split, count(*) AS n FROM selection s JOIN records r "
                                           "USING (record_id) WHERE s.selected GROUP BY r.split"),
    ("prompts ok", ("records", "prompts"), "SELECT r.split, count(*) AS n FROM prompts p JOIN records r USING "
                                           f"(record_id) WHERE p.kind = '{INTERPRETATION}' AND p.status = 'ok' GROUP BY r.split"),
    ("generated ok", ("records", "generations"), "SELECT r.split, count(*) AS n FROM generations g JOIN records r "
                                                 "USING (record_id) WHERE g.final AND g.status = 'ok' "
                                                 f"AND {SampleId.sql_answers(INTERPRETATION, 'g.sample_id')} GROUP BY r.split"),
    ("accepted (corpus)", ("corpus",), "SELECT split, count(*) AS n FROM corpus GROUP BY split"),
)
#: The groups of label coverage and distributions after the source: (name, what it is, tables
#: needed, the SQL of its record ids).
LATER = (
    ("selected", "the selected records", ("selection",), "SELECT record_id FROM selection WHERE selected"),
    ("accepted", "the accepted samples' records", ("corpus",), "SELECT record_id FROM corpus"),
)
SOURCE = "source"


class Unavailable(Exception):
    """Why a block of the report cannot be shown (a table it needs is absent or empty)."""


def report_dir(warehouse: Warehouse, run_id: str) -> Path:
    """``<warehouse>/reports/<run_id>``; ``run_id`` must be a plain folder name."""
    if not run_id or Path(run_id).name != run_id or run_id in (".", ".."):
        raise ValueError(f"run id must be a plain folder name, not {run_id!r}")
    return warehouse.root / REPORTS / run_id


def write_report(warehouse: Warehouse, run_id: str) -> Path:
    """Write the report folder of ``run_id`` (its PNGs replaced) and return the HTML's path."""
    folder = report_dir(warehouse, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    r = _Report(warehouse, run_id, folder)
    sections = [("Run", r.run_section), ("Counts per stage and split", r.counts_section),
                ("Errors and rejections", r.reasons_section), ("Label coverage", r.coverage_section),
                ("Measurement distributions", r.distributions_section), ("One accepted sample", r.sample_section),
                ("Tokens, cost and wall time", r.cost_section)]
    written = datetime.now(timezone.utc)
    subtitle = (f"warehouse {warehouse.root}; written {written:%Y-%m-%d %H:%M:%S} UTC. Tables as they stand after "
                "the run (rows of earlier runs included); per-stage counts and wall times are this run's.")
    page = html.page(f"ecg-corpus run {run_id}", subtitle, [(title, _block(build)) for title, build in sections])
    path = folder / PAGE
    path.write_text(page, encoding="utf-8")
    (folder / SUMMARY).write_text(r.summary(path), encoding="utf-8")
    return path


def plan(warehouse: Warehouse, params: NoParams, force: bool = False) -> list[str]:
    """The run the warehouse handle carries (a report is of one run)."""
    if warehouse.run_id is None:
        raise NotReady("a report is of a run: give the warehouse handle of the run (Warehouse(root, run_id))")
    return [warehouse.run_id]


def run_shard(warehouse: Warehouse, run_id: str, params: NoParams) -> dict[str, int]:
    write_report(warehouse, run_id)
    return {}


STAGE = Stage("report", input="runs", outputs=(), counts=(), run_shard=run_shard, plan=plan)


def markdown_summary(report: Path) -> str:
    """The Markdown summary written beside ``report`` (the path :func:`write_report` returns)."""
    return Path(report).with_name(SUMMARY).read_text(encoding="utf-8")


def _or(build, fallback):
    """``build()``, or ``fallback(why)`` when it raises :class:`Unavailable`."""
    try:
        return build()
    except Unavailable as why:
        return fallback(str(why))


def _block(build) -> str:
    return _or(build, html.unavailable)


class _Report:
    """One run's report: the tables present, the frames shared by sections and summary, and
    each section's HTML."""

    def __init__(self, warehouse: Warehouse, run_id: str, folder: Path):
        self.wh, self.run_id, self.folder = warehouse, run_id, folder
        warehouse.refresh()  # once: the report only reads
        present = set(warehouse.tables())
        self.present = present | {view for view, (needs, _) in VIEWS.items() if set(needs) <= present}

    def need(self, *tables: str) -> None:
        missing = [f"{t} {'view' if t in VIEWS else 'table'}" for t in tables if t not in self.present]
        if missing:
            raise Unavailable(f"no {' and no '.join(missing)} in the warehouse")

    def sql(self, query: str, *tables: str) -> pl.DataFrame:
        self.need(*tables)
        return self.wh.sql(query)

    # Shared frames ------------------------------------------------------------------------

    @cached_property
    def run(self) -> dict:
        self.need("runs")
        rows = self.wh.read("runs").filter(pl.col("run_id") == self.run_id).sort("started_at")
        if rows.is_empty():
            raise Unavailable(f"no runs row for run {self.run_id}")
        return rows.row(-1, named=True)

    @cached_property
    def later(self) -> list[tuple[str, str, str]]:
        """(name, what, record-id SQL) of the groups after the source whose tables are present."""
        return [(name, what, query) for name, what, needs, query in LATER if set(needs) <= self.present]

    @cached_property
    def splits(self) -> pl.DataFrame:
        self.need("records")
        measures = [(label, q) for label, needs, q in SPLIT_MEASURES if set(needs) <= self.present]
        union = " UNION ALL ".join(f"SELECT '{label}' AS measure, split, n FROM ({q})" for label, q in measures)
        return rt.per_split(self.wh.sql(union), [label for label, _ in measures])

    @cached_property
    def record_errors(self) -> pl.DataFrame:
        return rt.reason_groups(self.sql("SELECT error FROM records WHERE status = 'error'", "records")["error"])

    @cached_property
    def feature_errors(self) -> pl.DataFrame:
        return rt.reason_groups(self.sql("SELECT error FROM features WHERE error IS NOT NULL", "features")["error"])

    @cached_property
    def exclusions(self) -> pl.DataFrame:
        return self.sql("SELECT code, count(*) AS n, min(reason) AS example FROM selection WHERE NOT selected "
                        "GROUP BY code ORDER BY n DESC, code", "selection")

    @cached_property
    def rejections(self) -> pl.DataFrame:
        return self.sql("SELECT stage, code, n FROM rejections ORDER BY n DESC, stage, code", "rejections")

    @cached_property
    def coverage(self) -> pl.DataFrame:
        from sources.vocabulary import concepts

        self.need("records")
        if not self.later:
            raise Unavailable("no selection table or corpus view to compare the source with")
        labels = {SOURCE: self.wh.sql("SELECT labels FROM records WHERE status = 'ok'")["labels"]}
        for name, _, ids in self.later:
            labels[name] = self.wh.sql(f"SELECT labels FROM records WHERE record_id IN ({ids})")["labels"]
        return rt.label_coverage(labels, concepts())

    # Sections ---------------------------------------------------------------------------

    def run_section(self) -> str:
        r = self.run
        params = json.loads(r["parameters"] or "{}")
        param_rows = pl.DataFrame({"parameter": list(params), "value": [_param(v) for v in params.values()]},
                                  schema={"parameter": pl.Utf8, "value": pl.Utf8})
        finished = r["finished_at"]
        rows = [("run id", escape(r["run_id"])), ("flow", escape(r["flow"])), ("status", html.status(r["status"])),
                ("started", _time(r["started_at"])), ("finished", _time(finished) if finished else "not finished"),
                ("duration", _duration((finished - r["started_at"]).total_seconds()) if finished else ""),
                ("code version", escape(r["code_version"])), ("template version", escape(r["template_version"])),
                ("checker version", escape(r["checker_version"])),
                ("parameters", html.table(param_rows) if params else "none")]
        if r["error"]:
            rows.append(("error", f"<pre>{escape(r['error'])}</pre>"))
        return html.fields(rows)

    def counts_section(self) -> str:
        per_stage = lambda: html.table(rt.stage_counts(self.run["counts"]))  # noqa: E731
        return (html.subsection("Per stage, this run", _block(per_stage))
                + html.subsection("Records per split", _block(self._split_table)))

    def _split_table(self) -> str:
        shown = set(self.splits["measure"])
        absent = [label for label, _, _ in SPLIT_MEASURES if label not in shown]
        return html.table(self.splits) + (html.note(f"not counted (table absent): {', '.join(absent)}") if absent else "")

    def reasons_section(self) -> str:
        return "".join(html.subsection(title, _block(build)) for title, build in (
            ("Ingest errors by reason", lambda: _reason_table(self.record_errors, "no ingest errors")),
            ("Feature extraction errors by reason", self._feature_block),
            ("Selection exclusions by code", lambda: _reason_table(self.exclusions, "no record excluded")),
            ("Rejections by stage and code (rejections view)", lambda: _reason_table(self.rejections, "no rejections"))))

    def _feature_block(self) -> str:
        quality = self.sql("SELECT quality, count(*) AS n FROM features GROUP BY quality ORDER BY n DESC", "features")
        line = "record quality: " + ", ".join(f"{q} {n:,}" for q, n in quality.rows())
        return _reason_table(self.feature_errors, "no extraction errors") + html.note(line)

    def coverage_section(self) -> str:
        cov = self.coverage
        last = rt.coverage_stages(cov)[-1]
        return (html.note(rt.coverage_headline(cov) + ".")
                + html.table(cov, highlight="lost", formats={"kept": ".0%"},
                             caption=f"Records carrying each label concept (ok source records); kept = {last} / "
                                     f"{SOURCE}; rarest source concepts first; highlighted: lost entirely.")
                + _block(self._retention_table))

    def _retention_table(self) -> str:
        self.need("selection", "corpus")
        df = self.wh.sql("SELECT r.labels, s.code, s.record_id IN (SELECT record_id FROM corpus) AS accepted "
                         "FROM selection s JOIN records r USING (record_id)")
        return html.table(rt.retention(df), formats={"kept": ".0%"},
                          caption="Normal records (NORM and SR statements only) against abnormal ones: readable "
                                  "records less duplicates and later ECGs of a subject, and those in the corpus.")

    def distributions_section(self) -> str:
        cols = ", ".join(m.column for m in plots.MEASURES)
        flags = "".join(f", record_id IN ({ids}) AS {name}" for name, _, ids in self.later)
        df = self.sql(f"SELECT {cols}{flags} FROM features WHERE error IS NULL", "features")
        groups = {SOURCE: df, **{name: df.filter(name) for name, _, _ in self.later}}
        figs = []
        for m in plots.MEASURES:
            values = {name: g[m.column].cast(pl.Float64).fill_null(float("nan")).to_numpy() for name, g in groups.items()}
            path = plots.histogram(values, m, self.folder / f"hist_{m.column}.png")
            figs.append(html.figure(path.name, plots.caption(values, m), m.title))
        groups = ", ".join([f"the records FeatureDB read ({SOURCE})"] + [f"{what} ({name})" for name, what, _ in self.later])
        return html.note(f"Groups: {groups}. Bars and lines: % of each group's measured records per bin; values not "
                         "measurable (NaN) or beyond the drawn range are counted in each caption.") + html.figures(figs)

    def sample_section(self) -> str:
        from sources.reader import FS, RecordError, read_signal
        from training.render import image_name, render_png

        rows = self.sql("SELECT c.sample_id, c.record_id, c.split, c.labels, c.attempts, c.backend, c.model, "
                        "c.interpretation, r.path FROM corpus c JOIN records r USING (record_id) "
                        "ORDER BY c.sample_id LIMIT 1", "corpus")
        if rows.is_empty():
            raise Unavailable("the corpus view holds no accepted sample")
        s = rows.row(0, named=True)
        try:
            png = render_png(read_signal(s["path"]), self.folder / f"ecg_{image_name(s['record_id'])}", fs=FS)
        except RecordError as exc:
            raise Unavailable(f"cannot read {s['record_id']}: {exc}") from None
        what = (f"{s['sample_id']} ({s['split']}), labels {', '.join(s['labels'] or [])}; accepted at attempt "
                f"{s['attempts']}, {s['backend']} {s['model'] or ''}".rstrip())
        img = html.figure(png.name, f"{s['record_id']}: 25 mm/s, 10 mm/mV, lead II rhythm strip.", s["record_id"])
        return html.note(f"The first accepted sample by sample id: {what}.") + html.ecg_with_text(img, s["interpretation"])

    def cost_section(self) -> str:
        return (html.subsection("Generations by kind", _block(self._costs))
                + html.subsection("Wall time per stage, this run", _block(self._wall)))

    def _costs(self) -> str:
        gens = self.sql("SELECT sample_id, status, tokens_in, tokens_out, cost_usd, run_id FROM generations", "generations")
        return html.table(rt.generation_costs(gens, self.run_id), formats={"cost_usd": ",.4f", "run_cost_usd": ",.4f"},
                          caption="Every API attempt in the warehouse by kind of sample id; run_*: "
                                  "the attempts this run wrote. Cost in USD as the backend priced it.")

    def _wall(self) -> str:
        return html.table(rt.stage_wall(self.run["stage_wall_s"]), formats={"wall_s": ",.1f", "share": ".0%"})

    # Summary ----------------------------------------------------------------------------

    def summary(self, path: Path) -> str:
        """The Markdown summary: the run, records per split, top rejection reasons, label
        coverage and the report's path."""
        blocks = [("Run", lambda: f"`{self.run_id}` {self.run['flow']}: {self.run['status']}, "
                                  f"started {_time(self.run['started_at'])}"),
                  ("Records per split", lambda: html.markdown_table(self.splits)),
                  ("Top rejection reasons", self._top_reasons),
                  ("Label coverage", lambda: rt.coverage_headline(self.coverage))]
        return html.markdown(f"ecg-corpus run {self.run_id}",
                             [(label, _or(build, lambda why: f"not available: {why}")) for label, build in blocks], str(path))

    def _top_reasons(self) -> str:
        """Ingest and extraction errors by reason and the rejections view, most frequent first."""
        frames = [_or(build, lambda _: None) for build in (
            lambda: self.record_errors.select(stage=pl.lit("ingest"), code="reason", n="n"),
            lambda: self.feature_errors.select(stage=pl.lit("features"), code="reason", n="n"),
            lambda: self.rejections)]
        frames = [f for f in frames if f is not None]
        if not frames:
            raise Unavailable("no records table and no rejections view in the warehouse")
        top = pl.concat(frames).sort(["n", "stage", "code"], descending=[True, False, False]).head(TOP_SUMMARY)
        return html.markdown_table(top) if top.height else "none"


def _reason_table(df: pl.DataFrame, empty: str) -> str:
    return html.table(df, limit=TOP) if df.height else html.note(empty)


def _param(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _time(value: datetime) -> str:
    return f"{value.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m} min {s} s" if hours else f"{m} min {s} s" if m else f"{s} s"
