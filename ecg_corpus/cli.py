"""``ecg-corpus``: one subcommand per stage (docs/design.md, "Command line").

Exit codes: 0 when the command did its work (error rows included), 2 for unusable arguments
or paths (one line on stderr), 1 for a failure of the program itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # polars, the stages and their libraries load inside the command that needs them
    import polars as pl

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry from an offline run
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Build the ECG-R1 protocol-guided reasoning corpus from raw 12-lead ECGs.")
console = Console()
WarehouseOpt = Annotated[Path, typer.Option("--warehouse", "-w", help="Warehouse folder (created if missing).")]
SourceOpt = Annotated[Optional[str], typer.Option(help="Source folder, or an fsspec URL (memory://, s3://...).")]
# Options left out (None) take the default of their stages.options object, stated there once.
BackendOpt = Annotated[Optional[str], typer.Option(
    help="rules (offline protocol writer) or openai (any OpenAI-compatible endpoint); default: openai when "
         "DEEPSEEK_API_KEY or OPENAI_API_KEY is set, else rules.")]
BaseUrlOpt = Annotated[Optional[str], typer.Option(help="Endpoint root (default DeepSeek).")]
ModelOpt = Annotated[Optional[str], typer.Option(help="Model name (default: llm.DEFAULT_MODEL).")]
ConcurrencyOpt = Annotated[Optional[int], typer.Option(
    help="Requests in flight, all shards together (default: llm.DEFAULT_CONCURRENCY).")]
MaxCostOpt = Annotated[Optional[float], typer.Option("--max-cost", help="Stop new requests at this cost (USD).")]
LimitOpt = Annotated[Optional[int], typer.Option(help="At most this many samples.")]
RpmOpt = Annotated[Optional[float], typer.Option(help="Requests per minute.")]
TpmOpt = Annotated[Optional[float], typer.Option(help="Tokens per minute.")]
TimeoutOpt = Annotated[Optional[float], typer.Option(help="Longest silence per request, s.")]
RefreshOpt = Annotated[bool, typer.Option(help="Bypass the response cache.")]
ForceOpt = Annotated[bool, typer.Option(help="Redo shards already done.")]
NoWaitOpt = Annotated[bool, typer.Option("--no-wait", help="Exit (code 2) instead of waiting when another run "
                                                           "is writing the warehouse.")]
MaxRepairsOpt = Annotated[Optional[int], typer.Option(
    help="Repair rounds for an invalid answer (0: none; default: stages.options.ValidateParams).")]
TargetOpt = Annotated[Optional[int], typer.Option(help="Corpus size (default: stages.options.SelectionOptions, "
                                                       "ECG-R1's 30,000).")]
PerSubjectOpt = Annotated[Optional[bool], typer.Option("--per-subject/--no-per-subject",
                                                       help="At most one ECG per subject (default: yes).")]
FlaggedOpt = Annotated[Optional[bool], typer.Option("--exclude-flagged/--no-exclude-flagged",
                                                    help="Leave out records whose answer key cannot be read on "
                                                         "the leads FeatureDB finds usable (default: yes).")]
ConcordantOpt = Annotated[Optional[bool], typer.Option(
    "--require-concordant/--no-require-concordant",
    help="Leave out records whose answer key contradicts their rhythm or main diagnosis (default: yes).")]


class UsageError(Exception):
    """Unusable arguments or paths: printed as one line, exit code 2."""


def _existing_dir(path: Path | str | None, what: str) -> str | None:
    """A folder that exists, or a URL (read through fsspec: its source says when nothing is there)."""
    from sources.storage import is_url

    if path is None:
        return None
    if not is_url(path) and not Path(path).is_dir():
        raise UsageError(f"{what} folder not found: {path}")
    return str(path)


def _warehouse(path: Path):
    from warehouse import Warehouse

    try:
        return Warehouse(path)
    except (NotADirectoryError, FileExistsError, PermissionError) as exc:
        raise UsageError(str(exc)) from None


def _existing_warehouse(path: Path):
    if not path.is_dir():
        raise UsageError(f"warehouse folder not found: {path}")
    return _warehouse(path)


def options(cls, **given):
    """``cls`` (a stages.options object) from the options given (None: the default), or a
    UsageError naming the option, e.g. "--target must be at least 1"."""
    from pydantic import ValidationError

    try:
        return cls(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "--" + str(err["loc"][-1] if err["type"] != "literal_error" or len(err["loc"]) < 2
                          else err["loc"][0]).replace("_", "-")
        bound = err.get("ctx", {})
        if "ge" in bound:
            raise UsageError(f"{name} must " + ("not be negative" if bound["ge"] == 0 else f"be at least {bound['ge']}"))
        if "gt" in bound:
            raise UsageError(f"{name} must be greater than {bound['gt']}")
        raise UsageError(f"{name}: {err['msg'][0].lower()}{err['msg'][1:]}") from None


def llm_options(backend, base_url, model, concurrency, max_cost, rpm, tpm, timeout, refresh=False):
    """The LLM options of a command, checked now (an unknown backend, a missing API key, a budget
    for a model without a price) rather than after the prompts are built."""
    from llm import PriceTable
    from stages.llm_io import make_backend
    from stages.options import LLMOptions

    opts = options(LLMOptions, backend=backend, base_url=base_url, model=model, concurrency=concurrency,
                   max_cost_usd=max_cost, rpm=rpm, tpm=tpm, timeout_s=timeout, refresh=refresh or None)
    if opts.backend == "rules":  # offline and priced (llm/prices.csv): nothing to check
        return opts
    try:
        make_backend(opts, None)  # raises without an API key
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if opts.max_cost_usd is not None and PriceTable.load().get(opts.model_name) is None:
        raise UsageError(f"no price for model {opts.model_name!r}: add it to llm/prices.csv to use --max-cost")
    return opts


def run_stage(wh, name: str, params=None, *, force: bool = False, no_wait: bool = False, workers: int = 1,
              progress=None, extra: dict | None = None) -> dict:
    """Stage ``name`` as a ``runs`` row of its own (stages/runs.py) holding the warehouse's
    write lock; its parameters and ``extra`` are the row's parameters."""
    from stages.runs import recorded
    from stages.stage import NotReady, get
    from warehouse import WarehouseLocked

    stage = get(name)
    params = stage.params() if params is None else params
    parameters = {**params.model_dump(mode="json"), "force": force, **(extra or {})}
    try:
        with recorded(wh, name, parameters, wait=not no_wait) as run:
            return run.stage(name, stage.run, run.warehouse, params, force, workers, progress)
    except WarehouseLocked as exc:
        raise UsageError(str(exc)) from None
    except NotReady as exc:  # no features, no selection, an empty corpus...
        raise UsageError(str(exc)) from None


def print_frame(df: pl.DataFrame, title: str | None = None, max_rows: int = 50) -> None:
    table = Table(title=title, show_lines=False)
    for col in df.columns:
        table.add_column(col, overflow="fold")
    for row in df.head(max_rows).iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    if df.height > max_rows:
        console.print(f"... {df.height - max_rows} more rows")


def print_row(df: pl.DataFrame, title: str) -> None:
    """The first row of ``df`` as a column / value table."""
    import polars as pl

    if not df.is_empty():
        row = df.row(0, named=True)
        print_frame(pl.DataFrame({"column": list(row), "value": [str(v) for v in row.values()]}), title, 200)


def print_ingest_summary(wh, counts: dict[str, dict[str, int]]) -> None:
    table = Table(title="records")
    for col in ("source", "ok", "error"):
        table.add_column(col, justify="right" if col != "source" else "left")
    for source, c in counts.items():
        table.add_row(source, str(c["ok"]), str(c["error"]))
    console.print(table)
    if any(c["error"] for c in counts.values()):
        print_frame(wh.sql("SELECT source, error, count(*) AS n FROM records WHERE status = 'error' "
                           "GROUP BY ALL ORDER BY n DESC"), "errors")


@app.command()
def sample(out: Annotated[Path, typer.Argument(help="Folder to write the dataset into.")],
           layout: Annotated[str, typer.Option(help="ptbxl or mimic")] = "ptbxl",
           n: Annotated[int, typer.Option("--n", help="Number of records.")] = 20,
           seed: Annotated[int, typer.Option(help="Random seed.")] = 0) -> None:
    """Write a synthetic dataset in the real PTB-XL or MIMIC-IV-ECG layout."""
    from sources.sample import LAYOUTS, write_sample

    if layout not in LAYOUTS:
        raise UsageError(f"--layout must be {' or '.join(LAYOUTS)}, not {layout!r}")
    if n < 1:
        raise UsageError("--n must be at least 1")
    write_sample(out, layout, n, seed)
    console.print(f"wrote {n} {layout} records to {out}")


def _sources(ptbxl, mimic, wfdb) -> dict[str, str]:
    return {k: _existing_dir(v, k) for k, v in {"ptbxl": ptbxl, "mimic": mimic, "wfdb": wfdb}.items() if v}


@app.command()
def ingest(warehouse: WarehouseOpt, ptbxl: SourceOpt = None, mimic: SourceOpt = None, wfdb: SourceOpt = None,
           force: ForceOpt = False, no_wait: NoWaitOpt = False) -> None:
    """Fill `records` from PTB-XL, MIMIC-IV-ECG and/or WFDB folders."""
    from sources.errors import SourceError
    from stages.ingest import by_source
    from stages.options import IngestParams

    sources = _sources(ptbxl, mimic, wfdb)
    if not sources:
        raise UsageError("give at least one source: --ptbxl DIR, --mimic DIR or --wfdb DIR")
    wh = _warehouse(warehouse)
    try:
        run_stage(wh, "ingest", IngestParams(sources=sources), force=force, no_wait=no_wait)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    print_ingest_summary(wh, by_source(wh, sources))


@app.command()
def features(warehouse: Annotated[Optional[Path], typer.Option("--warehouse", "-w", help="Warehouse folder.")] = None,
             wfdb: Annotated[Optional[Path], typer.Option(help="Measure a WFDB folder alone (with --out).")] = None,
             out: Annotated[Optional[Path], typer.Option(help="Parquet file for --wfdb.")] = None,
             workers: Annotated[int, typer.Option(help="Processes.")] = 1,
             force: ForceOpt = False, no_wait: NoWaitOpt = False) -> None:
    """Fill `features` and `lead_features` (or measure a WFDB folder into one Parquet file)."""
    from sources.errors import SourceError
    from stages.features import run_folder

    if wfdb is not None:
        if out is None:
            raise UsageError("--wfdb needs --out FILE.parquet")
        _existing_dir(wfdb, "WFDB")
        try:
            n = run_folder(wfdb, out, workers=max(1, workers))
        except SourceError as exc:
            raise UsageError(str(exc)) from None
        console.print(f"measured {n} records -> {out} (+ {out.with_name(out.stem + '.leads.parquet').name})")
        return
    if warehouse is None:
        raise UsageError("give --warehouse W, or --wfdb DIR --out FILE.parquet")
    wh = _existing_warehouse(warehouse)
    counts = run_stage(wh, "features", force=force, no_wait=no_wait, workers=max(1, workers),
                       extra={"workers": workers})
    console.print(f"features: {counts['shards']} shards, {counts['records']} records, {counts['usable']} usable")
    if wh.parts("features"):
        print_frame(wh.sql("SELECT quality, count(*) AS n, round(median(hr_bpm), 1) AS hr_bpm, "
                           "round(median(qrs_ms)) AS qrs_ms, round(median(qt_ms)) AS qt_ms "
                           "FROM features GROUP BY ALL ORDER BY quality"), "features")


@app.command()
def findings(warehouse: WarehouseOpt, force: ForceOpt = False, no_wait: NoWaitOpt = False) -> None:
    """Evaluate the protocol criteria (protocol/criteria.csv) into `findings` and reconcile each
    record's labels with them into `answer_keys` (protocol/answer_key.py)."""
    wh = _existing_warehouse(warehouse)
    counts = run_stage(wh, "findings", force=force, no_wait=no_wait)
    console.print(f"findings: {counts['shards']} shards, {counts['records']} records, "
                  f"{counts['discordant']} whose answer key contradicts their rhythm or main diagnosis "
                  "(ecg-corpus labels --discordant)")
    if wh.parts("findings"):
        print_frame(wh.sql("SELECT step, criterion, count(*) FILTER (WHERE positive) AS positive, "
                           "count(*) FILTER (WHERE positive IS NULL) AS unknown, count(*) AS records "
                           "FROM findings GROUP BY ALL ORDER BY step, criterion"), "findings", max_rows=100)


def print_selection(wh) -> None:
    print_frame(wh.sql("SELECT code, count(*) AS records, count(*) FILTER (WHERE r.split = 'train') AS train, "
                       "count(*) FILTER (WHERE r.split = 'val') AS val, count(*) FILTER (WHERE r.split = 'test') AS test "
                       "FROM selection s JOIN records r USING (record_id) GROUP BY code "
                       "ORDER BY code <> 'selected', records DESC"), "selection (selection.reason says why, per record)")


@app.command()
def select(warehouse: WarehouseOpt, target: TargetOpt = None, per_subject: PerSubjectOpt = None,
           seed: Annotated[Optional[int], typer.Option(help="Seed of the draw (default 0).")] = None,
           exclude_flagged: FlaggedOpt = None, require_concordant: ConcordantOpt = None,
           force: ForceOpt = False, no_wait: NoWaitOpt = False) -> None:
    """Pick the corpus records into `selection`: stratified by label, one per subject, with reasons."""
    from stages.options import SelectionOptions

    wh = _existing_warehouse(warehouse)
    params = options(SelectionOptions, target=target, per_subject=per_subject, seed=seed,
                     exclude_flagged=exclude_flagged, require_concordant=require_concordant)
    counts = run_stage(wh, "select", params, force=force, no_wait=no_wait)
    console.print(f"select: {counts['selected']} of {counts['candidates']} records selected")
    print_selection(wh)


@app.command()
def prompts(warehouse: WarehouseOpt, force: ForceOpt = False, no_wait: NoWaitOpt = False) -> None:
    """Render the interpretation prompts into `prompts`."""
    wh = _existing_warehouse(warehouse)
    counts = run_stage(wh, "prompts", force=force, no_wait=no_wait)
    console.print(f"prompts: {counts['shards']} shards, {counts['ok']} prompts of the selected records, "
                  f"{counts['refused']} refused by the identifier guard (prompts.reason says why)")



@app.command()
def generate(warehouse: WarehouseOpt, backend: BackendOpt = None, base_url: BaseUrlOpt = None, model: ModelOpt = None,
             concurrency: ConcurrencyOpt = None, max_cost: MaxCostOpt = None, limit: LimitOpt = None,
             rpm: RpmOpt = None, tpm: TpmOpt = None, timeout: TimeoutOpt = None, refresh: RefreshOpt = False,
             no_wait: NoWaitOpt = False) -> None:
    """Answer the pending prompts with the LLM (or the rules writer) into `generations`."""
    from llm.progress import RichProgress
    from stages.options import GenerateParams

    wh = _existing_warehouse(warehouse)
    llm = llm_options(backend, base_url, model, concurrency, max_cost, rpm, tpm, timeout, refresh)
    params = options(GenerateParams, llm=llm, limit=limit)
    with RichProgress(f"generate ({llm.backend})", console=console) as bar:
        d = run_stage(wh, "generate", params, no_wait=no_wait, progress=bar)
    console.print(f"generate: {d['total']} samples: {d['ok']} answered, {d['cached']} from cache, {d['skipped']} "
                  f"already done, {d['failed']} failed, {d['stopped']} stopped by the budget; {d['attempts']} requests, "
                  f"${d['cost_usd']:.4f}" + (f"; errors {d['errors']}" if d["errors"] else ""))


def print_validation(wh, counts: dict[str, int]) -> None:
    console.print(f"validate: {counts['samples']} samples: {counts['accepted']} accepted "
                  f"({counts['repaired']} after a repair), {counts['rejected']} rejected; "
                  f"{counts['repair_requests']} repair requests")
    if counts["rejected"]:
        print_frame(wh.sql("SELECT code, n FROM rejections WHERE stage = 'validate'"), "rejections (ecg-corpus sql "
                    "--warehouse W \"SELECT * FROM validations WHERE final AND NOT valid\")")


@app.command()
def validate(warehouse: WarehouseOpt, max_repairs: MaxRepairsOpt = None,
             backend: BackendOpt = None, base_url: BaseUrlOpt = None, model: ModelOpt = None,
             concurrency: ConcurrencyOpt = None, max_cost: MaxCostOpt = None, rpm: RpmOpt = None, tpm: TpmOpt = None,
             timeout: TimeoutOpt = None, force: ForceOpt = False, no_wait: NoWaitOpt = False) -> None:
    """Check every answer (format, measurements, labels) into `validations`; repair invalid ones."""
    from llm.progress import RichProgress
    from stages.options import ValidateParams

    wh = _existing_warehouse(warehouse)
    llm = llm_options(backend, base_url, model, concurrency, max_cost, rpm, tpm, timeout)
    params = options(ValidateParams, llm=llm, max_repairs=max_repairs)
    with RichProgress(f"repair ({llm.backend})", console=console) as bar:
        counts = run_stage(wh, "validate", params, force=force, no_wait=no_wait, progress=bar)
    print_validation(wh, counts)


@app.command()
def evidence(warehouse: WarehouseOpt, backend: BackendOpt = None, base_url: BaseUrlOpt = None,
             model: ModelOpt = None, concurrency: ConcurrencyOpt = None, max_cost: MaxCostOpt = None,
             rpm: RpmOpt = None, tpm: TpmOpt = None, timeout: TimeoutOpt = None, force: ForceOpt = False,
             no_wait: NoWaitOpt = False) -> None:
    """EDER key-evidence phrases of the accepted samples into `evidence`, and their RL `solutions`."""
    from llm.progress import RichProgress
    from stages.options import EvidenceParams

    wh = _existing_warehouse(warehouse)
    llm = llm_options(backend, base_url, model, concurrency, max_cost, rpm, tpm, timeout)
    with RichProgress(f"evidence ({llm.backend})", console=console) as bar:
        counts = run_stage(wh, "evidence", EvidenceParams(llm=llm), force=force, no_wait=no_wait, progress=bar)
    console.print(f"evidence: {counts['shards']} shards, {counts['samples']} accepted samples, {counts['phrases']} phrases kept "
                  f"({counts['llm']} solutions from the LLM's phrases, the rest from the rules), "
                  f"{counts['dropped']} LLM phrases dropped (solutions.dropped says why)")


@app.command()
def export(warehouse: Annotated[Optional[Path], typer.Option("--warehouse", "-w", help="Warehouse folder.")] = None,
           out: Annotated[Optional[Path], typer.Option(help="Export folder.")] = None,
           format: Annotated[Optional[str], typer.Option("--format", help="swift (ms-swift, ECG-R1's layout, the "
                                                                  "default) or trl.")] = None,
           rl_size: Annotated[Optional[int], typer.Option(help="RL rows (default: 3,948 per 30,000 SFT rows).")] = None,
           imd: Annotated[Optional[str], typer.Option(help="P,Q: an Interleaved Modality Dropout copy of the "
                                                           "training file (drop with P, swap with Q).")] = None,
           seed: Annotated[Optional[int], typer.Option(help="Seed of the selections (default 0).")] = None,
           absolute: Annotated[Optional[bool], typer.Option(help="Absolute paths (roots '/') instead of relative "
                                                                 "ones.")] = None,
           check: Annotated[Optional[Path], typer.Option(help="Re-check an export folder instead.")] = None,
           no_wait: NoWaitOpt = False) -> None:
    """Training files for ms-swift or TRL, rendered ECG images and manifest.json (or --check DIR)."""
    if check is not None:
        from training.export import check as check_export

        _existing_dir(check, "export")
        problems = check_export(check)
        for p in problems[:50]:
            console.print(p, markup=False, highlight=False)
        if problems:
            console.print(f"{len(problems)} problems in {check}")
            sys.exit(1)
        console.print(f"{check}: every file and row checks out")
        return
    import json

    import polars as pl

    from stages.options import ExportOptions
    from training.export import MANIFEST

    if warehouse is None or out is None:
        raise UsageError("give --warehouse W --out DIR, or --check DIR")
    wh = _existing_warehouse(warehouse)
    try:
        drop_swap = tuple(float(x) for x in imd.split(",")) if imd else None
        if drop_swap is not None and len(drop_swap) != 2:
            raise ValueError
    except ValueError:
        raise UsageError("--imd needs two probabilities, e.g. 0.5,0.1") from None
    params = options(ExportOptions, out=out, format=format, rl_size=rl_size, imd=drop_swap, seed=seed,
                     absolute=absolute)
    run_stage(wh, "export", params, no_wait=no_wait)
    manifest = json.loads((out / MANIFEST).read_text())
    print_frame(pl.DataFrame([{"file": k, "kind": v["kind"], "rows": v["rows"]} for k, v in manifest["files"].items()]),
                f"export ({params.format}) -> {out}")
    console.print(f"splits {manifest['splits']}; image_root {manifest['image_root']}; ecg_root {manifest['ecg_root']}")


@app.command()
def show(record_id: Annotated[str, typer.Argument(help="e.g. ptbxl:00001")], warehouse: WarehouseOpt) -> None:
    """Print a record's features, findings and rendered prompt."""
    import json

    wh = _existing_warehouse(warehouse)
    rec = wh.sql("SELECT * FROM records WHERE record_id = ?", [record_id])
    if rec.is_empty():
        raise UsageError(f"no record {record_id!r} in {warehouse}")
    print_row(rec.drop("path"), "record")
    tables = set(wh.tables())
    if "features" in tables:
        print_row(wh.sql("SELECT * FROM features WHERE record_id = ?", [record_id]), "features")
    if "findings" in tables:
        print_frame(wh.sql("SELECT step, criterion, round(value, 3) AS value, threshold, positive, unit FROM findings "
                           "WHERE record_id = ? ORDER BY step", [record_id]), "findings", 100)
    if "concordance" in tables:
        print_row(wh.sql("SELECT status, conflicts FROM concordance WHERE record_id = ?", [record_id]), "concordance")
    if "prompts" in tables:
        for kind, status, reason, messages in wh.sql(
                "SELECT kind, status, reason, messages FROM prompts WHERE record_id = ?", [record_id]).rows():
            if status != "ok":
                console.print(f"{kind} prompt: none ({status}: {reason})", markup=False, highlight=False)
                continue
            for m in json.loads(messages):
                console.rule(f"{kind} prompt: {m['role']}")
                console.print(m["content"], markup=False, highlight=False)


@app.command()
def labels(warehouse: WarehouseOpt,
           unmapped: Annotated[bool, typer.Option("--unmapped", help="Only the statements no mapping row matched.")] = False,
           discordant: Annotated[bool, typer.Option("--discordant", help="Only the records whose answer key "
                                                    "contradicts their rhythm or main diagnosis, with each conflict.")] = False) -> None:
    """Count label concepts per source, their retention in the corpus, and the statements left unmapped."""
    wh = _existing_warehouse(warehouse)
    if discordant:
        if "concordance" not in wh.tables():
            raise UsageError(f"no concordance table in {warehouse}: run ecg-corpus findings first")
        print_frame(wh.sql("SELECT status, count(*) AS records FROM concordance GROUP BY ALL ORDER BY status"), "concordance")
        print_frame(wh.sql("SELECT c.record_id, array_to_string(r.labels, ', ') AS labels, "
                           "array_to_string(c.conflicts, '; ') AS conflicts FROM concordance c JOIN records r USING (record_id) "
                           "WHERE c.status = 'discordant' ORDER BY c.record_id"), "discordant records", max_rows=1000)
        return
    if not unmapped:
        print_frame(wh.sql("SELECT source, label AS concept, count(*) AS records FROM "
                           "(SELECT source, unnest(labels) AS label FROM records) GROUP BY ALL "
                           "ORDER BY source, records DESC"), "concepts", max_rows=200)
        if {"selection", "answer_keys", "validations"} <= set(wh.tables()):
            _retention(wh)
    left = wh.sql("SELECT source, statement, count(*) AS records FROM "
                  "(SELECT source, unnest(unmapped) AS statement FROM records) GROUP BY ALL ORDER BY records DESC")
    print_frame(left, f"unmapped statements: {left.height}", max_rows=500)


def _retention(wh) -> None:
    """Per label concept: the records (less duplicates and later ECGs of a subject), those in the
    corpus, and how the answer key states the concept there; then normal against abnormal."""
    import polars as pl

    from report.tables import BY_DESIGN, UNREADABLE, retention

    left_out = ", ".join(f"'{c}'" for c in UNREADABLE + BY_DESIGN)
    print_frame(wh.sql(f"""
        SELECT label AS concept, count(*) AS records, count(c.record_id) AS in_corpus,
               round(count(c.record_id) / count(*), 2) AS kept,
               count(*) FILTER (WHERE k.status = 'kept' AND c.record_id IS NOT NULL) AS stated,
               count(*) FILTER (WHERE k.status = 'hedged' AND c.record_id IS NOT NULL) AS hedged,
               count(*) FILTER (WHERE k.status = 'dropped' AND c.record_id IS NOT NULL) AS dropped
        FROM (SELECT record_id, unnest(labels) AS label FROM records) l
        JOIN selection s USING (record_id)
        LEFT JOIN (SELECT DISTINCT record_id FROM corpus) c USING (record_id)
        LEFT JOIN answer_keys k ON k.record_id = l.record_id AND k.concept = l.label
        WHERE s.code NOT IN ({left_out}) GROUP BY label ORDER BY records, label"""),
                "retention per label concept (records less duplicates and later ECGs of a subject; how the "
                "answer key states it in the corpus)", max_rows=200)
    print_frame(retention(wh.sql("SELECT r.labels, s.code, s.record_id IN (SELECT record_id FROM corpus) AS accepted "
                                 "FROM selection s JOIN records r USING (record_id)")).with_columns(pl.col("kept").round(2)),
                "normal against abnormal")


@app.command()
def sql(query: Annotated[str, typer.Argument(help="SQL over the warehouse views.")], warehouse: WarehouseOpt) -> None:
    """Run a SQL query against the warehouse catalog and print the result."""
    import duckdb

    try:
        df = _existing_warehouse(warehouse).sql(query)
    except duckdb.Error as exc:
        raise UsageError(f"SQL error: {str(exc).splitlines()[0]}") from None
    print_frame(df, max_rows=200)


@app.command()
def run(warehouse: WarehouseOpt,
        sample: Annotated[bool, typer.Option("--sample", help="Generate and use the embedded synthetic sample.")] = False,
        n: Annotated[Optional[int], typer.Option("--n", help="Records per sample layout (default: one of each "
                                                            "kind).")] = None,
        seed: Annotated[int, typer.Option(help="Seed of the sample, the selection and the export.")] = 0,
        ptbxl: SourceOpt = None, mimic: SourceOpt = None, wfdb: SourceOpt = None,
        workers: Annotated[int, typer.Option(help="Processes for feature extraction (1: one process, "
                                                  "Numba threads on every core).")] = 1,
        dask_address: Annotated[Optional[str], typer.Option(help="Dask scheduler (tcp://host:8786) for the "
                                                                 "CPU stages.")] = None,
        target: TargetOpt = None, per_subject: PerSubjectOpt = None, exclude_flagged: FlaggedOpt = None,
        require_concordant: ConcordantOpt = None,
        export_format: Annotated[Optional[str], typer.Option("--export", help="Also export (swift or trl) to "
                                                                               "W/exports/<format>.")] = None,
        force: ForceOpt = False, backend: BackendOpt = None, base_url: BaseUrlOpt = None, model: ModelOpt = None,
        concurrency: ConcurrencyOpt = None, max_cost: MaxCostOpt = None, limit: LimitOpt = None,
        rpm: RpmOpt = None, tpm: TpmOpt = None, timeout: TimeoutOpt = None, refresh: RefreshOpt = False,
        max_repairs: MaxRepairsOpt = None, no_wait: NoWaitOpt = False) -> None:
    """All stages as the Prefect `corpus` flow, ending with the curated `corpus` view."""
    from pydantic import ValidationError

    from flows.corpus import corpus_flow
    from stages.ingest import by_source
    from stages.options import GenerateParams, SelectionOptions, ValidateParams
    from warehouse import WarehouseLocked

    sources = _sources(ptbxl, mimic, wfdb)
    if not sources and not sample:
        raise UsageError("give --sample or at least one source: --ptbxl DIR, --mimic DIR or --wfdb DIR")
    options(ValidateParams, max_repairs=max_repairs)
    options(GenerateParams, limit=limit)
    selection = options(SelectionOptions, target=target, per_subject=per_subject, seed=seed,
                        exclude_flagged=exclude_flagged, require_concordant=require_concordant)
    llm = llm_options(backend, base_url, model, concurrency, max_cost, rpm, tpm, timeout, refresh)
    wh = _warehouse(warehouse)
    try:
        if no_wait:  # before Prefect starts: a busy warehouse is one line, not a failed flow run
            with wh.lock("probe", wait=False):
                pass
        result = corpus_flow(wh, sources, sample=sample, n=n, seed=seed, selection=selection, llm=llm, limit=limit,
                             max_repairs=max_repairs, export_format=export_format, workers=workers,
                             dask_address=dask_address, force=force, wait=not no_wait)
    except ValidationError as exc:  # a flow parameter Prefect refuses, e.g. --export xyz
        err = exc.errors()[0]
        raise UsageError(f"--{str(err['loc'][0]).replace('_', '-')}: {err['msg']}") from None
    except WarehouseLocked as exc:
        raise UsageError(str(exc)) from None
    name = llm.backend
    print_ingest_summary(wh, by_source(wh))
    summary = Table(title="stages")
    for col in ("stage", "counts"):
        summary.add_column(col)
    for stage in ("features", "findings", "select", "prompts"):
        summary.add_row(stage, ", ".join(f"{k} {v}" for k, v in result[stage].items() if v))
    g = result["generate"]
    summary.add_row(f"generate ({name})", f"samples {g['total']}, ok {g['ok']}, cached {g['cached']}, "
                                          f"already done {g['skipped']}, failed {g['failed']}, cost ${g['cost_usd']:.4f}")
    v, e = result["validate"], result["evidence"]
    summary.add_row("validate", f"samples {v['samples']}, accepted {v['accepted']} ({v['repaired']} repaired), "
                                f"rejected {v['rejected']}, repair requests {v['repair_requests']}")
    summary.add_row("evidence", f"samples {e['samples']}, phrases {e['phrases']}, from the LLM {e['llm']}")
    console.print(summary)
    if v["samples"]:
        print_frame(wh.sql("SELECT split, count(*) AS samples FROM corpus GROUP BY split ORDER BY split"), "corpus")
    console.print(f"warehouse: {wh.root}  (try: ecg-corpus sql -w {warehouse} \"SELECT * FROM corpus LIMIT 5\")",
                  soft_wrap=True)
    console.print(f"run {result['run_id']}: report {result['report']}", markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    try:
        app(standalone_mode=False)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as exc:  # typer's own usage errors: missing or bad options (exit 2)
        if not hasattr(exc, "show"):
            raise
        exc.show()
        sys.exit(getattr(exc, "exit_code", 2))
