"""The corpus flow at scale: 1k and 10k replicated real PTB-XL records with the rules backend.

For each size it runs the stages twice on fresh warehouses: as plain library calls (the
``ecg-corpus`` commands' path), measuring per stage wall time, CPU time (this process and its
finished workers) per record and peak memory (resident set of this process and its workers,
sampled every 20 ms, and its growth over the stage's start); then as the Prefect ``corpus`` flow (one run on a Prefect server started
beforehand, as an operator's is), whose wall time per stage comes from its ``runs`` row.
Prefect's overhead is the flow's share of wall time that the library run does not need.

    python bench/corpus_scale.py [--sizes 1000 10000] [--workers 1] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry from a benchmark

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from replicate import DATA, replicate  # noqa: E402

#: Stages up to validation (the target), then evidence; (stage, records/s target or None).
TARGETS = {"ingest": 2000, "features": None, "findings": None, "select": None, "prompts": 1000, "generate": 1000,
           "validate": None, "evidence": None}
UP_TO_VALIDATION_S = 120.0  # 10k records


class PeakRss:
    """Peak resident memory of this process and its children while the block runs."""

    def __init__(self, every_s: float = 0.02):
        self.every_s, self._stop = every_s, threading.Event()
        self.start = self.peak = self._rss()

    @staticmethod
    def _rss() -> int:
        me = psutil.Process()
        try:
            return me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
        except psutil.Error:
            return 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def library_run(source: Path, work: Path, workers: int) -> dict[str, dict]:
    """Each stage as a library call on a fresh warehouse: wall s, CPU s, peak MB and its growth
    over the stage's start, records in."""
    from stages.options import IngestParams, LLMOptions
    from stages.stage import NAMES, get
    from warehouse import Warehouse

    shutil.rmtree(work / "library", ignore_errors=True)
    wh = Warehouse(work / "library")
    rules = LLMOptions(backend="rules")
    params = {"ingest": IngestParams(sources={"ptbxl": str(source)}), **{
        name: get(name).params(llm=rules) for name in ("generate", "validate", "evidence")}}
    calls = {name: (lambda name=name: get(name).run(wh, params.get(name), workers=workers))
             for name in NAMES[:NAMES.index("evidence") + 1]}
    out = {}
    for stage, call in calls.items():
        t0, c0 = time.perf_counter(), os.times()
        with PeakRss() as mem:
            call()
        c1 = os.times()
        cpu = (c1.user + c1.system + c1.children_user + c1.children_system
               - c0.user - c0.system - c0.children_user - c0.children_system)
        out[stage] = {"wall_s": time.perf_counter() - t0, "cpu_s": cpu, "peak_mb": mem.peak / 2**20,
                      "growth_mb": (mem.peak - mem.start) / 2**20, "records": _records_in(wh, stage)}
    return out


def _records_in(wh, stage: str) -> int:
    """How many records the stage worked on: all ingested ones up to the selection, then the selected."""
    query = ("SELECT count(*) FROM records" if stage in ("ingest", "features", "findings", "select")
             else "SELECT count(*) FROM selection WHERE selected")
    return wh.sql(query).item()


def flow_run(source: Path, work: Path, workers: int) -> tuple[float, dict[str, float]]:
    """The Prefect corpus flow on a fresh warehouse: total wall s and wall s per stage."""
    from flows.corpus import corpus_flow
    from stages.options import LLMOptions
    from warehouse import Warehouse

    shutil.rmtree(work / "flow", ignore_errors=True)
    t0 = time.perf_counter()
    result = corpus_flow(Warehouse(work / "flow"), {"ptbxl": str(source)}, llm=LLMOptions(backend="rules"),
                         workers=workers, report=False)
    wall = time.perf_counter() - t0
    row = Warehouse(work / "flow").sql("SELECT stage_wall_s FROM runs WHERE run_id = ?", [result["run_id"]])
    return wall, json.loads(row.item())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--work", type=Path, default=None, help="Folder for the replicated records and warehouses.")
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"skipped: the PTB-XL sample is not at {DATA}")
    from prefect.testing.utilities import prefect_test_harness

    work = args.work or Path(tempfile.mkdtemp(prefix="corpus-scale-"))
    rows = []
    with prefect_test_harness(server_startup_timeout=120):
        for n in args.sizes:
            source = replicate(work / f"ptbxl-{n}", n)
            lib = library_run(source, work / f"run-{n}", args.workers)
            flow_wall, flow_stages = flow_run(source, work / f"run-{n}", args.workers)
            rows.append((n, lib, flow_wall, flow_stages))
    print(f"\ncorpus flow, rules backend, {os.cpu_count()} cores, {args.workers} feature processes (1: Numba threads); "
          f"records: replicated real PTB-XL\n")
    print(f"{'records':>8} {'stage':<9} {'in':>6} {'wall s':>7} {'rec/s':>7} {'target':>7} "
          f"{'CPU ms/rec':>10} {'peak MB':>8} {'+MB':>6} {'flow s':>7}")
    for n, lib, flow_wall, flow_stages in rows:
        for stage, m in lib.items():
            target = TARGETS[stage]
            rate = m["records"] / m["wall_s"] if m["wall_s"] else float("inf")
            print(f"{n:>8} {stage:<9} {m['records']:>6} {m['wall_s']:>7.2f} {rate:>7.0f} "
                  f"{(f'>={target}' if target else ''):>7} {1000 * m['cpu_s'] / max(m['records'], 1):>10.2f} "
                  f"{m['peak_mb']:>8.0f} {m['growth_mb']:>6.0f} {flow_stages.get(stage, float('nan')):>7.2f}")
        up_to = sum(m["wall_s"] for s, m in lib.items() if s != "evidence")
        library = sum(m["wall_s"] for m in lib.values())
        print(f"{n:>8} {'total':<9} {'':>6} {library:>7.2f}   up to validation {up_to:.1f} s"
              + (f" (target < {UP_TO_VALIDATION_S:.0f} s)" if n >= 10000 else "")
              + f"; Prefect flow {flow_wall:.2f} s, overhead {100 * (flow_wall - library) / flow_wall:.1f} % "
                f"(target < 10 %)")
    print(f"\nwork folder: {work}")


if __name__ == "__main__":
    main()
