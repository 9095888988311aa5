"""Throughput and client CPU of `llm.generate` against the loopback OpenAI server.

    python bench/llm_throughput.py [--requests 5000] [--latency-ms 200] [--concurrency 64] [--runs 1]

The server runs in its own process, so the CPU measured here (``time.process_time`` of
this process during `generate`, threads included) is the client's alone: the openai
client, retries, limits, the response cache and the journal (fsync on), in a fresh
folder each run. Targets: wall time within 1.15x of the ideal
``requests * latency / concurrency``, and under 2 ms of client CPU per request. Other
processes on the machine inflate wall time, so the load average is printed with each run
and the verdict uses the best run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llm import OpenAIBackend, Request, generate

SERVER = Path(__file__).resolve().parent.parent / "tests" / "openai_server.py"
MAX_WALL_RATIO = 1.15
MAX_CPU_MS_PER_REQUEST = 2.0
SHARD_SIZE = 500


def requests(n: int) -> list[Request]:
    return [Request(sample_id=f"bench:{i:05d}", shard=f"shard{i // SHARD_SIZE:03d}",
                    messages=[{"role": "system", "content": "You are a cardiologist."},
                              {"role": "user", "content": f"Interpret ECG number {i}."}],
                    params={"temperature": 0.0, "max_tokens": 512})
            for i in range(n)]


def one_run(base_url: str, n: int, concurrency: int) -> dict:
    """One timed `generate` of ``n`` fresh requests."""
    batch = requests(n)
    backend = OpenAIBackend("deepseek-chat", base_url=base_url, api_key="bench",
                            concurrency=concurrency)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as work:
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        summary = asyncio.run(generate(batch, backend, journal_dir=f"{work}/journal",
                                       cache_dir=f"{work}/cache", concurrency=concurrency))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"load": load, "ok": summary.ok, "wall": wall, "cpu": cpu,
            "user": usage.ru_utime - usage0.ru_utime, "sys": usage.ru_stime - usage0.ru_stime}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    n = args.requests

    server = subprocess.Popen([sys.executable, str(SERVER), "--port", "0",
                               "--latency-ms", str(args.latency_ms)],
                              stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().split()[-1] + "/v1"
        runs = [one_run(base_url, n, args.concurrency) for _ in range(args.runs)]
    finally:
        server.terminate()
        server.wait()

    ideal = n * args.latency_ms / 1000 / args.concurrency
    print(f"{n} requests, {args.latency_ms:g} ms latency, concurrency {args.concurrency}: "
          f"ideal {ideal:.2f} s; targets wall/ideal <= {MAX_WALL_RATIO}, "
          f"CPU < {MAX_CPU_MS_PER_REQUEST} ms/request")
    header = ("run", "load", "ok", "wall s", "wall/ideal", "req/s", "CPU s", "CPU ms/req",
              "user+sys ms/req", "result")
    lines = []
    for i, r in enumerate(runs, 1):
        r["ratio"], r["cpu_ms"] = r["wall"] / ideal, r["cpu"] / n * 1000
        r["pass"] = (r["ratio"] <= MAX_WALL_RATIO and r["cpu_ms"] < MAX_CPU_MS_PER_REQUEST
                     and r["ok"] == n)
        lines.append((str(i), f"{r['load']:.2f}", str(r["ok"]), f"{r['wall']:.2f}",
                      f"{r['ratio']:.3f}", f"{n / r['wall']:.0f}", f"{r['cpu']:.2f}",
                      f"{r['cpu_ms']:.3f}", f"{r['user'] / n * 1000:.2f}+{r['sys'] / n * 1000:.2f}",
                      "PASS" if r["pass"] else "FAIL"))
    widths = [max(len(row[c]) for row in [header, *lines]) for c in range(len(header))]
    for row in [header, *lines]:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
    best = min(runs, key=lambda r: r["wall"])
    print(f"best run: wall/ideal {best['ratio']:.3f}, CPU {best['cpu_ms']:.3f} ms/request: "
          f"{'PASS' if best['pass'] else 'FAIL'}")
    return 0 if best["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
